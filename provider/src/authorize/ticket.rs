//! The interaction ticket: an authorization request waiting for the user (sign-in, terms,
//! consent), sealed (JWE, dir + A256GCM, under a key derived from the instance secret) so any node
//! can resume it and no one can alter it. It records what the user has done so far.
//!
//! A sign-in outside an authorization (Poort's own pages, such as `/account`) uses the same ticket
//! with no authorization parameters and a `return_to` path on this site.

use crate::state::AppState;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// The effective authorization parameters (a request object already merged in).
    pub params: BTreeMap<String, String>,
    /// When the user signed in during this request (satisfies prompt=login and max_age).
    pub login_at: Option<i64>,
    /// The session the sign-in started; later steps must come from the same browser session.
    pub session_id: Option<String>,
    /// The user agreed to the consent page during this request.
    pub consented: bool,
    pub expires_at: i64,
    /// For a sign-in to Poort's own pages: where to go afterwards (a path on this site, see
    /// [`is_local_path`]) instead of resuming an authorization.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_to: Option<String>,
    /// The terms version the terms page showed, so accepting records exactly that one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms_id: Option<String>,
}

/// Whether `target` is a path on this site that a sign-in may return to: absolute-path
/// relative (`/account`), never scheme-relative (`//evil.example`), no backslashes (browsers
/// read `/\evil.example` as another host) and no control characters.
pub fn is_local_path(target: &str) -> bool {
    target.starts_with('/')
        && !target.starts_with("//")
        && !target.contains('\\')
        && !target.chars().any(char::is_control)
        && target.len() <= 512
}

const LABEL: &str = "poort interaction ticket v1";

pub fn seal(state: &AppState, ticket: &Ticket) -> Result<String, crate::oauth::OAuthError> {
    let json = serde_json::to_vec(ticket).map_err(crate::oauth::OAuthError::server_error)?;
    crate::crypto::seal(&state.hash_key, LABEL, &json).map_err(crate::oauth::OAuthError::server_error)
}

/// The ticket, if it is one of ours and has not expired.
pub fn unseal(state: &AppState, sealed: &str) -> Option<Ticket> {
    let json = crate::crypto::unseal(&state.hash_key, LABEL, sealed)?;
    let ticket: Ticket = serde_json::from_slice(&json).ok()?;
    (ticket.expires_at > poort_storage::now()).then_some(ticket)
}

#[cfg(test)]
mod tests {
    use super::is_local_path;

    #[test]
    fn only_paths_on_this_site_are_return_targets() {
        for good in ["/account", "/account/password", "/account?ui_locales=nl"] {
            assert!(is_local_path(good), "{good}");
        }
        for bad in ["", "account", "//evil.example", "/\\evil.example", "https://evil.example/", "/a\nb", "javascript:alert(1)"] {
            assert!(!is_local_path(bad), "{bad:?}");
        }
    }
}
