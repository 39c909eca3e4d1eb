//! The account lifecycle on Poort's own pages and in the CLI:
//!
//! - [`activation`]: an administrator invites someone; the mailed link opens `/activate`, where
//!   they choose a password and land signed in. Expired or used links offer a fresh one.
//! - [`reset`]: "Forgot password?" (`/password/forgot`, `/password/reset`), or, with
//!   `accounts.self_service_reset` off, a page that sends people to their administrator.
//! - [`landing`]: where someone goes once their password is set.
//! - [`throttle`]: failed sign-ins and mail requests, counted per account and per client address.
//! - [`overview`]: an account as an administrator sees it (the CLI and the admin API).
//! - [`sessions`]: a user's sessions as the person and administrators see them, and ending one.
//!
//! Both kinds of link carry a 256-bit random token that is stored only as its keyed hash, works
//! once, expires, and replaces any older link of its kind ([`links`]). Tokens, links and
//! passwords are never logged.

pub mod activation;
pub mod landing;
pub mod links;
mod new_password;
pub mod overview;
pub mod reset;
pub mod sessions;
pub mod throttle;

use crate::state::AppState;
use axum::http::HeaderMap;
use poort_storage::repo::UserRecord;
use poort_themes::Locale;

/// The authentication method of accounts that sign in with a password here.
pub const PASSWORD_METHOD: &str = "password";

/// The "Forgot password?" link of a sign-in page showing `ticket`, when self-service reset is on.
/// The ticket rides along so that the person can go back, and is signed in to the same
/// application once the new password is set.
pub fn forgot_password_uri(state: &AppState, ticket: &str) -> Option<String> {
    state.settings.accounts.self_service_reset.then(|| format!("{}?ticket={ticket}", reset::FORGOT_PATH))
}

/// The language of one of these pages: `lang` (which the links in mails carry, or
/// `ui_locales`), then the browser's `Accept-Language`, then the default.
fn page_locale(state: &AppState, headers: &HeaderMap, lang: Option<&str>) -> Locale {
    crate::web::pages::locale(state, headers, lang.filter(|l| l.len() <= 64))
}

/// The language of mails to `user`: their `locale` claim when Poort has it, else `fallback`.
fn mail_locale(user: &UserRecord, fallback: Locale) -> Locale {
    user.claims.get("locale").and_then(|l| l.as_str()).and_then(Locale::from_tag).unwrap_or(fallback)
}

/// The password policy's view of `user`: their own words count against a new password.
fn person(user: &UserRecord) -> crate::password_policy::Person<'_> {
    crate::password_policy::Person::of(user)
}
