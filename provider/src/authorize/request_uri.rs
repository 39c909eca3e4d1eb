//! `request_uri` (OpenID Connect Core §6.2, RFC 9101 §5.2): the request object passed by
//! reference. Only a URI the client registered in `request_uris` is ever fetched — compared as
//! an exact string without the fragment, which carries a hash of the content — so a request can
//! never make Poort call an address of the requester's choosing. The fetch uses the state's
//! outbound client (no redirects followed, short timeouts), reads at most
//! [`MAX_REQUEST_OBJECT`] bytes, and accepts only a JWT media type. A non-empty fragment must be
//! the base64url SHA-256 of the body. What comes back is then treated exactly as a `request`
//! parameter ([`super::request_object`]).
//!
//! Every failure to obtain the object is one `invalid_request_uri` description for the client;
//! the reason goes to the log (the registered URI may be a loopback address in development, and
//! the answer must not tell a registrant what listens there).

use super::params::MAX_REQUEST_OBJECT;
use crate::crypto::{b64url, sha256};
use crate::oauth::{Client, ErrorCode, OAuthError};
use crate::state::AppState;

/// Media types a request object may be served as: `application/oauth-authz-req+jwt` (RFC 9101
/// §4), `application/jwt` (RFC 7519 §10.3.1), and `application/jose` (a compact JWS, RFC 7515
/// §9.2.1), which is what the OpenID Foundation's certification suite serves.
const MEDIA_TYPES: &[&str] = &["application/oauth-authz-req+jwt", "application/jwt", "application/jose"];

/// What the client hears whenever the object could not be had.
const NOT_RETRIEVED: &str = "the request object could not be retrieved from request_uri";

/// The request object at `request_uri`, which `client` must have registered.
pub async fn fetch(state: &AppState, client: &Client, request_uri: &str) -> Result<String, OAuthError> {
    let (location, fragment) = split_fragment(request_uri);
    if !client.metadata.request_uris.iter().any(|registered| split_fragment(registered).0 == location) {
        return Err(OAuthError::new(ErrorCode::InvalidRequestUri, "request_uri is not registered for this client"));
    }
    let body = download(&state.http, location).await.map_err(|detail| {
        tracing::info!(client_id = %client.id, %detail, "request_uri refused");
        OAuthError::new(ErrorCode::InvalidRequestUri, NOT_RETRIEVED)
    })?;
    if let Some(expected) = fragment.filter(|f| !f.is_empty())
        && b64url(&sha256(body.as_bytes())) != expected
    {
        tracing::info!(client_id = %client.id, "request_uri refused: the body does not match the fragment's hash");
        return Err(OAuthError::new(ErrorCode::InvalidRequestUri, "the request object does not match the hash in request_uri"));
    }
    Ok(body.trim().to_string())
}

/// The URI without its fragment, and the fragment.
fn split_fragment(uri: &str) -> (&str, Option<&str>) {
    match uri.split_once('#') {
        Some((location, fragment)) => (location, Some(fragment)),
        None => (uri, None),
    }
}

/// GETs `location`: the body of a 200 with a JWT media type, at most [`MAX_REQUEST_OBJECT`]
/// bytes of text, as served (the fragment's hash is over exactly these bytes); otherwise why
/// not (for the log).
async fn download(http: &reqwest::Client, location: &str) -> Result<String, String> {
    let mut response = http
        .get(location)
        .header(reqwest::header::ACCEPT, MEDIA_TYPES.join(", "))
        .send()
        .await
        .map_err(|e| format!("the request failed: {e}"))?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(format!("it answered {}", response.status()));
    }
    let media_type = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
        .unwrap_or_default();
    if !MEDIA_TYPES.contains(&media_type.as_str()) {
        return Err(format!("its content type `{media_type}` is not a JWT's"));
    }
    if response.content_length().is_some_and(|length| length > MAX_REQUEST_OBJECT as u64) {
        return Err("the object is too large".into());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| format!("reading it failed: {e}"))? {
        if body.len() + chunk.len() > MAX_REQUEST_OBJECT {
            return Err("the object is too large".into());
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| "the object is not text".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_are_split_off_for_matching() {
        assert_eq!(split_fragment("https://rp/r#abc"), ("https://rp/r", Some("abc")));
        assert_eq!(split_fragment("https://rp/r"), ("https://rp/r", None));
        assert_eq!(split_fragment("https://rp/r#"), ("https://rp/r", Some("")));
    }
}
