//! The interaction ticket: an authorization request waiting for the user (sign-in, consent),
//! sealed (JWE, dir + A256GCM, under a key derived from the instance secret) so any node can
//! resume it and no one can alter it. It records what the user has done so far.

use crate::crypto::sha256;
use crate::state::AppState;
use josekit::jwe::{self, Dir, JweHeader};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    /// The effective authorization parameters (a request object already merged in).
    pub params: BTreeMap<String, String>,
    /// When the user signed in during this request (satisfies prompt=login and max_age).
    pub login_at: Option<i64>,
    /// The session the sign-in started; later steps must come from the same browser session.
    pub session_id: Option<String>,
    /// The user agreed to the consent page during this request.
    pub consented: bool,
    pub expires_at: i64,
}

fn key(state: &AppState) -> [u8; 32] {
    let mut input = b"poort interaction ticket v1\0".to_vec();
    input.extend_from_slice(&state.hash_key);
    sha256(&input)
}

pub fn seal(state: &AppState, ticket: &Ticket) -> Result<String, crate::oauth::OAuthError> {
    let json = serde_json::to_vec(ticket).map_err(crate::oauth::OAuthError::server_error)?;
    let mut header = JweHeader::new();
    header.set_content_encryption("A256GCM");
    let encrypter = Dir.encrypter_from_bytes(key(state)).map_err(crate::oauth::OAuthError::server_error)?;
    jwe::serialize_compact(&json, &header, &encrypter).map_err(crate::oauth::OAuthError::server_error)
}

/// The ticket, if it is one of ours and has not expired.
pub fn unseal(state: &AppState, sealed: &str) -> Option<Ticket> {
    let decrypter = Dir.decrypter_from_bytes(key(state)).ok()?;
    let (json, _) = jwe::deserialize_compact(sealed, &decrypter).ok()?;
    let ticket: Ticket = serde_json::from_slice(&json).ok()?;
    (ticket.expires_at > poort_storage::now()).then_some(ticket)
}
