//! Poort's storage: sea-orm entities, migrations and one small repository per aggregate.
//!
//! One code path serves the embedded SQLite database and PostgreSQL; the URL chooses. Only this
//! crate knows SQL. Callers open a [`Store`], and reach each aggregate through it:
//! `store.users()`, `store.keys()`, … Times are Unix seconds throughout.

mod checkpoint;
pub mod entity;
mod error;
mod in_place;
pub mod migration;
pub mod repo;

pub use error::StorageError;
pub use in_place::InPlaceCounts;
pub use sea_orm::DatabaseConnection;

use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DbBackend};
use sea_orm_migration::MigratorTrait;
use std::time::Duration;

/// The database Poort stores everything in.
#[derive(Clone, Debug)]
pub struct Store {
    db: DatabaseConnection,
    /// Shared by every clone of this store (see [`repo::client_cache`]).
    clients: std::sync::Arc<repo::client_cache::ClientCache>,
    /// Shared by every clone of this store (see [`repo::group_commit`]).
    writes: std::sync::Arc<repo::group_commit::GroupCommit>,
    /// The URL of a SQLite database file, for [`Store::spawn_checkpointer`].
    sqlite_file: Option<std::sync::Arc<str>>,
    /// On a SQLite file, the connection that reads in place (see [`in_place`]).
    in_place_reads: Option<in_place::InPlace>,
    /// What the in-place connections did; shared with the group commit's writer.
    in_place_counts: std::sync::Arc<in_place::Counts>,
}

/// Which engine a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Store {
    /// Opens the database at `url` (`sqlite://path?mode=rwc`, `sqlite::memory:` or
    /// `postgres://…`) with a pool of `max_connections` (one for SQLite). SQLite runs in WAL
    /// mode with a busy timeout (for other processes, such as the CLI), so a crash leaves every
    /// committed transaction intact.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Self, StorageError> {
        let mut options = ConnectOptions::new(url.to_string());
        let in_memory = url.contains(":memory:") || url.contains("mode=memory");
        // SQLite takes one writer at a time: with several connections, concurrent writers poll
        // its lock with growing sleeps (a p99 ten times the median under load). One connection
        // queues them fairly in the pool instead, and reads are microseconds.
        let sqlite = url.starts_with("sqlite:");
        options
            .max_connections(if sqlite { 1 } else { max_connections })
            .min_connections(if in_memory { 1 } else { 0 })
            .acquire_timeout(Duration::from_secs(10))
            .connect_timeout(Duration::from_secs(10))
            .sqlx_logging(false)
            .map_sqlx_sqlite_opts(|opts| {
                opts.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Normal)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true)
                    // A multi-row INSERT inside a transaction keeps a statement journal; in a
                    // file that is a write system call per page touched.
                    .pragma("temp_store", "memory")
                    // A server checkpoints the log on a connection of its own (see
                    // `checkpoint`); the writer's automatic checkpoint is the backstop, at
                    // 32 MiB of log. The file is cut back to 128 MiB when the log restarts,
                    // which the checkpointer does past 64 MiB: normally it is reused as it is.
                    .pragma("wal_autocheckpoint", "8192")
                    .pragma("journal_size_limit", "134217728")
            });
        if url.starts_with("sqlite:") {
            // A local file needs no ping before each use; instead, end any transaction a
            // failed COMMIT left open (see `end_stray_transaction`).
            options.test_before_acquire(false).map_sqlx_sqlite_before_acquire(end_stray_transaction);
            options.map_sqlx_sqlite_pool_opts(|pool| pool.after_connect(|connection, _| Box::pin(stable_query_plans(connection))));
        }
        if in_memory {
            // An in-memory database lives as long as its one connection: never let it idle out.
            options.idle_timeout(None::<Duration>).max_lifetime(None::<Duration>);
        }
        let db = Database::connect(options).await.map_err(|e| StorageError::Unavailable(describe_connect_error(url, &e)))?;
        let sqlite_file = (sqlite && !in_memory).then(|| url.into());
        let (in_place_reads, in_place_writes) = match sqlite_file {
            Some(_) => open_in_place(&db, url).await,
            None => (None, None),
        };
        let in_place_counts = std::sync::Arc::new(in_place::Counts::default());
        let writes = std::sync::Arc::new(repo::group_commit::GroupCommit::new(in_place_writes, in_place_counts.clone()));
        Ok(Self { db, clients: Default::default(), writes, sqlite_file, in_place_reads, in_place_counts })
    }

    /// Brings the schema up to date. Safe to run from several nodes at once: the whole run is
    /// one transaction that first takes a lock (SQLite's write lock; a transaction-scoped
    /// advisory lock on PostgreSQL), so concurrent runners take turns and the later ones find
    /// nothing left to do. The lock lives and dies with the transaction's one connection: a
    /// session-level lock taken through the pool could be released on another connection, and
    /// then stay held. (A future migration that cannot run inside a transaction, such as
    /// `CREATE INDEX CONCURRENTLY`, will need its own arrangement.)
    pub async fn migrate(&self) -> Result<(), StorageError> {
        let txn = repo::begin_write(&self.db).await?;
        if self.engine() == Engine::Postgres {
            // Any constant works as long as every node uses the same one.
            txn.execute_unprepared("SELECT pg_advisory_xact_lock(7368757035)").await?;
        }
        migration::Migrator::up(&txn, None).await?;
        txn.commit().await?;
        Ok(())
    }

    /// Names of migrations applied so far, oldest first.
    pub async fn applied_migrations(&self) -> Result<Vec<String>, StorageError> {
        let applied = migration::Migrator::get_applied_migrations(&self.db).await?;
        Ok(applied.iter().map(|m| m.name().to_string()).collect())
    }

    /// Answers whether the database is reachable (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StorageError> {
        self.db.ping().await.map_err(StorageError::from)
    }

    pub fn engine(&self) -> Engine {
        match self.db.get_database_backend() {
            DbBackend::Postgres => Engine::Postgres,
            _ => Engine::Sqlite,
        }
    }

    /// On a SQLite file, checkpoints its write-ahead log every `every` on a connection of its
    /// own, so that commits never stop to do it (see [`checkpoint`]). For servers; nothing on
    /// PostgreSQL or an in-memory database.
    pub fn spawn_checkpointer(&self, every: Duration) -> Option<tokio::task::JoinHandle<()>> {
        use sea_orm::sqlx::sqlite::SqliteConnectOptions;
        use std::str::FromStr as _;
        let options = SqliteConnectOptions::from_str(self.sqlite_file.as_deref()?).ok()?;
        let path = options.get_filename().to_path_buf();
        Some(tokio::spawn(checkpoint::run(path, every, checkpoint::RESTART_PAST_FRAMES, self.writes.gate())))
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(self) -> Result<(), StorageError> {
        self.db.close().await.map_err(StorageError::from)
    }

    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn instance(&self) -> repo::InstanceValues<'_> {
        repo::InstanceValues::new(&self.db)
    }

    pub fn keys(&self) -> repo::SigningKeys<'_> {
        repo::SigningKeys::new(&self.db)
    }

    pub fn users(&self) -> repo::Users<'_> {
        repo::Users::new(&self.db, self.reads())
    }

    pub fn roles(&self) -> repo::Roles<'_> {
        repo::Roles::new(&self.db)
    }

    pub fn clients(&self) -> repo::Clients<'_> {
        repo::Clients::new(&self.db, &self.clients)
    }

    /// Grants, authorization codes and tokens.
    pub fn grants(&self) -> repo::Grants<'_> {
        repo::Grants::new(&self.db, self.reads(), &self.writes)
    }

    /// Browser sessions and the clients each has signed in to.
    pub fn sessions(&self) -> repo::Sessions<'_> {
        repo::Sessions::new(&self.db, self.reads(), &self.writes)
    }

    /// The back-channel logout outbox.
    pub fn logout_deliveries(&self) -> repo::LogoutDeliveries<'_> {
        repo::LogoutDeliveries::new(&self.db)
    }

    /// Activation and password-reset tokens.
    pub fn one_time_tokens(&self) -> repo::OneTimeTokens<'_> {
        repo::OneTimeTokens::new(&self.db)
    }

    pub fn consents(&self) -> repo::Consents<'_> {
        repo::Consents::new(&self.db)
    }

    /// Terms-of-service versions and their acceptances.
    pub fn terms(&self) -> repo::Terms<'_> {
        repo::Terms::new(&self.db)
    }

    pub fn federated_identities(&self) -> repo::FederatedIdentities<'_> {
        repo::FederatedIdentities::new(&self.db)
    }

    /// Upstream sign-in connectors and the e-mail domains they sign in.
    pub fn connectors(&self) -> repo::Connectors<'_> {
        repo::Connectors::new(&self.db)
    }

    /// Sign-ins in flight at upstream providers (federation `state`s).
    pub fn flows(&self) -> repo::Flows<'_> {
        repo::Flows::new(&self.db)
    }

    /// Single-use identifiers (client-assertion `jti`s) until they expire.
    pub fn replay_guard(&self) -> repo::ReplayGuard<'_> {
        repo::ReplayGuard::new(&self.db)
    }

    /// Brute-force counters (failed sign-ins, mail requests) and the locks they lead to.
    pub fn throttle(&self) -> repo::ThrottleCounters<'_> {
        repo::ThrottleCounters::new(&self.db)
    }

    pub fn audit(&self) -> repo::AuditLog<'_> {
        repo::AuditLog::new(&self.db)
    }

    /// Where the hot reads go: in place when they can, through the pool otherwise.
    fn reads(&self) -> in_place::Reads<'_> {
        in_place::Reads { in_place: self.in_place_reads.as_ref(), counts: &self.in_place_counts }
    }

    /// What SQLite's in-place connections did since the store opened (see [`in_place`]); all
    /// zero on PostgreSQL and in memory.
    pub fn in_place_counts(&self) -> InPlaceCounts {
        self.in_place_counts.snapshot()
    }
}

/// The in-place connections to the SQLite file at `url` (see [`in_place`]): one that reads
/// and one for the group commit's writer. Without them (a file SQLite will not open twice),
/// the pool serves everything, as it always can.
async fn open_in_place(db: &sea_orm::DatabaseConnection, url: &str) -> (Option<in_place::InPlace>, Option<in_place::InPlace>) {
    use sea_orm::sqlx::sqlite::SqliteConnectOptions;
    use std::str::FromStr as _;
    // The pool's first connection creates the file and sets its log mode.
    if db.ping().await.is_err() {
        return (None, None);
    }
    let Ok(options) = SqliteConnectOptions::from_str(url) else { return (None, None) };
    let path = options.get_filename();
    let open = |access| {
        in_place::InPlace::open(path, access)
            .inspect_err(|error| tracing::warn!(%error, "SQLite will be reached through the pool only"))
            .ok()
    };
    (open(in_place::Access::ReadOnly), open(in_place::Access::ReadWrite))
}

/// SQLite keeps a transaction open when its COMMIT fails (a full disk, a read-only file), and
/// the driver then returns the connection to the pool as if idle: every later statement on it
/// would run inside that transaction, never committed, while holding the write lock. The driver
/// still counts that transaction (its depth is only lowered by a COMMIT or ROLLBACK that
/// succeeds), so before each use a connection whose count is not zero is rolled back. Reading the
/// count is an atomic load, not a round trip to the connection's thread, so the check costs
/// nothing on the hot path; the driver's own rollback keeps its count true.
fn end_stray_transaction<'c>(
    connection: &'c mut sea_orm::sqlx::SqliteConnection,
    _: sea_orm::sqlx::pool::PoolConnectionMetadata,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<bool, sea_orm::sqlx::Error>> + Send + 'c>> {
    use sqlx_core::transaction::TransactionManager;
    type Manager = <sea_orm::sqlx::Sqlite as sea_orm::sqlx::Database>::TransactionManager;
    Box::pin(async move {
        while Manager::get_transaction_depth(connection) > 0 {
            if Manager::rollback(connection).await.is_err() {
                // The connection cannot end it: the pool closes this one and opens another.
                return Ok(false);
            }
        }
        Ok(true)
    })
}

/// Turns on SQLite's query planner stability guarantee for `connection`. Without it, a
/// statement whose plan could depend on a bound value — every `LIMIT ?`, which is how sea-orm
/// writes `.one()` — is compiled anew on each run after its parameters are rebound: a
/// tenth of the server's time in a code flow went to that. With it, a statement keeps its
/// plan, as it would with literal values; none of our queries has a plan that depends on one.
async fn stable_query_plans(connection: &mut sea_orm::sqlx::SqliteConnection) -> Result<(), sea_orm::sqlx::Error> {
    let mut handle = connection.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    // SAFETY: `db` is this connection's open handle, held locked (no other thread uses it) for
    // the call; SQLITE_DBCONFIG_ENABLE_QPSG takes an int and an optional int pointer (null).
    let rc = unsafe {
        libsqlite3_sys::sqlite3_db_config(db, libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG, 1, std::ptr::null_mut::<i32>())
    };
    if rc == libsqlite3_sys::SQLITE_OK {
        Ok(())
    } else {
        Err(sea_orm::sqlx::Error::Configuration(format!("SQLite refused the query planner stability setting (code {rc})").into()))
    }
}

/// A connection failure as one line an operator can act on, without the password.
fn describe_connect_error(url: &str, error: &sea_orm::DbErr) -> String {
    let shown = match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    };
    format!("cannot open the database {shown}: {error}")
}

/// The current time in Unix seconds.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The setting `stable_query_plans` turns on, as SQLite reports it for a pooled connection.
    async fn query_plans_are_stable(store: &Store) -> bool {
        let mut connection = store.db.get_sqlite_connection_pool().acquire().await.unwrap();
        let mut handle = connection.lock_handle().await.unwrap();
        let mut enabled = -1;
        // SAFETY: the handle is open and locked; -1 only reads the setting into `enabled`.
        let rc = unsafe {
            libsqlite3_sys::sqlite3_db_config(handle.as_raw_handle().as_ptr(), libsqlite3_sys::SQLITE_DBCONFIG_ENABLE_QPSG, -1, &mut enabled)
        };
        assert_eq!(rc, libsqlite3_sys::SQLITE_OK);
        enabled == 1
    }

    #[tokio::test]
    async fn sqlite_connections_keep_their_query_plans() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("poort.db").display());
        let store = Store::connect(&url, 4).await.unwrap();
        assert!(query_plans_are_stable(&store).await);
        let memory = Store::connect("sqlite::memory:", 1).await.unwrap();
        assert!(query_plans_are_stable(&memory).await, "in-memory databases too");
    }
}
