//! JWT client assertions (RFC 7523 §3, OpenID Connect Core §9): `client_secret_jwt` (HS256
//! with the client's secret) and `private_key_jwt` (the client's registered keys). The claims
//! are checked after the signature, and the `jti` is recorded only then, so nobody can spend a
//! client's identifiers with forged assertions.

use super::jwks::parse_key_set;
use super::{Failure, sealing};
use crate::crypto::{b64url, constant_time_eq, keyed_hash, sha256};
use crate::oauth::{Client, ErrorCode, OAuthError};
use crate::state::AppState;
use crate::tokens::verify::{self, ASYMMETRIC_ALGORITHMS, Unverified};
use josekit::jwk::Jwk;
use serde_json::{Map, Value};

/// Allowed clock difference, in seconds, for `exp`, `iat` and `nbf`.
pub const SKEW: i64 = 60;
/// An assertion may not be valid for longer than this (its `jti` is remembered that long).
pub const MAX_LIFETIME: i64 = 3600;
/// Longest `jti` accepted.
const MAX_JTI_CHARS: usize = 256;

/// The authentication method an assertion signed with `alg` stands for.
pub fn method_for(alg: &str) -> &'static str {
    if alg.starts_with("HS") { "client_secret_jwt" } else { "private_key_jwt" }
}

/// Verifies `compact` as an assertion by `client` for one of `audiences`, and spends its `jti`.
pub async fn verify(
    state: &AppState,
    client: &Client,
    jwt: &Unverified,
    compact: &str,
    audiences: &[&str],
) -> Result<(), Failure> {
    let alg = jwt.alg().ok_or(Failure::Refused("the assertion has no alg"))?;
    if client.metadata.token_endpoint_auth_signing_alg.as_deref().is_some_and(|registered| registered != alg) {
        return Err(Failure::Refused("the assertion is not signed with the registered algorithm"));
    }
    let claims = match alg {
        "HS256" => verify_with_secret(state, client, compact)?,
        alg if ASYMMETRIC_ALGORITHMS.contains(&alg) => {
            verify_with_client_keys(state, client, alg, jwt.kid(), compact).await?
        }
        _ => return Err(Failure::Refused("the assertion's algorithm is not accepted")),
    };
    let now = poort_storage::now();
    let (exp, jti) = check_claims(&claims, &client.id, audiences, now).map_err(Failure::Refused)?;
    let key = b64url(&sha256(format!("client-assertion\0{}\0{jti}", client.id).as_bytes()));
    if !state.store.replay_guard().first_use(&key, exp + SKEW, now).await? {
        return Err(Failure::Refused("the assertion's jti was used before"));
    }
    Ok(())
}

/// `client_secret_jwt`: the secret is stored sealed; it must still be the one whose hash is
/// stored, and not expired.
fn verify_with_secret(state: &AppState, client: &Client, compact: &str) -> Result<Map<String, Value>, Failure> {
    let sealed = client.secret_sealed.as_deref().ok_or(Failure::Refused("the client has no sealed secret"))?;
    let secret =
        sealing::unseal_secret(&state.hash_key, sealed).ok_or(Failure::Refused("the sealed secret does not open"))?;
    let hash = client.secret_hash.as_deref().ok_or(Failure::Refused("the client has no secret"))?;
    if !constant_time_eq(keyed_hash(&state.hash_key, &secret).as_bytes(), hash.as_bytes()) {
        return Err(Failure::Refused("the sealed secret is not the current secret"));
    }
    if super::secret_expired(client, poort_storage::now()) {
        return Err(Failure::Refused("the client secret has expired"));
    }
    let verifier =
        verify::hs256_verifier(secret.as_bytes()).ok_or(Failure::Refused("the secret is too short for HS256"))?;
    verify::verify(compact, verifier.as_ref()).ok_or(Failure::Refused("the assertion's signature does not verify"))
}

/// Verifies a request object `client` signed with one of its registered keys; a refusal is
/// `invalid_request_object`.
pub async fn verify_signed_request_object(
    state: &AppState,
    client: &Client,
    alg: &str,
    kid: Option<&str>,
    compact: &str,
) -> Result<Map<String, Value>, OAuthError> {
    verify_with_client_keys(state, client, alg, kid, compact).await.map_err(|failure| match failure {
        Failure::Refused(why) => OAuthError::new(ErrorCode::InvalidRequestObject, why),
        Failure::Error(error) => error,
    })
}

/// `private_key_jwt`: the registered `jwks`, or the `jwks_uri` document (re-fetched once when
/// the assertion names a key it does not hold).
async fn verify_with_client_keys(
    state: &AppState,
    client: &Client,
    alg: &str,
    kid: Option<&str>,
    compact: &str,
) -> Result<Map<String, Value>, Failure> {
    let unreachable = |error: String| {
        tracing::warn!(client_id = %client.id, %error, "cannot read the client's jwks_uri");
        Failure::Refused("the client's keys are unavailable")
    };
    if let Some(document) = &client.metadata.jwks {
        let keys = parse_key_set(document).ok_or(Failure::Refused("the registered jwks is not a JWK set"))?;
        return try_keys(&keys, alg, kid, compact).ok_or(Failure::Refused("no registered key verifies the assertion"));
    }
    let uri = client.metadata.jwks_uri.as_deref().ok_or(Failure::Refused("the client has no keys"))?;
    let keys = state.client_keys.get(&state.http, uri).await.map_err(unreachable)?;
    if let Some(claims) = try_keys(&keys, alg, kid, compact) {
        return Ok(claims);
    }
    let unknown_kid = kid.is_none_or(|kid| !keys.iter().any(|k| k.key_id() == Some(kid)));
    if unknown_kid && let Some(fresh) = state.client_keys.refetch(&state.http, uri).await.map_err(unreachable)? {
        return try_keys(&fresh, alg, kid, compact).ok_or(Failure::Refused("no published key verifies the assertion"));
    }
    Err(Failure::Refused("no published key verifies the assertion"))
}

/// The claims of `compact` if one of `keys` (the one named `kid`, when named) verifies it.
fn try_keys(keys: &[Jwk], alg: &str, kid: Option<&str>, compact: &str) -> Option<Map<String, Value>> {
    keys.iter()
        .filter(|key| kid.is_none_or(|kid| key.key_id() == Some(kid)))
        .filter_map(|key| verify::verifier_for(alg, key))
        .find_map(|verifier| verify::verify(compact, verifier.as_ref()))
}

/// The claim checks of RFC 7523 §3: `iss` and `sub` are the client, `aud` names us, `exp` is
/// present and ahead (within [`MAX_LIFETIME`]), `iat` and `nbf` are not in the future, and a
/// `jti` is present. Returns `exp` and `jti`.
pub fn check_claims(
    claims: &Map<String, Value>,
    client_id: &str,
    audiences: &[&str],
    now: i64,
) -> Result<(i64, String), &'static str> {
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(client_id) || text("sub") != Some(client_id) {
        return Err("iss and sub must be the client_id");
    }
    if !verify::audience_contains(claims, audiences) {
        return Err("aud does not name this server");
    }
    let exp = verify::numeric_date(claims, "exp").ok_or("exp is missing")?;
    if exp <= now - SKEW {
        return Err("the assertion has expired");
    }
    if exp > now + MAX_LIFETIME + SKEW {
        return Err("the assertion is valid for too long");
    }
    for name in ["iat", "nbf"] {
        if claims.contains_key(name) {
            let at = verify::numeric_date(claims, name).ok_or("iat and nbf must be numbers")?;
            if at > now + SKEW {
                return Err("iat or nbf is in the future");
            }
        }
    }
    let jti = text("jti").filter(|j| !j.is_empty() && j.chars().count() <= MAX_JTI_CHARS).ok_or("jti is missing")?;
    Ok((exp, jti.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const AUD: &[&str] = &["https://op.example", "https://op.example/token"];

    fn claims(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn valid(now: i64) -> Value {
        json!({ "iss": "c1", "sub": "c1", "aud": "https://op.example/token", "exp": now + 60, "iat": now, "nbf": now, "jti": "j1" })
    }

    #[test]
    fn a_valid_assertion_passes() {
        let now = 1_800_000_000;
        assert_eq!(check_claims(&claims(valid(now)), "c1", AUD, now), Ok((now + 60, "j1".to_string())));
        let mut issuer_array = valid(now);
        issuer_array["aud"] = json!(["https://op.example"]);
        assert!(check_claims(&claims(issuer_array), "c1", AUD, now).is_ok());
    }

    #[test]
    fn each_broken_claim_fails() {
        let now = 1_800_000_000;
        let cases: Vec<(&str, Value)> = vec![
            ("iss", json!("c2")),
            ("sub", json!("c2")),
            ("aud", json!("https://elsewhere.example")),
            ("aud", json!(["https://op.example/authorize"])),
            ("exp", json!(now - 120)),
            ("exp", json!(now + 2 * MAX_LIFETIME)),
            ("exp", json!("soon")),
            ("iat", json!(now + 600)),
            ("nbf", json!(now + 600)),
            ("iat", json!("now")),
            ("jti", json!("")),
            ("jti", json!(5)),
        ];
        for (name, value) in cases {
            let mut broken = valid(now);
            broken[name] = value.clone();
            assert!(check_claims(&claims(broken), "c1", AUD, now).is_err(), "{name} = {value}");
        }
        for name in ["exp", "jti", "iss"] {
            let mut missing = claims(valid(now));
            missing.remove(name);
            assert!(check_claims(&missing, "c1", AUD, now).is_err(), "without {name}");
        }
    }

    #[test]
    fn hmac_algorithms_mean_client_secret_jwt() {
        assert_eq!(method_for("HS256"), "client_secret_jwt");
        assert_eq!(method_for("RS256"), "private_key_jwt");
    }
}
