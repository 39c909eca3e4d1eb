//! The audit trail: security events (sign-ins, failures, revocations, administration),
//! append-only.

use crate::entity::audit::audit_event;
use crate::repo::new_id;
use crate::{StorageError, now};
use crate::repo::InsertCommitted as _;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

/// An event to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// A dotted name such as `login.failed`.
    pub kind: String,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub detail: serde_json::Value,
}

/// A recorded event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    pub id: String,
    pub at: i64,
    pub kind: String,
    pub user_id: Option<String>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub detail: serde_json::Value,
}

impl From<audit_event::Model> for AuditRecord {
    fn from(m: audit_event::Model) -> Self {
        Self { id: m.id, at: m.at, kind: m.kind, user_id: m.user_id, client_id: m.client_id, ip: m.ip, detail: m.detail }
    }
}

pub struct AuditLog<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> AuditLog<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        Self { db }
    }

    /// Records an event now, with a new id.
    pub async fn record(&self, event: AuditEvent) -> Result<AuditRecord, StorageError> {
        let row = audit_event::ActiveModel {
            id: Set(new_id()),
            at: Set(now()),
            kind: Set(event.kind),
            user_id: Set(event.user_id),
            client_id: Set(event.client_id),
            ip: Set(event.ip),
            detail: Set(event.detail),
        }
        .insert_committed(self.db)
        .await?;
        Ok(row.into())
    }

    /// The newest `limit` events, of one user or of everyone.
    pub async fn list(&self, user_id: Option<&str>, limit: u64) -> Result<Vec<AuditRecord>, StorageError> {
        let mut query = audit_event::Entity::find();
        if let Some(user_id) = user_id {
            query = query.filter(audit_event::Column::UserId.eq(user_id));
        }
        let rows = query
            .order_by_desc(audit_event::Column::At)
            // Ids are UUID v7: later ids break ties within one second.
            .order_by_desc(audit_event::Column::Id)
            .limit(limit)
            .all(self.db)
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Deletes events older than `before` (retention). Returns how many went.
    pub async fn purge_before(&self, before: i64) -> Result<u64, StorageError> {
        let result = audit_event::Entity::delete_many().filter(audit_event::Column::At.lt(before)).exec(self.db).await?;
        Ok(result.rows_affected)
    }
}
