//! Upstream sign-in connectors and the e-mail domains each signs in. A domain has at most one
//! connector (its primary key says so, on both engines); a connector and its domains change in
//! one transaction.

use crate::entity::federation::{connector, connector_domain};
use crate::repo::{begin_write, parse_stored, text_enum};
use crate::{StorageError, now};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};

text_enum! {
    /// Where a connector was defined, which decides who may change or remove it.
    pub enum ConnectorSource as "connector source" {
        /// The configuration file: rewritten at every start.
        Config = "config",
        /// `poort connector add`.
        Cli = "cli",
        /// The admin API.
        Admin = "admin",
    }
}

/// A connector to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConnector {
    pub id: String,
    /// `oidc`, `entra`, `google` or `ldap`.
    pub kind: String,
    /// Its settings as a JSON object, without secrets.
    pub settings: serde_json::Value,
    /// Its secrets, sealed by the caller.
    pub secrets_sealed: Option<String>,
    pub source: ConnectorSource,
    /// Lower-case e-mail domains.
    pub domains: Vec<String>,
}

/// A stored connector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorRecord {
    pub id: String,
    pub kind: String,
    pub settings: serde_json::Value,
    pub secrets_sealed: Option<String>,
    pub source: ConnectorSource,
    /// Sorted.
    pub domains: Vec<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

pub struct Connectors<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> Connectors<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        Self { db }
    }

    /// Stores a new connector; `Conflict` naming the id when it exists, or naming a domain
    /// another connector already signs in.
    pub async fn insert(&self, new: NewConnector) -> Result<ConnectorRecord, StorageError> {
        self.write(new, false).await
    }

    /// Stores the connector, replacing its settings, secrets, source and domains when it exists
    /// (`created_at` stays). `Conflict` naming a domain another connector signs in.
    pub async fn upsert(&self, new: NewConnector) -> Result<ConnectorRecord, StorageError> {
        self.write(new, true).await
    }

    async fn write(&self, new: NewConnector, replace: bool) -> Result<ConnectorRecord, StorageError> {
        let id = new.id.clone();
        let at = now();
        let txn = begin_write(self.db).await?;
        let existing = connector::Entity::find_by_id(id.clone()).one(&txn).await?;
        if existing.is_some() && !replace {
            return Err(StorageError::Conflict(format!("connector {id}")));
        }
        for domain in &new.domains {
            if let Some(owner) = connector_domain::Entity::find_by_id(domain.clone()).one(&txn).await?
                && owner.connector_id != id
            {
                return Err(StorageError::Conflict(format!("domain {domain} (connector {})", owner.connector_id)));
            }
        }
        let row = connector::ActiveModel {
            id: Set(id.clone()),
            kind: Set(new.kind),
            settings: Set(new.settings),
            secrets_sealed: Set(new.secrets_sealed),
            source: Set(new.source.as_str().to_string()),
            created_at: Set(existing.map_or(at, |e| e.created_at)),
            updated_at: Set(at),
        };
        connector::Entity::insert(row)
            .on_conflict(
                OnConflict::column(connector::Column::Id)
                    .update_columns([
                        connector::Column::Kind,
                        connector::Column::Settings,
                        connector::Column::SecretsSealed,
                        connector::Column::Source,
                        connector::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await
            .map_err(|e| StorageError::conflict_or(e, format!("connector {id}")))?;
        connector_domain::Entity::delete_many().filter(connector_domain::Column::ConnectorId.eq(&id)).exec(&txn).await?;
        let mut domains = new.domains;
        domains.sort();
        domains.dedup();
        let rows = domains.iter().map(|domain| connector_domain::ActiveModel {
            domain: Set(domain.clone()),
            connector_id: Set(id.clone()),
        });
        // A concurrent writer claiming the same domain loses here (PostgreSQL).
        connector_domain::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await
            .map_err(|e| StorageError::conflict_or(e, format!("a domain of connector {id}")))?;
        let stored = read(&txn, &id).await?.ok_or_else(|| StorageError::Corrupt(format!("connector {id} vanished")))?;
        txn.commit().await?;
        Ok(stored)
    }

    pub async fn get(&self, id: &str) -> Result<Option<ConnectorRecord>, StorageError> {
        read(self.db, id).await
    }

    /// Every connector, by id.
    pub async fn list(&self) -> Result<Vec<ConnectorRecord>, StorageError> {
        let rows = connector::Entity::find().order_by_asc(connector::Column::Id).all(self.db).await?;
        let mut domains = connector_domain::Entity::find().order_by_asc(connector_domain::Column::Domain).all(self.db).await?;
        rows.into_iter()
            .map(|row| {
                let (mine, rest): (Vec<_>, Vec<_>) = domains.drain(..).partition(|d| d.connector_id == row.id);
                domains = rest;
                record(row, mine.into_iter().map(|d| d.domain).collect())
            })
            .collect()
    }

    /// The connector that signs in `domain` (lower-case), if any.
    pub async fn for_domain(&self, domain: &str) -> Result<Option<ConnectorRecord>, StorageError> {
        match connector_domain::Entity::find_by_id(domain.to_string()).one(self.db).await? {
            Some(owner) => read(self.db, &owner.connector_id).await,
            None => Ok(None),
        }
    }

    /// Whether any connector exists (the sign-in page then asks for the user ID first).
    pub async fn any(&self) -> Result<bool, StorageError> {
        Ok(connector::Entity::find().one(self.db).await?.is_some())
    }

    /// Deletes a connector and its domains. True when it existed. Links to accounts stay, so
    /// adding it again restores them.
    pub async fn delete(&self, id: &str) -> Result<bool, StorageError> {
        let txn = self.db.begin().await?;
        connector_domain::Entity::delete_many().filter(connector_domain::Column::ConnectorId.eq(id)).exec(&txn).await?;
        let deleted = connector::Entity::delete_by_id(id.to_string()).exec(&txn).await?.rows_affected == 1;
        txn.commit().await?;
        Ok(deleted)
    }
}

async fn read<C: ConnectionTrait>(db: &C, id: &str) -> Result<Option<ConnectorRecord>, StorageError> {
    let Some(row) = connector::Entity::find_by_id(id.to_string()).one(db).await? else { return Ok(None) };
    let domains = connector_domain::Entity::find()
        .filter(connector_domain::Column::ConnectorId.eq(id))
        .order_by_asc(connector_domain::Column::Domain)
        .all(db)
        .await?;
    record(row, domains.into_iter().map(|d| d.domain).collect()).map(Some)
}

fn record(row: connector::Model, domains: Vec<String>) -> Result<ConnectorRecord, StorageError> {
    Ok(ConnectorRecord {
        source: parse_stored(&row.source)?,
        id: row.id,
        kind: row.kind,
        settings: row.settings,
        secrets_sealed: row.secrets_sealed,
        domains,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}
