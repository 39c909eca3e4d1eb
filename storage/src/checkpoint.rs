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
//! [`RESTART_PAST_FRAMES`], a `RESTART` follows: it takes the writer's lock, copies the frames
//! committed since, syncs the log and the database file, and waits for the readers to leave
//! the log, after which the next write starts it again from the beginning.
//!
//! Every write waits while the restart holds that lock, so it is made short:
//! - passive checkpoints run back to back first ([`CATCH_UP`]), each copying what was
//!   committed during the one before, so only the last few milliseconds' frames are left;
//! - the database file is synced first, outside the lock: a checkpoint that leaves frames
//!   behind does not sync it, so it held every page copied since the last restart, 20–30 ms of
//!   writing on the restart's clock;
//! - the group commit's writer is paused between two batches ([`crate::repo::group_commit::GroupCommit::gate`])
//!   instead of the restart polling SQLite's lock against it, and the writes that come
//!   meanwhile wait in its queue;
//! - what still polls (readers on older snapshots, writers outside the group commit) is tried
//!   every 0.1 ms, not after SQLite's sleeps of 1, 2, 5, 10… ms.
//!
//! Under the benchmark's `client_credentials` load (about 22,000 stored tokens a second, a
//! restart every second or so) the token endpoint's p99 went from 37–45 ms with a plain
//! `RESTART` to 4.5–6.2 ms, against 3.6 ms with no restart and a log of a gigabyte after 12 s.
//! The log file is cut back only past the `journal_size_limit` of 128 MiB, so a restart
//! normally reuses the file rather than truncating it (4–13 ms of the writer's time here).

use rusqlite::{Connection, OpenFlags};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Log frames (pages) past which a checkpoint also restarts the log: 16,384 pages of 4 KiB,
/// 64 MiB. Often enough that the log stays a bounded file, seldom enough that the writes
/// rarely wait for it.
pub(crate) const RESTART_PAST_FRAMES: i64 = 16_384;

/// Passive checkpoints run back to back before a restart: each copies what was committed
/// during the one before, so the restart, which writes wait for, has only the last few
/// milliseconds' frames to copy and sync.
const CATCH_UP: usize = 2;

/// How long the checkpointer sleeps between two tries of a lock, and how many tries it makes
/// (20–30 ms in all; Poort's own readers take milliseconds) before it gives the restart up.
const RETRY_EVERY: Duration = Duration::from_micros(100);
const TRIES: i32 = 200;

/// Ticks without a restart after one was given up. The writes wait while a restart waits for
/// the readers, so a long reader (a backup, say) must not hold them up at every tick.
const TICKS_AFTER_BUSY: u32 = 10;

/// Checkpoints the SQLite file at `path` every `every` until the process ends, restarting the
/// log once it holds more than `restart_past` frames. `batches` is the group commit's gate
/// ([`crate::repo::group_commit::GroupCommit::gate`]): held around a restart, it keeps the
/// writer's next batch waiting in its queue rather than polling SQLite's lock.
pub(crate) async fn run(path: PathBuf, every: Duration, restart_past: i64, batches: Arc<tokio::sync::Mutex<()>>) {
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut connection: Option<Connection> = None;
    let mut failing = false;
    let mut ticks_without_restart = 0;
    loop {
        ticker.tick().await;
        let restart_past = if ticks_without_restart > 0 {
            ticks_without_restart -= 1;
            i64::MAX
        } else {
            restart_past
        };
        let open_connection = match connection.take() {
            Some(open_connection) => Ok(open_connection),
            None => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || open(&path)).await.unwrap_or_else(|_| Err(stopped()))
            }
        };
        // After a failure the connection is dropped, and the next tick opens the file afresh.
        let outcome = match open_connection {
            Ok(open_connection) => checkpoint(open_connection, &path, restart_past, &batches).await.map(|(kept, restart)| {
                connection = Some(kept);
                if restart == Restart::GivenUp {
                    ticks_without_restart = TICKS_AFTER_BUSY;
                }
            }),
            Err(error) => Err(error),
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
            }
        }
    }
}

/// What came of a tick's restart.
#[derive(Debug, PartialEq, Eq)]
enum Restart {
    /// The log was short enough.
    NotNeeded,
    Done,
    /// Readers or another writer kept the locks past [`TRIES`].
    GivenUp,
}

/// A passive checkpoint, and past `restart_past` frames the restart.
async fn checkpoint(
    connection: Connection,
    path: &std::path::Path,
    restart_past: i64,
    batches: &tokio::sync::Mutex<()>,
) -> Result<(Connection, Restart), rusqlite::Error> {
    let (connection, in_log) = on_thread(connection, passive).await?;
    if in_log <= restart_past {
        return Ok((connection, Restart::NotNeeded));
    }
    let database = path.to_path_buf();
    let (connection, _) = on_thread(connection, move |c| {
        (0..CATCH_UP).try_for_each(|_| passive(c).map(drop))?;
        // A checkpoint that leaves frames behind does not sync the database file, so it holds
        // every page copied since the last restart; the restart would sync them all while the
        // writes wait (20–30 ms here). Synced now, the restart's own sync has only its last few
        // pages to write. Only that sync of SQLite's counts for durability: a failure here
        // leaves the work to it.
        let _ = std::fs::File::open(&database).and_then(|file| file.sync_data());
        Ok(())
    })
    .await?;
    let _writes_wait = batches.lock().await;
    // RESTART takes the writer's lock, copies the frames committed since the last passive
    // checkpoint, syncs, and waits for the readers to leave the log; the next write then
    // starts the log from its beginning. Its first column says whether it had to give up.
    let (connection, busy) = on_thread(connection, |c| c.query_row("PRAGMA wal_checkpoint(RESTART)", [], |row| row.get::<_, i64>(0))).await?;
    Ok((connection, if busy == 0 { Restart::Done } else { Restart::GivenUp }))
}

/// Frames in the log after a passive checkpoint, which copies what it can without waiting.
fn passive(connection: &Connection) -> Result<i64, rusqlite::Error> {
    // (busy, frames in the log, frames copied): a busy checkpoint is no error, it tries again.
    connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(1))
}

/// Runs `work` on a blocking thread, since SQLite blocks the thread it runs on, and hands the
/// connection back with its outcome.
async fn on_thread<T: Send + 'static>(
    connection: Connection,
    work: impl FnOnce(&Connection) -> Result<T, rusqlite::Error> + Send + 'static,
) -> Result<(Connection, T), rusqlite::Error> {
    tokio::task::spawn_blocking(move || work(&connection).map(|outcome| (connection, outcome)))
        .await
        .unwrap_or_else(|_| Err(stopped()))
}

/// The blocking thread was cancelled (the runtime is shutting down) or panicked.
fn stopped() -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT), Some("the checkpoint's thread stopped".into()))
}

fn open(path: &std::path::Path) -> Result<Connection, rusqlite::Error> {
    let connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    connection.busy_handler(Some(try_again_shortly))?;
    Ok(connection)
}

/// The busy handler. Only a restart waits: for the writer's lock (a write outside the group
/// commit, or another process), then, holding it, for the readers still on older snapshots.
/// SQLite's own handler sleeps 1, 2, 5, 10, 15, 20, 25 ms… between tries, holding the lock for
/// the rest of a sleep after the last reader has left; tries every 0.1 ms do not.
fn try_again_shortly(tries: i32) -> bool {
    if tries >= TRIES {
        return false;
    }
    std::thread::sleep(RETRY_EVERY);
    true
}

#[cfg(test)]
mod tests {
    use super::{Restart, checkpoint, open, run};
    use std::path::{Path, PathBuf};
    use std::time::Duration;

    const ROW_BYTES: i64 = 3_000;

    /// A database whose writer, like a server's, leaves every checkpoint to the checkpointer.
    fn database(dir: &Path) -> (PathBuf, PathBuf, rusqlite::Connection) {
        let path = dir.join("load.db");
        let writer = rusqlite::Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0; \
                 CREATE TABLE load (n INTEGER PRIMARY KEY, filler BLOB);",
            )
            .unwrap();
        (path, dir.join("load.db-wal"), writer)
    }

    /// Commits `commits` rows of a page each (each adds at least one frame to the log), with the
    /// tenth of a millisecond between them a server's writer leaves between batches; returns
    /// the writer and the log file's largest size meanwhile.
    async fn write(writer: rusqlite::Connection, log: PathBuf, commits: usize) -> (rusqlite::Connection, u64) {
        tokio::task::spawn_blocking(move || {
            let mut largest = 0;
            for _ in 0..commits {
                writer.execute("INSERT INTO load (filler) VALUES (zeroblob(?1))", [ROW_BYTES]).unwrap();
                largest = largest.max(std::fs::metadata(&log).map_or(0, |m| m.len()));
                std::thread::sleep(Duration::from_micros(100));
            }
            (writer, largest)
        })
        .await
        .unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn under_steady_writes_the_log_is_restarted_and_its_file_stays_bounded() {
        const COMMITS: usize = 3_000;
        let dir = tempfile::tempdir().unwrap();
        let (path, log, writer) = database(dir.path());
        let checkpointer = tokio::spawn(run(path, Duration::from_millis(5), 256, Default::default()));
        let (_, largest_log) = write(writer, log, COMMITS).await;
        checkpointer.abort();
        let written = COMMITS as u64 * ROW_BYTES as u64;
        // Without the restarts the log holds every commit since the test began, about four
        // times `written` (a commit writes its row's page and the pages above it).
        assert!(largest_log < written, "the log file grew to {largest_log} bytes for {written} bytes of rows");
    }

    #[tokio::test]
    async fn a_restart_that_a_reader_holds_up_is_given_up_and_reported() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _, writer) = database(dir.path());
        let insert = "INSERT INTO load (filler) VALUES (zeroblob(3000))";
        writer.execute(insert, []).unwrap();
        // A reader on an older snapshot than the log's last commit, as a backup would be.
        let reader = rusqlite::Connection::open(&path).unwrap();
        reader.execute_batch("BEGIN").unwrap();
        let _: i64 = reader.query_row("SELECT count(*) FROM load", [], |row| row.get(0)).unwrap();
        writer.execute(insert, []).unwrap();
        let gate = tokio::sync::Mutex::new(());
        let (connection, restart) = checkpoint(open(&path).unwrap(), &path, 0, &gate).await.unwrap();
        assert_eq!(restart, Restart::GivenUp);
        reader.execute_batch("COMMIT").unwrap();
        let (_, restart) = checkpoint(connection, &path, 0, &gate).await.unwrap();
        assert_eq!(restart, Restart::Done);
        let (_, restart) = checkpoint(open(&path).unwrap(), &path, i64::MAX, &gate).await.unwrap();
        assert_eq!(restart, Restart::NotNeeded);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_restart_waits_while_the_group_commit_holds_its_gate() {
        const COMMITS: usize = 1_000;
        let dir = tempfile::tempdir().unwrap();
        let (path, log, writer) = database(dir.path());
        let gate = std::sync::Arc::new(tokio::sync::Mutex::new(()));
        // A batch in progress: the writer holds the gate.
        let batch = gate.clone().lock_owned().await;
        let checkpointer = tokio::spawn(run(path, Duration::from_millis(5), 64, gate));
        let written = COMMITS as u64 * ROW_BYTES as u64;
        let (writer, while_held) = write(writer, log.clone(), COMMITS).await;
        // The checkpointer waited for the gate, and the log was never restarted: it holds every
        // commit, more than the rows' bytes.
        assert!(while_held > written, "the log file reached only {while_held} bytes");
        drop(batch);
        let (_, after) = write(writer, log, COMMITS).await;
        checkpointer.abort();
        // Restarted once the gate was free, the log reuses its file from the beginning instead
        // of growing by every commit again.
        assert!(after < while_held + written, "the log file grew from {while_held} to {after} bytes");
    }
}
