//! Checking a client's registered `jwks`: a JWK set of usable public keys with distinct `kid`s.
//! Private or symmetric key material is refused: a client must never hand us its secrets.

use super::validate::invalid;
use crate::oauth::OAuthError;
use josekit::jwk::Jwk;
use josekit::jws::{ES256, ES256K, ES384, ES512, EdDSA, PS256, PS384, PS512, RS256, RS384, RS512};
use serde_json::Value;
use std::collections::HashSet;

/// Members that only private or symmetric keys have (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037).
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// At most this many keys: a client needs a few, never hundreds.
const MAX_KEYS: usize = 20;

pub fn check(jwks: &Value) -> Result<(), OAuthError> {
    let keys = jwks
        .get("keys")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("jwks must be a JWK set: an object with a keys array"))?;
    if keys.is_empty() || keys.len() > MAX_KEYS {
        return Err(invalid(format!("jwks must hold between 1 and {MAX_KEYS} keys")));
    }
    let mut kids = HashSet::new();
    for (index, key) in keys.iter().enumerate() {
        let object = key.as_object().ok_or_else(|| invalid(format!("jwks.keys[{index}] is not a JWK object")))?;
        if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| object.contains_key(**m)) {
            return Err(invalid(format!("jwks.keys[{index}] holds private or symmetric key material ({member})")));
        }
        let jwk =
            Jwk::from_map(object.clone()).map_err(|_| invalid(format!("jwks.keys[{index}] is not a valid JWK")))?;
        if !matches!(jwk.key_type(), "RSA" | "EC" | "OKP") {
            return Err(invalid(format!("jwks.keys[{index}] has an unsupported kty (use RSA, EC or OKP)")));
        }
        if let Some(kid) = jwk.key_id()
            && !kids.insert(kid.to_string())
        {
            return Err(invalid(format!("jwks.keys[{index}] repeats a kid; kids must be distinct")));
        }
        if !usable_for_signatures(&jwk) {
            return Err(invalid(format!("jwks.keys[{index}] is not a usable public key")));
        }
    }
    Ok(())
}

/// A signature key must make a verifier for its algorithm (named by `alg`, or implied by `kty`
/// and `crv`). Encryption keys and algorithms we do not verify are taken as they are.
fn usable_for_signatures(jwk: &Jwk) -> bool {
    if jwk.key_use() == Some("enc") {
        return true;
    }
    let alg = match jwk.algorithm() {
        Some(alg) => alg,
        None => match (jwk.key_type(), jwk.curve()) {
            ("RSA", _) => "RS256",
            ("EC", Some("P-256")) => "ES256",
            ("EC", Some("P-384")) => "ES384",
            ("EC", Some("P-521")) => "ES512",
            ("EC", Some("secp256k1")) => "ES256K",
            ("OKP", Some("Ed25519" | "Ed448")) => "EdDSA",
            _ => return false,
        },
    };
    match alg {
        "RS256" => RS256.verifier_from_jwk(jwk).is_ok(),
        "RS384" => RS384.verifier_from_jwk(jwk).is_ok(),
        "RS512" => RS512.verifier_from_jwk(jwk).is_ok(),
        "PS256" => PS256.verifier_from_jwk(jwk).is_ok(),
        "PS384" => PS384.verifier_from_jwk(jwk).is_ok(),
        "PS512" => PS512.verifier_from_jwk(jwk).is_ok(),
        "ES256" => ES256.verifier_from_jwk(jwk).is_ok(),
        "ES384" => ES384.verifier_from_jwk(jwk).is_ok(),
        "ES512" => ES512.verifier_from_jwk(jwk).is_ok(),
        "ES256K" => ES256K.verifier_from_jwk(jwk).is_ok(),
        "EdDSA" => EdDSA.verifier_from_jwk(jwk).is_ok(),
        // Encryption algorithms (RSA-OAEP, ECDH-ES, …): not ours to verify.
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::material::generate;
    use serde_json::json;

    fn public(alg: &str) -> Value {
        let key = generate(alg).unwrap();
        Value::Object(key.public_jwk.as_ref().clone())
    }

    #[test]
    fn public_key_sets_with_distinct_kids_pass() {
        assert!(check(&json!({ "keys": [public("RS256"), public("ES256"), public("EdDSA")] })).is_ok());
        let mut no_alg = public("RS256");
        no_alg.as_object_mut().unwrap().remove("alg");
        assert!(check(&json!({ "keys": [no_alg] })).is_ok());
    }

    #[test]
    fn private_symmetric_duplicate_and_malformed_keys_fail() {
        let private = Value::Object(generate("RS256").unwrap().private_jwk.as_ref().clone());
        let oct = json!({ "kty": "oct", "k": "c2VjcmV0" });
        let rsa = public("RS256");
        let mut twin = public("ES256");
        twin["kid"] = rsa["kid"].clone();
        let mut broken = rsa.clone();
        broken.as_object_mut().unwrap().remove("n");
        let mut lying = rsa.clone();
        lying["alg"] = json!("ES256");
        for bad in [
            json!([]),
            json!({ "keys": [] }),
            json!({ "keys": "x" }),
            json!({ "keys": [private] }),
            json!({ "keys": [oct] }),
            json!({ "keys": [rsa.clone(), twin] }),
            json!({ "keys": [rsa.clone(), rsa.clone()] }),
            json!({ "keys": [broken] }),
            json!({ "keys": [lying] }),
            json!({ "keys": [{ "kty": "XYZ" }] }),
            json!({ "keys": [1] }),
        ] {
            assert!(check(&bad).is_err(), "{bad}");
        }
    }
}
