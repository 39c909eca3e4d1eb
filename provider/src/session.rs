//! Browser sessions: the opaque `poort_session` cookie and its row. The cookie value is a
//! 256-bit random token; the database keeps only its keyed hash, so a leaked table signs no one
//! in. One session serves every client until it idles out, expires or ends.

use crate::crypto::{keyed_hash, random_token};
use crate::state::AppState;
use crate::web::cookies;
use axum::http::HeaderMap;
use poort_storage::repo::{NewSession, SessionRecord};
use poort_storage::{StorageError, now};

pub const SESSION_COOKIE: &str = "poort_session";

/// The authentication context classes a session can carry (the `acr` claim): "1" is a single
/// factor (a password, or an upstream provider's sign-in). Higher levels arrive with second factors.
pub const ACR_SINGLE_FACTOR: &str = "1";
pub const ACR_VALUES_SUPPORTED: &[&str] = &[ACR_SINGLE_FACTOR];

/// Whether cookies must carry `Secure`: whenever the public issuer is https.
pub fn secure_cookies(state: &AppState) -> bool {
    state.issuer.starts_with("https://")
}

/// The live session the browser presents, if any; its idle timer is reset.
pub async fn current(state: &AppState, headers: &HeaderMap) -> Result<Option<SessionRecord>, StorageError> {
    let Some(token) = cookies::get(headers, SESSION_COOKIE).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    let at = now();
    let Some(session) = state.store.sessions().find_by_cookie_hash(&keyed_hash(&state.hash_key, token), at).await? else {
        return Ok(None);
    };
    let idle = state.settings.sessions.idle_timeout.as_secs() as i64;
    // Touch at most once a minute: a busy browser should not write on every request.
    if at - session.last_seen_at >= 60 {
        state.store.sessions().touch(&session.id, at, (at + idle).min(session.expires_at)).await?;
    }
    Ok(Some(session))
}

/// Starts a session for `user_id` after a successful sign-in; returns it and its `Set-Cookie`.
pub async fn start(
    state: &AppState,
    user_id: &str,
    amr: Vec<String>,
) -> Result<(SessionRecord, String), StorageError> {
    let at = now();
    let token = random_token();
    let absolute = state.settings.sessions.absolute_lifetime.as_secs() as i64;
    let idle = state.settings.sessions.idle_timeout.as_secs() as i64;
    let session = state
        .store
        .sessions()
        .create(NewSession {
            cookie_hash: keyed_hash(&state.hash_key, &token),
            user_id: user_id.to_string(),
            auth_time: at,
            amr,
            acr: Some(ACR_SINGLE_FACTOR.to_string()),
            idle_expires_at: at + idle.min(absolute),
            expires_at: at + absolute,
        })
        .await?;
    // A browser-session cookie: the row's expiry is what really ends it.
    let cookie = cookies::set(SESSION_COOKIE, &token, secure_cookies(state), None);
    Ok((session, cookie))
}
