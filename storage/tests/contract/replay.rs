//! The replay guard: a key is accepted once until it expires, also under concurrency.

use crate::support::{Db, contract, now};

contract!(a_key_is_accepted_once_until_it_expires, purge_removes_only_expired_keys; shared: concurrent_first_uses_have_one_winner);

async fn a_key_is_accepted_once_until_it_expires(db: Db) {
    let guard = db.store.replay_guard();
    let t = now();
    assert!(guard.first_use("client-a:jti-1", t + 60, t).await.unwrap());
    assert!(!guard.first_use("client-a:jti-1", t + 60, t).await.unwrap(), "a replay is refused");
    assert!(guard.first_use("client-b:jti-1", t + 60, t).await.unwrap(), "keys are independent");
    // Once the remembered use has expired, the key may be used again (and is then remembered anew).
    assert!(guard.first_use("client-a:jti-1", t + 200, t + 61).await.unwrap());
    assert!(!guard.first_use("client-a:jti-1", t + 200, t + 62).await.unwrap());
}

async fn purge_removes_only_expired_keys(db: Db) {
    let guard = db.store.replay_guard();
    let t = now();
    assert!(guard.first_use("old", t + 10, t).await.unwrap());
    assert!(guard.first_use("new", t + 100, t).await.unwrap());
    assert_eq!(guard.purge_expired(t + 50).await.unwrap(), 1);
    assert!(!guard.first_use("new", t + 100, t + 50).await.unwrap(), "a live key survives the purge");
}

async fn concurrent_first_uses_have_one_winner(db: Db) {
    let other = db.open_another().await;
    let t = now();
    for round in 0..5 {
        let key = format!("race-{round}");
        let (guard_a, guard_b) = (db.store.replay_guard(), other.replay_guard());
        let (a, b) = tokio::join!(guard_a.first_use(&key, t + 60, t), guard_b.first_use(&key, t + 60, t));
        assert!(a.unwrap() ^ b.unwrap(), "exactly one node accepts {key}");
    }
    other.close().await.unwrap();
}
