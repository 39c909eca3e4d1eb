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
//!
//! A passive checkpoint never starts the log afresh, though. SQLite does that at the start of a
//! write once everything in the log has been copied, and under steady writes the writer always
//! commits again before a checkpoint has caught up: the log file grew by about 80 MB a second
//! under the benchmark's code flows, without end. So once the log holds more than
//! [`RESTART_PAST_FRAMES`], the checkpoint after the passive one is a `RESTART`: it waits for
//! the writer's lock, copies the few frames committed meanwhile, and waits for the readers to
//! leave the log, after which the next write starts it again from the beginning (and cuts the
//! file back to the `journal_size_limit`).

use sea_orm::sqlx::sqlite::SqliteConnectOptions;
use sea_orm::sqlx::{ConnectOptions as _, SqliteConnection};
use std::str::FromStr as _;
use std::time::Duration;

/// Log frames (pages) past which a checkpoint also restarts the log: 16,384 pages of 4 KiB,
/// the 64 MiB of `journal_size_limit`. Often enough that the log stays a bounded file, seldom
/// enough that the writer rarely waits for it.
pub(crate) const RESTART_PAST_FRAMES: i64 = 16_384;

/// Checkpoints the database at `url` every `every` until the process ends, restarting the log
/// once it holds more than `restart_past` frames.
pub(crate) async fn run(url: String, every: Duration, restart_past: i64) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut connection: Option<SqliteConnection> = None;
    let mut failing = false;
    loop {
        ticker.tick().await;
        let outcome = match connection.as_mut() {
            Some(open) => checkpoint(open, restart_past).await,
            None => match open(&url).await {
                Ok(opened) => checkpoint(connection.insert(opened), restart_past).await,
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
        // Only the `RESTART` checkpoint waits, for the writer's lock and then, holding it, for
        // the readers: never long enough to stall the writes behind it. A busy restart is
        // tried again at the next tick.
        .busy_timeout(Duration::from_millis(100))
        .disable_statement_logging()
        .connect()
        .await
}

async fn checkpoint(connection: &mut SqliteConnection, restart_past: i64) -> Result<(), sea_orm::sqlx::Error> {
    use sea_orm::sqlx::query_as;
    // (busy, frames in the log, frames copied): a busy checkpoint is no error, it tries again.
    let (_, in_log, _): (i64, i64, i64) = query_as("PRAGMA wal_checkpoint(PASSIVE)").fetch_one(&mut *connection).await?;
    if in_log > restart_past {
        query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(RESTART)").fetch_one(connection).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::run;
    use std::time::Duration;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn under_steady_writes_the_log_is_restarted_and_its_file_stays_bounded() {
        const COMMITS: usize = 3_000;
        const ROW_BYTES: i64 = 3_000;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("load.db");
        let log = dir.path().join("load.db-wal");
        let writer = rusqlite::Connection::open(&path).unwrap();
        // Only the checkpointer copies the log back, as on a server's writer connection.
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0; \
                 CREATE TABLE load (n INTEGER PRIMARY KEY, filler BLOB);",
            )
            .unwrap();
        let checkpointer = tokio::spawn(run(format!("sqlite://{}", path.display()), Duration::from_millis(5), 256));
        let largest_log = tokio::task::spawn_blocking(move || {
            let mut largest = 0;
            for _ in 0..COMMITS {
                // A page a row: each commit adds at least one frame to the log.
                writer.execute("INSERT INTO load (filler) VALUES (zeroblob(?1))", [ROW_BYTES]).unwrap();
                largest = largest.max(std::fs::metadata(&log).map_or(0, |m| m.len()));
                // A server's writer leaves gaps between its batches; this one a tenth of a millisecond.
                std::thread::sleep(Duration::from_micros(100));
            }
            largest
        })
        .await
        .unwrap();
        checkpointer.abort();
        let written = COMMITS as u64 * ROW_BYTES as u64;
        // Without the restarts the log holds every commit since the test began: more than `written`.
        assert!(largest_log < written / 2, "the log file grew to {largest_log} bytes for {written} bytes of rows");
    }
}
