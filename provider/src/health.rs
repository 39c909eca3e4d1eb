//! Liveness and readiness probes for orchestrators and load balancers.

use crate::state::AppState;
use axum::extract::State;
use axum::http::StatusCode;

/// The process is up and serving.
pub async fn healthz() -> &'static str {
    "ok"
}

/// The node can serve requests: its database answers.
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, &'static str) {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(error) => {
            tracing::warn!(%error, "readiness check: the database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
        }
    }
}
