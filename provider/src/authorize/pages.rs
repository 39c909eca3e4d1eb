//! The authorization endpoint's pages — errors that must not redirect, sign-in, consent and
//! access refused — rendered through the theme in the user's language.

use crate::oauth::Client;
use crate::state::AppState;
use crate::web::pages::render;
use axum::http::StatusCode;
use axum::response::Response;
use poort_themes::Locale;
use serde_json::{Value, json};

/// An error shown instead of redirecting (unknown client, bad redirect URI, …): `message_key`
/// is one of the catalog's `error.*` texts, `detail` the technical reason for developers.
pub fn error(state: &AppState, locale: Locale, status: StatusCode, message_key: &str, detail: Option<&str>) -> Response {
    render(state, locale, status, "error", &json!({ "message_key": message_key, "detail": detail }))
}

/// The client as the pages show it: its name, and its logo and links when registered (a logo
/// only over https, so the page never loads mixed content).
pub(crate) fn client_view(client: &Client) -> Value {
    json!({
        "name": client.display_name(),
        "logo_uri": client.metadata.logo_uri.as_deref().filter(|u| u.starts_with("https://")),
        "policy_uri": client.metadata.policy_uri,
        "tos_uri": client.metadata.tos_uri,
    })
}

pub struct LoginForm<'a> {
    pub client: &'a Client,
    pub ticket: &'a str,
    pub csrf: &'a str,
    pub username: &'a str,
    /// A `sign_in.*` message after a failed attempt.
    pub message_key: Option<&'a str>,
    pub forgot_password_uri: Option<&'a str>,
    pub step: LoginStep,
    /// A connector the person may sign in with instead: (id, name).
    pub sso: Option<(&'a str, &'a str)>,
}

/// Which form the sign-in page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginStep {
    /// User ID and password together (no connector is configured).
    Classic,
    /// Identifier first: only the user ID.
    Identify,
    /// Identifier first: the password for the user ID given.
    Password,
}

pub fn login(state: &AppState, locale: Locale, form: LoginForm<'_>) -> Response {
    let status = if form.message_key.is_some() { StatusCode::UNAUTHORIZED } else { StatusCode::OK };
    let data = json!({
        "client": client_view(form.client),
        "ticket": form.ticket,
        "csrf_token": form.csrf,
        "username": form.username,
        "directory_users": true,
        "forgot_password_uri": form.forgot_password_uri,
        "identify": form.step == LoginStep::Identify,
        "change_user_uri": (form.step == LoginStep::Password).then(|| format!("/login?ticket={}&other=1", form.ticket)),
        "sso": form.sso.map(|(connector, name)| json!({ "connector": connector, "name": name })),
        "message_key": form.message_key,
        "notice_key": null,
    });
    render(state, locale, status, "sign_in", &data)
}

pub struct ConsentForm<'a> {
    pub client: &'a Client,
    pub scopes: &'a [String],
    pub claims: &'a [String],
    pub user: &'a str,
    pub ticket: &'a str,
    pub csrf: &'a str,
}

pub fn consent(state: &AppState, locale: Locale, form: ConsentForm<'_>) -> Response {
    let scopes: Vec<&String> = form.scopes.iter().filter(|s| *s != "openid").collect();
    let data = json!({
        "client": client_view(form.client),
        "scopes": scopes,
        "claims": form.claims,
        "user": form.user,
        "ticket": form.ticket,
        "csrf_token": form.csrf,
    });
    render(state, locale, StatusCode::OK, "consent", &data)
}

/// The signed-in user may not use this client; `continue_uri` tells the client so.
pub fn access_refused(state: &AppState, locale: Locale, client: &Client, user: &str, continue_uri: &str) -> Response {
    let data = json!({ "client_name": client.display_name(), "user": user, "continue_uri": continue_uri });
    render(state, locale, StatusCode::FORBIDDEN, "access_refused", &data)
}
