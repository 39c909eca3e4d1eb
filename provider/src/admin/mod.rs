//! The admin API: JSON over HTTP under `/admin/…`, offering what `poort user …` and `poort role …`
//! offer. Every request carries `Authorization: Bearer <access token>` issued by this Poort,
//! active and carrying the [`SCOPE`] scope — Poort is its own client here: a configured client
//! (or one added with `poort client add --scope poort.admin`) gets such a token with
//! `client_credentials`. Dynamic registration cannot obtain the scope, and it is not advertised.
//!
//! - [`auth`]: the [`auth::Admin`] extractor (the bearer check and its refusals);
//! - [`error`]: the one error type, mapped to statuses and JSON bodies in one place;
//! - [`users`], [`sessions`], [`roles`], [`connectors`] and [`logout`] (the back-channel logout
//!   outbox): the endpoints. Each change is recorded as an `admin.*` audit event naming the
//!   acting client.

pub mod auth;
pub mod connectors;
pub mod error;
pub mod logout;
pub mod roles;
pub mod sessions;
pub mod users;

use crate::routes::Endpoint;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use serde_json::Value;

/// The scope an access token needs for the admin API.
pub const SCOPE: &str = "poort.admin";

/// The admin endpoints, for the route table (none is advertised in discovery).
pub fn endpoints() -> Vec<Endpoint> {
    let endpoint = |path, handler| Endpoint { path, advertised_as: None, handler };
    vec![
        endpoint("/admin/users", get(users::list).post(users::invite)),
        endpoint("/admin/users/{user}", get(users::show)),
        endpoint("/admin/users/{user}/disable", post(users::disable)),
        endpoint("/admin/users/{user}/enable", post(users::enable)),
        endpoint("/admin/users/{user}/roles", put(users::set_roles)),
        endpoint("/admin/users/{user}/password", put(users::set_password)),
        endpoint("/admin/users/{user}/resend-activation", post(users::resend_activation)),
        endpoint("/admin/users/{user}/sessions", get(sessions::list).delete(sessions::end_all)),
        endpoint("/admin/users/{user}/sessions/{sid}", delete(sessions::end)),
        endpoint("/admin/logout-deliveries", get(logout::list)),
        endpoint("/admin/logout-deliveries/{id}/retry", post(logout::retry)),
        endpoint("/admin/roles", get(roles::list)),
        endpoint("/admin/roles/{name}", put(roles::set).delete(roles::remove)),
        endpoint("/admin/connectors", get(connectors::list)),
        endpoint("/admin/connectors/{id}", get(connectors::show).put(connectors::set).delete(connectors::remove)),
    ]
}

/// A JSON answer, never cached.
fn json(status: StatusCode, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
