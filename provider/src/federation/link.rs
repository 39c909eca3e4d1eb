//! Which account an upstream identity signs in to, and linking it.
//!
//! An identity already linked signs in to its account. Otherwise it is linked only on the word
//! of a connector trusted with e-mail addresses: an upstream-verified address equal (ignoring
//! case) to an account's — the invited address when activating through the activation link.
//! An invited account linked this way becomes active with a verified address. An unknown
//! person gets an account only when the connector provisions just in time; otherwise they are
//! told their administrator has not added them. A refusal changes nothing.

use super::pages::Refusal;
use crate::accounts::PASSWORD_METHOD;
use crate::state::AppState;
use poort_federation::{Connector, UpstreamIdentity};
use poort_storage::repo::{NewUser, UserRecord, UserStatus};
use poort_storage::{StorageError, now};
use serde_json::Value;

/// The account `identity` signs in to, linking or creating it where the rules allow.
pub async fn account_for(
    state: &AppState,
    connector: &Connector,
    identity: &UpstreamIdentity,
) -> Result<Result<UserRecord, Refusal>, StorageError> {
    let users = state.store.users();
    if let Some(link) = state.store.federated_identities().find(&identity.connector, &identity.subject).await? {
        return Ok(match users.get(&link.user_id).await? {
            None => Err(Refusal::NotAdded),
            Some(user) if user.status == UserStatus::Disabled => Err(Refusal::AccountDisabled),
            Some(user) => Ok(adopt(state, connector, identity, user).await?),
        });
    }
    let email = match (&identity.email, identity.email_verified) {
        (Some(email), true) => email,
        (Some(_), false) => return Ok(Err(Refusal::EmailUnverified)),
        (None, _) => return Ok(Err(Refusal::NotAdded)),
    };
    match users.find_by_email(email).await? {
        Some(user) if user.status == UserStatus::Disabled => Ok(Err(Refusal::AccountDisabled)),
        Some(user) => link_and_adopt(state, connector, identity, user).await,
        None if connector.settings.jit_provisioning => {
            let created = users
                .create(NewUser {
                    email: email.clone(),
                    username: None,
                    display_name: identity.display_name.clone(),
                    email_verified: true,
                    claims: Value::Object(identity.claims.clone()),
                    status: UserStatus::Active,
                    auth_method: connector.id().to_string(),
                    password_hash: None,
                })
                .await?;
            let _ = state
                .store
                .audit()
                .record(poort_storage::repo::AuditEvent {
                    kind: "account.provisioned".into(),
                    user_id: Some(created.id.clone()),
                    client_id: None,
                    ip: None,
                    detail: serde_json::json!({ "connector": connector.id() }),
                })
                .await;
            link_and_adopt(state, connector, identity, created).await
        }
        None => Ok(Err(Refusal::NotAdded)),
    }
}

/// Whether `identity` may activate the invited account `invited`: the upstream verified the
/// invited address itself, and the identity belongs to nobody else.
pub async fn may_activate(state: &AppState, identity: &UpstreamIdentity, invited: &UserRecord) -> Result<Result<(), Refusal>, StorageError> {
    let same = identity.email.as_deref().is_some_and(|e| e.trim().eq_ignore_ascii_case(&invited.email));
    if !same {
        return Ok(Err(Refusal::EmailMismatch));
    }
    if !identity.email_verified {
        return Ok(Err(Refusal::EmailUnverified));
    }
    let link = state.store.federated_identities().find(&identity.connector, &identity.subject).await?;
    Ok(match link {
        Some(link) if link.user_id != invited.id => Err(Refusal::LinkedElsewhere),
        _ => Ok(()),
    })
}

/// Links `identity` to `user` and adopts the account (see [`adopt`]).
pub async fn link_and_adopt(
    state: &AppState,
    connector: &Connector,
    identity: &UpstreamIdentity,
    user: UserRecord,
) -> Result<Result<UserRecord, Refusal>, StorageError> {
    let email = identity.email.as_deref();
    match state.store.federated_identities().link(&identity.connector, &identity.subject, &user.id, email).await {
        Ok(_) => {}
        Err(StorageError::Conflict(_)) => return Ok(Err(Refusal::LinkedElsewhere)),
        Err(error) => return Err(error),
    }
    let _ = state
        .store
        .audit()
        .record(poort_storage::repo::AuditEvent {
            kind: "account.linked".into(),
            user_id: Some(user.id.clone()),
            client_id: None,
            ip: None,
            detail: serde_json::json!({ "connector": connector.id(), "subject": identity.subject }),
        })
        .await;
    Ok(Ok(adopt(state, connector, identity, user).await?))
}

/// Brings a linked account up to date after an upstream sign-in: an invited one becomes active
/// with a verified address; it signs in through this connector from now on (unless it keeps a
/// password its domain allows); roles the directory's groups decide are set; the sign-in time
/// is recorded.
async fn adopt(state: &AppState, connector: &Connector, identity: &UpstreamIdentity, user: UserRecord) -> Result<UserRecord, StorageError> {
    let users = state.store.users();
    if user.status == UserStatus::Invited {
        users.set_status(&user.id, UserStatus::Active).await?;
        users.set_email_verified(&user.id, true).await?;
    }
    let keeps_password = user.auth_method == PASSWORD_METHOD && user.password_hash.is_some() && connector.settings.allow_password;
    if user.auth_method != connector.id() && !keeps_password {
        users.set_auth_method(&user.id, connector.id()).await?;
    }
    if let Some(granted) = &identity.roles {
        let mut roles: Vec<String> =
            user.roles.iter().filter(|r| !identity.managed_roles.contains(r)).cloned().chain(granted.iter().cloned()).collect();
        roles.sort();
        roles.dedup();
        if roles != user.roles {
            users.set_roles(&user.id, &roles).await?;
        }
    }
    state.store.federated_identities().touch_login(&identity.connector, &identity.subject, now()).await?;
    Ok(users.get(&user.id).await?.unwrap_or(user))
}

/// The `amr` of a session started through `identity`: `fed`, then the upstream's own values.
pub fn amr(identity: &UpstreamIdentity) -> Vec<String> {
    let mut amr = vec![poort_federation::AMR_FEDERATED.to_string()];
    for value in &identity.amr {
        if !amr.contains(value) && value.len() <= 32 {
            amr.push(value.clone());
        }
    }
    amr
}
