//! The one protocol error type. Every endpoint fails with an [`OAuthError`]; its code maps to the
//! RFC 6749 / OpenID Connect / RFC 7591 names and HTTP status here, in one place. The description
//! is client-safe; what an operator needs goes to the log, never to the client.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::borrow::Cow;

/// The registered error codes Poort answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    UnauthorizedClient,
    UnsupportedGrantType,
    InvalidScope,
    AccessDenied,
    UnsupportedResponseType,
    ServerError,
    TemporarilyUnavailable,
    InteractionRequired,
    LoginRequired,
    AccountSelectionRequired,
    ConsentRequired,
    InvalidRequestUri,
    InvalidRequestObject,
    RequestNotSupported,
    RequestUriNotSupported,
    InvalidToken,
    InsufficientScope,
    InvalidRedirectUri,
    InvalidClientMetadata,
    UnsupportedTokenType,
    /// OpenID Connect Unmet Authentication Requirements 1.0: an essential `acr` we cannot meet.
    UnmetAuthenticationRequirements,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidRequest => "invalid_request",
            InvalidClient => "invalid_client",
            InvalidGrant => "invalid_grant",
            UnauthorizedClient => "unauthorized_client",
            UnsupportedGrantType => "unsupported_grant_type",
            InvalidScope => "invalid_scope",
            AccessDenied => "access_denied",
            UnsupportedResponseType => "unsupported_response_type",
            ServerError => "server_error",
            TemporarilyUnavailable => "temporarily_unavailable",
            InteractionRequired => "interaction_required",
            LoginRequired => "login_required",
            AccountSelectionRequired => "account_selection_required",
            ConsentRequired => "consent_required",
            InvalidRequestUri => "invalid_request_uri",
            InvalidRequestObject => "invalid_request_object",
            RequestNotSupported => "request_not_supported",
            RequestUriNotSupported => "request_uri_not_supported",
            InvalidToken => "invalid_token",
            InsufficientScope => "insufficient_scope",
            InvalidRedirectUri => "invalid_redirect_uri",
            InvalidClientMetadata => "invalid_client_metadata",
            UnsupportedTokenType => "unsupported_token_type",
            UnmetAuthenticationRequirements => "unmet_authentication_requirements",
        }
    }

    /// The status of a JSON error response (RFC 6749 §5.2, RFC 6750 §3.1, RFC 7591 §3.2.2).
    pub fn status(self) -> StatusCode {
        use ErrorCode::*;
        match self {
            InvalidClient | InvalidToken => StatusCode::UNAUTHORIZED,
            InsufficientScope | AccessDenied => StatusCode::FORBIDDEN,
            ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// A protocol error: a code and a description safe to show the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: Cow<'static, str>,
    /// A `WWW-Authenticate` challenge to send with the response (invalid_client after HTTP Basic,
    /// bearer token errors).
    pub challenge: Option<String>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self { code, description: description.into(), challenge: None }
    }

    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }

    pub fn invalid_client(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidClient, description)
    }

    pub fn invalid_grant(description: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    /// A failure of ours, not the client's: logged in full, shown as `server_error`.
    pub fn server_error(detail: impl std::fmt::Display) -> Self {
        tracing::error!(%detail, "request failed on the server side");
        Self::new(ErrorCode::ServerError, "the server could not complete the request")
    }

    pub fn with_challenge(mut self, challenge: impl Into<String>) -> Self {
        self.challenge = Some(challenge.into());
        self
    }

    /// The description restricted to the characters RFC 6749 allows in `error_description`
    /// (printable ASCII without `"` and `\`).
    pub fn safe_description(&self) -> String {
        self.description
            .chars()
            .map(|c| if (' '..='~').contains(&c) && c != '"' && c != '\\' { c } else { ' ' })
            .collect()
    }

    /// The members of a JSON body or of a redirect's parameters.
    pub fn pairs(&self) -> [(&'static str, String); 2] {
        [("error", self.code.as_str().to_string()), ("error_description", self.safe_description())]
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl From<poort_storage::StorageError> for OAuthError {
    fn from(error: poort_storage::StorageError) -> Self {
        if error.is_unavailable() {
            // The database is down, full or read-only: the client may try again shortly.
            tracing::error!(%error, "the database cannot serve the request now");
            return Self::new(ErrorCode::TemporarilyUnavailable, "the service is temporarily unavailable; try again shortly");
        }
        Self::server_error(error)
    }
}

/// The JSON error response (never cached).
impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.code.as_str(), "error_description": self.safe_description() });
        let mut response = (self.code.status(), axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        if let Some(challenge) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_keep_only_legal_characters() {
        let error = OAuthError::invalid_request("bad \"value\"\n\\ é");
        assert_eq!(error.safe_description(), "bad  value     ");
    }

    #[test]
    fn statuses_follow_the_rfcs() {
        assert_eq!(ErrorCode::InvalidClient.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(ErrorCode::InvalidGrant.status(), StatusCode::BAD_REQUEST);
        assert_eq!(ErrorCode::InvalidClientMetadata.status(), StatusCode::BAD_REQUEST);
        assert_eq!(ErrorCode::ServerError.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
