//! `poort logout-deliveries list|retry`: the back-channel logout outbox — where each delivery
//! stands, and putting a failed one back in the queue (a running server delivers it).

use super::output::{optional_time, print_json, print_table, time};
use crate::StartError;
use crate::logout::backchannel;
use clap::Subcommand;
use poort_config::Settings;
use poort_storage::repo::DeliveryStatus;
use serde_json::Value;

#[derive(Debug, Subcommand)]
pub enum LogoutDeliveriesCommand {
    /// Deliveries, newest first (finished ones are kept 7 days).
    List {
        /// Only those pending, delivered or failed.
        #[arg(long, value_parser = ["pending", "delivered", "failed"])]
        status: Option<String>,
        #[arg(long, default_value_t = 0)]
        offset: u64,
        #[arg(long, default_value_t = 100)]
        limit: u64,
        #[arg(long)]
        json: bool,
    },
    /// Try a failed delivery again.
    Retry { id: String },
}

pub async fn run(command: LogoutDeliveriesCommand, settings: &Settings) -> Result<(), StartError> {
    let store = crate::open_store(settings).await?;
    match command {
        LogoutDeliveriesCommand::List { status, offset, limit, json } => {
            let status = status.map(|s| s.parse::<DeliveryStatus>()).transpose().map_err(|e| StartError::Usage(e.to_string()))?;
            let deliveries = store.logout_deliveries().list(status, offset, limit).await?;
            if json {
                print_json(&Value::Array(deliveries.iter().map(backchannel::describe).collect()));
            } else {
                let rows: Vec<Vec<String>> = deliveries
                    .iter()
                    .map(|d| {
                        vec![
                            d.id.clone(),
                            d.status.to_string(),
                            d.client_id.clone(),
                            d.attempts.to_string(),
                            time(d.created_at),
                            match d.status {
                                DeliveryStatus::Pending => time(d.next_attempt_at),
                                _ => optional_time(d.finished_at),
                            },
                            d.last_error.clone().unwrap_or_else(|| "-".into()),
                        ]
                    })
                    .collect();
                print_table(&["ID", "STATUS", "CLIENT", "ATTEMPTS", "QUEUED", "NEXT/FINISHED", "LAST ERROR"], &rows);
            }
            Ok(())
        }
        LogoutDeliveriesCommand::Retry { id } => {
            let Some(delivery) = store.logout_deliveries().get(&id).await? else {
                return Err(StartError::Usage(format!("no logout delivery `{id}`")));
            };
            if !store.logout_deliveries().retry_failed(&id).await? {
                return Err(StartError::Usage(format!("delivery `{id}` is {}, not failed", delivery.status)));
            }
            println!("delivery {id} to {} is queued again", delivery.client_id);
            Ok(())
        }
    }
}
