//! Federation flows: remembered by state hash, spent once (also under concurrency), expiry, purge.

use crate::support::{Db, assert_conflict, contract, now};
use poort_storage::repo::{NewFlow, SpendOutcome};

contract!(a_flow_is_spent_once, expired_flows_cannot_be_spent_and_are_purged; shared: concurrent_spends_have_one_winner);

fn flow(state: &str, expires_at: i64) -> NewFlow {
    NewFlow {
        state_hash: state.into(),
        binding_hash: "binding".into(),
        connector_id: "contoso".into(),
        payload: "sealed".into(),
        expires_at,
    }
}

async fn a_flow_is_spent_once(db: Db) {
    let flows = db.store.flows();
    let t = now();
    let created = flows.create(flow("s1", t + 600), t).await.unwrap();
    assert_eq!((created.binding_hash.as_str(), created.payload.as_str(), created.consumed_at), ("binding", "sealed", None));
    assert_conflict(flows.create(flow("s1", t + 600), t).await, "state");
    assert_eq!(flows.find("s1").await.unwrap(), Some(created.clone()));
    match flows.spend("s1", t + 1).await.unwrap() {
        SpendOutcome::Spent(spent) => assert_eq!(spent.consumed_at, Some(t + 1)),
        other => panic!("expected Spent, got {other:?}"),
    }
    assert_eq!(flows.spend("s1", t + 2).await.unwrap(), SpendOutcome::AlreadySpent);
    assert_eq!(flows.spend("nope", t).await.unwrap(), SpendOutcome::NotFound);
}

async fn expired_flows_cannot_be_spent_and_are_purged(db: Db) {
    let flows = db.store.flows();
    let t = now();
    flows.create(flow("old", t + 10), t).await.unwrap();
    flows.create(flow("new", t + 100), t).await.unwrap();
    assert_eq!(flows.spend("old", t + 10).await.unwrap(), SpendOutcome::Expired);
    assert_eq!(flows.purge_expired(t + 50).await.unwrap(), 1);
    assert_eq!(flows.find("old").await.unwrap(), None);
    assert!(matches!(flows.spend("new", t + 50).await.unwrap(), SpendOutcome::Spent(_)));
}

async fn concurrent_spends_have_one_winner(db: Db) {
    let other = db.open_another().await;
    let t = now();
    for round in 0..5 {
        let state = format!("race-{round}");
        db.store.flows().create(flow(&state, t + 60), t).await.unwrap();
        let (flows_a, flows_b) = (db.store.flows(), other.flows());
        let (a, b) = tokio::join!(flows_a.spend(&state, t), flows_b.spend(&state, t));
        let wins = [a.unwrap(), b.unwrap()].iter().filter(|o| matches!(o, SpendOutcome::Spent(_))).count();
        assert_eq!(wins, 1, "exactly one node spends {state}");
    }
    other.close().await.unwrap();
}
