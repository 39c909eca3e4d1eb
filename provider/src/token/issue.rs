//! What the user grants (authorization code, refresh token) share: the user checked, the access
//! token, the ID token with its requested claims, and new refresh tokens.

use crate::claims::{self, Target};
use crate::crypto::{ordered_token, token_key};
use crate::oauth::{Client, OAuthError};
use crate::state::AppState;
use crate::tokens::access_token::{self, AccessTokenRequest, PlannedAccessToken};
use crate::tokens::id_token::{self, IdTokenContent};
use poort_storage::now;
use poort_storage::repo::{NewToken, TokenKind, UserRecord, UserStatus};
use serde_json::Value;

/// The grant a user gave a client, as the tokens to issue see it.
#[derive(Debug, Clone)]
pub struct UserGrant<'a> {
    pub client: &'a Client,
    pub grant_id: &'a str,
    pub user: &'a UserRecord,
    /// The scope of the tokens issued now (narrowed on refresh).
    pub scope: &'a str,
    pub auth_time: Option<i64>,
    pub session_id: Option<&'a str>,
    pub nonce: Option<&'a str>,
    pub acr: Option<&'a str>,
    pub amr: &'a [String],
    /// The `claims` request parameter of the authorization.
    pub claims_parameter: Option<&'a Value>,
}

/// The tokens issued for a user grant (without the refresh token).
#[derive(Debug, Clone)]
pub struct Issued {
    pub access_token: String,
    pub expires_in: i64,
    pub id_token: Option<String>,
}

/// The user behind a grant, who must still exist and be active.
pub async fn active_user(state: &AppState, user_id: &str) -> Result<UserRecord, OAuthError> {
    match state.store.users().get(user_id).await? {
        Some(user) if user.status == UserStatus::Active => Ok(user),
        _ => Err(OAuthError::invalid_grant("the user of this grant can no longer sign in")),
    }
}

pub fn has_scope(scope: &str, wanted: &str) -> bool {
    scope.split(' ').any(|s| s == wanted)
}

/// Issues the access token and, for `openid` scopes, the ID token.
pub async fn access_and_id_token(state: &AppState, grant: &UserGrant<'_>) -> Result<Issued, OAuthError> {
    let access = access_token_for(state, grant).await?;
    let id_token = if has_scope(grant.scope, "openid") {
        Some(id_token_for(state, grant, Some(&access.token), None, false)?)
    } else {
        None
    };
    Ok(Issued { access_token: access.token, expires_in: access.expires_in, id_token })
}

/// The access token of a user grant (the token endpoint's, and the authorization endpoint's for
/// response types with `token`).
pub async fn access_token_for(state: &AppState, grant: &UserGrant<'_>) -> Result<access_token::IssuedAccessToken, OAuthError> {
    let subject = crate::oauth::subject::subject_for(grant.client, &grant.user.id, &state.hash_key);
    access_token::issue(state, &access_token_request(grant, &subject)).await
}

/// The access token of a user grant whose row is stored already (see [`PlannedAccessToken`]).
pub fn finish_access_token(
    state: &AppState,
    grant: &UserGrant<'_>,
    planned: PlannedAccessToken,
) -> Result<access_token::IssuedAccessToken, OAuthError> {
    let subject = crate::oauth::subject::subject_for(grant.client, &grant.user.id, &state.hash_key);
    planned.finish(state, &access_token_request(grant, &subject))
}

fn access_token_request<'a>(grant: &UserGrant<'a>, subject: &'a str) -> AccessTokenRequest<'a> {
    AccessTokenRequest {
        client: grant.client,
        grant_id: grant.grant_id,
        user_id: Some(&grant.user.id),
        subject,
        scope: grant.scope,
        auth_time: grant.auth_time,
    }
}

/// The ID token of a user grant: `at_hash` for the access token issued with it, `c_hash` for
/// the code (hybrid flows). The scope's claims go to userinfo, which the access token reaches;
/// the ID token carries only the claims asked for individually (OpenID Connect Core §5.4) —
/// unless `scope_claims`, for `response_type=id_token`, where no access token exists: then the
/// scope's claims and those asked of userinfo go in the ID token.
pub fn id_token_for(
    state: &AppState,
    grant: &UserGrant<'_>,
    access_token: Option<&str>,
    code: Option<&str>,
    scope_claims: bool,
) -> Result<String, OAuthError> {
    let subject = crate::oauth::subject::subject_for(grant.client, &grant.user.id, &state.hash_key);
    let mut requested = claims::requested(grant.claims_parameter, Target::IdToken);
    if scope_claims {
        // No access token: what was asked of userinfo comes in the ID token (OpenID Connect Core §5.5).
        requested.extend(claims::requested(grant.claims_parameter, Target::Userinfo));
    }
    let identity = claims::release(grant.user, if scope_claims { grant.scope } else { "" }, &requested);
    let content = IdTokenContent {
        subject: &subject,
        auth_time: grant.auth_time,
        nonce: grant.nonce,
        acr: grant.acr,
        amr: grant.amr,
        sid: grant.session_id,
        access_token,
        code,
        identity,
    };
    id_token::sign(state, grant.client, &content)
}

/// Whether a refresh token goes with this grant: it asked for `offline_access` and the client
/// may use the refresh grant.
pub fn wants_refresh_token(client: &Client, scope: &str) -> bool {
    has_scope(scope, "offline_access") && client.allows_grant("refresh_token")
}

/// The first refresh token of a grant, made before it is stored (with the code it is issued
/// for, see `Grants::redeem_code_for_tokens`): it starts a new rotation family.
#[derive(Debug, Clone)]
pub struct PlannedRefreshToken {
    pub token: String,
    token_hash: String,
    family_id: String,
    expires_at: i64,
}

impl PlannedRefreshToken {
    pub fn new(state: &AppState) -> Self {
        let token = ordered_token();
        Self {
            token_hash: token_key(&state.hash_key, &token),
            token,
            family_id: uuid::Uuid::now_v7().to_string(),
            expires_at: refresh_expiry(state),
        }
    }

    /// The row that stores the token under `grant_id`.
    pub fn row(&self, client_id: &str, grant_id: &str, user_id: &str, scope: &str) -> NewToken {
        NewToken {
            token_hash: self.token_hash.clone(),
            kind: TokenKind::Refresh,
            grant_id: grant_id.to_string(),
            client_id: client_id.to_string(),
            user_id: Some(user_id.to_string()),
            scope: scope.to_string(),
            family_id: Some(self.family_id.clone()),
            expires_at: self.expires_at,
        }
    }
}

/// When a refresh token issued now expires.
pub fn refresh_expiry(state: &AppState) -> i64 {
    now() + state.settings.tokens.refresh_token_ttl.as_secs() as i64
}
