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
    let mut metadata = json!({
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
        "scope": client.scope,
    });
    // Optional members are left out rather than stored as null.
    for (member, value) in [
        ("id_token_signed_response_alg", &client.id_token_signed_response_alg),
        ("access_token_format", &client.access_token_format),
        ("access_token_signed_response_alg", &client.access_token_signed_response_alg),
        ("frontchannel_logout_uri", &client.frontchannel_logout_uri),
        ("backchannel_logout_uri", &client.backchannel_logout_uri),
        ("connector", &client.connector),
    ] {
        if let Some(value) = value {
            metadata[member] = json!(value);
        }
    }
    // Poort's logout tokens and frames always carry `sid`.
    for (uri, flag) in [
        (&client.frontchannel_logout_uri, "frontchannel_logout_session_required"),
        (&client.backchannel_logout_uri, "backchannel_logout_session_required"),
    ] {
        if uri.is_some() {
            metadata[flag] = json!(true);
        }
    }
    metadata
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
    let keep: Vec<&str> = settings.clients.iter().map(|c| c.client_id.as_str()).collect();
    for client in store.clients().list().await? {
        if client.source == ClientSource::Config && !keep.contains(&client.client_id.as_str()) {
            remove(store, &client.client_id).await?;
            tracing::info!(client_id = %client.client_id, "removed a client that is no longer in the configuration");
        }
    }
    Ok(())
}

/// Removes a client and revokes everything it was granted, so none of its tokens outlive it.
pub async fn remove(store: &Store, client_id: &str) -> Result<bool, StorageError> {
    store.grants().revoke_client_grants(client_id, poort_storage::now()).await?;
    store.clients().delete(client_id).await
}

/// A new client secret: 256 random bits, returned once in clear and stored only hashed.
pub fn new_secret() -> String {
    random_token()
}
