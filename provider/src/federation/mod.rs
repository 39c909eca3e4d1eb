//! Federation on Poort's side: sign-in brokered to upstream connectors (the upstream logic
//! itself is the `poort-federation` crate, which knows nothing of these endpoints).
//!
//! - [`connectors`]: connectors as stored (secrets sealed), synced from the configuration;
//! - [`routing`]: home-realm discovery by e-mail domain, and who may use a password here;
//! - [`sign_in`]: the identifier-first sign-in page and directory passwords;
//! - [`flow`]: sending the browser upstream, with a single-use flow row bound to the browser;
//! - [`callback`]: `GET /federation/callback`, the way back;
//! - [`link`]: which account an upstream identity signs in to, and linking;
//! - [`activation`]: activating an invited account through single sign-on;
//! - [`pages`]: failure pages, each audited.
//!
//! `POST /federation/start` is the "Sign in with …" / "Continue with …" button of the sign-in and
//! activation pages.

pub mod activation;
pub mod callback;
pub mod connectors;
pub mod flow;
pub mod link;
pub mod pages;
pub mod routing;
pub mod sign_in;

use crate::accounts::throttle::ClientIp;
use crate::authorize::interaction::{csrf_refused, expired, form, server_error};
use crate::authorize::ticket;
use crate::routes::Endpoint;
use crate::state::AppState;
use crate::web::csrf;
use axum::extract::{RawForm, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};
use flow::{Resume, Start};

pub const CALLBACK_PATH: &str = "/federation/callback";
pub const START_PATH: &str = "/federation/start";

/// The federation endpoints, for the route table (none is advertised).
pub fn endpoints() -> Vec<Endpoint> {
    vec![
        Endpoint { path: CALLBACK_PATH, advertised_as: None, handler: get(callback::callback) },
        Endpoint { path: START_PATH, advertised_as: None, handler: post(start) },
    ]
}

/// `POST /federation/start`: `connector`, and the sign-in page's `ticket` or the activation
/// link's `token`.
pub async fn start(State(state): State<AppState>, headers: HeaderMap, ip: ClientIp, RawForm(body): RawForm) -> Response {
    let fields = form(&body);
    if !csrf::verify(&headers, fields.get(csrf::CSRF_FIELD).map(String::as_str)) {
        return csrf_refused(&state, &headers);
    }
    let id = fields.get("connector").map(String::as_str).unwrap_or("");
    let connector = match connectors::load(&state.store, &state.hash_key, id).await {
        Ok(Some(connector)) if connector.kind().is_openid() => connector,
        Ok(_) => return sign_in::unknown_connector(&state, ip, crate::web::pages::locale(&state, &headers, None), id).await,
        Err(error) => return server_error(&state, &headers, error),
    };
    if let Some(sealed) = fields.get("ticket") {
        let Some(found) = ticket::unseal(&state, sealed) else { return expired(&state, &headers) };
        let locale = crate::authorize::interaction::locale(&state, &headers, Some(&found));
        let start = Start {
            connector: &connector,
            resume: Resume::Ticket(sealed.clone()),
            login_hint: fields.get("username").map(String::as_str).filter(|u| !u.is_empty()),
            force_login: found.params.get("prompt").is_some_and(|p| p.split(' ').any(|p| p == "login")),
            ui_locales: found.params.get("ui_locales").map(String::as_str),
            retry_uri: Some(format!("/login?ticket={sealed}&other=1")),
        };
        return flow::start(&state, &headers, ip, locale, start).await;
    }
    let token = fields.get("token").cloned().unwrap_or_default();
    let locale = crate::web::pages::locale(&state, &headers, fields.get("lang").map(String::as_str));
    let invited = match crate::accounts::activation::usable_link(&state, &token).await {
        Ok(Some((_, user))) => user,
        Ok(None) => return expired(&state, &headers),
        Err(error) => return server_error(&state, &headers, error),
    };
    let start = Start {
        connector: &connector,
        resume: Resume::Activation(token.clone()),
        login_hint: Some(&invited.email),
        force_login: false,
        ui_locales: None,
        retry_uri: Some(format!("{}?token={token}", crate::accounts::activation::PATH)),
    };
    flow::start(&state, &headers, ip, locale, start).await
}
