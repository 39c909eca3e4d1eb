//! Client authentication for the token, revocation and introspection endpoints:
//! `client_secret_basic`, `client_secret_post`, `client_secret_jwt`, `private_key_jwt` and
//! `none` (public clients). The method used must be the client's registered
//! `token_endpoint_auth_method`.
//!
//! Every failure is the same `401 invalid_client` (with `WWW-Authenticate: Basic` when the
//! client used the `Authorization` header): the response never says which part failed; the
//! log does, without the secret.

mod assertion;
pub mod credentials;
pub mod jwks;
mod sealing;

pub use assertion::verify_signed_request_object;
pub use jwks::ClientKeyCache;
pub use sealing::{seal_secret, unseal_secret};

use crate::crypto::{constant_time_eq, keyed_hash};
use crate::oauth::form::FormParams;
use crate::oauth::{Client, OAuthError};
use crate::state::AppState;
use crate::tokens::verify::{self, ASYMMETRIC_ALGORITHMS};
use axum::http::HeaderMap;
use credentials::{Presented, Unreadable};

/// The client assertion type of RFC 7523 §2.2.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Every method Poort accepts (for `token_endpoint_auth_methods_supported`); configuration and
/// registration accept the same list.
pub const METHODS: &[&str] = poort_config::CLIENT_AUTH_METHODS;

/// The challenge sent when a client failed to authenticate with the `Authorization` header.
pub const BASIC_CHALLENGE: &str = "Basic realm=\"poort\"";

/// The algorithms client assertions may be signed with
/// (`token_endpoint_auth_signing_alg_values_supported`). Only HS256 among the HMACs: HS384 and
/// HS512 need longer keys than the 256-bit secrets Poort issues.
pub fn assertion_signing_algorithms() -> Vec<&'static str> {
    std::iter::once("HS256").chain(ASYMMETRIC_ALGORITHMS.iter().copied()).collect()
}

/// Why authentication did not succeed: refused (the reason goes only to the log), or an error
/// of ours.
#[derive(Debug)]
pub enum Failure {
    Refused(&'static str),
    Error(OAuthError),
}

impl From<OAuthError> for Failure {
    fn from(error: OAuthError) -> Self {
        Failure::Error(error)
    }
}

impl From<poort_storage::StorageError> for Failure {
    fn from(error: poort_storage::StorageError) -> Self {
        Failure::Error(error.into())
    }
}

/// Authenticates the client of a request to the endpoint at `endpoint_path` (assertions may
/// name it, the token endpoint or the issuer as their audience).
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    params: &FormParams,
    endpoint_path: &str,
) -> Result<Client, OAuthError> {
    let presented = match credentials::extract(headers, params) {
        Ok(presented) => presented,
        Err(Unreadable::Request(error)) => return Err(error),
        Err(Unreadable::BadHeader) => return Err(refusal(true, None, "an Authorization header that is not Basic")),
        Err(Unreadable::Refused(reason)) => return Err(refusal(false, None, reason)),
    };
    let in_header = presented.in_header();
    let audiences = [
        state.issuer.to_string(),
        format!("{}{}", state.issuer, crate::token::PATH),
        format!("{}{endpoint_path}", state.issuer),
    ];
    let audiences: Vec<&str> = audiences.iter().map(String::as_str).collect();
    let mut client_id = None;
    match check(state, presented, &audiences, &mut client_id).await {
        Ok(client) => Ok(client),
        Err(Failure::Refused(reason)) => Err(refusal(in_header, client_id.as_deref(), reason)),
        Err(Failure::Error(error)) => Err(error),
    }
}

/// The one `invalid_client` answer, and the log line that says why.
fn refusal(in_header: bool, client_id: Option<&str>, reason: &'static str) -> OAuthError {
    tracing::info!(client_id = client_id.unwrap_or("-"), reason, "client authentication failed");
    let error = OAuthError::invalid_client("client authentication failed");
    if in_header { error.with_challenge(BASIC_CHALLENGE) } else { error }
}

async fn check(
    state: &AppState,
    presented: Presented,
    audiences: &[&str],
    client_id_seen: &mut Option<String>,
) -> Result<Client, Failure> {
    let (client_id, method, assertion) = match &presented {
        Presented::Secret { client_id, in_header: true, .. } => (client_id.clone(), "client_secret_basic", None),
        Presented::Secret { client_id, .. } => (client_id.clone(), "client_secret_post", None),
        Presented::ClientId(client_id) => (client_id.clone(), "none", None),
        Presented::Assertion { client_id, assertion } => {
            let jwt = verify::peek(assertion).ok_or(Failure::Refused("the assertion is not a JWT"))?;
            let subject = jwt.claim_str("sub").ok_or(Failure::Refused("the assertion has no sub"))?.to_string();
            if client_id.as_deref().is_some_and(|id| id != subject) {
                return Err(Failure::Refused("client_id differs from the assertion's sub"));
            }
            let method = assertion::method_for(jwt.alg().ok_or(Failure::Refused("the assertion has no alg"))?);
            (subject, method, Some((jwt, assertion.as_str())))
        }
    };
    *client_id_seen = Some(client_id.clone());
    let client = Client::load(&state.store, &client_id).await?.ok_or(Failure::Refused("unknown client"))?;
    if client.auth_method() != method {
        return Err(Failure::Refused("the client registered another authentication method"));
    }
    match (&presented, assertion) {
        (Presented::Secret { secret, .. }, _) if !secret_matches(state, &client, secret) => {
            return Err(Failure::Refused("wrong or expired secret"));
        }
        (_, Some((jwt, compact))) => assertion::verify(state, &client, &jwt, compact, audiences).await?,
        _ => {}
    }
    Ok(client)
}

/// Whether `presented` is the client's current secret, compared as keyed hashes in constant time.
fn secret_matches(state: &AppState, client: &Client, presented: &str) -> bool {
    let Some(stored) = client.secret_hash.as_deref() else { return false };
    let matches = constant_time_eq(keyed_hash(&state.hash_key, presented).as_bytes(), stored.as_bytes());
    matches && !secret_expired(client, poort_storage::now())
}

/// RFC 7591 §3.2.1: `client_secret_expires_at` 0 means never.
fn secret_expired(client: &Client, now: i64) -> bool {
    client.secret_expires_at > 0 && client.secret_expires_at <= now
}
