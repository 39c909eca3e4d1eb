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
pub mod flow;
pub mod html;
pub mod jose;
pub mod modules;
pub mod random;
pub mod registration;
pub mod report;
pub mod requesturi;

use browser::{Browser, LoginForm, User};
use discovery::ServerInfo;
use report::{Abort, Log, ModuleResult, Step};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use modules::{Kind, ModuleDef, Plan};
pub use report::{Severity, Status, render_table};

/// How a client authenticates at the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
}

impl AuthMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
        }
    }
}

/// A client's credentials.
#[derive(Clone, Debug)]
pub struct ClientCreds {
    pub id: String,
    pub secret: String,
    pub auth: AuthMethod,
}

impl ClientCreds {
    pub fn new(id: impl Into<String>, secret: impl Into<String>, auth: AuthMethod) -> Self {
        Self {
            id: id.into(),
            secret: secret.into(),
            auth,
        }
    }
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
    /// `client_registration=dynamic_client`); enables the three dynamic-only Basic modules.
    pub dynamic: bool,
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
    /// Where the harness serves request objects for `request_uri` (dynamic only).
    pub request_uri_listen: SocketAddr,
    /// The URL the OP reaches that listener at (default `http://<listen address>`).
    pub request_uri_base: Option<String>,
    /// Where the harness listens for back-channel logout tokens (`B/backchannel_logout`).
    pub backchannel_listen: SocketAddr,
    /// The URL the OP reaches that listener at (default `http://<listen address>`).
    pub backchannel_base: Option<String>,
    /// How long backchannel-rp-initiated-logout waits for the OP's POST after the logout.
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
            form_post: false,
            response_type: "code".into(),
            registration_token: None,
            login_hint: None,
            ui_locales: "se".into(),
            acr_values: None,
            request_uri_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            request_uri_base: None,
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
/// request-object host and the back-channel logout listener (both started on first use).
pub struct Shared {
    pub cfg: Config,
    pub http: reqwest::Client,
    client_key: tokio::sync::OnceCell<(josekit::jwk::Jwk, josekit::jwk::Jwk)>,
    request_uris: tokio::sync::OnceCell<requesturi::Host>,
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

    /// The request-object host, started on first use.
    pub async fn request_uris(&self) -> Step<&requesturi::Host> {
        self.request_uris
            .get_or_try_init(|| {
                requesturi::Host::start(
                    self.cfg.request_uri_listen,
                    self.cfg.request_uri_base.clone(),
                )
            })
            .await
            .map_err(|e| Abort::Stop(format!("cannot serve request objects: {e}")))
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
                request_uris: tokio::sync::OnceCell::new(),
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
    let mut ctx = Ctx {
        module: def.name,
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
    if let Kind::Flow { auth, .. } = def.kind {
        let issuer = ctx.cfg().issuer.clone();
        let server = discovery::setup(&mut ctx.log, &ctx.http, &issuer).await?;
        check_auth_method_advertised(&mut ctx.log, &server, auth);
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
        AuthMethod::ClientSecretPost => {
            log.check(
                listed.is_some_and(|m| m.iter().any(|m| m == "client_secret_post")),
                Severity::Failure,
                "token_endpoint_auth_methods_supported is missing or does not list client_secret_post",
            );
        }
    }
}
