//! `poort session list|end`: a user's live sessions, and ending one or all of them. Their grants
//! end too, and their clients' back-channel logouts are queued for a running server to deliver.

use super::output::{optional_time, print_json, print_table, time};
use crate::StartError;
use crate::accounts::{overview, sessions};
use clap::Subcommand;
use poort_config::Settings;
use serde_json::Value;

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// A user's live sessions (by id, e-mail address or user name), newest first.
    List {
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// End one session of a user (its `sid`), or all of them with --all.
    End {
        user: String,
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        sid: Option<String>,
        #[arg(long)]
        all: bool,
    },
}

pub async fn run(command: SessionCommand, settings: &Settings) -> Result<(), StartError> {
    let store = crate::open_store(settings).await?;
    let find = |key: String| {
        let store = store.clone();
        async move { overview::find(&store, &key).await?.ok_or_else(|| StartError::Usage(format!("no user `{key}`"))) }
    };
    match command {
        SessionCommand::List { user, json } => {
            let user = find(user).await?;
            let live = sessions::live(&store, &user.id).await?;
            if json {
                print_json(&Value::Array(live.iter().map(|(s, clients)| sessions::describe(s, clients)).collect()));
            } else {
                let rows: Vec<Vec<String>> = live
                    .iter()
                    .map(|(s, clients)| {
                        vec![
                            s.id.clone(),
                            s.user_agent.as_deref().and_then(sessions::device).unwrap_or_else(|| "-".into()),
                            s.ip.clone().unwrap_or_else(|| "-".into()),
                            time(s.created_at),
                            optional_time(Some(s.last_seen_at)),
                            if clients.is_empty() { "-".into() } else { clients.join(",") },
                        ]
                    })
                    .collect();
                print_table(&["SID", "DEVICE", "ADDRESS", "SIGNED IN", "LAST SEEN", "CLIENTS"], &rows);
            }
            Ok(())
        }
        SessionCommand::End { user, sid: Some(sid), .. } => {
            let user = find(user).await?;
            if !sessions::end_one_offline(&store, settings, &user.id, &sid).await? {
                return Err(StartError::Usage(format!("{} has no live session `{sid}`", user.email)));
            }
            println!("ended session {sid} of {}", user.email);
            Ok(())
        }
        SessionCommand::End { user, sid: None, .. } => {
            let user = find(user).await?;
            let (ended, revoked) = crate::logout::ended::sign_out_everywhere(&store, settings, &user.id).await?;
            println!("ended {ended} sessions of {} ({revoked} grants revoked)", user.email);
            Ok(())
        }
    }
}
