//! Who may call the admin API: the bearer of an access token issued here (found and checked as
//! the UserInfo endpoint does), active, whose scope holds `poort.admin`, of a client that is still
//! registered (by configuration or the CLI) and still allowed that scope — so taking the scope from a client's configuration
//! ends its admin tokens at once. No token or a bad one: 401 with a bearer challenge; a good token
//! without the scope: 403 `insufficient_scope`.

use super::SCOPE;
use super::error::AdminError;
use crate::oauth::{Client, ErrorCode, OAuthError};
use crate::state::AppState;
use crate::token::issue::has_scope;
use crate::userinfo::{Failure, active_token, header_token, invalid_token};
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use poort_storage::repo::ClientSource;

/// The caller of an admin endpoint, authenticated.
#[derive(Debug, Clone)]
pub struct Admin {
    /// The client the token was issued to: named in the audit events.
    pub client_id: String,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = AdminError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = header_token(&parts.headers)?.ok_or(Failure::NoToken)?;
        let (record, _grant) = active_token(state, &token).await?;
        if !has_scope(&record.scope, SCOPE) {
            return Err(insufficient_scope("the access token lacks the poort.admin scope"));
        }
        let client = Client::load(&state.store, &record.client_id).await.map_err(Failure::from)?;
        let client = client.ok_or_else(|| invalid_token("the client is gone"))?;
        // A self-registered client never holds the scope (registration refuses it), whatever its
        // metadata says.
        let allowed = has_scope(client.metadata.scope.as_deref().unwrap_or_default(), SCOPE);
        if !allowed || client.source == ClientSource::Dynamic {
            return Err(insufficient_scope("the client may no longer use the admin API"));
        }
        Ok(Admin { client_id: client.id })
    }
}

fn insufficient_scope(description: &'static str) -> AdminError {
    Failure::Refused(OAuthError::new(ErrorCode::InsufficientScope, description)).into()
}
