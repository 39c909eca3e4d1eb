//! The replay guard: identifiers that may be used once (a client assertion's `jti`), remembered
//! until they expire. The database decides, so two nodes cannot both accept the same value.

use crate::StorageError;
use crate::entity::replay::replay_guard;
use crate::repo::begin_write;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

pub struct ReplayGuard<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> ReplayGuard<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        Self { db }
    }

    /// Records `key` (text without NUL characters, which PostgreSQL refuses; callers pass a
    /// hash) as used until `expires_at`. True when this is its first use (or its last
    /// use has expired); false for a replay. Of any number of concurrent calls with one key,
    /// exactly one gets `true`.
    pub async fn first_use(&self, key: &str, expires_at: i64, now: i64) -> Result<bool, StorageError> {
        let txn = begin_write(self.db).await?;
        let row = replay_guard::ActiveModel { key: Set(key.to_string()), expires_at: Set(expires_at) };
        let inserted = replay_guard::Entity::insert(row)
            .on_conflict(OnConflict::column(replay_guard::Column::Key).do_nothing().to_owned())
            .exec_without_returning(&txn)
            .await?
            == 1;
        // A row left over from an expired use (not purged yet) may be taken over.
        let first = inserted
            || replay_guard::Entity::update_many()
                .col_expr(replay_guard::Column::ExpiresAt, Expr::val(expires_at))
                .filter(replay_guard::Column::Key.eq(key))
                .filter(replay_guard::Column::ExpiresAt.lte(now))
                .exec(&txn)
                .await?
                .rows_affected
                == 1;
        txn.commit().await?;
        Ok(first)
    }

    /// Forgets identifiers past their expiry. Returns how many went.
    pub async fn purge_expired(&self, now: i64) -> Result<u64, StorageError> {
        let result =
            replay_guard::Entity::delete_many().filter(replay_guard::Column::ExpiresAt.lte(now)).exec(self.db).await?;
        Ok(result.rows_affected)
    }
}
