//! Shared test fixtures: settings on a temporary data folder, fresh PostgreSQL databases, and
//! running the real `poort` binary.

use poort_config::Settings;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Default settings on a fresh SQLite data folder.
pub fn sqlite_settings(dir: &Path) -> Settings {
    let mut settings = Settings::default();
    settings.storage.data_dir = dir.join("data");
    settings
}

/// The PostgreSQL server the test command prepared (see `scripts/test`).
pub fn postgres_server_url() -> String {
    std::env::var("POORT_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A fresh, empty PostgreSQL database, dropped when the guard goes.
pub struct PgDatabase {
    pub url: String,
    name: String,
}

impl PgDatabase {
    pub async fn create() -> Self {
        use sea_orm::ConnectionTrait;
        let server = postgres_server_url();
        let name = format!("poort_it_{}", uuid::Uuid::new_v4().simple());
        let admin = sea_orm::Database::connect(&server).await.unwrap_or_else(|e| {
            panic!("PostgreSQL at {server} is not reachable ({e}); run the tests with scripts/test")
        });
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.unwrap();
        admin.close().await.ok();
        let mut url = url::Url::parse(&server).unwrap();
        url.set_path(&format!("/{name}"));
        Self { url: url.to_string(), name }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (server, name) = (postgres_server_url(), self.name.clone());
        // Drop needs its own runtime: the test's may already be shutting down.
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                use sea_orm::ConnectionTrait;
                if let Ok(admin) = sea_orm::Database::connect(&server).await {
                    let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                }
            });
        })
        .join()
        .ok();
    }
}

/// The `poort` binary built for these tests.
pub fn poort() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_poort"));
    command.env_remove("POORT_CONFIG").env("RUST_LOG", "warn");
    for (key, _) in std::env::vars() {
        if key.starts_with("POORT__") {
            command.env_remove(key);
        }
    }
    command
}

/// A running `poort serve`, killed when dropped.
pub struct Server {
    pub child: Child,
    pub base_url: String,
}

impl Server {
    /// Starts `poort serve` with `configure` applied and waits for its banner.
    pub fn start(dir: &Path, configure: impl FnOnce(&mut Command)) -> Self {
        let mut command = poort();
        command
            .current_dir(dir)
            .arg("serve")
            .env("POORT__SERVER__LISTEN", "127.0.0.1:0")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        configure(&mut command);
        let mut child = command.spawn().expect("poort starts");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        let base_url = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(rest) = line.strip_prefix("Poort is listening on ") {
                        break rest.trim().to_string();
                    }
                }
                _ => {
                    let status = child.wait().ok();
                    let mut stderr = String::new();
                    use std::io::Read;
                    child.stderr.take().map(|mut e| e.read_to_string(&mut stderr));
                    panic!("poort serve exited before listening ({status:?}): {stderr}");
                }
            }
            assert!(Instant::now() < deadline, "poort serve did not start in time");
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Self { child, base_url }
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill").arg(format!("-{signal}")).arg(self.child.id().to_string()).status().unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit and returns whether it exited successfully.
    pub fn wait_exit(&mut self, within: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

/// A provider in process on a fresh SQLite folder with the public issuer `issuer`, after
/// `configure` has had its say; the folder lives as long as the returned guard.
pub async fn provider(
    issuer: &str,
    configure: impl FnOnce(&mut Settings),
) -> (poort::state::AppState, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = sqlite_settings(dir.path());
    settings.server.issuer = Some(issuer.parse().unwrap());
    configure(&mut settings);
    let store = poort::open_store(&settings).await.unwrap();
    (poort::app::state(settings, store).await.unwrap(), dir)
}

/// The secret of the clients [`insert_client`] registers.
pub const CLIENT_SECRET: &str = "a-secret-of-sixteen";

/// Registers a configured client with `metadata` and the secret [`CLIENT_SECRET`].
pub async fn insert_client(state: &poort::state::AppState, id: &str, metadata: serde_json::Value) {
    use poort_storage::repo::{ClientSource, NewClient};
    let client = NewClient {
        client_id: id.into(),
        secret_hash: Some(poort::crypto::keyed_hash(&state.hash_key, CLIENT_SECRET)),
        secret_sealed: None,
        secret_expires_at: 0,
        metadata,
        source: ClientSource::Config,
        registration_token_hash: None,
    };
    state.store.clients().insert(client).await.unwrap();
}

/// Adds an active password user `username` (`username@example.com`) and returns their id.
pub async fn insert_user(state: &poort::state::AppState, username: &str, password: &str) -> String {
    use poort_storage::repo::{NewUser, UserStatus};
    let user = NewUser {
        email: format!("{username}@example.com"),
        username: Some(username.into()),
        display_name: None,
        email_verified: true,
        claims: serde_json::json!({}),
        status: UserStatus::Active,
        auth_method: "password".into(),
        password_hash: Some(poort::password::hash(password)),
    };
    state.store.users().create(user).await.unwrap().id
}
