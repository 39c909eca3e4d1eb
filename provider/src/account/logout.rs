//! Signing out of Poort from the account page (`POST /logout`): the session ends, its cookie is
//! cleared, and the themed "signed out" page follows. Relying parties are not told (that is
//! RP-initiated, front- and back-channel logout, which build on this).

use crate::authorize::interaction::{csrf_refused, form, server_error, with_cookies};
use crate::session::{self, SESSION_COOKIE};
use crate::state::AppState;
use crate::web::{cookies, csrf, pages};
use axum::extract::{RawForm, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use poort_storage::now;
use poort_storage::repo::AuditEvent;
use serde_json::json;

/// `POST /logout`.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap, RawForm(body): RawForm) -> Response {
    let fields = form(&body);
    if !csrf::verify(&headers, fields.get(csrf::CSRF_FIELD).map(String::as_str)) {
        return csrf_refused(&state, &headers);
    }
    let current = match session::current(&state, &headers).await {
        Ok(current) => current,
        Err(error) => return server_error(&state, &headers, error),
    };
    if let Some(current) = current {
        if let Err(error) = state.store.sessions().end(&current.id, now()).await {
            return server_error(&state, &headers, error);
        }
        let event = AuditEvent {
            kind: "logout".into(),
            user_id: Some(current.user_id.clone()),
            client_id: None,
            ip: None,
            detail: json!({ "session_id": current.id }),
        };
        let _ = state.store.audit().record(event).await;
    }
    let data = json!({ "client_name": null, "return_uri": null, "frontchannel_logout_uris": [] });
    let page = pages::render(&state, pages::locale(&state, &headers, None), StatusCode::OK, "logged_out", &data);
    with_cookies(page, [cookies::clear(SESSION_COOKIE, session::secure_cookies(&state))])
}
