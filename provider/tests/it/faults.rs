//! Faults: a node killed under load, PostgreSQL restarting under a node, a full disk and a
//! read-only data folder, and outbound fetches that hang. (A database that turns read-only while
//! a node runs is in the storage contract tests, `unavailable.rs`.) Each with real processes.

use crate::cluster::{self, Agent, CB, SECRET};
use crate::support::{PgDatabase, Server, http};
use axum::http::StatusCode;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// One client_credentials token from `base`: the token, or why there is none.
async fn service_token(client: &reqwest::Client, base: &str) -> Result<String, String> {
    let response = client
        .post(format!("{base}/token"))
        .basic_auth("svc", Some(SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .map_err(|e| format!("transport: {e:?}"))?;
    let status = response.status();
    let body: serde_json::Value = response.json().await.map_err(|e| format!("body: {e}"))?;
    match body["access_token"].as_str() {
        Some(token) if status == StatusCode::OK => Ok(token.to_string()),
        _ => Err(format!("{status} {body}")),
    }
}

async fn introspect(base: &str, token: &str) -> serde_json::Value {
    http().post(format!("{base}/introspect")).basic_auth("svc", Some(SECRET)).form(&[("token", token)]).send().await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_under_load_loses_nothing_it_answered_and_the_other_carries_on() {
    let db = PgDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    cluster::write_config(dir.path());
    cluster::add_user(dir.path(), &db.url);
    let mut a = cluster::start_node(dir.path(), &db.url, |_| {});
    let b = cluster::start_node(dir.path(), &db.url, |_| {});
    let (base_a, base_b) = (a.base_url.clone(), b.base_url.clone());

    // A sign-in and a code committed on A before it dies.
    let mut browser = Agent::new();
    let code = browser.sign_in(&base_a, &base_a, &base_a).await;

    // Eight clients alternate between the nodes; A is killed once 100 tokens were answered.
    let answered = Arc::new(std::sync::Mutex::new(Vec::<(bool, String)>::new()));
    let b_failures = Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let killed = Arc::new(AtomicBool::new(false));
    let after_kill = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for worker in 0..8 {
        let (answered, b_failures, killed, after_kill) = (answered.clone(), b_failures.clone(), killed.clone(), after_kill.clone());
        let (base_a, base_b) = (base_a.clone(), base_b.clone());
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
            // Bounded: each worker stops after 40 requests that started once A was dead.
            for round in 0..10_000usize {
                let on_a = (round + worker) % 2 == 0;
                let was_killed = killed.load(Ordering::SeqCst);
                match service_token(&client, if on_a { &base_a } else { &base_b }).await {
                    Ok(token) => answered.lock().unwrap().push((on_a, token)),
                    Err(why) if !on_a => b_failures.lock().unwrap().push(why),
                    Err(_) => {}
                }
                if was_killed && after_kill.fetch_add(1, Ordering::SeqCst) >= 8 * 40 {
                    break;
                }
            }
        }));
    }
    while answered.lock().unwrap().len() < 100 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    a.child.kill().unwrap(); // SIGKILL
    a.child.wait().unwrap();
    killed.store(true, Ordering::SeqCst);
    for worker in workers {
        worker.await.unwrap();
    }

    let answered = answered.lock().unwrap().clone();
    assert!(b_failures.lock().unwrap().is_empty(), "node B failed requests: {:?}", b_failures.lock().unwrap());
    assert!(answered.iter().any(|(on_a, _)| *on_a), "A answered before it died");
    assert!(answered.iter().filter(|(on_a, _)| !*on_a).count() > 8 * 40 / 2 - 8, "B carried on");
    // Every token either node answered with is active, asked of the survivor.
    for (_, token) in &answered {
        assert_eq!(introspect(&base_b, token).await["active"], true, "a token answered is lost");
    }
    // The code from A redeems on B, and A's session signs in silently on B.
    let tokens = Agent::new()
        .post_client(&format!("{base_b}/token"), "rp", &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CB)])
        .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    let silent = browser.get(&format!("{base_b}{}", cluster::authorize_path("&prompt=none"))).await;
    cluster::code_from(&silent);
}

/// A throwaway PostgreSQL cluster of this test's own, on a free port (never the machine's
/// shared server, which other tests use): `initdb` and `pg_ctl` from Debian's packages, run as
/// the `postgres` user when the test runs as root (PostgreSQL refuses root).
struct PrivatePostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl PrivatePostgres {
    fn start() -> Self {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
            .filter(|bin| bin.join("initdb").exists())
            .max()
            .expect("PostgreSQL's server binaries in /usr/lib/postgresql/*/bin (scripts/test installs them)");
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let pg = Self { dir, bin, port };
        if is_root() {
            let status = Command::new("chown").args(["-R", "postgres"]).arg(pg.dir.path()).status().unwrap();
            assert!(status.success(), "chown to the postgres user");
        }
        let data = pg.data();
        pg.run("initdb", &["-D", data.to_str().unwrap(), "-A", "trust", "-U", "postgres"]);
        pg.start_server();
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn run(&self, tool: &str, args: &[&str]) {
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(self.bin.join(tool));
            c
        } else {
            Command::new(self.bin.join(tool))
        };
        let output = command.args(args).output().unwrap();
        assert!(output.status.success(), "{tool}: {}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    }

    fn start_server(&self) {
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.dir.path().display());
        let log = self.dir.path().join("server.log");
        self.run("pg_ctl", &["-D", self.data().to_str().unwrap(), "-l", log.to_str().unwrap(), "-w", "-o", &options, "start"]);
    }

    fn stop_server(&self) {
        self.run("pg_ctl", &["-D", self.data().to_str().unwrap(), "-m", "fast", "-w", "stop"]);
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ = std::panic::catch_unwind(|| {
            let mut command = if is_root() {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]).arg(self.bin.join("pg_ctl"));
                c
            } else {
                Command::new(self.bin.join("pg_ctl"))
            };
            command.args(["-D", data.to_str().unwrap(), "-m", "immediate", "stop"]).output()
        });
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Polls `GET base/readyz` until it answers `status` (at most a minute: a bound, not a timing).
async fn wait_for_readyz(base: &str, status: StatusCode) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(15)).build().unwrap();
    let mut last = None;
    for _ in 0..600 {
        if let Ok(response) = client.get(format!("{base}/readyz")).send().await {
            if response.status() == status {
                return;
            }
            last = Some(response.status());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/readyz never answered {status} (last {last:?})");
}

#[tokio::test]
async fn a_postgresql_restart_makes_readyz_503_and_the_node_recovers_by_itself() {
    let pg = PrivatePostgres::start();
    let dir = tempfile::tempdir().unwrap();
    cluster::write_config(dir.path());
    let node = cluster::start_node(dir.path(), &pg.url(), |_| {});
    let base = node.base_url.clone();
    wait_for_readyz(&base, StatusCode::OK).await;
    let before = service_token(&http(), &base).await.unwrap();

    pg.stop_server();
    wait_for_readyz(&base, StatusCode::SERVICE_UNAVAILABLE).await;
    // Requests that need the database say "try again", not "broken" (after the pool's wait).
    let patient = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let refused = service_token(&patient, &base).await.unwrap_err();
    assert!(refused.starts_with("503") && refused.contains("temporarily_unavailable"), "{refused}");
    // So do the pages: a browser with a session cookie gets the themed "try again" page.
    let page = patient
        .get(format!("{base}/authorize?client_id=crm&response_type=code&scope=openid"))
        .header("cookie", "poort_session=a-session")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(page.headers()["retry-after"], "5");
    let body = page.text().await.unwrap();
    assert!(body.contains("This service is briefly unavailable"), "{body}");
    let doc = http().get(format!("{base}/.well-known/openid-configuration")).send().await.unwrap();
    assert_eq!(doc.status(), StatusCode::OK, "discovery is served from memory");

    pg.start_server();
    wait_for_readyz(&base, StatusCode::OK).await;
    let after = service_token(&http(), &base).await.unwrap();
    assert_eq!(introspect(&base, &before).await["active"], true);
    assert_eq!(introspect(&base, &after).await["active"], true);
}

/// A small tmpfs of the test's own (needs root, which the test command and CI have).
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> Self {
        assert!(is_root(), "this test mounts a small tmpfs to fill it: run it as root (scripts/test in CI is)");
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(dir.path()).status().unwrap();
        assert!(status.success(), "mount a tmpfs");
        Self { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a filler file until the disk is full.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 4096];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

fn integrity(db: &Path) -> String {
    let output = Command::new("python3")
        .args(["-c", "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchone()[0])"])
        .arg(db)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

#[tokio::test]
async fn a_full_disk_or_a_read_only_folder_gives_clear_errors_and_no_corruption() {
    let disk = SmallDisk::mount("8m");
    let dir = tempfile::tempdir().unwrap();
    cluster::write_config(dir.path());
    let data = disk.path().join("data");
    // The log goes to a file: a pipe nobody reads would fill up and stall the server.
    let log = dir.path().join("server.log");
    let mut node = Server::start(dir.path(), |c| {
        c.env("POORT_CONFIG", "poort.toml")
            .env("POORT__STORAGE__DATA_DIR", &data)
            .env("RUST_LOG", "error")
            .stderr(std::fs::File::create(&log).unwrap());
    });
    let base = node.base_url.clone();
    let client = http();
    let mut kept = vec![service_token(&client, &base).await.unwrap()];

    // Full: writes fail with "try again", nothing half-written; reads still work.
    let filler = disk.fill();
    let mut refused = 0;
    for _ in 0..200 {
        match service_token(&client, &base).await {
            Ok(token) => kept.push(token),
            Err(why) => {
                assert!(why.starts_with("503") && why.contains("temporarily_unavailable"), "{why}");
                refused += 1;
            }
        }
    }
    assert!(refused > 0, "a full disk must refuse some writes");
    assert_eq!(introspect(&base, &kept[0]).await["active"], true, "reads go on");
    std::fs::remove_file(&filler).unwrap();
    kept.push(service_token(&client, &base).await.expect("writes work again once there is room"));

    for token in &kept {
        assert_eq!(introspect(&base, token).await["active"], true, "every answered token is stored");
    }

    node.signal("TERM");
    node.wait_exit(Duration::from_secs(20)).expect("exits");
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(stderr.contains("the database cannot serve the request now"), "a clear log line: {stderr}");
    assert!(stderr.contains("database or disk is full"), "{stderr}");
    assert_eq!(integrity(&data.join("poort.db")), "ok");

    // The same folder read-only (a read-only bind mount): the start fails with one clear line.
    let view = tempfile::tempdir().unwrap();
    let bind = |args: &[&str]| {
        let status = Command::new("mount").args(args).status().unwrap();
        assert!(status.success(), "mount {args:?}");
    };
    bind(&["--bind", data.to_str().unwrap(), view.path().to_str().unwrap()]);
    bind(&["-o", "remount,ro,bind", view.path().to_str().unwrap()]);
    let output = crate::support::poort()
        .current_dir(dir.path())
        .env("POORT_CONFIG", "poort.toml")
        .env("POORT__STORAGE__DATA_DIR", view.path())
        .env("POORT__SERVER__LISTEN", "127.0.0.1:0")
        .arg("serve")
        .output()
        .unwrap();
    let _ = Command::new("umount").arg(view.path()).status();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("Read-only file system") && stderr.lines().count() == 1, "{stderr}");
    assert_eq!(integrity(&data.join("poort.db")), "ok");
}

/// A listener that accepts connections and never answers.
fn hanging_listener() -> (String, Arc<AtomicUsize>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            counter.fetch_add(1, Ordering::SeqCst);
            held.push(stream);
        }
    });
    (format!("http://{address}"), accepted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_outbound_fetches_time_out_without_tying_up_the_server() {
    let (hang, accepted) = hanging_listener();
    let dir = tempfile::tempdir().unwrap();
    cluster::write_config(dir.path());
    let node = Server::start(dir.path(), |c| {
        c.env("POORT_CONFIG", "poort.toml").env("POORT__SERVER__OUTBOUND_TIMEOUT", "2s");
    });
    let base = node.base_url.clone();
    let client =
        reqwest::Client::builder().timeout(Duration::from_secs(60)).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    // A client whose key set lives at the hanging address (private_key_jwt), registered
    // dynamically as anyone could.
    let registered: serde_json::Value = client
        .post(format!("{base}/register"))
        .json(&serde_json::json!({
            "redirect_uris": ["http://127.0.0.1/cb"], "token_endpoint_auth_method": "private_key_jwt",
            "jwks_uri": format!("{hang}/jwks"), "grant_types": ["authorization_code", "client_credentials"],
            "request_uris": [format!("{hang}/request")],
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = registered["client_id"].as_str().unwrap_or_else(|| panic!("{registered}")).to_string();
    let assertion = {
        use base64::Engine as _;
        let b64 = |v: serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let claims = serde_json::json!({ "iss": client_id, "sub": client_id, "aud": format!("{}/token", cluster::ISSUER), "jti": "j", "exp": 4_000_000_000u64 });
        format!("{}.{}.{}", b64(serde_json::json!({ "alg": "RS256", "kid": "k" })), b64(claims), "c2ln")
    };
    // More hanging requests than the server has worker threads.
    let mut pending = Vec::new();
    for i in 0..16 {
        let (client, base, client_id, assertion, hang) = (client.clone(), base.clone(), client_id.clone(), assertion.clone(), hang.clone());
        pending.push(tokio::spawn(async move {
            let response = if i % 2 == 0 {
                client
                    .post(format!("{base}/token"))
                    .form(&[
                        ("grant_type", "client_credentials"),
                        ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                        ("client_assertion", &assertion),
                    ])
                    .send()
                    .await
            } else {
                let request_uri = cluster::urlencode(&format!("{hang}/request"));
                client.get(format!("{base}/authorize?client_id={client_id}&request_uri={request_uri}&response_type=code&scope=openid")).send().await
            };
            response.unwrap().status()
        }));
    }
    while accepted.load(Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // While they hang, the server answers everything else.
    for _ in 0..20 {
        let doc = client.get(format!("{base}/.well-known/openid-configuration")).send().await.unwrap();
        assert_eq!(doc.status(), StatusCode::OK);
        service_token(&client, &base).await.unwrap();
    }
    // And the hanging ones end with a client error once the fetch times out, never a 5xx.
    for request in pending {
        let status = request.await.unwrap();
        assert!(status.is_client_error() || status.is_redirection(), "{status}");
    }
}
