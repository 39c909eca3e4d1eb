//! The sign-in page with connectors: identifier first. When any connector exists, `/login`
//! asks only for the user ID; its domain then decides ([`super::routing`]): an upstream-only
//! domain goes straight upstream with `login_hint`; a directory domain, a password domain or a
//! bare user name gets the password step (for a domain that allows both, with a button to sign
//! in upstream instead). A client that names a connector, or an `idp_hint` naming one, skips
//! the question. Without connectors the page is the classic one (user ID and password).
//!
//! The password step of a directory user checks the password against the directory
//! ([`directory`]) under the same throttle as a password here.

use super::flow::{self, Resume, Start};
use super::routing::{self, Route};
use super::{callback, connectors, pages};
use crate::accounts::throttle::{ClientIp, SignInAttempt};
use crate::authorize::pages::{LoginForm, LoginStep, login};
use crate::authorize::ticket::Ticket;
use crate::oauth::Client;
use crate::state::AppState;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use poort_config::ConnectorKind;
use poort_federation::Connector;
use poort_federation::ldap::{self, Outcome};
use poort_storage::StorageError;
use poort_storage::repo::{AuditEvent, UserRecord};
use poort_themes::Locale;

/// The authorization parameter by which a relying party names the connector to use.
pub const HINT_PARAMETER: &str = "idp_hint";

/// A sign-in page to show, as far as federation decides it.
pub struct PageContext<'a> {
    pub state: &'a AppState,
    pub headers: &'a HeaderMap,
    pub ip: ClientIp,
    pub locale: Locale,
    pub sealed: &'a str,
    pub ticket: &'a Ticket,
    pub client: &'a Client,
    pub csrf: &'a str,
}

impl PageContext<'_> {
    fn form<'b>(&'b self, step: LoginStep, username: &'b str, sso: Option<&'b Connector>, forgot: Option<&'b str>) -> LoginForm<'b> {
        LoginForm {
            client: self.client,
            ticket: self.sealed,
            csrf: self.csrf,
            username,
            message_key: None,
            forgot_password_uri: forgot,
            step,
            sso: sso.map(|c| (c.id(), c.settings.display_name())),
        }
    }

    fn upstream<'c>(&'c self, connector: &'c Connector, login_hint: Option<&'c str>) -> Start<'c> {
        let prompt = self.ticket.params.get("prompt").map(String::as_str).unwrap_or("");
        let max_age_zero = self.ticket.params.get("max_age").is_some_and(|m| m == "0");
        Start {
            connector,
            resume: Resume::Ticket(self.sealed.to_string()),
            login_hint,
            force_login: prompt.split(' ').any(|p| p == "login") || max_age_zero,
            ui_locales: self.ticket.params.get("ui_locales").map(String::as_str),
            retry_uri: Some(format!("/login?ticket={}&other=1", self.sealed)),
        }
    }
}

/// `GET /login` with connectors configured: straight upstream when the client, an `idp_hint`
/// or the `login_hint`'s domain says so; otherwise the identifier step (or the password step
/// for a `login_hint`). `None` when no connector exists (the classic page).
pub async fn page(context: &PageContext<'_>, ignore_hints: bool) -> Result<Option<Response>, StorageError> {
    let state = context.state;
    if !state.store.connectors().any().await? {
        return Ok(None);
    }
    let named = context
        .client
        .metadata
        .connector
        .clone()
        .or_else(|| if ignore_hints { None } else { context.ticket.params.get(HINT_PARAMETER).cloned() });
    if let Some(id) = named
        && let Some(connector) = connectors::load(&state.store, &state.hash_key, &id).await?
        && connector.kind().is_openid()
    {
        let hint = context.ticket.params.get("login_hint").map(String::as_str);
        return Ok(Some(flow::start(state, context.headers, context.ip, context.locale, context.upstream(&connector, hint)).await));
    }
    match context.ticket.params.get("login_hint").filter(|h| !h.trim().is_empty() && !ignore_hints) {
        Some(hint) => identified(context, hint.trim()).await.map(Some),
        None => Ok(Some(login(state, context.locale, context.form(LoginStep::Identify, "", None, None)))),
    }
}

/// The identifier step's answer: upstream, or the password step.
pub async fn identified(context: &PageContext<'_>, identifier: &str) -> Result<Response, StorageError> {
    let state = context.state;
    if identifier.is_empty() {
        let mut form = context.form(LoginStep::Identify, "", None, None);
        form.message_key = Some(crate::authorize::interaction::WRONG_CREDENTIALS);
        return Ok(login(state, context.locale, form));
    }
    let forgot = crate::accounts::forgot_password_uri(state, context.sealed);
    Ok(match routing::route(&state.store, &state.hash_key, identifier).await? {
        Route::Upstream { connector, password_too: false } => {
            flow::start(state, context.headers, context.ip, context.locale, context.upstream(&connector, Some(identifier))).await
        }
        Route::Upstream { connector, password_too: true } => {
            login(state, context.locale, context.form(LoginStep::Password, identifier, Some(&connector), forgot.as_deref()))
        }
        // A directory password is changed (and forgotten) in the directory, not here; a bare
        // user name is taken for a directory user name when a directory accepts them.
        Route::Directory(_) => login(state, context.locale, context.form(LoginStep::Password, identifier, None, None)),
        Route::Password if poort_federation::realm::domain_of(identifier).is_none() && directory_takes_user_names(state).await? => {
            login(state, context.locale, context.form(LoginStep::Password, identifier, None, None))
        }
        Route::Password => login(state, context.locale, context.form(LoginStep::Password, identifier, None, forgot.as_deref())),
    })
}

/// How a password typed on the page is checked.
pub enum PasswordCheck {
    /// Against the account's Argon2id hash here.
    Local,
    /// Against a directory.
    Directory(Box<Connector>),
    /// Not at all: the domain signs in upstream only.
    NotHere(Box<Connector>),
}

/// How to check the password typed for `username` (the account it names, if any, is `user`).
pub async fn password_check(state: &AppState, username: &str, user: Option<&UserRecord>) -> Result<PasswordCheck, StorageError> {
    match routing::route(&state.store, &state.hash_key, username).await? {
        Route::Upstream { connector, password_too: false } => return Ok(PasswordCheck::NotHere(connector)),
        Route::Directory(connector) => return Ok(PasswordCheck::Directory(connector)),
        Route::Upstream { .. } | Route::Password => {}
    }
    if let Some(user) = user {
        // An account linked to a directory signs in there, by whichever name was typed.
        if user.auth_method != crate::accounts::PASSWORD_METHOD
            && let Some(connector) = connectors::load(&state.store, &state.hash_key, &user.auth_method).await?
            && connector.kind() == ConnectorKind::Ldap
        {
            return Ok(PasswordCheck::Directory(Box::new(connector)));
        }
        return Ok(PasswordCheck::Local);
    }
    if poort_federation::realm::domain_of(username).is_none()
        && let Some(connector) = user_name_directory(state).await?
    {
        // A bare user name nobody here has: the first directory that takes user names.
        return Ok(PasswordCheck::Directory(Box::new(connector)));
    }
    Ok(PasswordCheck::Local)
}

/// The first directory (by id) that takes bare user names.
async fn user_name_directory(state: &AppState) -> Result<Option<Connector>, StorageError> {
    let all = connectors::list(&state.store, &state.hash_key).await?;
    Ok(all.into_iter().find(|c| c.kind() == ConnectorKind::Ldap && c.settings.user_names))
}

async fn directory_takes_user_names(state: &AppState) -> Result<bool, StorageError> {
    Ok(user_name_directory(state).await?.is_some())
}

/// Signs in with a directory password. `Err` is the `sign_in.*` message for the page (a wrong
/// password is the same "user ID or password is incorrect" as here, under the same throttle).
pub async fn directory(
    context: &PageContext<'_>,
    connector: &Connector,
    username: &str,
    password: &str,
    user: Option<&UserRecord>,
) -> Result<Response, (&'static str, StatusCode)> {
    let state = context.state;
    let attempt = SignInAttempt::begin(state, context.ip, username, user).await.map_err(|key| (key, StatusCode::UNAUTHORIZED))?;
    let audit = |kind: &str, detail: serde_json::Value| AuditEvent {
        kind: kind.into(),
        user_id: user.map(|u| u.id.clone()),
        client_id: context.ticket.return_to.is_none().then(|| context.client.id.clone()),
        ip: context.ip.0.map(|ip| ip.to_string()),
        detail,
    };
    match ldap::sign_in(connector, username, password).await {
        Ok(Outcome::Authenticated(identity)) => {
            attempt.finish(state, true).await.map_err(|key| (key, StatusCode::UNAUTHORIZED))?;
            Ok(callback::sign_in(state, context.headers, context.ip, context.locale, connector, &identity, context.ticket.clone()).await)
        }
        Ok(Outcome::WrongCredentials(why)) => {
            let counted = attempt.finish(state, false).await;
            let _ = state.store.audit().record(audit("login.failed", serde_json::json!({ "connector": connector.id(), "why": why }))).await;
            Err((counted.err().unwrap_or(crate::authorize::interaction::WRONG_CREDENTIALS), StatusCode::UNAUTHORIZED))
        }
        Err(failure) => {
            tracing::error!(connector = connector.id(), detail = %failure.detail, "the directory could not check a sign-in");
            let detail = serde_json::json!({ "connector": connector.id(), "reason": failure.reason.as_str(), "detail": failure.detail });
            let _ = state.store.audit().record(audit("federation.failed", detail)).await;
            Err((DIRECTORY_UNAVAILABLE, StatusCode::SERVICE_UNAVAILABLE))
        }
    }
}

/// Shown when the directory cannot be asked.
pub const DIRECTORY_UNAVAILABLE: &str = "sign_in.directory_unavailable";

/// The failure page for a start that cannot happen (an unknown connector in a button).
pub async fn unknown_connector(state: &AppState, ip: ClientIp, locale: Locale, id: &str) -> Response {
    let failure = poort_federation::Failure::new(poort_federation::Reason::Unavailable, format!("no connector {id}"));
    pages::failure(state, ip, locale, pages::Failed::upstream(None, failure)).await
}
