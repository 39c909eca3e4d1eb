//! The personal settings pages at documented URLs a relying party can link to: `/account` (who
//! is signed in, where else they are signed in, links to change the password and to sign out),
//! `/account/password` ([`password`]), `POST /account/sessions/end` ([`sessions`]) and
//! `POST /logout` ([`crate::logout`]).
//!
//! They need a session. Without one, the browser goes to the sign-in page first with a ticket
//! whose `return_to` brings it back here (see [`crate::authorize::ticket`]): the same sign-in
//! page, headed with Poort's own name instead of a client's.

pub mod password;
pub mod sessions;

use crate::authorize::interaction::{self, Step, server_error, with_cookies};
use crate::authorize::ticket::{self, Ticket};
use crate::session;
use crate::state::AppState;
use crate::web::{csrf, pages};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use poort_storage::repo::{SessionRecord, UserRecord, UserStatus};
use poort_storage::{StorageError, now};
use poort_themes::Locale;
use serde_json::json;
use std::collections::BTreeMap;

pub const ACCOUNT_PATH: &str = "/account";
pub const PASSWORD_PATH: &str = "/account/password";


/// The session the browser presents and its user, when that user may still sign in.
pub async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Option<(SessionRecord, UserRecord)>, StorageError> {
    let Some(session) = session::current(state, headers).await? else { return Ok(None) };
    match state.store.users().get(&session.user_id).await? {
        Some(user) if user.status == UserStatus::Active => Ok(Some((session, user))),
        _ => Ok(None),
    }
}

/// Sends the browser to the sign-in page, to come back to `return_to` afterwards.
pub fn sign_in_first(state: &AppState, headers: &HeaderMap, return_to: &str, ui_locales: Option<&str>) -> Response {
    let mut params = BTreeMap::new();
    if let Some(ui_locales) = ui_locales {
        params.insert("ui_locales".to_string(), ui_locales.to_string());
    }
    let ticket = Ticket {
        params,
        login_at: None,
        session_id: None,
        consented: false,
        expires_at: now() + state.settings.sessions.interaction_timeout.as_secs() as i64,
        return_to: Some(return_to.to_string()),
        terms_id: None,
    };
    match ticket::seal(state, &ticket) {
        Ok(sealed) => interaction::redirect_to(Step::Login, &sealed),
        Err(error) => server_error(state, headers, error),
    }
}

/// `ui_locales` from a query string, when it is short enough to be a list of language tags.
pub fn ui_locales(query: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .find(|(name, _)| name == "ui_locales")
        .map(|(_, value)| value.into_owned())
        .filter(|value| !value.is_empty() && value.len() <= 64)
}

/// The name of the connector a federated user signs in through (linked, or required by their
/// e-mail domain), or `None` for password users.
pub async fn federated_connector(state: &AppState, user: &UserRecord) -> Result<Option<String>, StorageError> {
    crate::federation::routing::federated_method(&state.store, &state.hash_key, user).await
}


/// The user ID shown and offered to password managers: the user name, else the e-mail address.
pub fn user_id(user: &UserRecord) -> &str {
    user.username.as_deref().unwrap_or(&user.email)
}

/// The account page, with an optional success notice (`account.*`); `current` is the session
/// of the browser that asks.
pub async fn account_page(
    state: &AppState,
    locale: Locale,
    user: &UserRecord,
    current: &str,
    csrf: &str,
    notice_key: Option<&str>,
) -> Response {
    let sessions = match sessions::page_value(&state.store, &user.id, current).await {
        Ok(sessions) => sessions,
        Err(error) => return server_error(state, &HeaderMap::new(), error),
    };
    let federated = match federated_connector(state, user).await {
        Ok(federated) => federated,
        Err(error) => return server_error(state, &HeaderMap::new(), error),
    };
    let data = json!({
        "user": { "name": user.display_name, "username": user_id(user), "email": user.email },
        "federated_connector": federated,
        "csrf_token": csrf,
        "message_key": null,
        "notice_key": notice_key,
        "other_sessions": sessions.len() > 1,
        "sessions": sessions,
    });
    pages::render(state, locale, StatusCode::OK, "account", &data)
}

/// `GET /account`.
pub async fn show(State(state): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let ui_locales = ui_locales(query.as_deref());
    let (session, user) = match signed_in(&state, &headers).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            // Back to this page in the same language.
            let return_to = match &ui_locales {
                Some(tags) => format!("{ACCOUNT_PATH}?{}", url::form_urlencoded::Serializer::new(String::new()).append_pair("ui_locales", tags).finish()),
                None => ACCOUNT_PATH.to_string(),
            };
            return sign_in_first(&state, &headers, &return_to, ui_locales.as_deref());
        }
        Err(error) => return server_error(&state, &headers, error),
    };
    let locale = pages::locale(&state, &headers, ui_locales.as_deref());
    let (csrf, set_csrf) = csrf::token(&headers, session::secure_cookies(&state));
    with_cookies(account_page(&state, locale, &user, &session.id, &csrf, None).await, set_csrf)
}
