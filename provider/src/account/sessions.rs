//! "Where you are signed in" on the account page: the person's live sessions (device, address,
//! when, which applications), and `POST /account/sessions/end` to sign one of the others out —
//! or all of them — as an administrator could ([`crate::accounts::sessions`]).

use super::{account_page, signed_in};
use crate::accounts::sessions;
use crate::authorize::interaction::{csrf_refused, form, server_error};
use crate::oauth::Client;
use crate::state::AppState;
use crate::web::{csrf, pages};
use axum::extract::{RawForm, State};
use axum::http::HeaderMap;
use axum::response::Response;
use poort_storage::repo::AuditEvent;
use poort_storage::{StorageError, Store};
use serde_json::{Value, json};

pub const END_PATH: &str = "/account/sessions/end";

/// The form value that ends every session but the current one.
const OTHERS: &str = "others";

/// A time as people read it on the page.
fn when(at: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp(at).ok().and_then(|t| t.format(&format).ok()).unwrap_or_default()
}

/// The sessions of the page: the current one first, then the others, newest first.
pub async fn page_value(store: &Store, user_id: &str, current: &str) -> Result<Vec<Value>, StorageError> {
    let mut listed = Vec::new();
    for (session, client_ids) in sessions::live(store, user_id).await? {
        let mut names = Vec::new();
        for id in &client_ids {
            if let Ok(Some(client)) = Client::load(store, id).await {
                names.push(client.display_name().to_string());
            }
        }
        listed.push(json!({
            "id": session.id,
            "current": session.id == current,
            "device": session.user_agent.as_deref().and_then(sessions::device),
            "ip": session.ip,
            "signed_in": when(session.auth_time),
            "last_seen": when(session.last_seen_at),
            "clients": names.join(", "),
        }));
    }
    listed.sort_by_key(|s| !s["current"].as_bool().unwrap_or(false));
    Ok(listed)
}

/// `POST /account/sessions/end`: `session` is one of the person's other sessions, or `others`.
pub async fn end(State(state): State<AppState>, headers: HeaderMap, RawForm(body): RawForm) -> Response {
    let fields = form(&body);
    let Some(csrf) = fields.get(csrf::CSRF_FIELD).filter(|t| csrf::verify(&headers, Some(t.as_str()))) else {
        return csrf_refused(&state, &headers);
    };
    let (current, user) = match signed_in(&state, &headers).await {
        Ok(Some(found)) => found,
        // Signed out meanwhile: the account page sends the browser to the sign-in page.
        Ok(None) => return crate::authorize::response::see_other(super::ACCOUNT_PATH),
        Err(error) => return server_error(&state, &headers, error),
    };
    let target = fields.get("session").map(String::as_str).unwrap_or("");
    let ended = if target == OTHERS {
        crate::logout::ended::end_user_sessions(&state, &user.id, Some(&current.id)).await
    } else if target == current.id || target.is_empty() {
        // The current session is ended with "Sign out"; nothing to do here.
        Ok(0)
    } else {
        sessions::end_one(&state, &user.id, target).await.map(usize::from)
    };
    let ended = match ended {
        Ok(ended) => ended,
        Err(error) => return server_error(&state, &headers, error),
    };
    if ended > 0 {
        let event = AuditEvent {
            kind: "session.ended_by_user".into(),
            user_id: Some(user.id.clone()),
            client_id: None,
            ip: None,
            detail: json!({ "sessions_ended": ended }),
        };
        let _ = state.store.audit().record(event).await;
    }
    let locale = pages::locale(&state, &headers, None);
    let notice = (ended > 0).then_some("account.sessions_ended");
    account_page(&state, locale, &user, &current.id, csrf, notice).await
}
