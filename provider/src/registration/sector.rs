//! The sector identifier document (OpenID Connect Core §8.1, Registration §5): a JSON array of
//! URIs at the client's `sector_identifier_uri`, which must list every registered redirect URI.
//! Fetched once at registration with the outbound client (no redirects, short timeouts).

use super::validate::invalid;
use crate::oauth::{ClientMetadata, OAuthError};
use axum::http::StatusCode;

/// The largest sector document read.
const MAX_BYTES: usize = 64 * 1024;

pub async fn check(http: &reqwest::Client, metadata: &ClientMetadata) -> Result<(), OAuthError> {
    let Some(uri) = &metadata.sector_identifier_uri else { return Ok(()) };
    let listed = fetch(http, uri).await.map_err(|detail| {
        tracing::info!(%detail, "sector_identifier_uri refused");
        invalid(format!("sector_identifier_uri: {detail}"))
    })?;
    if let Some(index) = metadata.redirect_uris.iter().position(|uri| !listed.contains(uri)) {
        return Err(invalid(format!("redirect_uris[{index}] is not listed at sector_identifier_uri")));
    }
    Ok(())
}

/// The document's URIs, or why it could not be had (client-safe: about the client's own URL).
async fn fetch(http: &reqwest::Client, uri: &str) -> Result<Vec<String>, &'static str> {
    let mut response = http
        .get(uri)
        .header(reqwest::header::ACCEPT, "application/json")
        .send()
        .await
        .map_err(|_| "the document could not be fetched")?;
    if response.status() != StatusCode::OK {
        return Err("the document could not be fetched (not 200 OK)");
    }
    if response.content_length().is_some_and(|length| length > MAX_BYTES as u64) {
        return Err("the document is too large");
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|_| "the document could not be read")? {
        if body.len() + chunk.len() > MAX_BYTES {
            return Err("the document is too large");
        }
        body.extend_from_slice(&chunk);
    }
    serde_json::from_slice::<Vec<String>>(&body).map_err(|_| "the document is not a JSON array of URIs")
}
