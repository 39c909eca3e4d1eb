//! The mailer against its real peers: the outbox folder, and a real SMTP server process
//! (aiosmtpd from PyPI) on loopback — plain, STARTTLS, implicit TLS, and with credentials.

use super::*;
use mail_parser::{MessageParser, MimeHeaders};
use poort_config::{MailSettings, MailTransport, SmtpSecurity, SmtpSettings};
use poort_themes::{Locale, Theme, samples};
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

fn activation_mail(locale: Locale) -> RenderedMail {
    let theme = Theme::load(None, Locale::En).expect("the built-in theme loads");
    theme
        .render_mail("activation", locale, &samples::mail_samples("activation")[0])
        .expect("the activation mail renders")
}

/// Checks a delivered message: headers, both alternatives, the link intact in each.
fn check_message(raw: &[u8], to: &str) {
    let message = MessageParser::default().parse(raw).expect("a parseable message");
    let from = message.from().and_then(|a| a.first()).expect("a From header");
    assert_eq!(from.address(), Some("no-reply@poort.test"));
    assert_eq!(from.name(), Some("Poort"));
    assert_eq!(message.to().and_then(|a| a.first()).and_then(|a| a.address()), Some(to));
    assert_eq!(message.subject(), Some("Activeer uw account"));
    assert!(message.date().is_some(), "a Date header");
    assert!(message.message_id().is_some_and(|id| id.contains('@')), "a Message-ID header");
    assert_eq!(message.header_raw("Auto-Submitted").map(str::trim), Some("auto-generated"));
    let content_type = message.content_type().expect("a Content-Type header");
    assert_eq!((content_type.ctype(), content_type.subtype()), ("multipart", Some("alternative")));
    assert_eq!((message.text_body_count(), message.html_body_count()), (1, 1));
    let text_part = message.text_part(0).unwrap();
    assert_eq!(text_part.content_type().and_then(|c| c.subtype()), Some("plain"));
    let html_part = message.html_part(0).unwrap();
    assert_eq!(html_part.content_type().and_then(|c| c.subtype()), Some("html"));
    let text = message.body_text(0).unwrap();
    assert!(text.contains("Beste Jan Jansen,"), "{text}");
    assert!(text.contains("https://id.example.com/activate?token=abc&lang=nl"), "{text}");
    assert!(text.contains("één keer"), "UTF-8 survives: {text}");
    let html = message.body_html(0).unwrap();
    assert!(html.contains(">Nu activeren</a>"), "{html}");
    assert!(html.contains("https://id.example.com/activate?token&#x3D;abc&amp;lang&#x3D;nl"), "{html}");
}

fn file_settings() -> MailSettings {
    MailSettings { from: "Poort <no-reply@poort.test>".into(), ..MailSettings::default() }
}

#[tokio::test]
async fn the_file_transport_writes_a_multipart_message_to_a_new_private_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("data").join("outbox");
    let mailer = Mailer::new(&file_settings(), outbox.clone()).unwrap();
    assert!(outbox.is_dir(), "the outbox is created with the mailer");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&outbox).unwrap().permissions().mode() & 0o777, 0o700);
    }
    assert_eq!(mailer.describe(), format!("outbox folder {}", outbox.display()));

    let delivery = mailer.send("Jan Jansen <jan.jansen@example.com>", activation_mail(Locale::Nl)).await.unwrap();
    let Delivery::File(path) = delivery else { panic!("expected a file") };
    assert_eq!(path.parent(), Some(outbox.as_path()));
    assert_eq!(path.extension().and_then(|e| e.to_str()), Some("eml"));
    let files: Vec<_> = std::fs::read_dir(&outbox).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(files, vec![path.clone()]);
    check_message(&std::fs::read(&path).unwrap(), "jan.jansen@example.com");

    // The folder is made again if someone removed it while Poort runs.
    std::fs::remove_dir_all(&outbox).unwrap();
    mailer.send("jan.jansen@example.com", activation_mail(Locale::Nl)).await.unwrap();
    assert_eq!(std::fs::read_dir(&outbox).unwrap().count(), 1);
}

#[tokio::test]
async fn bad_addresses_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = file_settings();
    settings.from = "nobody".into();
    assert!(matches!(Mailer::new(&settings, dir.path().into()), Err(MailError::InvalidSender(_))));

    let mailer = Mailer::new(&file_settings(), dir.path().into()).unwrap();
    let error = mailer.send("not an address", activation_mail(Locale::En)).await.unwrap_err();
    assert!(matches!(error, MailError::InvalidRecipient), "{error}");
    assert!(!error.to_string().contains("not an address"));
}

#[test]
fn plain_text_smtp_is_only_for_a_relay_on_loopback() {
    let settings = |host: &str| MailSettings {
        transport: MailTransport::Smtp,
        smtp: SmtpSettings { host: host.into(), port: 25, security: SmtpSecurity::None, ..SmtpSettings::default() },
        ..file_settings()
    };
    let outbox = PathBuf::from("/nonexistent/outbox");
    let error = Mailer::new(&settings("smtp.example.com"), outbox.clone()).unwrap_err();
    assert!(matches!(error, MailError::PlainTextToRemoteRelay(_)), "{error}");
    for host in ["localhost", "127.0.0.1", "127.0.0.53", "::1", "[::1]"] {
        let mailer = Mailer::new(&settings(host), outbox.clone()).unwrap_or_else(|e| panic!("{host}: {e}"));
        assert!(mailer.describe().contains("plain text"));
    }
}

#[test]
fn recipients_are_redacted_from_relay_messages() {
    assert_eq!(
        redact("550 5.1.1 <Jan.Jansen@Example.com>: unknown user jan.jansen@example.com", "jan.jansen@example.com"),
        "550 5.1.1 <…@example.com>: unknown user …@example.com"
    );
    assert_eq!(redact("no address here", "a@b.c"), "no address here");
}

// --- A real SMTP server -----------------------------------------------------------------------

/// An aiosmtpd process on a free loopback port, delivering into a Maildir; killed on drop.
struct SmtpServer {
    child: Child,
    port: u16,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

enum ServerTls {
    None,
    Starttls,
    Implicit,
}

/// A self-signed certificate for 127.0.0.1 and localhost: (certificate PEM file, key PEM file,
/// certificate PEM).
fn certificate(dir: &Path) -> (PathBuf, PathBuf, Vec<u8>) {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert, certified.cert.pem()).unwrap();
    std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
    (cert, key, certified.cert.pem().into_bytes())
}

fn require_aiosmtpd() {
    let available = Command::new("python3")
        .args(["-c", "import aiosmtpd"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        available,
        "the SMTP tests need the aiosmtpd SMTP server (PyPI): run scripts/test, which installs it, \
         or `python3 -m pip install aiosmtpd`"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl SmtpServer {
    /// `python3 -m aiosmtpd -n -l 127.0.0.1:PORT -c aiosmtpd.handlers.Mailbox DIR`, with TLS
    /// options; returns it and the certificate PEM clients must trust.
    fn start(tls: ServerTls) -> (SmtpServer, Option<Vec<u8>>) {
        require_aiosmtpd();
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let maildir = dir.path().join("Maildir");
        let mut command = Command::new("python3");
        command.args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")]);
        let mut trusted = None;
        if !matches!(tls, ServerTls::None) {
            let (cert, key, pem) = certificate(dir.path());
            let (cert_flag, key_flag) = if matches!(tls, ServerTls::Starttls) {
                ("--tlscert", "--tlskey")
            } else {
                ("--smtpscert", "--smtpskey")
            };
            command.arg(cert_flag).arg(&cert).arg(key_flag).arg(&key);
            trusted = Some(pem);
        }
        command.args(["-c", "aiosmtpd.handlers.Mailbox"]).arg(&maildir);
        (SmtpServer::spawn(command, port, maildir, dir), trusted)
    }

    /// An aiosmtpd server that requires STARTTLS and then AUTH as `poort` / `s3cret-pass`.
    fn start_with_credentials() -> (SmtpServer, Vec<u8>) {
        require_aiosmtpd();
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let maildir = dir.path().join("Maildir");
        let (cert, key, pem) = certificate(dir.path());
        let script = r#"
import ssl, sys, time
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import AuthResult, LoginPassword

def authenticate(server, session, envelope, mechanism, data):
    # handled=False: aiosmtpd answers a failure with 535 itself.
    return AuthResult(success=isinstance(data, LoginPassword)
                      and data.login == b"poort" and data.password == b"s3cret-pass", handled=False)

port, maildir, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
controller = Controller(Mailbox(maildir), hostname="127.0.0.1", port=port, tls_context=context,
                        require_starttls=True, authenticator=authenticate, auth_required=True)
controller.start()
while True:
    time.sleep(3600)
"#;
        let mut command = Command::new("python3");
        command.args(["-c", script, &port.to_string()]).arg(&maildir).arg(&cert).arg(&key);
        (SmtpServer::spawn(command, port, maildir, dir), pem)
    }

    fn spawn(mut command: Command, port: u16, maildir: PathBuf, dir: tempfile::TempDir) -> SmtpServer {
        let child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("python3 starts");
        let mut server = SmtpServer { child, port, maildir, _dir: dir };
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = server.child.try_wait() {
                let mut stderr = String::new();
                server.child.stderr.take().map(|mut e| e.read_to_string(&mut stderr));
                panic!("the SMTP server exited ({status}): {stderr}");
            }
            assert!(Instant::now() < deadline, "the SMTP server did not start listening on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// The messages delivered so far (Maildir `new/`), oldest first.
    fn delivered(&self) -> Vec<Vec<u8>> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else { return Vec::new() };
        let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        files.sort_by_key(|path| std::fs::metadata(path).and_then(|m| m.modified()).ok());
        files.iter().map(|path| std::fs::read(path).unwrap()).collect()
    }

    fn settings(&self, security: SmtpSecurity) -> MailSettings {
        MailSettings {
            transport: MailTransport::Smtp,
            smtp: SmtpSettings { host: "127.0.0.1".into(), port: self.port, security, ..SmtpSettings::default() },
            ..file_settings()
        }
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn send_and_read(server: &SmtpServer, mailer: &Mailer) -> Vec<u8> {
    let delivery = mailer.send("Jan Jansen <jan.jansen@example.com>", activation_mail(Locale::Nl)).await;
    assert_eq!(delivery.unwrap_or_else(|e| panic!("{e}")), Delivery::Smtp);
    let delivered = server.delivered();
    assert_eq!(delivered.len(), 1, "one message in the mailbox");
    delivered.into_iter().next().unwrap()
}

#[tokio::test]
async fn smtp_delivers_to_a_plain_relay_on_loopback() {
    crate::cli::install_crypto_provider();
    let (server, _) = SmtpServer::start(ServerTls::None);
    let mailer = Mailer::new(&server.settings(SmtpSecurity::None), PathBuf::from("/nonexistent")).unwrap();
    assert_eq!(mailer.describe(), format!("SMTP relay 127.0.0.1:{} (plain text)", server.port));
    let raw = send_and_read(&server, &mailer).await;
    check_message(&raw, "jan.jansen@example.com");
    // The envelope matches the headers.
    let text = String::from_utf8_lossy(&raw);
    assert!(text.contains("X-MailFrom: no-reply@poort.test"), "{text}");
    assert!(text.contains("X-RcptTo: jan.jansen@example.com"), "{text}");
}

#[tokio::test]
async fn smtp_delivers_with_starttls() {
    crate::cli::install_crypto_provider();
    let (server, trusted) = SmtpServer::start(ServerTls::Starttls);
    let settings = server.settings(SmtpSecurity::Starttls);
    // aiosmtpd refuses MAIL FROM before STARTTLS, so a delivery proves the upgrade happened.
    let mailer = Mailer::build(&settings, PathBuf::new(), trusted.as_deref()).unwrap();
    check_message(&send_and_read(&server, &mailer).await, "jan.jansen@example.com");

    // Without trusting the relay's certificate, nothing is sent.
    let untrusting = Mailer::new(&settings, PathBuf::new()).unwrap();
    let error = untrusting.send("jan.jansen@example.com", activation_mail(Locale::En)).await.unwrap_err();
    assert!(matches!(error, MailError::Smtp { failure: SmtpFailure::Tls | SmtpFailure::Connection, .. }), "{error:?}");
    assert_eq!(server.delivered().len(), 1);
}

#[tokio::test]
async fn smtp_delivers_with_implicit_tls() {
    crate::cli::install_crypto_provider();
    let (server, trusted) = SmtpServer::start(ServerTls::Implicit);
    let mailer = Mailer::build(&server.settings(SmtpSecurity::Tls), PathBuf::new(), trusted.as_deref()).unwrap();
    assert!(mailer.describe().ends_with("(TLS)"));
    check_message(&send_and_read(&server, &mailer).await, "jan.jansen@example.com");
}

#[tokio::test]
async fn smtp_signs_in_with_the_configured_credentials() {
    crate::cli::install_crypto_provider();
    let (server, trusted) = SmtpServer::start_with_credentials();
    let mut settings = server.settings(SmtpSecurity::Starttls);
    settings.smtp.username = Some("poort".into());
    settings.smtp.password = Some("s3cret-pass".into());
    let mailer = Mailer::build(&settings, PathBuf::new(), Some(&trusted)).unwrap();
    assert!(!format!("{mailer:?}").contains("s3cret-pass"));
    check_message(&send_and_read(&server, &mailer).await, "jan.jansen@example.com");

    settings.smtp.password = Some("wrong-password".into());
    let refused = Mailer::build(&settings, PathBuf::new(), Some(&trusted)).unwrap();
    let error = refused.send("jan.jansen@example.com", activation_mail(Locale::En)).await.unwrap_err();
    assert!(matches!(error, MailError::Smtp { failure: SmtpFailure::Permanent, .. }), "{error:?}");
    assert!(!error.is_transient());
    let text = error.to_string();
    assert!(
        !text.contains("wrong-password") && !text.contains("jan.jansen@") && text.contains("example.com"),
        "{text}"
    );
    assert_eq!(server.delivered().len(), 1);
}

#[tokio::test]
async fn an_unreachable_relay_is_a_transient_error() {
    crate::cli::install_crypto_provider();
    let port = free_port();
    let settings = MailSettings {
        transport: MailTransport::Smtp,
        smtp: SmtpSettings { host: "127.0.0.1".into(), port, security: SmtpSecurity::None, ..SmtpSettings::default() },
        ..file_settings()
    };
    let mailer = Mailer::new(&settings, PathBuf::new()).unwrap();
    let error = mailer.send("jan.jansen@example.com", activation_mail(Locale::En)).await.unwrap_err();
    assert!(matches!(error, MailError::Smtp { failure: SmtpFailure::Connection, .. }), "{error:?}");
    assert!(error.is_transient());
    let text = error.to_string();
    assert!(text.contains("activation mail") && text.contains(&format!("127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("token="), "{text}");
}
