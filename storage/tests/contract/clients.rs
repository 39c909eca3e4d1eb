//! Clients: round trips, id conflicts, upsert, metadata, deletion and configuration sync.

use crate::support::{Db, assert_conflict, contract, now};
use poort_storage::repo::{ClientSource, NewClient};
use serde_json::json;

contract!(
    insert_round_trips_every_field,
    taken_client_id_conflicts_and_changes_nothing,
    upsert_replaces_everything_but_created_at,
    metadata_updates_and_deletes,
    config_clients_no_longer_configured_are_removed;
    shared: a_change_by_another_process_is_seen_within_a_second,
);

pub fn new_client(client_id: &str, source: ClientSource) -> NewClient {
    NewClient {
        client_id: client_id.to_string(),
        secret_hash: None,
        secret_sealed: None,
        secret_expires_at: 0,
        metadata: json!({"redirect_uris": [format!("https://{client_id}.example/cb")]}),
        source,
        registration_token_hash: None,
    }
}

async fn insert_round_trips_every_field(db: Db) {
    let clients = db.store.clients();
    let before = now();
    let stored = clients
        .insert(NewClient {
            client_id: "webapp".to_string(),
            secret_hash: Some("secret-hash".to_string()),
            secret_sealed: Some("sealed-secret".to_string()),
            secret_expires_at: 4_102_444_800,
            metadata: json!({"redirect_uris": ["https://app.example/cb"], "grant_types": ["authorization_code"], "x": {"y": null}}),
            source: ClientSource::Dynamic,
            registration_token_hash: Some("rat-hash".to_string()),
        })
        .await
        .unwrap();
    assert_eq!(stored.client_id, "webapp");
    assert_eq!(stored.secret_hash.as_deref(), Some("secret-hash"));
    assert_eq!(stored.secret_sealed.as_deref(), Some("sealed-secret"));
    assert_eq!(stored.secret_expires_at, 4_102_444_800);
    assert_eq!(
        stored.metadata,
        json!({"redirect_uris": ["https://app.example/cb"], "grant_types": ["authorization_code"], "x": {"y": null}})
    );
    assert_eq!(stored.source, ClientSource::Dynamic);
    assert_eq!(stored.registration_token_hash.as_deref(), Some("rat-hash"));
    assert!((before..=now()).contains(&stored.created_at));
    assert_eq!(stored.updated_at, stored.created_at);
    assert_eq!(clients.get("webapp").await.unwrap(), Some(stored));
    assert_eq!(clients.get("nobody").await.unwrap(), None);

    let public = clients.insert(new_client("spa", ClientSource::Cli)).await.unwrap();
    assert_eq!((public.secret_hash, public.secret_sealed, public.registration_token_hash), (None, None, None));
    let listed: Vec<_> = clients.list().await.unwrap().into_iter().map(|c| (c.client_id, c.source)).collect();
    assert_eq!(listed, [("spa".to_string(), ClientSource::Cli), ("webapp".to_string(), ClientSource::Dynamic)]);
}

async fn taken_client_id_conflicts_and_changes_nothing(db: Db) {
    let clients = db.store.clients();
    let original = clients.insert(new_client("webapp", ClientSource::Config)).await.unwrap();
    let second = NewClient { metadata: json!({"changed": true}), ..new_client("webapp", ClientSource::Dynamic) };
    assert_conflict(clients.insert(second).await, "webapp");
    assert_eq!(clients.get("webapp").await.unwrap(), Some(original));
    assert_eq!(clients.list().await.unwrap().len(), 1);
}

async fn upsert_replaces_everything_but_created_at(db: Db) {
    let clients = db.store.clients();
    let inserted = clients.upsert(new_client("webapp", ClientSource::Config)).await.unwrap();
    assert_eq!(clients.get("webapp").await.unwrap(), Some(inserted));

    db.sql("UPDATE clients SET created_at = 1000, updated_at = 1000").await;
    let before = now();
    let replaced = clients
        .upsert(NewClient {
            client_id: "webapp".to_string(),
            secret_hash: Some("new-hash".to_string()),
            secret_sealed: Some("new-sealed".to_string()),
            secret_expires_at: 99,
            metadata: json!({"client_name": "Web"}),
            source: ClientSource::Cli,
            registration_token_hash: Some("new-rat".to_string()),
        })
        .await
        .unwrap();
    assert_eq!(replaced.secret_hash.as_deref(), Some("new-hash"));
    assert_eq!(replaced.secret_sealed.as_deref(), Some("new-sealed"));
    assert_eq!(replaced.secret_expires_at, 99);
    assert_eq!(replaced.metadata, json!({"client_name": "Web"}));
    assert_eq!(replaced.source, ClientSource::Cli);
    assert_eq!(replaced.registration_token_hash.as_deref(), Some("new-rat"));
    assert_eq!(replaced.created_at, 1000);
    assert!(replaced.updated_at >= before);

    // Upserting back to no secret clears it.
    let cleared = clients.upsert(new_client("webapp", ClientSource::Config)).await.unwrap();
    assert_eq!((cleared.secret_hash, cleared.registration_token_hash), (None, None));
    assert_eq!(clients.list().await.unwrap().len(), 1);
}

async fn metadata_updates_and_deletes(db: Db) {
    let clients = db.store.clients();
    clients.insert(new_client("webapp", ClientSource::Dynamic)).await.unwrap();
    db.sql("UPDATE clients SET updated_at = 1").await;

    assert!(clients.update_metadata("webapp", json!({"client_name": "Renamed"})).await.unwrap());
    let updated = clients.get("webapp").await.unwrap().unwrap();
    assert_eq!(updated.metadata, json!({"client_name": "Renamed"}));
    assert!(updated.updated_at > 1);
    assert!(!clients.update_metadata("nobody", json!({})).await.unwrap());

    assert!(clients.delete("webapp").await.unwrap());
    assert!(!clients.delete("webapp").await.unwrap());
    assert_eq!(clients.get("webapp").await.unwrap(), None);
}

async fn config_clients_no_longer_configured_are_removed(db: Db) {
    let clients = db.store.clients();
    for id in ["a", "b", "c"] {
        clients.insert(new_client(id, ClientSource::Config)).await.unwrap();
    }
    clients.insert(new_client("d", ClientSource::Cli)).await.unwrap();
    clients.insert(new_client("e", ClientSource::Dynamic)).await.unwrap();

    assert_eq!(clients.remove_config_clients_except(&["b".to_string(), "zz".to_string()]).await.unwrap(), 2);
    let ids = |list: Vec<poort_storage::repo::ClientRecord>| list.into_iter().map(|c| c.client_id).collect::<Vec<_>>();
    assert_eq!(ids(clients.list().await.unwrap()), ["b", "d", "e"]);

    // An empty configuration removes every configured client, and only those.
    assert_eq!(clients.remove_config_clients_except(&[]).await.unwrap(), 1);
    assert_eq!(ids(clients.list().await.unwrap()), ["d", "e"]);
    assert_eq!(clients.remove_config_clients_except(&[]).await.unwrap(), 0);
}

/// Clients are cached for a moment (`repo::client_cache`): a change through the same store is
/// seen at once, a change by another process (the CLI, another node) once the cached copy is no
/// longer fresh.
async fn a_change_by_another_process_is_seen_within_a_second(db: Db) {
    use poort_storage::repo::client_cache::FRESH_FOR;
    let clients = db.store.clients();
    clients.insert(new_client("crm", ClientSource::Cli)).await.unwrap();
    assert_eq!(clients.get("crm").await.unwrap().unwrap().metadata["redirect_uris"][0], "https://crm.example/cb");

    let other = db.open_another().await;
    other.clients().update_metadata("crm", json!({"redirect_uris": ["https://new.example/cb"]})).await.unwrap();
    tokio::time::sleep(FRESH_FOR).await;
    assert_eq!(clients.get("crm").await.unwrap().unwrap().metadata["redirect_uris"][0], "https://new.example/cb");
    other.clients().delete("crm").await.unwrap();
    tokio::time::sleep(FRESH_FOR).await;
    assert_eq!(clients.get("crm").await.unwrap(), None, "a client deleted elsewhere is gone");

    // Through the same store, at once.
    clients.insert(new_client("erp", ClientSource::Cli)).await.unwrap();
    assert!(clients.get("erp").await.unwrap().is_some());
    clients.update_metadata("erp", json!({"client_name": "ERP"})).await.unwrap();
    assert_eq!(clients.get("erp").await.unwrap().unwrap().metadata["client_name"], "ERP");
    clients.delete("erp").await.unwrap();
    assert_eq!(clients.get("erp").await.unwrap(), None);
}
