//! CORS for the endpoints a browser application calls itself (a single-page application with
//! PKCE): discovery, JWKS, token, userinfo, revocation and introspection answer any origin, as
//! the reference provider does. None of them reads a cookie — a request is authorised only by
//! what it carries (client credentials, a code verifier, a bearer token) — so no credentials
//! are allowed and no origin gains anything a server could not do. The pages never answer CORS.

use axum::http::{HeaderName, Method, header};
use std::time::Duration;
use tower_http::cors::{Any, CorsLayer};

/// The layer for those endpoints.
pub fn api() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(Any)
        .allow_methods([Method::GET, Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT, HeaderName::from_static("dpop")])
        .expose_headers([header::WWW_AUTHENTICATE])
        .max_age(Duration::from_secs(3600))
        // No `Vary`: every answer is the same whatever the request's origin and preflight
        // headers (`*`, fixed lists), and an empty list is also one allocation fewer per
        // request, as the router clones this layer for each.
        .vary([])
}
