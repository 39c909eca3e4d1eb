//! Token introspection (RFC 7662) at `POST /introspect`, for confidential clients. A client
//! learns about its own tokens only: any other token, like an unknown, expired or revoked one,
//! is `{"active": false}` (§2.2).

use crate::oauth::client_auth;
use crate::oauth::form::{self, FormParams};
use crate::oauth::subject::subject_for;
use crate::oauth::{Client, OAuthError};
use crate::state::AppState;
use crate::tokens::access_token;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use poort_storage::now;
use poort_storage::repo::{TokenKind, TokenRecord};
use serde_json::{Map, Value, json};

/// Where the endpoint is served (under the issuer).
pub const PATH: &str = "/introspect";

/// The client authentication methods accepted here: a public client cannot introspect.
pub fn auth_methods() -> Vec<&'static str> {
    client_auth::METHODS.iter().copied().filter(|m| *m != "none").collect()
}

/// `POST /introspect`.
pub async fn introspect(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut response = match body {
        Err(rejection) => form::unreadable_body(rejection),
        Ok(body) => match handle(&state, &headers, &body).await {
            Ok(answer) => axum::Json(answer).into_response(),
            Err(error) => error.into_response(),
        },
    };
    crate::token::no_store(&mut response);
    response
}

async fn handle(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Value, OAuthError> {
    let params = FormParams::from_request(headers, body)?;
    let token = params.require("token")?;
    let client = client_auth::authenticate(state, headers, &params, PATH).await?;
    if client.is_public() {
        tracing::info!(client_id = %client.id, "a public client tried to introspect a token");
        return Err(OAuthError::invalid_client("client authentication failed"));
    }
    let inactive = json!({ "active": false });
    let Some(record) = access_token::find_presented(state, token).await? else { return Ok(inactive) };
    if record.client_id != client.id || !record.is_active(now()) {
        return Ok(inactive);
    }
    let grant = state.store.grants().get_grant(&record.grant_id).await?;
    if grant.is_none_or(|g| g.revoked_at.is_some()) {
        return Ok(inactive);
    }
    Ok(Value::Object(describe(state, &client, &record)))
}

/// The members of an active token's introspection response.
fn describe(state: &AppState, client: &Client, record: &TokenRecord) -> Map<String, Value> {
    let mut answer = Map::new();
    answer.insert("active".into(), json!(true));
    answer.insert("scope".into(), json!(record.scope));
    answer.insert("client_id".into(), json!(record.client_id));
    if record.kind == TokenKind::Access {
        answer.insert("token_type".into(), json!("Bearer"));
    }
    answer.insert("exp".into(), json!(record.expires_at));
    answer.insert("iat".into(), json!(record.created_at));
    let subject = match &record.user_id {
        Some(user_id) => subject_for(client, user_id, &state.hash_key),
        None => client.id.clone(),
    };
    answer.insert("sub".into(), json!(subject));
    answer.insert("aud".into(), json!(record.client_id));
    answer.insert("iss".into(), json!(&*state.issuer));
    answer
}
