//! The upstream OpenID provider (`federation/upstream-op/server.mjs`, node-oidc-provider): its
//! npm dependencies installed from the committed lock (`npm ci`, only when missing), one
//! process per test binary on a free port.

use super::spawn_for_life;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Tenant A (`contoso.test`) and tenant B (`fabrikam.test`), as the server names them.
pub const TENANT_A: &str = "11111111-1111-4111-8111-111111111111";
pub const TENANT_B: &str = "22222222-2222-4222-8222-222222222222";
/// Every client's secret, and every upstream person's password.
pub const CLIENT_SECRET: &str = "upstream-secret-0000000000000001";
pub const PASSWORD: &str = "upstream-password";

/// The clients `fault-<name>` of the /common face, and the reason Poort gives for each spoilt
/// answer (`federation.error.<reason>`).
pub const FAULTS: &[(&str, &str)] = &[
    ("bad-signature", "bad_signature"),
    ("wrong-issuer", "wrong_issuer"),
    ("wrong-audience", "wrong_audience"),
    ("expired", "token_expired"),
    ("wrong-nonce", "wrong_nonce"),
    ("slow", "unavailable"),
    ("html", "invalid_answer"),
    ("access-denied", "upstream_refused"),
];

pub struct Upstream {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The private key (PEM) of the `private_key_jwt` client `poort-pkjwt`.
    pub client_key_pem: String,
    _dir: tempfile::TempDir,
}

impl Upstream {
    /// The Entra authority (`[[connectors]] authority`).
    pub fn authority(&self) -> String {
        self.base.clone()
    }

    /// The issuer of the Google-shaped provider.
    pub fn google_issuer(&self) -> String {
        format!("{}/google", self.base)
    }
}

/// The binary's upstream; `redirect_uris` are the Poort callbacks it accepts besides any
/// `http://127.0.0.1:<port>/federation/callback` (its clients are native, RFC 8252).
pub fn shared(redirect_uris: &[&str]) -> &'static Upstream {
    static UPSTREAM: OnceLock<Upstream> = OnceLock::new();
    UPSTREAM.get_or_init(|| start(redirect_uris))
}

fn project_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../federation/upstream-op")
}

/// `npm ci` from the committed lock when the pinned oidc-provider is not installed yet.
fn install() -> PathBuf {
    let dir = project_dir();
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("package.json")).unwrap()).unwrap();
    let pinned = manifest["dependencies"]["oidc-provider"].as_str().unwrap().to_string();
    let installed = std::fs::read_to_string(dir.join("node_modules/oidc-provider/package.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|p| p["version"].as_str().map(str::to_string));
    if installed.as_deref() != Some(pinned.as_str()) {
        let output = Command::new("npm")
            .current_dir(&dir)
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .output()
            .expect("npm is installed (scripts/test installs Node.js)");
        assert!(output.status.success(), "npm ci in {}: {}", dir.display(), String::from_utf8_lossy(&output.stderr));
    }
    dir
}

fn start(redirect_uris: &[&str]) -> Upstream {
    let project = install();
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("client-key.pem");
    let mut command = Command::new("node");
    command
        .current_dir(&project)
        .arg("server.mjs")
        .env("UPSTREAM_PORT", "0")
        .env("REDIRECT_URIS", redirect_uris.join(","))
        .env("CLIENT_KEY_FILE", &key_file)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = spawn_for_life(command).expect("node starts");
    let stdout = child.stdout.take().unwrap();
    // The banner is read on a thread of its own (which then keeps draining stdout), so a server
    // that never gets there fails the tests after a bounded wait instead of hanging them.
    let (banner_tx, banner_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let banner = lines.by_ref().map_while(Result::ok).find_map(|line| line.strip_prefix("listening on ").map(|b| b.trim().to_string()));
        let _ = banner_tx.send(banner);
        for _ in lines {}
    });
    let base = match banner_rx.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(Some(base)) => base,
        Ok(None) => panic!("the upstream OP exited before listening: {:?}", child.wait()),
        Err(_) => {
            let _ = child.kill();
            panic!("the upstream OP did not start listening within 60 s");
        }
    };
    // The child is never waited for: it dies with the binary (PR_SET_PDEATHSIG).
    std::mem::forget(child);
    let client_key_pem = std::fs::read_to_string(&key_file).expect("the upstream wrote its client key");
    Upstream { base, client_key_pem, _dir: dir }
}
