//! Signing JWTs with the current key for an algorithm, and the OpenID Connect half-hashes.

use crate::crypto::b64url;
use crate::keys::KeySet;
use crate::oauth::OAuthError;
use josekit::jws::JwsHeader;
use josekit::jwt::JwtPayload;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha512};

/// Signs `claims` with the key that signs `alg` now, `kid` in the header; `typ` when given
/// (`at+jwt`, `logout+jwt`). `alg = "none"` makes an unsecured JWT (only for clients that
/// registered it, OpenID Connect Core §2).
pub fn sign(keys: &KeySet, alg: &str, typ: Option<&str>, claims: Map<String, Value>) -> Result<String, OAuthError> {
    if alg == "none" {
        let mut header = serde_json::json!({ "alg": "none" });
        if let Some(typ) = typ {
            header["typ"] = Value::String(typ.into());
        }
        return Ok(format!("{}.{}.", b64url(header.to_string().as_bytes()), b64url(Value::Object(claims).to_string().as_bytes())));
    }
    let key = keys
        .signing_key(alg, poort_storage::now())
        .ok_or_else(|| OAuthError::server_error(format!("no active {alg} signing key")))?;
    let mut header = JwsHeader::new();
    header.set_key_id(&key.record.kid);
    if let Some(typ) = typ {
        header.set_token_type(typ);
    }
    let payload = JwtPayload::from_map(claims).map_err(OAuthError::server_error)?;
    josekit::jwt::encode_with_signer(&payload, &header, key.signer.as_ref()).map_err(OAuthError::server_error)
}

/// Verifies a JWT we signed (its `kid` among our published keys) and returns its claims. Expiry
/// is not checked here: an `id_token_hint` may be expired, an access token may not — callers
/// decide.
pub fn verify_ours(keys: &KeySet, token: &str) -> Option<Map<String, Value>> {
    let unverified = super::verify::peek(token)?;
    let key = keys.keys.iter().find(|k| Some(k.record.kid.as_str()) == unverified.kid())?;
    if unverified.alg() != Some(key.record.alg.as_str()) {
        return None;
    }
    let jwk = josekit::jwk::Jwk::from_map(key.record.public_jwk.as_object()?.clone()).ok()?;
    let verifier = super::verify::verifier_for(&key.record.alg, &jwk)?;
    super::verify::verify(token, verifier.as_ref())
}

/// `at_hash` / `c_hash` / `s_hash`: the left half of the hash of `value`, with the hash of the
/// signing algorithm (SHA-256 for RS256, PS256, ES256; SHA-512 for EdDSA with Ed25519).
pub fn half_hash(alg: &str, value: &str) -> String {
    match alg {
        "EdDSA" => {
            let digest = Sha512::digest(value.as_bytes());
            b64url(&digest[..32])
        }
        _ => {
            let digest = Sha256::digest(value.as_bytes());
            b64url(&digest[..16])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_hash_matches_the_openid_connect_example() {
        // OpenID Connect Core, Appendix A.3/A.4: access token and its at_hash (RS256).
        assert_eq!(half_hash("RS256", "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"), "77QmUPtjPfzWtF2AnpK9RQ");
        assert_eq!(half_hash("RS256", "Qcb0Orv1zh30vL1MPRsbm-diHiMwcLyZvn1arpZv-Jxf_11jnpEX3Tgfvk"), "LDktKdoQak3Pk0cnXxCltA");
    }
}
