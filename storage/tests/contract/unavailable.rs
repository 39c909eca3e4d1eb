//! A database that cannot take writes (a read-only SQLite file, a PostgreSQL database set
//! read-only): every write fails as "unavailable" (the callers answer 503, try again), nothing is
//! stored, reads go on, and writes work again once the database does.

use crate::support::{Backend, Db, contract, now, plain_user as user};
use poort_storage::Store;
use sea_orm::ConnectionTrait as _;
use poort_storage::repo::NewGrant;

contract!(; shared: writes_to_a_read_only_database_fail_as_unavailable_and_store_nothing);

/// Sets the PostgreSQL test database read-only (for connections opened afterwards) or back.
async fn set_read_only(db: &Db, on: bool) {
    let query = sea_orm::Statement::from_string(sea_orm::DbBackend::Postgres, "SELECT current_database() AS name");
    let row = db.store.connection().query_one_raw(query).await.unwrap().unwrap();
    let name: String = row.try_get("", "name").unwrap();
    let value = if on { "on" } else { "off" };
    // A connection opened after the database went read-only starts read-only transactions, so
    // the statement asks for read-write first (one simple query: one connection, one
    // transaction). Turning it off always runs on such a fresh connection.
    let statement = format!("SET TRANSACTION READ WRITE; ALTER DATABASE {name} SET default_transaction_read_only = {value}");
    if on {
        db.sql(&statement).await;
    } else {
        let fresh = db.open_another().await;
        fresh.connection().execute_unprepared(&statement).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
        fresh.close().await.unwrap();
    }
}

/// Another store on the same database that may only read.
async fn read_only(db: &Db) -> Store {
    match db.backend {
        Backend::Postgres => {
            set_read_only(db, true).await;
            db.open_another().await
        }
        _ => {
            let url = db.url().replace("mode=rwc", "mode=ro");
            Store::connect(&url, 2).await.unwrap()
        }
    }
}

async fn writes_to_a_read_only_database_fail_as_unavailable_and_store_nothing(db: Db) {
    db.store.users().create(user("before@example.com")).await.unwrap();
    let reader = read_only(&db).await;
    let refused = reader.users().create(user("during@example.com")).await.unwrap_err();
    assert!(refused.is_unavailable(), "{refused:?}");
    let grant = NewGrant {
        client_id: "c".into(),
        user_id: None,
        session_id: None,
        scope: String::new(),
        claims: None,
        auth_time: None,
        expires_at: now() + 60,
    };
    let refused = reader.grants().create_grant(grant).await.unwrap_err();
    assert!(refused.is_unavailable(), "{refused:?}");
    assert!(reader.users().find_by_login("before@example.com").await.unwrap().is_some(), "reads go on");
    assert!(db.store.users().find_by_login("during@example.com").await.unwrap().is_none(), "nothing stored");
    if db.backend == Backend::Postgres {
        set_read_only(&db, false).await;
    }
    reader.close().await.unwrap();
    db.open_another().await.users().create(user("after@example.com")).await.expect("writable again");
}
