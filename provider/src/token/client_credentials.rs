//! The `client_credentials` grant (RFC 6749 §4.4): a confidential client acting for itself.
//! The scope is limited to the client's registered `scope` metadata (without `openid` and
//! `offline_access`, which only make sense with a user); without a requested scope the client
//! gets all of it. The access token's `sub` is the client id (RFC 9068 §2.2).

use super::TokenResponse;
use crate::oauth::form::FormParams;
use crate::oauth::{Client, ErrorCode, OAuthError};
use crate::state::AppState;
use crate::tokens::access_token::{self, AccessTokenRequest};
use poort_storage::now;
use poort_storage::repo::NewGrant;

/// Scopes that need a user and are never granted to a client alone.
const USER_SCOPES: &[&str] = &["openid", "offline_access"];

/// A token request for this grant, its parameters checked for shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    scope: Option<String>,
}

impl Request {
    pub fn from_params(params: &FormParams) -> Result<Self, OAuthError> {
        Ok(Self { scope: params.get("scope").map(str::to_string) })
    }
}

/// Issues an access token to the authenticated `client` itself.
pub async fn grant(state: &AppState, client: &Client, request: Request) -> Result<TokenResponse, OAuthError> {
    if client.is_public() {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "public clients cannot use client_credentials"));
    }
    let scope = granted_scope(client, request.scope.as_deref())?;
    let expires_at = now() + state.settings.tokens.access_token_ttl.as_secs() as i64;
    let request = AccessTokenRequest { client, grant_id: "", user_id: None, subject: &client.id, scope: &scope, auth_time: None };
    let (access, row) = access_token::mint(state, &request)?;
    // The grant and its token are stored together: a client's token needs no separate grant
    // that could be revoked between the two.
    let grant = NewGrant {
        client_id: client.id.clone(),
        user_id: None,
        session_id: None,
        scope: scope.clone(),
        claims: None,
        auth_time: None,
        expires_at,
    };
    state.store.grants().create_grant_with_token(grant, row).await?;
    Ok(TokenResponse {
        scope: (!scope.is_empty()).then_some(scope),
        ..TokenResponse::bearer(access.token, access.expires_in)
    })
}

/// The requested scope if the client may have all of it; everything it may have when it asked
/// for none.
fn granted_scope(client: &Client, requested: Option<&str>) -> Result<String, OAuthError> {
    let allowed: Vec<&str> = client
        .metadata
        .scope
        .as_deref()
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty() && !USER_SCOPES.contains(s))
        .collect();
    let Some(requested) = requested else { return Ok(allowed.join(" ")) };
    let mut scope: Vec<&str> = Vec::new();
    for word in requested.split(' ').filter(|w| !w.is_empty()) {
        if !allowed.contains(&word) {
            return Err(OAuthError::new(ErrorCode::InvalidScope, "the client may not have this scope"));
        }
        if !scope.contains(&word) {
            scope.push(word);
        }
    }
    Ok(scope.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use poort_storage::repo::ClientSource;

    fn client(scope: Option<&str>) -> Client {
        Client {
            id: "svc".into(),
            secret_hash: None,
            secret_sealed: None,
            secret_expires_at: 0,
            source: ClientSource::Cli,
            metadata: serde_json::from_value(serde_json::json!({ "scope": scope })).unwrap(),
        }
    }

    #[test]
    fn the_scope_is_limited_to_the_registered_one_without_user_scopes() {
        let c = client(Some("openid reports:read reports:write offline_access"));
        assert_eq!(granted_scope(&c, None).unwrap(), "reports:read reports:write");
        assert_eq!(granted_scope(&c, Some("reports:read")).unwrap(), "reports:read");
        assert!(granted_scope(&c, Some("openid")).is_err());
        assert!(granted_scope(&c, Some("admin")).is_err());
        assert_eq!(granted_scope(&client(None), None).unwrap(), "");
        assert!(granted_scope(&client(None), Some("anything")).is_err());
    }
}
