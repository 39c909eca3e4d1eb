//! Reading JWTs that come in: a look at the header and claims before any key is chosen, and
//! signature verification with a JWK for one of the algorithms Poort accepts. Unsecured JWTs
//! (`alg: none`) are never verified here.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jwk::Jwk;
use josekit::jws::{ES256, ES384, ES512, EdDSA, HS256, JwsVerifier, PS256, PS384, PS512, RS256, RS384, RS512};
use serde_json::{Map, Value};

/// The asymmetric algorithms Poort verifies (client assertions).
pub const ASYMMETRIC_ALGORITHMS: &[&str] =
    &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];

/// A JWT's header and claims, not yet verified.
#[derive(Debug, Clone, PartialEq)]
pub struct Unverified {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
}

impl Unverified {
    pub fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }

    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    pub fn typ(&self) -> Option<&str> {
        self.header.get("typ").and_then(Value::as_str)
    }

    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }
}

/// Splits a compact JWS and decodes its header and claims; `None` for anything malformed.
pub fn peek(compact: &str) -> Option<Unverified> {
    let mut parts = compact.split('.');
    let (header, claims, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let header = object(header)?;
    let claims = object(claims)?;
    Some(Unverified { header, claims })
}

fn object(part: &str) -> Option<Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// A verifier for `alg` with the public `jwk`; `None` when the key does not fit the algorithm
/// (wrong `kty`, `crv`, `use` or `alg`, or an RSA key under 2048 bits).
pub fn verifier_for(alg: &str, jwk: &Jwk) -> Option<Box<dyn JwsVerifier>> {
    let verifier: Box<dyn JwsVerifier> = match alg {
        "RS256" => Box::new(RS256.verifier_from_jwk(jwk).ok()?),
        "RS384" => Box::new(RS384.verifier_from_jwk(jwk).ok()?),
        "RS512" => Box::new(RS512.verifier_from_jwk(jwk).ok()?),
        "PS256" => Box::new(PS256.verifier_from_jwk(jwk).ok()?),
        "PS384" => Box::new(PS384.verifier_from_jwk(jwk).ok()?),
        "PS512" => Box::new(PS512.verifier_from_jwk(jwk).ok()?),
        "ES256" => Box::new(ES256.verifier_from_jwk(jwk).ok()?),
        "ES384" => Box::new(ES384.verifier_from_jwk(jwk).ok()?),
        "ES512" => Box::new(ES512.verifier_from_jwk(jwk).ok()?),
        "EdDSA" if jwk.curve() == Some("Ed25519") => Box::new(EdDSA.verifier_from_jwk(jwk).ok()?),
        _ => return None,
    };
    Some(verifier)
}

/// An HS256 verifier with a shared secret (`client_secret_jwt`).
pub fn hs256_verifier(secret: &[u8]) -> Option<Box<dyn JwsVerifier>> {
    Some(Box::new(HS256.verifier_from_bytes(secret).ok()?))
}

/// Verifies the signature of `compact` and returns its claims. The header's `alg` must be the
/// verifier's; the claims are not checked here.
pub fn verify(compact: &str, verifier: &dyn JwsVerifier) -> Option<Map<String, Value>> {
    let (payload, _header) = josekit::jwt::decode_with_verifier(compact, verifier).ok()?;
    Some(payload.claims_set().clone())
}

/// A NumericDate claim (RFC 7519 §2) as whole seconds; `None` when absent or not a number.
pub fn numeric_date(claims: &Map<String, Value>, name: &str) -> Option<i64> {
    match claims.get(name)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64)),
        _ => None,
    }
}

/// Whether the `aud` claim (a string or an array of strings) names one of `accepted`.
pub fn audience_contains(claims: &Map<String, Value>, accepted: &[&str]) -> bool {
    match claims.get("aud") {
        Some(Value::String(aud)) => accepted.contains(&aud.as_str()),
        Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).any(|aud| accepted.contains(&aud)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use josekit::jws::JwsHeader;
    use josekit::jwt::JwtPayload;

    #[test]
    fn peek_reads_header_and_claims_and_refuses_garbage() {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k1"}"#);
        let claims = URL_SAFE_NO_PAD.encode(br#"{"iss":"a","exp":1.5}"#);
        let jwt = peek(&format!("{header}.{claims}.sig")).unwrap();
        assert_eq!((jwt.alg(), jwt.kid()), (Some("RS256"), Some("k1")));
        assert_eq!(jwt.claim_str("iss"), Some("a"));
        assert_eq!(numeric_date(&jwt.claims, "exp"), Some(1));
        for garbage in ["", "a.b", "a.b.c.d", "!!.??.x", &format!("{header}.W10.x")] {
            assert!(peek(garbage).is_none(), "{garbage}");
        }
    }

    #[test]
    fn a_signature_verifies_only_with_the_right_key_and_algorithm() {
        let pair = ES256.generate_key_pair().unwrap();
        let mut header = JwsHeader::new();
        header.set_algorithm("ES256");
        let mut payload = JwtPayload::new();
        payload.set_issuer("me");
        let jwt = josekit::jwt::encode_with_signer(
            &payload,
            &header,
            &ES256.signer_from_jwk(&pair.to_jwk_key_pair()).unwrap(),
        )
        .unwrap();
        let public = pair.to_jwk_public_key();
        let claims = verify(&jwt, verifier_for("ES256", &public).unwrap().as_ref()).unwrap();
        assert_eq!(claims["iss"], "me");
        assert!(verifier_for("RS256", &public).is_none(), "an EC key cannot verify RS256");
        let other = ES256.generate_key_pair().unwrap().to_jwk_public_key();
        assert!(verify(&jwt, verifier_for("ES256", &other).unwrap().as_ref()).is_none());
    }

    #[test]
    fn audiences_may_be_a_string_or_an_array() {
        let claims =
            |aud: Value| serde_json::from_value::<Map<String, Value>>(serde_json::json!({ "aud": aud })).unwrap();
        assert!(audience_contains(&claims(serde_json::json!("x")), &["x", "y"]));
        assert!(audience_contains(&claims(serde_json::json!(["z", "y"])), &["x", "y"]));
        assert!(!audience_contains(&claims(serde_json::json!(["z"])), &["x"]));
        assert!(!audience_contains(&claims(serde_json::json!(1)), &["x"]));
    }
}
