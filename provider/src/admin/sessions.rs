//! `/admin/users/{user}/sessions…`: a user's live sessions (as `poort session list --json`), and
//! ending one or all of them — their grants end too and their clients are told (back-channel
//! logout), as when the person signs out.

use super::auth::Admin;
use super::error::AdminError;
use super::json;
use super::users::{audit, find};
use crate::accounts::sessions;
use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// `GET /admin/users/{user}/sessions`: the live sessions, newest first.
pub async fn list(_admin: Admin, State(state): State<AppState>, Path(key): Path<String>) -> Result<Response, AdminError> {
    let user = find(&state, &key).await?;
    let live = sessions::live(&state.store, &user.id).await?;
    Ok(json(StatusCode::OK, Value::Array(live.iter().map(|(s, clients)| sessions::describe(s, clients)).collect())))
}

/// `DELETE /admin/users/{user}/sessions/{sid}`: 204, or 404 when it is not a live session of
/// theirs.
pub async fn end(
    admin: Admin,
    State(state): State<AppState>,
    Path((key, sid)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let user = find(&state, &key).await?;
    if !sessions::end_one(&state, &user.id, &sid).await? {
        return Err(AdminError::NotFound(format!("{} has no live session `{sid}`", user.email)));
    }
    audit(&state, &admin, "admin.session_ended", &user, json!({ "session_id": sid })).await;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `DELETE /admin/users/{user}/sessions`: ends every session; `{"ended": n}`.
pub async fn end_all(admin: Admin, State(state): State<AppState>, Path(key): Path<String>) -> Result<Response, AdminError> {
    let user = find(&state, &key).await?;
    let ended = crate::logout::ended::end_user_sessions(&state, &user.id, None).await?;
    audit(&state, &admin, "admin.sessions_ended", &user, json!({ "sessions_ended": ended })).await;
    Ok(json(StatusCode::OK, json!({ "ended": ended })))
}
