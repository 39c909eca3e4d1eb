//! `poort keys list|rotate`.

use super::output::{optional_time, print_json, print_table, time};
use crate::StartError;
use crate::keys::{KeyPolicy, rotate_now};
use clap::Subcommand;
use poort_config::Settings;
use poort_storage::now;
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List every signing key with its state.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Create new signing keys that sign from now on; the old ones stay published until every
    /// token they signed has expired.
    Rotate {
        /// Rotate only this algorithm (default: every configured one).
        #[arg(long)]
        alg: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(command: KeysCommand, settings: &Settings) -> Result<(), StartError> {
    let store = crate::open_store(settings).await?;
    match command {
        KeysCommand::List { json } => {
            let at = now();
            let keys = store.keys().all().await?;
            let state = |k: &poort_storage::repo::SigningKeyRecord| {
                if !k.is_published(at) {
                    "removed"
                } else if k.signs_at(at) {
                    "signing"
                } else if k.active_from > at {
                    "pre-published"
                } else {
                    "retired (published)"
                }
            };
            if json {
                let rows: Vec<_> = keys
                    .iter()
                    .map(|k| {
                        json!({
                            "kid": k.kid, "alg": k.alg, "state": state(k),
                            "created_at": time(k.created_at), "active_from": time(k.active_from),
                            "retired_at": k.retired_at.map(time), "unpublish_at": k.unpublish_at.map(time),
                        })
                    })
                    .collect();
                print_json(&json!(rows));
            } else {
                let rows: Vec<Vec<String>> = keys
                    .iter()
                    .map(|k| {
                        vec![
                            k.kid.clone(),
                            k.alg.clone(),
                            state(k).into(),
                            time(k.active_from),
                            optional_time(k.retired_at),
                            optional_time(k.unpublish_at),
                        ]
                    })
                    .collect();
                print_table(&["KID", "ALG", "STATE", "ACTIVE FROM", "RETIRED", "UNPUBLISHED"], &rows);
            }
            Ok(())
        }
        KeysCommand::Rotate { alg, json } => {
            let policy = KeyPolicy::from_settings(settings);
            if let Some(alg) = &alg
                && !policy.algorithms.contains(alg)
            {
                return Err(StartError::Usage(format!(
                    "`{alg}` is not a configured signing algorithm ({})",
                    policy.algorithms.join(", ")
                )));
            }
            let created = rotate_now(&store, &policy, alg.as_deref()).await.map_err(StartError::Keys)?;
            if json {
                print_json(&json!({ "created": created }));
            } else {
                for kid in &created {
                    println!("new signing key {kid}");
                }
                println!("running nodes pick the new keys up within 30 seconds (at once after SIGHUP)");
            }
            Ok(())
        }
    }
}
