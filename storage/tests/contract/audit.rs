//! The audit trail: round trips, newest-first listing with a user filter, retention.

use crate::support::{Db, contract, now};
use poort_storage::repo::AuditEvent;
use serde_json::json;

contract!(record_round_trips_every_field, list_is_newest_first_and_filters_by_user, purge_before_drops_old_events);

fn event(kind: &str, user_id: Option<&str>) -> AuditEvent {
    AuditEvent { kind: kind.to_string(), user_id: user_id.map(str::to_string), client_id: None, ip: None, detail: json!({}) }
}

async fn record_round_trips_every_field(db: Db) {
    let audit = db.store.audit();
    let before = now();
    let recorded = audit
        .record(AuditEvent {
            kind: "login.failed".to_string(),
            user_id: Some("user-1".to_string()),
            client_id: Some("webapp".to_string()),
            ip: Some("2001:db8::1".to_string()),
            detail: json!({"reason": "bad_password", "attempt": 3}),
        })
        .await
        .unwrap();
    assert_eq!(uuid::Uuid::parse_str(&recorded.id).unwrap().get_version_num(), 7);
    assert!((before..=now()).contains(&recorded.at));
    assert_eq!(recorded.kind, "login.failed");
    assert_eq!(recorded.user_id.as_deref(), Some("user-1"));
    assert_eq!(recorded.client_id.as_deref(), Some("webapp"));
    assert_eq!(recorded.ip.as_deref(), Some("2001:db8::1"));
    assert_eq!(recorded.detail, json!({"reason": "bad_password", "attempt": 3}));
    assert_eq!(audit.list(None, 10).await.unwrap(), [recorded]);
}

async fn list_is_newest_first_and_filters_by_user(db: Db) {
    let audit = db.store.audit();
    let first = audit.record(event("a", Some("alice"))).await.unwrap();
    audit.record(event("b", None)).await.unwrap();
    audit.record(event("c", Some("alice"))).await.unwrap();
    audit.record(event("d", Some("bob"))).await.unwrap();
    let kinds = |list: Vec<poort_storage::repo::AuditRecord>| list.into_iter().map(|e| e.kind).collect::<Vec<_>>();

    // Within one second the id (UUID v7) orders events.
    assert_eq!(kinds(audit.list(None, 10).await.unwrap()), ["d", "c", "b", "a"]);
    assert_eq!(kinds(audit.list(None, 2).await.unwrap()), ["d", "c"]);
    assert_eq!(kinds(audit.list(Some("alice"), 10).await.unwrap()), ["c", "a"]);
    assert!(audit.list(Some("carol"), 10).await.unwrap().is_empty());

    // Across seconds the time decides.
    db.sql(&format!("UPDATE audit_events SET at = at + 100 WHERE id = '{}'", first.id)).await;
    assert_eq!(kinds(audit.list(None, 10).await.unwrap()), ["a", "d", "c", "b"]);
}

async fn purge_before_drops_old_events(db: Db) {
    let audit = db.store.audit();
    let old = audit.record(event("old", None)).await.unwrap();
    audit.record(event("new", None)).await.unwrap();
    db.sql(&format!("UPDATE audit_events SET at = 1000 WHERE id = '{}'", old.id)).await;
    assert_eq!(audit.purge_before(1001).await.unwrap(), 1);
    let left: Vec<_> = audit.list(None, 10).await.unwrap().into_iter().map(|e| e.kind).collect();
    assert_eq!(left, ["new"]);
    assert_eq!(audit.purge_before(1001).await.unwrap(), 0);
}
