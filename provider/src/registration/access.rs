//! Who may call the registration endpoints: the holder of the initial access token (when one is
//! configured) may register; the holder of a client's registration access token may read,
//! update and delete that client. Tokens are compared as hashes in constant time, and every
//! failure looks the same (`401 invalid_token`), whether or not the client exists.

use crate::crypto::{constant_time_eq, keyed_hash, sha256};
use crate::oauth::{Client, ErrorCode, OAuthError};
use crate::state::AppState;
use axum::http::{HeaderMap, header};
use poort_storage::repo::ClientSource;

/// The one answer to a missing or wrong token (RFC 6750 §3.1).
pub fn invalid_token() -> OAuthError {
    OAuthError::new(ErrorCode::InvalidToken, "a valid bearer token is required")
        .with_challenge("Bearer error=\"invalid_token\"")
}

/// The token of an `Authorization: Bearer …` header (the scheme is case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Registration is open unless `registration.initial_access_token` is set.
pub fn check_initial_access_token(state: &AppState, headers: &HeaderMap) -> Result<(), OAuthError> {
    let Some(expected) = &state.settings.registration.initial_access_token else { return Ok(()) };
    let presented = bearer(headers).ok_or_else(invalid_token)?;
    // Digests first, so neither the content nor the length of the token leaks through timing.
    if constant_time_eq(&sha256(presented.as_bytes()), &sha256(expected.as_bytes())) {
        Ok(())
    } else {
        Err(invalid_token())
    }
}

/// A dynamically registered client, opened with its registration access token.
pub struct Managed {
    pub client: Client,
    pub created_at: i64,
    /// The token presented, which the client information response repeats.
    pub token: String,
}

/// Loads `client_id` for the holder of its registration access token.
pub async fn open_client(state: &AppState, headers: &HeaderMap, client_id: &str) -> Result<Managed, OAuthError> {
    let token = bearer(headers).ok_or_else(invalid_token)?;
    let presented = keyed_hash(&state.hash_key, token);
    let record = state.store.clients().get(client_id).await?;
    let stored =
        record.as_ref().filter(|r| r.source == ClientSource::Dynamic).and_then(|r| r.registration_token_hash.clone());
    // Compare against something even when there is nothing to compare against.
    let matches = constant_time_eq(presented.as_bytes(), stored.as_deref().unwrap_or("-").as_bytes());
    match record {
        Some(record) if matches && stored.is_some() => {
            let created_at = record.created_at;
            Ok(Managed { client: Client::from_record(record)?, created_at, token: token.to_string() })
        }
        _ => Err(invalid_token()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_tokens_are_read_case_insensitively() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            bearer(&headers).map(str::to_string)
        };
        assert_eq!(with("Bearer abc").as_deref(), Some("abc"));
        assert_eq!(with("bearer abc").as_deref(), Some("abc"));
        assert_eq!(with("Basic abc"), None);
        assert_eq!(with("Bearer "), None);
        assert_eq!(with("Bearer"), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }
}
