//! Brute-force counters: failures lead to a lock, are forgotten in time, and are all counted
//! when two nodes record at once.

use crate::support::{Db, contract, now};
use poort_storage::repo::{ThrottleLimits, ThrottleState};

contract!(
    failures_lock_at_the_limit_and_start_again,
    failures_are_forgotten_and_cleared,
    purge_removes_only_forgotten_counters;
    shared: concurrent_failures_are_all_counted
);

const LIMITS: ThrottleLimits = ThrottleLimits { max_failures: 3, lock_secs: 900, forget_after_secs: 600 };

async fn failures_lock_at_the_limit_and_start_again(db: Db) {
    let counters = db.store.throttle();
    let t = now();
    assert_eq!(counters.get("k", t).await.unwrap(), ThrottleState::default());
    assert_eq!(
        counters.record_failure("k", LIMITS, t).await.unwrap(),
        ThrottleState { failures: 1, locked_until: None }
    );
    assert_eq!(counters.record_failure("k", LIMITS, t + 1).await.unwrap().failures, 2);
    let locked = counters.record_failure("k", LIMITS, t + 2).await.unwrap();
    assert_eq!(locked, ThrottleState { failures: 0, locked_until: Some(t + 902) });
    assert!(locked.is_locked(t + 901) && !locked.is_locked(t + 902) && locked.just_locked(t + 2));
    assert_eq!(counters.get("k", t + 3).await.unwrap(), locked);
    assert_eq!(counters.get("other", t + 3).await.unwrap(), ThrottleState::default(), "keys are independent");
    // Failures during a lock count again; reaching the limit extends the lock.
    counters.record_failure("k", LIMITS, t + 10).await.unwrap();
    counters.record_failure("k", LIMITS, t + 11).await.unwrap();
    let extended = counters.record_failure("k", LIMITS, t + 12).await.unwrap();
    assert_eq!(extended.locked_until, Some(t + 912));
}

async fn failures_are_forgotten_and_cleared(db: Db) {
    let counters = db.store.throttle();
    let t = now();
    counters.record_failure("k", LIMITS, t).await.unwrap();
    counters.record_failure("k", LIMITS, t).await.unwrap();
    assert_eq!(counters.get("k", t + 599).await.unwrap().failures, 2);
    assert_eq!(counters.get("k", t + 600).await.unwrap(), ThrottleState::default(), "forgotten after a quiet while");
    assert_eq!(
        counters.record_failure("k", LIMITS, t + 600).await.unwrap().failures,
        1,
        "a forgotten count starts again"
    );
    counters.record_failure("k", LIMITS, t + 601).await.unwrap();
    counters.clear("k").await.unwrap();
    assert_eq!(counters.get("k", t + 602).await.unwrap(), ThrottleState::default());
    counters.clear("never-seen").await.unwrap();
}

async fn purge_removes_only_forgotten_counters(db: Db) {
    let counters = db.store.throttle();
    let t = now();
    counters.record_failure("old", LIMITS, t).await.unwrap();
    for _ in 0..3 {
        counters.record_failure("locked", LIMITS, t).await.unwrap();
    }
    counters.record_failure("new", LIMITS, t + 500).await.unwrap();
    // At t+700 "old" is forgotten, "locked" is still locked (until t+900) and "new" still counts.
    assert_eq!(counters.purge_expired(t + 700).await.unwrap(), 1);
    assert!(counters.get("locked", t + 700).await.unwrap().is_locked(t + 700));
    assert_eq!(counters.get("new", t + 700).await.unwrap().failures, 1);
}

async fn concurrent_failures_are_all_counted(db: Db) {
    let other = db.open_another().await;
    let t = now();
    let limits = ThrottleLimits { max_failures: 100, ..LIMITS };
    let (a, b) = (db.store.throttle(), other.throttle());
    for _ in 0..5 {
        let (ra, rb) = tokio::join!(a.record_failure("race", limits, t), b.record_failure("race", limits, t));
        ra.unwrap();
        rb.unwrap();
    }
    assert_eq!(a.get("race", t).await.unwrap().failures, 10);
    other.close().await.unwrap();
}
