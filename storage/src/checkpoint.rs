//! Checkpoints of SQLite's write-ahead log on a connection of their own.
//!
//! SQLite appends every commit to its log, and by default the commit that takes the log past
//! 1,000 pages also copies the log back into the database file and syncs it, while the
//! transactions queued behind it wait: tens of milliseconds at the tail of the latencies. A
//! server instead runs passive checkpoints on this separate connection a few times a second;
//! they copy what they can without ever blocking the writer, and pages written many times
//! between two checkpoints (the ends of the indexes new rows go to) are copied once. The
//! writer's own automatic checkpoint stays as a backstop at a larger size (see
//! [`crate::Store::connect`]).

use sea_orm::sqlx::sqlite::SqliteConnectOptions;
use sea_orm::sqlx::{ConnectOptions as _, SqliteConnection};
use std::str::FromStr as _;
use std::time::Duration;

/// Checkpoints the database at `url` every `every` until the process ends.
pub(crate) async fn run(url: String, every: Duration) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut connection: Option<SqliteConnection> = None;
    let mut failing = false;
    loop {
        ticker.tick().await;
        let outcome = match connection.as_mut() {
            Some(open) => checkpoint(open).await,
            None => match open(&url).await {
                Ok(opened) => checkpoint(connection.insert(opened)).await,
                Err(error) => Err(error),
            },
        };
        match outcome {
            Ok(()) if failing => {
                failing = false;
                tracing::info!("checkpoints of the SQLite log work again");
            }
            Ok(()) => {}
            Err(error) => {
                // Logged once per outage; the writer's automatic checkpoint still runs.
                if !failing {
                    tracing::warn!(%error, "checkpointing the SQLite log failed; will retry");
                }
                failing = true;
                connection = None;
            }
        }
    }
}

async fn open(url: &str) -> Result<SqliteConnection, sea_orm::sqlx::Error> {
    SqliteConnectOptions::from_str(url)?
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(1))
        .disable_statement_logging()
        .connect()
        .await
}

async fn checkpoint(connection: &mut SqliteConnection) -> Result<(), sea_orm::sqlx::Error> {
    sea_orm::sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(connection).await.map(drop)
}
