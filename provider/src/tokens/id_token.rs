//! ID tokens exactly per OpenID Connect Core §2 and §3.1.3.6: signed at response time with the
//! client's `id_token_signed_response_alg` (RS256 unless it registered another, `none` only if
//! it registered that), `kid` in the header.

use crate::oauth::{Client, OAuthError};
use crate::state::AppState;
use crate::tokens::jwt;
use serde_json::{Map, Value, json};

/// What goes into one ID token beyond what the client and the clock decide.
#[derive(Debug, Clone, Default)]
pub struct IdTokenContent<'a> {
    /// The user's subject as this client sees it ([`crate::oauth::subject::subject_for`]).
    pub subject: &'a str,
    pub auth_time: Option<i64>,
    /// Only when the authorization request carried one (never on refresh).
    pub nonce: Option<&'a str>,
    pub acr: Option<&'a str>,
    pub amr: &'a [String],
    /// The browser session (`sid`, for logout).
    pub sid: Option<&'a str>,
    /// The access token issued with it, for `at_hash`.
    pub access_token: Option<&'a str>,
    /// The code issued with it (hybrid flows), for `c_hash`.
    pub code: Option<&'a str>,
    /// Identity claims to include ([`crate::claims::release`]); protocol claims win.
    pub identity: Map<String, Value>,
}

/// Builds and signs an ID token for `client`.
pub fn sign(state: &AppState, client: &Client, content: &IdTokenContent<'_>) -> Result<String, OAuthError> {
    let alg = client.id_token_alg();
    let now = poort_storage::now();
    let mut claims = content.identity.clone();
    claims.insert("iss".into(), json!(&*state.issuer));
    claims.insert("sub".into(), json!(content.subject));
    claims.insert("aud".into(), json!(client.id));
    claims.insert("azp".into(), json!(client.id));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + state.settings.tokens.id_token_ttl.as_secs() as i64));
    let optional = [
        ("auth_time", content.auth_time.map(Value::from)),
        ("nonce", content.nonce.map(Value::from)),
        ("acr", content.acr.filter(|a| !a.is_empty()).map(Value::from)),
        ("amr", (!content.amr.is_empty()).then(|| Value::from(content.amr.to_vec()))),
        ("sid", content.sid.map(Value::from)),
        ("at_hash", content.access_token.map(|t| Value::from(jwt::half_hash(alg, t)))),
        ("c_hash", content.code.map(|c| Value::from(jwt::half_hash(alg, c)))),
    ];
    for (name, value) in optional {
        match value {
            Some(value) => claims.insert(name.into(), value),
            None => claims.remove(name),
        };
    }
    jwt::sign(&state.keyring.snapshot(), alg, None, claims)
}
