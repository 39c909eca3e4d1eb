//! The client information response (RFC 7591 §3.2.1, RFC 7592 §3): every registered metadata
//! member, defaults included, with the client's identifiers and credentials.

use crate::oauth::{ClientMetadata, OAuthError};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub struct Information<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub issued_at: i64,
    pub metadata: &'a ClientMetadata,
    /// The secret in clear: only in the response that issues it.
    pub new_secret: Option<&'a str>,
    /// Whether the client has a secret at all (then `client_secret_expires_at` is reported).
    pub has_secret: bool,
    /// 0: never.
    pub secret_expires_at: i64,
    pub registration_access_token: &'a str,
}

impl Information<'_> {
    pub fn body(&self) -> Result<Value, OAuthError> {
        let mut body = serde_json::to_value(self.metadata).map_err(OAuthError::server_error)?;
        let Some(members) = body.as_object_mut() else {
            return Err(OAuthError::server_error("client metadata did not serialize to an object"));
        };
        members.insert("client_id".into(), json!(self.client_id));
        members.insert("client_id_issued_at".into(), json!(self.issued_at));
        if let Some(secret) = self.new_secret {
            members.insert("client_secret".into(), json!(secret));
        }
        if self.has_secret {
            members.insert("client_secret_expires_at".into(), json!(self.secret_expires_at));
        }
        members.insert("registration_access_token".into(), json!(self.registration_access_token));
        members.insert("registration_client_uri".into(), json!(super::client_uri(self.issuer, self.client_id)));
        Ok(body)
    }

    /// The JSON response, never cached (it carries credentials).
    pub fn respond(&self, status: StatusCode) -> Result<Response, OAuthError> {
        let mut response = (status, Json(self.body()?)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        Ok(response)
    }
}
