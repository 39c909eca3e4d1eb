//! Small cryptographic helpers shared by every module: random values, keyed hashes of secrets,
//! and constant-time comparison.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// `n` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    // The OS generator failing is not something a server can continue after.
    getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
    bytes
}

/// A 256-bit random value, base64url without padding (43 characters): codes, tokens, secrets.
pub fn random_token() -> String {
    b64url(&random_bytes::<32>())
}

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// HMAC-SHA-256 of `value` under `key`, base64url. Secrets (codes, tokens, client secrets) are
/// stored only as this: a database leak reveals nothing usable, and lookups stay an index hit.
pub fn keyed_hash(key: &[u8], value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(value.as_bytes());
    b64url(&mac.finalize().into_bytes())
}

/// Compares two secrets in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Encrypts `plaintext` for storage or a round trip through the browser: a compact JWE (`dir`,
/// `A256GCM`) under `SHA-256(label || hash_key)`, so every node can open it, nobody can alter
/// it, and each purpose (`label`) has its own key.
pub fn seal(hash_key: &[u8], label: &str, plaintext: &[u8]) -> Result<String, josekit::JoseError> {
    use josekit::jwe::{self, Dir, JweHeader};
    let mut header = JweHeader::new();
    header.set_content_encryption("A256GCM");
    let encrypter = Dir.encrypter_from_bytes(sealing_key(hash_key, label))?;
    jwe::serialize_compact(plaintext, &header, &encrypter)
}

/// The plaintext of a [`seal`]ed value; `None` when it was sealed under another key or label.
pub fn unseal(hash_key: &[u8], label: &str, sealed: &str) -> Option<Vec<u8>> {
    use josekit::jwe::{self, Dir};
    let decrypter = Dir.decrypter_from_bytes(sealing_key(hash_key, label)).ok()?;
    let (plaintext, header) = jwe::deserialize_compact(sealed, &decrypter).ok()?;
    (header.content_encryption() == Some("A256GCM")).then_some(plaintext)
}

fn sealing_key(hash_key: &[u8], label: &str) -> [u8; 32] {
    let mut input = label.as_bytes().to_vec();
    input.push(0);
    input.extend_from_slice(hash_key);
    sha256(&input)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_tokens_are_256_bits_and_distinct() {
        let a = random_token();
        let b = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
    }

    #[test]
    fn keyed_hash_depends_on_key_and_value() {
        let h = keyed_hash(b"k1", "secret");
        assert_eq!(h, keyed_hash(b"k1", "secret"));
        assert_ne!(h, keyed_hash(b"k2", "secret"));
        assert_ne!(h, keyed_hash(b"k1", "secret2"));
    }

    #[test]
    fn sealed_values_open_only_with_the_same_key_and_label() {
        let sealed = seal(b"key one", "purpose a", b"plain").unwrap();
        assert_eq!(unseal(b"key one", "purpose a", &sealed).as_deref(), Some(&b"plain"[..]));
        assert_eq!(unseal(b"key two", "purpose a", &sealed), None);
        assert_eq!(unseal(b"key one", "purpose b", &sealed), None);
        assert_eq!(unseal(b"key one", "purpose a", "not a jwe"), None);
    }

    #[test]
    fn constant_time_eq_compares_content_and_length() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
    }
}
