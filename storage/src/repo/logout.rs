//! The back-channel logout outbox: one row per client to notify of an ended session, delivered
//! by whichever node claims it first, retried with back-off until delivered or given up.
//!
//! A node claims a due delivery by setting its lease with one conditional `UPDATE … WHERE
//! <not leased>`; the row count decides, so two nodes never deliver the same row at once. A node
//! that dies mid-delivery leaves a lease that runs out, and another node delivers the row then.

use crate::entity::logout::logout_delivery;
use crate::repo::{begin_write, new_id, parse_stored, text_enum};
use crate::{StorageError, now};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};

text_enum! {
    /// Where a delivery stands.
    pub enum DeliveryStatus as "logout delivery status" {
        /// Not delivered yet: due at `next_attempt_at` (the first attempt, or a retry).
        Pending = "pending",
        /// The client acknowledged the logout token.
        Delivered = "delivered",
        /// Given up: the client refused the token, or kept failing for too long.
        Failed = "failed",
    }
}

/// A client to notify that a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLogoutDelivery {
    pub session_id: String,
    pub client_id: String,
    pub user_id: String,
    /// The client's `backchannel_logout_uri` when the session ended.
    pub uri: String,
}

/// A stored delivery. `id` is the logout token's `jti`, the same on every attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutDeliveryRecord {
    pub id: String,
    pub session_id: String,
    pub client_id: String,
    pub user_id: String,
    pub uri: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub lease_until: Option<i64>,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

impl TryFrom<logout_delivery::Model> for LogoutDeliveryRecord {
    type Error = StorageError;

    fn try_from(m: logout_delivery::Model) -> Result<Self, StorageError> {
        Ok(Self {
            status: parse_stored(&m.status)?,
            id: m.id,
            session_id: m.session_id,
            client_id: m.client_id,
            user_id: m.user_id,
            uri: m.uri,
            attempts: m.attempts,
            next_attempt_at: m.next_attempt_at,
            lease_until: m.lease_until,
            last_error: m.last_error,
            created_at: m.created_at,
            finished_at: m.finished_at,
        })
    }
}

/// Due and not leased at `at`.
fn claimable(at: i64) -> Condition {
    Condition::all()
        .add(logout_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
        .add(logout_delivery::Column::NextAttemptAt.lte(at))
        .add(Condition::any().add(logout_delivery::Column::LeaseUntil.is_null()).add(logout_delivery::Column::LeaseUntil.lte(at)))
}

/// Stored errors are for an administrator's eyes: short, one line.
fn shorten(error: &str) -> String {
    let line: String = error.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    match line.char_indices().nth(500) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

pub struct LogoutDeliveries<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> LogoutDeliveries<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        Self { db }
    }

    /// Queues deliveries, due at once. A client already queued for the same session is not
    /// queued again. Returns how many were new.
    pub async fn enqueue(&self, deliveries: Vec<NewLogoutDelivery>) -> Result<u64, StorageError> {
        let at = now();
        let mut added = 0;
        let txn = begin_write(self.db).await?;
        for new in deliveries {
            let row = logout_delivery::ActiveModel {
                id: Set(new_id()),
                session_id: Set(new.session_id),
                client_id: Set(new.client_id),
                user_id: Set(new.user_id),
                uri: Set(new.uri),
                status: Set(DeliveryStatus::Pending.as_str().to_string()),
                attempts: Set(0),
                next_attempt_at: Set(at),
                lease_until: Set(None),
                last_error: Set(None),
                created_at: Set(at),
                finished_at: Set(None),
            };
            let inserted = logout_delivery::Entity::insert(row)
                .on_conflict(
                    OnConflict::columns([logout_delivery::Column::SessionId, logout_delivery::Column::ClientId])
                        .do_nothing()
                        .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
            added += inserted;
        }
        txn.commit().await?;
        Ok(added)
    }

    /// Claims up to `limit` due deliveries for `lease_secs`, oldest due first. Each row returned
    /// is this caller's alone until the lease runs out.
    pub async fn claim_due(&self, at: i64, lease_secs: i64, limit: u64) -> Result<Vec<LogoutDeliveryRecord>, StorageError> {
        let candidates = logout_delivery::Entity::find()
            .filter(claimable(at))
            .order_by_asc(logout_delivery::Column::NextAttemptAt)
            .order_by_asc(logout_delivery::Column::Id)
            .limit(limit)
            .all(self.db)
            .await?;
        let mut claimed = Vec::new();
        for candidate in candidates {
            let won = logout_delivery::Entity::update_many()
                .col_expr(logout_delivery::Column::LeaseUntil, Expr::val(at + lease_secs))
                .filter(logout_delivery::Column::Id.eq(candidate.id.as_str()))
                .filter(claimable(at))
                .exec(self.db)
                .await?
                .rows_affected
                == 1;
            if won {
                let mut record: LogoutDeliveryRecord = candidate.try_into()?;
                record.lease_until = Some(at + lease_secs);
                claimed.push(record);
            }
        }
        Ok(claimed)
    }

    /// The earliest time a pending delivery falls due (for a worker to sleep until then).
    pub async fn next_due_at(&self) -> Result<Option<i64>, StorageError> {
        let row = logout_delivery::Entity::find()
            .filter(logout_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .order_by_asc(logout_delivery::Column::NextAttemptAt)
            .one(self.db)
            .await?;
        Ok(row.map(|r| Ord::max(r.next_attempt_at, r.lease_until.unwrap_or(0))))
    }

    /// Records an attempt's outcome and releases the lease: delivered, retry at `retry_at`, or
    /// failed for good. Nothing happens to a row that is no longer pending.
    pub async fn record_attempt(&self, id: &str, outcome: AttemptOutcome<'_>, at: i64) -> Result<(), StorageError> {
        let mut update = logout_delivery::Entity::update_many()
            .col_expr(logout_delivery::Column::Attempts, Expr::col(logout_delivery::Column::Attempts).add(1))
            .col_expr(logout_delivery::Column::LeaseUntil, Expr::val(Option::<i64>::None));
        update = match outcome {
            AttemptOutcome::Delivered => update
                .col_expr(logout_delivery::Column::Status, Expr::val(DeliveryStatus::Delivered.as_str()))
                .col_expr(logout_delivery::Column::FinishedAt, Expr::val(at))
                .col_expr(logout_delivery::Column::LastError, Expr::val(Option::<String>::None)),
            AttemptOutcome::Retry { error, retry_at } => update
                .col_expr(logout_delivery::Column::NextAttemptAt, Expr::val(retry_at))
                .col_expr(logout_delivery::Column::LastError, Expr::val(shorten(error))),
            AttemptOutcome::Failed { error } => update
                .col_expr(logout_delivery::Column::Status, Expr::val(DeliveryStatus::Failed.as_str()))
                .col_expr(logout_delivery::Column::FinishedAt, Expr::val(at))
                .col_expr(logout_delivery::Column::LastError, Expr::val(shorten(error))),
        };
        update
            .filter(logout_delivery::Column::Id.eq(id))
            .filter(logout_delivery::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .exec(self.db)
            .await?;
        Ok(())
    }

    /// Puts a failed delivery back in the queue, due now (an administrator's retry). False
    /// when there is no such failed delivery.
    pub async fn retry_failed(&self, id: &str) -> Result<bool, StorageError> {
        let result = logout_delivery::Entity::update_many()
            .col_expr(logout_delivery::Column::Status, Expr::val(DeliveryStatus::Pending.as_str()))
            .col_expr(logout_delivery::Column::NextAttemptAt, Expr::val(now()))
            .col_expr(logout_delivery::Column::FinishedAt, Expr::val(Option::<i64>::None))
            .filter(logout_delivery::Column::Id.eq(id))
            .filter(logout_delivery::Column::Status.eq(DeliveryStatus::Failed.as_str()))
            .exec(self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    pub async fn get(&self, id: &str) -> Result<Option<LogoutDeliveryRecord>, StorageError> {
        logout_delivery::Entity::find_by_id(id.to_string()).one(self.db).await?.map(TryInto::try_into).transpose()
    }

    /// Deliveries, newest first, optionally only those in one state.
    pub async fn list(
        &self,
        status: Option<DeliveryStatus>,
        offset: u64,
        limit: u64,
    ) -> Result<Vec<LogoutDeliveryRecord>, StorageError> {
        let mut query = logout_delivery::Entity::find();
        if let Some(status) = status {
            query = query.filter(logout_delivery::Column::Status.eq(status.as_str()));
        }
        let rows = query
            .order_by_desc(logout_delivery::Column::CreatedAt)
            .order_by_desc(logout_delivery::Column::Id)
            .offset(offset)
            .limit(limit)
            .all(self.db)
            .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// How many deliveries are in each state (every state listed, zero included).
    pub async fn count_by_status(&self) -> Result<Vec<(DeliveryStatus, u64)>, StorageError> {
        let mut counts = Vec::new();
        for status in [DeliveryStatus::Pending, DeliveryStatus::Delivered, DeliveryStatus::Failed] {
            let count = logout_delivery::Entity::find()
                .filter(logout_delivery::Column::Status.eq(status.as_str()))
                .count(self.db)
                .await?;
            counts.push((status, count));
        }
        Ok(counts)
    }

    /// Deletes delivered and failed rows that finished before `before`. Returns how many went.
    pub async fn purge_finished(&self, before: i64) -> Result<u64, StorageError> {
        let result = logout_delivery::Entity::delete_many()
            .filter(logout_delivery::Column::Status.ne(DeliveryStatus::Pending.as_str()))
            .filter(logout_delivery::Column::FinishedAt.lt(before))
            .exec(self.db)
            .await?;
        Ok(result.rows_affected)
    }
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome<'a> {
    Delivered,
    Retry { error: &'a str, retry_at: i64 },
    Failed { error: &'a str },
}
