//! Consents: round trips, replacement, revocation and listing.

use crate::support::{Db, contract, now};
use serde_json::json;

contract!(grant_round_trips_and_replaces, revoke_and_list_for_user);

async fn grant_round_trips_and_replaces(db: Db) {
    let consents = db.store.consents();
    assert_eq!(consents.get("alice", "webapp").await.unwrap(), None);
    let before = now();
    let granted = consents
        .grant("alice", "webapp", "openid email", Some(json!({"userinfo": {"email_verified": null}})))
        .await
        .unwrap();
    assert_eq!(granted.user_id, "alice");
    assert_eq!(granted.client_id, "webapp");
    assert_eq!(granted.scope, "openid email");
    assert_eq!(granted.claims, Some(json!({"userinfo": {"email_verified": null}})));
    assert!((before..=now()).contains(&granted.granted_at));
    assert_eq!(consents.get("alice", "webapp").await.unwrap(), Some(granted));

    db.sql("UPDATE consents SET granted_at = 1").await;
    let replaced = consents.grant("alice", "webapp", "openid profile", None).await.unwrap();
    assert_eq!((replaced.scope.as_str(), replaced.claims.clone()), ("openid profile", None));
    assert!(replaced.granted_at > 1, "a new consent gets a new time");
    assert_eq!(consents.get("alice", "webapp").await.unwrap(), Some(replaced));
    assert_eq!(consents.list_for_user("alice").await.unwrap().len(), 1);
}

async fn revoke_and_list_for_user(db: Db) {
    let consents = db.store.consents();
    consents.grant("alice", "zeta", "openid", None).await.unwrap();
    consents.grant("alice", "alpha", "openid", None).await.unwrap();
    consents.grant("bob", "alpha", "openid", None).await.unwrap();

    let clients: Vec<_> = consents.list_for_user("alice").await.unwrap().into_iter().map(|c| c.client_id).collect();
    assert_eq!(clients, ["alpha", "zeta"]);

    assert!(consents.revoke("alice", "alpha").await.unwrap());
    assert!(!consents.revoke("alice", "alpha").await.unwrap());
    assert_eq!(consents.get("alice", "alpha").await.unwrap(), None);
    assert!(consents.get("bob", "alpha").await.unwrap().is_some(), "other users keep theirs");
    assert_eq!(consents.list_for_user("alice").await.unwrap().len(), 1);
    assert!(consents.list_for_user("carol").await.unwrap().is_empty());
}
