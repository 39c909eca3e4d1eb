//! The handlers: register (`POST /register`), and read, update and delete
//! (`GET`/`PUT`/`DELETE /register/{client_id}`).

use super::access::{self, invalid_token};
use super::response::Information;
use super::validate::{self, Policy, invalid};
use super::{body, sector};
use crate::crypto::{b64url, constant_time_eq, keyed_hash, random_bytes, random_token};
use crate::oauth::client_auth::seal_secret;
use crate::oauth::{ClientMetadata, ErrorCode, OAuthError};
use crate::state::AppState;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use poort_storage::now;
use poort_storage::repo::{ClientSource, NewClient};
use serde_json::{Map, Value};

/// RFC 7591 §3.1: register a client.
pub async fn register(
    State(state): State<AppState>,
    ip: crate::accounts::throttle::ClientIp,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, OAuthError> {
    access::check_initial_access_token(&state, &headers)?;
    if !crate::accounts::throttle::allow_registration(&state, ip).await? {
        let mut refused = OAuthError::new(ErrorCode::TemporarilyUnavailable, "too many registrations from this address; try again later")
            .into_response();
        *refused.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        return Ok(refused);
    }
    let request = body::json_object(&headers, body, state.settings.server.max_body_bytes).await?;
    let metadata = checked_metadata(&state, &request).await?;
    let client_id = b64url(&random_bytes::<16>());
    let registration_access_token = random_token();
    let (new_secret, secret) = if needs_secret(&metadata) {
        issue_secret(&state, &metadata).map(|(s, c)| (Some(s), c))?
    } else {
        (None, SecretColumns::NONE)
    };
    let record = state
        .store
        .clients()
        .insert(NewClient {
            client_id,
            secret_hash: secret.hash.clone(),
            secret_sealed: secret.sealed,
            secret_expires_at: secret.expires_at,
            metadata: serde_json::to_value(&metadata).map_err(OAuthError::server_error)?,
            source: ClientSource::Dynamic,
            registration_token_hash: Some(keyed_hash(&state.hash_key, &registration_access_token)),
        })
        .await?;
    tracing::info!(client_id = %record.client_id, "registered a client");
    Information {
        issuer: &state.issuer,
        client_id: &record.client_id,
        issued_at: record.created_at,
        metadata: &metadata,
        new_secret: new_secret.as_deref(),
        has_secret: secret.hash.is_some(),
        secret_expires_at: secret.expires_at,
        registration_access_token: &registration_access_token,
    }
    .respond(StatusCode::CREATED)
}

/// RFC 7592 §2.1: the client's current registration (its secret is not repeated).
pub async fn read(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, OAuthError> {
    let Path(client_id) = path.map_err(|_| invalid_token())?;
    let managed = access::open_client(&state, &headers, &client_id).await?;
    let client = &managed.client;
    Information {
        issuer: &state.issuer,
        client_id: &client.id,
        issued_at: managed.created_at,
        metadata: &client.metadata,
        new_secret: None,
        has_secret: client.secret_hash.is_some(),
        secret_expires_at: client.secret_expires_at,
        registration_access_token: &managed.token,
    }
    .respond(StatusCode::OK)
}

/// RFC 7592 §2.2: replace the client's metadata. The secret stays unless the new metadata needs
/// one the client does not have (or has let expire); then a new one is issued and returned.
pub async fn update(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, OAuthError> {
    let Path(client_id) = path.map_err(|_| invalid_token())?;
    let managed = access::open_client(&state, &headers, &client_id).await?;
    let request = body::json_object(&headers, body, state.settings.server.max_body_bytes).await?;
    if request.get("client_id").and_then(Value::as_str) != Some(client_id.as_str()) {
        return Err(invalid("client_id must be sent and be this client's identifier"));
    }
    let sent_secret = match request.get("client_secret") {
        None | Some(Value::Null) => None,
        Some(Value::String(sent)) => Some(sent.as_str()),
        Some(_) => return Err(invalid("client_secret has the wrong type")),
    };
    let current = &managed.client;
    if let Some(sent) = sent_secret {
        let matches = current
            .secret_hash
            .as_deref()
            .is_some_and(|hash| constant_time_eq(keyed_hash(&state.hash_key, sent).as_bytes(), hash.as_bytes()));
        if !matches {
            return Err(invalid("client_secret does not match the current secret (it cannot be chosen by the client)"));
        }
    }
    let metadata = checked_metadata(&state, &request).await?;
    let (new_secret, secret) = secret_for_update(&state, &managed, &metadata, sent_secret)?;
    state
        .store
        .clients()
        .upsert(NewClient {
            client_id: current.id.clone(),
            secret_hash: secret.hash.clone(),
            secret_sealed: secret.sealed,
            secret_expires_at: secret.expires_at,
            metadata: serde_json::to_value(&metadata).map_err(OAuthError::server_error)?,
            source: ClientSource::Dynamic,
            registration_token_hash: Some(keyed_hash(&state.hash_key, &managed.token)),
        })
        .await?;
    tracing::info!(client_id = %current.id, rotated_secret = new_secret.is_some(), "updated a registered client");
    Information {
        issuer: &state.issuer,
        client_id: &current.id,
        issued_at: managed.created_at,
        metadata: &metadata,
        new_secret: new_secret.as_deref(),
        has_secret: secret.hash.is_some(),
        secret_expires_at: secret.expires_at,
        registration_access_token: &managed.token,
    }
    .respond(StatusCode::OK)
}

/// RFC 7592 §2.3: remove the client.
pub async fn delete(
    State(state): State<AppState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Result<Response, OAuthError> {
    let Path(client_id) = path.map_err(|_| invalid_token())?;
    let managed = access::open_client(&state, &headers, &client_id).await?;
    crate::clients::remove(&state.store, &managed.client.id).await?;
    tracing::info!(client_id = %managed.client.id, "deleted a registered client");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// Any other method: a JSON error, like every other answer of these endpoints.
pub async fn method_not_allowed() -> Response {
    let mut response = OAuthError::invalid_request("this method is not allowed here").into_response();
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response
}

/// Parsed, checked and with its sector document verified.
async fn checked_metadata(state: &AppState, request: &Map<String, Value>) -> Result<ClientMetadata, OAuthError> {
    let mut metadata = validate::parse(request)?;
    let policy = Policy {
        allow_loopback_http: state.settings.registration.allow_http_redirect_uris_on_loopback,
        signing_algorithms: state.keyring.algorithms(),
    };
    validate::check(&mut metadata, &policy)?;
    sector::check(&state.http, &metadata).await?;
    Ok(metadata)
}

/// The secret columns of a client row.
struct SecretColumns {
    hash: Option<String>,
    sealed: Option<String>,
    expires_at: i64,
}

impl SecretColumns {
    const NONE: Self = Self { hash: None, sealed: None, expires_at: 0 };
}

fn auth_method(metadata: &ClientMetadata) -> &str {
    metadata.token_endpoint_auth_method.as_deref().unwrap_or("client_secret_basic")
}

fn needs_secret(metadata: &ClientMetadata) -> bool {
    matches!(auth_method(metadata), "client_secret_basic" | "client_secret_post" | "client_secret_jwt")
}

fn needs_sealed_secret(metadata: &ClientMetadata) -> bool {
    auth_method(metadata) == "client_secret_jwt"
}

/// A new secret: in clear for the response, hashed (and sealed for `client_secret_jwt`) to store.
fn issue_secret(state: &AppState, metadata: &ClientMetadata) -> Result<(String, SecretColumns), OAuthError> {
    let secret = crate::clients::new_secret();
    let lifetime = state.settings.registration.secret_lifetime.as_secs();
    let expires_at = if lifetime == 0 { 0 } else { now().saturating_add(i64::try_from(lifetime).unwrap_or(i64::MAX)) };
    let sealed = if needs_sealed_secret(metadata) { Some(seal_secret(&state.hash_key, &secret)?) } else { None };
    let columns = SecretColumns { hash: Some(keyed_hash(&state.hash_key, &secret)), sealed, expires_at };
    Ok((secret, columns))
}

/// The secret after an update: none, the current one, or a new one.
fn secret_for_update(
    state: &AppState,
    managed: &access::Managed,
    metadata: &ClientMetadata,
    sent_secret: Option<&str>,
) -> Result<(Option<String>, SecretColumns), OAuthError> {
    if !needs_secret(metadata) {
        return Ok((None, SecretColumns::NONE));
    }
    let current = &managed.client;
    let expired = current.secret_expires_at != 0 && current.secret_expires_at <= now();
    let Some(hash) = current.secret_hash.clone().filter(|_| !expired) else {
        return issue_secret(state, metadata).map(|(secret, columns)| (Some(secret), columns));
    };
    let sealed = if needs_sealed_secret(metadata) {
        match (&current.secret_sealed, sent_secret) {
            (Some(sealed), _) => Some(sealed.clone()),
            // The secret was only hashed; the client proved it by sending it, so seal that.
            (None, Some(sent)) => Some(seal_secret(&state.hash_key, sent)?),
            (None, None) => return issue_secret(state, metadata).map(|(secret, columns)| (Some(secret), columns)),
        }
    } else {
        None
    };
    Ok((None, SecretColumns { hash: Some(hash), sealed, expires_at: current.secret_expires_at }))
}
