//! The background job that deletes expired rows (codes, tokens, grants, sessions, one-time
//! links) a little at a time, so the database returns to its size. Every node runs it; the
//! deletes are idempotent, so running twice costs only a query.

use poort_storage::{Store, StorageError, now};
use std::time::Duration;

/// How long delivered and failed back-channel logouts stay visible to administrators.
pub const FINISHED_DELIVERIES_KEPT_SECS: i64 = 7 * 24 * 3600;

/// Deletes what has expired; returns how many rows went.
pub async fn purge_once(store: &Store) -> Result<u64, StorageError> {
    let at = now();
    let mut removed = store.grants().purge_expired(at).await?;
    removed += store.sessions().purge_expired(at).await?;
    removed += store.one_time_tokens().purge_expired(at).await?;
    removed += store.replay_guard().purge_expired(at).await?;
    removed += store.throttle().purge_expired(at).await?;
    removed += store.logout_deliveries().purge_finished(at - FINISHED_DELIVERIES_KEPT_SECS).await?;
    removed += store.flows().purge_expired(at).await?;
    Ok(removed)
}

pub fn spawn(store: Store, every: Duration) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        loop {
            ticker.tick().await;
            match purge_once(&store).await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "purged expired rows"),
                Err(error) => tracing::warn!(%error, "purging expired rows failed; will retry"),
            }
        }
    })
}
