//! Sessions: round trips, liveness, touching, ending, client lists and purging.

use crate::support::{Db, assert_conflict, contract, now};
use poort_storage::repo::NewSession;

contract!(
    create_round_trips_every_field,
    only_live_sessions_are_found,
    touch_moves_idle_expiry_of_live_sessions_only,
    end_and_end_all_for_user,
    list_for_user_shows_live_sessions_newest_first,
    clients_are_recorded_once_in_order,
    purge_removes_dead_sessions_and_their_clients,
    reauthenticating_keeps_the_id_and_clients_with_a_new_cookie,
    end_for_user_ends_only_that_users_live_session,
    a_cookie_finds_its_live_session_with_its_user_and_roles,
);

const HOUR: i64 = 3600;

fn new_session(cookie_hash: &str, user_id: &str) -> NewSession {
    NewSession {
        cookie_hash: cookie_hash.to_string(),
        user_id: user_id.to_string(),
        auth_time: now(),
        amr: vec!["pwd".to_string()],
        acr: None,
        idle_expires_at: now() + HOUR,
        expires_at: now() + 8 * HOUR,
        user_agent: None,
        ip: None,
    }
}

async fn create_round_trips_every_field(db: Db) {
    let sessions = db.store.sessions();
    let before = now();
    let created = sessions
        .create(NewSession {
            cookie_hash: "cookie-1".to_string(),
            user_id: "user-1".to_string(),
            auth_time: 1_700_000_000,
            amr: vec!["pwd".to_string(), "otp".to_string()],
            acr: Some("urn:poort:acr:mfa".to_string()),
            idle_expires_at: 4_000_000_000,
            expires_at: 4_100_000_000,
            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64)".to_string()),
            ip: Some("192.0.2.7".to_string()),
        })
        .await
        .unwrap();
    assert_eq!(uuid::Uuid::parse_str(&created.id).unwrap().get_version_num(), 7);
    assert_eq!(created.cookie_hash, "cookie-1");
    assert_eq!(created.user_id, "user-1");
    assert_eq!(created.auth_time, 1_700_000_000);
    assert_eq!(created.amr, ["pwd", "otp"]);
    assert_eq!(created.acr.as_deref(), Some("urn:poort:acr:mfa"));
    assert!((before..=now()).contains(&created.created_at));
    assert_eq!(created.last_seen_at, created.created_at);
    assert_eq!(created.idle_expires_at, 4_000_000_000);
    assert_eq!(created.expires_at, 4_100_000_000);
    assert_eq!(created.ended_at, None);
    assert_eq!(created.user_agent.as_deref(), Some("Mozilla/5.0 (X11; Linux x86_64)"));
    assert_eq!(created.ip.as_deref(), Some("192.0.2.7"));
    assert!(created.is_live(now()));
    assert_eq!(sessions.get(&created.id).await.unwrap(), Some(created.clone()));
    assert_eq!(sessions.find_by_cookie_hash("cookie-1", now()).await.unwrap(), Some(created.clone()));

    assert_conflict(sessions.create(new_session("cookie-1", "user-2")).await, "session");
    assert!(sessions.list_for_user("user-2", now()).await.unwrap().is_empty());
    assert_eq!(sessions.get("no-such-session").await.unwrap(), None);
}

async fn only_live_sessions_are_found(db: Db) {
    let sessions = db.store.sessions();
    let t = now();
    let idle = sessions.create(NewSession { idle_expires_at: t, ..new_session("idle", "u") }).await.unwrap();
    sessions.create(NewSession { expires_at: t, ..new_session("absolute", "u") }).await.unwrap();
    let ended = sessions.create(new_session("ended", "u")).await.unwrap();
    sessions.end(&ended.id, t).await.unwrap();
    sessions.create(new_session("live", "u")).await.unwrap();

    assert_eq!(sessions.find_by_cookie_hash("idle", t).await.unwrap(), None, "past its idle expiry");
    assert!(sessions.find_by_cookie_hash("idle", t - 1).await.unwrap().is_some(), "live one second earlier");
    assert_eq!(sessions.find_by_cookie_hash("absolute", t).await.unwrap(), None, "past its absolute expiry");
    assert_eq!(sessions.find_by_cookie_hash("ended", t).await.unwrap(), None);
    assert!(sessions.find_by_cookie_hash("live", t).await.unwrap().is_some());
    assert_eq!(sessions.find_by_cookie_hash("never-issued", t).await.unwrap(), None);
    // `get` still shows dead sessions, for logout and auditing.
    assert!(!sessions.get(&idle.id).await.unwrap().unwrap().is_live(t));
}

async fn touch_moves_idle_expiry_of_live_sessions_only(db: Db) {
    let sessions = db.store.sessions();
    let session = sessions.create(new_session("cookie", "u")).await.unwrap();
    let t = now() + 60;
    assert!(sessions.touch(&session.id, t, t + 2 * HOUR).await.unwrap());
    let touched = sessions.get(&session.id).await.unwrap().unwrap();
    assert_eq!((touched.last_seen_at, touched.idle_expires_at), (t, t + 2 * HOUR));
    assert_eq!(touched.expires_at, session.expires_at, "the absolute expiry never moves");

    // An idle-expired session is not revived.
    let later = t + 3 * HOUR;
    assert!(!sessions.touch(&session.id, later, later + HOUR).await.unwrap());
    assert_eq!(sessions.get(&session.id).await.unwrap().unwrap(), touched);
    assert_eq!(sessions.find_by_cookie_hash("cookie", later).await.unwrap(), None);

    let ended = sessions.create(new_session("ended", "u")).await.unwrap();
    sessions.end(&ended.id, now()).await.unwrap();
    assert!(!sessions.touch(&ended.id, now(), now() + HOUR).await.unwrap());
    assert!(!sessions.touch("no-such-session", now(), now() + HOUR).await.unwrap());
}

async fn end_and_end_all_for_user(db: Db) {
    let sessions = db.store.sessions();
    let a = sessions.create(new_session("a", "alice")).await.unwrap();
    let b = sessions.create(new_session("b", "alice")).await.unwrap();
    let c = sessions.create(new_session("c", "alice")).await.unwrap();
    let already = sessions.create(new_session("d", "alice")).await.unwrap();
    let bob = sessions.create(new_session("e", "bob")).await.unwrap();

    assert!(sessions.end(&already.id, 100).await.unwrap());
    assert!(!sessions.end(&already.id, 200).await.unwrap(), "ending twice changes nothing");
    assert_eq!(sessions.get(&already.id).await.unwrap().unwrap().ended_at, Some(100));
    assert!(!sessions.end("no-such-session", 100).await.unwrap());

    let mut ended = sessions.end_all_for_user("alice", 300, Some(&b.id)).await.unwrap();
    ended.sort();
    let mut expected = vec![a.id.clone(), c.id.clone()];
    expected.sort();
    assert_eq!(ended, expected, "every other unended session of alice, and only those");
    assert_eq!(sessions.get(&a.id).await.unwrap().unwrap().ended_at, Some(300));
    assert_eq!(sessions.get(&b.id).await.unwrap().unwrap().ended_at, None, "the excepted session stays");
    assert_eq!(sessions.get(&already.id).await.unwrap().unwrap().ended_at, Some(100));
    assert_eq!(sessions.get(&bob.id).await.unwrap().unwrap().ended_at, None);

    assert_eq!(sessions.end_all_for_user("alice", 400, None).await.unwrap(), [b.id]);
    assert!(sessions.end_all_for_user("alice", 500, None).await.unwrap().is_empty());
}

async fn list_for_user_shows_live_sessions_newest_first(db: Db) {
    let sessions = db.store.sessions();
    let first = sessions.create(new_session("1", "alice")).await.unwrap();
    let second = sessions.create(new_session("2", "alice")).await.unwrap();
    let ended = sessions.create(new_session("3", "alice")).await.unwrap();
    sessions.end(&ended.id, now()).await.unwrap();
    sessions.create(new_session("4", "bob")).await.unwrap();
    db.sql(&format!("UPDATE sessions SET created_at = 100 WHERE id = '{}'", first.id)).await;
    db.sql(&format!("UPDATE sessions SET created_at = 200 WHERE id = '{}'", second.id)).await;

    let listed: Vec<_> = sessions.list_for_user("alice", now()).await.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(listed, [second.id, first.id]);
    assert!(sessions.list_for_user("carol", now()).await.unwrap().is_empty());
}

async fn clients_are_recorded_once_in_order(db: Db) {
    let sessions = db.store.sessions();
    let session = sessions.create(new_session("cookie", "u")).await.unwrap();
    let other = sessions.create(new_session("other", "u")).await.unwrap();
    assert!(sessions.clients_of(&session.id).await.unwrap().is_empty());
    sessions.add_client(&session.id, "zeta").await.unwrap();
    sessions.add_client(&session.id, "alpha").await.unwrap();
    sessions.add_client(&session.id, "zeta").await.unwrap();
    sessions.add_client(&other.id, "beta").await.unwrap();
    db.sql(&format!("UPDATE session_clients SET first_seen_at = 1 WHERE client_id = 'zeta' AND session_id = '{}'", session.id))
        .await;
    assert_eq!(sessions.clients_of(&session.id).await.unwrap(), ["zeta", "alpha"]);
    assert_eq!(sessions.clients_of(&other.id).await.unwrap(), ["beta"]);
}

async fn purge_removes_dead_sessions_and_their_clients(db: Db) {
    let sessions = db.store.sessions();
    let t = now();
    let live = sessions.create(new_session("live", "u")).await.unwrap();
    let idle = sessions.create(NewSession { idle_expires_at: t - 1, ..new_session("idle", "u") }).await.unwrap();
    let absolute = sessions.create(NewSession { expires_at: t, ..new_session("absolute", "u") }).await.unwrap();
    let ended = sessions.create(new_session("ended", "u")).await.unwrap();
    sessions.end(&ended.id, t - 5).await.unwrap();
    for id in [&live.id, &idle.id, &absolute.id, &ended.id] {
        sessions.add_client(id, "webapp").await.unwrap();
    }

    assert_eq!(sessions.purge_expired(t).await.unwrap(), 3);
    for dead in [&idle.id, &absolute.id, &ended.id] {
        assert_eq!(sessions.get(dead).await.unwrap(), None);
        assert!(sessions.clients_of(dead).await.unwrap().is_empty(), "its client list went with it");
    }
    assert!(sessions.get(&live.id).await.unwrap().is_some());
    assert_eq!(sessions.clients_of(&live.id).await.unwrap(), ["webapp"]);
    assert_eq!(sessions.purge_expired(t).await.unwrap(), 0);
}

async fn reauthenticating_keeps_the_id_and_clients_with_a_new_cookie(db: Db) {
    let sessions = db.store.sessions();
    let session = sessions.create(new_session("old-cookie", "u")).await.unwrap();
    sessions.add_client(&session.id, "crm").await.unwrap();
    let amr = vec!["fed".to_string(), "mfa".to_string()];
    assert!(sessions.reauthenticate(&session.id, "new-cookie", session.auth_time + 60, &amr, Some("2")).await.unwrap());
    assert_eq!(sessions.find_by_cookie_hash("old-cookie", now()).await.unwrap(), None, "the old cookie no longer works");
    let again = sessions.find_by_cookie_hash("new-cookie", now()).await.unwrap().unwrap();
    assert_eq!(again.id, session.id);
    assert_eq!(again.auth_time, session.auth_time + 60);
    assert_eq!(again.amr, amr);
    assert_eq!(again.acr.as_deref(), Some("2"));
    assert_eq!(again.created_at, session.created_at);
    assert_eq!(sessions.clients_of(&session.id).await.unwrap(), ["crm"]);

    // Another session's cookie cannot be taken over, and an ended session stays ended.
    let other = sessions.create(new_session("other-cookie", "u")).await.unwrap();
    assert_conflict(sessions.reauthenticate(&session.id, "other-cookie", now(), &amr, None).await, "session");
    sessions.end(&other.id, now()).await.unwrap();
    assert!(!sessions.reauthenticate(&other.id, "fresh", now(), &amr, None).await.unwrap());
    assert_eq!(sessions.find_by_cookie_hash("fresh", now()).await.unwrap(), None);
}

async fn end_for_user_ends_only_that_users_live_session(db: Db) {
    let sessions = db.store.sessions();
    let alice = sessions.create(new_session("a", "alice")).await.unwrap();
    let bob = sessions.create(new_session("b", "bob")).await.unwrap();
    assert!(!sessions.end_for_user("alice", &bob.id, now()).await.unwrap(), "not alice's session");
    assert!(sessions.get(&bob.id).await.unwrap().unwrap().is_live(now()));
    assert!(sessions.end_for_user("alice", &alice.id, 500).await.unwrap());
    assert_eq!(sessions.get(&alice.id).await.unwrap().unwrap().ended_at, Some(500));
    assert!(!sessions.end_for_user("alice", &alice.id, 600).await.unwrap(), "already ended");
    assert!(!sessions.end_for_user("alice", "no-such-session", 600).await.unwrap());
}

async fn a_cookie_finds_its_live_session_with_its_user_and_roles(db: Db) {
    let users = db.store.users();
    let dana = users.create(crate::users::new_user("dana@example.com")).await.unwrap();
    users.set_roles(&dana.id, &["sales".to_string(), "admin".to_string()]).await.unwrap();
    let erik = users.create(crate::users::new_user("erik@example.com")).await.unwrap();
    let sessions = db.store.sessions();
    let t = now();
    let live = sessions.create(new_session("dana-cookie", &dana.id)).await.unwrap();
    sessions.create(new_session("erik-cookie", &erik.id)).await.unwrap();
    let ended = sessions.create(new_session("ended-cookie", &dana.id)).await.unwrap();
    sessions.end(&ended.id, t).await.unwrap();
    sessions.create(new_session("orphan-cookie", "no-such-user")).await.unwrap();

    let (session, user) = sessions.find_by_cookie_hash_with_user("dana-cookie", t).await.unwrap().unwrap();
    assert_eq!(session, live);
    assert_eq!(user.roles, ["admin", "sales"], "every role, once, in order");
    assert_eq!(Some(user), users.get(&dana.id).await.unwrap(), "the user as `Users::get` reads it");
    let (_, user) = sessions.find_by_cookie_hash_with_user("erik-cookie", t).await.unwrap().unwrap();
    assert!(user.roles.is_empty());
    assert_eq!(Some(user), users.get(&erik.id).await.unwrap());

    assert_eq!(sessions.find_by_cookie_hash_with_user("ended-cookie", t).await.unwrap(), None, "an ended session");
    assert_eq!(sessions.find_by_cookie_hash_with_user("dana-cookie", live.idle_expires_at).await.unwrap(), None, "past its idle expiry");
    assert_eq!(sessions.find_by_cookie_hash_with_user("orphan-cookie", t).await.unwrap(), None, "a session whose user is gone");
    assert_eq!(sessions.find_by_cookie_hash_with_user("never-issued", t).await.unwrap(), None);
}
