//! `/admin/users…`: list, invite (the account starts invited and gets its activation mail, as
//! with `poort user add`), show (the JSON of `poort user show --json`, with why the person can or
//! cannot sign in), disable, enable, replace the roles, resend the activation mail. `{user}` is an
//! id, an e-mail address or a user name.

use super::auth::Admin;
use super::error::AdminError;
use super::json;
use crate::accounts::activation::{self, Invitation, InviteError, ResendError};
use crate::accounts::links::{LinkError, LinkMailer};
use crate::accounts::overview;
use crate::state::AppState;
use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use poort_storage::repo::{AuditEvent, UserRecord, UserStatus};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The page size when none is asked for, and the largest one served.
const DEFAULT_LIMIT: u64 = 100;
const MAX_LIMIT: u64 = 1000;

#[derive(Debug, Deserialize)]
pub struct Page {
    pub(super) offset: Option<u64>,
    pub(super) limit: Option<u64>,
}

impl Page {
    /// The offset and the limit asked for (checked to be 1 to `MAX_LIMIT`).
    pub(super) fn bounds(&self) -> Result<(u64, u64), AdminError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(AdminError::bad_request(format!("limit must be between 1 and {MAX_LIMIT}")));
        }
        Ok((self.offset.unwrap_or(0), limit))
    }
}

/// `GET /admin/users?offset=&limit=`: a JSON array, as `poort user list --json` prints.
pub async fn list(
    _admin: Admin,
    State(state): State<AppState>,
    page: Result<Query<Page>, QueryRejection>,
) -> Result<Response, AdminError> {
    let Query(page) = page?;
    let (offset, limit) = page.bounds()?;
    let users = state.store.users().list(offset, limit).await?;
    Ok(json(StatusCode::OK, Value::Array(users.iter().map(overview::describe).collect())))
}

/// Someone to invite.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    email: String,
    /// A directory user name they can sign in with besides the e-mail address.
    username: Option<String>,
    /// Display name (also the `name` claim).
    name: Option<String>,
    /// More OpenID Connect claims.
    #[serde(default)]
    claims: Map<String, Value>,
    #[serde(default)]
    email_verified: bool,
    #[serde(default)]
    roles: Vec<String>,
    /// The client that invites them: named in the mail, and where they land once activated.
    client: Option<String>,
}

/// `POST /admin/users`: invites someone. 201 with the account and whether the mail went out
/// (the account exists either way; `resend-activation` tries again).
pub async fn invite(
    admin: Admin,
    State(state): State<AppState>,
    body: Result<Json<NewUser>, JsonRejection>,
) -> Result<Response, AdminError> {
    let Json(new) = body?;
    let username = optional_text("username", new.username)?;
    let name = optional_text("name", new.name)?;
    let roles = role_names(new.roles)?;
    let mut claims = new.claims;
    if let Some(name) = &name {
        claims.insert("name".into(), json!(name));
    }
    let invitation = Invitation {
        email: new.email,
        username,
        display_name: name,
        email_verified: new.email_verified,
        claims: Value::Object(claims),
        roles: roles.clone(),
        client_id: new.client.clone(),
    };
    let invited = activation::invite(&LinkMailer::of(&state), invitation).await.map_err(|error| match error {
        InviteError::InvalidEmail(_) | InviteError::UnknownClient(_) => AdminError::bad_request(error.to_string()),
        InviteError::Storage(error) => error.into(),
    })?;
    let user = &invited.user;
    let mail = match &invited.mail {
        Ok(_) => json!({ "sent": true }),
        Err(error) => {
            tracing::warn!(%error, user = %user.id, "the activation mail of an invited account was not sent");
            json!({ "sent": false, "error": error.to_string() })
        }
    };
    let detail = json!({ "inviting_client": new.client, "roles": roles, "mail_sent": invited.mail.is_ok() });
    audit(&state, &admin, "admin.user_invited", user, detail).await;
    let mut shown = overview::show(&state.store, user).await?;
    shown["activation_mail"] = mail;
    Ok(json(StatusCode::CREATED, shown))
}

/// `GET /admin/users/{user}`.
pub async fn show(
    _admin: Admin,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Response, AdminError> {
    let user = find(&state, &key).await?;
    Ok(json(StatusCode::OK, overview::show(&state.store, &user).await?))
}

/// `POST /admin/users/{user}/disable`: they can no longer sign in; their sessions end and their
/// grants are revoked.
pub async fn disable(
    admin: Admin,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Response, AdminError> {
    let user = find(&state, &key).await?;
    set_status(&state, &admin, user, UserStatus::Disabled, "admin.user_disabled").await
}

/// `POST /admin/users/{user}/enable`: a disabled account signs in again; 409 for an account that
/// was never activated.
pub async fn enable(
    admin: Admin,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Response, AdminError> {
    let user = find(&state, &key).await?;
    if user.status == UserStatus::Invited {
        return Err(AdminError::Conflict(format!("{} has not activated their account yet", user.email)));
    }
    set_status(&state, &admin, user, UserStatus::Active, "admin.user_enabled").await
}

async fn set_status(
    state: &AppState,
    admin: &Admin,
    user: UserRecord,
    status: UserStatus,
    kind: &str,
) -> Result<Response, AdminError> {
    if user.status != status {
        state.store.users().set_status(&user.id, status).await?;
        let mut detail = json!({ "previous": user.status.as_str() });
        if status == UserStatus::Disabled {
            // A disabled account is out at once, not when its sessions and tokens expire.
            let ended = crate::logout::ended::end_user_sessions(state, &user.id, None).await?;
            let revoked = state.store.grants().revoke_user_grants(&user.id, None, poort_storage::now()).await?;
            detail["sessions_ended"] = json!(ended);
            detail["grants_revoked"] = json!(revoked.len());
        }
        audit(state, admin, kind, &user, detail).await;
    }
    shown(state, &user.id).await
}

/// The new roles of `PUT /admin/users/{user}/roles`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roles {
    roles: Vec<String>,
}

/// `PUT /admin/users/{user}/roles`: replaces every role the user holds (`[]` clears them).
pub async fn set_roles(
    admin: Admin,
    State(state): State<AppState>,
    Path(key): Path<String>,
    body: Result<Json<Roles>, JsonRejection>,
) -> Result<Response, AdminError> {
    let user = find(&state, &key).await?;
    let Json(Roles { roles }) = body?;
    let roles = role_names(roles)?;
    if !state.store.users().set_roles(&user.id, &roles).await? {
        return Err(no_user(&key));
    }
    audit(&state, &admin, "admin.user_roles_set", &user, json!({ "roles": roles, "previous": user.roles })).await;
    shown(&state, &user.id).await
}

/// The new password of `PUT /admin/users/{user}/password`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPassword {
    password: String,
}

/// `PUT /admin/users/{user}/password`: sets a password user's password (the full policy applies;
/// an invited account becomes active). Every session of the user ends and their grants are
/// revoked, as after a reset: whoever knew the old password is out.
pub async fn set_password(
    admin: Admin,
    State(state): State<AppState>,
    Path(key): Path<String>,
    body: Result<Json<NewPassword>, JsonRejection>,
) -> Result<Response, AdminError> {
    let user = find(&state, &key).await?;
    let Json(NewPassword { password }) = body?;
    if user.auth_method != crate::accounts::PASSWORD_METHOD {
        return Err(AdminError::Conflict(format!("{} signs in through {}, not with a password", user.email, user.auth_method)));
    }
    if let Err(rejection) = state.password_policy.check(&password, &crate::password_policy::Person::of(&user)) {
        return Err(AdminError::bad_request(format!("the password is refused: {}", rejection.key())));
    }
    let hash = state
        .passwords
        .hash(password)
        .await
        .ok_or_else(|| AdminError::Server(crate::oauth::OAuthError::server_error("password hashing failed")))?;
    let at = poort_storage::now();
    state.store.users().set_password_hash(&user.id, Some(hash)).await?;
    if user.status == UserStatus::Invited {
        state.store.users().set_status(&user.id, UserStatus::Active).await?;
    }
    let ended = crate::logout::ended::end_user_sessions(&state, &user.id, None).await?;
    let revoked = state.store.grants().revoke_user_grants(&user.id, None, at).await?;
    audit(&state, &admin, "admin.password_set", &user, json!({ "sessions_ended": ended, "grants_revoked": revoked.len() }))
        .await;
    shown(&state, &user.id).await
}

/// `POST /admin/users/{user}/resend-activation`: a new activation link for an invited account
/// (409 for any other); older links stop working.
pub async fn resend_activation(
    admin: Admin,
    State(state): State<AppState>,
    Path(key): Path<String>,
) -> Result<Response, AdminError> {
    let user = find(&state, &key).await?;
    activation::resend(&LinkMailer::of(&state), &user).await.map_err(|error| match error {
        ResendError::NotInvited(..) | ResendError::Federated(..) => AdminError::Conflict(error.to_string()),
        ResendError::Link(LinkError::Storage(error)) => error.into(),
        ResendError::Link(error) => AdminError::server(error),
    })?;
    audit(&state, &admin, "admin.activation_resent", &user, json!({})).await;
    let mut shown = overview::show(&state.store, &user).await?;
    shown["activation_mail"] = json!({ "sent": true });
    Ok(json(StatusCode::OK, shown))
}

pub(super) async fn find(state: &AppState, key: &str) -> Result<UserRecord, AdminError> {
    overview::find(&state.store, key).await?.ok_or_else(|| no_user(key))
}

fn no_user(key: &str) -> AdminError {
    AdminError::NotFound(format!("no user `{key}`"))
}

/// The account as it is now.
async fn shown(state: &AppState, id: &str) -> Result<Response, AdminError> {
    let user = find(state, id).await?;
    Ok(json(StatusCode::OK, overview::show(&state.store, &user).await?))
}

/// A text member that, when present, must say something.
fn optional_text(member: &str, value: Option<String>) -> Result<Option<String>, AdminError> {
    match value.map(|v| v.trim().to_string()) {
        Some(v) if v.is_empty() => Err(AdminError::bad_request(format!("{member} must not be empty"))),
        other => Ok(other),
    }
}

/// Role names as given, each non-empty.
fn role_names(roles: Vec<String>) -> Result<Vec<String>, AdminError> {
    if roles.iter().any(|r| r.trim().is_empty()) {
        return Err(AdminError::bad_request("a role name must not be empty"));
    }
    Ok(roles)
}

pub(super) async fn audit(state: &AppState, admin: &Admin, kind: &str, user: &UserRecord, detail: Value) {
    let event = AuditEvent {
        kind: kind.into(),
        user_id: Some(user.id.clone()),
        client_id: Some(admin.client_id.clone()),
        ip: None,
        detail,
    };
    if let Err(error) = state.store.audit().record(event).await {
        tracing::warn!(%error, kind, "an admin audit event was not recorded");
    }
}
