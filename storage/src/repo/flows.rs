//! Sign-ins in flight at an upstream provider: one row per `state` sent upstream, keyed by its
//! keyed hash, bound to the browser that started it (the hash of a cookie), carrying what the
//! callback needs (sealed by the caller). Spent with one conditional update, so a replayed
//! callback fails on every node.

use crate::StorageError;
use crate::entity::federation::federation_state;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

/// A flow to remember.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFlow {
    pub state_hash: String,
    pub binding_hash: String,
    pub connector_id: String,
    pub payload: String,
    pub expires_at: i64,
}

/// A remembered flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlowRecord {
    pub state_hash: String,
    pub binding_hash: String,
    pub connector_id: String,
    pub payload: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
}

impl From<federation_state::Model> for FlowRecord {
    fn from(m: federation_state::Model) -> Self {
        Self {
            state_hash: m.state_hash,
            binding_hash: m.binding_hash,
            connector_id: m.connector_id,
            payload: m.payload,
            created_at: m.created_at,
            expires_at: m.expires_at,
            consumed_at: m.consumed_at,
        }
    }
}

/// What spending a flow came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SpendOutcome {
    /// This call spent it.
    Spent(FlowRecord),
    /// It was spent before (a replayed callback).
    AlreadySpent,
    Expired,
    NotFound,
}

pub struct Flows<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> Flows<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        Self { db }
    }

    pub async fn create(&self, new: NewFlow, at: i64) -> Result<FlowRecord, StorageError> {
        let row = federation_state::ActiveModel {
            state_hash: Set(new.state_hash),
            binding_hash: Set(new.binding_hash),
            connector_id: Set(new.connector_id),
            payload: Set(new.payload),
            created_at: Set(at),
            expires_at: Set(new.expires_at),
            consumed_at: Set(None),
        }
        .insert(self.db)
        .await
        .map_err(|e| StorageError::conflict_or(e, "a federation state"))?;
        Ok(row.into())
    }

    /// The flow, spent or not (so the caller can check the browser before spending it).
    pub async fn find(&self, state_hash: &str) -> Result<Option<FlowRecord>, StorageError> {
        Ok(federation_state::Entity::find_by_id(state_hash.to_string()).one(self.db).await?.map(Into::into))
    }

    /// Spends the flow: of any number of concurrent calls, one gets `Spent`.
    pub async fn spend(&self, state_hash: &str, at: i64) -> Result<SpendOutcome, StorageError> {
        let updated = federation_state::Entity::update_many()
            .col_expr(federation_state::Column::ConsumedAt, Expr::val(at))
            .filter(federation_state::Column::StateHash.eq(state_hash))
            .filter(federation_state::Column::ConsumedAt.is_null())
            .filter(federation_state::Column::ExpiresAt.gt(at))
            .exec(self.db)
            .await?
            .rows_affected;
        let found = self.find(state_hash).await?;
        Ok(match found {
            Some(record) if updated == 1 => SpendOutcome::Spent(record),
            Some(record) if record.consumed_at.is_some() => SpendOutcome::AlreadySpent,
            Some(_) => SpendOutcome::Expired,
            None => SpendOutcome::NotFound,
        })
    }

    /// Forgets flows past their expiry. Returns how many went.
    pub async fn purge_expired(&self, now: i64) -> Result<u64, StorageError> {
        let result = federation_state::Entity::delete_many()
            .filter(federation_state::Column::ExpiresAt.lte(now))
            .exec(self.db)
            .await?;
        Ok(result.rows_affected)
    }
}
