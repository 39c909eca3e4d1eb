//! Connectors as stored: settings without secrets in the `connectors` table, their secrets
//! sealed beside them (`SHA-256("poort connector secrets v1\0" || hash_key)`, like client
//! secrets), their domains in the domain table. The configuration's connectors are written at
//! every start ([`sync_configured`]); the CLI and the admin API save through [`save`].

use poort_config::{ConnectorSettings, Settings};
use poort_federation::{Connector, Secrets};
use poort_storage::repo::{ConnectorRecord, ConnectorSource, NewConnector};
use poort_storage::{StorageError, Store};

const LABEL: &str = "poort connector secrets v1";

/// Why a connector could not be saved.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// Its settings are not valid (names the key).
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Storage(#[from] StorageError),
}

/// The connector a stored record describes, secrets unsealed.
pub fn from_record(hash_key: &[u8], record: &ConnectorRecord) -> Result<Connector, StorageError> {
    let settings: ConnectorSettings = serde_json::from_value(record.settings.clone())
        .map_err(|e| StorageError::Corrupt(format!("connector {}: {e}", record.id)))?;
    let secrets = match &record.secrets_sealed {
        Some(sealed) => crate::crypto::unseal(hash_key, LABEL, sealed)
            .and_then(|json| serde_json::from_slice(&json).ok())
            .ok_or_else(|| StorageError::Corrupt(format!("connector {}: its secrets cannot be unsealed", record.id)))?,
        None => Secrets::default(),
    };
    Ok(Connector { settings, secrets })
}

pub async fn load(store: &Store, hash_key: &[u8], id: &str) -> Result<Option<Connector>, StorageError> {
    store.connectors().get(id).await?.map(|r| from_record(hash_key, &r)).transpose()
}

pub async fn for_domain(store: &Store, hash_key: &[u8], domain: &str) -> Result<Option<Connector>, StorageError> {
    store.connectors().for_domain(domain).await?.map(|r| from_record(hash_key, &r)).transpose()
}

pub async fn list(store: &Store, hash_key: &[u8]) -> Result<Vec<Connector>, StorageError> {
    store.connectors().list().await?.iter().map(|r| from_record(hash_key, r)).collect()
}

/// Validates and stores a connector given with its secrets in `settings` (`client_secret`,
/// `bind_password`) and `private_key_pem`. A secret left out keeps the stored one, so a change
/// of settings need not repeat them.
pub async fn save(
    store: &Store,
    hash_key: &[u8],
    mut settings: ConnectorSettings,
    private_key_pem: Option<String>,
    source: ConnectorSource,
) -> Result<ConnectorRecord, SaveError> {
    let mut secrets = Secrets::take_from(&mut settings);
    secrets.private_key_pem = private_key_pem;
    settings.private_key_file = None;
    if let Some(existing) = store.connectors().get(&settings.id).await? {
        let old = from_record(hash_key, &existing)?;
        let replaced_method = secrets.client_secret.is_some() || secrets.private_key_pem.is_some();
        if !replaced_method {
            secrets.client_secret = old.secrets.client_secret;
            secrets.private_key_pem = old.secrets.private_key_pem;
        }
        if secrets.bind_password.is_none() {
            secrets.bind_password = old.secrets.bind_password;
        }
    }
    if secrets.client_secret.is_some() && secrets.private_key_pem.is_some() {
        return Err(SaveError::Invalid("configuration error at `connector.private_key_file`: give either a client secret or a private key".into()));
    }
    // Validated as it will be stored: with the secrets it keeps (a private key counts as one).
    let mut check = settings.clone();
    check.client_secret = secrets.client_secret.clone();
    check.bind_password = secrets.bind_password.clone();
    check.validate("connector", secrets.private_key_pem.is_some()).map_err(|e| SaveError::Invalid(e.to_string()))?;
    let new = record(hash_key, settings, &secrets, source)?;
    Ok(store.connectors().upsert(new).await?)
}

fn record(hash_key: &[u8], settings: ConnectorSettings, secrets: &Secrets, source: ConnectorSource) -> Result<NewConnector, SaveError> {
    let secrets_sealed = if secrets.is_empty() {
        None
    } else {
        let json = serde_json::to_vec(secrets).map_err(|e| SaveError::Invalid(e.to_string()))?;
        Some(crate::crypto::seal(hash_key, LABEL, &json).map_err(|e| SaveError::Invalid(e.to_string()))?)
    };
    Ok(NewConnector {
        id: settings.id.clone(),
        kind: settings.kind.as_str().to_string(),
        domains: settings.domains.clone(),
        settings: serde_json::to_value(&settings).map_err(|e| SaveError::Invalid(e.to_string()))?,
        secrets_sealed,
        source,
    })
}

/// A stored connector as the CLI and the admin API show it: its settings, never its secrets
/// (only whether each is set).
pub fn describe(record: &ConnectorRecord) -> serde_json::Value {
    let secrets = record.secrets_sealed.is_some();
    serde_json::json!({
        "id": record.id,
        "kind": record.kind,
        "name": record.settings.get("name").and_then(|n| n.as_str()).unwrap_or(&record.id),
        "source": record.source.as_str(),
        "domains": record.domains,
        "has_secrets": secrets,
        "settings": record.settings,
        "created_at": crate::cli::output::time(record.created_at),
        "updated_at": crate::cli::output::time(record.updated_at),
    })
}

/// Removes a connector that is not from the configuration. `Ok(false)` when there is none.
pub async fn remove(store: &Store, id: &str) -> Result<bool, SaveError> {
    match store.connectors().get(id).await? {
        None => Ok(false),
        Some(record) if record.source == ConnectorSource::Config => {
            Err(SaveError::Invalid(format!("connector `{id}` comes from the configuration file: remove it there")))
        }
        Some(_) => Ok(store.connectors().delete(id).await?),
    }
}

/// Writes every configured connector to the store (reading `private_key_file`s now) and removes
/// configured connectors no longer in the configuration. One line names what is wrong.
pub async fn sync_configured(store: &Store, settings: &Settings) -> Result<(), String> {
    let hash_key = crate::secrets::hash_key(store).await.map_err(|e| e.to_string())?;
    for (index, connector) in settings.connectors.iter().enumerate() {
        let mut connector = connector.clone();
        let private_key_pem = match connector.private_key_file.take() {
            Some(file) => Some(std::fs::read_to_string(&file).map_err(|e| {
                format!("configuration error at `connectors[{index}].private_key_file`: cannot read {}: {e}", file.display())
            })?),
            None => None,
        };
        if let Some(existing) = store.connectors().get(&connector.id).await.map_err(|e| e.to_string())?
            && existing.source != ConnectorSource::Config
        {
            return Err(format!(
                "connector `{}` of the configuration was added with the {} before: remove one of them",
                connector.id,
                if existing.source == ConnectorSource::Cli { "CLI" } else { "admin API" }
            ));
        }
        let mut secrets = Secrets::take_from(&mut connector);
        secrets.private_key_pem = private_key_pem;
        let new = record(&hash_key, connector, &secrets, ConnectorSource::Config).map_err(|e| e.to_string())?;
        store.connectors().upsert(new).await.map_err(|e| format!("cannot store connector `{}`: {e}", settings.connectors[index].id))?;
    }
    let keep: Vec<&str> = settings.connectors.iter().map(|c| c.id.as_str()).collect();
    for stored in store.connectors().list().await.map_err(|e| e.to_string())? {
        if stored.source == ConnectorSource::Config && !keep.contains(&stored.id.as_str()) {
            store.connectors().delete(&stored.id).await.map_err(|e| e.to_string())?;
            tracing::info!(connector = %stored.id, "removed a connector that is no longer in the configuration");
        }
    }
    Ok(())
}
