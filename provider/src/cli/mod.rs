//! The `poort` command line: `serve`, `migrate`, `check-config`, and the administration
//! commands for keys, users, clients, connectors, roles, terms of service, sessions and
//! back-channel logout deliveries. Every command reads the same configuration as the server and
//! talks to the same database; output a script would parse has a `--json` form.

mod clients;
mod connectors;
mod keys;
mod logout;
pub(crate) mod output;
mod roles;
mod sessions;
mod terms;
mod users;

use crate::StartError;
use clap::{Parser, Subcommand};
use poort_config::Settings;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "poort", version, about = "Poort, an OpenID Connect provider")]
pub struct Cli {
    /// Configuration file (TOML). Defaults to $POORT_CONFIG; without either, the built-in
    /// defaults apply. POORT__SECTION__KEY environment variables override both.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the provider.
    Serve,
    /// Bring the database schema up to date, then exit.
    Migrate,
    /// Validate the configuration without starting.
    CheckConfig {
        /// Print the effective settings as JSON (secrets hidden).
        #[arg(long)]
        json: bool,
    },
    /// Signing keys.
    #[command(subcommand)]
    Keys(keys::KeysCommand),
    /// User accounts.
    #[command(subcommand)]
    User(users::UserCommand),
    /// Registered clients (relying parties).
    #[command(subcommand)]
    Client(clients::ClientCommand),
    /// Upstream sign-in connectors (federation).
    #[command(subcommand)]
    Connector(connectors::ConnectorCommand),
    /// Roles and the permissions they grant.
    #[command(subcommand)]
    Role(roles::RoleCommand),
    /// Terms of service users accept before signing in to clients that require them.
    #[command(subcommand)]
    Terms(terms::TermsCommand),
    /// Users' browser sessions: list them, end them.
    #[command(subcommand)]
    Session(sessions::SessionCommand),
    /// The back-channel logout outbox: where each delivery stands, retrying failed ones.
    #[command(subcommand)]
    LogoutDeliveries(logout::LogoutDeliveriesCommand),
}

/// Parses the command line, runs the command, and turns any failure into one line on stderr
/// and a non-zero exit.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve) {
        restore_default_sigpipe();
    }
    crate::password::release_hashing_memory_promptly();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("poort: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(execute(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("poort: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn execute(cli: Cli) -> Result<(), StartError> {
    let (settings, source) = poort_config::load(cli.config.as_deref()).map_err(StartError::Config)?;
    crate::telemetry::init(&settings.log);
    match cli.command {
        Command::Serve => {
            install_crypto_provider();
            crate::server::serve(settings).await
        }
        Command::Migrate => {
            let store = crate::open_store(&settings).await?;
            let applied = store.applied_migrations().await?;
            println!("database is up to date ({} migrations applied)", applied.len());
            Ok(())
        }
        Command::CheckConfig { json } => {
            check_config(&settings, &source, json);
            Ok(())
        }
        Command::Keys(command) => keys::run(command, &settings).await,
        Command::User(command) => users::run(command, &settings).await,
        Command::Client(command) => clients::run(command, &settings).await,
        Command::Connector(command) => connectors::run(command, &settings).await,
        Command::Role(command) => roles::run(command, &settings).await,
        Command::Terms(command) => terms::run(command, &settings).await,
        Command::Session(command) => sessions::run(command, &settings).await,
        Command::LogoutDeliveries(command) => logout::run(command, &settings).await,
    }
}

/// Rust ignores SIGPIPE, so printing into a closed pipe (`poort user list | head`) would panic.
/// The administration commands behave like other command-line tools instead: they end quietly.
/// (The server keeps ignoring it: a client closing its socket must not end the process.)
fn restore_default_sigpipe() {
    #[cfg(unix)]
    // SAFETY: called before any thread is started; setting a signal's disposition to its
    // default is async-signal-safe and has no other effect.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// rustls needs one process-wide crypto provider; ring is the one the whole graph uses.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn check_config(settings: &Settings, source: &poort_config::Source, json: bool) {
    if json {
        let mut shown = serde_json::to_value(settings).unwrap_or_default();
        redact(&mut shown);
        output::print_json(&serde_json::json!({
            "valid": true,
            "file": source.file,
            "environment_overrides": source.env_keys,
            "issuer": settings.issuer_string(),
            "settings": shown,
        }));
        return;
    }
    match &source.file {
        Some(file) => println!("configuration file: {}", file.display()),
        None => println!("configuration file: none (built-in defaults)"),
    }
    if !source.env_keys.is_empty() {
        println!("environment overrides: {}", source.env_keys.join(", "));
    }
    println!("issuer: {}", settings.issuer_string());
    println!("database: {}", if settings.uses_sqlite() { "SQLite" } else { "PostgreSQL" });
    println!("the configuration is valid");
}

/// Hides every secret in a settings dump.
fn redact(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                if (key.contains("secret") || key.contains("password")) && !value.is_null() {
                    *value = serde_json::Value::String("***".into());
                } else if key == "database_url" {
                    if let Some(url) = value.as_str().and_then(|u| url::Url::parse(u).ok())
                        && url.password().is_some()
                    {
                        let mut url = url;
                        let _ = url.set_password(Some("***"));
                        *value = serde_json::Value::String(url.to_string());
                    }
                } else {
                    redact(value);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_secrets_and_database_passwords() {
        let mut value = serde_json::json!({
            "keys": { "encryption_secret": "topsecret" },
            "mail": { "smtp": { "password": "hunter2", "host": "mail" } },
            "storage": { "database_url": "postgres://poort:pw@db/poort" },
            "clients": [{ "client_id": "a", "client_secret": "s3cret-s3cret-s3cret" }],
        });
        redact(&mut value);
        let text = value.to_string();
        for secret in ["topsecret", "hunter2", ":pw@", "s3cret"] {
            assert!(!text.contains(secret), "{secret} leaked in {text}");
        }
        assert!(text.contains("\"host\":\"mail\""));
    }
}
