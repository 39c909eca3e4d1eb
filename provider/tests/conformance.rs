//! Black-box conformance: the real `poort serve` on loopback over TLS (an rcgen certificate for
//! 127.0.0.1), the OpenID Foundation's plans run by `poort-conformance` (one verdict per module,
//! with static clients and with dynamic registration) — Config, Basic, RP-Initiated Logout,
//! Implicit, Hybrid, Form Post, Dynamic, Front-Channel, Back-Channel and Session Management — and
//! `openid-client` v6 from npm as a real relying party. The harness serves what its RPs publish
//! (request objects, key sets, sector documents) over https with the same certificate, which the
//! server trusts through `outbound.ca_file`.
//!
//! `oidcc-codereuse-30seconds` waits 30 seconds, so it has its own test and the rest does not
//! wait behind it.

use poort_conformance::report::ModuleResult;
use poort_conformance::{
    AuthMethod, ClientCreds, Config, HostTls, OperatorAction, Plan, Runner, Status, render_table,
};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The redirect URI of every test client: shaped like the suite's, never contacted.
const REDIRECT_URI: &str = "https://127.0.0.1:8443/test/a/poort/callback";
/// The suite's `B/post_logout_redirect`, beside the redirect URI; registered for every client.
const POST_LOGOUT_REDIRECT_URI: &str = "https://127.0.0.1:8443/test/a/poort/post_logout_redirect";
const USERNAME: &str = "conformance";
const EMAIL: &str = "conformance@example.com";
const PASSWORD: &str = "a long conformance password";

const CLIENT: (&str, &str) = ("client", "conformance-client-secret-0001");
const CLIENT2: (&str, &str) = ("client2", "conformance-client-secret-0002");
const POST_CLIENT: (&str, &str) = ("client_secret_post", "conformance-client-secret-0003");
const NODE_CLIENT: (&str, &str) = ("openid-client", "conformance-client-secret-0004");
/// The Front-Channel plan's static client, with `FRONTCHANNEL_LOGOUT_URI`.
const FRONTCHANNEL_CLIENT: (&str, &str) = ("frontchannel", "conformance-client-secret-0005");
/// The Back-Channel plan's static client, whose `backchannel_logout_uri` is the harness's
/// listener (`Op::backchannel_listen`).
const BACKCHANNEL_CLIENT: (&str, &str) = ("backchannel", "conformance-client-secret-0006");
/// The suite's `B/frontchannel_logout`: the browser "loads" it, the harness reads the frame.
const FRONTCHANNEL_LOGOUT_URI: &str = "https://127.0.0.1:8443/test/a/poort/frontchannel_logout";

/// Every standard claim, well typed (the scope modules expect them all).
const CLAIMS: &str = r#"{
    "given_name": "Connie",
    "family_name": "Formance",
    "middle_name": "Ann",
    "nickname": "conn",
    "preferred_username": "conformance",
    "profile": "https://example.com/conformance",
    "picture": "https://example.com/conformance.png",
    "website": "https://example.com",
    "gender": "female",
    "birthdate": "1980-02-29",
    "zoneinfo": "Europe/Amsterdam",
    "locale": "nl-NL",
    "address": {
        "formatted": "Damrak 1\n1012 LG Amsterdam\nNetherlands",
        "street_address": "Damrak 1",
        "locality": "Amsterdam",
        "region": "Noord-Holland",
        "postal_code": "1012 LG",
        "country": "NL"
    },
    "phone_number": "+31 20 555 0100",
    "phone_number_verified": true
}"#;

fn poort() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_poort"));
    command.env_remove("POORT_CONFIG").env("RUST_LOG", "warn");
    for (key, _) in std::env::vars() {
        if key.starts_with("POORT__") {
            command.env_remove(key);
        }
    }
    command
}

/// A `[[clients]]` block; `extra` adds lines (logout URIs).
fn client_block(id: &str, secret: &str, auth_method: &str, extra: &str) -> String {
    format!(
        "[[clients]]\nclient_id = \"{id}\"\nclient_secret = \"{secret}\"\nclient_name = \"Conformance {id}\"\n\
         redirect_uris = [\"{REDIRECT_URI}\"]\npost_logout_redirect_uris = [\"{POST_LOGOUT_REDIRECT_URI}\"]\ngrant_types = [\"authorization_code\", \"implicit\", \"refresh_token\"]\n\
         response_types = [\"code\", \"id_token\", \"id_token token\", \"code id_token\", \"code token\", \"code id_token token\"]\ntoken_endpoint_auth_method = \"{auth_method}\"\n{extra}\n"
    )
}

/// A running `poort serve` over TLS in its own folder, killed when dropped.
struct Op {
    child: Child,
    issuer: String,
    ca_file: PathBuf,
    ca_pem: Vec<u8>,
    key_pem: Vec<u8>,
    log_file: PathBuf,
    /// Where the harness must listen for the static back-channel client's logout tokens.
    backchannel_listen: std::net::SocketAddr,
    dir: tempfile::TempDir,
}

impl Drop for Op {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Op {
    /// The server's log so far, without terminal colours (for failure messages).
    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log_file).unwrap_or_default();
        let mut plain = String::with_capacity(log.len());
        let mut chars = log.chars();
        while let Some(c) = chars.next() {
            if c == '\u{1b}' {
                // Skip a CSI sequence: ESC [ parameters final-letter.
                for c in chars.by_ref() {
                    if c.is_ascii_alphabetic() {
                        break;
                    }
                }
            } else {
                plain.push(c);
            }
        }
        let lines: Vec<&str> = plain.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Configures the static clients, adds the test user with every claim, and starts
/// `poort serve` on a free port with the issuer `https://127.0.0.1:<port>`.
fn start_op() -> Op {
    let dir = tempfile::tempdir().unwrap();
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let ca_pem = cert.cert.pem().into_bytes();
    let ca_file = dir.path().join("cert.pem");
    std::fs::write(&ca_file, &ca_pem).unwrap();
    let key_pem = cert.signing_key.serialize_pem().into_bytes();
    std::fs::write(dir.path().join("key.pem"), &key_pem).unwrap();
    // The harness's back-channel listener takes this port when the Back-Channel plan runs.
    let backchannel_listen = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let config = [
        client_block(CLIENT.0, CLIENT.1, "client_secret_basic", ""),
        client_block(CLIENT2.0, CLIENT2.1, "client_secret_basic", ""),
        client_block(POST_CLIENT.0, POST_CLIENT.1, "client_secret_post", ""),
        client_block(NODE_CLIENT.0, NODE_CLIENT.1, "client_secret_basic", ""),
        client_block(
            FRONTCHANNEL_CLIENT.0,
            FRONTCHANNEL_CLIENT.1,
            "client_secret_basic",
            &format!("frontchannel_logout_uri = \"{FRONTCHANNEL_LOGOUT_URI}\"\n"),
        ),
        client_block(
            BACKCHANNEL_CLIENT.0,
            BACKCHANNEL_CLIENT.1,
            "client_secret_basic",
            &format!("backchannel_logout_uri = \"http://{backchannel_listen}/backchannel_logout\"\n"),
        ),
    ]
    .concat();
    std::fs::write(dir.path().join("poort.toml"), config).unwrap();

    let mut add = poort();
    add.current_dir(dir.path())
        .env("POORT_CONFIG", "poort.toml")
        .args([
            "user",
            "add",
            "--email",
            EMAIL,
            "--username",
            USERNAME,
            "--name",
            "Connie Formance",
            "--email-verified",
        ])
        .args(["--claims-json", CLAIMS, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = add.spawn().unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "poort user add: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let log_file = dir.path().join("server.log");
    let mut last_error = String::new();
    for _ in 0..3 {
        let port = free_port();
        let issuer = format!("https://127.0.0.1:{port}");
        let mut child = poort()
            .current_dir(dir.path())
            .arg("serve")
            .env("POORT_CONFIG", "poort.toml")
            .env("POORT__SERVER__LISTEN", format!("127.0.0.1:{port}"))
            .env("POORT__SERVER__ISSUER", &issuer)
            .env("POORT__SERVER__TLS__CERT_FILE", "cert.pem")
            .env("POORT__SERVER__TLS__KEY_FILE", "key.pem")
            // The harness's document host uses the same certificate.
            .env("POORT__OUTBOUND__CA_FILE", "cert.pem")
            // Deliveries go out at once (the worker is woken); the poll is the fallback.
            .env("POORT__LOGOUT__BACKCHANNEL_POLL_INTERVAL", "1s")
            // The dynamic plans register dozens of clients, all from loopback.
            .env("POORT__REGISTRATION__MAX_PER_IP", "0")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log_file).unwrap())
            .spawn()
            .expect("poort starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut listening = false;
        while Instant::now() < deadline {
            match lines.next() {
                Some(Ok(line)) if line.starts_with("Poort is listening on ") => {
                    listening = true;
                    break;
                }
                Some(Ok(_)) => {}
                _ => break,
            }
        }
        if listening {
            // Keep draining stdout so the server never blocks on a full pipe.
            std::thread::spawn(move || for _ in lines {});
            return Op {
                child,
                issuer,
                ca_file,
                ca_pem,
                key_pem,
                log_file,
                backchannel_listen,
                dir,
            };
        }
        let _ = child.kill();
        let _ = child.wait();
        last_error = std::fs::read_to_string(&log_file).unwrap_or_default();
    }
    panic!("poort serve did not start: {last_error}");
}

fn harness_config(op: &Op, dynamic: bool) -> Config {
    let mut cfg = Config::new(&op.issuer, USERNAME, PASSWORD);
    cfg.ca_pem = Some(op.ca_pem.clone());
    cfg.redirect_uri = REDIRECT_URI.into();
    cfg.client = Some(ClientCreds::new(
        CLIENT.0,
        CLIENT.1,
        AuthMethod::ClientSecretBasic,
    ));
    cfg.client2 = Some(ClientCreds::new(
        CLIENT2.0,
        CLIENT2.1,
        AuthMethod::ClientSecretBasic,
    ));
    cfg.post_client = Some(ClientCreds::new(
        POST_CLIENT.0,
        POST_CLIENT.1,
        AuthMethod::ClientSecretPost,
    ));
    cfg.dynamic = dynamic;
    cfg.host_tls = Some(HostTls {
        cert_pem: op.ca_pem.clone(),
        key_pem: op.key_pem.clone(),
    });
    cfg.login_hint = Some(EMAIL.into());
    cfg.module_timeout = Duration::from_secs(120);
    cfg
}

/// The verdicts a module may end with here: PASSED, every one (Poort offers every optional
/// feature the plans probe: unsigned ID tokens, request objects by value and by reference,
/// pairwise subjects, refresh tokens).
fn acceptable(_module: &str) -> &'static [Status] {
    &[Status::Passed]
}

/// Asserts every module's verdict, listing each unexpected one with its reasons.
fn assert_verdicts(what: &str, op: &Op, results: &[ModuleResult]) {
    println!("{what}:\n{}", render_table(results));
    let unexpected: Vec<String> = results
        .iter()
        .filter(|r| !acceptable(r.module).contains(&r.status))
        .map(|r| {
            let reasons: Vec<String> = r
                .reasons()
                .iter()
                .map(|m| format!("\n      - {m}"))
                .collect();
            format!(
                "  {} → {} (expected {:?}){}",
                r.module,
                r.status,
                acceptable(r.module),
                reasons.concat()
            )
        })
        .collect();
    assert!(
        unexpected.is_empty(),
        "{what}: {} of {} modules did not pass:\n{}\n\nserver log (tail):\n{}",
        unexpected.len(),
        results.len(),
        unexpected.join("\n"),
        op.log_tail()
    );
}

fn without_codereuse_30seconds(
    runner: &Runner,
    plan: Plan,
) -> Vec<&'static poort_conformance::ModuleDef> {
    runner
        .plan(plan)
        .into_iter()
        .filter(|m| m.name != "oidcc-codereuse-30seconds")
        .collect()
}

#[tokio::test]
async fn config_plan() {
    let op = start_op();
    let runner = Runner::new(harness_config(&op, false)).unwrap();
    let results = runner.run_plan(Plan::Config).await;
    assert_eq!(results.len(), 1);
    assert_verdicts("oidcc-config-certification-test-plan", &op, &results);
}

#[tokio::test]
async fn basic_plan_with_static_clients() {
    let op = start_op();
    let runner = Runner::new(harness_config(&op, false)).unwrap();
    let modules = without_codereuse_30seconds(&runner, Plan::Basic);
    assert_eq!(
        modules.len(),
        34,
        "35 static-client modules, one in its own test"
    );
    let results = runner.run(&modules).await;
    assert_verdicts(
        "oidcc-basic-certification-test-plan (static clients)",
        &op,
        &results,
    );
}

#[tokio::test]
async fn basic_plan_with_dynamic_registration() {
    let op = start_op();
    let runner = Runner::new(harness_config(&op, true)).unwrap();
    let modules = without_codereuse_30seconds(&runner, Plan::Basic);
    assert_eq!(
        modules.len(),
        37,
        "38 dynamic-registration modules, one in its own test"
    );
    let results = runner.run(&modules).await;
    assert_verdicts(
        "oidcc-basic-certification-test-plan (dynamic registration)",
        &op,
        &results,
    );
}

#[tokio::test]
async fn rp_initiated_logout_plan() {
    let op = start_op();
    for (dynamic, what) in [(false, "static clients"), (true, "dynamic registration")] {
        let runner = Runner::new(harness_config(&op, dynamic)).unwrap();
        let results = runner.run_plan(Plan::RpLogout).await;
        assert_eq!(results.len(), 11, "the plan's 11 modules");
        assert_verdicts(
            &format!("oidcc-rp-initiated-logout-certification-test-plan ({what})"),
            &op,
            &results,
        );
    }
}

/// A plan that needs a client of its own: with that static client (`client`, or the main one)
/// and with dynamic registration, side by side.
async fn run_static_and_dynamic(op: &Op, plan: Plan, title: &str, client: Option<(&str, &str)>) {
    let mut static_cfg = harness_config(op, false);
    if let Some((id, secret)) = client {
        static_cfg.client = Some(ClientCreds::new(id, secret, AuthMethod::ClientSecretBasic));
    }
    static_cfg.backchannel_listen = op.backchannel_listen;
    let static_runner = Runner::new(static_cfg).unwrap();
    let dynamic_runner = Runner::new(harness_config(op, true)).unwrap();
    let (static_results, dynamic_results) =
        tokio::join!(static_runner.run_plan(plan), dynamic_runner.run_plan(plan));
    for (results, what) in [(static_results, "static client"), (dynamic_results, "dynamic registration")] {
        assert_eq!(results.len(), 2, "{title} has two modules");
        assert_verdicts(&format!("{title} ({what})"), op, &results);
    }
}

/// `oidcc-frontchannel-rp-initiated-logout-certification-test-plan`: the static client has
/// `frontchannel_logout_uri = B/frontchannel_logout`; the OP's signed-out page must frame it
/// with `iss` and `sid` before the post-logout redirect.
#[tokio::test]
async fn frontchannel_logout_plan() {
    let op = start_op();
    let title = "oidcc-frontchannel-rp-initiated-logout-certification-test-plan";
    run_static_and_dynamic(&op, Plan::FrontchannelLogout, title, Some(FRONTCHANNEL_CLIENT)).await;
}

/// `oidcc-backchannel-rp-initiated-logout-certification-test-plan`: the harness listens for
/// the logout token on loopback (the static client's URI names that port).
#[tokio::test]
async fn backchannel_logout_plan() {
    let op = start_op();
    let title = "oidcc-backchannel-rp-initiated-logout-certification-test-plan";
    run_static_and_dynamic(&op, Plan::BackchannelLogout, title, Some(BACKCHANNEL_CLIENT)).await;
}

/// `oidcc-session-management-certification-test-plan`, with the main static client.
#[tokio::test]
async fn session_management_plan() {
    let op = start_op();
    let title = "oidcc-session-management-certification-test-plan";
    run_static_and_dynamic(&op, Plan::SessionManagement, title, None).await;
}

/// `oidcc-implicit-certification-test-plan`: its list once with `id_token` and once with
/// `id_token token`, with static clients and with dynamic registration.
#[tokio::test]
async fn implicit_plan() {
    let op = start_op();
    for (response_type, modules) in [("id_token", [25, 27]), ("id_token token", [29, 31])] {
        for (dynamic, what) in [(false, "static clients"), (true, "dynamic registration")] {
            let mut cfg = harness_config(&op, dynamic);
            cfg.response_type = response_type.into();
            let runner = Runner::new(cfg).unwrap();
            let results = runner.run_plan(Plan::Implicit).await;
            assert_eq!(results.len(), modules[dynamic as usize], "{response_type}, {what}");
            assert_verdicts(
                &format!("oidcc-implicit-certification-test-plan, {response_type} ({what})"),
                &op,
                &results,
            );
        }
    }
}

/// `oidcc-hybrid-certification-test-plan`: runs 1 to 3 (`code id_token`, `code token`,
/// `code id_token token`), with static clients and with dynamic registration;
/// `oidcc-codereuse-30seconds` waits 30 seconds and runs once, in `codereuse_30seconds`.
#[tokio::test]
async fn hybrid_plan() {
    let op = start_op();
    for (response_type, modules) in [("code id_token", [33, 35]), ("code token", [30, 32]), ("code id_token token", [30, 32])] {
        for (dynamic, what) in [(false, "static clients"), (true, "dynamic registration")] {
            let mut cfg = harness_config(&op, dynamic);
            cfg.response_type = response_type.into();
            let runner = Runner::new(cfg).unwrap();
            let plan = without_codereuse_30seconds(&runner, Plan::Hybrid);
            assert_eq!(plan.len(), modules[dynamic as usize], "{response_type}, {what}");
            let results = runner.run(&plan).await;
            assert_verdicts(
                &format!("oidcc-hybrid-certification-test-plan, {response_type} ({what})"),
                &op,
                &results,
            );
        }
    }
}

/// The Form Post plans for implicit and hybrid (`oidcc-formpost-implicit-…`,
/// `oidcc-formpost-hybrid-certification-test-plan`): the same lists with
/// `response_mode=form_post` forced, here with static clients.
#[tokio::test]
async fn form_post_implicit_and_hybrid_plans() {
    let op = start_op();
    let runs = [
        (Plan::Implicit, "id_token", 25),
        (Plan::Implicit, "id_token token", 29),
        (Plan::Hybrid, "code id_token", 33),
        (Plan::Hybrid, "code token", 30),
        (Plan::Hybrid, "code id_token token", 30),
    ];
    for (plan, response_type, modules) in runs {
        let mut cfg = harness_config(&op, false);
        cfg.response_type = response_type.into();
        cfg.form_post = true;
        let runner = Runner::new(cfg).unwrap();
        let modules_run = without_codereuse_30seconds(&runner, plan);
        assert_eq!(modules_run.len(), modules, "{plan:?} {response_type}");
        let results = runner.run(&modules_run).await;
        assert_verdicts(&format!("form post {plan:?} plan, {response_type}"), &op, &results);
    }
}

/// The operator's key rotation for `oidcc-server-rotate-keys`: the real `poort keys rotate`
/// against the server's database, then SIGHUP so the server loads the new keys at once.
fn rotate_keys(op: &Op) -> OperatorAction {
    let (dir, pid) = (op.dir.path().to_path_buf(), op.child.id());
    OperatorAction::new(move || {
        let dir = dir.clone();
        async move {
            let mut rotate = poort();
            rotate.current_dir(&dir).env("POORT_CONFIG", "poort.toml").args(["keys", "rotate"]);
            let output = tokio::process::Command::from(rotate).output().await.map_err(|e| e.to_string())?;
            if !output.status.success() {
                return Err(format!("poort keys rotate: {}", String::from_utf8_lossy(&output.stderr)));
            }
            let hangup = tokio::process::Command::new("kill").args(["-HUP", &pid.to_string()]).status().await;
            match hangup {
                Ok(status) if status.success() => Ok(()),
                other => Err(format!("kill -HUP {pid}: {other:?}")),
            }
        }
    })
}

/// One run of the Dynamic plan against its own server (the run rotates that server's keys).
async fn dynamic_run(response_type: &str, modules: usize) {
    let op = tokio::task::spawn_blocking(start_op).await.unwrap();
    let mut cfg = harness_config(&op, true);
    cfg.response_type = response_type.into();
    cfg.client_auth = Some(AuthMethod::PrivateKeyJwt);
    cfg.rotate_keys = Some(rotate_keys(&op));
    // Longer than the provider's one-second floor between fetches of a jwks_uri, far shorter
    // than its 60-second cache: a success proves the re-fetch on an unknown kid.
    cfg.jwks_refresh_delay = Duration::from_secs(2);
    let runner = Runner::new(cfg).unwrap();
    let plan = runner.plan(Plan::Dynamic);
    assert_eq!(plan.len(), modules, "{response_type}");
    let results = runner.run(&plan).await;
    assert_verdicts(&format!("oidcc-dynamic-certification-test-plan, {response_type}"), &op, &results);
}

/// `oidcc-dynamic-certification-test-plan` ("Dynamic OP": discovery, dynamic registration,
/// private_key_jwt) for `code` and for `code id_token` (the suite's CI choice), side by side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_plan() {
    tokio::join!(dynamic_run("code", 23), dynamic_run("code id_token", 22));
}

#[tokio::test]
async fn codereuse_30seconds() {
    let op = start_op();
    let static_runner = Runner::new(harness_config(&op, false)).unwrap();
    let dynamic_runner = Runner::new(harness_config(&op, true)).unwrap();
    let (static_results, dynamic_results) = tokio::join!(
        static_runner.run_named(&["oidcc-codereuse-30seconds"]),
        dynamic_runner.run_named(&["oidcc-codereuse-30seconds"]),
    );
    assert_verdicts(
        "oidcc-codereuse-30seconds (static client)",
        &op,
        &static_results.unwrap(),
    );
    assert_verdicts(
        "oidcc-codereuse-30seconds (dynamic registration)",
        &op,
        &dynamic_results.unwrap(),
    );
}

/// `conformance/rp`, with its npm dependencies installed (`npm ci` from the committed lock; only
/// when the pinned openid-client is not installed yet).
fn relying_party_dir() -> PathBuf {
    let rp = Path::new(env!("CARGO_MANIFEST_DIR")).join("../conformance/rp");
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(rp.join("package.json")).unwrap()).unwrap();
    let pinned = manifest["dependencies"]["openid-client"]
        .as_str()
        .unwrap()
        .to_string();
    let installed = std::fs::read_to_string(rp.join("node_modules/openid-client/package.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|p| p["version"].as_str().map(str::to_string));
    if installed.as_deref() != Some(pinned.as_str()) {
        let command = if rp.join("package-lock.json").exists() {
            "ci"
        } else {
            "install"
        };
        let output = Command::new("npm")
            .current_dir(&rp)
            .args([command, "--no-audit", "--no-fund", "--loglevel=error"])
            .output()
            .expect("npm is installed");
        assert!(
            output.status.success(),
            "npm {command}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    rp
}

/// openid-client v6 (`rp/flow.mjs`): discovery, the code flow with PKCE, userinfo, a refresh,
/// and RP-initiated logout with the library's end-session URL.
#[tokio::test]
async fn openid_client_v6_completes_discovery_code_flow_with_pkce_userinfo_refresh_and_logout() {
    let rp = tokio::task::spawn_blocking(relying_party_dir)
        .await
        .unwrap();
    let op = start_op();
    let mut node = tokio::process::Command::new("node");
    node.current_dir(&rp)
        .arg("flow.mjs")
        .env("ISSUER", &op.issuer)
        .env("CLIENT_ID", NODE_CLIENT.0)
        .env("CLIENT_SECRET", NODE_CLIENT.1)
        .env("REDIRECT_URI", REDIRECT_URI)
        .env("POST_LOGOUT_REDIRECT_URI", POST_LOGOUT_REDIRECT_URI)
        .env("USERNAME", USERNAME)
        .env("PASSWORD", PASSWORD)
        .env("NODE_EXTRA_CA_CERTS", &op.ca_file)
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(120), node.output())
        .await
        .expect("node finishes")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stdout.lines().last().unwrap_or("");
    let result: serde_json::Value = serde_json::from_str(last).unwrap_or_else(|e| {
        panic!(
            "flow.mjs printed no JSON ({e}): {stdout}\n{stderr}\nserver log:\n{}",
            op.log_tail()
        )
    });
    assert!(
        output.status.success() && result["ok"] == true,
        "openid-client failed: {result}\n{stderr}\nserver log:\n{}",
        op.log_tail()
    );
    assert_eq!(result["issuer"], op.issuer.as_str());
    let sub = result["id_token_claims"]["sub"]
        .as_str()
        .expect("the ID token has a sub");
    assert_eq!(
        result["userinfo"]["sub"], sub,
        "userinfo is about the same user"
    );
    assert_eq!(result["userinfo"]["email"], EMAIL);
    assert_eq!(result["id_token_claims"]["aud"], NODE_CLIENT.0);
    assert!(
        result["token_type"]
            .as_str()
            .unwrap()
            .eq_ignore_ascii_case("bearer")
    );
    assert_eq!(
        result["has_refresh_token"], true,
        "offline_access with consent yields a refresh token"
    );
    assert_eq!(result["refreshed"]["has_access_token"], true);
    assert_eq!(result["refreshed"]["new_access_token"], true);
    assert_eq!(
        result["refreshed"]["rotated_refresh_token"], true,
        "refresh tokens rotate"
    );
    let logout = &result["logout"];
    assert_eq!(logout["end_session_endpoint"], format!("{}/session/end", op.issuer), "{logout}");
    assert_eq!(logout["at"], POST_LOGOUT_REDIRECT_URI, "back at the post-logout URI: {logout}");
    assert_eq!(logout["state_returned"], true, "with the state: {logout}");
    assert_eq!(logout["parameters"], serde_json::json!(["state"]), "and nothing else: {logout}");
    assert_eq!(logout["prompt_none_error"], "login_required", "the session ended: {logout}");
    assert_eq!(logout["prompt_none_state_returned"], true, "{logout}");
    assert_eq!(logout["prompt_none_code"], false, "{logout}");
}

/// `oidcc-codereuse-30seconds` in the Hybrid plan's three runs (static clients), side by side.
#[tokio::test]
async fn hybrid_codereuse_30seconds() {
    let op = start_op();
    let runner = |response_type: &str| {
        let mut cfg = harness_config(&op, false);
        cfg.response_type = response_type.into();
        Runner::new(cfg).unwrap()
    };
    let types = ["code id_token", "code token", "code id_token token"];
    let runners: Vec<Runner> = types.iter().map(|rt| runner(rt)).collect();
    let (a, b, c) = tokio::join!(
        runners[0].run_named(&["oidcc-codereuse-30seconds"]),
        runners[1].run_named(&["oidcc-codereuse-30seconds"]),
        runners[2].run_named(&["oidcc-codereuse-30seconds"]),
    );
    for (response_type, results) in types.iter().zip([a, b, c]) {
        assert_verdicts(&format!("oidcc-codereuse-30seconds ({response_type})"), &op, &results.unwrap());
    }
}

/// `openid-client` v6 through the implicit (`id_token`) and hybrid (`code id_token`) flows: the
/// library verifies the ID tokens, nonce, state and c_hash; userinfo with the hybrid flow's token.
#[tokio::test]
async fn openid_client_v6_completes_the_implicit_and_hybrid_flows() {
    let rp = tokio::task::spawn_blocking(relying_party_dir)
        .await
        .unwrap();
    let op = start_op();
    let mut node = tokio::process::Command::new("node");
    node.current_dir(&rp)
        .arg("implicit-hybrid.mjs")
        .env("ISSUER", &op.issuer)
        .env("CLIENT_ID", NODE_CLIENT.0)
        .env("CLIENT_SECRET", NODE_CLIENT.1)
        .env("REDIRECT_URI", REDIRECT_URI)
        .env("USERNAME", USERNAME)
        .env("PASSWORD", PASSWORD)
        .env("NODE_EXTRA_CA_CERTS", &op.ca_file)
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(120), node.output())
        .await
        .expect("node finishes")
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stdout.lines().last().unwrap_or("");
    let result: serde_json::Value = serde_json::from_str(last).unwrap_or_else(|e| {
        panic!("implicit-hybrid.mjs printed no JSON ({e}): {stdout}\n{stderr}\nserver log:\n{}", op.log_tail())
    });
    assert!(
        output.status.success() && result["ok"] == true,
        "openid-client failed: {result}\n{stderr}\nserver log:\n{}",
        op.log_tail()
    );
    assert_eq!(result["implicit_in_fragment"], true);
    assert_eq!(result["hybrid_in_fragment"], true);
    assert_eq!(result["implicit_claims"]["aud"], NODE_CLIENT.0);
    // response_type=id_token: the scope's claims are in the ID token.
    assert_eq!(result["implicit_claims"]["email"], EMAIL);
    let sub = result["hybrid_claims"]["sub"].as_str().expect("a sub");
    assert_eq!(result["implicit_claims"]["sub"], sub);
    assert_eq!(result["userinfo"]["sub"], sub);
    assert_eq!(result["userinfo"]["email"], EMAIL);
}
