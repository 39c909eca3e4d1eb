//! The keys a client verifies with: its registered `jwks`, or the document at its `jwks_uri`,
//! fetched with the state's outbound client and kept in memory briefly. A key the cache does not
//! know (a client that rotated) triggers one re-fetch, at most once a second per URI.
//!
//! The cache is only a cache: every node fetches for itself, and nothing depends on two nodes
//! holding the same copy.

use josekit::jwk::Jwk;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a fetched key set is used without asking again.
const FRESH_FOR: Duration = Duration::from_secs(60);
/// A re-fetch for an unknown key waits at least this long after the last fetch.
const REFETCH_AFTER: Duration = Duration::from_secs(1);
/// Largest key set document accepted.
const MAX_DOCUMENT_BYTES: usize = 64 * 1024;
/// Key sets held at most; past this the cache starts over.
const MAX_ENTRIES: usize = 1024;

/// Key sets by `jwks_uri`.
#[derive(Default)]
pub struct ClientKeyCache {
    entries: Mutex<HashMap<String, Cached>>,
}

struct Cached {
    fetched_at: Instant,
    keys: Arc<Vec<Jwk>>,
}

impl ClientKeyCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// The key set at `uri`: the cached one while fresh, else fetched.
    pub async fn get(&self, http: &reqwest::Client, uri: &str) -> Result<Arc<Vec<Jwk>>, String> {
        if let Some(keys) = self.cached(uri, |age| age < FRESH_FOR) {
            return Ok(keys);
        }
        self.fetch(http, uri).await
    }

    /// Fetches `uri` again after a key was not found, unless it was fetched within the last
    /// second; `None` then (the caller keeps what it has).
    pub async fn refetch(&self, http: &reqwest::Client, uri: &str) -> Result<Option<Arc<Vec<Jwk>>>, String> {
        if self.cached(uri, |age| age < REFETCH_AFTER).is_some() {
            return Ok(None);
        }
        self.fetch(http, uri).await.map(Some)
    }

    fn cached(&self, uri: &str, usable: impl Fn(Duration) -> bool) -> Option<Arc<Vec<Jwk>>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(uri).filter(|c| usable(c.fetched_at.elapsed())).map(|c| Arc::clone(&c.keys))
    }

    async fn fetch(&self, http: &reqwest::Client, uri: &str) -> Result<Arc<Vec<Jwk>>, String> {
        let document = fetch_document(http, uri).await?;
        let keys = Arc::new(parse_key_set(&document).ok_or_else(|| format!("{uri} is not a JWK set"))?);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(uri) {
            entries.clear();
        }
        entries.insert(uri.to_string(), Cached { fetched_at: Instant::now(), keys: Arc::clone(&keys) });
        Ok(keys)
    }
}

async fn fetch_document(http: &reqwest::Client, uri: &str) -> Result<Value, String> {
    let mut response = http
        .get(uri)
        .header(reqwest::header::ACCEPT, "application/jwk-set+json, application/json")
        .send()
        .await
        .map_err(|e| format!("fetching {uri}: {e}"))?;
    if !response.status().is_success() {
        return Err(format!("{uri} answered {}", response.status()));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| format!("reading {uri}: {e}"))? {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(format!("{uri} is larger than {MAX_DOCUMENT_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice(&body).map_err(|e| format!("{uri} is not JSON: {e}"))
}

/// The keys of a JWK set document (`{"keys": [...]}`); members that are not JWKs are skipped.
pub fn parse_key_set(document: &Value) -> Option<Vec<Jwk>> {
    let keys = document.get("keys")?.as_array()?;
    Some(keys.iter().filter_map(|k| k.as_object()).filter_map(|k| Jwk::from_map(k.clone()).ok()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_sets_parse_and_skip_what_is_not_a_key() {
        let doc = serde_json::json!({ "keys": [ { "kty": "oct", "k": "AAAA", "kid": "a" }, 5, { "no": "kty" } ] });
        let keys = parse_key_set(&doc).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].key_id(), Some("a"));
        assert!(parse_key_set(&serde_json::json!({ "keys": 1 })).is_none());
        assert!(parse_key_set(&serde_json::json!([])).is_none());
    }
}
