//! `poort-conformance`: runs a certification plan (or some modules) against an issuer and
//! prints `module → PASSED / WARNING / SKIPPED / FAILED (reasons)`; exits non-zero when any
//! module failed.

use clap::Parser;
use poort_conformance::browser::LoginForm;
use poort_conformance::{AuthMethod, ClientCreds, Config, Plan, Runner, Status, render_table};
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
    /// basic, config, rp-logout, implicit, hybrid, frontchannel-logout, backchannel-logout,
    /// session-management, or all (config, basic and rp-logout).
    #[arg(long, default_value = "all")]
    plan: Plan,
    /// Run only these modules (suite names; repeatable).
    #[arg(long = "module")]
    modules: Vec<String>,
    /// Register a client per module at the registration endpoint (adds the dynamic-only modules).
    #[arg(long)]
    dynamic: bool,
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
    /// Where to serve request objects for request_uri (dynamic).
    #[arg(long, default_value = "127.0.0.1:0")]
    request_uri_listen: std::net::SocketAddr,
    /// The URL the OP reaches that listener at (default http://<listen address>).
    #[arg(long)]
    request_uri_base: Option<String>,
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
    cfg.request_uri_listen = args.request_uri_listen;
    cfg.request_uri_base = args.request_uri_base;
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
