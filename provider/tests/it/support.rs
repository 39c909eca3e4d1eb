//! Shared test fixtures: settings on a temporary data folder, fresh PostgreSQL databases,
//! running the real `poort` binary, a relying party's back-channel logout endpoint, and a
//! sign-in over real HTTP.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::routing::post;
use poort_config::Settings;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::sync::{Arc, Mutex};
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
    log: std::sync::Arc<std::sync::Mutex<String>>,
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
        // Both pipes are drained on threads of their own, so the server never blocks on a full
        // pipe, and a server that never announces itself fails the test after a bounded wait.
        let stdout = child.stdout.take().unwrap();
        let (banner_tx, banner_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let banner = lines
                .by_ref()
                .map_while(Result::ok)
                .find_map(|line| line.strip_prefix("Poort is listening on ").map(|rest| rest.trim().to_string()));
            let _ = banner_tx.send(banner);
            for _ in lines {}
        });
        // Its log (stderr, when the test left it piped), the newest megabyte of it.
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        if let Some(stderr) = child.stderr.take() {
            let kept = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    let mut kept = kept.lock().unwrap();
                    if kept.len() > 1 << 20 {
                        let cut = kept.len() / 2;
                        let cut = (cut..kept.len()).find(|&i| kept.is_char_boundary(i)).unwrap_or(cut);
                        kept.replace_range(..cut, "");
                    }
                    kept.push_str(&line);
                    kept.push('\n');
                }
            });
        }
        let base_url = match banner_rx.recv_timeout(Duration::from_secs(60)) {
            Ok(Some(base_url)) => base_url,
            Ok(None) => {
                let status = child.wait().ok();
                std::thread::sleep(Duration::from_millis(100));
                panic!("poort serve exited before listening ({status:?}): {}", log.lock().unwrap());
            }
            Err(_) => {
                let _ = child.kill();
                panic!("poort serve did not start within 60 s: {}", log.lock().unwrap());
            }
        };
        Self { child, base_url, log }
    }

    /// What the server has logged so far (its stderr, when the test left it piped).
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
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

/// Every table's row count on an SQLite store (a cheap fingerprint of the stored state).
pub async fn table_counts(store: &poort_storage::Store) -> Vec<(String, i64)> {
    use sea_orm::{ConnectionTrait, Statement};
    let db = store.connection();
    let tables = db
        .query_all_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
        ))
        .await
        .unwrap();
    let mut counts = Vec::new();
    for row in tables {
        let name: String = row.try_get("", "name").unwrap();
        let count = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), format!("SELECT COUNT(*) AS n FROM \"{name}\"")))
            .await
            .unwrap()
            .unwrap();
        counts.push((name, count.try_get::<i64>("", "n").unwrap()));
    }
    counts
}

/// Adds an active user who signs in with `password`; returns the user's id.
pub async fn insert_user(state: &poort::state::AppState, email: &str, password: &str) -> String {
    use poort_storage::repo::{NewUser, UserStatus};
    let user = NewUser {
        email: email.into(),
        username: email.split('@').next().map(str::to_string),
        display_name: None,
        email_verified: true,
        claims: serde_json::json!({}),
        status: UserStatus::Active,
        auth_method: "password".into(),
        password_hash: Some(poort::password::hash(password)),
    };
    state.store.users().create(user).await.unwrap().id
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

/// A relying party's back-channel logout endpoint on loopback: answers with the queued statuses
/// (then 200), and keeps what it was sent.
pub struct Receiver {
    port: u16,
    received: Arc<Mutex<Vec<(String, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

#[derive(Clone)]
struct Script {
    answers: Arc<Mutex<VecDeque<u16>>>,
    received: Arc<Mutex<Vec<(String, String)>>>,
}

async fn record(State(script): State<Script>, headers: HeaderMap, body: String) -> StatusCode {
    let content_type = headers.get(header::CONTENT_TYPE).map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    script.received.lock().unwrap().push((content_type, body));
    StatusCode::from_u16(script.answers.lock().unwrap().pop_front().unwrap_or(200)).unwrap()
}

impl Receiver {
    /// Listens on `port` (0: any free one).
    pub async fn start(port: u16, answers: &[u16]) -> Self {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let script = Script { answers: Arc::new(Mutex::new(answers.iter().copied().collect())), received: Arc::default() };
        let received = script.received.clone();
        let app = Router::new().route("/backchannel", post(record)).with_state(script);
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { port, received, task }
    }

    pub fn uri(&self) -> String {
        format!("http://127.0.0.1:{}/backchannel", self.port)
    }

    pub fn bodies(&self) -> Vec<(String, String)> {
        self.received.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A port nothing listens on (yet).
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The logout tokens a [`Receiver`] was sent, in order.
pub fn logout_tokens(receiver: &Receiver) -> Vec<String> {
    receiver
        .bodies()
        .iter()
        .filter_map(|(_, body)| url::form_urlencoded::parse(body.as_bytes()).find(|(k, _)| k == "logout_token").map(|(_, v)| v.into_owned()))
        .collect()
}

/// Signs `username` in to `client_id` over real HTTP at `base` (a running `poort serve`), as a
/// browser would without script: returns the session cookie (`name=value`) and the code.
pub async fn sign_in_over_http(base: &str, client_id: &str, redirect_uri: &str, username: &str, password: &str) -> (String, String) {
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let authorize = format!(
        "{base}/authorize?client_id={client_id}&redirect_uri={}&response_type=code&scope=openid&state=s",
        url::form_urlencoded::byte_serialize(redirect_uri.as_bytes()).collect::<String>()
    );
    let response = http.get(&authorize).send().await.unwrap();
    let login = response.headers()["location"].to_str().unwrap().to_string();
    let page = http.get(format!("{base}{login}")).send().await.unwrap();
    let cookie = |response: &reqwest::Response, name: &str| {
        response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
            .find(|pair| pair.starts_with(&format!("{name}=")))
    };
    let csrf_cookie = cookie(&page, "poort_csrf").expect("a CSRF cookie");
    let html = page.text().await.unwrap();
    let input = |name: &str| {
        let marker = format!(r#"name="{name}" value=""#);
        let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} on {html}")) + marker.len();
        html[start..start + html[start..].find('"').unwrap()].replace("&#x3D;", "=").replace("&amp;", "&")
    };
    let form = [("ticket", input("ticket")), ("csrf_token", input("csrf_token")), ("username", username.into()), ("password", password.into())];
    let done = http.post(format!("{base}/login")).header("cookie", csrf_cookie).form(&form).send().await.unwrap();
    let session = cookie(&done, "poort_session").unwrap_or_else(|| panic!("signed in: {:?}", done.headers()));
    let location = done.headers()["location"].to_str().unwrap().to_string();
    let code = url::Url::parse(&location).unwrap().query_pairs().find(|(k, _)| k == "code").expect("a code").1.into_owned();
    (session, code)
}

