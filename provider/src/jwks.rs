//! The JWKS endpoint: the public halves of every published signing key, from memory.

use crate::state::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

/// Where the key set is published (`jwks_uri`).
pub const PATH: &str = "/jwks";

pub async fn jwks(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/jwk-set+json"), (header::CACHE_CONTROL, "public, max-age=300")],
        state.keyring.snapshot().jwks_json.clone(),
    )
}
