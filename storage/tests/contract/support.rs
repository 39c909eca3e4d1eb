//! Runs each contract test body on SQLite and on a real PostgreSQL server.
//!
//! SQLite gets a fresh file in a temporary directory (WAL mode needs a real file) or an
//! in-memory database; PostgreSQL gets a fresh database `poort_test_<random>` on the server
//! named by `POORT_TEST_POSTGRES_URL`, dropped again when the test ends, pass or fail.

use poort_storage::Store;
use sea_orm::{ConnectOptions, ConnectionTrait, Database};
use std::future::Future;
use std::time::Duration;

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite::memory:`: one connection, so a second `Store` would be another database.
    Memory,
    SqliteFile,
    Postgres,
}

/// The database a test body runs against.
pub struct Db {
    /// Opened and migrated (unless the test asked for a fresh database).
    pub store: Store,
    pub backend: Backend,
    url: String,
    _dir: Option<tempfile::TempDir>,
}

impl Db {
    /// Another `Store` on the same database, as a second node would open it.
    pub async fn open_another(&self) -> Store {
        assert_ne!(self.backend, Backend::Memory, "an in-memory database cannot be shared between stores");
        Store::connect(&self.url, 4).await.expect("open a second store")
    }

    /// The database's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs raw SQL, for tests that must set up a state the API cannot reach (past times).
    pub async fn sql(&self, statement: &str) {
        self.store.connection().execute_unprepared(statement).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
}

/// Runs `body` on a migrated database of `backend`.
pub async fn run<F, Fut>(backend: Backend, body: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    run_with(backend, true, body).await
}

/// Runs `body` on a database of `backend`, migrated or left empty.
pub async fn run_with<F, Fut>(backend: Backend, migrate: bool, body: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match backend {
        Backend::Memory => {
            let url = "sqlite::memory:".to_string();
            let store = open(&url, migrate).await;
            finish(tokio::spawn(body(Db { store, backend, url, _dir: None })).await);
        }
        Backend::SqliteFile => {
            let dir = tempfile::tempdir().expect("temporary directory");
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("poort.db").display());
            let store = open(&url, migrate).await;
            finish(tokio::spawn(body(Db { store, backend, url, _dir: Some(dir) })).await);
        }
        Backend::Postgres => {
            let server = std::env::var("POORT_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_POSTGRES_URL.to_string());
            let mut options = ConnectOptions::new(server.clone());
            options.max_connections(1).connect_timeout(Duration::from_secs(5)).sqlx_logging(false);
            let admin = Database::connect(options).await.unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL is not reachable at {server}: {e}\n\
                     The storage contract tests need a real PostgreSQL server: run `scripts/test`, which \
                     starts one, or set POORT_TEST_POSTGRES_URL to a server where you may create databases."
                )
            });
            let name = format!("poort_test_{}", uuid::Uuid::new_v4().simple());
            admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create the test database");
            let mut url = url::Url::parse(&server).expect("POORT_TEST_POSTGRES_URL is a URL");
            url.set_path(&name);
            let url = url.to_string();
            let store = open(&url, migrate).await;
            let outcome = tokio::spawn(body(Db { store: store.clone(), backend, url, _dir: None })).await;
            // A failed body may leave a connection stuck; DROP … WITH (FORCE) ends it anyway.
            let _ = tokio::time::timeout(Duration::from_secs(5), store.close()).await;
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await
                .expect("drop the test database");
            let _ = admin.close().await;
            finish(outcome);
        }
    }
}

async fn open(url: &str, migrate: bool) -> Store {
    let store = Store::connect(url, 4).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    if migrate {
        store.migrate().await.expect("migrate");
    }
    store
}

/// Passes a panic in the body on to the test harness, after clean-up.
fn finish(outcome: Result<(), tokio::task::JoinError>) {
    if let Err(error) = outcome {
        match error.try_into_panic() {
            Ok(panic) => std::panic::resume_unwind(panic),
            Err(error) => panic!("test body did not finish: {error}"),
        }
    }
}

/// Instantiates contract test bodies (`async fn name(db: Db)`) once per backend, as
/// `sqlite::name`, `postgres::name` and `memory::name`. Bodies listed after `shared:` open a
/// second `Store` on the same database, which an in-memory database cannot offer, so they run
/// on the SQLite file and on PostgreSQL only.
macro_rules! contract {
    ($($name:ident),* $(,)? $(; shared: $($shared:ident),+ $(,)?)?) => {
        mod sqlite {
            $($crate::support::contract!(@test SqliteFile $name);)*
            $($($crate::support::contract!(@test SqliteFile $shared);)+)?
        }
        mod postgres {
            $($crate::support::contract!(@test Postgres $name);)*
            $($($crate::support::contract!(@test Postgres $shared);)+)?
        }
        mod memory {
            $($crate::support::contract!(@test Memory $name);)*
        }
    };
    (@test $backend:ident $name:ident) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            $crate::support::run($crate::support::Backend::$backend, super::$name).await
        }
    };
}
pub(crate) use contract;

/// Asserts that `result` failed with `StorageError::Conflict` whose message contains `needle`.
#[track_caller]
pub fn assert_conflict<T: std::fmt::Debug>(result: Result<T, poort_storage::StorageError>, needle: &str) {
    match result {
        Err(poort_storage::StorageError::Conflict(what)) => {
            assert!(what.contains(needle), "conflict names `{what}`, expected it to mention `{needle}`")
        }
        other => panic!("expected a conflict about `{needle}`, got {other:?}"),
    }
}

/// The current time, for bracketing times the store sets.
pub fn now() -> i64 {
    poort_storage::now()
}

/// An active password user with nothing but an address.
pub fn plain_user(email: &str) -> poort_storage::repo::NewUser {
    poort_storage::repo::NewUser {
        email: email.into(),
        username: None,
        display_name: None,
        email_verified: false,
        claims: serde_json::json!({}),
        status: poort_storage::repo::UserStatus::Active,
        auth_method: "password".into(),
        password_hash: None,
    }
}
