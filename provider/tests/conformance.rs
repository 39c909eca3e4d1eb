//! Black-box conformance: the real `poort serve` on loopback over TLS (an rcgen certificate for
//! 127.0.0.1), the OpenID Foundation's Config, Basic and RP-Initiated Logout plans run by
//! `poort-conformance` (one
//! verdict per module, with static clients and with dynamic registration), and `openid-client`
//! v6 from npm as a real relying party.
//!
//! `oidcc-codereuse-30seconds` waits 30 seconds, so it has its own test and the rest does not
//! wait behind it.

use poort_conformance::report::ModuleResult;
use poort_conformance::{AuthMethod, ClientCreds, Config, Plan, Runner, Status, render_table};
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

fn client_block(id: &str, secret: &str, auth_method: &str) -> String {
    format!(
        "[[clients]]\nclient_id = \"{id}\"\nclient_secret = \"{secret}\"\nclient_name = \"Conformance {id}\"\n\
         redirect_uris = [\"{REDIRECT_URI}\"]\npost_logout_redirect_uris = [\"{POST_LOGOUT_REDIRECT_URI}\"]\ngrant_types = [\"authorization_code\", \"implicit\", \"refresh_token\"]\n\
         response_types = [\"code\", \"id_token\", \"id_token token\", \"code id_token\", \"code token\", \"code id_token token\"]\ntoken_endpoint_auth_method = \"{auth_method}\"\n\n"
    )
}

/// A running `poort serve` over TLS in its own folder, killed when dropped.
struct Op {
    child: Child,
    issuer: String,
    ca_file: PathBuf,
    ca_pem: Vec<u8>,
    log_file: PathBuf,
    _dir: tempfile::TempDir,
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
    std::fs::write(dir.path().join("key.pem"), cert.signing_key.serialize_pem()).unwrap();
    let config = [
        client_block(CLIENT.0, CLIENT.1, "client_secret_basic"),
        client_block(CLIENT2.0, CLIENT2.1, "client_secret_basic"),
        client_block(POST_CLIENT.0, POST_CLIENT.1, "client_secret_post"),
        client_block(NODE_CLIENT.0, NODE_CLIENT.1, "client_secret_basic"),
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
                log_file,
                _dir: dir,
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
    cfg.login_hint = Some(EMAIL.into());
    cfg.module_timeout = Duration::from_secs(120);
    cfg
}

/// The verdicts a module may end with here. PASSED everywhere, except where the suite itself
/// accepts a skip for an optional feature Poort may refuse.
fn acceptable(module: &str) -> &'static [Status] {
    match module {
        // Unsigned ID tokens are optional (skipped unless discovery lists `none`).
        "oidcc-idtoken-unsigned" => &[Status::Passed, Status::Skipped],
        // request_uri: support it properly or refuse it with request_uri_not_supported.
        "oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported" => {
            &[Status::Passed, Status::Skipped]
        }
        _ => &[Status::Passed],
    }
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

#[tokio::test]
async fn openid_client_v6_completes_discovery_code_flow_with_pkce_userinfo_and_refresh() {
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
