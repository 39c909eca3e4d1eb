//! The client secret sealed for `client_secret_jwt`, which needs the secret itself while every
//! other method needs only its keyed hash.
//!
//! Format: a compact JWE (`alg: dir`, `enc: A256GCM`) whose plaintext is the secret's UTF-8
//! bytes, under the key `SHA-256("poort client-secret sealing v1\0" || hash_key)` — `hash_key`
//! being the instance key of [`crate::secrets::hash_key`], so every node can unseal it and a
//! database dump alone cannot.

use crate::oauth::OAuthError;

const LABEL: &str = "poort client-secret sealing v1";

/// Seals `secret` for storage in `clients.secret_sealed` (dynamic registration calls this for
/// clients that register `client_secret_jwt`).
pub fn seal_secret(hash_key: &[u8], secret: &str) -> Result<String, OAuthError> {
    crate::crypto::seal(hash_key, LABEL, secret.as_bytes()).map_err(OAuthError::server_error)
}

/// The secret inside `sealed`; `None` when it was sealed under another key or is not a JWE.
pub fn unseal_secret(hash_key: &[u8], sealed: &str) -> Option<String> {
    String::from_utf8(crate::crypto::unseal(hash_key, LABEL, sealed)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_the_same_hash_key() {
        let sealed = seal_secret(b"instance key one", "s3cret").unwrap();
        assert!(!sealed.contains("s3cret"));
        assert_eq!(sealed.split('.').count(), 5, "a compact JWE");
        assert_eq!(unseal_secret(b"instance key one", &sealed).as_deref(), Some("s3cret"));
        assert_eq!(unseal_secret(b"instance key two", &sealed), None);
        assert_eq!(unseal_secret(b"instance key one", "not a jwe"), None);
    }
}
