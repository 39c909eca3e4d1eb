//! The UserInfo endpoint (OpenID Connect Core §5.3): GET or POST with a bearer token (RFC 6750)
//! in the `Authorization` header (any case of `Bearer`) or, on POST, as `access_token` in a
//! form body — never both. The claims follow the token's scope and the grant's
//! `claims.userinfo`; `sub` is the ID token's. JSON by default, a signed JWT for clients that
//! registered `userinfo_signed_response_alg`. Errors are bearer challenges (RFC 6750 §3).

use crate::claims::{self, Target};
use crate::oauth::form::{self, FormParams, is_form};
use crate::oauth::subject::subject_for;
use crate::oauth::{Client, ErrorCode, OAuthError};
use crate::state::AppState;
use crate::token::issue::has_scope;
use crate::tokens::{access_token, jwt};
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use poort_storage::now;
use poort_storage::repo::{GrantRecord, TokenKind, TokenRecord, UserStatus};
use serde_json::{Value, json};

/// Where the endpoint is served (under the issuer).
pub const PATH: &str = "/userinfo";

/// Why the endpoint (or another bearer-protected one: the admin API) does not answer.
#[derive(Debug)]
pub enum Failure {
    /// No token at all: a bare challenge, without an error code (RFC 6750 §3.1).
    NoToken,
    /// `invalid_request`, `invalid_token`, `insufficient_scope` or `server_error`.
    Refused(OAuthError),
}

impl From<OAuthError> for Failure {
    fn from(error: OAuthError) -> Self {
        Failure::Refused(error)
    }
}

impl From<poort_storage::StorageError> for Failure {
    fn from(error: poort_storage::StorageError) -> Self {
        Failure::Refused(error.into())
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Failure::NoToken => {
                let mut response = StatusCode::UNAUTHORIZED.into_response();
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"poort\""));
                response
            }
            Failure::Refused(error) if error.code == ErrorCode::ServerError => error.into_response(),
            Failure::Refused(error) => {
                let challenge = format!(
                    "Bearer realm=\"poort\", error=\"{}\", error_description=\"{}\"",
                    error.code.as_str(),
                    error.safe_description()
                );
                error.with_challenge(challenge).into_response()
            }
        }
    }
}

pub(crate) fn invalid_token(description: &'static str) -> Failure {
    Failure::Refused(OAuthError::new(ErrorCode::InvalidToken, description))
}

/// `GET /userinfo`.
pub async fn get(State(state): State<AppState>, headers: HeaderMap) -> Response {
    respond(&state, &headers, None).await
}

/// `POST /userinfo`.
pub async fn post(State(state): State<AppState>, headers: HeaderMap, body: Result<Bytes, BytesRejection>) -> Response {
    match body {
        Ok(body) => respond(&state, &headers, Some(&body)).await,
        Err(rejection) => form::unreadable_body(rejection),
    }
}

async fn respond(state: &AppState, headers: &HeaderMap, body: Option<&[u8]>) -> Response {
    let mut response = match userinfo(state, headers, body).await {
        Ok(response) => response,
        Err(failure) => failure.into_response(),
    };
    crate::token::no_store(&mut response);
    response
}

async fn userinfo(state: &AppState, headers: &HeaderMap, body: Option<&[u8]>) -> Result<Response, Failure> {
    let token = presented_token(headers, body)?;
    let at = now();
    let (record, grant) = active_token(state, &token).await?;
    if !has_scope(&record.scope, "openid") {
        return Err(Failure::Refused(OAuthError::new(
            ErrorCode::InsufficientScope,
            "the access token lacks the openid scope",
        )));
    }
    let user_id = record.user_id.as_deref().ok_or_else(|| invalid_token("the access token has no user"))?;
    let user = state.store.users().get(user_id).await?;
    let user = user
        .filter(|u| u.status == UserStatus::Active)
        .ok_or_else(|| invalid_token("the user can no longer sign in"))?;
    let client =
        Client::load(&state.store, &record.client_id).await?.ok_or_else(|| invalid_token("the client is gone"))?;

    let mut claims = claims::release(&user, &record.scope, &claims::requested(grant.claims.as_ref(), Target::Userinfo));
    claims.insert("sub".into(), json!(subject_for(&client, &user.id, &state.hash_key)));
    match client.metadata.userinfo_signed_response_alg.as_deref() {
        None => Ok(axum::Json(Value::Object(claims)).into_response()),
        Some(alg) => {
            claims.insert("iss".into(), json!(&*state.issuer));
            claims.insert("aud".into(), json!(client.id));
            claims.insert("iat".into(), json!(at));
            let signed = jwt::sign(&state.keyring.snapshot(), alg, None, claims)?;
            Ok(([(header::CONTENT_TYPE, "application/jwt")], signed).into_response())
        }
    }
}

/// The stored row and grant of a presented access token that is active: issued here, neither
/// expired nor revoked, its grant not revoked either.
pub(crate) async fn active_token(state: &AppState, token: &str) -> Result<(TokenRecord, GrantRecord), Failure> {
    let record = access_token::find_presented(state, token)
        .await?
        .ok_or_else(|| invalid_token("the access token is not valid"))?;
    if record.kind != TokenKind::Access || !record.is_active(now()) {
        return Err(invalid_token("the access token has expired or was revoked"));
    }
    let grant = state.store.grants().get_grant(&record.grant_id).await?;
    let grant =
        grant.filter(|g| g.revoked_at.is_none()).ok_or_else(|| invalid_token("the access token was revoked"))?;
    Ok((record, grant))
}

/// The bearer token of the `Authorization` header, if it has one.
pub(crate) fn header_token(headers: &HeaderMap) -> Result<Option<String>, Failure> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    match (values.next(), values.next()) {
        (None, _) => Ok(None),
        (Some(value), None) => Ok(bearer(value.as_bytes())),
        (Some(_), Some(_)) => Err(OAuthError::invalid_request("only one Authorization header is allowed").into()),
    }
}

/// The bearer token of the request: from the `Authorization` header, or from a form body's
/// `access_token` on POST.
fn presented_token(headers: &HeaderMap, body: Option<&[u8]>) -> Result<String, Failure> {
    let in_header = header_token(headers)?;
    let in_body = match body {
        Some(body) if is_form(headers) => FormParams::parse(body)?.get("access_token").map(str::to_string),
        _ => None,
    };
    match (in_header, in_body) {
        (Some(_), Some(_)) => Err(OAuthError::invalid_request("send the access token in one place only").into()),
        (Some(token), None) | (None, Some(token)) => Ok(token),
        (None, None) => Err(Failure::NoToken),
    }
}

/// The token of `Bearer <token>`, the scheme in any case (RFC 7235 §2.1).
fn bearer(value: &[u8]) -> Option<String> {
    let value = std::str::from_utf8(value).ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' ')).then(|| token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer(b"Bearer abc").as_deref(), Some("abc"));
        assert_eq!(bearer(b"bearer abc").as_deref(), Some("abc"));
        assert_eq!(bearer(b"BEARER abc").as_deref(), Some("abc"));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"Bearer"), None);
        assert_eq!(bearer(b"Bearer a b"), None);
    }
}
