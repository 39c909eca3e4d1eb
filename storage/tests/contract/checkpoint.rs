//! The SQLite log is checkpointed on a connection of its own (`Store::spawn_checkpointer`):
//! committed rows reach the database file itself without any commit stopping to copy them.

use crate::support::{Backend, Db, plain_user as user, run};
use poort_storage::Store;
use std::time::Duration;

/// Whether a copy of the database file alone, without its log, holds the user `email`.
async fn the_file_alone_holds(db: &Db, email: &str) -> bool {
    let path = db.url().trim_start_matches("sqlite://").split('?').next().unwrap().to_string();
    let copy_dir = tempfile::tempdir().unwrap();
    let copy = copy_dir.path().join("copy.db");
    std::fs::copy(&path, &copy).unwrap();
    let store = Store::connect(&format!("sqlite://{}?mode=rwc", copy.display()), 1).await.unwrap();
    let found = store.users().find_by_email(email).await.unwrap().is_some();
    store.close().await.unwrap();
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_rows_reach_the_database_file_once_the_checkpointer_runs() {
    run(Backend::SqliteFile, |db| async move {
        // The schema goes into the file; what follows is committed to the log.
        db.sql("PRAGMA wal_checkpoint(TRUNCATE)").await;
        db.store.users().create(user("ada@example.com")).await.unwrap();
        // Committed, but in the log only: the writer's own checkpoint waits for 32 MiB of log.
        assert!(db.store.users().find_by_email("ada@example.com").await.unwrap().is_some());
        assert!(!the_file_alone_holds(&db, "ada@example.com").await, "the row should still be in the log only");

        let checkpointer = db.store.spawn_checkpointer(Duration::from_millis(20)).expect("a SQLite file is checkpointed");
        let mut copied = false;
        for _ in 0..100 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if the_file_alone_holds(&db, "ada@example.com").await {
                copied = true;
                break;
            }
        }
        assert!(copied, "the checkpointer did not copy the committed row into the database file");
        // Writes go on beside it.
        db.store.users().create(user("grace@example.com")).await.unwrap();
        checkpointer.abort();
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_sqlite_file_has_a_checkpointer() {
    run(Backend::Memory, |db| async move {
        assert!(db.store.spawn_checkpointer(Duration::from_millis(20)).is_none());
    })
    .await;
    run(Backend::Postgres, |db| async move {
        assert!(db.store.spawn_checkpointer(Duration::from_millis(20)).is_none());
    })
    .await
}
