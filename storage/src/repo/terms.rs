//! Terms of service: published versions, deployment-wide (no client) or for one client, and
//! which users accepted which version.

use crate::entity::consents::{terms_acceptance, terms_version};
use crate::repo::{begin_write, new_id};
use crate::{StorageError, now};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    QueryFilter, QueryOrder, Select,
};

/// A published version of the terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TermsVersion {
    pub id: String,
    /// None for the deployment-wide terms.
    pub client_id: Option<String>,
    pub version: String,
    pub body: String,
    pub published_at: i64,
}

impl From<terms_version::Model> for TermsVersion {
    fn from(m: terms_version::Model) -> Self {
        Self { id: m.id, client_id: m.client_id, version: m.version, body: m.body, published_at: m.published_at }
    }
}

/// The versions published for one scope: a client's, or the deployment's (`None`).
fn in_scope(client_id: Option<&str>) -> Select<terms_version::Entity> {
    let find = terms_version::Entity::find();
    match client_id {
        Some(id) => find.filter(terms_version::Column::ClientId.eq(id)),
        None => find.filter(terms_version::Column::ClientId.is_null()),
    }
}

/// Any constant works as long as every node uses the same one (and it differs from the
/// migration lock's).
const PUBLISH_LOCK: i64 = 7368757036;

pub struct Terms<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> Terms<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        Self { db }
    }

    /// Publishes a version; `Conflict` when that version exists for that scope.
    pub async fn publish(&self, client_id: Option<&str>, version: &str, body: &str) -> Result<TermsVersion, StorageError> {
        let txn = begin_write(self.db).await?;
        // NULL client ids are distinct in the unique index, so deployment-wide duplicates are
        // caught only by this check. Publishers take turns so two cannot both pass it: SQLite's
        // write transaction does that already, PostgreSQL needs a transaction-scoped lock.
        if self.db.get_database_backend() == DbBackend::Postgres {
            txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({PUBLISH_LOCK})")).await?;
        }
        let what = match client_id {
            Some(id) => format!("terms version {version} for client {id}"),
            None => format!("terms version {version}"),
        };
        if in_scope(client_id).filter(terms_version::Column::Version.eq(version)).one(&txn).await?.is_some() {
            return Err(StorageError::Conflict(what));
        }
        let row = terms_version::ActiveModel {
            id: Set(new_id()),
            client_id: Set(client_id.map(str::to_string)),
            version: Set(version.to_string()),
            body: Set(body.to_string()),
            published_at: Set(now()),
        }
        .insert(&txn)
        .await
        .map_err(|e| StorageError::conflict_or(e, what))?;
        txn.commit().await?;
        Ok(row.into())
    }

    pub async fn get(&self, id: &str) -> Result<Option<TermsVersion>, StorageError> {
        Ok(terms_version::Entity::find_by_id(id.to_string()).one(self.db).await?.map(Into::into))
    }

    /// The latest version published for this scope (no fallback from a client to the
    /// deployment-wide terms: the caller asks for both).
    pub async fn current(&self, client_id: Option<&str>) -> Result<Option<TermsVersion>, StorageError> {
        let row = in_scope(client_id)
            .order_by_desc(terms_version::Column::PublishedAt)
            // Ids are UUID v7: later ids break ties within one second.
            .order_by_desc(terms_version::Column::Id)
            .one(self.db)
            .await?;
        Ok(row.map(Into::into))
    }

    /// Every version published for this scope, newest first.
    pub async fn list(&self, client_id: Option<&str>) -> Result<Vec<TermsVersion>, StorageError> {
        let rows = in_scope(client_id)
            .order_by_desc(terms_version::Column::PublishedAt)
            .order_by_desc(terms_version::Column::Id)
            .all(self.db)
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Records that a user accepted a version. Accepting again keeps the first time.
    pub async fn accept(&self, user_id: &str, terms_id: &str) -> Result<(), StorageError> {
        let row = terms_acceptance::ActiveModel {
            user_id: Set(user_id.to_string()),
            terms_id: Set(terms_id.to_string()),
            accepted_at: Set(now()),
        };
        terms_acceptance::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([terms_acceptance::Column::UserId, terms_acceptance::Column::TermsId])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(self.db)
            .await?;
        Ok(())
    }

    pub async fn has_accepted(&self, user_id: &str, terms_id: &str) -> Result<bool, StorageError> {
        let row =
            terms_acceptance::Entity::find_by_id((user_id.to_string(), terms_id.to_string())).one(self.db).await?;
        Ok(row.is_some())
    }

    /// When the user accepted this version, if they did.
    pub async fn accepted_at(&self, user_id: &str, terms_id: &str) -> Result<Option<i64>, StorageError> {
        let row =
            terms_acceptance::Entity::find_by_id((user_id.to_string(), terms_id.to_string())).one(self.db).await?;
        Ok(row.map(|r| r.accepted_at))
    }
}
