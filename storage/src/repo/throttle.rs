//! Brute-force counters: how many times something failed recently for a key (an account, a user
//! name, a client address — callers pass a keyed hash, never the name itself), and until when
//! the key is locked. The database counts, so every node sees the same numbers and concurrent
//! failures are all counted.

use crate::StorageError;
use crate::entity::throttle::throttle_counter;
use crate::repo::begin_write;
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
};

/// When failures turn into a lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimits {
    /// The failure that reaches this count locks the key (and starts the count again).
    pub max_failures: i64,
    /// How long a lock lasts, in seconds.
    pub lock_secs: i64,
    /// Failures are forgotten this many seconds after the last one.
    pub forget_after_secs: i64,
}

/// A key's counter as it stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ThrottleState {
    /// Failures since the key was last locked, cleared or forgotten.
    pub failures: i64,
    /// The end of the current or last lock.
    pub locked_until: Option<i64>,
}

impl ThrottleState {
    pub fn is_locked(&self, now: i64) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }

    /// Whether this failure count has just turned into a lock (the count starts again at a lock).
    pub fn just_locked(&self, now: i64) -> bool {
        self.failures == 0 && self.is_locked(now)
    }
}

pub struct ThrottleCounters<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> ThrottleCounters<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        Self { db }
    }

    /// The counter of `key` (zero when it has none, or its failures are forgotten).
    pub async fn get(&self, key: &str, now: i64) -> Result<ThrottleState, StorageError> {
        let row = throttle_counter::Entity::find_by_id(key.to_string()).one(self.db).await?;
        Ok(row.filter(|r| r.expires_at > now).map(state_of).unwrap_or_default())
    }

    /// Counts one failure for `key` and returns the counter after it. The failure that reaches
    /// `limits.max_failures` locks the key until `now + limits.lock_secs` (a lock still running
    /// is extended) and starts the count again. Of concurrent calls, each is counted once.
    pub async fn record_failure(
        &self,
        key: &str,
        limits: ThrottleLimits,
        now: i64,
    ) -> Result<ThrottleState, StorageError> {
        let txn = begin_write(self.db).await?;
        let fresh = throttle_counter::ActiveModel {
            key: Set(key.to_string()),
            failures: Set(0),
            locked_until: Set(None),
            expires_at: Set(now),
        };
        throttle_counter::Entity::insert(fresh)
            .on_conflict(OnConflict::column(throttle_counter::Column::Key).do_nothing().to_owned())
            .exec_without_returning(&txn)
            .await?;
        // Locked (on PostgreSQL), so concurrent failures take turns and none is lost.
        let row = throttle_counter::Entity::find()
            .filter(throttle_counter::Column::Key.eq(key))
            .lock_exclusive()
            .one(&txn)
            .await?
            .ok_or_else(|| StorageError::Corrupt("a throttle counter vanished inside its transaction".to_string()))?;
        let mut state = if row.expires_at > now { state_of(row) } else { ThrottleState::default() };
        state.failures += 1;
        if state.failures >= limits.max_failures.max(1) {
            state.failures = 0;
            state.locked_until = Some(now + limits.lock_secs);
        }
        let expires_at = (now + limits.forget_after_secs).max(state.locked_until.unwrap_or(0));
        throttle_counter::ActiveModel {
            key: Set(key.to_string()),
            failures: Set(state.failures),
            locked_until: Set(state.locked_until),
            expires_at: Set(expires_at),
        }
        .update(&txn)
        .await?;
        txn.commit().await?;
        Ok(state)
    }

    /// Forgets `key`'s failures and lock (after a successful sign-in or a new password).
    pub async fn clear(&self, key: &str) -> Result<(), StorageError> {
        throttle_counter::Entity::delete_by_id(key.to_string()).exec(self.db).await?;
        Ok(())
    }

    /// Deletes counters whose failures are forgotten and whose lock is over. Returns how many went.
    pub async fn purge_expired(&self, now: i64) -> Result<u64, StorageError> {
        let result = throttle_counter::Entity::delete_many()
            .filter(throttle_counter::Column::ExpiresAt.lte(now))
            .exec(self.db)
            .await?;
        Ok(result.rows_affected)
    }
}

fn state_of(row: throttle_counter::Model) -> ThrottleState {
    ThrottleState { failures: row.failures, locked_until: row.locked_until }
}
