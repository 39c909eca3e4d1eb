//! What activation and reset share: reading the token of a link without spending it, and setting
//! the password a person chose through one — policy first (a refusal leaves the link usable),
//! then the token is spent atomically, then the new Argon2id hash is stored.

use super::links::token_hash;
use super::{PASSWORD_METHOD, person};
use crate::password_policy::PasswordRejection;
use crate::state::AppState;
use poort_storage::repo::{OneTimePurpose, OneTimeTokenRecord, RedeemOutcome, UserRecord, UserStatus};
use poort_storage::{StorageError, now};

/// What a link's token stands for now.
pub(super) enum LinkState {
    /// Usable: the token and the account it is for.
    Valid(OneTimeTokenRecord, Box<UserRecord>),
    /// Spent, or replaced by a newer link; the token still names its account.
    Used(OneTimeTokenRecord),
    Expired(OneTimeTokenRecord),
    /// Not one of ours, or its account can no longer use it.
    Invalid,
}

/// Whether `user` may use a link of `purpose`: activation is for invited accounts, reset for
/// active ones — both only for accounts that sign in with a password (federated users are never
/// offered one).
fn eligible(purpose: OneTimePurpose, user: &UserRecord) -> bool {
    let status = match purpose {
        OneTimePurpose::Activation => UserStatus::Invited,
        OneTimePurpose::Reset => UserStatus::Active,
    };
    user.status == status && user.auth_method == PASSWORD_METHOD
}

/// Looks up the token of a link of `purpose`, without spending it.
pub(super) async fn look_up(state: &AppState, purpose: OneTimePurpose, token: &str) -> Result<LinkState, StorageError> {
    let Some(hash) = token_hash(&state.hash_key, token) else { return Ok(LinkState::Invalid) };
    let Some(record) = state.store.one_time_tokens().find(&hash, purpose).await? else { return Ok(LinkState::Invalid) };
    let Some(user) = state.store.users().get(&record.user_id).await? else { return Ok(LinkState::Invalid) };
    if !eligible(purpose, &user) {
        // An activated account's link was used, whoever used it; any other change voids it.
        let activated = purpose == OneTimePurpose::Activation && user.status == UserStatus::Active;
        return Ok(if activated { LinkState::Used(record) } else { LinkState::Invalid });
    }
    Ok(if record.used_at.is_some() && purpose == OneTimePurpose::Activation {
        // Still waiting for activation, so the link was not used but replaced by a newer one.
        LinkState::Expired(record)
    } else if record.used_at.is_some() {
        LinkState::Used(record)
    } else if record.expires_at <= now() {
        LinkState::Expired(record)
    } else {
        LinkState::Valid(record, Box::new(user))
    })
}

/// What became of a chosen password.
pub(super) enum Outcome {
    /// Refused by the policy; the link stays usable.
    Refused(PasswordRejection, UserRecord),
    /// The link cannot be used (any more).
    Unusable(LinkState),
    /// The password is set and the link spent.
    Set(OneTimeTokenRecord, UserRecord),
}

/// Checks `password` (and its confirmation) against the policy for the link's account, then
/// spends the token and stores the new password hash.
pub(super) async fn set_password(
    state: &AppState,
    purpose: OneTimePurpose,
    token: &str,
    password: String,
    confirmation: &str,
) -> Result<Outcome, SetError> {
    let (record, user) = match look_up(state, purpose, token).await? {
        LinkState::Valid(record, user) => (record, *user),
        other => return Ok(Outcome::Unusable(other)),
    };
    if let Err(rejection) = state.password_policy.check_new(&password, confirmation, &person(&user)) {
        return Ok(Outcome::Refused(rejection, user));
    }
    let hash = state.passwords.hash(password).await.ok_or(SetError::Hashing)?;
    match state.store.one_time_tokens().redeem(&record.token_hash, purpose, now()).await? {
        RedeemOutcome::Redeemed(spent) if spent.user_id == user.id => {
            state.store.users().set_password_hash(&user.id, Some(hash)).await?;
            Ok(Outcome::Set(spent, user))
        }
        RedeemOutcome::Redeemed(_) | RedeemOutcome::NotFound => Ok(Outcome::Unusable(LinkState::Invalid)),
        RedeemOutcome::Used => Ok(Outcome::Unusable(LinkState::Used(record))),
        RedeemOutcome::Expired => Ok(Outcome::Unusable(LinkState::Expired(record))),
    }
}

/// Why a password could not be set (a server-side fault, never the person's).
#[derive(Debug, thiserror::Error)]
pub(super) enum SetError {
    #[error("{0}")]
    Storage(#[from] StorageError),
    #[error("the new password could not be hashed")]
    Hashing,
}
