//! `poort terms publish|list`: versions of the terms of service, deployment-wide or for one
//! client. Publishing a version makes it current at once: users of clients that require terms
//! are asked to accept it at their next sign-in.

use super::output::{print_json, print_table, time};
use crate::StartError;
use clap::Subcommand;
use poort_config::Settings;
use poort_storage::repo::TermsVersion;
use poort_storage::{StorageError, Store};
use serde_json::{Value, json};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The largest text accepted (a terms page is read by people, not a book).
const MAX_TEXT_BYTES: usize = 256 * 1024;

#[derive(Debug, Subcommand)]
pub enum TermsCommand {
    /// Publish a new version (it becomes the current one).
    Publish {
        /// A label users see, such as 2025-03 or 2.1; unique per client (or deployment-wide).
        #[arg(long)]
        version: String,
        /// The text, as UTF-8 plain text; blank lines separate paragraphs. `-` reads standard input.
        #[arg(long, value_name = "TEXT")]
        file: PathBuf,
        /// Publish for this client only; its own terms win over the deployment-wide ones.
        #[arg(long = "client", value_name = "ID")]
        client_id: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List published versions, newest first: deployment-wide and every client's (or one client's).
    List {
        #[arg(long = "client", value_name = "ID")]
        client_id: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: TermsCommand, settings: &Settings) -> Result<(), StartError> {
    let store = crate::open_store(settings).await?;
    match command {
        TermsCommand::Publish { version, file, client_id, json } => {
            let version = version.trim();
            if version.is_empty() || version.len() > 64 {
                return Err(StartError::Usage("--version must have 1 to 64 characters".into()));
            }
            let text = read_text(&file)?;
            if let Some(id) = &client_id
                && store.clients().get(id).await?.is_none()
            {
                return Err(StartError::Usage(format!("no client `{id}`")));
            }
            let published = match store.terms().publish(client_id.as_deref(), version, &text).await {
                Ok(published) => published,
                Err(StorageError::Conflict(what)) => return Err(StartError::Usage(format!("{what} is already published"))),
                Err(error) => return Err(error.into()),
            };
            if json {
                print_json(&describe(&published, true));
            } else {
                let paragraphs = crate::terms::paragraphs(&text).len();
                let plural = if paragraphs == 1 { "" } else { "s" };
                println!("published {} ({paragraphs} paragraph{plural})", scope_label(&published));
            }
            Ok(())
        }
        TermsCommand::List { client_id, json } => {
            let versions = list(&store, client_id.as_deref()).await?;
            if json {
                print_json(&Value::Array(versions.iter().map(|(v, current)| describe(v, *current)).collect()));
            } else {
                let rows: Vec<Vec<String>> = versions
                    .iter()
                    .map(|(v, current)| {
                        vec![
                            v.client_id.clone().unwrap_or_else(|| "(all clients)".into()),
                            v.version.clone(),
                            time(v.published_at),
                            if *current { "yes".into() } else { String::new() },
                        ]
                    })
                    .collect();
                print_table(&["CLIENT", "VERSION", "PUBLISHED", "CURRENT"], &rows);
            }
            Ok(())
        }
    }
}

/// The text from a file or standard input: UTF-8, not empty, not huge.
fn read_text(file: &Path) -> Result<String, StartError> {
    let mut bytes = Vec::new();
    let read = if file.as_os_str() == "-" {
        std::io::stdin().take(MAX_TEXT_BYTES as u64 + 1).read_to_end(&mut bytes)
    } else {
        std::fs::File::open(file).and_then(|f| f.take(MAX_TEXT_BYTES as u64 + 1).read_to_end(&mut bytes))
    };
    read.map_err(|e| StartError::Usage(format!("cannot read {}: {e}", file.display())))?;
    if bytes.len() > MAX_TEXT_BYTES {
        return Err(StartError::Usage(format!("{} is larger than {MAX_TEXT_BYTES} bytes", file.display())));
    }
    let text = String::from_utf8(bytes).map_err(|_| StartError::Usage(format!("{} is not UTF-8 text", file.display())))?;
    if crate::terms::paragraphs(&text).is_empty() {
        return Err(StartError::Usage(format!("{} has no text", file.display())));
    }
    Ok(text.trim().to_string())
}

/// Versions with whether each is the current one of its scope: one client's, or the
/// deployment's and then every client's.
async fn list(store: &Store, client_id: Option<&str>) -> Result<Vec<(TermsVersion, bool)>, StartError> {
    let mut scopes: Vec<Option<String>> = Vec::new();
    match client_id {
        Some(id) => scopes.push(Some(id.to_string())),
        None => {
            scopes.push(None);
            scopes.extend(store.clients().list().await?.into_iter().map(|c| Some(c.client_id)));
        }
    }
    let mut all = Vec::new();
    for scope in scopes {
        // Newest first: the first of each scope is its current version.
        let versions = store.terms().list(scope.as_deref()).await?;
        all.extend(versions.into_iter().enumerate().map(|(i, v)| (v, i == 0)));
    }
    Ok(all)
}

fn scope_label(terms: &TermsVersion) -> String {
    match &terms.client_id {
        Some(id) => format!("terms version {} for client {id}", terms.version),
        None => format!("terms version {} for all clients", terms.version),
    }
}

fn describe(terms: &TermsVersion, current: bool) -> Value {
    json!({
        "id": terms.id,
        "client_id": terms.client_id,
        "version": terms.version,
        "published_at": time(terms.published_at),
        "current": current,
        "paragraphs": crate::terms::paragraphs(&terms.body).len(),
    })
}
