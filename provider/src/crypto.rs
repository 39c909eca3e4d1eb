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

/// Hex digits of the issuing millisecond in front of an [`ordered_token`].
const TIME_PREFIX_LEN: usize = 12;

/// A token that sorts by when it was issued: 12 hex digits of the issuing millisecond (Unix
/// time), then a [`random_token`] — 55 characters, still 256 random bits. Codes, access and
/// refresh tokens and `jti`s are these, and [`token_key`] keeps the time in front of their
/// stored key, so the database's index of them grows at its end, as it does for the time-ordered
/// ids of grants, instead of taking every new key in a random page. The time is no secret: an
/// ID token's `iat` says as much.
pub fn ordered_token() -> String {
    let millis = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    format!("{:012x}{}", millis.clamp(0, 0xffff_ffff_ffff), random_token())
}

/// Whether `value` has the shape of our tokens: an [`ordered_token`], or a [`random_token`] as
/// issued before tokens were ordered.
pub fn is_token_shaped(value: &str) -> bool {
    is_random_token(value)
        || (value.len() == TIME_PREFIX_LEN + 43 && time_prefix(value).is_some() && is_random_token(&value[TIME_PREFIX_LEN..]))
}

/// Whether `value` has the shape of a [`random_token`]: 43 base64url characters.
pub fn is_random_token(value: &str) -> bool {
    value.len() == 43 && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The issue time in front of an ordered token, as written.
fn time_prefix(token: &str) -> Option<&str> {
    let prefix = token.get(..TIME_PREFIX_LEN)?;
    prefix.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)).then_some(prefix)
}

/// The key a token is stored and found under: the issue time of an [`ordered_token`] in clear,
/// then the token's keyed hash. For a token issued before tokens were ordered, the keyed hash
/// alone, as it was stored then.
pub fn token_key(key: &[u8], token: &str) -> String {
    token_key_hashing(key, token, token)
}

/// [`token_key`] with the keyed hash taken of `hashed`, a value derived from `token` (a JWT
/// access token's `"jti:" + jti`).
pub fn token_key_hashing(key: &[u8], token: &str, hashed: &str) -> String {
    let prefix = if token.len() == TIME_PREFIX_LEN + 43 { time_prefix(token).unwrap_or("") } else { "" };
    format!("{prefix}{}", keyed_hash(key, hashed))
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
    fn ordered_tokens_keep_256_random_bits_behind_their_issue_time() {
        let before = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        let token = ordered_token();
        let after = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        assert_eq!(token.len(), 55);
        let millis = i128::from_str_radix(&token[..12], 16).unwrap();
        assert!((before..=after).contains(&millis), "{token}");
        assert!(is_token_shaped(&token[12..]) && is_token_shaped(&token));
        assert_ne!(token[12..], ordered_token()[12..]);
    }

    #[test]
    fn token_keys_sort_by_issue_time_and_hide_the_token() {
        let key = b"instance key";
        let older = ordered_token();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let newer = ordered_token();
        let (older_key, newer_key) = (token_key(key, &older), token_key(key, &newer));
        assert!(older_key < newer_key, "{older_key} {newer_key}");
        assert_eq!(older_key, format!("{}{}", &older[..12], keyed_hash(key, &older)));
        assert!(!older_key.contains(&older[12..]));
        assert_eq!(token_key_hashing(key, &older, "jti:x"), format!("{}{}", &older[..12], keyed_hash(key, "jti:x")));
        // Tokens issued before the time prefix keep the key they were stored under.
        let legacy = random_token();
        assert_eq!(token_key(key, &legacy), keyed_hash(key, &legacy));
    }

    #[test]
    fn only_values_shaped_like_our_tokens_pass() {
        assert!(is_token_shaped(&random_token()) && is_token_shaped(&ordered_token()));
        let token = ordered_token();
        for bad in [
            "short".to_string(),
            "a.b.c".to_string(),
            format!("{}{}", "G".repeat(12), &token[12..]),
            format!("{}=", &token[..54]),
            format!("{token}A"),
        ] {
            assert!(!is_token_shaped(&bad), "{bad}");
        }
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
