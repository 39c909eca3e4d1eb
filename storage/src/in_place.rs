//! SQLite on the caller's thread, for the statements every sign-in and token request runs.
//!
//! sqlx runs each SQLite connection on a thread of its own: every statement is a message to
//! that thread and an answer back, two thread switches. A code flow ran about nine statements,
//! and on one core the switches cost more than SQLite's own work (a fifth of the server's CPU
//! in a profile). SQLite itself answers from its page cache in microseconds, so here the hot
//! statements run where they are asked for, on connections of their own to the same file: one
//! that only reads, shared by every request, and one that only the group commit's writer uses
//! (see [`crate::repo::group_commit`]).
//!
//! Both are fast paths, never the only path. Their busy timeout is zero, so they never wait:
//! when the database is locked (a transaction on the pool's connection, another process), or
//! anything else goes wrong, the call fails at once and the caller does the same work through
//! sqlx's pool, whose answer is final. A failed attempt leaves nothing behind: a read changes
//! nothing, and a write batch is rolled back.
//!
//! The statements are the ones sea-orm builds for the pool; only running them and reading the
//! rows back is done here. A row becomes an entity's model column by column, each value typed
//! by the column's definition in the entity, as sea-orm itself reads them.

use sea_orm::sea_query::ColumnType;
use sea_orm::{
    ActiveModelTrait, DbBackend, DbErr, EntityTrait, IdenStatic as _, Iterable as _, QuerySelect as _, QueryTrait, Select,
    Statement, TryIntoModel, Value,
};
use sea_orm::ColumnTrait as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Prepared statements kept per connection: more than the hot paths use.
const STATEMENT_CACHE: usize = 64;

/// One connection to a SQLite file, used in place.
#[derive(Clone)]
pub(crate) struct InPlace(Arc<Connection>);

impl std::fmt::Debug for InPlace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("InPlace").field(&self.0.path).finish()
    }
}

/// Whether a connection may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    ReadOnly,
    ReadWrite,
}

/// The connection and how to open it again.
struct Connection {
    path: PathBuf,
    access: Access,
    open: Mutex<rusqlite::Connection>,
}

impl InPlace {
    /// Opens the existing database file at `path`.
    pub(crate) fn open(path: &Path, access: Access) -> Result<Self, rusqlite::Error> {
        let open = Mutex::new(open(path, access)?);
        Ok(Self(Arc::new(Connection { path: path.to_path_buf(), access, open })))
    }

    /// Runs `f` on the connection; a SQLite error becomes a [`DbErr`].
    fn with<T>(&self, f: impl FnOnce(&rusqlite::Connection) -> Result<T, DbErr>) -> Result<T, DbErr> {
        let open = self.0.open.lock().unwrap_or_else(|e| e.into_inner());
        f(&open)
    }

    /// Runs `statement` and maps each row it returns with `map`.
    pub(crate) fn rows<T>(&self, statement: &Statement, mut map: impl FnMut(&Row<'_, '_>) -> Result<T, DbErr>) -> Result<Vec<T>, DbErr> {
        let values = parameters(statement)?;
        let sql = self.sql_for(&statement.sql);
        self.with(|c| {
            let mut prepared = c.prepare_cached(&sql).map_err(sqlite)?;
            let mut rows = prepared.query(rusqlite::params_from_iter(values)).map_err(sqlite)?;
            let mut found = Vec::new();
            while let Some(row) = rows.next().map_err(sqlite)? {
                found.push(map(&Row { row, next: Default::default() })?);
            }
            Ok(found)
        })
    }

    /// The first model `select` finds, as `Select::one` gives it.
    pub(crate) fn one<E>(&self, select: &Select<E>) -> Result<Option<E::Model>, DbErr>
    where
        E: EntityTrait,
        E::ActiveModel: TryIntoModel<E::Model>,
    {
        let statement = select.clone().limit(1).build(DbBackend::Sqlite);
        Ok(self.rows(&statement, |row| model::<E>(row, ""))?.pop())
    }

    /// Runs a statement that returns no rows; the number of rows it changed.
    pub(crate) fn execute(&self, statement: &Statement) -> Result<u64, DbErr> {
        let values = parameters(statement)?;
        let sql = self.sql_for(&statement.sql);
        self.with(|c| {
            let changed = c.prepare_cached(&sql).map_err(sqlite)?.execute(rusqlite::params_from_iter(values)).map_err(sqlite)?;
            Ok(changed as u64)
        })
    }

    /// The text run for `sql` here. On the writer, an `INSERT` or `UPDATE` that breaks a
    /// constraint rolls back the whole transaction (`OR ROLLBACK`) rather than undoing only its
    /// own changes, as a failed batch here is rolled back and run through the pool anyway. With
    /// no single statement to undo, SQLite keeps no statement journal: a copy of every page
    /// a multi-row insert, an `INSERT … SELECT` or an `UPDATE … RETURNING` first touches.
    fn sql_for<'s>(&self, sql: &'s str) -> std::borrow::Cow<'s, str> {
        if self.0.access == Access::ReadWrite {
            for (plain, rolling_back) in [("INSERT INTO ", "INSERT OR ROLLBACK INTO "), ("UPDATE ", "UPDATE OR ROLLBACK ")] {
                if let Some(rest) = sql.strip_prefix(plain) {
                    return format!("{rolling_back}{rest}").into();
                }
            }
        }
        sql.into()
    }

    /// Starts a write transaction, or fails at once when another connection holds the lock.
    pub(crate) fn begin(&self) -> Result<(), DbErr> {
        // A transaction left open (by a batch that panicked midway) would hold the write lock
        // for good: it is ended first.
        if !self.with(|c| Ok(c.is_autocommit()))? {
            self.rollback();
        }
        self.with(|c| c.prepare_cached("BEGIN IMMEDIATE").and_then(|mut s| s.execute([])).map(drop).map_err(sqlite))
    }

    /// Commits; kept prepared like `BEGIN`, where `execute_batch` would compile it every batch.
    pub(crate) fn commit(&self) -> Result<(), DbErr> {
        self.with(|c| c.prepare_cached("COMMIT").and_then(|mut s| s.execute([])).map(drop).map_err(sqlite))
    }

    /// Ends the transaction without its changes. Should SQLite keep it open all the same (a
    /// failed commit can), the connection is closed, which ends it, and opened afresh: a
    /// transaction left open would hold the write lock for good.
    pub(crate) fn rollback(&self) {
        let mut open = self.0.open.lock().unwrap_or_else(|e| e.into_inner());
        let _ = open.execute_batch("ROLLBACK");
        if !open.is_autocommit() {
            match self::open(&self.0.path, self.0.access) {
                Ok(fresh) => *open = fresh,
                Err(error) => tracing::warn!(%error, "reopening the in-place SQLite connection failed"),
            }
        }
    }
}

/// Opens `path` with the settings of the pool's connection (see [`crate::Store::connect`]),
/// but a busy timeout of zero and no automatic checkpoint.
fn open(path: &Path, access: Access) -> Result<rusqlite::Connection, rusqlite::Error> {
    use rusqlite::OpenFlags;
    let mode = match access {
        Access::ReadOnly => OpenFlags::SQLITE_OPEN_READ_ONLY,
        Access::ReadWrite => OpenFlags::SQLITE_OPEN_READ_WRITE,
    };
    // One mutex of ours guards each connection; SQLite's own is not needed.
    let connection = rusqlite::Connection::open_with_flags(path, mode | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    connection.busy_timeout(std::time::Duration::ZERO)?;
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // See `stable_query_plans` in lib.rs: without it, every `LIMIT ?` is compiled anew.
    connection.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    // No automatic checkpoint here: it would copy the log into the database and sync the file
    // on a request's thread. The server's checkpointer does that on a connection of its own,
    // and the pool's connection keeps its automatic one as the backstop.
    connection.execute_batch(
        "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL; PRAGMA temp_store = memory; \
         PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 134217728;",
    )?;
    Ok(connection)
}

fn sqlite(error: rusqlite::Error) -> DbErr {
    DbErr::Custom(format!("in-place SQLite: {error}"))
}

/// A statement's values as SQLite takes them, encoded as sqlx encodes them (so that either
/// connection reads what the other wrote): booleans as 0 and 1, JSON as its text.
fn parameters(statement: &Statement) -> Result<Vec<rusqlite::types::Value>, DbErr> {
    use rusqlite::types::Value as Sql;
    let Some(values) = &statement.values else { return Ok(Vec::new()) };
    values
        .0
        .iter()
        .map(|value| {
            Ok(match value {
                Value::Bool(v) => v.map_or(Sql::Null, |b| Sql::Integer(b.into())),
                Value::Int(v) => v.map_or(Sql::Null, |n| Sql::Integer(n.into())),
                Value::BigInt(v) => v.map_or(Sql::Null, Sql::Integer),
                Value::Unsigned(v) => v.map_or(Sql::Null, |n| Sql::Integer(n.into())),
                Value::BigUnsigned(v) => match v {
                    None => Sql::Null,
                    Some(n) => Sql::Integer(i64::try_from(*n).map_err(|_| unsupported("an integer beyond i64"))?),
                },
                Value::Double(v) => v.map_or(Sql::Null, Sql::Real),
                Value::String(v) => v.clone().map_or(Sql::Null, Sql::Text),
                Value::Bytes(v) => v.clone().map_or(Sql::Null, Sql::Blob),
                Value::Json(v) => match v {
                    None => Sql::Null,
                    Some(json) => Sql::Text(json.to_string()),
                },
                other => return Err(unsupported(&format!("{other:?}"))),
            })
        })
        .collect()
}

fn unsupported(what: &str) -> DbErr {
    DbErr::Custom(format!("in-place SQLite: no encoding for {what}"))
}

/// A result row. Its columns are found by name, as SQLite keeps the names with the prepared
/// statement: reading one is a pointer, where copying them all out cost an allocation a column.
pub(crate) struct Row<'r, 's> {
    row: &'r rusqlite::Row<'s>,
    /// Where the next column is looked for first: just after the last one found, because a
    /// model's columns are read in the order the statement selects them.
    next: std::cell::Cell<usize>,
}

impl Row<'_, '_> {
    /// The value of the column named `prefix` + `name`.
    fn get(&self, prefix: &str, name: &str) -> Result<rusqlite::types::ValueRef<'_>, DbErr> {
        let statement: &rusqlite::Statement<'_> = self.row.as_ref();
        let named = |i: usize| {
            statement.column_name(i).is_ok_and(|n| {
                n.len() == prefix.len() + name.len() && n.starts_with(prefix) && n.ends_with(name)
            })
        };
        let next = self.next.get();
        let index = if named(next) {
            next
        } else {
            (0..statement.column_count())
                .find(|&i| named(i))
                .ok_or_else(|| DbErr::Custom(format!("in-place SQLite: no column {prefix}{name}")))?
        };
        self.next.set(index + 1);
        self.row.get_ref(index).map_err(sqlite)
    }
}

/// The model of entity `E` in `row`, its columns named with `prefix` (`A_`, `B_` in a join).
pub(crate) fn model<E>(row: &Row<'_, '_>, prefix: &str) -> Result<E::Model, DbErr>
where
    E: EntityTrait,
    E::ActiveModel: TryIntoModel<E::Model>,
{
    let mut model = <E::ActiveModel as ActiveModelTrait>::default();
    for column in E::Column::iter() {
        let stored = row.get(prefix, column.as_str())?;
        model.try_set(column, typed(column.def().get_column_type(), stored, column.as_str())?)?;
    }
    model.try_into_model()
}

/// A stored value as the column's Rust type takes it.
fn typed(column: &ColumnType, stored: rusqlite::types::ValueRef<'_>, name: &str) -> Result<Value, DbErr> {
    use rusqlite::types::ValueRef;
    let text = |bytes: &[u8]| String::from_utf8(bytes.to_vec()).map_err(|_| mismatch(name));
    Ok(match (column, stored) {
        (ColumnType::BigInteger, ValueRef::Null) => Value::BigInt(None),
        (ColumnType::BigInteger, ValueRef::Integer(n)) => Value::BigInt(Some(n)),
        (ColumnType::Boolean, ValueRef::Null) => Value::Bool(None),
        (ColumnType::Boolean, ValueRef::Integer(n)) => Value::Bool(Some(n != 0)),
        (ColumnType::String(_) | ColumnType::Text, ValueRef::Null) => Value::String(None),
        (ColumnType::String(_) | ColumnType::Text, ValueRef::Text(bytes)) => Value::String(Some(text(bytes)?)),
        (ColumnType::Json | ColumnType::JsonBinary, ValueRef::Null) => Value::Json(None),
        (ColumnType::Json | ColumnType::JsonBinary, ValueRef::Text(bytes)) => {
            Value::Json(Some(Box::new(serde_json::from_slice(bytes).map_err(|_| mismatch(name))?)))
        }
        _ => return Err(mismatch(name)),
    })
}

fn mismatch(name: &str) -> DbErr {
    DbErr::Type(format!("in-place SQLite: column {name} does not hold its declared type"))
}

/// The text of a hot statement whose shape never changes: built by sea-query at its first use
/// and kept, so that each later use only binds its values. Building a statement (its
/// expression tree, then its text) took as long as SQLite's answer to a read from its cache.
/// Each kept statement has a test that the values it is given are the ones sea-query puts in
/// it, in the same order.
pub(crate) struct KeptSql(std::sync::OnceLock<String>);

impl KeptSql {
    pub(crate) const fn new() -> Self {
        Self(std::sync::OnceLock::new())
    }

    /// The statement `build` makes (with any values: only its text is kept), with `values`.
    pub(crate) fn with(&self, build: impl FnOnce() -> Statement, values: impl IntoIterator<Item = Value>) -> Statement {
        let sql = self.0.get_or_init(|| build().sql).clone();
        Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)
    }

    /// [`KeptSql::with`] for a statement whose building can fail (only the first time).
    pub(crate) fn try_with<E>(
        &self,
        build: impl FnOnce() -> Result<Statement, E>,
        values: impl IntoIterator<Item = Value>,
    ) -> Result<Statement, E> {
        let sql = match self.0.get() {
            Some(sql) => sql.clone(),
            None => {
                let sql = build()?.sql;
                // Another thread may have kept the same text first.
                let _ = self.0.set(sql.clone());
                sql
            }
        };
        Ok(Statement::from_sql_and_values(DbBackend::Sqlite, sql, values))
    }
}

/// Where the hot reads go: the in-place connection when there is one, the pool otherwise.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reads<'a> {
    pub(crate) in_place: Option<&'a InPlace>,
    pub(crate) counts: &'a Counts,
}

impl Reads<'_> {
    /// `read`'s answer from the in-place connection; `None` when there is none or the read
    /// failed there, and the caller reads through the pool instead.
    pub(crate) fn in_place<T>(&self, read: impl FnOnce(&InPlace) -> Result<T, DbErr>) -> Option<T> {
        match read(self.in_place?) {
            Ok(found) => {
                self.counts.reads.fetch_add(1, Ordering::Relaxed);
                Some(found)
            }
            Err(error) => {
                self.counts.read_fallbacks.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(%error, "an in-place read failed; reading through the pool");
                None
            }
        }
    }

    /// The first model `select` finds, as `Select::one` on `pool` gives it: in place when it can.
    pub(crate) async fn one<E>(&self, select: Select<E>, pool: &sea_orm::DatabaseConnection) -> Result<Option<E::Model>, DbErr>
    where
        E: EntityTrait,
        E::ActiveModel: TryIntoModel<E::Model>,
    {
        match self.in_place(|fast| fast.one(&select)) {
            Some(found) => Ok(found),
            None => select.one(pool).await,
        }
    }
}

/// What the in-place connections did, counted since the store opened.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(crate) reads: AtomicU64,
    pub(crate) read_fallbacks: AtomicU64,
    pub(crate) write_batches: AtomicU64,
    pub(crate) write_fallbacks: AtomicU64,
}

impl Counts {
    pub(crate) fn snapshot(&self) -> InPlaceCounts {
        InPlaceCounts {
            reads: self.reads.load(Ordering::Relaxed),
            read_fallbacks: self.read_fallbacks.load(Ordering::Relaxed),
            write_batches: self.write_batches.load(Ordering::Relaxed),
            write_fallbacks: self.write_fallbacks.load(Ordering::Relaxed),
        }
    }
}

/// How often the in-place connections served, and how often the pool served instead because
/// the attempt in place failed (the database was locked, or a statement failed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InPlaceCounts {
    pub reads: u64,
    pub read_fallbacks: u64,
    /// Write batches committed in place.
    pub write_batches: u64,
    pub write_fallbacks: u64,
}

/// The value of the column `name` in `row`, for columns that belong to no entity.
pub(crate) fn column<T: rusqlite::types::FromSql>(row: &Row<'_, '_>, name: &str) -> Result<T, DbErr> {
    T::column_result(row.get("", name)?).map_err(|_| mismatch(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Store;
    use sea_orm::ConnectionTrait as _;

    #[tokio::test]
    async fn a_transaction_left_open_is_ended_before_the_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("poort.db");
        let store = Store::connect(&format!("sqlite://{}?mode=rwc", path.display()), 1).await.unwrap();
        store.migrate().await.unwrap();
        let writer = InPlace::open(&path, Access::ReadWrite).unwrap();
        writer.begin().unwrap();
        writer.execute(&Statement::from_string(DbBackend::Sqlite, "INSERT INTO instance_values (name, value, created_at) VALUES ('left', 'open', 0)")).unwrap();
        // Never committed nor rolled back, as when a batch panics: the next batch still begins,
        // without what the first one wrote.
        writer.begin().unwrap();
        writer.commit().unwrap();
        let left = store.connection().query_one_raw(Statement::from_string(DbBackend::Sqlite, "SELECT value FROM instance_values WHERE name = 'left'"));
        assert!(left.await.unwrap().is_none());
        // And the pool can write.
        store.connection().execute_unprepared("INSERT INTO instance_values (name, value, created_at) VALUES ('pool', 'writes', 0)").await.unwrap();
    }

    #[tokio::test]
    async fn a_broken_constraint_on_the_writer_ends_the_whole_transaction_and_upserts_still_skip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("poort.db");
        let store = Store::connect(&format!("sqlite://{}?mode=rwc", path.display()), 1).await.unwrap();
        store.migrate().await.unwrap();
        let writer = InPlace::open(&path, Access::ReadWrite).unwrap();
        let sql = |text: &str| Statement::from_string(DbBackend::Sqlite, text);
        writer.execute(&sql("INSERT INTO instance_values (name, value, created_at) VALUES ('kept', 'a', 0)")).unwrap();
        writer.begin().unwrap();
        writer.execute(&sql("INSERT INTO instance_values (name, value, created_at) VALUES ('first', 'b', 0)")).unwrap();
        // An upsert that finds its row skips it, and the transaction goes on.
        let skipped = "INSERT INTO instance_values (name, value, created_at) VALUES ('kept', 'c', 0) ON CONFLICT (name) DO NOTHING";
        assert_eq!(writer.execute(&sql(skipped)).unwrap(), 0);
        // A duplicate key fails the statement and, OR ROLLBACK, the transaction with it: the
        // first row goes too, not only the failed statement's.
        let duplicate = "INSERT INTO instance_values (name, value, created_at) VALUES ('second', 'd', 0), ('kept', 'e', 0)";
        assert!(writer.execute(&sql(duplicate)).is_err());
        assert!(writer.with(|c| Ok(c.is_autocommit())).unwrap(), "no transaction is left open");
        writer.rollback();
        let updated = "UPDATE instance_values SET name = 'kept' WHERE name = 'kept'";
        writer.begin().unwrap();
        writer.execute(&sql(updated)).unwrap();
        writer.commit().unwrap();
        let names = store.connection().query_all_raw(sql("SELECT name || '=' || value AS pair FROM instance_values WHERE name IN ('kept', 'first', 'second')"));
        let names: Vec<String> = names.await.unwrap().iter().map(|row| row.try_get("", "pair").unwrap()).collect();
        assert_eq!(names, ["kept=a"]);
        // Only the writer rewrites; the reader's statements stay as written.
        let reader = InPlace::open(&path, Access::ReadOnly).unwrap();
        assert_eq!(reader.sql_for("INSERT INTO t VALUES (1)"), "INSERT INTO t VALUES (1)");
        assert_eq!(writer.sql_for("UPDATE t SET a = 1"), "UPDATE OR ROLLBACK t SET a = 1");
    }
}
