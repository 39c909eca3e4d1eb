//! Roles: round trips, replacement by upsert, deletion that reaches the users holding them.

use crate::support::{Db, contract, now};
use crate::users::new_user;

contract!(upsert_round_trips_and_keeps_created_at, list_is_sorted_by_name, delete_takes_the_role_from_its_holders);

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| s.to_string()).collect()
}

async fn upsert_round_trips_and_keeps_created_at(db: Db) {
    let roles = db.store.roles();
    let before = now();
    let admin = roles.upsert("admin", Some("Administrators"), &strings(&["users:write", "clients:write"])).await.unwrap();
    assert_eq!(admin.name, "admin");
    assert_eq!(admin.description.as_deref(), Some("Administrators"));
    assert_eq!(admin.permissions, ["users:write", "clients:write"], "permissions keep their order");
    assert!((before..=now()).contains(&admin.created_at));
    assert_eq!(roles.get("admin").await.unwrap(), Some(admin));
    assert_eq!(roles.get("nobody").await.unwrap(), None);

    db.sql("UPDATE roles SET created_at = 1000 WHERE name = 'admin'").await;
    let replaced = roles.upsert("admin", None, &[]).await.unwrap();
    assert_eq!(replaced.description, None);
    assert!(replaced.permissions.is_empty());
    assert_eq!(replaced.created_at, 1000, "upsert keeps the creation time");
    assert_eq!(roles.get("admin").await.unwrap(), Some(replaced));
}

async fn list_is_sorted_by_name(db: Db) {
    let roles = db.store.roles();
    assert!(roles.list().await.unwrap().is_empty());
    for name in ["viewer", "admin", "operator"] {
        roles.upsert(name, None, &strings(&[name])).await.unwrap();
    }
    let listed = roles.list().await.unwrap();
    let names: Vec<_> = listed.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["admin", "operator", "viewer"]);
    assert_eq!(listed[1].permissions, ["operator"]);
}

async fn delete_takes_the_role_from_its_holders(db: Db) {
    let (roles, users) = (db.store.roles(), db.store.users());
    roles.upsert("admin", None, &[]).await.unwrap();
    roles.upsert("viewer", None, &[]).await.unwrap();
    let alice = users.create(new_user("alice@example.com")).await.unwrap();
    let bob = users.create(new_user("bob@example.com")).await.unwrap();
    let carol = users.create(new_user("carol@example.com")).await.unwrap();
    users.set_roles(&alice.id, &strings(&["admin", "viewer"])).await.unwrap();
    users.set_roles(&bob.id, &strings(&["admin"])).await.unwrap();
    users.set_roles(&carol.id, &strings(&["viewer"])).await.unwrap();

    let mut holders = vec![alice.id.clone(), bob.id.clone()];
    holders.sort();
    assert_eq!(roles.users_with("admin").await.unwrap(), holders);

    db.sql("UPDATE users SET updated_at = 1").await;
    assert!(roles.delete("admin").await.unwrap());
    assert_eq!(roles.get("admin").await.unwrap(), None);
    assert!(roles.users_with("admin").await.unwrap().is_empty());
    let alice = users.get(&alice.id).await.unwrap().unwrap();
    assert_eq!(alice.roles, ["viewer"]);
    assert!(alice.updated_at > 1, "holders' updated_at moves");
    assert!(users.get(&bob.id).await.unwrap().unwrap().roles.is_empty());
    let carol = users.get(&carol.id).await.unwrap().unwrap();
    assert_eq!((carol.roles, carol.updated_at), (strings(&["viewer"]), 1), "others are untouched");
    assert_eq!(roles.list().await.unwrap().len(), 1);

    assert!(!roles.delete("admin").await.unwrap(), "nothing left to delete");
    // A role name held without a role row is still taken away.
    users.grant_role(&carol.id, "stray").await.unwrap();
    assert!(roles.delete("stray").await.unwrap());
    assert_eq!(users.get(&carol.id).await.unwrap().unwrap().roles, ["viewer"]);
}
