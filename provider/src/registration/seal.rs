//! Superseded by [`crate::oauth::client_auth::seal_secret`], which registration now calls. Kept
//! only because `oauth::client_auth::sealing`'s tests pin both to one format; delete this module
//! together with that test (`registration_seals_in_the_same_format`).
//!
//! The format: a compact JWE (`dir`, `A256GCM`) of the secret's UTF-8 bytes under
//! `SHA-256("poort client-secret sealing v1\0" || hash_key)`.

use crate::crypto::sha256;
use crate::oauth::OAuthError;
use josekit::jwe::{self, Dir, JweHeader};

const CONTEXT: &[u8] = b"poort client-secret sealing v1\0";

fn sealing_key(hash_key: &[u8]) -> [u8; 32] {
    sha256(&[CONTEXT, hash_key].concat())
}

/// The secret as stored in `secret_sealed`.
pub fn seal(hash_key: &[u8], secret: &str) -> Result<String, OAuthError> {
    let mut header = JweHeader::new();
    header.set_content_encryption("A256GCM");
    let encrypter = Dir.encrypter_from_bytes(sealing_key(hash_key)).map_err(OAuthError::server_error)?;
    jwe::serialize_compact(secret.as_bytes(), &header, &encrypter).map_err(OAuthError::server_error)
}

/// The secret back from `secret_sealed`.
pub fn unseal(hash_key: &[u8], sealed: &str) -> Result<String, OAuthError> {
    let decrypter = Dir.decrypter_from_bytes(sealing_key(hash_key)).map_err(OAuthError::server_error)?;
    let (plain, _) = jwe::deserialize_compact(sealed, &decrypter)
        .map_err(|_| OAuthError::server_error("a sealed client secret cannot be opened with the instance key"))?;
    String::from_utf8(plain).map_err(|_| OAuthError::server_error("a sealed client secret is not text"))
}
