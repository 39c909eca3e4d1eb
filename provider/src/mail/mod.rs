//! Outgoing mail (activation and password-reset links) with lettre.
//!
//! A [`Mailer`] is built once from the `[mail]` settings. The zero-setup `file` transport writes
//! each mail as an `.eml` file to the outbox folder and logs where; the `smtp` transport delivers
//! through a relay with STARTTLS, implicit TLS, or plain text to a relay on loopback, signing in
//! when credentials are configured. Mails come from `poort-themes` already rendered
//! ([`RenderedMail`]: subject, text and HTML) and leave as `multipart/alternative`.
//!
//! The bodies carry single-use links, so they are never logged, and neither is the SMTP
//! password: a log line names the kind of mail and the recipient's domain only.

use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use poort_config::{MailSettings, MailTransport, Settings, SmtpSecurity, is_loopback_host};
use poort_themes::RenderedMail;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[cfg(test)]
mod tests;

/// How long one SMTP exchange may take before it counts as failed.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a mail could not be sent. The message names no body, link or password, and the recipient
/// only by domain.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail.from `{0}` is not a mail address such as \"Poort <no-reply@example.com>\"")]
    InvalidSender(String),
    #[error("the recipient is not a mail address")]
    InvalidRecipient,
    #[error("mail.smtp.security = \"none\" sends in plain text and is only allowed to a relay on loopback, not `{0}`")]
    PlainTextToRemoteRelay(String),
    #[error("cannot set up SMTP to {host}: {message}")]
    Setup { host: String, message: String },
    #[error("cannot build the {mail} mail: {message}")]
    Build { mail: String, message: String },
    #[error("cannot create the mail outbox {path}: {source}")]
    Outbox { path: PathBuf, source: std::io::Error },
    #[error("cannot write the {mail} mail to the outbox {path}: {message}")]
    File { mail: String, path: PathBuf, message: String },
    #[error(
        "the {mail} mail to a recipient at {recipient_domain} was not delivered through {relay} ({failure}): {message}"
    )]
    Smtp { mail: String, recipient_domain: String, relay: String, failure: SmtpFailure, message: String },
}

impl MailError {
    /// Whether trying again later may succeed (the relay was unreachable or deferred the mail).
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            MailError::Smtp { failure: SmtpFailure::Connection | SmtpFailure::Timeout | SmtpFailure::Transient, .. }
        )
    }
}

/// What went wrong talking to the SMTP relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpFailure {
    /// The relay could not be reached, or the connection broke.
    Connection,
    Timeout,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// A 4xx answer: the relay may accept the mail later.
    Transient,
    /// A 5xx answer: refused (bad credentials, unknown recipient, policy).
    Permanent,
    /// The relay's answers did not make sense.
    Protocol,
}

impl std::fmt::Display for SmtpFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SmtpFailure::Connection => "connection failed",
            SmtpFailure::Timeout => "timed out",
            SmtpFailure::Tls => "TLS failed",
            SmtpFailure::Transient => "deferred",
            SmtpFailure::Permanent => "refused",
            SmtpFailure::Protocol => "protocol error",
        })
    }
}

/// Where a mail went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Written to this `.eml` file in the outbox.
    File(PathBuf),
    /// Accepted by the SMTP relay.
    Smtp,
}

/// Sends rendered mails through the configured transport. Cheap to share behind an `Arc`; each
/// SMTP delivery opens its own connection (mails are few), so a `Mailer` can be built and dropped
/// anywhere, inside an async runtime or not.
pub struct Mailer {
    from: Mailbox,
    transport: Transport,
}

enum Transport {
    File { dir: PathBuf, transport: AsyncFileTransport<Tokio1Executor> },
    Smtp { relay: String, transport: AsyncSmtpTransport<Tokio1Executor> },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer").field("from", &self.from.to_string()).field("transport", &self.describe()).finish()
    }
}

impl Mailer {
    /// The mailer the settings describe (the outbox defaults to `<data_dir>/outbox`).
    pub fn from_settings(settings: &Settings) -> Result<Mailer, MailError> {
        Mailer::new(&settings.mail, settings.outbox_dir())
    }

    /// A mailer for `mail`, writing to `outbox_dir` when the transport is `file` (the folder is
    /// created now when missing, readable only by Poort's user: the mails hold sign-in links).
    pub fn new(mail: &MailSettings, outbox_dir: PathBuf) -> Result<Mailer, MailError> {
        Mailer::build(mail, outbox_dir, None)
    }

    /// As [`Mailer::new`], trusting one more root certificate (PEM) for the relay's TLS: tests use
    /// it for a relay with a self-signed certificate.
    fn build(mail: &MailSettings, outbox_dir: PathBuf, extra_root: Option<&[u8]>) -> Result<Mailer, MailError> {
        let from: Mailbox = mail.from.parse().map_err(|_| MailError::InvalidSender(mail.from.clone()))?;
        let transport = match mail.transport {
            MailTransport::File => {
                create_outbox(&outbox_dir)?;
                Transport::File { transport: AsyncFileTransport::new(&outbox_dir), dir: outbox_dir }
            }
            MailTransport::Smtp => smtp_transport(mail, extra_root)?,
        };
        Ok(Mailer { from, transport })
    }

    /// Where mail goes, for the start-up log: the outbox folder or the relay (never credentials).
    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::File { dir, .. } => format!("outbox folder {}", dir.display()),
            Transport::Smtp { relay, .. } => format!("SMTP relay {relay}"),
        }
    }

    /// Sends `mail` to `to` (`jan@example.com` or `Jan Jansen <jan@example.com>`) as
    /// `multipart/alternative` with the text and HTML bodies.
    pub async fn send(&self, to: &str, mail: RenderedMail) -> Result<Delivery, MailError> {
        let recipient: Mailbox = to.parse().map_err(|_| MailError::InvalidRecipient)?;
        let recipient_domain = recipient.email.domain().to_string();
        let address = recipient.email.to_string();
        let kind = mail.name.clone();
        let message = self.message(recipient, mail)?;
        let result = match &self.transport {
            Transport::File { dir, transport } => {
                create_outbox(dir)?;
                match transport.send(message).await {
                    Ok(id) => {
                        let path = dir.join(format!("{id}.eml"));
                        tracing::info!(mail = %kind, %recipient_domain, path = %path.display(), "mail written to the outbox");
                        Ok(Delivery::File(path))
                    }
                    Err(error) => Err(MailError::File {
                        mail: kind.clone(),
                        path: dir.clone(),
                        message: redact(&error.to_string(), &address),
                    }),
                }
            }
            Transport::Smtp { relay, transport } => match transport.send(message).await {
                Ok(_) => {
                    tracing::info!(mail = %kind, %recipient_domain, %relay, "mail sent");
                    Ok(Delivery::Smtp)
                }
                Err(error) => Err(MailError::Smtp {
                    mail: kind.clone(),
                    recipient_domain: recipient_domain.clone(),
                    relay: relay.clone(),
                    failure: smtp_failure(&error),
                    message: redact(&error.to_string(), &address),
                }),
            },
        };
        if let Err(error) = &result {
            tracing::warn!(mail = %kind, %recipient_domain, %error, "mail not sent");
        }
        result
    }

    fn message(&self, to: Mailbox, mail: RenderedMail) -> Result<Message, MailError> {
        let header =
            |name: &'static str, value: &str| HeaderValue::new(HeaderName::new_from_ascii_str(name), value.into());
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject)
            .message_id(Some(format!("<{}@{}>", uuid::Uuid::new_v4(), self.from.email.domain())))
            // A machine wrote this: no vacation replies (RFC 3834, and Exchange's own header).
            .raw_header(header("Auto-Submitted", "auto-generated"))
            .raw_header(header("X-Auto-Response-Suppress", "All"))
            .multipart(MultiPart::alternative_plain_html(mail.text, mail.html))
            .map_err(|error| MailError::Build { mail: mail.name, message: error.to_string() })
    }
}

fn smtp_transport(mail: &MailSettings, extra_root: Option<&[u8]>) -> Result<Transport, MailError> {
    let smtp = &mail.smtp;
    let host = smtp.host.trim();
    let setup_error = |message: String| MailError::Setup { host: host.to_string(), message };
    if smtp.security == SmtpSecurity::None && !is_loopback_host(host) {
        return Err(MailError::PlainTextToRemoteRelay(host.to_string()));
    }
    let mut builder =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host).port(smtp.port).timeout(Some(SMTP_TIMEOUT));
    if smtp.security != SmtpSecurity::None {
        let mut parameters = TlsParameters::builder(host.to_string());
        if let Some(pem) = extra_root {
            let certificate = Certificate::from_pem(pem).map_err(|e| setup_error(e.to_string()))?;
            parameters = parameters.add_root_certificate(certificate);
        }
        let parameters = parameters.build_rustls().map_err(|e| setup_error(e.to_string()))?;
        builder = builder.tls(match smtp.security {
            SmtpSecurity::Tls => Tls::Wrapper(parameters),
            _ => Tls::Required(parameters),
        });
    }
    if let (Some(username), Some(password)) = (&smtp.username, &smtp.password) {
        builder = builder.credentials(Credentials::new(username.clone(), password.clone()));
    }
    let security = match smtp.security {
        SmtpSecurity::Starttls => "STARTTLS",
        SmtpSecurity::Tls => "TLS",
        SmtpSecurity::None => "plain text",
    };
    Ok(Transport::Smtp { relay: format!("{host}:{} ({security})", smtp.port), transport: builder.build() })
}

fn smtp_failure(error: &lettre::transport::smtp::Error) -> SmtpFailure {
    if error.is_timeout() {
        SmtpFailure::Timeout
    } else if error.is_tls() {
        SmtpFailure::Tls
    } else if error.is_transient() {
        SmtpFailure::Transient
    } else if error.is_permanent() {
        SmtpFailure::Permanent
    } else if error.is_response() || error.is_client() {
        SmtpFailure::Protocol
    } else {
        SmtpFailure::Connection
    }
}

/// Creates the outbox folder when missing; a new one is private to Poort's user.
fn create_outbox(dir: &Path) -> Result<(), MailError> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).map_err(|source| MailError::Outbox { path: dir.to_path_buf(), source })
}

/// Keeps a recipient's full address out of an error message (a relay may quote it back).
fn redact(message: &str, address: &str) -> String {
    let Some((_, domain)) = address.rsplit_once('@') else { return message.to_string() };
    let lower = message.to_ascii_lowercase();
    let needle = address.to_ascii_lowercase();
    let mut out = String::with_capacity(message.len());
    let mut rest = 0;
    while let Some(found) = lower[rest..].find(&needle) {
        let start = rest + found;
        out.push_str(&message[rest..start]);
        out.push_str("…@");
        out.push_str(domain);
        rest = start + needle.len();
    }
    out.push_str(&message[rest..]);
    out
}
