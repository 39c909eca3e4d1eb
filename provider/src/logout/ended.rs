//! What follows the end of a session, whichever way it ended — signing out, a new sign-in by
//! someone else in the same browser, a password change or reset, an administrator ending it:
//!
//! - the grants made through it are revoked with their tokens (those with `offline_access`
//!   survive unless `logout.revoke_offline_access`), so no refresh token outlives it;
//! - every client it signed in to that registered a `backchannel_logout_uri` gets a logout
//!   token, queued in the database ([`super::backchannel`] delivers it from whichever node).
//!
//! The front channel is the browser's: the "signed out" page loads the clients' front-channel
//! logout URIs ([`super::frontchannel`]).

use crate::oauth::Client;
use crate::state::AppState;
use poort_config::Settings;
use poort_storage::repo::{NewLogoutDelivery, SessionRecord};
use poort_storage::{StorageError, Store, now};

/// Revokes the grants of `user_id`'s ended sessions and queues their back-channel logout
/// tokens. Needs no running server: the CLI calls it too, and a server's worker delivers.
/// Returns how many deliveries were queued.
pub async fn follow_up(store: &Store, settings: &Settings, user_id: &str, session_ids: &[String]) -> Result<u64, StorageError> {
    let at = now();
    let keep = (!settings.logout.revoke_offline_access).then_some("offline_access");
    let mut deliveries = Vec::new();
    for session_id in session_ids {
        store.grants().revoke_session_grants(session_id, keep, at).await?;
        for client_id in store.sessions().clients_of(session_id).await? {
            let Some(record) = store.clients().get(&client_id).await? else { continue };
            let client = match Client::from_record(record) {
                Ok(client) => client,
                Err(error) => {
                    tracing::warn!(client_id, error = %error.description, "no back-channel logout for a client with unreadable metadata");
                    continue;
                }
            };
            if let Some(uri) = client.metadata.backchannel_logout_uri.clone() {
                deliveries.push(NewLogoutDelivery {
                    session_id: session_id.clone(),
                    client_id,
                    user_id: user_id.to_string(),
                    uri,
                });
            }
        }
    }
    store.logout_deliveries().enqueue(deliveries).await
}

/// [`follow_up`] for sessions a request ended; this node's delivery worker starts at once.
pub async fn sessions_ended(state: &AppState, user_id: &str, session_ids: &[String]) -> Result<(), StorageError> {
    if session_ids.is_empty() {
        return Ok(());
    }
    if follow_up(&state.store, &state.settings, user_id, session_ids).await? > 0 {
        state.backchannel.notify_one();
    }
    Ok(())
}

/// Ends one session and follows up. False when it had ended already.
pub async fn end_session(state: &AppState, session: &SessionRecord) -> Result<bool, StorageError> {
    let ended = state.store.sessions().end(&session.id, now()).await?;
    if ended {
        sessions_ended(state, &session.user_id, std::slice::from_ref(&session.id)).await?;
    }
    Ok(ended)
}

/// Ends every session of a user but `except` (the caller's own) and follows up. Returns how
/// many ended.
pub async fn end_user_sessions(state: &AppState, user_id: &str, except: Option<&str>) -> Result<usize, StorageError> {
    let ended = state.store.sessions().end_all_for_user(user_id, now(), except).await?;
    sessions_ended(state, user_id, &ended).await?;
    Ok(ended.len())
}

/// What the CLI does when it signs a user out everywhere (a disabled account, a password an
/// administrator set): every session ends and every grant is revoked; a running server delivers
/// the queued back-channel logouts within `logout.backchannel_poll_interval`. Returns the
/// numbers of sessions ended and grants revoked.
pub async fn sign_out_everywhere(store: &Store, settings: &Settings, user_id: &str) -> Result<(usize, usize), StorageError> {
    let at = now();
    let ended = store.sessions().end_all_for_user(user_id, at, None).await?;
    follow_up(store, settings, user_id, &ended).await?;
    let revoked = store.grants().revoke_user_grants(user_id, None, at).await?;
    Ok((ended.len(), revoked.len()))
}
