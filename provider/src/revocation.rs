//! Token revocation (RFC 7009) at `POST /revoke`, with client authentication. A client revokes
//! only its own tokens; an unknown token, or another client's, is answered 200 all the same
//! (§2.2), so the endpoint reveals nothing. Revoking a refresh token revokes its grant: the whole
//! rotation family and the access tokens issued under it (§2.1).

use crate::oauth::OAuthError;
use crate::oauth::client_auth;
use crate::oauth::form::{self, FormParams};
use crate::state::AppState;
use crate::tokens::access_token;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use poort_storage::now;
use poort_storage::repo::TokenKind;

/// Where the endpoint is served (under the issuer).
pub const PATH: &str = "/revoke";

/// `POST /revoke`.
pub async fn revoke(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut response = match body {
        Err(rejection) => form::unreadable_body(rejection),
        Ok(body) => match handle(&state, &headers, &body).await {
            Ok(()) => StatusCode::OK.into_response(),
            Err(error) => error.into_response(),
        },
    };
    crate::token::no_store(&mut response);
    response
}

async fn handle(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<(), OAuthError> {
    let params = FormParams::from_request(headers, body)?;
    let token = params.require("token")?;
    // `token_type_hint` only speeds up a lookup; one table holds both kinds, so it is ignored.
    let client = client_auth::authenticate(state, headers, &params, PATH).await?;
    let Some(record) = access_token::find_presented(state, token).await? else { return Ok(()) };
    if record.client_id != client.id {
        tracing::info!(client_id = %client.id, "a client tried to revoke another client's token");
        return Ok(());
    }
    let grants = state.store.grants();
    match record.kind {
        TokenKind::Access => {
            grants.revoke_token(&record.token_hash).await?;
        }
        TokenKind::Refresh => {
            grants.revoke_grant(&record.grant_id, now()).await?;
        }
    }
    Ok(())
}
