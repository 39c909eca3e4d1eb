//! Poort, the OpenID Connect provider: the axum application, its endpoints, keys and the
//! `poort` command line. `main.rs` only calls [`cli::run`].

pub mod account;
pub mod accounts;
pub mod admin;
pub mod app;
pub mod authorize;
pub mod check_session;
pub mod claims;
pub mod cli;
pub mod clients;
pub mod crypto;
pub mod discovery;
pub mod federation;
pub mod health;
pub mod introspection;
pub mod jwks;
pub mod keys;
pub mod logout;
pub mod mail;
pub mod metrics;
pub mod oauth;
pub mod password;
pub mod password_policy;
pub mod published;
pub mod purge;
pub mod registration;
pub mod revocation;
pub mod routes;
pub mod secrets;
pub mod server;
pub mod session;
pub mod state;
pub mod telemetry;
pub mod terms;
pub mod token;
pub mod tokens;
pub mod userinfo;
pub mod web;

use poort_config::{ConfigError, Settings};
use poort_storage::{StorageError, Store};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Why Poort could not start (or a command could not run): always one line an operator can act on.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{0}")]
    Config(ConfigError),
    #[error("cannot create the data folder {0}: {1}")]
    DataDir(PathBuf, std::io::Error),
    #[error("{0}")]
    Storage(#[from] StorageError),
    #[error("{0}")]
    Keys(keys::KeyError),
    #[error("cannot register the configured clients: {0}")]
    Clients(StorageError),
    #[error("{0}")]
    Connectors(String),
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error("{0}")]
    Tls(String),
    #[error("{0}")]
    Theme(String),
    #[error("cannot set up mail: {0}")]
    Mail(String),
    #[error("{0}")]
    Usage(String),
    #[error("internal error: {0}")]
    Internal(String),
}

/// Opens the configured database (creating the SQLite data folder when needed) and migrates it.
pub async fn open_store(settings: &Settings) -> Result<Store, StartError> {
    if settings.uses_sqlite() {
        let dir = &settings.storage.data_dir;
        std::fs::create_dir_all(dir).map_err(|e| StartError::DataDir(dir.clone(), e))?;
        check_writable(dir).map_err(|e| StartError::DataDir(dir.clone(), e))?;
    }
    let store = Store::connect(&settings.database_url(), settings.storage.max_connections).await?;
    store.migrate().await?;
    Ok(store)
}

/// SQLite reports a read-only folder late and vaguely; find out up front. The probe's name is
/// unique, so commands running at once on one folder do not trip over each other's probes.
fn check_writable(dir: &std::path::Path) -> std::io::Result<()> {
    let probe = dir.join(format!(".poort-write-check-{}-{}", std::process::id(), crypto::random_token()));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(&probe)
}
