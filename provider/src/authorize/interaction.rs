//! The user's part of an authorization: the sign-in and consent pages and their form posts.
//! Each page carries the sealed ticket; a successful post resumes the authorization pipeline
//! with what the user just did.

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
use serde::Deserialize;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Login,
    Consent,
}

/// Sends the browser to the page for `step`.
pub fn redirect_to(step: Step, sealed: &str) -> Response {
    let path = match step {
        Step::Login => "/login",
        Step::Consent => "/consent",
    };
    see_other(&format!("{path}?ticket={sealed}"))
}

#[derive(Deserialize)]
pub struct TicketQuery {
    ticket: Option<String>,
}

fn expired() -> Response {
    pages::error(
        StatusCode::BAD_REQUEST,
        "This sign-in page has expired or is not valid. Go back to the application and start again.",
    )
}

fn with_cookies(mut response: Response, cookies: impl IntoIterator<Item = String>) -> Response {
    for cookie in cookies {
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
    }
    response
}

async fn ticket_client(state: &AppState, ticket: &Ticket) -> Result<Client, Response> {
    let id = ticket.params.get("client_id").cloned().unwrap_or_default();
    match Client::load(&state.store, &id).await {
        Ok(Some(client)) => Ok(client),
        Ok(None) => Err(expired()),
        Err(_) => Err(pages::error(StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side.")),
    }
}

pub async fn login_page(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<TicketQuery>) -> Response {
    let Some(sealed) = query.ticket else { return expired() };
    let Some(ticket) = ticket::unseal(&state, &sealed) else { return expired() };
    let client = match ticket_client(&state, &ticket).await {
        Ok(client) => client,
        Err(page) => return page,
    };
    let (csrf, set_csrf) = csrf::token(&headers, session::secure_cookies(&state));
    let hint = ticket.params.get("login_hint").map(String::as_str).unwrap_or("");
    let page = pages::login(pages::LoginForm { client: &client, ticket: &sealed, csrf: &csrf, username: hint, message: None });
    with_cookies(page, set_csrf)
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

/// The same answer for an unknown user and a wrong password.
const WRONG_CREDENTIALS: &str = "The user ID or password is not correct.";

pub async fn login_submit(State(state): State<AppState>, headers: HeaderMap, RawForm(body): RawForm) -> Response {
    let fields = form(&body);
    if !csrf::verify(&headers, fields.get(csrf::CSRF_FIELD).map(String::as_str)) {
        return pages::error(StatusCode::FORBIDDEN, "The form could not be verified. Go back to the application and start again.");
    }
    let Some(sealed) = fields.get("ticket") else { return expired() };
    let Some(ticket) = ticket::unseal(&state, sealed) else { return expired() };
    let client = match ticket_client(&state, &ticket).await {
        Ok(client) => client,
        Err(page) => return page,
    };
    let username = fields.get("username").map(|u| u.trim()).unwrap_or("");
    let password = fields.get("password").cloned().unwrap_or_default();
    let retry = |message: &str| {
        let csrf = fields.get(csrf::CSRF_FIELD).cloned().unwrap_or_default();
        pages::login(pages::LoginForm { client: &client, ticket: sealed, csrf: &csrf, username, message: Some(message) })
    };
    let user = if username.is_empty() { Ok(None) } else { state.store.users().find_by_login(username).await };
    let user = match user {
        Ok(user) => user,
        Err(error) => return pages::error(StatusCode::INTERNAL_SERVER_ERROR, &OAuthError::server_error(error).description),
    };
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let known_id = user.as_ref().map(|u| u.id.clone());
    // Verify even when there is no such user, so both cost the same time.
    let matched = state.passwords.verify(password, stored).await;
    let audit = |kind: &str, user_id: Option<String>| poort_storage::repo::AuditEvent {
        kind: kind.into(),
        user_id,
        client_id: Some(client.id.clone()),
        ip: None,
        detail: serde_json::json!({}),
    };
    let Some(user) = user.filter(|_| matched) else {
        let _ = state.store.audit().record(audit("login.failed", known_id)).await;
        return retry(WRONG_CREDENTIALS);
    };
    match user.status {
        UserStatus::Active => {}
        UserStatus::Disabled => return retry("This account is disabled. Contact your administrator."),
        UserStatus::Invited => return retry("This account has not been activated yet. Use the link in your invitation mail."),
    }
    // A fresh sign-in replaces the browser's previous session.
    if let Ok(Some(previous)) = session::current(&state, &headers).await {
        let _ = state.store.sessions().end(&previous.id, now()).await;
    }
    let _ = state.store.audit().record(audit("login.succeeded", Some(user.id.clone()))).await;
    let (new_session, cookie) = match session::start(&state, &user.id, vec!["pwd".into()]).await {
        Ok(started) => started,
        Err(error) => return pages::error(StatusCode::INTERNAL_SERVER_ERROR, &OAuthError::server_error(error).description),
    };
    let progress = Progress { login_at: Some(now()), session_id: Some(new_session.id.clone()), consented: ticket.consented };
    let response = run(&state, RawParams::from_map(ticket.params), Some(new_session), progress).await;
    with_cookies(response, [cookie])
}

/// The session the ticket was started in, if the browser still presents it.
async fn ticket_session(state: &AppState, headers: &HeaderMap, ticket: &Ticket) -> Option<poort_storage::repo::SessionRecord> {
    let current = session::current(state, headers).await.ok()??;
    (ticket.session_id.as_deref() == Some(current.id.as_str())).then_some(current)
}

pub async fn consent_page(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<TicketQuery>) -> Response {
    let Some(sealed) = query.ticket else { return expired() };
    let Some(ticket) = ticket::unseal(&state, &sealed) else { return expired() };
    if ticket_session(&state, &headers, &ticket).await.is_none() {
        return expired();
    }
    let client = match ticket_client(&state, &ticket).await {
        Ok(client) => client,
        Err(page) => return page,
    };
    let scopes: Vec<String> = ticket.params.get("scope").map(|s| s.split(' ').map(str::to_string).collect()).unwrap_or_default();
    let claims = requested_claim_names(ticket.params.get("claims"));
    let (csrf, set_csrf) = csrf::token(&headers, session::secure_cookies(&state));
    with_cookies(pages::consent(&client, &scopes, &claims, &sealed, &csrf), set_csrf)
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
        return pages::error(StatusCode::FORBIDDEN, "The form could not be verified. Go back to the application and start again.");
    }
    let Some(ticket) = fields.get("ticket").and_then(|t| ticket::unseal(&state, t)) else { return expired() };
    let Some(current) = ticket_session(&state, &headers, &ticket).await else { return expired() };
    let params = RawParams::from_map(ticket.params.clone());
    if fields.get("decision").map(String::as_str) != Some("allow") {
        return super::deny(&state, params, "the user declined").await;
    }
    let client_id = ticket.params.get("client_id").cloned().unwrap_or_default();
    let scope = ticket.params.get("scope").cloned().unwrap_or_default();
    let claims = ticket.params.get("claims").and_then(|c| serde_json::from_str(c).ok());
    if let Err(error) = state.store.consents().grant(&current.user_id, &client_id, &scope, claims).await {
        return pages::error(StatusCode::INTERNAL_SERVER_ERROR, &OAuthError::server_error(error).description);
    }
    let progress = Progress { login_at: ticket.login_at, session_id: ticket.session_id.clone(), consented: true };
    run(&state, params, Some(current), progress).await
}

/// "Return to the application" from the access-refused page: the client hears `access_denied`.
pub async fn refused(State(state): State<AppState>, Query(query): Query<TicketQuery>) -> Response {
    let Some(ticket) = query.ticket.and_then(|t| ticket::unseal(&state, &t)) else { return expired() };
    super::deny(&state, RawParams::from_map(ticket.params), "the user may not use this application").await
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
