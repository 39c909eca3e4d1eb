//! Black-box tests mirroring the OpenID Foundation's certification plans for OpenID Providers,
//! runnable against any issuer over HTTP(S) only: this crate never links Poort's code.
//!
//! One module of the suite is one async function (in [`modules`]) registered under its exact
//! suite name (`oidcc-server`, `oidcc-codereuse-30seconds`, …). Each module instance gets a fresh
//! scripted [`browser::Browser`] (its own cookie jar, so it starts signed out), runs the suite's
//! setup (discovery, JWKS), drives authorizations through the OP's login and consent pages,
//! and records findings at the suite's severities ([`report`]). [`Runner`] runs a plan or a
//! list of modules and returns one [`report::ModuleResult`] each; the `poort-conformance`
//! binary prints them as a table.
//!
//! What each module sends and checks follows `CONFORMANCE.md` (the suite's own source,
//! paraphrased); where the suite waits for a human to look at a screenshot, the harness checks
//! the page mechanically (an HTML page instead of a redirect to the client; a login form shown
//! again when a re-authentication is required).

pub mod backchannel;
pub mod browser;
pub mod checks;
pub mod csp;
pub mod discovery;
pub mod documents;
pub mod flow;
pub mod html;
pub mod jose;
pub mod modules;
pub mod random;
pub mod registration;
pub mod report;

use browser::{Browser, LoginForm, User};
use discovery::ServerInfo;
use report::{Abort, Log, ModuleResult, Step};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use modules::{Kind, ModuleDef, Plan};
pub use report::{Severity, Status, render_table};

/// How a client authenticates at the token endpoint (the suite's `client_auth_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    /// An RS256 client assertion signed with the client's key (the Dynamic plan's variant).
    PrivateKeyJwt,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

impl std::str::FromStr for AuthMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "client_secret_basic" => Ok(AuthMethod::ClientSecretBasic),
            "client_secret_post" => Ok(AuthMethod::ClientSecretPost),
            "private_key_jwt" => Ok(AuthMethod::PrivateKeyJwt),
            other => Err(format!(
                "unknown client authentication `{other}` (client_secret_basic, client_secret_post or private_key_jwt)"
            )),
        }
    }
}

/// A client's credentials.
#[derive(Clone, Debug)]
pub struct ClientCreds {
    pub id: String,
    /// Empty for private_key_jwt.
    pub secret: String,
    pub auth: AuthMethod,
    /// The private key client assertions are signed with (private_key_jwt).
    pub key: Option<josekit::jwk::Jwk>,
    /// The assertions' `aud`; the token endpoint when unset.
    pub assertion_audience: Option<String>,
}

impl ClientCreds {
    pub fn new(id: impl Into<String>, secret: impl Into<String>, auth: AuthMethod) -> Self {
        Self {
            id: id.into(),
            secret: secret.into(),
            auth,
            key: None,
            assertion_audience: None,
        }
    }
}

/// Something an operator does at the OP while a module waits (the suite asks a human and waits
/// for a button): here the harness runs it itself. Returns when the action is done.
#[derive(Clone)]
pub struct OperatorAction(Arc<dyn Fn() -> ActionFuture + Send + Sync>);

/// What an operator action returns: done, or why not.
type ActionFuture = Pin<Box<dyn Future<Output = Result<(), String>> + Send>>;

impl OperatorAction {
    pub fn new<F, Fut>(action: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), String>> + Send + 'static,
    {
        Self(Arc::new(move || Box::pin(action())))
    }

    /// A shell command (`sh -c`), which must exit with status 0.
    pub fn shell(command: impl Into<String>) -> Self {
        let command: String = command.into();
        Self::new(move || {
            let command = command.clone();
            async move {
                let output = tokio::process::Command::new("sh")
                    .arg("-c")
                    .arg(&command)
                    .output()
                    .await
                    .map_err(|e| format!("cannot run `{command}`: {e}"))?;
                if output.status.success() {
                    Ok(())
                } else {
                    Err(format!(
                        "`{command}` failed ({}): {}",
                        output.status,
                        String::from_utf8_lossy(&output.stderr).trim()
                    ))
                }
            }
        })
    }

    pub async fn run(&self) -> Result<(), String> {
        (self.0)().await
    }
}

impl std::fmt::Debug for OperatorAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OperatorAction")
    }
}

/// A certificate and key (PEM) for the harness's document host, to serve it over https.
#[derive(Clone, Debug)]
pub struct HostTls {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
}

/// Everything a run needs: the issuer, how to reach it, the clients and the test user.
#[derive(Clone, Debug)]
pub struct Config {
    /// The issuer (discovery is `<issuer>/.well-known/openid-configuration`).
    pub issuer: String,
    /// Extra trusted root certificates (PEM), for a test CA.
    pub ca_pem: Option<Vec<u8>>,
    /// The main static client (client_secret_basic). Unused with `dynamic`.
    pub client: Option<ClientCreds>,
    /// A second, distinct static client (refresh-token).
    pub client2: Option<ClientCreds>,
    /// A static client for client_secret_post (the main client's id is tried when absent).
    pub post_client: Option<ClientCreds>,
    /// The redirect URI registered for every client (`B/callback`). It is never contacted: the
    /// harness reads the response from the Location (or the form_post form).
    pub redirect_uri: String,
    /// The user the browser signs in as, and the login form's field names.
    pub user: User,
    /// Register a client per module through the registration endpoint (the suite's
    /// `client_registration=dynamic_client`); enables the dynamic-only modules.
    pub dynamic: bool,
    /// How the modules' main clients authenticate (the suite's `client_auth_type`); unset, each
    /// module's own (client_secret_basic, or client_secret_post for
    /// `oidcc-server-client-secret-post`). The Dynamic plan uses private_key_jwt, which needs
    /// dynamic registration (the harness registers its keys).
    pub client_auth: Option<AuthMethod>,
    /// Add `response_mode=form_post` to every authorization request (the suite's "Form Post
    /// OP" plans run the Basic list this way).
    pub form_post: bool,
    /// The response type of every authorization request (the Implicit and Hybrid plans run
    /// their lists once per response type).
    pub response_type: String,
    /// The initial access token for registration, when the OP requires one.
    pub registration_token: Option<String>,
    /// `login_hint` (default `buffy@<issuer host>`).
    pub login_hint: Option<String>,
    /// `ui_locales` (default `se`).
    pub ui_locales: String,
    /// `acr_values` when discovery lists none (default `1 2`).
    pub acr_values: Option<String>,
    /// Where the harness serves what an RP publishes for the OP to fetch (dynamic only):
    /// request objects (`request_uri`), key sets (`jwks_uri`), sector documents.
    pub host_listen: SocketAddr,
    /// The URL the OP reaches that listener at (default `https://<listen address>` with
    /// `host_tls`, else `http://…`).
    pub host_base: Option<String>,
    /// Serve the documents over https with this certificate (the OP must trust it).
    pub host_tls: Option<HostTls>,
    /// How long `oidcc-refresh-token-rp-key-rotation` waits between publishing the RP's new key
    /// and using it (the suite's `jwks_refresh_delay`, 60 s).
    pub jwks_refresh_delay: Duration,
    /// The operator's key rotation for `oidcc-server-rotate-keys`; without one that module
    /// only compares two reads of the JWKS `rotation_wait` apart, as the suite does after a human
    /// rotated the keys.
    pub rotate_keys: Option<OperatorAction>,
    /// How long `oidcc-server-rotate-keys` waits for the rotated keys to be published.
    pub rotation_wait: Duration,
    /// Where the harness listens for back-channel logout tokens (`B/backchannel_logout`).
    pub backchannel_listen: SocketAddr,
    /// The URL the OP reaches that listener at (default `http://<listen address>`).
    pub backchannel_base: Option<String>,
    /// How long oidcc-backchannel-rp-initiated-logout waits for the OP's POST after the logout.
    pub backchannel_wait: Duration,
    /// How long codereuse-30seconds waits.
    pub codereuse_wait: Duration,
    /// The longest one module may take.
    pub module_timeout: Duration,
    /// How many modules run at once (each has its own browser).
    pub concurrency: usize,
}

impl Config {
    /// A configuration with the suite's defaults and no clients.
    pub fn new(
        issuer: impl Into<String>,
        username: impl Into<String>,
        password: impl Into<String>,
    ) -> Self {
        Self {
            issuer: issuer.into(),
            ca_pem: None,
            client: None,
            client2: None,
            post_client: None,
            redirect_uri: DEFAULT_REDIRECT_URI.into(),
            user: User {
                username: username.into(),
                password: password.into(),
                form: LoginForm::default(),
            },
            dynamic: false,
            client_auth: None,
            form_post: false,
            response_type: "code".into(),
            registration_token: None,
            login_hint: None,
            ui_locales: "se".into(),
            acr_values: None,
            host_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            host_base: None,
            host_tls: None,
            jwks_refresh_delay: Duration::from_secs(60),
            rotate_keys: None,
            rotation_wait: Duration::from_secs(60),
            backchannel_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            backchannel_base: None,
            backchannel_wait: Duration::from_secs(30),
            codereuse_wait: Duration::from_secs(30),
            module_timeout: Duration::from_secs(180),
            concurrency: 1,
        }
    }
}

/// The redirect URI the harness uses unless told otherwise: shaped like the suite's
/// `https://<suite>/test/a/<alias>/callback`, never contacted.
pub const DEFAULT_REDIRECT_URI: &str = "https://127.0.0.1:8443/test/a/poort/callback";

/// What the modules of one run share: the HTTP client, the harness's own client key, the
/// document host and the back-channel logout listener (both started on first use).
pub struct Shared {
    pub cfg: Config,
    pub http: reqwest::Client,
    client_key: tokio::sync::OnceCell<(josekit::jwk::Jwk, josekit::jwk::Jwk)>,
    documents: tokio::sync::OnceCell<documents::Host>,
    backchannel: tokio::sync::OnceCell<backchannel::Listener>,
}

impl Shared {
    /// The harness's RSA key (private, public), generated once per run.
    pub async fn client_key(&self) -> Step<&(josekit::jwk::Jwk, josekit::jwk::Jwk)> {
        self.client_key
            .get_or_try_init(|| async { jose::generate_client_key() })
            .await
            .map_err(|e| Abort::Stop(format!("cannot generate the client key: {e}")))
    }

    /// The document host, started on first use.
    pub async fn documents(&self) -> Step<&documents::Host> {
        self.documents
            .get_or_try_init(|| {
                documents::Host::start(
                    self.cfg.host_listen,
                    self.cfg.host_base.clone(),
                    self.cfg.host_tls.as_ref(),
                )
            })
            .await
            .map_err(|e| Abort::Stop(format!("cannot serve the RP's documents: {e}")))
    }

    /// The back-channel logout listener, started on first use.
    pub async fn backchannel(&self) -> Step<&backchannel::Listener> {
        self.backchannel
            .get_or_try_init(|| {
                backchannel::Listener::start(self.cfg.backchannel_listen, self.cfg.backchannel_base.clone())
            })
            .await
            .map_err(|e| {
                let at = self.cfg.backchannel_listen;
                Abort::Stop(format!("cannot listen for back-channel logout tokens on {at}: {e}"))
            })
    }
}

/// One module instance: its log, its browser, the OP's metadata, and the clients it registered.
pub struct Ctx {
    pub module: &'static str,
    /// How the module's main client authenticates.
    pub auth: AuthMethod,
    pub shared: Arc<Shared>,
    pub log: Log,
    pub http: reqwest::Client,
    pub browser: Browser,
    server: Option<Arc<ServerInfo>>,
    pub(crate) registered: Vec<registration::Registered>,
}

impl Ctx {
    pub fn cfg(&self) -> &Config {
        &self.shared.cfg
    }

    /// The OP's metadata (after the setup).
    pub fn op(&self) -> Arc<ServerInfo> {
        self.server.clone().expect("the module's setup ran")
    }

    /// Replaces the OP's keys the module verifies with (after the OP rotated them).
    pub fn set_keys(&mut self, keys: Vec<serde_json::Value>) {
        let mut server = (*self.op()).clone();
        server.keys = keys;
        self.server = Some(Arc::new(server));
    }

    /// A second browser with its own jar (for checks that need a fresh user agent).
    pub fn new_browser(&self) -> Browser {
        Browser::new(self.http.clone(), self.cfg().user.clone())
    }
}

/// Runs modules against one issuer.
pub struct Runner {
    shared: Arc<Shared>,
}

impl Runner {
    pub fn new(cfg: Config) -> anyhow::Result<Self> {
        let http = browser::http_client(cfg.ca_pem.as_deref())?;
        Ok(Self {
            shared: Arc::new(Shared {
                cfg,
                http,
                client_key: tokio::sync::OnceCell::new(),
                documents: tokio::sync::OnceCell::new(),
                backchannel: tokio::sync::OnceCell::new(),
            }),
        })
    }

    pub fn config(&self) -> &Config {
        &self.shared.cfg
    }

    /// The modules of `plan` that apply to this configuration (the dynamic-only ones only with
    /// dynamic registration), in the plan's order.
    pub fn plan(&self, plan: Plan) -> Vec<&'static ModuleDef> {
        modules::plans::plan_for(plan, &self.shared.cfg.response_type, self.shared.cfg.dynamic)
    }

    /// Runs `plan`'s modules.
    pub async fn run_plan(&self, plan: Plan) -> Vec<ModuleResult> {
        self.run(&self.plan(plan)).await
    }

    /// Runs the named modules (suite names), in order; an unknown name is an error.
    pub async fn run_named(&self, names: &[&str]) -> anyhow::Result<Vec<ModuleResult>> {
        let defs = names
            .iter()
            .map(|name| {
                modules::find(name).ok_or_else(|| anyhow::anyhow!("no module named `{name}`"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(self.run(&defs).await)
    }

    /// Runs modules, `concurrency` at a time, and returns their results in the given order.
    pub async fn run(&self, defs: &[&'static ModuleDef]) -> Vec<ModuleResult> {
        let limit = Arc::new(tokio::sync::Semaphore::new(
            self.shared.cfg.concurrency.max(1),
        ));
        let mut tasks = Vec::new();
        for def in defs {
            let (shared, limit, def) = (self.shared.clone(), limit.clone(), *def);
            tasks.push(tokio::spawn(async move {
                let _permit = limit
                    .acquire_owned()
                    .await
                    .expect("the semaphore stays open");
                run_module(shared, def).await
            }));
        }
        let mut results = Vec::new();
        for (task, def) in tasks.into_iter().zip(defs) {
            results.push(task.await.unwrap_or_else(|e| {
                let mut log = Log::default();
                log.fail(format!("the module panicked: {e}"));
                ModuleResult::conclude(def.name, log, Ok(()), Duration::ZERO)
            }));
        }
        results
    }
}

async fn run_module(shared: Arc<Shared>, def: &'static ModuleDef) -> ModuleResult {
    let started = Instant::now();
    let http = shared.http.clone();
    let auth = match def.kind {
        // The run's client authentication variant replaces the default one…
        Kind::Flow {
            auth: AuthMethod::ClientSecretBasic,
            ..
        } => shared.cfg.client_auth.unwrap_or(AuthMethod::ClientSecretBasic),
        // …but not a module's own method (oidcc-server-client-secret-post).
        Kind::Flow { auth, .. } => auth,
        Kind::Config => shared.cfg.client_auth.unwrap_or(AuthMethod::ClientSecretBasic),
    };
    let mut ctx = Ctx {
        module: def.name,
        auth,
        browser: Browser::new(http.clone(), shared.cfg.user.clone()),
        http,
        log: Log::default(),
        server: None,
        registered: Vec::new(),
        shared,
    };
    let timeout = ctx.cfg().module_timeout;
    let end = match tokio::time::timeout(timeout, run_steps(&mut ctx, def)).await {
        Ok(end) => end,
        Err(_) => Err(Abort::Stop(format!(
            "the module did not finish within {}s",
            timeout.as_secs()
        ))),
    };
    registration::cleanup(&mut ctx).await;
    ModuleResult::conclude(def.name, ctx.log, end, started.elapsed())
}

async fn run_steps(ctx: &mut Ctx, def: &'static ModuleDef) -> Step {
    if let Kind::Flow { .. } = def.kind {
        if ctx.auth == AuthMethod::PrivateKeyJwt && !ctx.cfg().dynamic {
            return Err(Abort::Stop(
                "private_key_jwt needs dynamic registration (the harness registers its keys)".into(),
            ));
        }
        let issuer = ctx.cfg().issuer.clone();
        let server = discovery::setup(&mut ctx.log, &ctx.http, &issuer).await?;
        check_auth_method_advertised(&mut ctx.log, &server, ctx.auth);
        ctx.server = Some(Arc::new(server));
    }
    (def.run)(ctx).await
}

/// The suite's check of `token_endpoint_auth_methods_supported` for the module's method.
fn check_auth_method_advertised(log: &mut Log, server: &ServerInfo, auth: AuthMethod) {
    let listed = server.list("token_endpoint_auth_methods_supported");
    match auth {
        AuthMethod::ClientSecretBasic => {
            if let Some(methods) = listed {
                log.check(
                    methods.iter().any(|m| m == "client_secret_basic"),
                    Severity::Failure,
                    "token_endpoint_auth_methods_supported does not list client_secret_basic",
                );
            }
        }
        AuthMethod::ClientSecretPost | AuthMethod::PrivateKeyJwt => {
            let method = auth.as_str();
            log.check(
                listed.is_some_and(|m| m.iter().any(|m| m == method)),
                Severity::Failure,
                format!("token_endpoint_auth_methods_supported is missing or does not list {method}"),
            );
        }
    }
}
