//! Instance secrets every node shares through the database: the key under which codes, tokens
//! and client secrets are hashed.

use crate::crypto::{b64url, random_bytes};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use poort_storage::{StorageError, Store};

const HASH_KEY_NAME: &str = "secret-hash-key";

/// The 256-bit key for [`crate::crypto::keyed_hash`], created on first use.
pub async fn hash_key(store: &Store) -> Result<Vec<u8>, StorageError> {
    let stored = store.instance().get_or_insert(HASH_KEY_NAME, &b64url(&random_bytes::<32>())).await?;
    URL_SAFE_NO_PAD
        .decode(stored.as_bytes())
        .ok()
        .filter(|key| key.len() == 32)
        .ok_or_else(|| StorageError::Corrupt(format!("instance value `{HASH_KEY_NAME}` is not a 256-bit key")))
}
