//! "Forgot password?": `GET/POST /password/forgot` and `GET/POST /password/reset`.
//!
//! With `accounts.self_service_reset` on, the forgot page asks for an e-mail address and always
//! answers "if an account exists, a mail is on its way": the request is throttled the same way
//! for every address, and the lookup and the mail happen after the answer, so neither the page
//! nor its timing tells whether the address has an account. Only active accounts that sign in
//! with a password get a mail (never federated, disabled or invited ones). The link works once,
//! for `accounts.reset_link_ttl`, and replaces older ones. Setting a new password through it ends
//! every session of the account, revokes its refresh tokens, lifts a brute-force lock, and signs
//! the person in again ([`super::landing`]) — back into the sign-in they came from when the
//! "Forgot password?" link was on a sign-in page.
//!
//! With self-service reset off (the on-premises mode) the forgot page tells people to contact
//! their administrator, and nothing is mailed.

use super::landing::{self, remember_ticket, remembered_ticket};
use super::links::{self, Link, LinkMailer};
use super::new_password::{LinkState, Outcome, look_up, set_password};
use super::throttle::{self, ClientIp};
use super::{PASSWORD_METHOD, mail_locale, page_locale, person};
use crate::authorize::interaction::{csrf_refused, form, server_error, with_cookies};
use crate::authorize::ticket;
use crate::password_policy::PasswordRejection;
use crate::session;
use crate::state::AppState;
use crate::web::{cookies, csrf, pages};
use axum::extract::{Query, RawForm, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use poort_storage::repo::{AuditEvent, OneTimePurpose, UserRecord, UserStatus};
use poort_storage::{StorageError, now};
use poort_themes::Locale;
use serde::Deserialize;
use serde_json::json;

pub const FORGOT_PATH: &str = "/password/forgot";
pub const RESET_PATH: &str = "/password/reset";

/// The longest e-mail address looked up (RFC 5321 allows 254 in a path).
const MAX_EMAIL_LENGTH: usize = 320;

#[derive(Deserialize)]
pub struct ForgotQuery {
    ticket: Option<String>,
    lang: Option<String>,
}

/// The language of the forgot page: `lang`, then the sign-in's `ui_locales`, then the browser's.
fn forgot_locale(state: &AppState, headers: &HeaderMap, lang: Option<&str>, sealed: Option<&str>) -> Locale {
    let ticket = sealed.and_then(|t| ticket::unseal(state, t));
    let ui_locales = ticket.as_ref().and_then(|t| t.params.get("ui_locales")).map(String::as_str);
    page_locale(state, headers, lang.or(ui_locales))
}

/// `GET /password/forgot[?ticket=…]`: the form for a reset link, or "contact your administrator".
pub async fn forgot_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<ForgotQuery>,
) -> Response {
    let secure = session::secure_cookies(&state);
    let found = query.ticket.as_deref().and_then(|sealed| ticket::unseal(&state, sealed).map(|t| (sealed, t)));
    let locale = forgot_locale(&state, &headers, query.lang.as_deref(), found.as_ref().map(|(sealed, _)| *sealed));
    let (csrf, set_csrf) = csrf::token(&headers, secure);
    let mut set_cookies: Vec<String> = set_csrf.into_iter().collect();
    // Kept for the form post, which carries no ticket; any older one is dropped.
    let remembered = found.as_ref().and_then(|(sealed, t)| remember_ticket(&state, sealed, t.expires_at));
    set_cookies.push(remembered.unwrap_or_else(|| cookies::clear(landing::RETURN_COOKIE, secure)));
    let hint = found.as_ref().and_then(|(_, t)| t.params.get("login_hint")).filter(|h| h.contains('@'));
    let page = ForgotPage {
        sent: false,
        csrf: &csrf,
        email: hint.map_or("", String::as_str),
        sign_in_uri: found.as_ref().map(|(sealed, _)| sign_in_uri(sealed)),
        message_key: None,
    };
    with_cookies(forgot(&state, locale, StatusCode::OK, page), set_cookies)
}

/// `POST /password/forgot`: the same answer for every address; the mail goes out afterwards.
pub async fn forgot_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: ClientIp,
    RawForm(body): RawForm,
) -> Response {
    let fields = form(&body);
    let Some(csrf) = fields.get(csrf::CSRF_FIELD).filter(|t| csrf::verify(&headers, Some(t.as_str()))) else {
        return csrf_refused(&state, &headers);
    };
    let sealed = remembered_ticket(&state, &headers);
    let locale = forgot_locale(&state, &headers, None, sealed.as_deref());
    let email = fields.get("email").map(|e| e.trim()).unwrap_or("");
    let mut page =
        ForgotPage { sent: false, csrf, email, sign_in_uri: sealed.as_deref().map(sign_in_uri), message_key: None };
    if !state.settings.accounts.self_service_reset || email.is_empty() || email.len() > MAX_EMAIL_LENGTH {
        return forgot(&state, locale, StatusCode::OK, page);
    }
    match throttle::allow_mail_request(&state, ip, email).await {
        Ok(true) => {}
        Ok(false) => {
            page.message_key = Some("error.too_many_requests");
            return forgot(&state, locale, StatusCode::TOO_MANY_REQUESTS, page);
        }
        Err(error) => return server_error(&state, &headers, error),
    }
    // The client whose sign-in page the person came from (none for Poort's own pages).
    let client_id = sealed
        .as_deref()
        .and_then(|t| ticket::unseal(&state, t))
        .filter(|t| t.return_to.is_none())
        .and_then(|t| t.params.get("client_id").cloned());
    let request = ResetRequest { email: email.to_string(), ticket: sealed.clone(), client_id, locale, ip };
    let mailer = LinkMailer::of(&state);
    tokio::spawn(async move { mail_reset_link(&mailer, request).await });
    page.sent = true;
    page.email = "";
    forgot(&state, locale, StatusCode::OK, page)
}

/// A reset link someone asked for.
struct ResetRequest {
    email: String,
    /// The sign-in page's sealed ticket, to resume afterwards, and its client.
    ticket: Option<String>,
    client_id: Option<String>,
    locale: Locale,
    ip: ClientIp,
}

/// Whether `user` may reset a password by mail.
fn may_reset(user: &UserRecord) -> bool {
    user.status == UserStatus::Active && user.auth_method == PASSWORD_METHOD
}

/// Mails a reset link when the address belongs to an account that may have one, and records the
/// request either way.
async fn mail_reset_link(mailer: &LinkMailer, request: ResetRequest) {
    let user = match mailer.store.users().find_by_email(&request.email).await {
        Ok(user) => user,
        Err(error) => return tracing::warn!(%error, "a reset request could not be looked up"),
    };
    // Never for people whose domain signs in upstream only: they have no password here.
    let sso_only = match &user {
        Some(user) => crate::federation::routing::sso_only(&mailer.store, &mailer.hash_key, &user.email).await,
        None => Ok(None),
    };
    let sso_only = match sso_only {
        Ok(found) => found.is_some(),
        Err(error) => return tracing::warn!(%error, "a reset request could not be looked up"),
    };
    let eligible = user.as_ref().filter(|u| may_reset(u) && !sso_only);
    let mut mailed = false;
    if let Some(user) = eligible {
        let link = Link {
            purpose: OneTimePurpose::Reset,
            user,
            client_id: request.client_id.clone(),
            return_to: request.ticket.clone(),
            locale: mail_locale(user, request.locale),
        };
        match links::send(mailer, link).await {
            Ok(_) => mailed = true,
            Err(error) => tracing::warn!(%error, "a reset link could not be sent"),
        }
    }
    let event = AuditEvent {
        kind: "password.reset_requested".into(),
        user_id: user.map(|u| u.id),
        client_id: None,
        ip: request.ip.0.map(|ip| ip.to_string()),
        detail: json!({ "mailed": mailed }),
    };
    let _ = mailer.store.audit().record(event).await;
}

fn sign_in_uri(sealed: &str) -> String {
    format!("/login?ticket={sealed}")
}

struct ForgotPage<'a> {
    sent: bool,
    csrf: &'a str,
    email: &'a str,
    sign_in_uri: Option<String>,
    message_key: Option<&'static str>,
}

fn forgot(state: &AppState, locale: Locale, status: StatusCode, page: ForgotPage<'_>) -> Response {
    let data = json!({
        "self_service": state.settings.accounts.self_service_reset,
        "sent": page.sent,
        "csrf_token": page.csrf,
        "email": page.email,
        "sign_in_uri": page.sign_in_uri,
        "message_key": page.message_key,
        "notice_key": null,
    });
    pages::render(state, locale, status, "forgot_password", &data)
}

#[derive(Deserialize)]
pub struct LinkQuery {
    token: Option<String>,
    lang: Option<String>,
}

/// `GET /password/reset?token=…`: the page to choose a new password, or "this link has expired".
pub async fn reset_page(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<LinkQuery>) -> Response {
    let locale = page_locale(&state, &headers, query.lang.as_deref());
    let token = query.token.unwrap_or_default();
    let (csrf, set_csrf) = csrf::token(&headers, session::secure_cookies(&state));
    let response = match look_up(&state, OneTimePurpose::Reset, &token).await {
        Ok(LinkState::Valid(_, user)) => reset(&state, locale, &token, &csrf, Some(&user), None),
        Ok(_) => reset(&state, locale, &token, &csrf, None, None),
        Err(error) => server_error(&state, &headers, error),
    };
    with_cookies(response, set_csrf)
}

/// `POST /password/reset`: the new password.
pub async fn reset_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: ClientIp,
    RawForm(body): RawForm,
) -> Response {
    let fields = form(&body);
    let Some(csrf) = fields.get(csrf::CSRF_FIELD).filter(|t| csrf::verify(&headers, Some(t.as_str()))) else {
        return csrf_refused(&state, &headers);
    };
    let field = |name: &str| fields.get(name).cloned().unwrap_or_default();
    let token = field("token");
    let locale = page_locale(&state, &headers, None);
    let outcome =
        set_password(&state, OneTimePurpose::Reset, &token, field("password"), &field("password_confirm")).await;
    let (record, user) = match outcome {
        Ok(Outcome::Set(record, user)) => (record, user),
        Ok(Outcome::Refused(rejection, user)) => {
            return reset(&state, locale, &token, csrf, Some(&user), Some(&rejection));
        }
        Ok(Outcome::Unusable(_)) => return reset(&state, locale, &token, csrf, None, None),
        Err(error) => return server_error(&state, &headers, error),
    };
    let at = now();
    let secured = async {
        let ended = crate::logout::ended::end_user_sessions(&state, &user.id, None).await?;
        let revoked = state.store.grants().revoke_user_grants(&user.id, None, at).await?;
        state.store.one_time_tokens().invalidate_for_user(&user.id, OneTimePurpose::Reset).await?;
        state.store.users().set_email_verified(&user.id, true).await?;
        throttle::clear_account(&state, &user).await?;
        Ok::<_, StorageError>(json!({ "sessions_ended": ended, "grants_revoked": revoked.len() }))
    };
    let detail = match secured.await {
        Ok(detail) => detail,
        Err(error) => return server_error(&state, &headers, error),
    };
    let event = AuditEvent {
        kind: "password.reset".into(),
        user_id: Some(user.id.clone()),
        client_id: record.client_id.clone(),
        ip: ip.0.map(|ip| ip.to_string()),
        detail,
    };
    let _ = state.store.audit().record(event).await;
    landing::sign_in_and_land(&state, &headers, ip, &user, record.client_id.as_deref(), record.return_to.as_deref()).await
}

/// The reset page; without `user` the link cannot be used.
fn reset(
    state: &AppState,
    locale: Locale,
    token: &str,
    csrf: &str,
    user: Option<&UserRecord>,
    rejection: Option<&PasswordRejection>,
) -> Response {
    let policy = state.password_policy.page_value(&user.map(person).unwrap_or_default());
    let data = json!({
        "token": token,
        "csrf_token": csrf,
        "email": user.map_or("", |u| u.email.as_str()),
        "link_valid": user.is_some(),
        "password_policy": policy,
        "password_error": rejection.map(PasswordRejection::to_page_value),
        "message_key": null,
        "notice_key": null,
    });
    let status = match (user, rejection) {
        (None, _) => StatusCode::GONE,
        (Some(_), Some(_)) => StatusCode::BAD_REQUEST,
        (Some(_), None) => StatusCode::OK,
    };
    pages::render(state, locale, status, "reset_password", &data)
}
