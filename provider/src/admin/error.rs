//! The admin API's one error type, mapped to a status and a JSON body here: `{"error": …,
//! "error_description": …}` like every other JSON error of Poort, never cached. Bad input is 400
//! with what is wrong, an unknown user or role 404, a taken e-mail address or user name (or a
//! state that forbids the change) 409; bearer refusals keep their RFC 6750 challenge. Only a
//! failure of ours is a 500, and its detail goes to the log only.

use crate::oauth::{ErrorCode, OAuthError};
use crate::userinfo::Failure;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use poort_storage::StorageError;

#[derive(Debug)]
pub enum AdminError {
    /// No token, a bad one, or one without the scope (401 or 403).
    Auth(Failure),
    /// 400 `invalid_request`.
    BadRequest(String),
    /// 404 `not_found`.
    NotFound(String),
    /// 409 `conflict`.
    Conflict(String),
    /// 500, already logged.
    Server(OAuthError),
}

impl AdminError {
    pub fn bad_request(description: impl Into<String>) -> Self {
        AdminError::BadRequest(description.into())
    }

    pub fn server(detail: impl std::fmt::Display) -> Self {
        AdminError::Server(OAuthError::server_error(detail))
    }
}

impl From<Failure> for AdminError {
    fn from(failure: Failure) -> Self {
        AdminError::Auth(failure)
    }
}

impl From<StorageError> for AdminError {
    fn from(error: StorageError) -> Self {
        match error {
            // "e-mail address ann@example.com", "user name ann".
            StorageError::Conflict(what) => AdminError::Conflict(format!("the {what} is already taken")),
            other => AdminError::server(other),
        }
    }
}

impl From<JsonRejection> for AdminError {
    fn from(rejection: JsonRejection) -> Self {
        AdminError::BadRequest(rejection.body_text())
    }
}

impl From<QueryRejection> for AdminError {
    fn from(rejection: QueryRejection) -> Self {
        AdminError::BadRequest(rejection.body_text())
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let (status, code, description) = match self {
            AdminError::Auth(failure) => return failure.into_response(),
            AdminError::Server(error) => return error.into_response(),
            AdminError::BadRequest(description) => return OAuthError::invalid_request(description).into_response(),
            AdminError::NotFound(description) => (StatusCode::NOT_FOUND, "not_found", description),
            AdminError::Conflict(description) => (StatusCode::CONFLICT, "conflict", description),
        };
        let safe = OAuthError::new(ErrorCode::InvalidRequest, description).safe_description();
        let body = serde_json::json!({ "error": code, "error_description": safe });
        let mut response = (status, axum::Json(body)).into_response();
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}
