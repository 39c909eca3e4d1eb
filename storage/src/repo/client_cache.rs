//! Clients read recently, kept for a moment so a busy endpoint does not read its client's row on
//! every request.
//!
//! A change made through this process's [`Store`](crate::Store) (dynamic registration, the admin
//! API) is seen at once: every write through [`Clients`](super::Clients) empties the cache. A
//! change made by another process (the CLI, another node) is seen within [`FRESH_FOR`]. Only
//! clients that exist are kept, so unknown client ids cannot fill the cache, and it never holds
//! more than [`MAX_ENTRIES`].

use super::ClientRecord;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a client read from the database is used without reading it again.
pub const FRESH_FOR: Duration = Duration::from_secs(1);
/// More clients than this and the cache starts afresh (a deployment has a few; dynamic
/// registration may make many).
pub const MAX_ENTRIES: usize = 4096;

#[derive(Debug, Default)]
pub struct ClientCache {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// Shared, not copied out: a record's metadata is a JSON tree, costly to clone on every
    /// request, and a caller may keep what it derives from a record for as long as the very
    /// same record is served (see [`Arc::ptr_eq`]).
    entries: HashMap<String, (Instant, Arc<ClientRecord>)>,
    /// Raised by every invalidation: a read that began before one must not store what it read.
    generation: u64,
}

impl ClientCache {
    /// The client, when it was read less than [`FRESH_FOR`] ago.
    pub fn get(&self, client_id: &str, now: Instant) -> Option<Arc<ClientRecord>> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        match inner.entries.get(client_id) {
            Some((read_at, record)) if now.duration_since(*read_at) < FRESH_FOR => Some(Arc::clone(record)),
            _ => None,
        }
    }

    /// The generation to pass to [`ClientCache::put`] after reading the database.
    pub fn generation(&self) -> u64 {
        self.inner.lock().unwrap_or_else(|e| e.into_inner()).generation
    }

    /// Keeps `record`, read at `read_at`, unless a write came in since `generation`.
    pub fn put(&self, record: &Arc<ClientRecord>, generation: u64, read_at: Instant) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.generation != generation {
            return;
        }
        if inner.entries.len() >= MAX_ENTRIES && !inner.entries.contains_key(&record.client_id) {
            inner.entries.clear();
        }
        inner.entries.insert(record.client_id.clone(), (read_at, Arc::clone(record)));
    }

    /// Forgets every client: called after every write to the clients table.
    pub fn invalidate(&self) {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.generation += 1;
        inner.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::repo::ClientSource;

    fn record(id: &str) -> Arc<ClientRecord> {
        Arc::new(ClientRecord {
            client_id: id.into(),
            secret_hash: None,
            secret_sealed: None,
            secret_expires_at: 0,
            metadata: serde_json::json!({}),
            source: ClientSource::Cli,
            registration_token_hash: None,
            created_at: 0,
            updated_at: 0,
        })
    }

    #[test]
    fn a_client_is_served_until_it_is_no_longer_fresh() {
        let cache = ClientCache::default();
        let t0 = Instant::now();
        cache.put(&record("rp"), cache.generation(), t0);
        assert_eq!(cache.get("rp", t0 + FRESH_FOR / 2).unwrap().client_id, "rp");
        assert!(cache.get("rp", t0 + FRESH_FOR).is_none());
        assert!(cache.get("other", t0).is_none());
    }

    #[test]
    fn a_read_that_began_before_a_write_is_not_kept() {
        let cache = ClientCache::default();
        let t0 = Instant::now();
        let before = cache.generation();
        cache.invalidate();
        cache.put(&record("rp"), before, t0);
        assert!(cache.get("rp", t0).is_none());
        cache.put(&record("rp"), cache.generation(), t0);
        assert!(cache.get("rp", t0).is_some());
        cache.invalidate();
        assert!(cache.get("rp", t0).is_none());
    }

    #[test]
    fn the_cache_never_holds_more_than_its_limit() {
        let cache = ClientCache::default();
        let t0 = Instant::now();
        for n in 0..=MAX_ENTRIES {
            cache.put(&record(&format!("c{n}")), cache.generation(), t0);
        }
        let held = cache.inner.lock().unwrap().entries.len();
        assert!(held <= MAX_ENTRIES && cache.get(&format!("c{MAX_ENTRIES}"), t0).is_some(), "{held}");
    }
}
