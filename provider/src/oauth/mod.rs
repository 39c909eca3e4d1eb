//! What the OAuth 2.0 / OpenID Connect endpoints share: the error type and the typed client.

pub mod client;
pub mod client_auth;
pub mod error;
pub mod form;
pub mod subject;

pub use client::{Client, ClientMetadata};
pub use error::{ErrorCode, OAuthError};
