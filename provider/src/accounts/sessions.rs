//! A user's sessions as administrators and the person see them — `poort session list`, `GET
//! /admin/users/{user}/sessions` and the account page — and ending one of them, by whoever
//! asks: the session's grants end with it and its clients are told ([`crate::logout::ended`]).

use crate::cli::output::time;
use crate::state::AppState;
use poort_config::Settings;
use poort_storage::repo::SessionRecord;
use poort_storage::{StorageError, Store, now};
use serde_json::{Value, json};

/// A user's live sessions, newest first, each with the clients it signed in to.
pub async fn live(store: &Store, user_id: &str) -> Result<Vec<(SessionRecord, Vec<String>)>, StorageError> {
    let mut sessions = Vec::new();
    for session in store.sessions().list_for_user(user_id, now()).await? {
        let clients = store.sessions().clients_of(&session.id).await?;
        sessions.push((session, clients));
    }
    Ok(sessions)
}

/// One session as JSON (the CLI's `--json` and the admin API answer alike).
pub fn describe(session: &SessionRecord, clients: &[String]) -> Value {
    json!({
        "sid": session.id,
        "created_at": time(session.created_at),
        "last_seen_at": time(session.last_seen_at),
        "auth_time": time(session.auth_time),
        "amr": session.amr,
        "acr": session.acr,
        "idle_expires_at": time(session.idle_expires_at),
        "expires_at": time(session.expires_at),
        "user_agent": session.user_agent,
        "device": session.user_agent.as_deref().and_then(device),
        "ip": session.ip,
        "clients": clients,
    })
}

/// Ends one of `user_id`'s sessions (their own on the account page, or an administrator's
/// choice) and follows up. False when it is not a live session of theirs.
pub async fn end_one(state: &AppState, user_id: &str, session_id: &str) -> Result<bool, StorageError> {
    let ended = state.store.sessions().end_for_user(user_id, session_id, now()).await?;
    if ended {
        crate::logout::ended::sessions_ended(state, user_id, &[session_id.to_string()]).await?;
    }
    Ok(ended)
}

/// [`end_one`] without a running server (the CLI): a running node delivers the back-channel
/// logouts within its poll interval.
pub async fn end_one_offline(store: &Store, settings: &Settings, user_id: &str, session_id: &str) -> Result<bool, StorageError> {
    let ended = store.sessions().end_for_user(user_id, session_id, now()).await?;
    if ended {
        crate::logout::ended::follow_up(store, settings, user_id, &[session_id.to_string()]).await?;
    }
    Ok(ended)
}

/// "Firefox on Linux" from a `User-Agent`, for a person to recognise their devices; `None` when
/// neither the browser nor the system is recognised.
pub fn device(user_agent: &str) -> Option<String> {
    // Order matters: Edge and Opera say "Chrome" too, Chrome says "Safari".
    const BROWSERS: &[(&str, &str)] = &[
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
    ];
    const SYSTEMS: &[(&str, &str)] = &[
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ];
    let browser = BROWSERS.iter().find(|(marker, _)| user_agent.contains(marker)).map(|(_, name)| *name);
    let system = SYSTEMS.iter().find(|(marker, _)| user_agent.contains(marker)).map(|(_, name)| *name);
    match (browser, system) {
        (Some(browser), Some(system)) => Some(format!("{browser} on {system}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_string()),
        (None, None) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::device;

    #[test]
    fn devices_are_named_by_browser_and_system() {
        let cases = [
            ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", Some("Firefox on Linux")),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36 Edg/131.0",
                Some("Edge on Windows"),
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
                Some("Safari on macOS"),
            ),
            (
                "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36",
                Some("Chrome on Android"),
            ),
            ("curl/8.5.0", None),
        ];
        for (agent, expected) in cases {
            assert_eq!(device(agent).as_deref(), expected, "{agent}");
        }
    }
}
