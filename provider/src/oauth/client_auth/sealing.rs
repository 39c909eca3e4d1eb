//! The client secret sealed for `client_secret_jwt`, which needs the secret itself while every
//! other method needs only its keyed hash.
//!
//! Format: a compact JWE (`alg: dir`, `enc: A256GCM`) whose plaintext is the secret's UTF-8
//! bytes, under the key `SHA-256("poort client-secret sealing v1\0" || hash_key)` — `hash_key`
//! being the instance key of [`crate::secrets::hash_key`], so every node can unseal it and a
//! database dump alone cannot.

use crate::crypto::sha256;
use crate::oauth::OAuthError;
use josekit::jwe::{self, Dir, JweHeader};

fn sealing_key(hash_key: &[u8]) -> [u8; 32] {
    let mut input = b"poort client-secret sealing v1\0".to_vec();
    input.extend_from_slice(hash_key);
    sha256(&input)
}

/// Seals `secret` for storage in `clients.secret_sealed` (dynamic registration calls this for
/// clients that register `client_secret_jwt`).
pub fn seal_secret(hash_key: &[u8], secret: &str) -> Result<String, OAuthError> {
    let mut header = JweHeader::new();
    header.set_content_encryption("A256GCM");
    let encrypter = Dir.encrypter_from_bytes(sealing_key(hash_key)).map_err(OAuthError::server_error)?;
    jwe::serialize_compact(secret.as_bytes(), &header, &encrypter).map_err(OAuthError::server_error)
}

/// The secret inside `sealed`; `None` when it was sealed under another key or is not a JWE.
pub fn unseal_secret(hash_key: &[u8], sealed: &str) -> Option<String> {
    let decrypter = Dir.decrypter_from_bytes(sealing_key(hash_key)).ok()?;
    let (plaintext, header) = jwe::deserialize_compact(sealed, &decrypter).ok()?;
    if header.content_encryption() != Some("A256GCM") {
        return None;
    }
    String::from_utf8(plaintext).ok()
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
