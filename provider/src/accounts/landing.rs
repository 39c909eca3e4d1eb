//! Where a person lands, signed in, once a link by mail has set their password. In order:
//!
//! 1. **The sign-in they were in the middle of.** "Forgot password?" on a sign-in page keeps that
//!    page's sealed ticket (in the [`RETURN_COOKIE`] while the form is filled in, then with the
//!    reset link); if it is still valid the authorization resumes with the new session, so they
//!    arrive in the application with a code — or back on Poort's own page the ticket names.
//! 2. **The client that invited them** (or whose sign-in page they came from): its
//!    `initiate_login_uri` (OpenID Connect third-party-initiated login, with `iss` and
//!    `login_hint`), which starts a sign-in that the new session completes at once; else its
//!    `client_uri`. Never a redirect URI: without an authorization request there is no code for
//!    it, and a client cannot tell such a visit from an attack.
//! 3. `accounts.default_redirect_uri`.
//! 4. Poort's account page, which shows who is signed in.

use super::throttle::ClientIp;
use crate::account::ACCOUNT_PATH;
use crate::authorize::interaction::{server_error, with_cookies};
use crate::authorize::response::see_other;
use crate::authorize::ticket;
use crate::oauth::Client;
use crate::session;
use crate::state::AppState;
use crate::web::cookies;
use axum::http::HeaderMap;
use axum::response::Response;
use poort_storage::now;
use poort_storage::repo::UserRecord;

/// Holds the sealed ticket of the sign-in page "Forgot password?" was clicked on, until the
/// reset link is requested.
pub const RETURN_COOKIE: &str = "poort_return";

/// The longest ticket kept in [`RETURN_COOKIE`] (browsers keep cookies up to about 4 kB).
const MAX_COOKIE_TICKET: usize = 3500;

/// Signs `user` in, in this browser ([`session::sign_in`]), and sends them on.
pub async fn sign_in_and_land(
    state: &AppState,
    headers: &HeaderMap,
    ip: ClientIp,
    user: &UserRecord,
    client_id: Option<&str>,
    return_to: Option<&str>,
) -> Response {
    land_signed_in(state, headers, ip, user, client_id, return_to, vec!["pwd".into()]).await
}

/// [`sign_in_and_land`] for a sign-in whose methods were `amr` (an upstream's, after activation
/// through single sign-on).
pub async fn land_signed_in(
    state: &AppState,
    headers: &HeaderMap,
    ip: ClientIp,
    user: &UserRecord,
    client_id: Option<&str>,
    return_to: Option<&str>,
    amr: Vec<String>,
) -> Response {
    let signed_in = match session::sign_in(state, headers, ip.0, &user.id, amr).await {
        Ok(signed_in) => signed_in,
        Err(error) => return server_error(state, headers, error),
    };
    let new_session = signed_in.session;
    let mut cookies = signed_in.cookies;
    cookies.push(cookies::clear(RETURN_COOKIE, session::secure_cookies(state)));
    if let Some(ticket) = return_to.and_then(|sealed| ticket::unseal(state, sealed)) {
        return with_cookies(crate::authorize::interaction::resume(state, headers, ticket, new_session).await, cookies);
    }
    let client = match client_id {
        Some(id) => Client::load(&state.store, id).await.ok().flatten(),
        None => None,
    };
    let target = client
        .and_then(|client| client_landing(&client, &state.issuer, user))
        .or_else(|| state.settings.accounts.default_redirect_uri.as_ref().map(|uri| uri.to_string()))
        .unwrap_or_else(|| ACCOUNT_PATH.to_string());
    with_cookies(see_other(&target), cookies)
}

/// A client's own landing address for a person who just got a password.
fn client_landing(client: &Client, issuer: &str, user: &UserRecord) -> Option<String> {
    let metadata = &client.metadata;
    if let Some(mut uri) = metadata.initiate_login_uri.as_deref().and_then(|u| url::Url::parse(u).ok())
        && uri.scheme() == "https"
    {
        uri.query_pairs_mut().append_pair("iss", issuer).append_pair("login_hint", &user.email);
        return Some(uri.to_string());
    }
    metadata
        .client_uri
        .as_deref()
        .and_then(|u| url::Url::parse(u).ok())
        .filter(|uri| matches!(uri.scheme(), "https" | "http"))
        .map(|uri| uri.to_string())
}

/// The `Set-Cookie` that keeps `sealed` (a sign-in page's ticket) for the forgot-password form,
/// as long as the ticket lives; `None` when it is too large for a cookie.
pub fn remember_ticket(state: &AppState, sealed: &str, expires_at: i64) -> Option<String> {
    (sealed.len() <= MAX_COOKIE_TICKET).then(|| {
        let max_age = (expires_at - now()).max(0);
        cookies::set(RETURN_COOKIE, sealed, session::secure_cookies(state), Some(max_age))
    })
}

/// The sign-in page's ticket the browser keeps in [`RETURN_COOKIE`], if still valid.
pub fn remembered_ticket(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let sealed = cookies::get(headers, RETURN_COOKIE).filter(|t| !t.is_empty() && t.len() <= MAX_COOKIE_TICKET)?;
    ticket::unseal(state, sealed).map(|_| sealed.to_string())
}
