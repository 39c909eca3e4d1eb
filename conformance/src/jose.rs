//! JOSE for the harness: decoding compact JWTs, verifying a signature against a JWKS the way the
//! suite picks the key (by `kid`, with matching `kty`, `alg` and `use`), the `at_hash`/`c_hash`
//! half-hashes, unsigned and RS256-signed request objects, and the entropy estimate the suite
//! applies to codes and tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::Jwk;
use josekit::jws::{self, JwsVerifier};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};

/// A decoded (not yet verified) compact JWS.
#[derive(Clone, Debug)]
pub struct Jwt {
    pub raw: String,
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    pub signing_input: String,
    pub signature: Vec<u8>,
}

impl Jwt {
    pub fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }

    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }
}

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn b64_json(text: &str, what: &str) -> Result<Map<String, Value>, String> {
    let bytes = URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|e| format!("the {what} is not base64url: {e}"))?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(format!("the {what} is not a JSON object")),
        Err(e) => Err(format!("the {what} is not JSON: {e}")),
    }
}

/// Splits and decodes a compact JWS (three parts; an encrypted JWT has five and is refused).
pub fn decode(token: &str) -> Result<Jwt, String> {
    let parts: Vec<&str> = token.split('.').collect();
    if parts.len() != 3 {
        return Err(format!(
            "a compact JWS has 3 parts, this one has {}",
            parts.len()
        ));
    }
    let header = b64_json(parts[0], "JOSE header")?;
    let claims = b64_json(parts[1], "payload")?;
    let signature = URL_SAFE_NO_PAD
        .decode(parts[2])
        .map_err(|e| format!("the signature is not base64url: {e}"))?;
    Ok(Jwt {
        raw: token.to_string(),
        header,
        claims,
        signing_input: format!("{}.{}", parts[0], parts[1]),
        signature,
    })
}

/// The key type an algorithm needs.
fn kty_for(alg: &str) -> Option<&'static str> {
    match alg {
        "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" => Some("RSA"),
        "ES256" | "ES384" | "ES512" | "ES256K" => Some("EC"),
        "EdDSA" => Some("OKP"),
        _ => None,
    }
}

fn verifier(alg: &str, jwk: &Jwk) -> Result<Box<dyn JwsVerifier>, String> {
    let result: Result<Box<dyn JwsVerifier>, josekit::JoseError> = match alg {
        "RS256" => jws::RS256.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
        "RS384" => jws::RS384.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
        "RS512" => jws::RS512.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
        "PS256" => jws::PS256.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
        "PS384" => jws::PS384.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
        "PS512" => jws::PS512.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
        "ES256" => jws::ES256.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
        "ES384" => jws::ES384.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
        "ES512" => jws::ES512.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
        "EdDSA" => jws::EdDSA.verifier_from_jwk(jwk).map(|v| Box::new(v) as _),
        other => return Err(format!("unsupported signing algorithm `{other}`")),
    };
    result.map_err(|e| format!("the key cannot verify {alg}: {e}"))
}

/// Whether a JWKS key may verify `alg`: same key type, same `alg` when the key names one, and
/// `use` = `sig` when the key has a `use`.
fn key_fits(key: &Map<String, Value>, alg: &str) -> Result<(), String> {
    let kty = key.get("kty").and_then(Value::as_str).unwrap_or("");
    if Some(kty) != kty_for(alg) {
        return Err(format!("its kty `{kty}` does not fit alg {alg}"));
    }
    if let Some(key_alg) = key.get("alg").and_then(Value::as_str)
        && key_alg != alg
    {
        return Err(format!("its alg is {key_alg}, the token's is {alg}"));
    }
    if let Some(usage) = key.get("use").and_then(Value::as_str)
        && usage != "sig"
    {
        return Err(format!("its use is `{usage}`, not sig"));
    }
    Ok(())
}

/// Verifies `jwt` against `keys` (the `keys` array of a JWKS): with a `kid`, the key of that id
/// must fit and verify; without one, any fitting key that verifies will do.
pub fn verify(jwt: &Jwt, keys: &[Value]) -> Result<(), String> {
    let alg = jwt.alg().ok_or("the header has no alg")?;
    if alg == "none" {
        return Err("the token is unsigned (alg none)".into());
    }
    kty_for(alg).ok_or_else(|| format!("unsupported signing algorithm `{alg}`"))?;
    let check = |key: &Map<String, Value>| -> Result<(), String> {
        key_fits(key, alg)?;
        let jwk = Jwk::from_map(key.clone()).map_err(|e| format!("the key does not parse: {e}"))?;
        let verifier = verifier(alg, &jwk)?;
        verifier
            .verify(jwt.signing_input.as_bytes(), &jwt.signature)
            .map_err(|e| format!("the signature does not verify: {e}"))
    };
    let objects = keys.iter().filter_map(Value::as_object);
    match jwt.kid() {
        Some(kid) => {
            let key = objects
                .into_iter()
                .find(|k| k.get("kid").and_then(Value::as_str) == Some(kid))
                .ok_or_else(|| format!("no key in the JWKS has kid `{kid}`"))?;
            check(key).map_err(|e| format!("key `{kid}`: {e}"))
        }
        None => {
            let mut reasons = Vec::new();
            for key in objects {
                match check(key) {
                    Ok(()) => return Ok(()),
                    Err(e) => reasons.push(e),
                }
            }
            Err(format!(
                "no key without a kid verifies it ({})",
                reasons.join("; ")
            ))
        }
    }
}

/// The left half of the hash that `alg` implies (SHA-256 for *256, SHA-384 for *384, SHA-512 for
/// *512 and for EdDSA with Ed25519), base64url: the value of `at_hash`, `c_hash` and `s_hash`.
pub fn half_hash(alg: &str, value: &str) -> Option<String> {
    let digest: Vec<u8> = if alg == "EdDSA" || alg.ends_with("512") {
        Sha512::digest(value.as_bytes()).to_vec()
    } else if alg.ends_with("384") {
        Sha384::digest(value.as_bytes()).to_vec()
    } else if alg.ends_with("256") || alg.ends_with("256K") {
        Sha256::digest(value.as_bytes()).to_vec()
    } else {
        return None;
    };
    Some(b64(&digest[..digest.len() / 2]))
}

/// An unsigned (`alg: none`) JWT with these claims.
pub fn unsigned_jwt(claims: &Map<String, Value>) -> String {
    let header = b64(br#"{"alg":"none"}"#);
    let payload = b64(serde_json::to_vec(claims).expect("JSON"));
    format!("{header}.{payload}.")
}

/// An RS256 JWS over these claims, with the key's `kid` in the header.
pub fn sign_rs256(claims: &Map<String, Value>, private: &Jwk) -> Result<String, String> {
    use josekit::jws::JwsSigner;
    let signer = jws::RS256
        .signer_from_jwk(private)
        .map_err(|e| e.to_string())?;
    let mut header = Map::new();
    header.insert("alg".into(), "RS256".into());
    header.insert("typ".into(), "JWT".into());
    if let Some(kid) = private.key_id() {
        header.insert("kid".into(), kid.into());
    }
    let input = format!(
        "{}.{}",
        b64(serde_json::to_vec(&header).expect("JSON")),
        b64(serde_json::to_vec(claims).expect("JSON"))
    );
    let signature = signer.sign(input.as_bytes()).map_err(|e| e.to_string())?;
    Ok(format!("{input}.{}", b64(signature)))
}

/// The suite's entropy estimate: the Shannon entropy of the string's character distribution,
/// times its length, in bits.
pub fn entropy_bits(value: &str) -> f64 {
    let chars: Vec<char> = value.chars().collect();
    if chars.is_empty() {
        return 0.0;
    }
    let mut counts = std::collections::HashMap::new();
    for c in &chars {
        *counts.entry(*c).or_insert(0usize) += 1;
    }
    let n = chars.len() as f64;
    let per_char: f64 = counts
        .values()
        .map(|&c| (c as f64 / n) * -(c as f64 / n).log2())
        .sum();
    per_char * n
}

/// An RSA key pair for the harness's own client (dynamic registration, signed request
/// objects): the private JWK and its public half.
pub fn generate_client_key() -> Result<(Jwk, Jwk), String> {
    let pair = jws::RS256
        .generate_key_pair(2048)
        .map_err(|e| e.to_string())?;
    let kid = format!("conformance-{}", crate::random::alphanumeric(8));
    let mut private = pair.to_jwk_private_key();
    private.set_key_id(kid.clone());
    private.set_algorithm("RS256");
    private.set_key_use("sig");
    let mut public = pair.to_jwk_public_key();
    public.set_key_id(kid);
    public.set_algorithm("RS256");
    public.set_key_use("sig");
    Ok((private, public))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_hash_matches_the_oidc_core_example() {
        // OpenID Connect Core, appendix A.4: at_hash for this access token under RS256.
        assert_eq!(
            half_hash("RS256", "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y").as_deref(),
            Some("77QmUPtjPfzWtF2AnpK9RQ")
        );
        assert_eq!(half_hash("none", "x"), None);
        assert_eq!(half_hash("EdDSA", "x").unwrap().len(), 43);
    }

    #[test]
    fn entropy_of_a_constant_is_zero_and_of_random_base64_is_high() {
        assert_eq!(entropy_bits("aaaaaaaaaaaaaaaa"), 0.0);
        let random = b64(crate::random::bytes(32));
        assert!(entropy_bits(&random) > 96.0, "{random}");
    }

    #[test]
    fn signs_and_verifies_by_kid() {
        let (private, public) = generate_client_key().unwrap();
        let mut claims = Map::new();
        claims.insert("sub".into(), "x".into());
        let token = sign_rs256(&claims, &private).unwrap();
        let jwt = decode(&token).unwrap();
        let keys = vec![Value::Object(public.as_ref().clone())];
        verify(&jwt, &keys).unwrap();
        let mut tampered = jwt.clone();
        tampered.signing_input.push('x');
        assert!(verify(&tampered, &keys).is_err());
        assert!(verify(&decode(&unsigned_jwt(&claims)).unwrap(), &keys).is_err());
    }
}
