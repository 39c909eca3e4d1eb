//! Password hashing with Argon2id at OWASP's parameters (argon2's defaults: 19 MiB, t=2, p=1).
//! Hashing is CPU-bound for tens of milliseconds: callers on the async runtime must run it on
//! the blocking pool.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};

/// Hashes `password` into a PHC string (`$argon2id$v=19$…`).
pub fn hash(password: &str) -> String {
    Argon2::default()
        .hash_password(password.as_bytes())
        .expect("Argon2 with default parameters and a random salt cannot fail")
        .to_string()
}

/// Checks `password` against a stored PHC string; a malformed stored hash never verifies.
pub fn verify(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Runs verification on the blocking pool, at most `permits` at a time, so a burst of sign-ins
/// cannot starve the async workers. Unknown users cost the same as known ones.
#[derive(Clone)]
pub struct PasswordPool {
    permits: std::sync::Arc<tokio::sync::Semaphore>,
}

/// A hash of a password nobody knows, verified in place of a missing user's.
static DUMMY_HASH: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| hash(&crate::crypto::random_token()));

impl PasswordPool {
    pub fn new(permits: usize) -> Self {
        Self { permits: std::sync::Arc::new(tokio::sync::Semaphore::new(permits.max(1))) }
    }

    /// Whether `password` matches `stored`; with no stored hash, burns the same time and fails.
    pub async fn verify(&self, password: String, stored: Option<String>) -> bool {
        let Ok(_permit) = self.permits.acquire().await else { return false };
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| DUMMY_HASH.clone());
        let matched = tokio::task::spawn_blocking(move || verify(&password, &stored)).await.unwrap_or(false);
        matched && known
    }

    /// Hashes a new password on the blocking pool, within the same bound as verification;
    /// `None` only if the blocking task could not run.
    pub async fn hash(&self, password: String) -> Option<String> {
        let _permit = self.permits.acquire().await.ok()?;
        tokio::task::spawn_blocking(move || hash(&password)).await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_their_password_and_use_owasp_parameters() {
        let stored = hash("correct horse battery staple");
        assert!(stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{stored}");
        assert!(verify("correct horse battery staple", &stored));
        assert!(!verify("correct horse battery stapler", &stored));
        assert!(!verify("anything", "not a phc string"));
        assert_ne!(stored, hash("correct horse battery staple"), "salts must differ");
    }
}
