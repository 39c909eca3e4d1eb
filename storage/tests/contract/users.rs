//! Accounts: round trips, uniqueness, case-insensitive lookups, status, lockout and roles.

use crate::support::{Db, assert_conflict, contract, now};
use poort_storage::repo::{NewUser, UserStatus};
use serde_json::json;

contract!(
    create_round_trips_every_field,
    invited_users_are_not_activated,
    taken_email_or_user_name_conflicts_and_changes_nothing,
    lookups_ignore_case,
    list_pages_by_email,
    status_changes_record_the_first_activation,
    password_profile_and_verification_updates,
    failed_logins_count_and_lock,
    concurrent_failed_logins_are_all_counted,
    roles_are_replaced_granted_and_revoked,
    every_change_bumps_updated_at,
);

pub fn new_user(email: &str) -> NewUser {
    NewUser {
        email: email.to_string(),
        username: None,
        display_name: None,
        email_verified: false,
        claims: json!({}),
        status: UserStatus::Active,
        auth_method: "password".to_string(),
        password_hash: None,
    }
}

async fn create_round_trips_every_field(db: Db) {
    let users = db.store.users();
    let before = now();
    let created = users
        .create(NewUser {
            email: "  Alice.Smith@Example.COM ".to_string(),
            username: Some("AliceS".to_string()),
            display_name: Some("Alice Smith".to_string()),
            email_verified: true,
            claims: json!({"given_name": "Alice", "locale": "nl-NL", "address": {"country": "NL"}, "n": [1, 2.5]}),
            status: UserStatus::Active,
            auth_method: "password".to_string(),
            password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_string()),
        })
        .await
        .unwrap();
    let after = now();

    let id = uuid::Uuid::parse_str(&created.id).expect("the id is a UUID");
    assert_eq!(id.get_version_num(), 7);
    assert_eq!(created.email, "alice.smith@example.com");
    assert_eq!(created.username.as_deref(), Some("AliceS"), "user names are stored as given");
    assert_eq!(created.display_name.as_deref(), Some("Alice Smith"));
    assert!(created.email_verified);
    assert_eq!(created.claims, json!({"given_name": "Alice", "locale": "nl-NL", "address": {"country": "NL"}, "n": [1, 2.5]}));
    assert_eq!(created.status, UserStatus::Active);
    assert_eq!(created.auth_method, "password");
    assert_eq!(created.password_hash.as_deref(), Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"));
    assert_eq!(created.failed_logins, 0);
    assert_eq!(created.locked_until, None);
    assert_eq!(created.activation_sent_at, None);
    assert!((before..=after).contains(&created.created_at));
    assert_eq!(created.updated_at, created.created_at);
    assert_eq!(created.activated_at, Some(created.created_at), "an account created active is activated then");
    assert!(created.roles.is_empty());

    assert_eq!(users.get(&created.id).await.unwrap(), Some(created.clone()));
    assert_eq!(users.get("no-such-id").await.unwrap(), None);

    // A second account gets another id, and optional fields stay empty.
    let other = users.create(new_user("bob@example.com")).await.unwrap();
    assert_ne!(other.id, created.id);
    assert_eq!(other.username, None);
    assert_eq!(other.display_name, None);
    assert_eq!(other.password_hash, None);
    assert_eq!(users.get(&other.id).await.unwrap(), Some(other));
}

async fn invited_users_are_not_activated(db: Db) {
    let users = db.store.users();
    let invited = users.create(NewUser { status: UserStatus::Invited, ..new_user("carol@example.com") }).await.unwrap();
    assert_eq!(invited.status, UserStatus::Invited);
    assert_eq!(invited.activated_at, None);
    let disabled = users.create(NewUser { status: UserStatus::Disabled, ..new_user("dave@example.com") }).await.unwrap();
    assert_eq!(disabled.status, UserStatus::Disabled);
    assert_eq!(disabled.activated_at, None);
}

async fn taken_email_or_user_name_conflicts_and_changes_nothing(db: Db) {
    let users = db.store.users();
    let alice = users
        .create(NewUser { username: Some("Alice".to_string()), ..new_user("alice@example.com") })
        .await
        .unwrap();

    assert_conflict(users.create(new_user(" ALICE@Example.com")).await, "alice@example.com");
    assert_conflict(
        users.create(NewUser { username: Some("Alice".to_string()), ..new_user("other@example.com") }).await,
        "user name Alice",
    );
    // A user name differing only in case is taken too.
    assert_conflict(
        users.create(NewUser { username: Some("aLICE".to_string()), ..new_user("other@example.com") }).await,
        "user name aLICE",
    );

    let all = users.list(0, 100).await.unwrap();
    assert_eq!(all, vec![alice], "failed creates store nothing");
    assert!(users.find_by_email("other@example.com").await.unwrap().is_none());

    // Case folding goes beyond ASCII, the same on both engines.
    let angstrom = users
        .create(NewUser { username: Some("Ångström".to_string()), ..new_user("angstrom@example.com") })
        .await
        .unwrap();
    assert_conflict(
        users.create(NewUser { username: Some("ÅNGSTRÖM".to_string()), ..new_user("other@example.com") }).await,
        "user name ÅNGSTRÖM",
    );
    assert_eq!(users.find_by_login("ångström").await.unwrap().map(|u| u.id), Some(angstrom.id.clone()));

    // The e-mail address and user name are free for others once distinct.
    users.create(NewUser { username: Some("Alicia".to_string()), ..new_user("other@example.com") }).await.unwrap();
}

async fn lookups_ignore_case(db: Db) {
    let users = db.store.users();
    let alice = users
        .create(NewUser { username: Some("AliceS".to_string()), ..new_user("Alice@Example.com") })
        .await
        .unwrap();
    let bob = users.create(NewUser { username: Some("bob".to_string()), ..new_user("bob@example.com") }).await.unwrap();

    assert_eq!(users.find_by_email("alice@example.com").await.unwrap().unwrap().id, alice.id);
    assert_eq!(users.find_by_email("  ALICE@EXAMPLE.COM ").await.unwrap().unwrap().id, alice.id);
    assert_eq!(users.find_by_email("alices").await.unwrap(), None, "e-mail lookup does not match user names");
    assert_eq!(users.find_by_email("nobody@example.com").await.unwrap(), None);

    assert_eq!(users.find_by_login("ALICE@example.COM").await.unwrap().unwrap().id, alice.id);
    assert_eq!(users.find_by_login("AliceS").await.unwrap().unwrap().id, alice.id);
    assert_eq!(users.find_by_login("alices").await.unwrap().unwrap().id, alice.id);
    assert_eq!(users.find_by_login(" ALICES ").await.unwrap().unwrap().id, alice.id);
    assert_eq!(users.find_by_login("BOB").await.unwrap().unwrap().id, bob.id);
    assert_eq!(users.find_by_login("alice").await.unwrap(), None, "no prefix matching");
    assert_eq!(users.find_by_login("nobody").await.unwrap(), None);
    assert_eq!(users.find_by_login("").await.unwrap(), None);
}

async fn list_pages_by_email(db: Db) {
    let users = db.store.users();
    for email in ["carol@example.com", "alice@example.com", "bob@example.com"] {
        users.create(new_user(email)).await.unwrap();
    }
    let bob = users.find_by_email("bob@example.com").await.unwrap().unwrap();
    users.set_roles(&bob.id, &["admin".to_string()]).await.unwrap();

    let emails = |page: Vec<poort_storage::repo::UserRecord>| page.into_iter().map(|u| u.email).collect::<Vec<_>>();
    assert_eq!(emails(users.list(0, 2).await.unwrap()), ["alice@example.com", "bob@example.com"]);
    assert_eq!(emails(users.list(2, 2).await.unwrap()), ["carol@example.com"]);
    assert!(users.list(3, 2).await.unwrap().is_empty());
    let all = users.list(0, 10).await.unwrap();
    assert_eq!(all[1].roles, ["admin"], "listed accounts carry their roles");
    assert!(all[0].roles.is_empty() && all[2].roles.is_empty());
}

async fn status_changes_record_the_first_activation(db: Db) {
    let users = db.store.users();
    let user = users.create(NewUser { status: UserStatus::Invited, ..new_user("erin@example.com") }).await.unwrap();

    let before = now();
    assert!(users.set_status(&user.id, UserStatus::Active).await.unwrap());
    let active = users.get(&user.id).await.unwrap().unwrap();
    assert_eq!(active.status, UserStatus::Active);
    let activated = active.activated_at.expect("activation time recorded");
    assert!((before..=now()).contains(&activated));

    // Pretend that was long ago: later changes must keep the first activation time.
    db.sql(&format!("UPDATE users SET activated_at = 1000 WHERE id = '{}'", user.id)).await;
    assert!(users.set_status(&user.id, UserStatus::Disabled).await.unwrap());
    let disabled = users.get(&user.id).await.unwrap().unwrap();
    assert_eq!(disabled.status, UserStatus::Disabled);
    assert_eq!(disabled.activated_at, Some(1000));
    assert!(users.set_status(&user.id, UserStatus::Active).await.unwrap());
    assert_eq!(users.get(&user.id).await.unwrap().unwrap().activated_at, Some(1000));

    assert!(!users.set_status("no-such-id", UserStatus::Active).await.unwrap());
}

async fn password_profile_and_verification_updates(db: Db) {
    let users = db.store.users();
    let user = users.create(new_user("frank@example.com")).await.unwrap();

    assert!(users.set_password_hash(&user.id, Some("hash-1".to_string())).await.unwrap());
    assert_eq!(users.get(&user.id).await.unwrap().unwrap().password_hash.as_deref(), Some("hash-1"));
    assert!(users.set_password_hash(&user.id, None).await.unwrap());
    assert_eq!(users.get(&user.id).await.unwrap().unwrap().password_hash, None);

    let claims = json!({"given_name": "Frank", "family_name": "de Vries"});
    assert!(users.update_profile(&user.id, Some("Frank de Vries".to_string()), claims.clone()).await.unwrap());
    let updated = users.get(&user.id).await.unwrap().unwrap();
    assert_eq!(updated.display_name.as_deref(), Some("Frank de Vries"));
    assert_eq!(updated.claims, claims);
    assert!(users.update_profile(&user.id, None, json!({})).await.unwrap());
    let cleared = users.get(&user.id).await.unwrap().unwrap();
    assert_eq!((cleared.display_name, cleared.claims), (None, json!({})));

    assert!(users.set_email_verified(&user.id, true).await.unwrap());
    assert!(users.get(&user.id).await.unwrap().unwrap().email_verified);

    assert!(users.mark_activation_sent(&user.id, 12345).await.unwrap());

    assert!(users.set_auth_method(&user.id, "contoso").await.unwrap());
    assert_eq!(users.get(&user.id).await.unwrap().unwrap().auth_method, "contoso");
    assert_eq!(users.get(&user.id).await.unwrap().unwrap().activation_sent_at, Some(12345));

    // Nothing to change for an unknown id.
    assert!(!users.set_password_hash("no-such-id", Some("x".to_string())).await.unwrap());
    assert!(!users.update_profile("no-such-id", None, json!({})).await.unwrap());
    assert!(!users.set_email_verified("no-such-id", true).await.unwrap());
    assert!(!users.mark_activation_sent("no-such-id", 1).await.unwrap());
    assert!(!users.set_auth_method("no-such-id", "contoso").await.unwrap());
}

async fn failed_logins_count_and_lock(db: Db) {
    let users = db.store.users();
    let user = users.create(new_user("grace@example.com")).await.unwrap();

    assert_eq!(users.record_failed_login(&user.id, None).await.unwrap(), 1);
    assert_eq!(users.record_failed_login(&user.id, Some(5000)).await.unwrap(), 2);
    let locked = users.get(&user.id).await.unwrap().unwrap();
    assert_eq!((locked.failed_logins, locked.locked_until), (2, Some(5000)));
    // Without a new lock the current one stays.
    assert_eq!(users.record_failed_login(&user.id, None).await.unwrap(), 3);
    assert_eq!(users.get(&user.id).await.unwrap().unwrap().locked_until, Some(5000));

    assert!(users.reset_failed_logins(&user.id).await.unwrap());
    let reset = users.get(&user.id).await.unwrap().unwrap();
    assert_eq!((reset.failed_logins, reset.locked_until), (0, None));

    assert_eq!(users.record_failed_login("no-such-id", Some(1)).await.unwrap(), 0);
    assert!(!users.reset_failed_logins("no-such-id").await.unwrap());
}

async fn concurrent_failed_logins_are_all_counted(db: Db) {
    let users = db.store.users();
    let user = users.create(new_user("heidi@example.com")).await.unwrap();
    let (a, b, c) = tokio::join!(
        users.record_failed_login(&user.id, None),
        users.record_failed_login(&user.id, None),
        users.record_failed_login(&user.id, None),
    );
    let mut counts = vec![a.unwrap(), b.unwrap(), c.unwrap()];
    counts.sort();
    assert_eq!(counts, [1, 2, 3]);
    assert_eq!(users.get(&user.id).await.unwrap().unwrap().failed_logins, 3);
}

async fn roles_are_replaced_granted_and_revoked(db: Db) {
    let users = db.store.users();
    let user = users.create(new_user("ivan@example.com")).await.unwrap();
    let other = users.create(new_user("judy@example.com")).await.unwrap();
    let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();

    assert!(users.set_roles(&user.id, &names(&["viewer", "admin", "viewer"])).await.unwrap());
    assert_eq!(users.get(&user.id).await.unwrap().unwrap().roles, ["admin", "viewer"]);
    assert!(users.set_roles(&other.id, &names(&["viewer"])).await.unwrap());

    assert!(users.grant_role(&user.id, "auditor").await.unwrap());
    assert!(!users.grant_role(&user.id, "auditor").await.unwrap(), "granting a held role changes nothing");
    assert!(users.revoke_role(&user.id, "admin").await.unwrap());
    assert!(!users.revoke_role(&user.id, "admin").await.unwrap());
    assert_eq!(users.get(&user.id).await.unwrap().unwrap().roles, ["auditor", "viewer"]);

    assert!(users.set_roles(&user.id, &names(&["operator"])).await.unwrap());
    assert_eq!(users.get(&user.id).await.unwrap().unwrap().roles, ["operator"]);
    assert!(users.set_roles(&user.id, &[]).await.unwrap());
    assert!(users.get(&user.id).await.unwrap().unwrap().roles.is_empty());
    assert_eq!(users.get(&other.id).await.unwrap().unwrap().roles, ["viewer"], "other accounts keep theirs");

    // An unknown account gets nothing, and no stray role rows appear.
    assert!(!users.set_roles("no-such-id", &names(&["ghost"])).await.unwrap());
    assert!(!users.grant_role("no-such-id", "ghost").await.unwrap());
    assert!(!users.revoke_role("no-such-id", "viewer").await.unwrap());
    assert!(db.store.roles().users_with("ghost").await.unwrap().is_empty());
}

async fn every_change_bumps_updated_at(db: Db) {
    let users = db.store.users();
    let user = users.create(new_user("kim@example.com")).await.unwrap();
    let id = user.id.clone();
    let backdate = || async { db.sql(&format!("UPDATE users SET updated_at = 1 WHERE id = '{id}'")).await };
    let updated_at = || async { users.get(&id).await.unwrap().unwrap().updated_at };

    macro_rules! bumps {
        ($what:literal, $call:expr) => {{
            backdate().await;
            let before = now();
            assert!($call.await.unwrap(), "{} reports a change", $what);
            assert!(updated_at().await >= before, "{} bumps updated_at", $what);
        }};
    }
    bumps!("set_status", users.set_status(&id, UserStatus::Disabled));
    bumps!("set_password_hash", users.set_password_hash(&id, Some("h".to_string())));
    bumps!("set_email_verified", users.set_email_verified(&id, true));
    bumps!("set_auth_method", users.set_auth_method(&id, "ldap"));
    bumps!("update_profile", users.update_profile(&id, Some("Kim".to_string()), json!({"a": 1})));
    bumps!("reset_failed_logins", users.reset_failed_logins(&id));
    bumps!("mark_activation_sent", users.mark_activation_sent(&id, 77));
    bumps!("set_roles", users.set_roles(&id, &["a".to_string()]));
    bumps!("grant_role", users.grant_role(&id, "b"));
    bumps!("revoke_role", users.revoke_role(&id, "b"));

    backdate().await;
    let before = now();
    assert_eq!(users.record_failed_login(&id, None).await.unwrap(), 1);
    assert!(updated_at().await >= before, "record_failed_login bumps updated_at");

    // A call that changes nothing leaves it alone.
    backdate().await;
    assert!(!users.grant_role(&id, "a").await.unwrap());
    assert!(!users.revoke_role(&id, "b").await.unwrap());
    assert_eq!(updated_at().await, 1);
}

#[test]
fn status_text_round_trips() {
    for status in [UserStatus::Invited, UserStatus::Active, UserStatus::Disabled] {
        assert_eq!(status.as_str().parse::<UserStatus>().unwrap(), status);
    }
    assert_eq!(UserStatus::Invited.as_str(), "invited");
    assert_eq!(UserStatus::Active.as_str(), "active");
    assert_eq!(UserStatus::Disabled.as_str(), "disabled");
    assert!("Active".parse::<UserStatus>().is_err());
}
