//! Access tokens: RFC 9068 JWTs (`typ: at+jwt`, signed RS256 unless the client registered
//! `access_token_signed_response_alg`) by default, or opaque random
//! values for clients that ask for them. Either way the token has a row in `tokens` under its
//! grant, so revoking the token or the grant ends it:
//!
//! - an opaque token (and every refresh token) is an ordered token, stored under
//!   `token_key(hash_key, token)`: its issue time, then its keyed hash;
//! - a JWT's `jti` is an ordered token, and the JWT is stored under its issue time and the keyed
//!   hash of `"jti:" + jti`.
//!
//! A presented opaque value must look like one we issue (`crypto::is_token_shaped`), so a string
//! such as `jti:…` can never be mistaken for an opaque token.

use crate::crypto::{is_token_shaped, ordered_token, token_key, token_key_hashing};
use crate::oauth::{Client, OAuthError};
use crate::state::AppState;
use crate::tokens::jwt;
use crate::tokens::verify::{self, numeric_date};
use josekit::jwk::Jwk;
use poort_storage::now;
use poort_storage::repo::{NewToken, TokenKind, TokenRecord};
use serde_json::{Map, Value, json};

/// The algorithm JWT access tokens are signed with by default (every key ring holds an RS256 key).
pub const JWT_ALG: &str = "RS256";
/// The `typ` header of RFC 9068 access tokens.
pub const JWT_TYPE: &str = "at+jwt";

/// What an access token is issued for.
#[derive(Debug, Clone)]
pub struct AccessTokenRequest<'a> {
    pub client: &'a Client,
    pub grant_id: &'a str,
    /// `None` for a token without a user (client credentials).
    pub user_id: Option<&'a str>,
    /// The `sub` claim: the user as this client sees them, or the client id without a user.
    pub subject: &'a str,
    pub scope: &'a str,
    pub auth_time: Option<i64>,
}

/// An issued access token and its lifetime in seconds.
#[derive(Debug, Clone)]
pub struct IssuedAccessToken {
    pub token: String,
    pub expires_in: i64,
}

/// Issues an access token and stores its row. `invalid_grant` when the grant was revoked or
/// expired meanwhile (nothing is stored then).
pub async fn issue(state: &AppState, request: &AccessTokenRequest<'_>) -> Result<IssuedAccessToken, OAuthError> {
    let (issued, row) = mint(state, request)?;
    match state.store.grants().store_token(row).await? {
        Some(_) => Ok(issued),
        None => Err(OAuthError::invalid_grant("the grant has been revoked or has expired")),
    }
}

/// Makes an access token and the row that stores it, without storing it (the caller does,
/// under `request.grant_id` or with a new grant).
pub fn mint(state: &AppState, request: &AccessTokenRequest<'_>) -> Result<(IssuedAccessToken, NewToken), OAuthError> {
    let planned = PlannedAccessToken::new(state, request.client);
    let row = planned.row(&request.client.id, request.grant_id, request.user_id, request.scope);
    Ok((planned.finish(state, request)?, row))
}

/// An access token whose row can be stored before the token itself is made: its issue time,
/// and its opaque value or a JWT's `jti`, fix the row. A code's token row is stored in the
/// write that spends the code, before the grant's details are known here; a JWT is signed
/// after, with them.
#[derive(Debug, Clone)]
pub struct PlannedAccessToken {
    issued_at: i64,
    expires_in: i64,
    /// The keyed hash the row is stored under.
    token_hash: String,
    value: Planned,
}

#[derive(Debug, Clone)]
enum Planned {
    Opaque(String),
    Jwt { jti: String },
}

impl PlannedAccessToken {
    /// A token issued now, in the format `client` takes.
    pub fn new(state: &AppState, client: &Client) -> Self {
        let issued_at = now();
        let expires_in = state.settings.tokens.access_token_ttl.as_secs() as i64;
        if client.wants_jwt_access_tokens() {
            let jti = ordered_token();
            Self { issued_at, expires_in, token_hash: jti_hash(state, &jti), value: Planned::Jwt { jti } }
        } else {
            let token = ordered_token();
            Self { issued_at, expires_in, token_hash: token_key(&state.hash_key, &token), value: Planned::Opaque(token) }
        }
    }

    /// The row that stores the token under `grant_id`.
    pub fn row(&self, client_id: &str, grant_id: &str, user_id: Option<&str>, scope: &str) -> NewToken {
        NewToken {
            token_hash: self.token_hash.clone(),
            kind: TokenKind::Access,
            grant_id: grant_id.to_string(),
            client_id: client_id.to_string(),
            user_id: user_id.map(str::to_string),
            scope: scope.to_string(),
            family_id: None,
            expires_at: self.issued_at + self.expires_in,
        }
    }

    /// The token itself: the opaque value, or the JWT signed now for `request` (which must be
    /// what the row was made for).
    pub fn finish(self, state: &AppState, request: &AccessTokenRequest<'_>) -> Result<IssuedAccessToken, OAuthError> {
        let token = match self.value {
            Planned::Opaque(token) => token,
            Planned::Jwt { jti } => {
                let mut claims = Map::new();
                claims.insert("iss".into(), json!(&*state.issuer));
                claims.insert("sub".into(), json!(request.subject));
                claims.insert("aud".into(), json!(request.client.id));
                claims.insert("client_id".into(), json!(request.client.id));
                claims.insert("iat".into(), json!(self.issued_at));
                claims.insert("exp".into(), json!(self.issued_at + self.expires_in));
                claims.insert("jti".into(), json!(jti));
                claims.insert("scope".into(), json!(request.scope));
                if let Some(auth_time) = request.auth_time {
                    claims.insert("auth_time".into(), json!(auth_time));
                }
                jwt::sign(&state.keyring.snapshot(), request.client.access_token_alg(), Some(JWT_TYPE), claims)?
            }
        };
        Ok(IssuedAccessToken { token, expires_in: self.expires_in })
    }
}

/// The stored row of a presented token (access or refresh), in whatever state; `None` for a
/// value we did not issue, an unverifiable JWT or an expired one.
pub async fn find_presented(state: &AppState, presented: &str) -> Result<Option<TokenRecord>, OAuthError> {
    match stored_hash(state, presented) {
        Some(hash) => Ok(state.store.grants().find_token(&hash).await?),
        None => Ok(None),
    }
}

/// The `token_hash` a presented token is stored under.
pub fn stored_hash(state: &AppState, presented: &str) -> Option<String> {
    if is_token_shaped(presented) {
        return Some(token_key(&state.hash_key, presented));
    }
    let claims = verify_jwt(state, presented)?;
    claims.get("jti").and_then(Value::as_str).map(|jti| jti_hash(state, jti))
}

fn jti_hash(state: &AppState, jti: &str) -> String {
    token_key_hashing(&state.hash_key, jti, &format!("jti:{jti}"))
}

/// The claims of a JWT access token we issued and that has not expired: `typ` `at+jwt`, a key
/// of ours named by `kid`, our issuer.
pub fn verify_jwt(state: &AppState, presented: &str) -> Option<Map<String, Value>> {
    let jwt = verify::peek(presented)?;
    let typ = jwt.typ()?;
    if !typ.eq_ignore_ascii_case(JWT_TYPE) && !typ.eq_ignore_ascii_case("application/at+jwt") {
        return None;
    }
    let (kid, alg) = (jwt.kid()?, jwt.alg()?);
    let keys = state.keyring.snapshot();
    let key = keys.keys.iter().find(|k| k.record.kid == kid && k.record.alg == alg)?;
    let public = Jwk::from_map(key.record.public_jwk.as_object()?.clone()).ok()?;
    let claims = verify::verify(presented, verify::verifier_for(alg, &public)?.as_ref())?;
    let fresh = numeric_date(&claims, "exp").is_some_and(|exp| exp > now());
    (claims.get("iss").and_then(Value::as_str) == Some(&*state.issuer) && fresh).then_some(claims)
}
