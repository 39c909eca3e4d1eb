//! CSRF protection for our forms: a random per-browser token in a cookie, repeated in a hidden
//! field (double submit); a POST whose field does not match the cookie is refused.

use crate::crypto::{constant_time_eq, random_token};
use crate::web::cookies;
use axum::http::HeaderMap;

pub const CSRF_COOKIE: &str = "poort_csrf";
pub const CSRF_FIELD: &str = "csrf_token";

/// The browser's token, and a `Set-Cookie` when it had none yet.
pub fn token(headers: &HeaderMap, secure: bool) -> (String, Option<String>) {
    match cookies::get(headers, CSRF_COOKIE).filter(|t| t.len() >= 32) {
        Some(existing) => (existing.to_string(), None),
        None => {
            let fresh = random_token();
            let cookie = cookies::set(CSRF_COOKIE, &fresh, secure, None);
            (fresh, Some(cookie))
        }
    }
}

/// Whether a posted form's token matches the browser's cookie.
pub fn verify(headers: &HeaderMap, submitted: Option<&str>) -> bool {
    match (cookies::get(headers, CSRF_COOKIE), submitted) {
        (Some(cookie), Some(field)) if cookie.len() >= 32 => constant_time_eq(cookie.as_bytes(), field.as_bytes()),
        _ => false,
    }
}
