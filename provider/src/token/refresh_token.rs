//! The `refresh_token` grant (RFC 6749 §6, OpenID Connect Core §12): the token must be this
//! client's; it rotates on every use, and a rotated token presented again revokes its grant
//! (the whole family and the access tokens, RFC 9700 §4.14.2). The scope may be narrowed. The
//! new ID token keeps `sub`, `auth_time`, `aud` and `azp`, with a new `iat` and no `nonce`.

use super::TokenResponse;
use super::issue::{self, UserGrant};
use crate::crypto::{is_token_shaped, ordered_token, token_key};
use crate::oauth::form::FormParams;
use crate::oauth::{Client, ErrorCode, OAuthError};
use crate::state::AppState;
use poort_storage::now;
use poort_storage::repo::{NewRefreshToken, RotateOutcome, TokenKind};

/// A token request for this grant, its parameters checked for shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    refresh_token: String,
    scope: Option<String>,
}

impl Request {
    pub fn from_params(params: &FormParams) -> Result<Self, OAuthError> {
        Ok(Self {
            refresh_token: params.require("refresh_token")?.to_string(),
            scope: params.get("scope").map(str::to_string),
        })
    }
}

fn invalid() -> OAuthError {
    OAuthError::invalid_grant("the refresh token is invalid, expired or revoked")
}

/// Exchanges the refresh token of the authenticated `client` for new tokens.
pub async fn refresh(state: &AppState, client: &Client, request: Request) -> Result<TokenResponse, OAuthError> {
    if !is_token_shaped(&request.refresh_token) {
        return Err(invalid());
    }
    let grants = state.store.grants();
    let hash = token_key(&state.hash_key, &request.refresh_token);
    // Everything that can be refused without touching the token is checked first: another
    // client's token, a wider scope and a user who can no longer sign in leave it as it was.
    let current = grants.find_token(&hash).await?.filter(|t| t.kind == TokenKind::Refresh).ok_or_else(invalid)?;
    if current.client_id != client.id {
        return Err(invalid());
    }
    let scope = narrowed(&current.scope, request.scope.as_deref())?;
    let grant = grants.get_grant(&current.grant_id).await?.ok_or_else(invalid)?;
    let user = issue::active_user(state, grant.user_id.as_deref().ok_or_else(invalid)?).await?;

    let successor = ordered_token();
    let expires_at = issue::refresh_expiry(state);
    let rotation = NewRefreshToken { token_hash: token_key(&state.hash_key, &successor), expires_at };
    match grants.rotate_refresh(&hash, rotation).await? {
        RotateOutcome::Rotated { .. } => {}
        RotateOutcome::Reused(token) => {
            if let Some(family) = &token.family_id {
                grants.revoke_family(family).await?;
            }
            grants.revoke_grant(&token.grant_id, now()).await?;
            tracing::warn!(grant_id = %token.grant_id, client_id = %client.id, "a rotated refresh token was used again; its grant is revoked");
            return Err(invalid());
        }
        RotateOutcome::Revoked(_) | RotateOutcome::Expired | RotateOutcome::NotFound => return Err(invalid()),
    }
    // A grant in use lives on: its lifetime slides with its newest refresh token.
    grants.extend_grant(&grant.id, expires_at).await?;

    // acr and amr belong to the sign-in; they are known while the session of that sign-in is.
    let session = match grant.session_id.as_deref() {
        Some(id) => state.store.sessions().get(id).await?.filter(|s| Some(s.auth_time) == grant.auth_time),
        None => None,
    };
    let issued = issue::access_and_id_token(
        state,
        &UserGrant {
            client,
            grant_id: &grant.id,
            user: &user,
            scope: &scope,
            auth_time: grant.auth_time,
            session_id: grant.session_id.as_deref(),
            nonce: None,
            acr: session.as_ref().and_then(|s| s.acr.as_deref()),
            amr: session.as_ref().map(|s| s.amr.as_slice()).unwrap_or_default(),
            claims_parameter: grant.claims.as_ref(),
        },
    )
    .await?;
    Ok(TokenResponse {
        refresh_token: Some(successor),
        id_token: issued.id_token,
        scope: Some(scope),
        ..TokenResponse::bearer(issued.access_token, issued.expires_in)
    })
}

/// The scope of the refreshed tokens: the original, or a subset of it (RFC 6749 §6).
fn narrowed(original: &str, requested: Option<&str>) -> Result<String, OAuthError> {
    let Some(requested) = requested else { return Ok(original.to_string()) };
    let mut scope: Vec<&str> = Vec::new();
    for word in requested.split(' ').filter(|w| !w.is_empty()) {
        if !issue::has_scope(original, word) {
            return Err(OAuthError::new(ErrorCode::InvalidScope, "the scope is wider than the one originally granted"));
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

    #[test]
    fn the_scope_may_only_narrow() {
        assert_eq!(narrowed("openid profile offline_access", None).unwrap(), "openid profile offline_access");
        assert_eq!(narrowed("openid profile offline_access", Some("openid  openid")).unwrap(), "openid");
        assert_eq!(narrowed("openid profile", Some("profile openid")).unwrap(), "profile openid");
        assert_eq!(narrowed("openid", Some("openid email")).unwrap_err().code, ErrorCode::InvalidScope);
    }
}
