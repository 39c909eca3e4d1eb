//! The token endpoint (RFC 6749 §3.2): a form POST, dispatched by `grant_type` to one module
//! per grant. Each grant checks the shape of its parameters first; then the client
//! authenticates and must be registered for the grant; then the grant runs. Every response,
//! success or error, is `Cache-Control: no-store`.

pub mod authorization_code;
pub mod client_credentials;
pub mod issue;
pub mod refresh_token;
mod response;

pub use response::{TokenResponse, no_store};

use crate::oauth::client_auth;
use crate::oauth::form::{self, FormParams};
use crate::oauth::{ErrorCode, OAuthError};
use crate::state::AppState;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

/// Where the endpoint is served (under the issuer).
pub const PATH: &str = "/token";

/// The grants the token endpoint serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    pub const ALL: [GrantType; 3] =
        [GrantType::AuthorizationCode, GrantType::RefreshToken, GrantType::ClientCredentials];

    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == value)
    }
}

/// A token request, its grant's parameters checked for shape.
enum GrantRequest {
    AuthorizationCode(authorization_code::Request),
    RefreshToken(refresh_token::Request),
    ClientCredentials(client_credentials::Request),
}

impl GrantRequest {
    fn from_params(grant: GrantType, params: &FormParams) -> Result<Self, OAuthError> {
        Ok(match grant {
            GrantType::AuthorizationCode => Self::AuthorizationCode(authorization_code::Request::from_params(params)?),
            GrantType::RefreshToken => Self::RefreshToken(refresh_token::Request::from_params(params)?),
            GrantType::ClientCredentials => Self::ClientCredentials(client_credentials::Request::from_params(params)?),
        })
    }
}

/// `POST /token`.
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(rejection) => return form::unreadable_body(rejection),
    };
    match handle(&state, &headers, &body).await {
        Ok(response) => response.into_response(),
        Err(error) => error.into_response(),
    }
}

async fn handle(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<TokenResponse, OAuthError> {
    let params = FormParams::from_request(headers, body)?;
    let grant_type = params.require("grant_type")?;
    let grant = GrantType::parse(grant_type)
        .ok_or_else(|| OAuthError::new(ErrorCode::UnsupportedGrantType, "this grant_type is not supported"))?;
    let request = GrantRequest::from_params(grant, &params)?;
    let client = client_auth::authenticate(state, headers, &params, PATH).await?;
    if !client.allows_grant(grant.as_str()) {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "the client is not registered for this grant_type"));
    }
    match request {
        GrantRequest::AuthorizationCode(request) => authorization_code::exchange(state, &client, request).await,
        GrantRequest::RefreshToken(request) => refresh_token::refresh(state, &client, request).await,
        GrantRequest::ClientCredentials(request) => client_credentials::grant(state, &client, request).await,
    }
}

/// What the token side advertises in discovery: client authentication, grants, the UserInfo
/// response, claims and scopes, and the revocation and introspection endpoints' methods.
pub fn metadata(signing_algorithms: &[String]) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::json;
    let mut grant_types: Vec<&str> = GrantType::ALL.iter().map(|g| g.as_str()).collect();
    // The implicit grant is the authorization endpoint's (response types with tokens).
    grant_types.insert(1, "implicit");
    let mut doc = serde_json::Map::new();
    doc.insert("token_endpoint_auth_methods_supported".into(), json!(client_auth::METHODS));
    doc.insert(
        "token_endpoint_auth_signing_alg_values_supported".into(),
        json!(client_auth::assertion_signing_algorithms()),
    );
    doc.insert("grant_types_supported".into(), json!(grant_types));
    doc.insert("userinfo_signing_alg_values_supported".into(), json!(signing_algorithms));
    doc.insert("scopes_supported".into(), json!(crate::claims::SCOPES));
    doc.insert("claims_supported".into(), json!(crate::claims::supported()));
    doc.insert("claims_parameter_supported".into(), json!(true));
    doc.insert("revocation_endpoint_auth_methods_supported".into(), json!(client_auth::METHODS));
    doc.insert("introspection_endpoint_auth_methods_supported".into(), json!(crate::introspection::auth_methods()));
    doc
}

/// Any other method on the token endpoint: `405` with `Allow: POST`, as JSON, never cached.
pub async fn method_not_allowed() -> Response {
    let mut response = OAuthError::invalid_request("the token endpoint accepts only POST").into_response();
    *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
    response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grant_types_round_trip() {
        for grant in GrantType::ALL {
            assert_eq!(GrantType::parse(grant.as_str()), Some(grant));
        }
        assert_eq!(GrantType::parse("password"), None);
    }
}
