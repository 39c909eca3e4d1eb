//! Registered clients (relying parties): their secrets and their metadata.

use crate::entity::clients::client;
use crate::repo::{parse_stored, text_enum};
use crate::{StorageError, now};
use crate::repo::InsertCommitted as _;
use crate::repo::client_cache::ClientCache;
use std::sync::Arc;
use std::time::Instant;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

text_enum! {
    /// Where a client was registered, which decides who may change or remove it.
    pub enum ClientSource as "client source" {
        /// Declared in the configuration file: replaced at every start.
        Config = "config",
        /// Registered by an administrator with `poort clients`.
        Cli = "cli",
        /// Registered through the dynamic registration endpoint.
        Dynamic = "dynamic",
    }
}

/// A client to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewClient {
    pub client_id: String,
    pub secret_hash: Option<String>,
    /// The secret encrypted for `client_secret_jwt`, which needs the secret itself.
    pub secret_sealed: Option<String>,
    /// When the secret expires; 0 for never (RFC 7591).
    pub secret_expires_at: i64,
    /// The registration metadata (redirect URIs, grant types, …) as a JSON object.
    pub metadata: serde_json::Value,
    pub source: ClientSource,
    pub registration_token_hash: Option<String>,
}

/// A stored client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientRecord {
    pub client_id: String,
    pub secret_hash: Option<String>,
    pub secret_sealed: Option<String>,
    pub secret_expires_at: i64,
    pub metadata: serde_json::Value,
    pub source: ClientSource,
    pub registration_token_hash: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl TryFrom<client::Model> for ClientRecord {
    type Error = StorageError;

    fn try_from(m: client::Model) -> Result<Self, StorageError> {
        Ok(Self {
            source: parse_stored(&m.source)?,
            client_id: m.client_id,
            secret_hash: m.secret_hash,
            secret_sealed: m.secret_sealed,
            secret_expires_at: m.secret_expires_at,
            metadata: m.metadata,
            registration_token_hash: m.registration_token_hash,
            created_at: m.created_at,
            updated_at: m.updated_at,
        })
    }
}

impl NewClient {
    fn into_row(self, at: i64) -> client::ActiveModel {
        client::ActiveModel {
            client_id: Set(self.client_id),
            secret_hash: Set(self.secret_hash),
            secret_sealed: Set(self.secret_sealed),
            secret_expires_at: Set(self.secret_expires_at),
            metadata: Set(self.metadata),
            source: Set(self.source.as_str().to_string()),
            registration_token_hash: Set(self.registration_token_hash),
            created_at: Set(at),
            updated_at: Set(at),
        }
    }
}

/// The clients table. Reads go through the [`ClientCache`]; every write here empties it.
pub struct Clients<'a> {
    db: &'a DatabaseConnection,
    cache: &'a ClientCache,
}

impl<'a> Clients<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection, cache: &'a ClientCache) -> Self {
        Self { db, cache }
    }

    /// Runs a write and then empties the cache, whether the write succeeded or not (a failed
    /// commit may still have changed the row).
    async fn changing<T>(&self, write: impl std::future::Future<Output = Result<T, StorageError>>) -> Result<T, StorageError> {
        let result = write.await;
        self.cache.invalidate();
        result
    }

    /// Stores a new client; `Conflict` when the client id is taken.
    pub async fn insert(&self, new: NewClient) -> Result<ClientRecord, StorageError> {
        let id = new.client_id.clone();
        let row = self
            .changing(async {
                new.into_row(now())
                    .insert_committed(self.db)
                    .await
                    .map_err(|e| StorageError::conflict_or(e, format!("client {id}")))
            })
            .await?;
        row.try_into()
    }

    /// Stores the client, replacing everything but `created_at` when it exists.
    pub async fn upsert(&self, new: NewClient) -> Result<ClientRecord, StorageError> {
        let id = new.client_id.clone();
        let write = client::Entity::insert(new.into_row(now()))
            .on_conflict(
                OnConflict::column(client::Column::ClientId)
                    .update_columns([
                        client::Column::SecretHash,
                        client::Column::SecretSealed,
                        client::Column::SecretExpiresAt,
                        client::Column::Metadata,
                        client::Column::Source,
                        client::Column::RegistrationTokenHash,
                        client::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(self.db);
        self.changing(async { Ok(write.await?) }).await?;
        self.get(&id).await?.ok_or_else(|| StorageError::Corrupt(format!("client {id} vanished")))
    }

    /// The client, from the [`ClientCache`] when it was read there a moment ago.
    pub async fn get(&self, client_id: &str) -> Result<Option<ClientRecord>, StorageError> {
        Ok(self.get_shared(client_id).await?.map(Arc::unwrap_or_clone))
    }

    /// The client as [`Clients::get`] finds it, shared with the cache rather than copied: the
    /// same `Arc` comes back for as long as the cache serves the same read of the row.
    pub async fn get_shared(&self, client_id: &str) -> Result<Option<Arc<ClientRecord>>, StorageError> {
        let now = Instant::now();
        if let Some(record) = self.cache.get(client_id, now) {
            return Ok(Some(record));
        }
        let generation = self.cache.generation();
        let found = client::Entity::find_by_id(client_id.to_string()).one(self.db).await?;
        let record: Option<Arc<ClientRecord>> = found.map(ClientRecord::try_from).transpose()?.map(Arc::new);
        if let Some(record) = &record {
            self.cache.put(record, generation, now);
        }
        Ok(record)
    }

    /// Every client, by client id.
    pub async fn list(&self) -> Result<Vec<ClientRecord>, StorageError> {
        let rows = client::Entity::find().order_by_asc(client::Column::ClientId).all(self.db).await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    pub async fn update_metadata(&self, client_id: &str, metadata: serde_json::Value) -> Result<bool, StorageError> {
        let write = client::Entity::update_many()
            .col_expr(client::Column::Metadata, Expr::val(metadata))
            .col_expr(client::Column::UpdatedAt, Expr::val(now()))
            .filter(client::Column::ClientId.eq(client_id))
            .exec(self.db);
        let result = self.changing(async { Ok(write.await?) }).await?;
        Ok(result.rows_affected == 1)
    }

    /// Deletes the client row only; its grants, tokens and consents are the caller's to revoke.
    pub async fn delete(&self, client_id: &str) -> Result<bool, StorageError> {
        let write = client::Entity::delete_by_id(client_id.to_string()).exec(self.db);
        Ok(self.changing(async { Ok(write.await?) }).await?.rows_affected == 1)
    }

    /// Deletes the clients that came from the configuration file but are no longer in it
    /// (`keep`). Returns how many were deleted.
    pub async fn remove_config_clients_except(&self, keep: &[String]) -> Result<u64, StorageError> {
        let write = client::Entity::delete_many()
            .filter(client::Column::Source.eq(ClientSource::Config.as_str()))
            .filter(client::Column::ClientId.is_not_in(keep.iter().cloned()))
            .exec(self.db);
        let result = self.changing(async { Ok(write.await?) }).await?;
        Ok(result.rows_affected)
    }
}
