//! Upstream provider metadata (OpenID Connect Discovery) and signing keys, fetched with an HTTP
//! client that follows no redirects and gives up after the connector's timeout, and kept for a
//! few minutes. The cache is only a copy of what the upstream publishes: any node fetches its
//! own, and a signature by an unknown key fetches the keys again.

use crate::connector::Connector;
use crate::error::{Failure, Reason, from_http};
use openidconnect::core::{CoreJsonWebKeySet, CoreProviderMetadata};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long fetched metadata and keys are used before they are fetched again.
const FRESH_FOR: Duration = Duration::from_secs(300);

/// The outbound side of federation: HTTP clients and the metadata cache. Cheap to share.
#[derive(Default)]
pub struct Upstreams {
    clients: Mutex<HashMap<u64, reqwest::Client>>,
    cache: Mutex<HashMap<String, (Instant, Arc<CoreProviderMetadata>)>>,
}

impl std::fmt::Debug for Upstreams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Upstreams")
    }
}

impl Upstreams {
    pub fn new() -> Self {
        Self::default()
    }

    /// The HTTP client for a connector: no redirects, its timeout for connecting and in all.
    pub fn http(&self, connector: &Connector) -> reqwest::Client {
        let timeout = connector.settings.timeout;
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        clients
            .entry(timeout.as_millis() as u64)
            .or_insert_with(|| {
                reqwest::Client::builder()
                    .redirect(reqwest::redirect::Policy::none())
                    .connect_timeout(timeout)
                    .timeout(timeout)
                    .user_agent(concat!("Poort/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .expect("a client with static settings builds")
            })
            .clone()
    }

    /// The connector's provider metadata with its signing keys; `refresh` ignores the cache.
    pub async fn metadata(&self, connector: &Connector, refresh: bool) -> Result<Arc<CoreProviderMetadata>, Failure> {
        let issuer = connector.issuer();
        if !refresh {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, metadata)) = cache.get(&issuer)
                && at.elapsed() < FRESH_FOR
            {
                return Ok(metadata.clone());
            }
        }
        let http = self.http(connector);
        let url = format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/'));
        let metadata: CoreProviderMetadata = fetch_json(&http, &url, "the discovery document").await?;
        // OpenID Connect Discovery §4.3: the document names the issuer it was asked for. Entra's
        // multi-tenant documents name a template instead; tokens are checked per tenant.
        let named = metadata.issuer().as_str();
        if !connector.settings.is_multi_tenant() && named.trim_end_matches('/') != issuer.trim_end_matches('/') {
            return Err(Failure::new(Reason::InvalidAnswer, format!("the discovery document at {url} names the issuer {named}")));
        }
        let jwks_url = metadata.jwks_uri().url().to_string();
        let keys: CoreJsonWebKeySet = fetch_json(&http, &jwks_url, "the signing keys").await?;
        let metadata = Arc::new(metadata.set_jwks(keys));
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.insert(issuer, (Instant::now(), metadata.clone()));
        Ok(metadata)
    }
}

/// GETs `url` and reads a JSON document of type `T` from it.
async fn fetch_json<T: serde::de::DeserializeOwned>(http: &reqwest::Client, url: &str, what: &str) -> Result<T, Failure> {
    let response = http.get(url).header("accept", "application/json").send().await.map_err(|e| from_http(what, &e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(Failure::new(Reason::Unavailable, format!("{what} at {url} answered HTTP {status}")));
    }
    let body = response.bytes().await.map_err(|e| from_http(what, &e))?;
    serde_json::from_slice(&body)
        .map_err(|e| Failure::new(Reason::InvalidAnswer, format!("{what} at {url} is not a valid JSON document: {e}")))
}
