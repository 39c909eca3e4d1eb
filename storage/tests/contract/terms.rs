//! Terms of service: publishing per scope, duplicate versions (including deployment-wide ones,
//! which the unique index cannot catch), the current version, acceptance.

use crate::support::{Db, assert_conflict, contract, now};

contract!(
    publish_round_trips,
    duplicate_versions_conflict_per_scope,
    concurrent_publishes_of_one_version_have_one_winner,
    current_is_the_latest_per_scope,
    acceptance_is_recorded_once,
);

async fn publish_round_trips(db: Db) {
    let terms = db.store.terms();
    let before = now();
    let global = terms.publish(None, "2024-01", "# Terms\n\nBe nice.").await.unwrap();
    assert_eq!(uuid::Uuid::parse_str(&global.id).unwrap().get_version_num(), 7);
    assert_eq!(global.client_id, None);
    assert_eq!(global.version, "2024-01");
    assert_eq!(global.body, "# Terms\n\nBe nice.");
    assert!((before..=now()).contains(&global.published_at));
    assert_eq!(terms.get(&global.id).await.unwrap(), Some(global.clone()));

    let scoped = terms.publish(Some("webapp"), "v1", "Client terms").await.unwrap();
    assert_eq!(scoped.client_id.as_deref(), Some("webapp"));
    assert_eq!(terms.get(&scoped.id).await.unwrap(), Some(scoped));
    assert_eq!(terms.get("no-such-terms").await.unwrap(), None);
}

async fn duplicate_versions_conflict_per_scope(db: Db) {
    let terms = db.store.terms();
    let global = terms.publish(None, "v1", "first").await.unwrap();
    assert_conflict(terms.publish(None, "v1", "second").await, "terms version v1");
    let scoped = terms.publish(Some("webapp"), "v1", "for the web app").await.unwrap();
    assert_conflict(terms.publish(Some("webapp"), "v1", "again").await, "client webapp");
    // The same version in other scopes is fine.
    terms.publish(Some("cli"), "v1", "for the cli").await.unwrap();

    assert_eq!(terms.list(None).await.unwrap(), std::slice::from_ref(&global), "the failed publish stored nothing");
    assert_eq!(terms.list(Some("webapp")).await.unwrap(), [scoped]);
    assert_eq!(terms.current(None).await.unwrap(), Some(global));
}

async fn concurrent_publishes_of_one_version_have_one_winner(db: Db) {
    let terms = db.store.terms();
    for round in 0..5 {
        let version = format!("v{round}");
        let other = db.store.terms();
        let (a, b) = tokio::join!(terms.publish(None, &version, "a"), other.publish(None, &version, "b"));
        let wins = [a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count();
        assert_eq!(wins, 1, "round {round}: {a:?} / {b:?}");
        let loser = if a.is_ok() { b } else { a };
        assert_conflict(loser, &version);
    }
    assert_eq!(terms.list(None).await.unwrap().len(), 5);
}

async fn current_is_the_latest_per_scope(db: Db) {
    let terms = db.store.terms();
    assert_eq!(terms.current(None).await.unwrap(), None);
    let v1 = terms.publish(None, "v1", "one").await.unwrap();
    let v2 = terms.publish(None, "v2", "two").await.unwrap();
    let web = terms.publish(Some("webapp"), "w1", "web").await.unwrap();
    // Within one second the later publication still wins; across seconds the time decides.
    assert_eq!(terms.current(None).await.unwrap(), Some(v2.clone()));
    db.sql(&format!("UPDATE terms_versions SET published_at = published_at + 10 WHERE id = '{}'", v1.id)).await;
    assert_eq!(terms.current(None).await.unwrap().unwrap().id, v1.id);
    assert_eq!(terms.current(Some("webapp")).await.unwrap(), Some(web));
    assert_eq!(terms.current(Some("cli")).await.unwrap(), None, "no fallback to the deployment-wide terms");
    let listed: Vec<_> = terms.list(None).await.unwrap().into_iter().map(|t| t.version).collect();
    assert_eq!(listed, ["v1", "v2"]);
}

async fn acceptance_is_recorded_once(db: Db) {
    let terms = db.store.terms();
    let v1 = terms.publish(None, "v1", "one").await.unwrap();
    let v2 = terms.publish(None, "v2", "two").await.unwrap();
    assert!(!terms.has_accepted("alice", &v1.id).await.unwrap());

    let before = now();
    terms.accept("alice", &v1.id).await.unwrap();
    assert!(terms.has_accepted("alice", &v1.id).await.unwrap());
    let first = terms.accepted_at("alice", &v1.id).await.unwrap().unwrap();
    assert!((before..=now()).contains(&first));
    db.sql("UPDATE terms_acceptances SET accepted_at = 77").await;
    terms.accept("alice", &v1.id).await.unwrap();
    assert_eq!(terms.accepted_at("alice", &v1.id).await.unwrap(), Some(77), "accepting again keeps the first time");

    assert!(!terms.has_accepted("alice", &v2.id).await.unwrap(), "a new version needs a new acceptance");
    assert!(!terms.has_accepted("bob", &v1.id).await.unwrap());
    assert_eq!(terms.accepted_at("bob", &v1.id).await.unwrap(), None);
}
