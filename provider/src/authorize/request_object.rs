//! Request objects (OpenID Connect Core §6.1): the `request` parameter — or the object a
//! `request_uri` points at ([`super::request_uri`]) — as a JWT whose claims are the
//! authorization parameters. Parameters inside the object win over the query. Signed objects
//! are verified with the client's registered keys (`jwks` or `jwks_uri`); unsigned ones
//! (`alg: none`) are accepted unless the client registered a signing algorithm.

use super::params::RawParams;
use crate::oauth::{Client, ErrorCode, OAuthError};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

fn invalid(description: &'static str) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRequestObject, description)
}

/// Algorithms a request object may be signed with (besides `none`).
pub const SIGNING_ALGORITHMS: &[&str] = &["RS256", "PS256", "ES256", "EdDSA"];

/// The claims of a request object, its signature verified when it has one.
pub async fn verify(state: &crate::state::AppState, jwt: &str, client: &Client) -> Result<Map<String, Value>, OAuthError> {
    let claims = decode(jwt, client, &state.issuer)?;
    let Some(unverified) = crate::tokens::verify::peek(jwt) else { return Err(invalid("request is not a compact JWT")) };
    match unverified.alg() {
        Some("none") => Ok(claims),
        Some(alg) => crate::oauth::client_auth::verify_signed_request_object(state, client, alg, unverified.kid(), jwt).await,
        None => Err(invalid("the request object has no alg")),
    }
}

/// The claims of a request object, once its header and claims are acceptable for `client`
/// (the signature of a signed one is checked by [`verify`]).
pub fn decode(jwt: &str, client: &Client, issuer: &str) -> Result<Map<String, Value>, OAuthError> {
    let mut parts = jwt.split('.');
    let (Some(header), Some(payload), Some(signature), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(invalid("request is not a compact JWT"));
    };
    let header: Value = json_part(header).ok_or_else(|| invalid("the request object's header is malformed"))?;
    let claims: Value = json_part(payload).ok_or_else(|| invalid("the request object's payload is malformed"))?;
    let alg = header.get("alg").and_then(Value::as_str).ok_or_else(|| invalid("the request object has no alg"))?;
    match (alg, client.metadata.request_object_signing_alg.as_deref()) {
        ("none", None | Some("none")) if signature.is_empty() => {}
        ("none", _) => return Err(invalid("this client must sign its request objects")),
        (alg, registered) if SIGNING_ALGORITHMS.contains(&alg) && registered.is_none_or(|r| r == alg) && !signature.is_empty() => {}
        _ => return Err(invalid("the request object's signing algorithm is not acceptable")),
    }
    let Value::Object(claims) = claims else { return Err(invalid("the request object's payload is not an object")) };
    if let Some(iss) = claims.get("iss")
        && iss.as_str() != Some(client.id.as_str())
    {
        return Err(invalid("the request object's iss is not the client"));
    }
    if let Some(aud) = claims.get("aud") {
        let ours = match aud {
            Value::String(a) => a == issuer,
            Value::Array(items) => items.iter().any(|a| a.as_str() == Some(issuer)),
            _ => false,
        };
        if !ours {
            return Err(invalid("the request object's aud is not this issuer"));
        }
    }
    if let Some(exp) = claims.get("exp") {
        let exp = exp.as_i64().ok_or_else(|| invalid("the request object's exp is not a number"))?;
        if exp <= poort_storage::now() {
            return Err(invalid("the request object has expired"));
        }
    }
    for name in ["client_id", "response_type"] {
        if let Some(value) = claims.get(name)
            && value.as_str().is_none()
        {
            return Err(invalid("the request object's client_id and response_type must be strings"));
        }
    }
    Ok(claims)
}

/// The query's parameters with the object's on top (OpenID Connect Core §6.3.3). `client_id`
/// and `response_type` must agree with the query when the object repeats them.
pub fn merge(query: &RawParams, claims: Map<String, Value>) -> Result<RawParams, OAuthError> {
    let mut merged = query.clone();
    merged.remove("request");
    merged.remove("request_uri");
    for (name, value) in claims {
        // The JWT's own claims are not parameters, and an object cannot point at another one
        // (RFC 9101 §4).
        if matches!(name.as_str(), "iss" | "aud" | "exp" | "iat" | "nbf" | "jti" | "request" | "request_uri") {
            continue;
        }
        let text = match value {
            Value::String(s) => s,
            Value::Null => continue,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => other.to_string(),
        };
        if (name == "client_id" || name == "response_type") && query.get(&name).is_some_and(|q| q != text) {
            return Err(invalid("client_id and response_type must match the request object"));
        }
        if !text.is_empty() {
            merged.set(&name, text);
        }
    }
    Ok(merged)
}

fn json_part(part: &str) -> Option<Value> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Client {
        crate::oauth::client::test_client(serde_json::json!({ "redirect_uris": ["https://rp/cb"] }))
    }

    fn unsigned(claims: Value) -> String {
        format!("{}.{}.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#), URL_SAFE_NO_PAD.encode(claims.to_string()))
    }

    #[test]
    fn unsigned_objects_supply_and_override_parameters() {
        let claims = decode(&unsigned(serde_json::json!({ "state": "s", "nonce": "n", "redirect_uri": "https://rp/cb", "max_age": 10 })), &client(), "https://op").unwrap();
        let query = RawParams::parse("client_id=c&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Frp%2Fbad&request=x");
        let merged = merge(&query, claims).unwrap();
        assert_eq!(merged.get("request"), None);
        let by_reference = RawParams::parse("client_id=c&request_uri=https%3A%2F%2Frp%2Fr");
        let nested = unsigned(serde_json::json!({ "request_uri": "https://elsewhere/r", "request": "x.y.", "state": "s" }));
        let merged_reference = merge(&by_reference, decode(&nested, &client(), "https://op").unwrap()).unwrap();
        assert_eq!((merged_reference.get("request_uri"), merged_reference.get("request")), (None, None));
        assert_eq!(merged_reference.get("state"), Some("s"));
        assert_eq!(merged.get("state"), Some("s"));
        assert_eq!(merged.get("redirect_uri"), Some("https://rp/cb"));
        assert_eq!(merged.get("max_age"), Some("10"));
        assert_eq!(merged.get("request"), None);
    }

    #[test]
    fn malformed_or_foreign_objects_are_refused() {
        let c = client();
        for jwt in ["x", "a.b", "e30.e30.e30.e30", &unsigned(serde_json::json!({ "iss": "other" })), &unsigned(serde_json::json!({ "aud": "https://elsewhere" })), &unsigned(serde_json::json!({ "exp": 1 }))] {
            assert_eq!(decode(jwt, &c, "https://op").unwrap_err().code, ErrorCode::InvalidRequestObject, "{jwt}");
        }
        let query = RawParams::parse("client_id=c&response_type=code");
        let claims = decode(&unsigned(serde_json::json!({ "client_id": "d" })), &c, "https://op").unwrap();
        assert!(merge(&query, claims).is_err());
    }
}
