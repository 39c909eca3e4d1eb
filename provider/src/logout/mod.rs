//! Signing out: the account page's form (`POST /logout`) and RP-initiated logout (OpenID Connect
//! RP-Initiated Logout 1.0) at the `end_session_endpoint` (`GET`/`POST /session/end`). Both end
//! the browser's own session the same way ([`end_browser_session`]) and show the same themed
//! "signed out" page.
//!
//! At the end_session_endpoint, exactly what the certification plan expects:
//!
//! - a valid `id_token_hint` (one of our ID tokens: our key, our issuer; expired is fine) whose
//!   `aud` names the client, and a `post_logout_redirect_uri` registered for that client exactly:
//!   the session ends and the browser goes (303) to that URI with `state` and nothing else;
//! - a hint that is not ours or was altered, a `client_id` the hint is not for, an unknown client,
//!   or a URI that is not registered exactly (an added query included): an error page, never a
//!   redirect, and the session stays;
//! - a URI without a hint (the request cannot be tied to a client): a confirmation page; after
//!   the user confirms, the session ends and the "signed out" page follows;
//! - no URI: the session ends and the "signed out" page follows.
//!
//! Only the session the browser presents is ended: a hint's `sid` never names a session to end,
//! so a hint for someone else's session cannot sign them out.
//!
//! What an ended session sets off — revoked grants, back-channel logout tokens — is
//! [`ended`]'s, whichever way the session ended; [`backchannel`] delivers the tokens and
//! [`frontchannel`] puts the clients' logout frames on the "signed out" page. When a logout goes
//! back to the client and some client has a front-channel URI, the page shows first: its frames
//! load, then it continues to the client (by script, or by its button without one).

pub mod backchannel;
pub mod ended;
pub mod frontchannel;

use crate::authorize::interaction::{csrf_refused, form, server_error, with_cookies};
use crate::oauth::Client;
use crate::session::{self, SESSION_COOKIE};
use crate::state::AppState;
use crate::web::{cookies, csrf, pages};
use axum::extract::{RawForm, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use poort_storage::StorageError;
use poort_storage::repo::AuditEvent;
use poort_themes::Locale;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// The account page's sign-out form.
pub const ACCOUNT_LOGOUT_PATH: &str = "/logout";
/// The `end_session_endpoint`.
pub const END_SESSION_PATH: &str = "/session/end";

/// The field the confirmation page's button sends.
const CONFIRM_FIELD: &str = "confirm";

/// The discovery members of every logout mechanism.
pub fn metadata(doc: &mut Map<String, Value>) {
    backchannel::metadata(doc);
    frontchannel::metadata(doc);
}

/// Ends the session the browser presents, if any (audited as `logout`, with the client that
/// asked, if any); returns the front-channel logout frames of the session that ended.
pub async fn end_browser_session(
    state: &AppState,
    headers: &HeaderMap,
    client_id: Option<&str>,
) -> Result<Vec<String>, StorageError> {
    let Some(current) = session::current(state, headers).await? else { return Ok(Vec::new()) };
    // Read before the session ends: its clients are purged with it.
    let frames = frontchannel::frames(state, &current).await?;
    ended::end_session(state, &current).await?;
    let event = AuditEvent {
        kind: "logout".into(),
        user_id: Some(current.user_id.clone()),
        client_id: client_id.map(str::to_string),
        ip: None,
        detail: json!({ "session_id": current.id }),
    };
    let _ = state.store.audit().record(event).await;
    Ok(frames)
}

/// Where the "signed out" page leads.
struct Onward<'a> {
    /// The client's post-logout URI, `state` included.
    uri: String,
    client_name: &'a str,
    /// Go there by itself once the logout frames have loaded.
    automatic: bool,
}

/// The "signed out" page with the clients' front-channel frames (and a CSP that allows exactly
/// them), the session cookies cleared with it.
fn logged_out_page(state: &AppState, locale: Locale, frames: &[String], onward: Option<Onward<'_>>) -> Response {
    let data = json!({
        "client_name": onward.as_ref().map(|o| o.client_name),
        "return_uri": onward.as_ref().map(|o| o.uri.as_str()),
        "auto_return": onward.as_ref().is_some_and(|o| o.automatic),
        "frontchannel_logout_uris": frames,
    });
    let mut page = pages::render(state, locale, StatusCode::OK, "logged_out", &data);
    pages::allow_frames(&mut page, &frontchannel::frame_sources(frames));
    with_cookies(page, session::signed_out_cookies(state))
}

/// `POST /logout`: the account page's sign-out form (CSRF-checked).
pub async fn account_logout(State(state): State<AppState>, headers: HeaderMap, RawForm(body): RawForm) -> Response {
    let fields = form(&body);
    if !csrf::verify(&headers, fields.get(csrf::CSRF_FIELD).map(String::as_str)) {
        return csrf_refused(&state, &headers);
    }
    match end_browser_session(&state, &headers, None).await {
        Ok(frames) => logged_out_page(&state, pages::locale(&state, &headers, None), &frames, None),
        Err(error) => server_error(&state, &headers, error),
    }
}

/// `GET /session/end`.
pub async fn end_session_get(State(state): State<AppState>, headers: HeaderMap, RawQuery(query): RawQuery) -> Response {
    let params = form(query.unwrap_or_default().as_bytes());
    end_session(&state, &headers, &params).await
}

/// The end-session parameters a relying party may send.
const PARAMETERS: &[&str] = &["id_token_hint", "client_id", "post_logout_redirect_uri", "state", "ui_locales"];

/// `POST /session/end`: a relying party's form, or the confirmation page's (with its CSRF token).
///
/// The session cookie is `SameSite=Lax`, so a relying party's cross-site form POST arrives
/// without it; answering it then would redirect back while the session lives on. Such a POST
/// is turned into the same request as a GET (a top-level navigation, which carries the cookie).
pub async fn end_session_post(State(state): State<AppState>, headers: HeaderMap, RawForm(body): RawForm) -> Response {
    let params = form(&body);
    if params.contains_key(CONFIRM_FIELD) || params.contains_key(csrf::CSRF_FIELD) {
        return confirmed(&state, &headers, &params).await;
    }
    if cookies::get(&headers, SESSION_COOKIE).is_none_or(str::is_empty) {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(PARAMETERS.iter().filter_map(|name| param(&params, name).map(|value| (*name, value))))
            .finish();
        let location = if query.is_empty() { END_SESSION_PATH.to_string() } else { format!("{END_SESSION_PATH}?{query}") };
        let mut response = StatusCode::SEE_OTHER.into_response();
        if let Ok(value) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, value);
        }
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return response;
    }
    end_session(&state, &headers, &params).await
}

/// A parameter, when present and not empty.
fn param<'a>(params: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    params.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

fn locale_of(state: &AppState, headers: &HeaderMap, params: &HashMap<String, String>) -> Locale {
    let ui_locales = param(params, "ui_locales").filter(|v| v.len() <= 64);
    pages::locale(state, headers, ui_locales)
}

/// Why a logout request is refused (shown on the error page; logged for the operator).
fn refused(state: &AppState, locale: Locale, message_key: &str, why: &str) -> Response {
    tracing::info!(reason = why, "an end-session request was refused");
    pages::error(state, locale, StatusCode::BAD_REQUEST, message_key)
}

async fn end_session(state: &AppState, headers: &HeaderMap, params: &HashMap<String, String>) -> Response {
    let locale = locale_of(state, headers, params);
    let hint = param(params, "id_token_hint");
    let client_id = param(params, "client_id");
    let redirect_uri = param(params, "post_logout_redirect_uri");
    let request_state = param(params, "state");

    let Some(hint) = hint else {
        if let Some(redirect_uri) = redirect_uri {
            // Nothing ties the request to a client: ask the user.
            return confirmation_page(state, headers, locale, client_id, redirect_uri, request_state, params).await;
        }
        return match end_browser_session(state, headers, client_id).await {
            Ok(frames) => logged_out_page(state, locale, &frames, None),
            Err(error) => server_error(state, headers, error),
        };
    };

    let claims = match hint_claims(state, hint) {
        Ok(claims) => claims,
        Err(why) => return refused(state, locale, "error.invalid_logout_request", why),
    };
    let audiences = audiences(&claims);
    let client_id = match client_id {
        Some(id) if audiences.iter().any(|a| a == id) => id.to_string(),
        Some(_) => return refused(state, locale, "error.invalid_logout_request", "client_id is not an audience of the hint"),
        None => match (claims.get("azp").and_then(Value::as_str), audiences.as_slice()) {
            (Some(azp), _) if audiences.iter().any(|a| a == azp) => azp.to_string(),
            (_, [only]) => only.clone(),
            _ => return refused(state, locale, "error.invalid_logout_request", "the hint names no single client"),
        },
    };
    let client = match Client::load(&state.store, &client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => return refused(state, locale, "error.unknown_client", "the hint's client is not registered"),
        Err(error) => return server_error(state, headers, error),
    };
    if let Some(uri) = redirect_uri
        && !client.has_post_logout_redirect_uri(uri)
    {
        return refused(state, locale, "error.invalid_redirect_uri", "post_logout_redirect_uri is not registered");
    }

    let frames = match end_browser_session(state, headers, Some(&client.id)).await {
        Ok(frames) => frames,
        Err(error) => return server_error(state, headers, error),
    };
    match redirect_uri {
        // The frames must load in this browser before it leaves: the page first.
        Some(uri) if !frames.is_empty() => {
            let onward = Onward { uri: with_state(uri, request_state), client_name: client.display_name(), automatic: true };
            logged_out_page(state, locale, &frames, Some(onward))
        }
        Some(uri) => {
            let location = with_state(uri, request_state);
            let mut response = StatusCode::SEE_OTHER.into_response();
            match HeaderValue::from_str(&location) {
                Ok(value) => {
                    response.headers_mut().insert(header::LOCATION, value);
                }
                Err(error) => return server_error(state, headers, error),
            }
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            with_cookies(response, session::signed_out_cookies(state))
        }
        None => logged_out_page(state, locale, &frames, None),
    }
}

/// The claims of an `id_token_hint`: one of our ID tokens (signed with one of our keys, our
/// issuer, with a subject and an audience; expired ones are fine). Our access tokens (`typ`
/// `at+jwt`) and any other typed JWT are not ID tokens.
fn hint_claims(state: &AppState, hint: &str) -> Result<Map<String, Value>, &'static str> {
    let unverified = crate::tokens::verify::peek(hint).ok_or("the hint is not a JWT")?;
    if unverified.typ().is_some_and(|typ| !typ.eq_ignore_ascii_case("JWT")) {
        return Err("the hint is not an ID token");
    }
    let claims = crate::tokens::jwt::verify_ours(&state.keyring.snapshot(), hint).ok_or("the hint is not signed by us")?;
    if claims.get("iss").and_then(Value::as_str) != Some(&*state.issuer) {
        return Err("the hint was issued by someone else");
    }
    if claims.get("sub").and_then(Value::as_str).is_none() {
        return Err("the hint has no subject");
    }
    Ok(claims)
}

fn audiences(claims: &Map<String, Value>) -> Vec<String> {
    match claims.get("aud") {
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).map(str::to_string).collect(),
        _ => Vec::new(),
    }
}

/// `uri` with `state` added to its query (and nothing else).
fn with_state(uri: &str, state: Option<&str>) -> String {
    match state {
        Some(value) => {
            let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
            let separator = if uri.contains('?') { '&' } else { '?' };
            format!("{uri}{separator}state={encoded}")
        }
        None => uri.to_string(),
    }
}

/// "Sign out of Poort?" with a button; the request's parameters ride along.
async fn confirmation_page(
    state: &AppState,
    headers: &HeaderMap,
    locale: Locale,
    client_id: Option<&str>,
    redirect_uri: &str,
    request_state: Option<&str>,
    params: &HashMap<String, String>,
) -> Response {
    let client = match client_id {
        Some(id) => Client::load(&state.store, id).await.ok().flatten(),
        None => None,
    };
    let mut fields = Vec::new();
    if let Some(client) = &client {
        fields.push(json!({ "name": "client_id", "value": client.id }));
    }
    fields.push(json!({ "name": "post_logout_redirect_uri", "value": redirect_uri }));
    if let Some(value) = request_state {
        fields.push(json!({ "name": "state", "value": value }));
    }
    if let Some(value) = param(params, "ui_locales").filter(|v| v.len() <= 64) {
        fields.push(json!({ "name": "ui_locales", "value": value }));
    }
    let (token, set_csrf) = csrf::token(headers, session::secure_cookies(state));
    let data = json!({
        "action": END_SESSION_PATH,
        "csrf_token": token,
        "client_name": client.as_ref().map(|c| c.display_name().to_string()),
        "fields": fields,
    });
    with_cookies(pages::render(state, locale, StatusCode::OK, "logout_confirm", &data), set_csrf)
}

/// The confirmation page's form: the session ends; the "signed out" page offers the way back
/// when the URI is registered for the named client.
async fn confirmed(state: &AppState, headers: &HeaderMap, params: &HashMap<String, String>) -> Response {
    if !csrf::verify(headers, param(params, csrf::CSRF_FIELD)) {
        return csrf_refused(state, headers);
    }
    let locale = locale_of(state, headers, params);
    let client = match param(params, "client_id") {
        Some(id) => Client::load(&state.store, id).await.ok().flatten(),
        None => None,
    };
    let frames = match end_browser_session(state, headers, client.as_ref().map(|c| c.id.as_str())).await {
        Ok(frames) => frames,
        Err(error) => return server_error(state, headers, error),
    };
    let onward = match (&client, param(params, "post_logout_redirect_uri")) {
        (Some(client), Some(uri)) if client.has_post_logout_redirect_uri(uri) => Some(Onward {
            uri: with_state(uri, param(params, "state")),
            client_name: client.display_name(),
            automatic: false,
        }),
        _ => None,
    };
    logged_out_page(state, locale, &frames, onward)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_is_the_only_parameter_added() {
        assert_eq!(with_state("https://rp.example/bye", None), "https://rp.example/bye");
        assert_eq!(with_state("https://rp.example/bye", Some("a b&c=~")), "https://rp.example/bye?state=a+b%26c%3D%7E");
        assert_eq!(with_state("https://rp.example/bye?x=1", Some("s")), "https://rp.example/bye?x=1&state=s");
    }
}
