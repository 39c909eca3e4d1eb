//! Registered clients as the protocol sees them: typed registration metadata (RFC 7591 and
//! OpenID Connect Dynamic Registration names, plus Poort's own few) and the questions every
//! endpoint asks of a client.

use super::error::OAuthError;
use poort_storage::Store;
use poort_storage::repo::{ClientRecord, ClientSource};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, LazyLock, Mutex};

/// Registration metadata. Unknown members are dropped (RFC 7591 §2 lets a server ignore them).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClientMetadata {
    pub redirect_uris: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub response_types: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub grant_types: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub application_type: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sector_identifier_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userinfo_signed_response_alg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_object_signing_alg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_signing_alg: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_max_age: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_auth_time: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub default_acr_values: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initiate_login_uri: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub request_uris: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frontchannel_logout_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frontchannel_logout_session_required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_session_required: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    /// Poort: a first-party client skips the consent page.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub first_party: bool,
    /// Poort: `"jwt"` (RFC 9068, the default) or `"opaque"` access tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_format: Option<String>,
    /// Poort: the algorithm of its JWT access tokens (RS256 when absent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_token_signed_response_alg: Option<String>,
    /// Poort: accept PKCE `plain` from this client (S256 is always accepted).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub allow_plain_pkce: bool,
    /// Poort: only users holding one of these roles may sign in to this client…
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub required_roles: Vec<String>,
    /// …or a role granting one of these permissions (e.g. `settings.login`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub required_permissions: Vec<String>,
    /// Poort: users must accept the terms of service (this client's own version when one is
    /// published, else the deployment's) before signing in to this client.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub requires_terms: bool,
    /// Poort: people sign in to this client through this connector (federation), never here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connector: Option<String>,
}

/// A client loaded for a request.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub secret_hash: Option<String>,
    /// The secret sealed for `client_secret_jwt`, which needs the secret itself.
    pub secret_sealed: Option<String>,
    /// 0: never.
    pub secret_expires_at: i64,
    pub source: ClientSource,
    /// Shared: the same parse serves every request while the record is the same (see
    /// [`PARSED`]).
    pub metadata: Arc<ClientMetadata>,
}

/// Metadata parsed from the client records the store's client cache serves, by client id, so
/// that a busy client's JSON is parsed once for each read of its row (about once a second)
/// rather than on every request. An entry is used only for the very record it was parsed from
/// ([`Arc::ptr_eq`]; the entry holds that record, so its address cannot be reused): a record
/// read afresh, changed, or from another store is parsed anew and replaces it. Bounded as the
/// client cache is.
static PARSED: LazyLock<Mutex<ParsedByClient>> = LazyLock::new(Default::default);

/// Each client id's record, with the metadata parsed from it.
type ParsedByClient = HashMap<String, (Arc<ClientRecord>, Arc<ClientMetadata>)>;

impl Client {
    pub fn from_record(record: ClientRecord) -> Result<Self, OAuthError> {
        let metadata = Arc::new(parse_metadata(&record)?);
        Ok(Self::with_metadata(&record, metadata))
    }

    fn with_metadata(record: &ClientRecord, metadata: Arc<ClientMetadata>) -> Self {
        Self {
            id: record.client_id.clone(),
            secret_hash: record.secret_hash.clone(),
            secret_sealed: record.secret_sealed.clone(),
            secret_expires_at: record.secret_expires_at,
            source: record.source,
            metadata,
        }
    }

    /// Loads a client; `None` when no such client is registered.
    pub async fn load(store: &Store, client_id: &str) -> Result<Option<Self>, OAuthError> {
        let Some(record) = store.clients().get_shared(client_id).await? else { return Ok(None) };
        let parsed = |parsed: &ParsedByClient| {
            parsed.get(client_id).filter(|(from, _)| Arc::ptr_eq(from, &record)).map(|(_, metadata)| Arc::clone(metadata))
        };
        if let Some(metadata) = parsed(&PARSED.lock().unwrap_or_else(|e| e.into_inner())) {
            return Ok(Some(Self::with_metadata(&record, metadata)));
        }
        let metadata = Arc::new(parse_metadata(&record)?);
        let mut parsed = PARSED.lock().unwrap_or_else(|e| e.into_inner());
        if parsed.len() >= poort_storage::repo::client_cache::MAX_ENTRIES && !parsed.contains_key(client_id) {
            parsed.clear();
        }
        parsed.insert(client_id.to_string(), (Arc::clone(&record), Arc::clone(&metadata)));
        Ok(Some(Self::with_metadata(&record, metadata)))
    }

    pub fn auth_method(&self) -> &str {
        self.metadata.token_endpoint_auth_method.as_deref().unwrap_or("client_secret_basic")
    }

    /// A public client cannot keep a secret: it authenticates with `none` and must use PKCE.
    pub fn is_public(&self) -> bool {
        self.auth_method() == "none"
    }

    /// Exact string comparison, query included (RFC 9700 §4.1.3).
    pub fn has_redirect_uri(&self, uri: &str) -> bool {
        self.metadata.redirect_uris.iter().any(|registered| registered == uri)
    }

    pub fn has_post_logout_redirect_uri(&self, uri: &str) -> bool {
        self.metadata.post_logout_redirect_uris.iter().any(|registered| registered == uri)
    }

    /// Response types compare as sets of words: `id_token code` is `code id_token`.
    pub fn allows_response_type(&self, response_type: &str) -> bool {
        let wanted = words(response_type);
        self.response_types().iter().any(|registered| words(registered) == wanted)
    }

    pub fn response_types(&self) -> Vec<String> {
        if self.metadata.response_types.is_empty() { vec!["code".into()] } else { self.metadata.response_types.clone() }
    }

    pub fn grant_types(&self) -> Vec<String> {
        if self.metadata.grant_types.is_empty() {
            vec!["authorization_code".into()]
        } else {
            self.metadata.grant_types.clone()
        }
    }

    pub fn allows_grant(&self, grant_type: &str) -> bool {
        self.grant_types().iter().any(|g| g == grant_type)
    }

    pub fn id_token_alg(&self) -> &str {
        self.metadata.id_token_signed_response_alg.as_deref().unwrap_or("RS256")
    }

    pub fn access_token_alg(&self) -> &str {
        self.metadata.access_token_signed_response_alg.as_deref().unwrap_or(crate::tokens::access_token::JWT_ALG)
    }

    pub fn wants_jwt_access_tokens(&self) -> bool {
        self.metadata.access_token_format.as_deref() != Some("opaque")
    }

    /// Whether signing in to this client needs a role (or a permission through a role).
    pub fn is_role_gated(&self) -> bool {
        !self.metadata.required_roles.is_empty() || !self.metadata.required_permissions.is_empty()
    }

    pub fn display_name(&self) -> &str {
        self.metadata.client_name.as_deref().unwrap_or(&self.id)
    }

    /// Poort itself, as the sign-in page shows it when a person signs in to Poort's own pages
    /// (the account page) rather than to a client: only a name, and no registration behind it.
    pub fn own(name: &str) -> Self {
        Self {
            id: String::new(),
            secret_hash: None,
            secret_sealed: None,
            secret_expires_at: 0,
            source: ClientSource::Config,
            metadata: Arc::new(ClientMetadata { client_name: Some(name.to_string()), ..ClientMetadata::default() }),
        }
    }
}

fn parse_metadata(record: &ClientRecord) -> Result<ClientMetadata, OAuthError> {
    ClientMetadata::deserialize(&record.metadata)
        .map_err(|e| OAuthError::server_error(format!("client {} has unreadable metadata: {e}", record.client_id)))
}

/// A client with `metadata`, for unit tests across the crate.
#[cfg(test)]
pub fn test_client(metadata: serde_json::Value) -> Client {
    Client {
        id: "c".into(),
        secret_hash: None,
        secret_sealed: None,
        secret_expires_at: 0,
        source: ClientSource::Config,
        metadata: Arc::new(serde_json::from_value(metadata).expect("valid test metadata")),
    }
}

fn words(value: &str) -> BTreeSet<&str> {
    value.split(' ').filter(|w| !w.is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::test_client as client;
    use super::{Arc, Client};
    use poort_storage::Store;
    use poort_storage::repo::{ClientSource, NewClient};

    async fn store_with(client_id: &str, redirect_uri: &str) -> Store {
        let store = Store::connect("sqlite::memory:", 1).await.unwrap();
        store.migrate().await.unwrap();
        let metadata = serde_json::json!({ "redirect_uris": [redirect_uri], "token_endpoint_auth_method": "none" });
        let new = NewClient {
            client_id: client_id.into(),
            secret_hash: None,
            secret_sealed: None,
            secret_expires_at: 0,
            metadata,
            source: ClientSource::Cli,
            registration_token_hash: None,
        };
        store.clients().insert(new).await.unwrap();
        store
    }

    #[tokio::test]
    async fn a_clients_metadata_is_parsed_once_per_read_of_its_row_and_anew_after_a_change() {
        // An id of its own: the parsed metadata is kept process-wide, by client id.
        let id = "parsed-once-per-read";
        let store = store_with(id, "https://rp.example/cb").await;
        let first = Client::load(&store, id).await.unwrap().unwrap();
        let second = Client::load(&store, id).await.unwrap().unwrap();
        assert!(Arc::ptr_eq(&first.metadata, &second.metadata), "the second request reuses the first one's parse");
        assert!(second.has_redirect_uri("https://rp.example/cb") && second.is_public());

        let changed = serde_json::json!({ "redirect_uris": ["https://rp.example/other"] });
        assert!(store.clients().update_metadata(id, changed).await.unwrap());
        let after = Client::load(&store, id).await.unwrap().unwrap();
        assert!(after.has_redirect_uri("https://rp.example/other") && !after.has_redirect_uri("https://rp.example/cb"));
        assert!(!after.is_public(), "every member comes from the new metadata");

        // Another database with a client of the same id has its own metadata.
        let elsewhere = store_with(id, "https://elsewhere.example/cb").await;
        let theirs = Client::load(&elsewhere, id).await.unwrap().unwrap();
        assert!(theirs.has_redirect_uri("https://elsewhere.example/cb") && !theirs.has_redirect_uri("https://rp.example/other"));
        assert!(Client::load(&store, id).await.unwrap().unwrap().has_redirect_uri("https://rp.example/other"));
        assert!(Client::load(&store, "no-such-client").await.unwrap().is_none());
    }

    #[test]
    fn redirect_uris_match_exactly() {
        let c = client(serde_json::json!({ "redirect_uris": ["https://a.example/cb?x=1"] }));
        assert!(c.has_redirect_uri("https://a.example/cb?x=1"));
        for other in ["https://a.example/cb", "https://a.example/cb?x=1&y=2", "https://a.example/cb?x=1/", "HTTPS://a.example/cb?x=1"] {
            assert!(!c.has_redirect_uri(other), "{other}");
        }
    }

    #[test]
    fn response_types_compare_as_sets_and_default_to_code() {
        let c = client(serde_json::json!({ "redirect_uris": [], "response_types": ["code id_token"] }));
        assert!(c.allows_response_type("id_token code"));
        assert!(!c.allows_response_type("code"));
        let d = client(serde_json::json!({ "redirect_uris": [] }));
        assert!(d.allows_response_type("code"));
        assert_eq!(d.auth_method(), "client_secret_basic");
        assert!(d.allows_grant("authorization_code") && !d.allows_grant("refresh_token"));
    }
}
