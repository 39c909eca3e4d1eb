//! The settings, their defaults and their validation: the one documented place for every default.

use crate::ConfigError;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;
use url::Url;

/// Everything Poort can be told. Unknown keys are refused at every level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub storage: StorageSettings,
    pub keys: KeySettings,
    pub tokens: TokenSettings,
    pub sessions: SessionSettings,
    pub logout: LogoutSettings,
    pub log: LogSettings,
    pub mail: MailSettings,
    pub themes: ThemeSettings,
    pub passwords: PasswordSettings,
    pub accounts: AccountSettings,
    pub registration: RegistrationSettings,
    pub metrics: MetricsSettings,
    pub outbound: OutboundSettings,
    /// Clients defined in configuration; they are (re)written to the database at every start.
    pub clients: Vec<StaticClient>,
    /// Upstream sign-in connectors defined in configuration; (re)written to the database at
    /// every start, beside those added with the CLI or the admin API.
    pub connectors: Vec<crate::ConnectorSettings>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// The socket address to listen on.
    pub listen: String,
    /// The public issuer URL, exactly as relying parties see it (behind a TLS-terminating proxy,
    /// the proxy's https URL). Defaults to `http://<listen>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<Url>,
    /// Serve TLS directly with these PEM files; leave unset behind a TLS-terminating proxy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsSettings>,
    /// How long in-flight requests may take to finish after SIGTERM or Ctrl-C.
    #[serde(with = "crate::duration")]
    pub shutdown_grace: Duration,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Largest request line plus headers accepted, in bytes (HTTP/1.1; the header list on HTTP/2).
    pub max_header_bytes: usize,
    /// A connection must send a request's complete headers within this time (slow clients are
    /// cut off), and a request must be answered within `request_timeout` (503 after that).
    #[serde(with = "crate::duration")]
    pub header_timeout: Duration,
    #[serde(with = "crate::duration")]
    pub request_timeout: Duration,
    /// The longest a fetch of what a client publishes (`jwks_uri`, `request_uri`,
    /// `sector_identifier_uri`) may take; a server that hangs costs a request no more.
    #[serde(with = "crate::duration")]
    pub outbound_timeout: Duration,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            issuer: None,
            tls: None,
            shutdown_grace: Duration::from_secs(20),
            max_body_bytes: 64 * 1024,
            max_header_bytes: 64 * 1024,
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            outbound_timeout: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    /// PEM certificate chain.
    pub cert_file: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSettings {
    /// Folder for the embedded SQLite database and the mail outbox; created when missing.
    pub data_dir: PathBuf,
    /// `sqlite://…` or `postgres://…`. Defaults to `<data_dir>/poort.db`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,
    /// Connection pool size for PostgreSQL, per node (SQLite always uses one connection).
    pub max_connections: u32,
    /// How often expired rows (codes, tokens, sessions, one-time links) are purged.
    #[serde(with = "crate::duration")]
    pub purge_interval: Duration,
}

impl Default for StorageSettings {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("poort-data"),
            database_url: None,
            max_connections: 10,
            purge_interval: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeySettings {
    /// Signing algorithms to keep a current key for. RS256 is always included (OpenID Connect
    /// requires it); ES256, PS256 and EdDSA are optional.
    pub algorithms: Vec<String>,
    /// Rotate each signing key after this long (0s: only by `poort keys rotate`).
    #[serde(with = "crate::duration")]
    pub rotation_interval: Duration,
    /// When set, private signing keys are stored encrypted (A256GCM) under a key derived from
    /// this secret. It must then stay the same for every node and every restart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_secret: Option<String>,
    /// How often each node reads the key set from the database, so a rotation by another node
    /// or by `poort keys rotate` reaches it without a restart.
    #[serde(with = "crate::duration")]
    pub reload_interval: Duration,
}

impl Default for KeySettings {
    fn default() -> Self {
        Self {
            algorithms: vec!["RS256".into(), "ES256".into()],
            rotation_interval: Duration::from_secs(90 * 24 * 3600),
            encryption_secret: None,
            reload_interval: Duration::from_secs(30),
        }
    }
}

/// The signing algorithms Poort can keep keys for.
pub const SIGNING_ALGORITHMS: &[&str] = &["RS256", "PS256", "ES256", "EdDSA"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenSettings {
    #[serde(with = "crate::duration")]
    pub authorization_code_ttl: Duration,
    #[serde(with = "crate::duration")]
    pub access_token_ttl: Duration,
    #[serde(with = "crate::duration")]
    pub id_token_ttl: Duration,
    #[serde(with = "crate::duration")]
    pub refresh_token_ttl: Duration,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            authorization_code_ttl: Duration::from_secs(60),
            access_token_ttl: Duration::from_secs(3600),
            id_token_ttl: Duration::from_secs(3600),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

impl TokenSettings {
    /// The longest time a token we signed can still be valid: a retired signing key stays
    /// published at least this long.
    pub fn longest_signed_lifetime(&self) -> Duration {
        self.access_token_ttl.max(self.id_token_ttl)
    }
}

/// Browser sessions: one sign-in serves every client until it idles out, expires or ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SessionSettings {
    /// A session unused this long ends.
    #[serde(with = "crate::duration")]
    pub idle_timeout: Duration,
    /// A session ends this long after sign-in, however active.
    #[serde(with = "crate::duration")]
    pub absolute_lifetime: Duration,
    /// How long a sign-in or consent page may stay open before the request must start again.
    #[serde(with = "crate::duration")]
    pub interaction_timeout: Duration,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(8 * 3600),
            absolute_lifetime: Duration::from_secs(24 * 3600),
            interaction_timeout: Duration::from_secs(30 * 60),
        }
    }
}

/// What happens when a session ends: back-channel logout deliveries and the grants it made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogoutSettings {
    /// How long a client may take to answer one back-channel logout POST.
    #[serde(with = "crate::duration")]
    pub backchannel_timeout: Duration,
    /// The wait before the first retry of a failed delivery; each later retry waits twice as
    /// long, up to `backchannel_retry_max`.
    #[serde(with = "crate::duration")]
    pub backchannel_retry_initial: Duration,
    #[serde(with = "crate::duration")]
    pub backchannel_retry_max: Duration,
    /// A delivery still failing this long after the session ended is given up.
    #[serde(with = "crate::duration")]
    pub backchannel_give_up_after: Duration,
    /// How often each node looks for deliveries that are due (what a node queues itself, it
    /// delivers at once).
    #[serde(with = "crate::duration")]
    pub backchannel_poll_interval: Duration,
    /// Whether an ended session also revokes the grants it made with `offline_access` (by
    /// default offline access outlives the session; every other grant of the session ends).
    pub revoke_offline_access: bool,
}

impl Default for LogoutSettings {
    fn default() -> Self {
        Self {
            backchannel_timeout: Duration::from_secs(5),
            backchannel_retry_initial: Duration::from_secs(10),
            backchannel_retry_max: Duration::from_secs(3600),
            backchannel_give_up_after: Duration::from_secs(24 * 3600),
            backchannel_poll_interval: Duration::from_secs(5),
            revoke_offline_access: false,
        }
    }
}

impl LogoutSettings {
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, value) in [
            ("logout.backchannel_timeout", self.backchannel_timeout),
            ("logout.backchannel_retry_initial", self.backchannel_retry_initial),
            ("logout.backchannel_retry_max", self.backchannel_retry_max),
            ("logout.backchannel_give_up_after", self.backchannel_give_up_after),
            ("logout.backchannel_poll_interval", self.backchannel_poll_interval),
        ] {
            if value.as_secs() == 0 {
                return Err(ConfigError::at(key, "must be at least 1s"));
            }
        }
        if self.backchannel_timeout > Duration::from_secs(60) {
            return Err(ConfigError::at("logout.backchannel_timeout", "must be at most 60s"));
        }
        if self.backchannel_retry_max < self.backchannel_retry_initial {
            return Err(ConfigError::at("logout.backchannel_retry_max", "must be at least logout.backchannel_retry_initial"));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `poort=debug,info`; `RUST_LOG` overrides it.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self { format: LogFormat::Human, level: "info,sea_orm_migration=warn".into() }
    }
}

/// The Prometheus metrics endpoint (`/metrics`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// Serve `/metrics` at all.
    pub enabled: bool,
    /// When set, a scrape must send `Authorization: Bearer <this value>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<String>,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self { enabled: true, bearer_token: None }
    }
}

/// Poort's own requests for what clients publish (`jwks_uri`, `sector_identifier_uri`,
/// `request_uri`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct OutboundSettings {
    /// Extra root certificates (PEM) trusted beside the public web PKI, for clients whose
    /// documents are served under an internal certificate authority.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    /// Each mail is written as an `.eml` file to the outbox folder (zero-setup default).
    #[default]
    File,
    Smtp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MailSettings {
    pub transport: MailTransport,
    /// The sender of every mail.
    pub from: String,
    /// Outbox folder for the file transport. Defaults to `<data_dir>/outbox`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outbox_dir: Option<PathBuf>,
    pub smtp: SmtpSettings,
}

impl Default for MailSettings {
    fn default() -> Self {
        Self {
            transport: MailTransport::File,
            from: "Poort <no-reply@localhost>".into(),
            outbox_dir: None,
            smtp: SmtpSettings::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpSecurity {
    #[default]
    Starttls,
    Tls,
    /// Plain text: only for a relay on loopback.
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub security: SmtpSecurity,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self { host: "localhost".into(), port: 587, security: SmtpSecurity::Starttls, username: None, password: None }
    }
}

/// The hosted pages' look and language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ThemeSettings {
    /// A theme folder (`templates/`, `assets/`, `catalogs/`) whose files override the built-in
    /// templates, stylesheet, logo and texts of the same names, without rebuilding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dir: Option<PathBuf>,
    /// The language of the pages when neither `ui_locales` nor `Accept-Language` chooses one.
    pub default_locale: String,
}

impl Default for ThemeSettings {
    fn default() -> Self {
        Self { dir: None, default_locale: "en".into() }
    }
}

/// The languages the pages and mails have message catalogs for.
pub const SUPPORTED_LOCALES: &[&str] = &["en", "nl"];

/// Rules for the passwords people choose (activation, reset, change).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordSettings {
    /// The fewest characters a new password may have.
    pub min_length: u32,
    /// The lowest zxcvbn score (0 to 4) a new password may have; the person's own name and
    /// e-mail address count against it.
    pub min_score: u8,
    /// Password hashing runs on one thread per core; this many more checks may wait for one
    /// before a sign-in is answered 503 ("busy, try again") instead of queueing without end.
    pub hash_queue_limit: usize,
}

impl Default for PasswordSettings {
    fn default() -> Self {
        Self { min_length: 10, min_score: 3, hash_queue_limit: 32 }
    }
}

/// The account lifecycle: activation and reset links, and how failed sign-ins are throttled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountSettings {
    /// How long an activation link stays valid.
    #[serde(with = "crate::duration")]
    pub activation_link_ttl: Duration,
    /// How long a password-reset link stays valid.
    #[serde(with = "crate::duration")]
    pub reset_link_ttl: Duration,
    /// People reset a forgotten password themselves by e-mail (the "online" mode); false: the
    /// forgot-password page tells them to contact their administrator ("on-premises").
    pub self_service_reset: bool,
    /// Where an activated or reset user lands when no client invited them and the client that
    /// did has no `initiate_login_uri` or `client_uri`. Unset: Poort's own account page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_redirect_uri: Option<Url>,
    /// Failed sign-ins to one account (or one unknown user name) before it is locked.
    pub max_failed_sign_ins: u32,
    /// How long a lock lasts; failures are also forgotten after this long without another.
    #[serde(with = "crate::duration")]
    pub lock_duration: Duration,
    /// Failed sign-ins from one client address before that address is refused for
    /// `lock_duration`. Reset and activation mails requested from one address count the same way.
    pub max_failures_per_ip: u32,
    /// Added before answering a sign-in, per failure already counted for the account ("0s": none).
    #[serde(with = "crate::duration")]
    pub failure_delay: Duration,
    /// Reverse proxies (IP addresses) whose `X-Forwarded-For` names the client address.
    pub trusted_proxies: Vec<String>,
}

impl Default for AccountSettings {
    fn default() -> Self {
        Self {
            activation_link_ttl: Duration::from_secs(7 * 24 * 3600),
            reset_link_ttl: Duration::from_secs(3600),
            self_service_reset: true,
            default_redirect_uri: None,
            max_failed_sign_ins: 5,
            lock_duration: Duration::from_secs(15 * 60),
            max_failures_per_ip: 50,
            failure_delay: Duration::from_secs(1),
            trusted_proxies: Vec::new(),
        }
    }
}

impl AccountSettings {
    /// Checks what types cannot, naming the key at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (key, value, longest, written) in [
            ("accounts.activation_link_ttl", self.activation_link_ttl, 90 * 24 * 3600, "90d"),
            ("accounts.reset_link_ttl", self.reset_link_ttl, 24 * 3600, "1d"),
            ("accounts.lock_duration", self.lock_duration, 24 * 3600, "1d"),
        ] {
            if value.is_zero() {
                return Err(ConfigError::at(key, "must be longer than zero"));
            }
            if value.as_secs() > longest {
                return Err(ConfigError::at(key, format!("must be at most {written}")));
            }
        }
        if self.max_failed_sign_ins < 3 {
            return Err(ConfigError::at("accounts.max_failed_sign_ins", "must be at least 3"));
        }
        if self.max_failures_per_ip < self.max_failed_sign_ins {
            return Err(ConfigError::at("accounts.max_failures_per_ip", "must be at least accounts.max_failed_sign_ins"));
        }
        if self.failure_delay > Duration::from_secs(5) {
            return Err(ConfigError::at("accounts.failure_delay", "must be at most 5s"));
        }
        if let Some(uri) = &self.default_redirect_uri
            && !matches!(uri.scheme(), "https" | "http")
        {
            return Err(ConfigError::at("accounts.default_redirect_uri", "must be an http or https URL"));
        }
        for proxy in &self.trusted_proxies {
            if proxy.trim().parse::<std::net::IpAddr>().is_err() {
                return Err(ConfigError::at("accounts.trusted_proxies", format!("`{proxy}` is not an IP address")));
            }
        }
        Ok(())
    }

    /// The trusted proxies' addresses (validated by [`AccountSettings::validate`]).
    pub fn trusted_proxy_addrs(&self) -> Vec<std::net::IpAddr> {
        self.trusted_proxies.iter().filter_map(|p| p.trim().parse().ok()).collect()
    }
}

/// Dynamic client registration (RFC 7591, RFC 7592, OpenID Connect Dynamic Registration).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegistrationSettings {
    /// Serve `POST /register` and `/register/{client_id}` (and advertise `registration_endpoint`).
    pub enabled: bool,
    /// When set, registering needs `Authorization: Bearer <this token>`; unset, registration is open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub initial_access_token: Option<String>,
    /// Accept `http` redirect (and logout, request) URIs on loopback hosts (127.0.0.1, ::1,
    /// localhost) for development; every other URI must be https.
    pub allow_http_redirect_uris_on_loopback: bool,
    /// How long a registered client's secret is valid (0s: it never expires).
    #[serde(with = "crate::duration")]
    pub secret_lifetime: Duration,
    /// Registrations one client address may make within `per_ip_window` (0: no limit); then
    /// it is refused (429) for that long. IPv6 addresses count per /64.
    pub max_per_ip: u32,
    #[serde(with = "crate::duration")]
    pub per_ip_window: Duration,
}

impl Default for RegistrationSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            initial_access_token: None,
            allow_http_redirect_uris_on_loopback: true,
            secret_lifetime: Duration::ZERO,
            max_per_ip: 20,
            per_ip_window: Duration::from_secs(3600),
        }
    }
}

/// A client registered through configuration (OpenID Connect registration metadata names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaticClient {
    pub client_id: String,
    /// Absent for public clients (`token_endpoint_auth_method = "none"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    pub redirect_uris: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default = "default_grant_types")]
    pub grant_types: Vec<String>,
    #[serde(default = "default_response_types")]
    pub response_types: Vec<String>,
    #[serde(default = "default_auth_method")]
    pub token_endpoint_auth_method: String,
    /// A first-party client skips the consent page.
    #[serde(default)]
    pub first_party: bool,
    /// Only users holding one of these roles may sign in to this client…
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_roles: Vec<String>,
    /// …or a role that grants one of these permissions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub required_permissions: Vec<String>,
    /// Users must accept the terms of service (`poort terms publish`) before signing in.
    #[serde(default)]
    pub requires_terms: bool,
    /// The scopes the client may have for itself (`client_credentials`), space-separated;
    /// `poort.admin` lets it call the admin API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Loaded in a frame of the "signed out" page, with `iss` and `sid`, when a session it
    /// signed in through ends (OpenID Connect Front-Channel Logout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontchannel_logout_uri: Option<String>,
    /// Receives a signed logout token when a session it signed in through ends (OpenID Connect
    /// Back-Channel Logout); queued, retried, and delivered by whichever node is up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// People sign in to this client through this connector (its id), skipping the sign-in page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector: Option<String>,
    /// The algorithm of its ID tokens (RS256 when absent); `keys.algorithms` must keep a key for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<String>,
    /// `"jwt"` (RFC 9068 access tokens, the default) or `"opaque"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_format: Option<String>,
    /// The algorithm of its JWT access tokens (RS256 when absent); `keys.algorithms` must keep a key for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_signed_response_alg: Option<String>,
}

fn default_grant_types() -> Vec<String> {
    vec!["authorization_code".into()]
}
fn default_response_types() -> Vec<String> {
    vec!["code".into()]
}
fn default_auth_method() -> String {
    "client_secret_basic".into()
}

/// Token endpoint authentication methods Poort understands.
pub const CLIENT_AUTH_METHODS: &[&str] =
    &["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"];

impl Settings {
    /// Checks what deserialization cannot, naming the key at fault.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.server.listen_addr()?;
        let issuer = self.issuer();
        if issuer.scheme() != "https" && issuer.scheme() != "http" {
            return Err(ConfigError::at("server.issuer", "must be an http or https URL"));
        }
        if issuer.query().is_some() || issuer.fragment().is_some() {
            return Err(ConfigError::at("server.issuer", "must not have a query or a fragment"));
        }
        if !issuer.username().is_empty() || issuer.password().is_some() {
            return Err(ConfigError::at("server.issuer", "must not carry user information"));
        }
        if issuer.host_str().is_none_or(str::is_empty) {
            return Err(ConfigError::at("server.issuer", "must have a host"));
        }
        if self.server.max_body_bytes < 1024 {
            return Err(ConfigError::at("server.max_body_bytes", "must be at least 1024"));
        }
        if !(8192..=1024 * 1024).contains(&self.server.max_header_bytes) {
            return Err(ConfigError::at("server.max_header_bytes", "must be between 8192 and 1048576"));
        }
        for (key, value) in [
            ("server.header_timeout", self.server.header_timeout),
            ("server.request_timeout", self.server.request_timeout),
            ("server.outbound_timeout", self.server.outbound_timeout),
        ] {
            if value.is_zero() {
                return Err(ConfigError::at(key, "must be longer than zero"));
            }
        }
        if let Some(url) = &self.storage.database_url
            && !(url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://"))
        {
            return Err(ConfigError::at("storage.database_url", "must start with sqlite:, postgres:// or postgresql://"));
        }
        if self.storage.max_connections == 0 {
            return Err(ConfigError::at("storage.max_connections", "must be at least 1"));
        }
        for alg in &self.keys.algorithms {
            if !SIGNING_ALGORITHMS.contains(&alg.as_str()) {
                return Err(ConfigError::at(
                    "keys.algorithms",
                    format!("`{alg}` is not supported (choose from {})", SIGNING_ALGORITHMS.join(", ")),
                ));
            }
        }
        if self.keys.reload_interval.is_zero() {
            return Err(ConfigError::at("keys.reload_interval", "must be longer than zero"));
        }
        if let Some(secret) = &self.keys.encryption_secret
            && secret.len() < 32
        {
            return Err(ConfigError::at("keys.encryption_secret", "must be at least 32 characters"));
        }
        let tokens = &self.tokens;
        for (key, value) in [
            ("tokens.authorization_code_ttl", tokens.authorization_code_ttl),
            ("tokens.access_token_ttl", tokens.access_token_ttl),
            ("tokens.id_token_ttl", tokens.id_token_ttl),
            ("tokens.refresh_token_ttl", tokens.refresh_token_ttl),
        ] {
            if value.is_zero() {
                return Err(ConfigError::at(key, "must be longer than zero"));
            }
        }
        for (key, value) in [
            ("sessions.idle_timeout", self.sessions.idle_timeout),
            ("sessions.absolute_lifetime", self.sessions.absolute_lifetime),
            ("sessions.interaction_timeout", self.sessions.interaction_timeout),
        ] {
            if value.is_zero() {
                return Err(ConfigError::at(key, "must be longer than zero"));
            }
        }
        if tokens.authorization_code_ttl > Duration::from_secs(600) {
            return Err(ConfigError::at("tokens.authorization_code_ttl", "must be at most 10 minutes (RFC 6749 §4.1.2)"));
        }
        if !self.keys.rotation_interval.is_zero() && self.keys.rotation_interval <= tokens.longest_signed_lifetime() {
            return Err(ConfigError::at(
                "keys.rotation_interval",
                "must be longer than the access and ID token lifetimes (or 0s to rotate only by hand)",
            ));
        }
        if self.mail.transport == MailTransport::Smtp && self.mail.smtp.host.trim().is_empty() {
            return Err(ConfigError::at("mail.smtp.host", "is required when mail.transport = \"smtp\""));
        }
        if self.mail.smtp.security == SmtpSecurity::None && !is_loopback_host(&self.mail.smtp.host) {
            return Err(ConfigError::at(
                "mail.smtp.security",
                "\"none\" sends in plain text and is only allowed to a relay on loopback (localhost, 127.0.0.1, ::1)",
            ));
        }
        if self.mail.smtp.username.is_some() != self.mail.smtp.password.is_some() {
            return Err(ConfigError::at("mail.smtp.password", "mail.smtp.username and mail.smtp.password go together"));
        }
        if let Some(dir) = &self.themes.dir
            && !dir.is_dir()
        {
            return Err(ConfigError::at("themes.dir", format!("`{}` is not a folder", dir.display())));
        }
        if !SUPPORTED_LOCALES.contains(&self.themes.default_locale.as_str()) {
            return Err(ConfigError::at(
                "themes.default_locale",
                format!("`{}` is not supported (choose from {})", self.themes.default_locale, SUPPORTED_LOCALES.join(", ")),
            ));
        }
        if !(8..=64).contains(&self.passwords.min_length) {
            return Err(ConfigError::at("passwords.min_length", "must be between 8 and 64"));
        }
        if self.passwords.min_score > 4 {
            return Err(ConfigError::at("passwords.min_score", "must be between 0 and 4 (zxcvbn's scores)"));
        }
        if !self.mail.from.contains('@') {
            return Err(ConfigError::at("mail.from", "must be a mail address, e.g. \"Poort <no-reply@example.com>\""));
        }
        if let Some(token) = &self.registration.initial_access_token
            && token.len() < 16
        {
            return Err(ConfigError::at("registration.initial_access_token", "must be at least 16 characters"));
        }
        if self.registration.per_ip_window.is_zero() {
            return Err(ConfigError::at("registration.per_ip_window", "must be longer than zero"));
        }
        if let Some(token) = &self.metrics.bearer_token
            && token.len() < 16
        {
            return Err(ConfigError::at("metrics.bearer_token", "must be at least 16 characters"));
        }
        if let Some(file) = &self.outbound.ca_file
            && !file.is_file()
        {
            return Err(ConfigError::at("outbound.ca_file", format!("`{}` is not a file", file.display())));
        }
        self.accounts.validate()?;
        self.logout.validate()?;
        self.validate_clients()?;
        crate::connectors::validate_connectors(&self.connectors)
    }

    fn validate_clients(&self) -> Result<(), ConfigError> {
        let mut seen = std::collections::HashSet::new();
        for (index, client) in self.clients.iter().enumerate() {
            let prefix = format!("clients[{index}]");
            client.validate(&prefix)?;
            let algorithms = self.signing_algorithms();
            for (field, alg) in [
                ("id_token_signed_response_alg", &client.id_token_signed_response_alg),
                ("access_token_signed_response_alg", &client.access_token_signed_response_alg),
            ] {
                if let Some(alg) = alg
                    && !algorithms.contains(alg)
                {
                    return Err(ConfigError::at(
                        format!("{prefix}.{field}"),
                        format!("`{alg}` has no key (keys.algorithms keeps {})", algorithms.join(", ")),
                    ));
                }
            }
            if !seen.insert(client.client_id.as_str()) {
                return Err(ConfigError::at(
                    format!("{prefix}.client_id"),
                    format!("`{}` is defined twice", client.client_id),
                ));
            }
        }
        Ok(())
    }

    /// The public issuer URL, with no trailing slash unless it has a path that ends in one.
    pub fn issuer(&self) -> Url {
        match &self.server.issuer {
            Some(url) => url.clone(),
            None => {
                let scheme = if self.server.tls.is_some() { "https" } else { "http" };
                Url::parse(&format!("{scheme}://{}", self.server.listen)).unwrap_or_else(|_| {
                    Url::parse("http://127.0.0.1:8080").expect("a literal URL parses")
                })
            }
        }
    }

    /// The issuer as the exact string used in every token and response: no trailing slash
    /// for a bare origin (`https://id.example.com`, not `https://id.example.com/`).
    pub fn issuer_string(&self) -> String {
        let url = self.issuer();
        let text = url.as_str();
        if url.path() == "/" { text.trim_end_matches('/').to_string() } else { text.to_string() }
    }

    /// The database URL, defaulting to the SQLite file in the data folder.
    pub fn database_url(&self) -> String {
        match &self.storage.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}?mode=rwc", self.storage.data_dir.join("poort.db").display()),
        }
    }

    /// Whether the database is the embedded SQLite one (whose folder Poort must create).
    pub fn uses_sqlite(&self) -> bool {
        self.database_url().starts_with("sqlite:")
    }

    /// The outbox folder of the file mail transport.
    pub fn outbox_dir(&self) -> PathBuf {
        self.mail.outbox_dir.clone().unwrap_or_else(|| self.storage.data_dir.join("outbox"))
    }

    /// The signing algorithms to keep keys for, RS256 first and always present.
    pub fn signing_algorithms(&self) -> Vec<String> {
        let mut algs = vec!["RS256".to_string()];
        for alg in &self.keys.algorithms {
            if !algs.contains(alg) {
                algs.push(alg.clone());
            }
        }
        algs
    }
}

impl StaticClient {
    /// Checks one client's metadata; `prefix` names it in errors (`clients[2]`, `client`).
    pub fn validate(&self, prefix: &str) -> Result<(), ConfigError> {
        let key = |field: &str| format!("{prefix}.{field}");
        if self.client_id.trim().is_empty() {
            return Err(ConfigError::at(key("client_id"), "must not be empty"));
        }
        if !CLIENT_AUTH_METHODS.contains(&self.token_endpoint_auth_method.as_str()) {
            return Err(ConfigError::at(
                key("token_endpoint_auth_method"),
                format!("must be one of {}", CLIENT_AUTH_METHODS.join(", ")),
            ));
        }
        let public = self.token_endpoint_auth_method == "none";
        match (&self.client_secret, public) {
            (Some(_), true) => {
                return Err(ConfigError::at(key("client_secret"), "a public client (auth method none) has no secret"));
            }
            (None, false) if self.token_endpoint_auth_method != "private_key_jwt" => {
                return Err(ConfigError::at(key("client_secret"), "is required for this authentication method"));
            }
            (Some(secret), false) if secret.len() < 16 => {
                return Err(ConfigError::at(key("client_secret"), "must be at least 16 characters"));
            }
            _ => {}
        }
        for (field, uris) in
            [("redirect_uris", &self.redirect_uris), ("post_logout_redirect_uris", &self.post_logout_redirect_uris)]
        {
            for uri in uris {
                let parsed = Url::parse(uri)
                    .map_err(|e| ConfigError::at(key(field), format!("`{uri}` is not an absolute URL ({e})")))?;
                if parsed.fragment().is_some() {
                    return Err(ConfigError::at(key(field), format!("`{uri}` must not have a fragment")));
                }
            }
        }
        for (field, uri) in
            [("frontchannel_logout_uri", &self.frontchannel_logout_uri), ("backchannel_logout_uri", &self.backchannel_logout_uri)]
        {
            if let Some(uri) = uri {
                let parsed = Url::parse(uri)
                    .map_err(|e| ConfigError::at(key(field), format!("`{uri}` is not an absolute URL ({e})")))?;
                let loopback = parsed.host_str().is_some_and(is_loopback_host);
                if parsed.scheme() != "https" && !(parsed.scheme() == "http" && loopback) {
                    return Err(ConfigError::at(key(field), format!("`{uri}` must use https (http only on this machine)")));
                }
                if parsed.fragment().is_some() {
                    return Err(ConfigError::at(key(field), format!("`{uri}` must not have a fragment")));
                }
            }
        }
        if let Some(format) = &self.access_token_format
            && !matches!(format.as_str(), "jwt" | "opaque")
        {
            return Err(ConfigError::at(key("access_token_format"), "must be \"jwt\" or \"opaque\""));
        }
        if self.redirect_uris.is_empty() && self.grant_types.iter().any(|g| g == "authorization_code") {
            return Err(ConfigError::at(key("redirect_uris"), "at least one is needed for authorization_code"));
        }
        Ok(())
    }
}

/// Whether a host name or address is this machine (`localhost`, `127.0.0.0/8`, `::1`).
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim().trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl ServerSettings {
    pub fn listen_addr(&self) -> Result<SocketAddr, ConfigError> {
        self.listen.parse().map_err(|_| {
            ConfigError::at("server.listen", format!("`{}` is not a socket address such as 127.0.0.1:8080", self.listen))
        })
    }
}
