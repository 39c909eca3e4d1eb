//! `poort-conformance`: runs a certification plan (or some of its modules) against an issuer
//! and prints `module → PASSED / WARNING / SKIPPED / FAILED (reasons)`; exits non-zero when any
//! module failed.

use clap::Parser;
use poort_conformance::browser::LoginForm;
use poort_conformance::{
    AuthMethod, ClientCreds, Config, HostTls, OperatorAction, Plan, Runner, Status, render_table,
};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(
    name = "poort-conformance",
    about = "OpenID Foundation certification plans for OpenID Providers, black-box, against any issuer"
)]
struct Args {
    /// The issuer (discovery at <issuer>/.well-known/openid-configuration).
    #[arg(long)]
    issuer: String,
    /// Extra trusted root certificate(s), PEM (for a test CA).
    #[arg(long)]
    ca_file: Option<std::path::PathBuf>,
    /// The main client (client_secret_basic).
    #[arg(long)]
    client_id: Option<String>,
    #[arg(long)]
    client_secret: Option<String>,
    /// A second, distinct client (oidcc-refresh-token).
    #[arg(long)]
    client2_id: Option<String>,
    #[arg(long)]
    client2_secret: Option<String>,
    /// A client_secret_post client (default: the main client, authenticating with client_secret_post).
    #[arg(long)]
    post_client_id: Option<String>,
    #[arg(long)]
    post_client_secret: Option<String>,
    /// The redirect URI registered for the clients (never contacted).
    #[arg(long, default_value = poort_conformance::DEFAULT_REDIRECT_URI)]
    redirect_uri: String,
    /// The test user.
    #[arg(long)]
    username: String,
    #[arg(long, env = "POORT_CONFORMANCE_PASSWORD", hide_env_values = true)]
    password: String,
    /// The login form's field names.
    #[arg(long, default_value = "username")]
    username_field: String,
    #[arg(long, default_value = "password")]
    password_field: String,
    /// basic, config, rp-logout, implicit, hybrid, dynamic, frontchannel-logout, backchannel-logout,
    /// session-management, or all (config, basic and rp-logout).
    #[arg(long, default_value = "all")]
    plan: Plan,
    /// Run only these modules (suite names; repeatable).
    #[arg(long = "module")]
    modules: Vec<String>,
    /// Register a client per module at the registration endpoint (adds the dynamic-only modules;
    /// implied by --plan dynamic).
    #[arg(long)]
    dynamic: bool,
    /// How the modules' clients authenticate: client_secret_basic, client_secret_post or
    /// private_key_jwt (default: each module's own; private_key_jwt for --plan dynamic).
    #[arg(long)]
    client_auth: Option<AuthMethod>,
    /// Add response_mode=form_post to every authorization request (the Form Post plans).
    #[arg(long)]
    form_post: bool,
    /// The response type of every authorization request: code, or for the implicit plan
    /// "id_token" / "id_token token", for the hybrid plan "code id_token", "code token" or
    /// "code id_token token".
    #[arg(long, default_value = "code")]
    response_type: String,
    /// Initial access token for dynamic registration.
    #[arg(long)]
    registration_token: Option<String>,
    /// login_hint for oidcc-login-hint (default buffy@<issuer host>).
    #[arg(long)]
    login_hint: Option<String>,
    /// ui_locales for oidcc-ui-locales.
    #[arg(long, default_value = "se")]
    ui_locales: String,
    /// acr_values when discovery advertises none.
    #[arg(long)]
    acr_values: Option<String>,
    /// Where to serve what the RP publishes (request objects, key sets, sector documents).
    #[arg(long, default_value = "127.0.0.1:0")]
    host_listen: std::net::SocketAddr,
    /// The URL the OP reaches that listener at (default https://<listen address> with
    /// --host-cert, else http://…).
    #[arg(long)]
    host_base: Option<String>,
    /// Serve those documents over https with this certificate (PEM) …
    #[arg(long, requires = "host_key")]
    host_cert: Option<std::path::PathBuf>,
    /// … and this private key (PEM).
    #[arg(long, requires = "host_cert")]
    host_key: Option<std::path::PathBuf>,
    /// Seconds oidcc-refresh-token-rp-key-rotation waits before using the RP's new key (at
    /// least 1).
    #[arg(long, default_value_t = 60)]
    jwks_refresh_delay: u64,
    /// A shell command that rotates the OP's signing keys, for oidcc-server-rotate-keys (e.g.
    /// `poort keys rotate && kill -HUP <pid>`); without it, rotate them by hand while the module
    /// waits.
    #[arg(long)]
    rotate_command: Option<String>,
    /// Seconds oidcc-server-rotate-keys waits for a new key in the JWKS.
    #[arg(long, default_value_t = 60)]
    rotation_wait: u64,
    /// Where to listen for back-channel logout tokens; static clients register
    /// http://<this address>/backchannel_logout (or <--backchannel-base>/backchannel_logout).
    #[arg(long, default_value = "127.0.0.1:0")]
    backchannel_listen: std::net::SocketAddr,
    /// The URL the OP reaches that listener at (default http://<listen address>).
    #[arg(long)]
    backchannel_base: Option<String>,
    /// Seconds to wait for the OP's back-channel logout request after a logout.
    #[arg(long, default_value_t = 30)]
    backchannel_wait: u64,
    /// Modules run at once.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Seconds oidcc-codereuse-30seconds waits.
    #[arg(long, default_value_t = 30)]
    codereuse_wait: u64,
    /// Print every finding, not only the reasons.
    #[arg(long, short)]
    verbose: bool,
}

fn client(id: Option<String>, secret: Option<String>, auth: AuthMethod) -> Option<ClientCreds> {
    id.map(|id| ClientCreds::new(id, secret.unwrap_or_default(), auth))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mut cfg = Config::new(args.issuer, args.username, args.password);
    if let Some(path) = &args.ca_file {
        match std::fs::read(path) {
            Ok(pem) => cfg.ca_pem = Some(pem),
            Err(e) => {
                eprintln!("cannot read {}: {e}", path.display());
                return ExitCode::from(2);
            }
        }
    }
    cfg.client = client(
        args.client_id,
        args.client_secret,
        AuthMethod::ClientSecretBasic,
    );
    cfg.client2 = client(
        args.client2_id,
        args.client2_secret,
        AuthMethod::ClientSecretBasic,
    );
    cfg.post_client = client(
        args.post_client_id,
        args.post_client_secret,
        AuthMethod::ClientSecretPost,
    );
    cfg.redirect_uri = args.redirect_uri;
    cfg.user.form = LoginForm {
        username_field: args.username_field,
        password_field: args.password_field,
    };
    cfg.dynamic = args.dynamic;
    cfg.form_post = args.form_post;
    cfg.response_type = args.response_type;
    cfg.registration_token = args.registration_token;
    cfg.login_hint = args.login_hint;
    cfg.ui_locales = args.ui_locales;
    cfg.acr_values = args.acr_values;
    cfg.host_listen = args.host_listen;
    cfg.host_base = args.host_base;
    if let (Some(cert), Some(key)) = (&args.host_cert, &args.host_key) {
        match (std::fs::read(cert), std::fs::read(key)) {
            (Ok(cert_pem), Ok(key_pem)) => cfg.host_tls = Some(HostTls { cert_pem, key_pem }),
            (Err(e), _) | (_, Err(e)) => {
                eprintln!("cannot read --host-cert or --host-key: {e}");
                return ExitCode::from(2);
            }
        }
    }
    cfg.jwks_refresh_delay = Duration::from_secs(args.jwks_refresh_delay.max(1));
    cfg.rotate_keys = args.rotate_command.map(OperatorAction::shell);
    cfg.rotation_wait = Duration::from_secs(args.rotation_wait);
    cfg.client_auth = args.client_auth;
    if args.plan == Plan::Dynamic {
        // The plan's fixed variants: dynamic registration and private_key_jwt.
        cfg.dynamic = true;
        cfg.client_auth.get_or_insert(AuthMethod::PrivateKeyJwt);
    }
    cfg.backchannel_listen = args.backchannel_listen;
    cfg.backchannel_base = args.backchannel_base;
    cfg.backchannel_wait = Duration::from_secs(args.backchannel_wait);
    cfg.concurrency = args.concurrency;
    cfg.codereuse_wait = Duration::from_secs(args.codereuse_wait);
    if cfg.client.is_none() && !cfg.dynamic {
        eprintln!("give --client-id/--client-secret, or --dynamic to register clients");
        return ExitCode::from(2);
    }
    let runner = match Runner::new(cfg) {
        Ok(runner) => runner,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let results = if args.modules.is_empty() {
        runner.run_plan(args.plan).await
    } else {
        let names: Vec<&str> = args.modules.iter().map(String::as_str).collect();
        match runner.run_named(&names).await {
            Ok(results) => results,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::from(2);
            }
        }
    };
    print!("{}", render_table(&results));
    if args.verbose {
        for result in &results {
            println!("\n{} — {}", result.module, result.status);
            for finding in &result.findings {
                println!("  [{:?}] {}", finding.severity, finding.message);
            }
        }
    }
    if results.iter().any(|r| r.status == Status::Failed) {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
