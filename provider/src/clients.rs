//! Client registration shared by configuration and the CLI: metadata from settings, secrets
//! generated and stored as keyed hashes.

use crate::crypto::{keyed_hash, random_token};
use crate::secrets;
use poort_config::{Settings, StaticClient};
use poort_storage::repo::{ClientSource, NewClient};
use poort_storage::{StorageError, Store};
use serde_json::{Value, json};

/// The registration metadata stored for a configured client.
pub fn metadata_of(client: &StaticClient) -> Value {
    json!({
        "client_name": client.client_name,
        "redirect_uris": client.redirect_uris,
        "post_logout_redirect_uris": client.post_logout_redirect_uris,
        "grant_types": client.grant_types,
        "response_types": client.response_types,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "first_party": client.first_party,
        "required_roles": client.required_roles,
        "required_permissions": client.required_permissions,
        "requires_terms": client.requires_terms,
    })
}

/// Writes every configured client to the store (replacing what the configuration said before)
/// and removes configured clients that are no longer in it.
pub async fn sync_static_clients(store: &Store, settings: &Settings) -> Result<(), StorageError> {
    let key = secrets::hash_key(store).await?;
    for client in &settings.clients {
        store
            .clients()
            .upsert(NewClient {
                client_id: client.client_id.clone(),
                secret_hash: client.client_secret.as_deref().map(|s| keyed_hash(&key, s)),
                secret_sealed: None,
                secret_expires_at: 0,
                metadata: metadata_of(client),
                source: ClientSource::Config,
                registration_token_hash: None,
            })
            .await?;
    }
    let keep: Vec<String> = settings.clients.iter().map(|c| c.client_id.clone()).collect();
    let removed = store.clients().remove_config_clients_except(&keep).await?;
    if removed > 0 {
        tracing::info!(removed, "removed clients no longer in the configuration");
    }
    Ok(())
}

/// A new client secret: 256 random bits, returned once in clear and stored only hashed.
pub fn new_secret() -> String {
    random_token()
}
