//! Browser sessions: the opaque `poort_session` cookie and its row. The cookie value is a
//! 256-bit random token; the database keeps only its keyed hash, so a leaked table signs no one
//! in. One session serves every client until it idles out, expires or ends.
//!
//! Beside it, the `poort_bs` cookie carries the session's *browser state* (OpenID Connect
//! Session Management): a value derived from the session id that scripts may read, so the
//! `check_session_iframe` can tell a relying party whether the session it knows still holds.

use crate::crypto::{keyed_hash, random_token};
use crate::state::AppState;
use crate::web::cookies;
use axum::http::{HeaderMap, header};
use poort_storage::repo::{NewSession, SessionRecord, UserRecord};
use poort_storage::{StorageError, now};
use std::net::IpAddr;

pub const SESSION_COOKIE: &str = "poort_session";
/// The browser state of the session, readable by the check-session frame's script.
pub const BROWSER_STATE_COOKIE: &str = "poort_bs";

/// The longest `User-Agent` kept with a session (it is shown, not parsed).
const MAX_USER_AGENT: usize = 256;

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
    let Some(cookie_hash) = presented_cookie_hash(state, headers) else { return Ok(None) };
    let at = now();
    let Some(session) = state.store.sessions().find_by_cookie_hash(&cookie_hash, at).await? else {
        return Ok(None);
    };
    keep_alive(state, &session, at).await?;
    Ok(Some(session))
}

/// [`current`] with the session's user, read in the same statement (the authorization endpoint
/// needs both on every request).
pub async fn current_with_user(state: &AppState, headers: &HeaderMap) -> Result<Option<(SessionRecord, UserRecord)>, StorageError> {
    let Some(cookie_hash) = presented_cookie_hash(state, headers) else { return Ok(None) };
    let at = now();
    let Some((session, user)) = state.store.sessions().find_by_cookie_hash_with_user(&cookie_hash, at).await? else {
        return Ok(None);
    };
    keep_alive(state, &session, at).await?;
    Ok(Some((session, user)))
}

/// The keyed hash of the session cookie the browser sent, if it sent one.
fn presented_cookie_hash(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let token = cookies::get(headers, SESSION_COOKIE).filter(|t| !t.is_empty())?;
    Some(keyed_hash(&state.hash_key, token))
}

/// Resets the session's idle timer, at most once a minute: a busy browser should not write on
/// every request.
async fn keep_alive(state: &AppState, session: &SessionRecord, at: i64) -> Result<(), StorageError> {
    if at - session.last_seen_at >= 60 {
        let idle = state.settings.sessions.idle_timeout.as_secs() as i64;
        state.store.sessions().touch(&session.id, at, (at + idle).min(session.expires_at)).await?;
    }
    Ok(())
}

/// A sign-in done: the session and the cookies that carry it.
pub struct SignedIn {
    pub session: SessionRecord,
    pub cookies: Vec<String>,
}

/// Signs `user_id` in, in the browser that sent `headers`. A new sign-in by the user already
/// signed in here (`prompt=login`, `max_age`) re-authenticates that session: it keeps its `sid`
/// and clients and gets a new cookie value, `auth_time` and `amr`. Any other session the browser
/// had ends first (its clients are told, see [`crate::logout::ended`]), and a new one starts.
pub async fn sign_in(
    state: &AppState,
    headers: &HeaderMap,
    ip: Option<IpAddr>,
    user_id: &str,
    amr: Vec<String>,
) -> Result<SignedIn, StorageError> {
    let token = random_token();
    let cookie_hash = keyed_hash(&state.hash_key, &token);
    let at = now();
    let previous = current(state, headers).await?;
    let session = match previous {
        Some(previous) if previous.user_id == user_id => {
            let sessions = state.store.sessions();
            if sessions.reauthenticate(&previous.id, &cookie_hash, at, &amr, Some(ACR_SINGLE_FACTOR)).await? {
                sessions.get(&previous.id).await?.filter(|s| s.is_live(at))
            } else {
                None
            }
        }
        Some(previous) => {
            crate::logout::ended::end_session(state, &previous).await?;
            None
        }
        None => None,
    };
    let session = match session {
        Some(session) => session,
        None => start(state, headers, ip, user_id, amr, cookie_hash).await?,
    };
    let secure = secure_cookies(state);
    // A browser-session cookie: the row's expiry is what really ends it.
    let cookies = vec![cookies::set(SESSION_COOKIE, &token, secure, None), browser_state_cookie(state, &session.id)];
    Ok(SignedIn { session, cookies })
}

async fn start(
    state: &AppState,
    headers: &HeaderMap,
    ip: Option<IpAddr>,
    user_id: &str,
    amr: Vec<String>,
    cookie_hash: String,
) -> Result<SessionRecord, StorageError> {
    let at = now();
    let absolute = state.settings.sessions.absolute_lifetime.as_secs() as i64;
    let idle = state.settings.sessions.idle_timeout.as_secs() as i64;
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(MAX_USER_AGENT).collect::<String>())
        .filter(|ua| !ua.trim().is_empty());
    state
        .store
        .sessions()
        .create(NewSession {
            cookie_hash,
            user_id: user_id.to_string(),
            auth_time: at,
            amr,
            acr: Some(ACR_SINGLE_FACTOR.to_string()),
            idle_expires_at: at + idle.min(absolute),
            expires_at: at + absolute,
            user_agent,
            ip: ip.map(|ip| ip.to_string()),
        })
        .await
}

/// The browser state of a session: derived from its id under the instance key, so every node
/// computes the same value and no one else can.
pub fn browser_state(state: &AppState, session_id: &str) -> String {
    keyed_hash(&state.hash_key, &format!("browser state\0{session_id}"))
}

/// The `Set-Cookie` of a session's browser state. Scripts read it (no HttpOnly), and the
/// check-session frame reads it inside a relying party's page, a cross-site frame: over https
/// it is `SameSite=None`.
fn browser_state_cookie(state: &AppState, session_id: &str) -> String {
    let value = browser_state(state, session_id);
    if secure_cookies(state) {
        format!("{BROWSER_STATE_COOKIE}={value}; Path=/; SameSite=None; Secure")
    } else {
        format!("{BROWSER_STATE_COOKIE}={value}; Path=/; SameSite=Lax")
    }
}

/// The `Set-Cookie`s that sign the browser out: the session and its browser state cleared.
pub fn signed_out_cookies(state: &AppState) -> [String; 2] {
    let secure = secure_cookies(state);
    let browser_state = if secure {
        format!("{BROWSER_STATE_COOKIE}=; Path=/; SameSite=None; Secure; Max-Age=0")
    } else {
        format!("{BROWSER_STATE_COOKIE}=; Path=/; SameSite=Lax; Max-Age=0")
    };
    [cookies::clear(SESSION_COOKIE, secure), browser_state]
}
