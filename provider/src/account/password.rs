//! Change password (`GET`/`POST /account/password`): the current password, then a new one twice
//! under the same strength policy as activation and reset. On success the user's other sessions
//! end and every refresh token they hold is revoked, so a password someone else learned stops
//! working everywhere; the browser that changed it stays signed in.
//!
//! A wrong current password counts against the account exactly like a failed sign-in (the same
//! counters, delay and lock of [`crate::accounts::throttle`]), so this form is no way around them.
//!
//! Users who sign in through a federation connector have no password here: the page tells them
//! so and the form does nothing.

use super::{PASSWORD_PATH, account_page, federated_connector, sign_in_first, signed_in, user_id};
use crate::accounts::throttle::{ClientIp, SignInAttempt, TOO_MANY_ATTEMPTS, UNAVAILABLE};
use crate::authorize::interaction::{csrf_refused, form, server_error, with_cookies};
use crate::password_policy::PasswordRejection;
use crate::session;
use crate::state::AppState;
use crate::web::{csrf, pages};
use axum::extract::{RawForm, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use poort_storage::now;
use poort_storage::repo::{AuditEvent, UserRecord};
use poort_themes::Locale;
use serde_json::json;

/// Shown when the current password does not match.
const CURRENT_INCORRECT: &str = "change_password.current_incorrect";
/// Shown on the account page after a change.
const CHANGED: &str = "account.password_changed";

struct ChangeForm<'a> {
    user: &'a UserRecord,
    /// The connector's name for people who sign in upstream: the page explains, no form.
    federated: Option<&'a str>,
    csrf: &'a str,
    message_key: Option<&'static str>,
    password_error: Option<&'a PasswordRejection>,
}

fn page(state: &AppState, locale: Locale, status: StatusCode, form: ChangeForm<'_>) -> Response {
    let data = json!({
        "csrf_token": form.csrf,
        "username": user_id(form.user),
        "federated_connector": form.federated,
        "password_policy": state.password_policy.page_value(&crate::password_policy::Person::of(form.user)),
        "password_error": form.password_error.map(PasswordRejection::to_page_value),
        "message_key": form.message_key,
        "notice_key": null,
    });
    pages::render(state, locale, status, "change_password", &data)
}

/// `GET /account/password`.
pub async fn show(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let (_, user) = match signed_in(&state, &headers).await {
        Ok(Some(found)) => found,
        Ok(None) => return sign_in_first(&state, &headers, PASSWORD_PATH, None),
        Err(error) => return server_error(&state, &headers, error),
    };
    let federated = match federated_connector(&state, &user).await {
        Ok(federated) => federated,
        Err(error) => return server_error(&state, &headers, error),
    };
    let (csrf, set_csrf) = csrf::token(&headers, session::secure_cookies(&state));
    let form = ChangeForm { user: &user, federated: federated.as_deref(), csrf: &csrf, message_key: None, password_error: None };
    with_cookies(page(&state, pages::locale(&state, &headers, None), StatusCode::OK, form), set_csrf)
}

/// `POST /account/password`.
pub async fn change(State(state): State<AppState>, ip: ClientIp, headers: HeaderMap, RawForm(body): RawForm) -> Response {
    let fields = form(&body);
    let Some(csrf) = fields.get(csrf::CSRF_FIELD).filter(|t| csrf::verify(&headers, Some(t.as_str()))) else {
        return csrf_refused(&state, &headers);
    };
    let (current_session, user) = match signed_in(&state, &headers).await {
        Ok(Some(found)) => found,
        Ok(None) => return sign_in_first(&state, &headers, PASSWORD_PATH, None),
        Err(error) => return server_error(&state, &headers, error),
    };
    let locale = pages::locale(&state, &headers, None);
    let federated = match federated_connector(&state, &user).await {
        Ok(federated) => federated,
        Err(error) => return server_error(&state, &headers, error),
    };
    let retry = |status: StatusCode, message_key: Option<&'static str>, password_error: Option<&PasswordRejection>| {
        let form = ChangeForm { user: &user, federated: federated.as_deref(), csrf, message_key, password_error };
        page(&state, locale, status, form)
    };
    // The throttle refuses with `sign_in.too_many_attempts`, or cannot be asked (a server error).
    let throttled = |message_key: &'static str| {
        let status = match message_key {
            TOO_MANY_ATTEMPTS => StatusCode::TOO_MANY_REQUESTS,
            UNAVAILABLE => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        retry(status, Some(message_key), None)
    };
    if federated.is_some() {
        return retry(StatusCode::FORBIDDEN, None, None);
    }
    let field = |name: &str| fields.get(name).cloned().unwrap_or_default();
    let audit = |kind: &str, detail: serde_json::Value| AuditEvent {
        kind: kind.into(),
        user_id: Some(user.id.clone()),
        client_id: None,
        ip: None,
        detail,
    };
    let attempt = match SignInAttempt::begin(&state, ip, user_id(&user), Some(&user)).await {
        Ok(attempt) => attempt,
        Err(message_key) => return throttled(message_key),
    };
    let Ok(matched) = state.passwords.verify(field("current_password"), user.password_hash.clone()).await else {
        state.metrics.inc(crate::accounts::throttle::RATE_LIMITED, &[("limit", "password_hashing")]);
        return crate::authorize::interaction::busy(&state, &headers);
    };
    let counted = attempt.finish(&state, matched).await;
    if !matched {
        let _ = state.store.audit().record(audit("password.change_failed", json!({ "reason": "current_incorrect" }))).await;
        return retry(StatusCode::BAD_REQUEST, Some(CURRENT_INCORRECT), None);
    }
    if let Err(message_key) = counted {
        // The right password for a locked account: refused like a sign-in.
        return throttled(message_key);
    }
    let new_password = field("password");
    if let Err(rejection) = state.password_policy.check_new(&new_password, &field("password_confirm"), &crate::password_policy::Person::of(&user)) {
        return retry(StatusCode::BAD_REQUEST, None, Some(&rejection));
    }
    let Some(hash) = state.passwords.hash(new_password).await else {
        return server_error(&state, &headers, "the new password could not be hashed");
    };
    let at = now();
    let changed = async {
        state.store.users().set_password_hash(&user.id, Some(hash)).await?;
        let ended = crate::logout::ended::end_user_sessions(&state, &user.id, Some(&current_session.id)).await?;
        let revoked = state.store.grants().revoke_user_grants(&user.id, None, at).await?;
        Ok::<_, poort_storage::StorageError>((ended, revoked.len()))
    };
    let (sessions_ended, grants_revoked) = match changed.await {
        Ok(counts) => counts,
        Err(error) => return server_error(&state, &headers, error),
    };
    let detail = json!({ "sessions_ended": sessions_ended, "grants_revoked": grants_revoked });
    let _ = state.store.audit().record(audit("password.changed", detail)).await;
    account_page(&state, locale, &user, &current_session.id, csrf, Some(CHANGED)).await
}
