//! OpenID Connect Session Management 1.0: the `check_session_iframe` and the `session_state`
//! of authorization responses.
//!
//! `session_state` is `base64url(SHA-256(client_id ␠ origin ␠ browser_state ␠ salt)) "." salt`,
//! where `origin` is the redirect URI's origin and `browser_state` the session's value of the
//! `poort_bs` cookie ([`crate::session::browser_state`]). A relying party's frame posts
//! `"<client_id> <session_state>"` to our frame, whose script computes the same hash from the
//! cookie it can read and the sender's origin, and answers `unchanged`, `changed` or `error`.
//! Signing out clears the cookie, a new sign-in changes it: the answer becomes `changed`.

use crate::crypto::{b64url, random_bytes, sha256};
use crate::state::AppState;
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};

/// The `check_session_iframe`.
pub const PATH: &str = "/session/check";
/// Its script (served by Poort itself, not by the theme: it is protocol, not look).
pub const SCRIPT_PATH: &str = "/session/check.js";

const SCRIPT: &str = include_str!("check-session.js");

/// The `session_state` for an authorization response to `client_id` at `redirect_uri`, in the
/// session `session_id`; `None` when the redirect URI has no origin to bind it to.
pub fn session_state(state: &AppState, client_id: &str, redirect_uri: &str, session_id: &str) -> Option<String> {
    let origin = url::Url::parse(redirect_uri).ok()?.origin();
    if !origin.is_tuple() {
        return None;
    }
    let salt = b64url(&random_bytes::<12>());
    Some(compute(client_id, &origin.ascii_serialization(), &crate::session::browser_state(state, session_id), &salt))
}

fn compute(client_id: &str, origin: &str, browser_state: &str, salt: &str) -> String {
    let digest = sha256(format!("{client_id} {origin} {browser_state} {salt}").as_bytes());
    format!("{}.{salt}", b64url(&digest))
}

/// `GET /session/check`: the frame relying parties embed. Any site may frame it; it runs only
/// our own script and answers only the origin that asked.
pub async fn frame() -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Session</title><script src=\"{SCRIPT_PATH}\"></script></head><body></body></html>"
    );
    let mut response = Html(body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; script-src 'self'; frame-ancestors *; base-uri 'none'"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /session/check.js`.
pub async fn script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], SCRIPT)
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_state_binds_client_origin_browser_state_and_salt() {
        let value = compute("crm", "https://crm.example", "bs", "salt");
        let (hash, salt) = value.split_once('.').unwrap();
        assert_eq!(salt, "salt");
        assert_eq!(hash, b64url(&sha256(b"crm https://crm.example bs salt")));
        for other in [
            compute("admin", "https://crm.example", "bs", "salt"),
            compute("crm", "https://evil.example", "bs", "salt"),
            compute("crm", "https://crm.example", "other", "salt"),
        ] {
            assert_ne!(other, value);
        }
    }
}
