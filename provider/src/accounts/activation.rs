//! Activation by e-mail. [`invite`] creates an invited account and mails its "Activate now" link
//! (the CLI's `poort user add`, and the admin API, call it); [`resend`] replaces the link.
//!
//! `GET /activate?token=…` shows the page to choose a password (twice, with the strength meter);
//! `POST /activate` checks it against the policy — a refusal says why and leaves the link usable
//! — then spends the link, stores the password, makes the account active with a verified e-mail
//! address, and signs the person in ([`super::landing`]). An expired, used or unknown link shows
//! a page that offers a fresh one: `POST /activate/resend` gives the same answer whatever
//! happens, and mails a new link only when the old one (or the address typed) belongs to an
//! account still waiting for activation.

use super::links::{self, Link, LinkError, LinkMailer};
use super::new_password::{LinkState, Outcome, look_up, set_password};
use super::throttle::{self, ClientIp};
use super::{PASSWORD_METHOD, landing, mail_locale, page_locale, person};
use crate::federation::routing::Route;
use crate::authorize::interaction::{csrf_refused, form, server_error, with_cookies};
use crate::mail::Delivery;
use crate::oauth::Client;
use crate::password_policy::PasswordRejection;
use crate::session;
use crate::state::AppState;
use crate::web::{csrf, pages};
use axum::extract::{Query, RawForm, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use poort_storage::StorageError;
use poort_storage::repo::{AuditEvent, NewUser, OneTimePurpose, UserRecord, UserStatus};
use poort_themes::Locale;
use serde::Deserialize;
use serde_json::{Value, json};

pub const PATH: &str = "/activate";
pub const RESEND_PATH: &str = "/activate/resend";

/// Someone to invite.
#[derive(Debug, Clone, Default)]
pub struct Invitation {
    pub email: String,
    /// A directory user name they can sign in with besides the e-mail address.
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub email_verified: bool,
    /// More OpenID Connect claims, as a JSON object (`locale` also chooses the mail's language).
    pub claims: Value,
    pub roles: Vec<String>,
    /// The client that invites them: named in the mail, and where they land once activated.
    pub client_id: Option<String>,
}

/// An invited account, and how its activation mail fared (the account exists either way).
#[derive(Debug)]
pub struct Invited {
    pub user: UserRecord,
    pub mail: Result<Delivery, LinkError>,
}

#[derive(Debug, thiserror::Error)]
pub enum InviteError {
    #[error("`{0}` is not an e-mail address")]
    InvalidEmail(String),
    #[error("no client `{0}`")]
    UnknownClient(String),
    #[error("{0}")]
    Storage(#[from] StorageError),
}

#[derive(Debug, thiserror::Error)]
pub enum ResendError {
    #[error("{0} is not waiting for activation (the account is {1})")]
    NotInvited(String, &'static str),
    #[error("{0} signs in through {1}, not with a password: there is no activation link to send")]
    Federated(String, String),
    #[error("{0}")]
    Link(#[from] LinkError),
}

/// Creates an invited account for `invitation` and mails it an activation link.
pub async fn invite(mailer: &LinkMailer, invitation: Invitation) -> Result<Invited, InviteError> {
    let email = invitation.email.trim().to_string();
    if email.parse::<lettre::Address>().is_err() {
        return Err(InviteError::InvalidEmail(email));
    }
    if let Some(id) = &invitation.client_id {
        match Client::load(&mailer.store, id).await {
            Ok(Some(_)) => {}
            Ok(None) => return Err(InviteError::UnknownClient(id.clone())),
            Err(error) => return Err(InviteError::Storage(StorageError::Unavailable(error.to_string()))),
        }
    }
    let users = mailer.store.users();
    let claims = if invitation.claims.is_object() { invitation.claims } else { json!({}) };
    let created = users
        .create(NewUser {
            email,
            username: invitation.username,
            display_name: invitation.display_name,
            email_verified: invitation.email_verified,
            claims,
            status: UserStatus::Invited,
            auth_method: PASSWORD_METHOD.into(),
            password_hash: None,
        })
        .await?;
    if !invitation.roles.is_empty() {
        users.set_roles(&created.id, &invitation.roles).await?;
    }
    let user = users.get(&created.id).await?.unwrap_or(created);
    let _ = mailer.store.audit().record(audit("account.invited", &user, invitation.client_id.clone())).await;
    let locale = mail_locale(&user, mailer.theme.default_locale());
    let link = Link {
        purpose: OneTimePurpose::Activation,
        user: &user,
        client_id: invitation.client_id,
        return_to: None,
        locale,
    };
    let mail = links::send(mailer, link).await;
    Ok(Invited { user, mail })
}

/// Mails `user` a fresh activation link (for the client of their last one); older links stop
/// working.
pub async fn resend(mailer: &LinkMailer, user: &UserRecord) -> Result<Delivery, ResendError> {
    resend_in(mailer, user, mailer.theme.default_locale()).await
}

/// [`resend`], in `fallback` unless the account names its own language.
async fn resend_in(mailer: &LinkMailer, user: &UserRecord, fallback: Locale) -> Result<Delivery, ResendError> {
    if user.status != UserStatus::Invited {
        return Err(ResendError::NotInvited(user.email.clone(), user.status.as_str()));
    }
    if user.auth_method != PASSWORD_METHOD {
        return Err(ResendError::Federated(user.email.clone(), user.auth_method.clone()));
    }
    let latest = mailer.store.one_time_tokens().latest_for_user(&user.id, OneTimePurpose::Activation).await;
    let client_id = latest.map_err(LinkError::from)?.and_then(|t| t.client_id);
    let _ = mailer.store.audit().record(audit("account.activation_resent", user, client_id.clone())).await;
    let locale = mail_locale(user, fallback);
    let link = Link { purpose: OneTimePurpose::Activation, user, client_id, return_to: None, locale };
    Ok(links::send(mailer, link).await?)
}

fn audit(kind: &str, user: &UserRecord, client_id: Option<String>) -> AuditEvent {
    AuditEvent { kind: kind.into(), user_id: Some(user.id.clone()), client_id, ip: None, detail: json!({}) }
}

#[derive(Deserialize)]
pub struct LinkQuery {
    token: Option<String>,
    lang: Option<String>,
}

/// `GET /activate?token=…`: the page to choose a password (or, for a domain that signs in
/// upstream, to continue there), or why the link cannot be used.
pub async fn page(State(state): State<AppState>, headers: HeaderMap, Query(query): Query<LinkQuery>) -> Response {
    let locale = page_locale(&state, &headers, query.lang.as_deref());
    let token = query.token.unwrap_or_default();
    let (csrf, set_csrf) = csrf::token(&headers, session::secure_cookies(&state));
    let response = match look_up(&state, OneTimePurpose::Activation, &token).await {
        Ok(LinkState::Valid(_, user)) => match sign_in_route(&state, &user).await {
            Ok(route) => activate_page(&state, locale, &token, &csrf, &user, None, &route, None),
            Err(error) => server_error(&state, &headers, error),
        },
        Ok(unusable) => expired_page(&state, locale, ExpiredPage::of(&unusable, &token, &csrf)),
        Err(error) => server_error(&state, &headers, error),
    };
    with_cookies(response, set_csrf)
}

/// Activation by a directory sign-in: the directory checks the user name and password (under
/// the sign-in throttle), then the account is linked and activated as after an upstream
/// sign-in ([`crate::federation::activation::complete`]).
#[allow(clippy::too_many_arguments)]
async fn directory_activation(
    state: &AppState,
    headers: &HeaderMap,
    ip: ClientIp,
    locale: Locale,
    connector: &poort_federation::Connector,
    user: &UserRecord,
    token: &str,
    username: &str,
    password: &str,
) -> Response {
    let csrf = fields_csrf(headers);
    let retry = |message_key: &'static str, status: StatusCode| {
        let route = Route::Directory(Box::new(connector.clone()));
        let mut page = activate_page(state, locale, token, &csrf, user, None, &route, Some(message_key));
        *page.status_mut() = status;
        page
    };
    let attempt = match throttle::SignInAttempt::begin(state, ip, username, Some(user)).await {
        Ok(attempt) => attempt,
        Err(message_key) => return retry(message_key, StatusCode::TOO_MANY_REQUESTS),
    };
    match poort_federation::ldap::sign_in(connector, username, password).await {
        Ok(poort_federation::ldap::Outcome::Authenticated(identity)) => {
            if let Err(message_key) = attempt.finish(state, true).await {
                return retry(message_key, StatusCode::TOO_MANY_REQUESTS);
            }
            crate::federation::activation::complete(state, headers, ip, locale, connector, &identity, token).await
        }
        Ok(poort_federation::ldap::Outcome::WrongCredentials(_)) => {
            let counted = attempt.finish(state, false).await;
            retry(counted.err().unwrap_or("sign_in.invalid_credentials"), StatusCode::UNAUTHORIZED)
        }
        Err(failure) => {
            tracing::error!(connector = connector.id(), detail = %failure.detail, "the directory could not check an activation");
            retry(crate::federation::sign_in::DIRECTORY_UNAVAILABLE, StatusCode::SERVICE_UNAVAILABLE)
        }
    }
}

/// The browser's CSRF token (already verified by the caller), for a page shown again.
fn fields_csrf(headers: &HeaderMap) -> String {
    crate::web::cookies::get(headers, csrf::CSRF_COOKIE).unwrap_or_default().to_string()
}

/// How an invited person's domain signs in (home-realm discovery).
async fn sign_in_route(state: &AppState, user: &UserRecord) -> Result<Route, StorageError> {
    crate::federation::routing::route(&state.store, &state.hash_key, &user.email).await
}

/// The invited account an activation link stands for, while the link can still be used.
pub async fn usable_link(
    state: &AppState,
    token: &str,
) -> Result<Option<(poort_storage::repo::OneTimeTokenRecord, UserRecord)>, StorageError> {
    match look_up(state, OneTimePurpose::Activation, token).await? {
        LinkState::Valid(record, user) => Ok(Some((record, *user))),
        _ => Ok(None),
    }
}

/// `POST /activate`: the chosen password.
pub async fn submit(
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
    // A domain that signs in upstream only gets no password, whatever is posted.
    let route = match usable_link(&state, &token).await {
        Ok(Some((_, user))) => match sign_in_route(&state, &user).await {
            Ok(route) => Some((route, user)),
            Err(error) => return server_error(&state, &headers, error),
        },
        Ok(None) => None,
        Err(error) => return server_error(&state, &headers, error),
    };
    let route = match route {
        Some((Route::Directory(connector), user)) if field("directory") == "1" => {
            return directory_activation(&state, &headers, ip, locale, &connector, &user, &token, &field("username"), &field("password"))
                .await;
        }
        Some((route @ (Route::Upstream { password_too: false, .. } | Route::Directory(_)), user)) => {
            let mut page = activate_page(&state, locale, &token, csrf, &user, None, &route, None);
            *page.status_mut() = StatusCode::FORBIDDEN;
            return page;
        }
        Some((route, _)) => route,
        None => Route::Password,
    };
    let outcome =
        set_password(&state, OneTimePurpose::Activation, &token, field("password"), &field("password_confirm")).await;
    let (record, user) = match outcome {
        Ok(Outcome::Set(record, user)) => (record, user),
        Ok(Outcome::Refused(rejection, user)) => {
            return activate_page(&state, locale, &token, csrf, &user, Some(&rejection), &route, None);
        }
        Ok(Outcome::Unusable(unusable)) => {
            return expired_page(&state, locale, ExpiredPage::of(&unusable, &token, csrf));
        }
        Err(error) => return server_error(&state, &headers, error),
    };
    let activated = async {
        state.store.users().set_status(&user.id, UserStatus::Active).await?;
        state.store.users().set_email_verified(&user.id, true).await
    };
    if let Err(error) = activated.await {
        return server_error(&state, &headers, error);
    }
    let mut event = audit("account.activated", &user, record.client_id.clone());
    event.ip = ip.0.map(|ip| ip.to_string());
    let _ = state.store.audit().record(event).await;
    landing::sign_in_and_land(&state, &headers, ip, &user, record.client_id.as_deref(), record.return_to.as_deref()).await
}

/// `POST /activate/resend`: a fresh link for the account of an unusable one, or for the address
/// typed. The answer is the same whatever happens; the mail goes out after it.
pub async fn resend_submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    ip: ClientIp,
    RawForm(body): RawForm,
) -> Response {
    let fields = form(&body);
    let Some(csrf) = fields.get(csrf::CSRF_FIELD).filter(|t| csrf::verify(&headers, Some(t.as_str()))) else {
        return csrf_refused(&state, &headers);
    };
    let locale = page_locale(&state, &headers, None);
    let token = fields.get("token").map(|t| t.trim()).unwrap_or("");
    let typed = fields.get("email").map(|e| e.trim()).unwrap_or("");
    // The link, when it still names an account, decides whom; else the address typed.
    let state_of_link = if token.is_empty() {
        Ok(LinkState::Invalid)
    } else {
        look_up(&state, OneTimePurpose::Activation, token).await
    };
    let state_of_link = match state_of_link {
        Ok(found) => found,
        Err(error) => return server_error(&state, &headers, error),
    };
    let recipient = match &state_of_link {
        LinkState::Valid(record, _) | LinkState::Used(record) | LinkState::Expired(record) => {
            match state.store.users().get(&record.user_id).await {
                Ok(user) => user.map(|u| Recipient::Account(u.id, u.email)),
                Err(error) => return server_error(&state, &headers, error),
            }
        }
        LinkState::Invalid => (!typed.is_empty() && typed.len() <= 320).then(|| Recipient::Address(typed.to_string())),
    };
    let mut page = ExpiredPage::of(&state_of_link, token, csrf);
    if let Some(recipient) = recipient {
        match throttle::allow_mail_request(&state, ip, recipient.address()).await {
            Ok(true) => {
                let mailer = LinkMailer::of(&state);
                tokio::spawn(async move { resend_to(&mailer, recipient, locale, ip).await });
            }
            Ok(false) => {
                page.status = StatusCode::TOO_MANY_REQUESTS;
                page.message_key = Some("error.too_many_requests");
                return expired_page(&state, locale, page);
            }
            Err(error) => return server_error(&state, &headers, error),
        }
    }
    page.status = StatusCode::OK;
    page.sent = true;
    expired_page(&state, locale, page)
}

/// Whom a resend request names.
enum Recipient {
    Account(String, String),
    Address(String),
}

impl Recipient {
    fn address(&self) -> &str {
        match self {
            Recipient::Account(_, email) | Recipient::Address(email) => email,
        }
    }
}

/// Sends the fresh link, if the account is still waiting for activation (after the answer).
async fn resend_to(mailer: &LinkMailer, recipient: Recipient, page_locale: Locale, ip: ClientIp) {
    let users = mailer.store.users();
    let user = match &recipient {
        Recipient::Account(id, _) => users.get(id).await,
        Recipient::Address(email) => users.find_by_email(email).await,
    };
    let user = match user {
        Ok(user) => user,
        Err(error) => return tracing::warn!(%error, "a fresh activation link could not be looked up"),
    };
    let mut mailed = false;
    let waiting = |u: &&UserRecord| u.status == UserStatus::Invited && u.auth_method == PASSWORD_METHOD;
    if let Some(user) = user.as_ref().filter(waiting) {
        // The language the person used on the page, unless their account names one.
        match resend_in(mailer, user, page_locale).await {
            Ok(_) => mailed = true,
            Err(error) => tracing::warn!(%error, "a fresh activation link could not be sent"),
        }
    }
    let event = AuditEvent {
        kind: "account.activation_requested".into(),
        user_id: user.map(|u| u.id),
        client_id: None,
        ip: ip.0.map(|ip| ip.to_string()),
        detail: json!({ "mailed": mailed }),
    };
    let _ = mailer.store.audit().record(event).await;
}

#[allow(clippy::too_many_arguments)]
fn activate_page(
    state: &AppState,
    locale: Locale,
    token: &str,
    csrf: &str,
    user: &UserRecord,
    rejection: Option<&PasswordRejection>,
    route: &Route,
    message_key: Option<&str>,
) -> Response {
    // Upstream: a button to continue there (and the password form only when the domain allows
    // both). A directory domain activates by signing in with the directory password.
    let (sso, password_form, directory) = match route {
        Route::Upstream { connector, password_too } => {
            (Some(json!({ "connector": connector.id(), "name": connector.settings.display_name() })), *password_too, None)
        }
        Route::Directory(connector) => (None, false, Some(connector.settings.display_name().to_string())),
        Route::Password => (None, true, None),
    };
    let data = json!({
        "token": token,
        "csrf_token": csrf,
        "email": user.email,
        "sso": sso,
        "password_form": password_form,
        "directory": directory,
        "password_policy": state.password_policy.page_value(&person(user)),
        "password_error": rejection.map(PasswordRejection::to_page_value),
        "message_key": message_key,
        "notice_key": null,
    });
    let status = if rejection.is_some() { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    pages::render(state, locale, status, "activate", &data)
}

/// The page for a link that cannot be used, with the form for a fresh one.
struct ExpiredPage<'a> {
    status: StatusCode,
    reason_key: &'static str,
    /// The old link's token, when it still names an account.
    token: Option<&'a str>,
    csrf: &'a str,
    sent: bool,
    message_key: Option<&'static str>,
}

impl<'a> ExpiredPage<'a> {
    fn of(link: &LinkState, token: &'a str, csrf: &'a str) -> Self {
        let (status, reason_key, token) = match link {
            LinkState::Expired(_) => (StatusCode::GONE, "activation_expired.expired", Some(token)),
            LinkState::Used(_) => (StatusCode::GONE, "activation_expired.used", Some(token)),
            // A valid link only comes here from the resend form: treat it like an old one.
            LinkState::Valid(..) => (StatusCode::OK, "activation_expired.expired", Some(token)),
            LinkState::Invalid => (StatusCode::NOT_FOUND, "activation_expired.invalid", None),
        };
        ExpiredPage { status, reason_key, token, csrf, sent: false, message_key: None }
    }
}

fn expired_page(state: &AppState, locale: Locale, page: ExpiredPage<'_>) -> Response {
    let data = json!({
        "reason_key": page.reason_key,
        "token": page.token,
        "csrf_token": page.csrf,
        "ask_email": page.token.is_none(),
        "sent": page.sent,
        "message_key": page.message_key,
        "notice_key": null,
    });
    pages::render(state, locale, page.status, "activation_expired", &data)
}
