//! The state every handler shares: settings, the store, the key ring and what is pre-computed
//! at start (the discovery document). Cheap to clone: every request clones it (axum's `State`
//! and the middleware that counts requests), so it is one reference-counted pointer.

use crate::keys::Keyring;
use poort_config::Settings;
use poort_storage::Store;
use std::sync::Arc;

/// A handle to the [`Shared`] state; cloning it is one atomic increment.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// Changing a field (tests swap the HTTP client or the hashing pool before building the router)
/// gives this handle its own copy when others share it, so no running router sees the change.
impl std::ops::DerefMut for AppState {
    fn deref_mut(&mut self) -> &mut Shared {
        Arc::make_mut(&mut self.0)
    }
}

#[derive(Clone)]
pub struct Shared {
    pub settings: Arc<Settings>,
    pub store: Store,
    pub keyring: Arc<Keyring>,
    /// The issuer exactly as it appears in every token and document.
    pub issuer: Arc<str>,
    /// The discovery document, serialized once (it changes only with the configuration).
    pub discovery_json: bytes::Bytes,
    /// The instance key under which secrets (codes, tokens, client secrets) are hashed.
    pub hash_key: Arc<[u8]>,
    /// For fetching what clients publish (`jwks_uri`, `sector_identifier_uri`, `request_uri`):
    /// no redirects followed, short timeouts.
    pub http: reqwest::Client,
    /// Client key sets fetched from `jwks_uri`s, kept briefly (`private_key_jwt`).
    pub client_keys: Arc<crate::oauth::client_auth::ClientKeyCache>,
    /// The pages, mails and texts (built in, or overridden from a theme folder).
    pub theme: Arc<poort_themes::Theme>,
    /// Outgoing mail (the file outbox or SMTP).
    pub mailer: Arc<crate::mail::Mailer>,
    /// What a new password must be.
    pub password_policy: crate::password_policy::PasswordPolicy,
    /// Password verification, bounded to the number of cores.
    pub passwords: crate::password::PasswordPool,
    /// This process's counters, exposed at `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Wakes this node's back-channel logout worker when a request queues deliveries.
    pub backchannel: Arc<tokio::sync::Notify>,
    /// Upstream providers' HTTP clients and metadata (a cache of what they publish).
    pub upstreams: Arc<poort_federation::discovery::Upstreams>,
}
