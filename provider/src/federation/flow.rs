//! Sending the browser upstream, and the flow row that makes the way back safe: keyed by the
//! `state` sent upstream, bound to this browser by the random `poort_federation` cookie (the
//! row keeps only keyed hashes of both), spent once, expiring with the interaction timeout, and
//! carrying — sealed — the nonce, the PKCE verifier and what to resume afterwards. Any node can
//! finish what another started.

use super::pages;
use crate::accounts::throttle::ClientIp;
use crate::crypto::{keyed_hash, random_token};
use crate::state::AppState;
use crate::web::cookies;
use axum::http::HeaderMap;
use axum::response::Response;
use poort_federation::Connector;
use poort_federation::oidc::{self, Hints, Pending};
use poort_storage::now;
use poort_storage::repo::NewFlow;
use poort_themes::Locale;
use serde::{Deserialize, Serialize};

/// The cookie that binds flows to the browser that started them.
pub const BINDING_COOKIE: &str = "poort_federation";
const LABEL: &str = "poort federation flow v1";

/// What to do once the upstream has answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resume {
    /// A sealed interaction ticket: the authorization (or the sign-in to Poort's own page) the
    /// person was signing in for.
    Ticket(String),
    /// The token of the activation link the person opened.
    Activation(String),
}

/// The sealed part of a flow row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Payload {
    pub pending: Pending,
    pub resume: Resume,
    /// The page language of the way back.
    pub locale: String,
}

/// The keyed hash a flow row is found by.
pub fn state_key(state: &AppState, upstream_state: &str) -> String {
    keyed_hash(&state.hash_key, &format!("federation state\0{upstream_state}"))
}

/// The keyed hash of the browser's binding cookie.
pub fn binding_key(state: &AppState, binding: &str) -> String {
    keyed_hash(&state.hash_key, &format!("federation binding\0{binding}"))
}

/// The flow's sealed payload, opened.
pub fn open(state: &AppState, sealed: &str) -> Option<Payload> {
    let json = crate::crypto::unseal(&state.hash_key, LABEL, sealed)?;
    serde_json::from_slice(&json).ok()
}

/// Where upstreams send the browser back.
pub fn redirect_uri(state: &AppState) -> String {
    format!("{}{}", state.issuer, super::CALLBACK_PATH)
}

/// A sign-in to start upstream.
pub struct Start<'a> {
    pub connector: &'a Connector,
    pub resume: Resume,
    pub login_hint: Option<&'a str>,
    /// The relying party asked for a fresh sign-in (`prompt=login`, `max_age=0`).
    pub force_login: bool,
    pub ui_locales: Option<&'a str>,
    /// The "try again" link of a failure page.
    pub retry_uri: Option<String>,
}

/// Remembers the flow and sends the browser to the upstream's authorization endpoint; a page
/// saying the upstream cannot be reached when its metadata cannot be fetched.
pub async fn start(state: &AppState, headers: &HeaderMap, ip: ClientIp, locale: Locale, start: Start<'_>) -> Response {
    let connector = start.connector;
    let hints = Hints { login_hint: start.login_hint, force_login: start.force_login, ui_locales: start.ui_locales };
    let started = match oidc::start(&state.upstreams, connector, &redirect_uri(state), hints).await {
        Ok(started) => started,
        Err(failure) => {
            let failed = pages::Failed::upstream(Some(connector), failure).retry(start.retry_uri);
            return pages::failure(state, ip, locale, failed).await;
        }
    };
    let existing = cookies::get(headers, BINDING_COOKIE).filter(|b| b.len() >= 32 && b.len() <= 64).map(str::to_string);
    let binding = existing.clone().unwrap_or_else(random_token);
    let payload = Payload { pending: started.pending, resume: start.resume, locale: locale.as_str().to_string() };
    let sealed = serde_json::to_vec(&payload)
        .map_err(|e| e.to_string())
        .and_then(|json| crate::crypto::seal(&state.hash_key, LABEL, &json).map_err(|e| e.to_string()));
    let sealed = match sealed {
        Ok(sealed) => sealed,
        Err(error) => return crate::authorize::interaction::server_error(state, headers, error),
    };
    let at = now();
    let flow = NewFlow {
        state_hash: state_key(state, &started.state),
        binding_hash: binding_key(state, &binding),
        connector_id: connector.id().to_string(),
        payload: sealed,
        expires_at: at + state.settings.sessions.interaction_timeout.as_secs() as i64,
    };
    if let Err(error) = state.store.flows().create(flow, at).await {
        return crate::authorize::interaction::server_error(state, headers, error);
    }
    let response = crate::authorize::response::see_other(started.url.as_str());
    match existing {
        Some(_) => response,
        None => crate::authorize::interaction::with_cookies(
            response,
            [cookies::set(BINDING_COOKIE, &binding, crate::session::secure_cookies(state), None)],
        ),
    }
}
