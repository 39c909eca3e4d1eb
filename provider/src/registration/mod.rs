//! Dynamic client registration: RFC 7591 and OpenID Connect Dynamic Client Registration 1.0 at
//! `POST /register`, and RFC 7592 read, update and delete at `/register/{client_id}` for the
//! holder of the client's registration access token.
//!
//! A request goes: access check (`access`), body (`body`), metadata parsed and checked
//! (`validate`, with `uris`, `jwks` and `sector`), then stored and answered (`endpoint`,
//! `response`). Clients from configuration or the CLI have no registration access token and
//! cannot be managed here.

mod access;
mod body;
mod endpoint;
mod jwks;
mod response;
mod sector;
mod uris;
pub mod validate;

use crate::routes::Endpoint;
use axum::routing::{get, post};

/// Where clients register (advertised as `registration_endpoint`).
pub const REGISTER_PATH: &str = "/register";
/// Where a registered client is read, updated and deleted (`registration_client_uri`).
pub const CLIENT_PATH: &str = "/register/{client_id}";

/// The registration endpoints, for the route table (mounted only when registration is enabled).
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint {
            path: REGISTER_PATH,
            advertised_as: Some("registration_endpoint"),
            handler: post(endpoint::register).fallback(endpoint::method_not_allowed),
        },
        Endpoint {
            path: CLIENT_PATH,
            advertised_as: None,
            handler: get(endpoint::read)
                .put(endpoint::update)
                .delete(endpoint::delete)
                .fallback(endpoint::method_not_allowed),
        },
    ]
}

/// The `registration_client_uri` of `client_id`.
pub fn client_uri(issuer: &str, client_id: &str) -> String {
    format!("{issuer}/register/{client_id}")
}
