//! The browser suite's fixtures, shared by every test of the `browser` test binary:
//!
//! - one `chromedriver --port=<free>` (Debian's chromium-driver), with one Chromium session per
//!   test, each in its own fresh profile folder;
//! - one aiosmtpd SMTP server on loopback delivering into a Maildir, which the tests read the
//!   activation and reset links from;
//! - one real `poort serve` whose `[mail]` transport is SMTP to that server (`security = "none"`,
//!   loopback), with three static clients: `crm` (asks for consent), `settings` (first party,
//!   requires the role `user level 0` and, when the build knows `requires_terms`, the terms of
//!   service, published deployment-wide with `poort terms publish` before the server starts),
//!   and `rp` (first party, with a front-channel logout URI and a post-logout URI);
//! - one relying party served by the test binary itself (`relying_party.rs`), where `rp`'s URIs
//!   point: it records what the browser asks of it and serves the session-check page.
//!
//! The processes are started from a thread that lives as long as the test binary, with
//! `PR_SET_PDEATHSIG`, so they die with it even when it is killed; a normal exit also stops them
//! (`atexit`) and keeps Poort's log in the artifacts folder. Every test screenshots each page to
//! `test-artifacts/browser/<test>/<NN>-<step>.png` (gitignored).

#![allow(dead_code)]

#[path = "relying_party.rs"]
mod relying_party;

pub use relying_party::RelyingParty;

use fantoccini::elements::Element;
use fantoccini::{ClientBuilder, Locator};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a page, element, URL or mail may take to appear. Generous for two shared cores
/// running two Chromiums, Poort and Argon2; the waits poll, so a fast run never waits this long.
pub const WAIT: Duration = Duration::from_secs(20);
const POLL: Duration = Duration::from_millis(50);

/// Chromium flags that work on this machine (see .library/env/machines/rust-svc.md): without
/// the background-networking ones Chromium keeps trying to reach Google through a closed network.
const CHROMIUM_FLAGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--window-size=1000,1100",
];

pub const CRM: Client =
    Client { id: "crm", secret: "browser-crm-secret-000000000001", name: "SuperOffice CRM", path: "/cb", live: false };
pub const SETTINGS: Client = Client {
    id: "settings",
    secret: "browser-settings-secret-0000000002",
    name: "Settings and maintenance",
    path: "/settings/cb",
    live: false,
};
/// The client on the live relying party: front-channel logout at `/fc`, post-logout at `/bye`.
pub const RP: Client =
    Client { id: "rp", secret: "browser-rp-secret-000000000000003", name: "Test relying party", path: "/cb", live: true };

/// The role the `settings` client requires (the seed's "Gebruikersniveau 0").
pub const SETTINGS_ROLE: &str = "user level 0";

#[derive(Debug, Clone, Copy)]
pub struct Client {
    pub id: &'static str,
    pub secret: &'static str,
    pub name: &'static str,
    /// The path of its redirect URI on the closed relying-party port, or on the live relying
    /// party when `live`.
    pub path: &'static str,
    pub live: bool,
}

// --- The shared processes ------------------------------------------------------------------------

pub struct Suite {
    /// The issuer and base URL of the running Poort: `http://127.0.0.1:<port>`.
    pub base_url: String,
    /// `http://127.0.0.1:<closed port>`: where the clients' redirect URIs point. Nothing listens
    /// there; Chromium shows its error page and the test reads the URL.
    pub rp_origin: String,
    /// The relying party the test binary serves (the `rp` client's URIs).
    pub relying_party: RelyingParty,
    /// The folder of `poort.toml` (the CLI runs here against the same database).
    pub dir: PathBuf,
    /// Why the `settings` client does not require terms in this build (the configuration check's
    /// answer to `requires_terms = true`, or `poort terms publish`'s), or `None` when it does.
    pub terms_unsupported: Option<String>,
    maildir: PathBuf,
    log_file: PathBuf,
    chromedriver_url: String,
    chromedriver_port: u16,
    chromium: PathBuf,
}

struct Processes {
    children: Vec<Child>,
    dir: Option<tempfile::TempDir>,
    log_file: PathBuf,
}

static SUITE: OnceLock<Result<Suite, String>> = OnceLock::new();
static PROCESSES: Mutex<Option<Processes>> = Mutex::new(None);

/// The shared fixtures, started by the first test that asks. A missing Chromium or ChromeDriver
/// fails every test with what to do about it.
pub fn suite() -> &'static Suite {
    let result = SUITE.get_or_init(|| {
        // Started from a thread that never ends, so PR_SET_PDEATHSIG fires only when the whole
        // test binary goes (it fires when the *thread* that forked the child exits).
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("browser-fixtures".into())
            .spawn(move || {
                let _ = tx.send(Suite::start());
                loop {
                    std::thread::park();
                }
            })
            .expect("the fixture thread starts");
        rx.recv().unwrap_or_else(|_| Err("the fixture thread died while starting the fixtures".into()))
    });
    match result {
        Ok(suite) => suite,
        Err(message) => panic!("{message}"),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(program)).find(|candidate| candidate.is_file())
}

#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    unsafe extern "C" {
        fn prctl(option: std::ffi::c_int, ...) -> std::ffi::c_int;
    }
    const PR_SET_PDEATHSIG: std::ffi::c_int = 1;
    const SIGTERM: std::ffi::c_ulong = 15;
    // SAFETY: prctl is async-signal-safe; nothing is allocated between fork and exec.
    unsafe {
        command.pre_exec(|| {
            prctl(PR_SET_PDEATHSIG, SIGTERM);
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}

extern "C" fn stop_processes() {
    let Ok(mut guard) = PROCESSES.lock() else { return };
    let Some(mut processes) = guard.take() else { return };
    for child in processes.children.iter_mut().rev() {
        let _ = child.kill();
        let _ = child.wait();
    }
    // Keep Poort's log next to the screenshots: it explains a failed step.
    let artifacts = artifacts_root();
    if std::fs::create_dir_all(&artifacts).is_ok() {
        let _ = std::fs::copy(&processes.log_file, artifacts.join("poort.log"));
    }
    drop(processes.dir.take());
}

fn register_child(child: Child) {
    PROCESSES.lock().unwrap().as_mut().expect("processes registered").children.push(child);
}

/// `test-artifacts/browser` at the workspace root.
pub fn artifacts_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join("test-artifacts").join("browser")
}

fn poort_cli() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_poort"));
    command.env_remove("POORT_CONFIG").env("RUST_LOG", "warn");
    for (key, _) in std::env::vars() {
        if key.starts_with("POORT__") {
            command.env_remove(key);
        }
    }
    command
}

impl Suite {
    fn start() -> Result<Suite, String> {
        let missing = |what: &str| {
            format!(
                "the browser tests need {what}; run scripts/test (it installs the Debian packages chromium and \
                 chromium-driver, and aiosmtpd), or `apt-get install -y chromium chromium-driver`"
            )
        };
        let chromium = which("chromium").ok_or_else(|| missing("Chromium (`chromium` on PATH)"))?;
        let chromedriver = which("chromedriver").ok_or_else(|| missing("ChromeDriver (`chromedriver` on PATH)"))?;
        let aiosmtpd = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !aiosmtpd {
            return Err(missing("the aiosmtpd SMTP server (PyPI)"));
        }

        let dir = tempfile::Builder::new().prefix("poort-browser.").tempdir().map_err(|e| e.to_string())?;
        let log_file = dir.path().join("poort.log");
        *PROCESSES.lock().unwrap() = Some(Processes { children: Vec::new(), dir: None, log_file: log_file.clone() });
        unsafe extern "C" {
            fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
        }
        // SAFETY: registers a plain function; it runs once, at exit.
        unsafe { atexit(stop_processes) };

        // ChromeDriver.
        let chromedriver_port = free_port();
        let mut command = Command::new(&chromedriver);
        command
            .arg(format!("--port={chromedriver_port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        die_with_parent(&mut command);
        let child = command.spawn().map_err(|e| format!("cannot start {}: {e}", chromedriver.display()))?;
        register_child(child);
        wait_for_port(chromedriver_port, "chromedriver")?;

        // The SMTP server.
        let maildir = dir.path().join("Maildir");
        let smtp_port = free_port();
        let mut command = Command::new("python3");
        command
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{smtp_port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        die_with_parent(&mut command);
        register_child(command.spawn().map_err(|e| format!("cannot start aiosmtpd: {e}"))?);
        wait_for_port(smtp_port, "aiosmtpd")?;

        // Poort: a fixed port in the configuration, so the CLI (which sends activation mails)
        // builds links to the same issuer as the server.
        let rp_origin = format!("http://127.0.0.1:{}", free_port());
        let relying_party = RelyingParty::start().map_err(|e| format!("cannot start the test relying party: {e}"))?;
        // Does this build know `requires_terms`? Then publish the terms the `settings` client's
        // users accept (once: the database keeps them across a restart on another port).
        std::fs::write(dir.path().join("poort.toml"), config(dir.path(), 0, smtp_port, &rp_origin, &relying_party.origin, true))
            .map_err(|e| e.to_string())?;
        let check = poort_cli()
            .current_dir(dir.path())
            .args(["--config", "poort.toml", "check-config"])
            .output()
            .map_err(|e| e.to_string())?;
        let terms_unsupported = if check.status.success() {
            publish_terms(dir.path())
        } else {
            Some(format!(
                "`poort check-config` refused `requires_terms = true` in a [[clients]] entry: {}",
                String::from_utf8_lossy(&check.stderr).trim()
            ))
        };
        let mut last_error = String::new();
        for _ in 0..3 {
            let port = free_port();
            let base_url = format!("http://127.0.0.1:{port}");
            let config =
                config(dir.path(), port, smtp_port, &rp_origin, &relying_party.origin, terms_unsupported.is_none());
            std::fs::write(dir.path().join("poort.toml"), config).map_err(|e| e.to_string())?;
            let mut command = poort_cli();
            command
                .current_dir(dir.path())
                .env("POORT_CONFIG", "poort.toml")
                .env("RUST_LOG", "info")
                .env("NO_COLOR", "1")
                .arg("serve")
                .stdout(Stdio::piped())
                .stderr(std::fs::File::create(&log_file).map_err(|e| e.to_string())?);
            die_with_parent(&mut command);
            let mut child = command.spawn().map_err(|e| format!("cannot start poort: {e}"))?;
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
                std::thread::spawn(move || for _ in lines {});
                register_child(child);
                let suite = Suite {
                    base_url,
                    rp_origin,
                    relying_party,
                    dir: dir.path().to_path_buf(),
                    terms_unsupported,
                    maildir,
                    log_file,
                    chromedriver_url: format!("http://127.0.0.1:{chromedriver_port}"),
                    chromedriver_port,
                    chromium,
                };
                PROCESSES.lock().unwrap().as_mut().unwrap().dir = Some(dir);
                let _ = std::fs::remove_file(artifacts_root().join("poort.log"));
                return Ok(suite);
            }
            let _ = child.kill();
            let _ = child.wait();
            last_error = std::fs::read_to_string(&log_file).unwrap_or_default();
            if !last_error.contains("cannot listen") {
                break;
            }
        }
        Err(format!("poort serve did not start: {last_error}"))
    }

    /// The last lines of Poort's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log_file).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(25)..].join("\n")
    }

    pub fn redirect_uri(&self, client: Client) -> String {
        let origin = if client.live { &self.relying_party.origin } else { &self.rp_origin };
        format!("{origin}{}", client.path)
    }

    /// `poort ARGS` against the suite's configuration and database: (success, stdout, stderr).
    pub fn cli(&self, args: &[&str], stdin: Option<&str>) -> (bool, String, String) {
        // One at a time: concurrent `poort` commands on one data folder race in its
        // writability probe (`.poort-write-check`, created and removed by each).
        static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut command = poort_cli();
        command
            .current_dir(&self.dir)
            .env("POORT_CONFIG", "poort.toml")
            .args(args)
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("the poort CLI starts");
        if let Some(input) = stdin {
            child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        }
        let output = child.wait_with_output().unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    /// An active user with a password (`poort user add … --password-stdin`).
    pub fn add_user(&self, email: &str, username: Option<&str>, name: &str, password: &str, roles: &[&str]) {
        let mut args = vec!["user", "add", "--email", email, "--name", name, "--password-stdin"];
        if let Some(username) = username {
            args.extend(["--username", username]);
        }
        for role in roles {
            args.extend(["--role", role]);
        }
        let (ok, _, stderr) = self.cli(&args, Some(&format!("{password}\n")));
        assert!(ok, "poort user add {email}: {stderr}");
    }

    /// The newest message delivered to `to` whose text part holds a link to `path` on this
    /// Poort, waiting for it to arrive.
    pub fn wait_for_mail(&self, to: &str, path: &str) -> Mail {
        let deadline = Instant::now() + WAIT;
        let prefix = format!("{}{}", self.base_url, path);
        loop {
            let mut found: Option<(std::time::SystemTime, Mail)> = None;
            for folder in ["new", "cur"] {
                let Ok(entries) = std::fs::read_dir(self.maildir.join(folder)) else { continue };
                for entry in entries.flatten() {
                    let Ok(raw) = std::fs::read(entry.path()) else { continue };
                    let Some(message) = mail_parser::MessageParser::default().parse(&raw) else { continue };
                    let addressed = message
                        .to()
                        .and_then(|list| list.first())
                        .and_then(|address| address.address())
                        .is_some_and(|address| address.eq_ignore_ascii_case(to));
                    if !addressed {
                        continue;
                    }
                    let text = message.body_text(0).map(|t| t.into_owned()).unwrap_or_default();
                    let html = message.body_html(0).map(|t| t.into_owned()).unwrap_or_default();
                    let Some(link) = find_link(&text, &prefix) else { continue };
                    let modified = entry.metadata().and_then(|m| m.modified()).unwrap_or(std::time::UNIX_EPOCH);
                    if found.as_ref().is_none_or(|(at, _)| modified >= *at) {
                        let subject = message.subject().unwrap_or("").to_string();
                        found = Some((modified, Mail { subject, text, html, link }));
                    }
                }
            }
            if let Some((_, mail)) = found {
                return mail;
            }
            assert!(
                Instant::now() < deadline,
                "no mail to {to} with a link to {prefix}… arrived over SMTP within {WAIT:?}\n--- poort log ---\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A delivered mail: its subject, its text and HTML parts, and the link to the page.
pub struct Mail {
    pub subject: String,
    pub text: String,
    pub html: String,
    pub link: String,
}

fn find_link(text: &str, prefix: &str) -> Option<String> {
    let start = text.find(prefix)?;
    let rest = &text[start..];
    let end = rest.find(|c: char| c.is_whitespace() || matches!(c, '"' | '<' | '>' | ')')).unwrap_or(rest.len());
    Some(rest[..end].to_string())
}

fn wait_for_port(port: u16, what: &str) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err(format!("{what} did not start listening on 127.0.0.1:{port}"));
        }
        std::thread::sleep(POLL);
    }
    Ok(())
}

/// The deployment-wide terms of service the `settings` client's users accept: `None` when
/// published, or why not.
fn publish_terms(dir: &Path) -> Option<String> {
    if let Err(e) = std::fs::write(dir.join("terms.txt"), TERMS_TEXT) {
        return Some(format!("cannot write terms.txt: {e}"));
    }
    let output = match poort_cli()
        .current_dir(dir)
        .args(["--config", "poort.toml", "terms", "publish", "--version", TERMS_VERSION, "--file", "terms.txt"])
        .output()
    {
        Ok(output) => output,
        Err(e) => return Some(format!("cannot run `poort terms publish`: {e}")),
    };
    if output.status.success() {
        None
    } else {
        Some(format!("`poort terms publish` failed: {}", String::from_utf8_lossy(&output.stderr).trim()))
    }
}

pub const TERMS_VERSION: &str = "2026-11";
pub const TERMS_TEXT: &str = "These are the terms of service of the browser tests.\n\n\
    Accept them to use Settings and maintenance.\n";

/// More configuration for the suite's Poort (a test binary's `[[connectors]]`), set before the
/// suite first starts.
pub static EXTRA_CONFIG: OnceLock<String> = OnceLock::new();

/// The configuration of the suite's Poort.
fn config(dir: &Path, port: u16, smtp_port: u16, rp_origin: &str, live_rp: &str, requires_terms: bool) -> String {
    let data_dir = dir.join("data");
    let terms = if requires_terms { "requires_terms = true\n" } else { "" };
    let extra = EXTRA_CONFIG.get().map_or("", String::as_str);
    format!(
        r#"[server]
listen = "127.0.0.1:{port}"

[storage]
data_dir = "{data_dir}"

[mail]
transport = "smtp"
from = "Poort <no-reply@poort.test>"

[mail.smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"

[themes]
default_locale = "en"

[[clients]]
client_id = "{crm}"
client_secret = "{crm_secret}"
client_name = "{crm_name}"
redirect_uris = ["{rp_origin}{crm_path}"]

[[clients]]
client_id = "{settings}"
client_secret = "{settings_secret}"
client_name = "{settings_name}"
redirect_uris = ["{rp_origin}{settings_path}"]
first_party = true
required_roles = ["{role}"]
{terms}
[[clients]]
client_id = "{rp}"
client_secret = "{rp_secret}"
client_name = "{rp_name}"
redirect_uris = ["{live_rp}{rp_path}"]
post_logout_redirect_uris = ["{live_rp}/bye"]
frontchannel_logout_uri = "{live_rp}/fc"
first_party = true
{extra}"#,
        data_dir = data_dir.display(),
        crm = CRM.id,
        crm_secret = CRM.secret,
        crm_name = CRM.name,
        crm_path = CRM.path,
        settings = SETTINGS.id,
        settings_secret = SETTINGS.secret,
        settings_name = SETTINGS.name,
        settings_path = SETTINGS.path,
        role = SETTINGS_ROLE,
        rp = RP.id,
        rp_secret = RP.secret,
        rp_name = RP.name,
        rp_path = RP.path,
    )
}

// --- One browser per test ------------------------------------------------------------------------

/// A Chromium session in a fresh profile, driven through the shared ChromeDriver. Closed by
/// [`Browser::close`]; when a test fails first, dropping it ends the session all the same.
pub struct Browser {
    client: Option<fantoccini::Client>,
    session_id: String,
    chromedriver_port: u16,
    artifacts: PathBuf,
    step: u32,
    _profile: tempfile::TempDir,
}

pub struct BrowserOptions {
    /// Chromium's `--lang` and its Accept-Language list.
    pub lang: &'static str,
    pub accept_languages: &'static str,
}

pub const ENGLISH: BrowserOptions = BrowserOptions { lang: "en-US", accept_languages: "en-US,en" };
pub const DUTCH: BrowserOptions = BrowserOptions { lang: "nl", accept_languages: "nl-NL,nl" };

impl Browser {
    /// A browser in English (`--lang=en-US`), screenshots under `test-artifacts/browser/<test>/`.
    pub async fn open(test: &str) -> Browser {
        Browser::open_with(test, ENGLISH).await
    }

    pub async fn open_with(test: &str, options: BrowserOptions) -> Browser {
        let suite = suite();
        let artifacts = artifacts_root().join(test);
        let _ = std::fs::remove_dir_all(&artifacts);
        std::fs::create_dir_all(&artifacts).unwrap();
        let profile = tempfile::Builder::new().prefix("poort-chromium.").tempdir().unwrap();
        let mut args: Vec<String> = CHROMIUM_FLAGS.iter().map(|f| f.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.push(format!("--lang={}", options.lang));
        let capabilities = json!({
            "browserName": "chrome",
            "pageLoadStrategy": "normal",
            "goog:chromeOptions": {
                "binary": suite.chromium,
                "args": args,
                "prefs": {
                    "intl": { "accept_languages": options.accept_languages },
                    "credentials_enable_service": false,
                    "profile": { "password_manager_enabled": false },
                },
            },
        });
        let Value::Object(capabilities) = capabilities else { unreachable!() };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&suite.chromedriver_url)
            .await
            .unwrap_or_else(|e| panic!("ChromeDriver did not start Chromium: {e}"));
        let session_id = client.session_id().await.ok().flatten().unwrap_or_default();
        Browser {
            client: Some(client),
            session_id,
            chromedriver_port: suite.chromedriver_port,
            artifacts,
            step: 0,
            _profile: profile,
        }
    }

    fn client(&self) -> &fantoccini::Client {
        self.client.as_ref().expect("the browser is open")
    }

    /// Ends the Chromium session.
    pub async fn close(mut self) {
        if let Some(client) = self.client.take() {
            let _ = client.close().await;
        }
    }

    /// Opens `url`. A page that ends at the relying party's closed port is no failure: the
    /// test reads the URL Chromium got to.
    pub async fn goto(&self, url: &str) {
        if let Err(e) = self.client().goto(url).await
            && !e.to_string().contains("net::ERR_CONNECTION_REFUSED")
        {
            panic!("cannot open {url}: {e}");
        }
    }

    /// Opens a new tab and makes it the current one; returns the handle of the tab it left.
    pub async fn open_tab(&self) -> fantoccini::wd::WindowHandle {
        let client = self.client();
        let left = client.window().await.expect("the current window");
        let tab = client.new_window(true).await.expect("a new tab");
        client.switch_to_window(tab.handle).await.expect("switching to the new tab");
        left
    }

    /// Closes the current tab and goes back to `tab`.
    pub async fn close_tab_for(&self, tab: fantoccini::wd::WindowHandle) {
        let client = self.client();
        client.close_window().await.expect("closing the tab");
        client.switch_to_window(tab).await.expect("switching back");
    }

    /// Saves a screenshot of the page as `NN-step.png`.
    pub async fn snap(&mut self, step: &str) {
        self.step += 1;
        let path = self.artifacts.join(format!("{:02}-{step}.png", self.step));
        match self.client().screenshot().await {
            Ok(png) => std::fs::write(&path, png).unwrap(),
            Err(e) => eprintln!("no screenshot {}: {e}", path.display()),
        }
    }

    pub async fn url(&self) -> url::Url {
        self.client().current_url().await.expect("the current URL")
    }

    /// The visible text of the page.
    pub async fn page_text(&self) -> String {
        match self.client().find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Fails the test with where the browser is and what it shows, after a last screenshot.
    pub async fn fail(&mut self, message: &str) -> ! {
        self.snap("failure").await;
        let url = self.client().current_url().await.map(|u| u.to_string()).unwrap_or_default();
        let text = self.page_text().await;
        let text: String = text.chars().take(1500).collect();
        panic!("{message}\n--- browser at {url} ---\n{text}\n--- poort log (last lines) ---\n{}", suite().log_tail());
    }

    /// The element `css`, waiting for it to be there.
    pub async fn el(&mut self, css: &str) -> Element {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(element) = self.client().find(Locator::Css(css)).await {
                return element;
            }
            if Instant::now() > deadline {
                self.fail(&format!("no element `{css}` on the page within {WAIT:?}")).await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The element `css` if it is on the page now.
    pub async fn find_now(&self, css: &str) -> Option<Element> {
        self.client().find(Locator::Css(css)).await.ok()
    }

    /// Waits for the page that has `css` (a form action, a field id), naming `what` on failure.
    pub async fn expect_page(&mut self, css: &str, what: &str) {
        let deadline = Instant::now() + WAIT;
        while self.client().find(Locator::Css(css)).await.is_err() {
            if Instant::now() > deadline {
                self.fail(&format!("expected {what} (an element `{css}`) within {WAIT:?}")).await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Types `value` into the empty field `css`, as a person would (key by key).
    pub async fn fill(&mut self, css: &str, value: &str) {
        let field = self.el(css).await;
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap_or_else(|e| panic!("cannot type into `{css}`: {e}"));
    }

    pub async fn click(&mut self, css: &str) {
        let element = self.el(css).await;
        if let Err(e) = element.click().await {
            self.fail(&format!("cannot click `{css}`: {e}")).await;
        }
    }

    /// Clicks `css` (a submit button, a link) and waits until the next document has replaced
    /// this one.
    pub async fn submit(&mut self, css: &str) {
        const MARK: &str = "document.documentElement.setAttribute('data-poort-test-old', '1'); return true;";
        let _ = self.client().execute(MARK, vec![]).await;
        self.click(css).await;
        let deadline = Instant::now() + WAIT;
        loop {
            let old = self
                .client()
                .execute("return document.documentElement.getAttribute('data-poort-test-old');", vec![])
                .await;
            if !matches!(old, Ok(Value::String(ref mark)) if mark == "1") {
                return;
            }
            if Instant::now() > deadline {
                self.fail(&format!("clicking `{css}` led to no new page within {WAIT:?}")).await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The visible text of `css`.
    pub async fn text_of(&mut self, css: &str) -> String {
        self.el(css).await.text().await.unwrap_or_default()
    }

    /// Waits until the browser's URL satisfies `ready` (what it is, for the failure message).
    pub async fn wait_for_url(&mut self, what: &str, ready: impl Fn(&url::Url) -> bool) -> url::Url {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(url) = self.client().current_url().await
                && ready(&url)
            {
                return url;
            }
            if Instant::now() > deadline {
                self.fail(&format!("the browser did not get to {what} within {WAIT:?}")).await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Waits until `script` (a JavaScript expression returning a boolean) is true.
    pub async fn wait_for_script(&mut self, what: &str, script: &str) {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(Value::Bool(true)) = self.client().execute(&format!("return !!({script});"), vec![]).await {
                return;
            }
            if Instant::now() > deadline {
                self.fail(&format!("{what}: `{script}` did not become true within {WAIT:?}")).await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// The value of a JavaScript expression.
    pub async fn eval(&self, script: &str) -> Value {
        self.client().execute(&format!("return ({script});"), vec![]).await.unwrap_or(Value::Null)
    }
}

impl Drop for Browser {
    /// A test that failed before `close` still ends its Chromium: a plain DELETE of the
    /// WebDriver session (the test's async runtime may be gone already).
    fn drop(&mut self) {
        if self.client.is_none() || self.session_id.is_empty() {
            return;
        }
        self.client = None;
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.chromedriver_port)) {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session_id, self.chromedriver_port
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                let mut answer = Vec::new();
                let _ = stream.read_to_end(&mut answer);
            }
        }
    }
}
