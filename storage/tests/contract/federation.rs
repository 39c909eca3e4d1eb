//! Federated identities: linking (first link wins), lookups, sign-in times, unlinking.

use crate::support::{Db, assert_conflict, contract, now};

contract!(link_round_trips_and_is_idempotent, identity_linked_to_someone_else_conflicts, for_user_touch_and_unlink);

async fn link_round_trips_and_is_idempotent(db: Db) {
    let links = db.store.federated_identities();
    let before = now();
    let link = links.link("entra", "00000000-aaaa-bbbb", "user-1", Some("Alice@Contoso.com")).await.unwrap();
    assert_eq!(link.connector, "entra");
    assert_eq!(link.subject, "00000000-aaaa-bbbb");
    assert_eq!(link.user_id, "user-1");
    assert_eq!(link.email.as_deref(), Some("Alice@Contoso.com"), "stored as upstream reported it");
    assert!((before..=now()).contains(&link.linked_at));
    assert_eq!(link.last_login_at, None);
    assert_eq!(links.find("entra", "00000000-aaaa-bbbb").await.unwrap(), Some(link.clone()));

    // Linking again to the same user returns the link as it was.
    let again = links.link("entra", "00000000-aaaa-bbbb", "user-1", None).await.unwrap();
    assert_eq!(again, link);

    let no_email = links.link("ldap", "uid=alice", "user-1", None).await.unwrap();
    assert_eq!(no_email.email, None);
    assert_eq!(links.find("ldap", "uid=bob").await.unwrap(), None);
    assert_eq!(links.find("google", "uid=alice").await.unwrap(), None, "subjects are per connector");
}

async fn identity_linked_to_someone_else_conflicts(db: Db) {
    let links = db.store.federated_identities();
    let original = links.link("google", "1234", "user-1", Some("a@example.com")).await.unwrap();
    assert_conflict(links.link("google", "1234", "user-2", Some("b@example.com")).await, "1234");
    assert_eq!(links.find("google", "1234").await.unwrap(), Some(original), "the first link stands");
    assert!(links.for_user("user-2").await.unwrap().is_empty());
    // The same subject at another connector is another identity.
    links.link("entra", "1234", "user-2", None).await.unwrap();
}

async fn for_user_touch_and_unlink(db: Db) {
    let links = db.store.federated_identities();
    links.link("google", "g-1", "alice", None).await.unwrap();
    links.link("entra", "e-2", "alice", None).await.unwrap();
    links.link("entra", "e-1", "alice", None).await.unwrap();
    links.link("entra", "e-3", "bob", None).await.unwrap();
    let keys: Vec<_> = links.for_user("alice").await.unwrap().into_iter().map(|l| (l.connector, l.subject)).collect();
    let expected = [("entra", "e-1"), ("entra", "e-2"), ("google", "g-1")].map(|(c, s)| (c.to_string(), s.to_string()));
    assert_eq!(keys, expected);

    assert!(links.touch_login("entra", "e-1", 5555).await.unwrap());
    assert_eq!(links.find("entra", "e-1").await.unwrap().unwrap().last_login_at, Some(5555));
    assert_eq!(links.find("entra", "e-2").await.unwrap().unwrap().last_login_at, None);
    assert!(!links.touch_login("entra", "nobody", 5555).await.unwrap());

    assert!(links.unlink("entra", "e-1").await.unwrap());
    assert!(!links.unlink("entra", "e-1").await.unwrap());
    assert_eq!(links.find("entra", "e-1").await.unwrap(), None);
    assert_eq!(links.for_user("alice").await.unwrap().len(), 2);
    assert_eq!(links.for_user("bob").await.unwrap().len(), 1);
}
