//! Upstream sign-in for Poort: generic OpenID Connect, Microsoft Entra ID, Google Workspace
//! (all as a relying party with the `openidconnect` crate) and Active Directory / LDAP (a
//! search and a bind with `ldap3`), plus home-realm discovery by e-mail domain.
//!
//! This crate knows nothing of Poort's endpoints, pages or storage: the provider hands it a
//! [`Connector`] (settings and secrets), a redirect URI and what came back, and gets an
//! [`UpstreamIdentity`] or a [`Failure`] — a reason the pages can name and a detail for the
//! audit trail and the log.
//!
//! - [`oidc`]: the authorization request (state, nonce, PKCE S256) and the callback (code
//!   exchange, ID token checks, userinfo); [`discovery`] fetches and caches provider metadata;
//! - [`profile`]: what an ID token or userinfo answer says about the person, by kind (Entra's
//!   per-tenant issuer and `oid`+`tid`, Google's `hd` and `email_verified`), and claim mapping;
//! - [`ldap`]: directory sign-in; [`realm`]: which connector an identifier belongs to.

pub mod connector;
pub mod discovery;
pub mod error;
pub mod ldap;
pub mod oidc;
pub mod profile;
pub mod realm;

pub use connector::{Connector, Secrets};
pub use error::{Failure, Reason};
pub use profile::UpstreamIdentity;

/// The authentication method reference Poort records for every federated sign-in (RFC 8176).
pub const AMR_FEDERATED: &str = "fed";
