//! The real `poort` binary: zero-setup start, TLS, graceful shutdown, the CLI, and one clear
//! line with a non-zero exit for every way a start can fail.

use crate::support::{Server, http, poort};
use std::process::{Command, Stdio};
use std::time::Duration;

fn run(command: &mut Command) -> (bool, String, String) {
    let output = command.output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn kids_of(base: &str, client: &reqwest::Client) -> Vec<String> {
    let jwks: serde_json::Value = client.get(format!("{base}/jwks")).send().await.unwrap().json().await.unwrap();
    let mut kids: Vec<String> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect();
    kids.sort();
    kids
}

#[tokio::test]
async fn zero_setup_serve_keeps_its_keys_across_restarts_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let client = http();
    let mut server = Server::start(dir.path(), |_| {});
    let doc: serde_json::Value = client
        .get(format!("{}/.well-known/openid-configuration", server.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["issuer"].as_str().unwrap().starts_with("http://127.0.0.1:"));
    let first = kids_of(&server.base_url, &client).await;
    assert_eq!(first.len(), 2);
    assert!(dir.path().join("poort-data/poort.db").exists(), "the database lives in ./poort-data");
    server.signal("TERM");
    let status = server.wait_exit(Duration::from_secs(20)).expect("exits after SIGTERM");
    assert!(status.success(), "{status:?}");

    let server = Server::start(dir.path(), |_| {});
    assert_eq!(kids_of(&server.base_url, &client).await, first);
}

#[tokio::test]
async fn serves_tls_with_configured_certificate_files() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.cert.pem()).unwrap();
    std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let server = Server::start(dir.path(), |c| {
        c.env("POORT__SERVER__TLS__CERT_FILE", "cert.pem").env("POORT__SERVER__TLS__KEY_FILE", "key.pem");
    });
    assert!(server.base_url.starts_with("https://"), "{}", server.base_url);
    let port = server.base_url.rsplit(':').next().unwrap();
    let client = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .resolve("localhost", format!("127.0.0.1:{port}").parse().unwrap())
        .build()
        .unwrap();
    let doc: serde_json::Value = client
        .get(format!("https://localhost:{port}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["issuer"].as_str().unwrap().starts_with("https://127.0.0.1:"));
}

#[tokio::test]
async fn behind_a_proxy_the_public_issuer_is_what_is_advertised() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), |c| {
        c.env("POORT__SERVER__ISSUER", "https://id.example.com");
    });
    let doc: serde_json::Value = http()
        .get(format!("{}/.well-known/openid-configuration", server.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(doc["issuer"], "https://id.example.com");
    assert_eq!(doc["jwks_uri"], "https://id.example.com/jwks");
}

#[test]
fn a_port_in_use_is_one_clear_line_and_a_failure() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (ok, _, stderr) = run(poort().current_dir(dir.path()).arg("serve").env("POORT__SERVER__LISTEN", &addr));
    assert!(!ok);
    assert!(stderr.contains(&format!("cannot listen on {addr}")), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_configuration_stops_the_start_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("poort.toml"), "[server]\nissuer = \"https://id.example.com?x\"\n").unwrap();
    let (ok, _, stderr) = run(poort().current_dir(dir.path()).args(["--config", "poort.toml", "serve"]));
    assert!(!ok);
    assert!(stderr.contains("server.issuer"), "{stderr}");
    assert!(!dir.path().join("poort-data").exists(), "nothing is created on a failed start");

    let (ok, _, stderr) = run(poort().current_dir(dir.path()).args(["--config", "missing.toml", "serve"]));
    assert!(!ok);
    assert!(stderr.contains("missing.toml"), "{stderr}");

    let (ok, _, stderr) = run(poort().current_dir(dir.path()).arg("check-config").env("POORT__TOKENS__ID_TOKEN_TTL", "soon"));
    assert!(!ok);
    assert!(stderr.contains("id_token_ttl"), "{stderr}");
}

#[test]
fn check_config_validates_without_starting_and_hides_secrets() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("poort.toml"),
        "[keys]\nencryption_secret = \"0123456789abcdef0123456789abcdef!\"\n",
    )
    .unwrap();
    let (ok, stdout, stderr) = run(poort().current_dir(dir.path()).args(["--config", "poort.toml", "check-config", "--json"]));
    assert!(ok, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["valid"], true);
    assert_eq!(report["settings"]["keys"]["encryption_secret"], "***");
    assert!(!stdout.contains("0123456789abcdef"));
    assert!(!dir.path().join("poort-data").exists(), "check-config opens no database");
}

#[test]
fn a_data_folder_that_cannot_be_created_is_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("occupied"), b"a file, not a folder").unwrap();
    let (ok, _, stderr) = run(poort().current_dir(dir.path()).arg("migrate").env("POORT__STORAGE__DATA_DIR", "occupied/data"));
    assert!(!ok);
    assert!(stderr.contains("cannot create the data folder occupied/data"), "{stderr}");
}

#[test]
fn a_database_that_cannot_be_opened_is_named_without_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = run(
        poort()
            .current_dir(dir.path())
            .arg("serve")
            .env("POORT__STORAGE__DATABASE_URL", "postgres://poort:hunter2@127.0.0.1:1/poort"),
    );
    assert!(!ok);
    assert!(stderr.contains("cannot open the database"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn keys_list_and_rotate_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = run(poort().current_dir(dir.path()).arg("migrate"));
    assert!(ok, "{stderr}");
    let list = |dir: &std::path::Path| {
        let (ok, stdout, stderr) = run(poort().current_dir(dir).args(["keys", "list", "--json"]));
        assert!(ok, "{stderr}");
        serde_json::from_str::<serde_json::Value>(&stdout).unwrap()
    };
    // migrate alone creates no keys; the first serve or keys command does.
    let (ok, stdout, stderr) = run(poort().current_dir(dir.path()).args(["keys", "rotate", "--json"]));
    assert!(ok, "{stderr}");
    let created: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(created["created"].as_array().unwrap().len(), 2);
    let keys = list(dir.path());
    assert_eq!(keys.as_array().unwrap().len(), 2);
    let (ok, _, _) = run(poort().current_dir(dir.path()).args(["keys", "rotate", "--alg", "ES256"]));
    assert!(ok);
    let keys = list(dir.path());
    let states: Vec<(&str, &str)> =
        keys.as_array().unwrap().iter().map(|k| (k["alg"].as_str().unwrap(), k["state"].as_str().unwrap())).collect();
    assert_eq!(states.iter().filter(|(alg, s)| *alg == "ES256" && *s == "signing").count(), 1);
    assert_eq!(states.iter().filter(|(alg, s)| *alg == "ES256" && s.starts_with("retired")).count(), 1);
    let (ok, _, stderr) = run(poort().current_dir(dir.path()).args(["keys", "rotate", "--alg", "HS256"]));
    assert!(!ok);
    assert!(stderr.contains("HS256"), "{stderr}");
}

#[tokio::test]
async fn sighup_makes_a_running_server_load_rotated_keys_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let client = http();
    let mut server = Server::start(dir.path(), |command| {
        command.env("RUST_LOG", "info");
    });
    let before = kids_of(&server.base_url, &client).await;
    let (ok, stdout, stderr) = run(poort().current_dir(dir.path()).args(["keys", "rotate", "--alg", "RS256", "--json"]));
    assert!(ok, "{stderr}");
    let created: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let new_kid = created["created"][0].as_str().unwrap().to_string();
    server.signal("HUP");
    // The server says when it has reloaded; the JWKS then has the new key beside the old ones.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !server.log().contains("reloaded the signing keys") {
        assert!(std::time::Instant::now() < deadline, "the server did not log a reload: {}", server.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let after = kids_of(&server.base_url, &client).await;
    assert!(after.contains(&new_kid), "{after:?}");
    assert!(before.iter().all(|kid| after.contains(kid)), "the old keys stay published");
    // And the process is still serving (SIGHUP does not end it).
    assert!(server.child.try_wait().unwrap().is_none());
}

#[test]
fn sigkill_in_the_middle_of_writes_loses_no_committed_row() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = run(poort().current_dir(dir.path()).arg("migrate"));
    assert!(ok, "{stderr}");
    // A writer adding users one after another, killed (with the user add in flight) mid-way.
    let bin = env!("CARGO_BIN_EXE_poort");
    let mut writer = Command::new("bash")
        .current_dir(dir.path())
        .arg("-c")
        .arg(format!(
            "for i in $(seq 1 400); do exec_out=$(echo password-$i | '{bin}' user add --email user$i@example.com --password-stdin --json) || exit 1; echo \"$exec_out\" | tr -d '\\n'; echo; done"
        ))
        .env("RUST_LOG", "off")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    // Kill the loop and whatever `poort` it is running right now.
    let _ = Command::new("pkill").args(["-KILL", "-P", &writer.id().to_string()]).status();
    let _ = writer.kill();
    let output = writer.wait_with_output().unwrap();
    let reported: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .map(|user| user["email"].as_str().unwrap().to_string())
        .collect();
    assert!(!reported.is_empty(), "the writer committed nothing before it was killed");

    // The database opens again (the CLI migrates and lists), and every reported row is there.
    let (ok, stdout, stderr) = run(poort().current_dir(dir.path()).args(["user", "list", "--json"]));
    assert!(ok, "{stderr}");
    let stored: Vec<String> = serde_json::from_str::<serde_json::Value>(&stdout).unwrap()
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_string())
        .collect();
    for email in &reported {
        assert!(stored.contains(email), "{email} was committed but is gone");
    }
    let check = Command::new("python3")
        .args(["-c", "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('PRAGMA integrity_check').fetchone()[0])"])
        .arg(dir.path().join("poort-data/poort.db"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&check.stdout).trim(), "ok");
}

#[test]
fn users_and_clients_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let cli = |args: &[&str]| {
        let (ok, stdout, stderr) = run(poort().current_dir(dir.path()).args(args));
        (ok, stdout, stderr)
    };
    let (ok, stdout, stderr) = cli(&["user", "add", "--email", "Ann@Example.com", "--username", "ann", "--role", "user level 0", "--json"]);
    assert!(ok, "{stderr}");
    let ann: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(ann["email"], "ann@example.com");
    assert_eq!(ann["status"], "invited");
    assert_eq!(ann["roles"], serde_json::json!(["user level 0"]));
    assert!(ann["sign_in"].as_str().unwrap().contains("not activated"));

    let (ok, _, stderr) = cli(&["user", "add", "--email", "ann@example.com"]);
    assert!(!ok);
    assert!(stderr.contains("ann@example.com"), "a duplicate names the address: {stderr}");

    let mut set_password = poort();
    set_password.current_dir(dir.path()).args(["user", "set-password", "ann"]).stdin(Stdio::piped()).stdout(Stdio::null());
    let mut child = set_password.spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"a long enough password\n").unwrap();
    assert!(child.wait().unwrap().success());
    let (_, stdout, _) = cli(&["user", "show", "ANN@example.com", "--json"]);
    let ann: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(ann["status"], "active");
    assert_eq!(ann["has_password"], true);
    assert!(!stdout.contains("argon2"), "the hash is never shown");

    assert!(cli(&["user", "disable", "ann"]).0);
    let (_, stdout, _) = cli(&["user", "show", "ann", "--json"]);
    assert!(stdout.contains("disabled"));
    assert!(cli(&["user", "set-role", "ann", "--role", "sales", "--role", "support"]).0);
    let (_, stdout, _) = cli(&["user", "list", "--json"]);
    let users: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(users[0]["roles"], serde_json::json!(["sales", "support"]));
    let (ok, _, stderr) = cli(&["user", "show", "nobody@example.com"]);
    assert!(!ok && stderr.contains("no user"), "{stderr}");

    let (ok, stdout, stderr) =
        cli(&["client", "add", "--client-id", "crm", "--name", "CRM", "--redirect-uri", "https://crm.example.com/cb", "--json"]);
    assert!(ok, "{stderr}");
    let crm: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let secret = crm["client_secret"].as_str().unwrap().to_string();
    assert!(secret.len() >= 43);
    let (ok, stdout, _) = cli(&["client", "show", "crm", "--json"]);
    assert!(ok);
    assert!(!stdout.contains(&secret), "the secret is never shown again");
    let shown: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(shown["metadata"]["redirect_uris"], serde_json::json!(["https://crm.example.com/cb"]));
    let (ok, _, stderr) = cli(&["client", "add", "--client-id", "bad", "--redirect-uri", "https://x/cb#frag"]);
    assert!(!ok && stderr.contains("fragment"), "{stderr}");
    assert!(cli(&["client", "remove", "crm"]).0);
    let (_, stdout, _) = cli(&["client", "list", "--json"]);
    assert_eq!(stdout.trim(), "[]");
}

#[tokio::test]
async fn configured_clients_are_registered_at_start_and_removed_when_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("poort.toml");
    std::fs::write(
        &config,
        "[[clients]]\nclient_id = \"crm\"\nclient_secret = \"0123456789abcdef-crm\"\nredirect_uris = [\"https://crm.example.com/cb\"]\n",
    )
    .unwrap();
    drop(Server::start(dir.path(), |c| {
        c.env("POORT_CONFIG", "poort.toml");
    }));
    let (ok, stdout, _) = run(poort().current_dir(dir.path()).args(["--config", "poort.toml", "client", "list", "--json"]));
    assert!(ok);
    let clients: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(clients[0]["client_id"], "crm");
    assert_eq!(clients[0]["source"], "config");
    assert!(!stdout.contains("0123456789abcdef-crm"));
    let (ok, _, stderr) = run(poort().current_dir(dir.path()).args(["--config", "poort.toml", "client", "remove", "crm"]));
    assert!(!ok && stderr.contains("configuration"), "{stderr}");

    std::fs::write(&config, "").unwrap();
    drop(Server::start(dir.path(), |c| {
        c.env("POORT_CONFIG", "poort.toml");
    }));
    let (_, stdout, _) = run(poort().current_dir(dir.path()).args(["client", "list", "--json"]));
    assert_eq!(stdout.trim(), "[]");
}

/// The back channel end to end with the real binary: a session ended from the CLI queues a
/// logout token for a client whose endpoint is down; `poort serve` retries, is restarted, and
/// delivers once the endpoint is up. The CLI lists sessions and the outbox, and disabling a user
/// signs them out everywhere.
#[tokio::test]
async fn sessions_from_the_cli_and_a_back_channel_logout_that_survives_a_restart() {
    use crate::support::{Receiver, closed_port, logout_tokens, sign_in_over_http};
    let dir = tempfile::tempdir().unwrap();
    let port = closed_port();
    let config = format!(
        "[[clients]]\nclient_id = \"crm\"\nclient_secret = \"a-secret-of-sixteen\"\nclient_name = \"CRM\"\n\
         redirect_uris = [\"https://crm.example/cb\"]\nfirst_party = true\n\
         backchannel_logout_uri = \"http://127.0.0.1:{port}/backchannel\"\n\n\
         [logout]\nbackchannel_poll_interval = \"1s\"\nbackchannel_retry_initial = \"1s\"\nbackchannel_retry_max = \"1s\"\n"
    );
    std::fs::write(dir.path().join("poort.toml"), config).unwrap();
    let cli = |args: &[&str]| run(poort().current_dir(dir.path()).env("POORT_CONFIG", "poort.toml").args(args));
    let mut add = poort();
    add.current_dir(dir.path()).env("POORT_CONFIG", "poort.toml").args(["user", "add", "--email", "ann@example.com", "--username", "ann", "--password-stdin"]);
    let mut child = add.stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"a long enough password\n").unwrap();
    assert!(child.wait().unwrap().success());

    let configure = |c: &mut Command| {
        c.env("POORT_CONFIG", "poort.toml");
    };
    let mut server = Server::start(dir.path(), configure);
    sign_in_over_http(&server.base_url, "crm", "https://crm.example/cb", "ann", "a long enough password").await;
    let (ok, stdout, stderr) = cli(&["session", "list", "ann", "--json"]);
    assert!(ok, "{stderr}");
    let sessions: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(sessions.as_array().unwrap().len(), 1, "{stdout}");
    assert_eq!(sessions[0]["clients"], serde_json::json!(["crm"]));
    let sid = sessions[0]["sid"].as_str().unwrap().to_string();
    let (ok, _, stderr) = cli(&["session", "end", "ann", "no-such-session"]);
    assert!(!ok && stderr.contains("no live session"), "{stderr}");
    let (ok, stdout, stderr) = cli(&["session", "end", "ann", &sid]);
    assert!(ok && stdout.contains(&sid), "{stderr}");

    // The endpoint is down: the server tries, and will retry.
    let deliveries = || {
        let (ok, stdout, stderr) = cli(&["logout-deliveries", "list", "--json"]);
        assert!(ok, "{stderr}");
        serde_json::from_str::<serde_json::Value>(&stdout).unwrap()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while deliveries()[0]["attempts"].as_i64() < Some(1) {
        assert!(std::time::Instant::now() < deadline, "the server never tried: {}", deliveries());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let pending = deliveries();
    assert_eq!((pending[0]["status"].as_str(), pending[0]["last_error"].as_str()), (Some("pending"), Some("cannot connect")));

    // A restart, with the endpoint up by now: the queue is in the database, not in the process.
    server.signal("TERM");
    assert!(server.wait_exit(Duration::from_secs(20)).is_some_and(|s| s.success()));
    let receiver = Receiver::start(port, &[]).await;
    let _server = Server::start(dir.path(), configure);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while logout_tokens(&receiver).is_empty() {
        assert!(std::time::Instant::now() < deadline, "not delivered after the restart: {}", deliveries());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let token = &logout_tokens(&receiver)[0];
    let claims = crate::logout::claims_of(token);
    assert_eq!(claims["sid"], sid.as_str());
    assert_eq!(claims["aud"], "crm");
    let (_, stdout, _) = cli(&["logout-deliveries", "list", "--status", "delivered", "--json"]);
    let delivered: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(delivered.as_array().unwrap().len(), 1, "{stdout}");
    assert!(delivered[0]["attempts"].as_i64().unwrap() >= 2);
    assert_eq!(logout_tokens(&receiver).len(), 1, "delivered once");

    // Disabling ends every session.
    sign_in_over_http(&_server.base_url, "crm", "https://crm.example/cb", "ann", "a long enough password").await;
    let (ok, stdout, _) = cli(&["user", "disable", "ann"]);
    assert!(ok && stdout.contains("1 sessions ended"), "{stdout}");
    let (_, stdout, _) = cli(&["session", "list", "ann", "--json"]);
    assert_eq!(stdout.trim(), "[]");
}
