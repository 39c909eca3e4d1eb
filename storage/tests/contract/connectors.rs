//! Connectors: insert, replace, domains unique across connectors, lookups by domain, delete.

use crate::support::{Db, assert_conflict, contract};
use poort_storage::repo::{ConnectorSource, NewConnector};
use serde_json::json;

contract!(insert_get_list_and_delete, domains_belong_to_one_connector, upsert_replaces_but_keeps_created_at);

fn connector(id: &str, domains: &[&str]) -> NewConnector {
    NewConnector {
        id: id.into(),
        kind: "entra".into(),
        settings: json!({ "id": id, "kind": "entra", "tenant": "common" }),
        secrets_sealed: Some("sealed-secret".into()),
        source: ConnectorSource::Cli,
        domains: domains.iter().map(|d| d.to_string()).collect(),
    }
}

async fn insert_get_list_and_delete(db: Db) {
    let connectors = db.store.connectors();
    assert!(!connectors.any().await.unwrap());
    let stored = connectors.insert(connector("contoso", &["contoso.com", "a.contoso.com"])).await.unwrap();
    assert_eq!(stored.id, "contoso");
    assert_eq!(stored.kind, "entra");
    assert_eq!(stored.domains, ["a.contoso.com", "contoso.com"], "domains sorted");
    assert_eq!(stored.secrets_sealed.as_deref(), Some("sealed-secret"));
    assert_eq!(stored.source, ConnectorSource::Cli);
    assert_eq!(connectors.get("contoso").await.unwrap(), Some(stored.clone()));
    assert_conflict(connectors.insert(connector("contoso", &[])).await, "contoso");

    connectors.insert(connector("acme", &["acme.nl"])).await.unwrap();
    connectors.insert(connector("bare", &[])).await.unwrap();
    let listed = connectors.list().await.unwrap();
    let ids: Vec<_> = listed.iter().map(|c| (c.id.as_str(), c.domains.len())).collect();
    assert_eq!(ids, [("acme", 1), ("bare", 0), ("contoso", 2)]);
    assert!(connectors.any().await.unwrap());

    assert_eq!(connectors.for_domain("contoso.com").await.unwrap().map(|c| c.id), Some("contoso".into()));
    assert_eq!(connectors.for_domain("acme.nl").await.unwrap().map(|c| c.id), Some("acme".into()));
    assert_eq!(connectors.for_domain("example.com").await.unwrap(), None);

    assert!(connectors.delete("contoso").await.unwrap());
    assert!(!connectors.delete("contoso").await.unwrap());
    assert_eq!(connectors.get("contoso").await.unwrap(), None);
    assert_eq!(connectors.for_domain("contoso.com").await.unwrap(), None, "its domains go with it");
}

async fn domains_belong_to_one_connector(db: Db) {
    let connectors = db.store.connectors();
    connectors.insert(connector("contoso", &["contoso.com"])).await.unwrap();
    assert_conflict(connectors.insert(connector("other", &["other.com", "contoso.com"])).await, "contoso.com");
    assert_eq!(connectors.get("other").await.unwrap(), None, "a refused insert stores nothing");
    assert_eq!(connectors.for_domain("other.com").await.unwrap(), None);
    assert_conflict(connectors.upsert(connector("third", &["contoso.com"])).await, "contoso.com");
    // A connector may keep, move and drop its own domains.
    let moved = connectors.upsert(connector("contoso", &["contoso.nl"])).await.unwrap();
    assert_eq!(moved.domains, ["contoso.nl"]);
    connectors.insert(connector("other", &["contoso.com"])).await.unwrap();
}

async fn upsert_replaces_but_keeps_created_at(db: Db) {
    let connectors = db.store.connectors();
    let first = connectors.upsert(connector("ldap", &["corp.example"])).await.unwrap();
    db.sql("UPDATE connectors SET created_at = 1000, updated_at = 1000").await;
    let mut changed = connector("ldap", &[]);
    changed.kind = "ldap".into();
    changed.settings = json!({ "id": "ldap", "kind": "ldap" });
    changed.secrets_sealed = None;
    changed.source = ConnectorSource::Config;
    let second = connectors.upsert(changed).await.unwrap();
    assert_eq!(second.created_at, 1000);
    assert!(second.updated_at >= first.updated_at);
    assert_eq!((second.kind.as_str(), second.source, second.secrets_sealed), ("ldap", ConnectorSource::Config, None));
    assert!(second.domains.is_empty());
    assert_eq!(connectors.for_domain("corp.example").await.unwrap(), None);
}
