//! Rendering the hosted pages through the theme: the locale (`ui_locales`, then
//! `Accept-Language`, then the configured default), the strict page headers, and the theme's
//! static assets.

use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use poort_themes::Locale;
use serde_json::{Value, json};

/// Scripts and styles only from our own `/assets`; client logos from anywhere over https; no
/// framing; no `form-action` (browsers apply it to the redirect after a sign-in form is posted,
/// and that redirect goes to the client).
const PAGE_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; frame-ancestors 'none'; base-uri 'none'";

/// The language for a page: `ui_locales` first, then the browser's `Accept-Language`.
pub fn locale(state: &AppState, headers: &HeaderMap, ui_locales: Option<&str>) -> Locale {
    let accept = headers.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    state.theme.negotiate(ui_locales, accept)
}

/// Renders page `name` with `data`; a theme that cannot render it is our fault, logged, and
/// answered with a bare error page rather than a half-rendered one.
pub fn render(state: &AppState, locale: Locale, status: StatusCode, name: &str, data: &Value) -> Response {
    match state.theme.render_page(name, locale, data) {
        Ok(html) => with_page_headers((status, Html(html)).into_response()),
        Err(error) => {
            tracing::error!(page = name, %error, "a page could not be rendered");
            let bare = "<!doctype html><title>Error</title><p>Something went wrong on our side. Try again later.</p>";
            with_page_headers((StatusCode::INTERNAL_SERVER_ERROR, Html(bare.to_string())).into_response())
        }
    }
}

/// The themed error page with one of the `error.*` messages.
pub fn error(state: &AppState, locale: Locale, status: StatusCode, message_key: &str) -> Response {
    render(state, locale, status, "error", &json!({ "message_key": message_key, "detail": null }))
}

/// A failure on our side as a page. When the database cannot serve requests for now (down, full,
/// read-only) the same request may succeed shortly: 503 with "try again" and `Retry-After`, as
/// the protocol endpoints answer `temporarily_unavailable`. Anything else is 500. Both are logged.
pub fn server_error(state: &AppState, locale: Locale, error: impl std::fmt::Display + 'static) -> Response {
    if temporarily_unavailable(&error) {
        tracing::error!(%error, "the database cannot serve the request now");
        let mut page = self::error(state, locale, StatusCode::SERVICE_UNAVAILABLE, "error.unavailable");
        page.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        return page;
    }
    tracing::error!(%error, "request failed on the server side");
    self::error(state, locale, StatusCode::INTERNAL_SERVER_ERROR, "error.server")
}

/// Whether `error` says the database is out of reach for now, as a storage error or as the
/// protocol error one becomes.
fn temporarily_unavailable(error: &dyn std::any::Any) -> bool {
    if let Some(storage) = error.downcast_ref::<poort_storage::StorageError>() {
        return storage.is_unavailable();
    }
    error.downcast_ref::<crate::oauth::OAuthError>().is_some_and(|e| e.code == crate::oauth::ErrorCode::TemporarilyUnavailable)
}

pub fn with_page_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(PAGE_CSP));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}

/// Lets the page frame exactly `sources` (the front-channel logout frames): the page's CSP with
/// a `frame-src` for them. Nothing changes without sources.
pub fn allow_frames(response: &mut Response, sources: &[String]) {
    if sources.is_empty() {
        return;
    }
    let policy = format!("{PAGE_CSP}; frame-src {}", sources.join(" "));
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.headers_mut().insert(header::CONTENT_SECURITY_POLICY, value);
    }
}

/// `/assets/{name}`: the theme's stylesheet, logo and password meter. Their URLs carry the
/// theme's version, so they may be cached for long.
pub async fn asset(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match state.theme.asset(&name) {
        Some((content_type, body)) => (
            [(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=86400")],
            body,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
