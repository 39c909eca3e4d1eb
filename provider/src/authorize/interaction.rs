//! The user's part of an authorization: the sign-in and consent pages and their form posts
//! (the terms page lives in [`crate::terms`]). Each page carries the sealed ticket; a successful
//! post resumes the authorization pipeline with what the user just did. A sign-in to Poort's own
//! pages (a ticket with `return_to`) goes back there instead.

use super::params::RawParams;
use super::ticket::{self, Ticket};
use super::{Progress, pages, response::see_other, run};
use crate::oauth::{Client, OAuthError};
use crate::session;
use crate::state::AppState;
use crate::web::csrf;
use axum::extract::{Query, RawForm, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use poort_storage::now;
use poort_storage::repo::UserStatus;
use poort_themes::Locale;
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Login,
    Terms,
    Consent,
}

/// Sends the browser to the page for `step`.
pub fn redirect_to(step: Step, sealed: &str) -> Response {
    let path = match step {
        Step::Login => "/login",
        Step::Terms => "/terms",
        Step::Consent => "/consent",
    };
    see_other(&format!("{path}?ticket={sealed}"))
}

#[derive(Deserialize)]
pub struct TicketQuery {
    pub(crate) ticket: Option<String>,
}

pub(crate) fn expired(state: &AppState, headers: &HeaderMap) -> Response {
    pages::error(state, locale(state, headers, None), StatusCode::BAD_REQUEST, "error.request_expired", None)
}

/// The page language: the request's `ui_locales`, then the browser's.
pub(crate) fn locale(state: &AppState, headers: &HeaderMap, ticket: Option<&Ticket>) -> Locale {
    crate::web::pages::locale(state, headers, ticket.and_then(|t| t.params.get("ui_locales")).map(String::as_str))
}

pub(crate) fn csrf_refused(state: &AppState, headers: &HeaderMap) -> Response {
    pages::error(state, locale(state, headers, None), StatusCode::FORBIDDEN, "error.csrf", None)
}

/// A failure on our side (see [`crate::web::pages::server_error`]: 503 while the database is out of reach).
pub(crate) fn server_error(state: &AppState, headers: &HeaderMap, error: impl std::fmt::Display + 'static) -> Response {
    crate::web::pages::server_error(state, locale(state, headers, None), error)
}

/// Every password-hashing slot is taken and its queue is full: answer at once, not after a wait.
pub(crate) fn busy(state: &AppState, headers: &HeaderMap) -> Response {
    let mut page = pages::error(state, locale(state, headers, None), StatusCode::SERVICE_UNAVAILABLE, "error.busy", None);
    page.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    page
}

pub(crate) fn with_cookies(mut response: Response, cookies: impl IntoIterator<Item = String>) -> Response {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

/// The client a ticket is for; Poort itself (by its name in the page's language) for a sign-in
/// to Poort's own pages.
pub(crate) async fn ticket_client(state: &AppState, headers: &HeaderMap, ticket: &Ticket) -> Result<Client, Response> {
    if ticket.return_to.is_some() {
        let name = state.theme.translate(locale(state, headers, Some(ticket)), "app.name", &[]).unwrap_or_else(|_| "Poort".into());
        return Ok(Client::own(&name));
    }
    let id = ticket.params.get("client_id").cloned().unwrap_or_default();
    match Client::load(&state.store, &id).await {
        Ok(Some(client)) => Ok(client),
        Ok(None) => Err(expired(state, headers)),
        Err(error) => Err(server_error(state, headers, error)),
    }
}

#[derive(Deserialize)]
pub struct LoginQuery {
    ticket: Option<String>,
    /// Set by "use another user ID": ask again, ignoring the request's hints.
    other: Option<String>,
}

pub async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: crate::accounts::throttle::ClientIp,
    Query(query): Query<LoginQuery>,
) -> Response {
    let Some(sealed) = query.ticket else { return expired(&state, &headers) };
    let Some(ticket) = ticket::unseal(&state, &sealed) else { return expired(&state, &headers) };
    let client = match ticket_client(&state, &headers, &ticket).await {
        Ok(client) => client,
        Err(page) => return page,
    };
    let (csrf, set_csrf) = csrf::token(&headers, session::secure_cookies(&state));
    let page_locale = locale(&state, &headers, Some(&ticket));
    // With connectors, the page asks for the user ID first (or sends the person upstream).
    let context = crate::federation::sign_in::PageContext {
        state: &state,
        headers: &headers,
        ip,
        locale: page_locale,
        sealed: &sealed,
        ticket: &ticket,
        client: &client,
        csrf: &csrf,
    };
    match crate::federation::sign_in::page(&context, query.other.is_some()).await {
        Ok(Some(response)) => return with_cookies(response, set_csrf),
        Ok(None) => {}
        Err(error) => return server_error(&state, &headers, error),
    }
    let hint = ticket.params.get("login_hint").map(String::as_str).unwrap_or("");
    let forgot = crate::accounts::forgot_password_uri(&state, &sealed);
    let form = pages::LoginForm {
        client: &client,
        ticket: &sealed,
        csrf: &csrf,
        username: hint,
        message_key: None,
        forgot_password_uri: forgot.as_deref(),
        step: pages::LoginStep::Classic,
        sso: None,
    };
    with_cookies(pages::login(&state, page_locale, form), set_csrf)
}

pub(crate) fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The same answer for an unknown user and a wrong password.
pub(crate) const WRONG_CREDENTIALS: &str = "sign_in.invalid_credentials";

pub async fn login_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: crate::accounts::throttle::ClientIp,
    RawForm(body): RawForm,
) -> Response {
    let fields = form(&body);
    if !csrf::verify(&headers, fields.get(csrf::CSRF_FIELD).map(String::as_str)) {
        return csrf_refused(&state, &headers);
    }
    let Some(sealed) = fields.get("ticket") else { return expired(&state, &headers) };
    let Some(ticket) = ticket::unseal(&state, sealed) else { return expired(&state, &headers) };
    if state.passwords.saturated() {
        // Overloaded: say so before spending any database work on a check that cannot run.
        state.metrics.inc(crate::accounts::throttle::RATE_LIMITED, &[("limit", "password_hashing")]);
        return busy(&state, &headers);
    }
    let page_locale = locale(&state, &headers, Some(&ticket));
    let client = match ticket_client(&state, &headers, &ticket).await {
        Ok(client) => client,
        Err(page) => return page,
    };
    let username = fields.get("username").map(|u| u.trim()).unwrap_or("");
    let password = fields.get("password").cloned().unwrap_or_default();
    let csrf_value = fields.get(csrf::CSRF_FIELD).cloned().unwrap_or_default();
    let context = crate::federation::sign_in::PageContext {
        state: &state,
        headers: &headers,
        ip,
        locale: page_locale,
        sealed,
        ticket: &ticket,
        client: &client,
        csrf: &csrf_value,
    };
    if fields.get("step").map(String::as_str) == Some("identify") {
        return match crate::federation::sign_in::identified(&context, username).await {
            Ok(response) => response,
            Err(error) => server_error(&state, &headers, error),
        };
    }
    let identifier_first = match state.store.connectors().any().await {
        Ok(any) => any,
        Err(error) => return server_error(&state, &headers, error),
    };
    let forgot = crate::accounts::forgot_password_uri(&state, sealed);
    let retry_with = |message_key: &str, sso: Option<&poort_federation::Connector>| {
        let form = pages::LoginForm {
            client: &client,
            ticket: sealed,
            csrf: &csrf_value,
            username,
            message_key: Some(message_key),
            forgot_password_uri: forgot.as_deref(),
            step: if identifier_first { pages::LoginStep::Password } else { pages::LoginStep::Classic },
            sso: sso.map(|c| (c.id(), c.settings.display_name())),
        };
        pages::login(&state, page_locale, form)
    };
    let retry = |message_key: &str| retry_with(message_key, None);
    let user = if username.is_empty() { Ok(None) } else { state.store.users().find_by_login(username).await };
    let user = match user {
        Ok(user) => user,
        Err(error) => return server_error(&state, &headers, error),
    };
    use crate::federation::sign_in::PasswordCheck;
    match crate::federation::sign_in::password_check(&state, username, user.as_ref()).await {
        Ok(PasswordCheck::Local) => {}
        Ok(PasswordCheck::NotHere(connector)) => return retry_with("sign_in.password_not_available", Some(&connector)),
        Ok(PasswordCheck::Directory(connector)) => {
            return match crate::federation::sign_in::directory(&context, &connector, username, &password, user.as_ref()).await {
                Ok(response) => response,
                Err((message_key, status)) => {
                    let mut page = retry(message_key);
                    *page.status_mut() = status;
                    page
                }
            };
        }
        Err(error) => return server_error(&state, &headers, error),
    }
    // Only accounts that sign in with a password here have one to check (the hash of an
    // account since linked upstream is not used); the others cost the same time.
    let stored = user.as_ref().filter(|u| u.auth_method == crate::accounts::PASSWORD_METHOD).and_then(|u| u.password_hash.clone());
    let known_id = user.as_ref().map(|u| u.id.clone());
    // Brute force (see crate::accounts::throttle): a refused client address, the progressive delay.
    let attempt = match crate::accounts::throttle::SignInAttempt::begin(&state, ip, username, user.as_ref()).await {
        Ok(attempt) => attempt,
        Err(message_key) => return retry(message_key),
    };
    // Verify even when there is no such user, so both cost the same time.
    let Ok(matched) = state.passwords.verify(password, stored).await else {
        state.metrics.inc(crate::accounts::throttle::RATE_LIMITED, &[("limit", "password_hashing")]);
        return busy(&state, &headers);
    };
    let audit = |kind: &str, user_id: Option<String>| poort_storage::repo::AuditEvent {
        kind: kind.into(),
        user_id,
        client_id: ticket.return_to.is_none().then(|| client.id.clone()),
        ip: ip.0.map(|ip| ip.to_string()),
        detail: serde_json::json!({}),
    };
    if let Err(message_key) = attempt.finish(&state, matched).await {
        let _ = state.store.audit().record(audit("login.locked", known_id)).await;
        return retry(message_key);
    }
    let Some(user) = user.filter(|_| matched) else {
        let _ = state.store.audit().record(audit("login.failed", known_id)).await;
        return retry(WRONG_CREDENTIALS);
    };
    match user.status {
        UserStatus::Active => {}
        UserStatus::Disabled => return retry("sign_in.account_disabled"),
        UserStatus::Invited => return retry("sign_in.account_not_activated"),
    }
    let _ = state.store.audit().record(audit("login.succeeded", Some(user.id.clone()))).await;
    complete_sign_in(&state, &headers, ip, ticket, &user, vec!["pwd".into()]).await
}

/// After a successful sign-in (a password here, a directory, an upstream): `user` is signed in
/// in this browser with `amr` ([`session::sign_in`]: the same user's session re-authenticated,
/// anyone else's ended), then on to what the ticket was for — Poort's own page, or the
/// authorization.
pub(crate) async fn complete_sign_in(
    state: &AppState,
    headers: &HeaderMap,
    ip: crate::accounts::throttle::ClientIp,
    ticket: Ticket,
    user: &poort_storage::repo::UserRecord,
    amr: Vec<String>,
) -> Response {
    let signed_in = match session::sign_in(state, headers, ip.0, &user.id, amr).await {
        Ok(signed_in) => signed_in,
        Err(error) => return server_error(state, headers, error),
    };
    with_cookies(resume(state, headers, ticket, signed_in.session).await, signed_in.cookies)
}

/// Continues what `ticket` was for, just signed in as `session`: back to Poort's own page (checked
/// again: never off this site), or the authorization.
pub(crate) async fn resume(state: &AppState, headers: &HeaderMap, ticket: Ticket, session: poort_storage::repo::SessionRecord) -> Response {
    if let Some(target) = ticket.return_to.as_deref() {
        let target = if ticket::is_local_path(target) { target } else { crate::account::ACCOUNT_PATH };
        return see_other(target);
    }
    let progress = Progress { login_at: Some(now()), session_id: Some(session.id.clone()), consented: ticket.consented };
    run(state, headers, RawParams::from_map(ticket.params), Some(session.into()), progress).await
}

/// The session the ticket was started in, if the browser still presents it.
pub(crate) async fn ticket_session(state: &AppState, headers: &HeaderMap, ticket: &Ticket) -> Option<poort_storage::repo::SessionRecord> {
    let current = session::current(state, headers).await.ok()??;
    (ticket.session_id.as_deref() == Some(current.id.as_str())).then_some(current)
}

pub async fn consent_page(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<TicketQuery>) -> Response {
    let Some(sealed) = query.ticket else { return expired(&state, &headers) };
    let Some(ticket) = ticket::unseal(&state, &sealed) else { return expired(&state, &headers) };
    let Some(current) = ticket_session(&state, &headers, &ticket).await else { return expired(&state, &headers) };
    let client = match ticket_client(&state, &headers, &ticket).await {
        Ok(client) => client,
        Err(page) => return page,
    };
    let scopes: Vec<String> = ticket.params.get("scope").map(|s| s.split(' ').map(str::to_string).collect()).unwrap_or_default();
    let claims = requested_claim_names(ticket.params.get("claims"));
    let (csrf, set_csrf) = csrf::token(&headers, session::secure_cookies(&state));
    let user = state.store.users().get(&current.user_id).await.ok().flatten().map(|u| u.email).unwrap_or_default();
    let form = pages::ConsentForm { client: &client, scopes: &scopes, claims: &claims, user: &user, ticket: &sealed, csrf: &csrf };
    with_cookies(pages::consent(&state, locale(&state, &headers, Some(&ticket)), form), set_csrf)
}

fn requested_claim_names(claims: Option<&String>) -> Vec<String> {
    let Some(value) = claims.and_then(|c| serde_json::from_str::<serde_json::Value>(c).ok()) else { return Vec::new() };
    let mut names: Vec<String> = ["userinfo", "id_token"]
        .iter()
        .filter_map(|member| value.get(member).and_then(|m| m.as_object()))
        .flat_map(|m| m.keys().cloned())
        .collect();
    names.sort();
    names.dedup();
    names
}

pub async fn consent_submit(State(state): State<AppState>, headers: HeaderMap, RawForm(body): RawForm) -> Response {
    let fields = form(&body);
    if !csrf::verify(&headers, fields.get(csrf::CSRF_FIELD).map(String::as_str)) {
        return csrf_refused(&state, &headers);
    }
    let Some(ticket) = fields.get("ticket").and_then(|t| ticket::unseal(&state, t)) else { return expired(&state, &headers) };
    let Some(current) = ticket_session(&state, &headers, &ticket).await else { return expired(&state, &headers) };
    let params = RawParams::from_map(ticket.params.clone());
    if fields.get("decision").map(String::as_str) != Some("allow") {
        return super::deny(&state, &headers, params, "the user declined").await;
    }
    let client_id = ticket.params.get("client_id").cloned().unwrap_or_default();
    let scope = ticket.params.get("scope").cloned().unwrap_or_default();
    let claims = ticket.params.get("claims").and_then(|c| serde_json::from_str(c).ok());
    if let Err(error) = state.store.consents().grant(&current.user_id, &client_id, &scope, claims).await {
        return server_error(&state, &headers, error);
    }
    let progress = Progress { login_at: ticket.login_at, session_id: ticket.session_id.clone(), consented: true };
    run(&state, &headers, params, Some(current.into()), progress).await
}

/// "Return to the application" from the access-refused page: the client hears `access_denied`.
pub async fn refused(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<TicketQuery>) -> Response {
    let Some(ticket) = query.ticket.and_then(|t| ticket::unseal(&state, &t)) else { return expired(&state, &headers) };
    super::deny(&state, &headers, RawParams::from_map(ticket.params), "the user may not use this application").await
}

/// The subject of an `id_token_hint`: it must be an ID token we issued (expired ones are fine).
pub fn subject_of_id_token_hint(state: &AppState, hint: &str) -> Result<String, OAuthError> {
    let claims = crate::tokens::jwt::verify_ours(&state.keyring.snapshot(), hint)
        .ok_or_else(|| OAuthError::invalid_request("id_token_hint is not an ID token issued here"))?;
    if claims.get("iss").and_then(|i| i.as_str()) != Some(&*state.issuer) {
        return Err(OAuthError::invalid_request("id_token_hint was issued by someone else"));
    }
    claims
        .get("sub")
        .and_then(|s| s.as_str())
        .map(str::to_string)
        .ok_or_else(|| OAuthError::invalid_request("id_token_hint has no subject"))
}
