//! SQLite's in-place connections (`storage/src/in_place.rs`): on a SQLite file the hot reads
//! and the group commit's batches run in place, with the same answers as through the pool; a
//! write that finds the database locked goes through the pool and waits its turn there. On
//! PostgreSQL and in memory, nothing runs in place.

use crate::support::{Backend, Db, now, run};
use poort_storage::InPlaceCounts;
use poort_storage::repo::{
    CodeCheck, ConsumeOutcome, NewAuthorizationCode, NewGrant, NewSession, NewToken, NewUser, TokenKind, TokensForCode, UserStatus,
};
use sea_orm::{SqliteTransactionMode, TransactionOptions, TransactionTrait};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const HOUR: i64 = 3600;

fn alice() -> NewUser {
    NewUser {
        email: "alice@example.com".to_string(),
        username: Some("alice".to_string()),
        display_name: Some("Alice".to_string()),
        email_verified: true,
        claims: json!({"locale": "nl", "groups": ["sales"]}),
        status: UserStatus::Active,
        auth_method: "password".to_string(),
        password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_string()),
    }
}

fn grant_of(user_id: &str, session_id: &str) -> NewGrant {
    NewGrant {
        client_id: "webapp".to_string(),
        user_id: Some(user_id.to_string()),
        session_id: Some(session_id.to_string()),
        scope: "openid profile".to_string(),
        claims: Some(json!({"id_token": {"email": null}})),
        auth_time: Some(now() - 10),
        expires_at: now() + HOUR,
    }
}

fn code_of(hash: &str, user_id: &str, session_id: &str) -> NewAuthorizationCode {
    NewAuthorizationCode {
        code_hash: hash.to_string(),
        grant_id: String::new(),
        client_id: "webapp".to_string(),
        user_id: user_id.to_string(),
        session_id: session_id.to_string(),
        redirect_uri: "https://app.example/cb".to_string(),
        scope: "openid profile".to_string(),
        nonce: Some("n-0S6_WzA2Mj".to_string()),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_string()),
        code_challenge_method: Some("S256".to_string()),
        claims: Some(json!({"id_token": {"email": null}})),
        auth_time: now() - 10,
        acr: None,
        amr: vec!["pwd".to_string()],
        expires_at: now() + 60,
    }
}

fn token_of(hash: &str, grant_id: &str, user_id: &str) -> NewToken {
    NewToken {
        token_hash: hash.to_string(),
        kind: TokenKind::Access,
        grant_id: grant_id.to_string(),
        client_id: "webapp".to_string(),
        user_id: Some(user_id.to_string()),
        scope: "openid profile".to_string(),
        family_id: None,
        expires_at: now() + 600,
    }
}

/// A whole code flow's reads and writes, checked field by field, and what ran in place.
async fn code_flow(db: &Db) -> InPlaceCounts {
    let store = &db.store;
    let user = store.users().create(alice()).await.unwrap();
    store.roles().upsert("admin", None, &[]).await.unwrap();
    store.roles().upsert("sales", None, &[]).await.unwrap();
    assert!(store.users().set_roles(&user.id, &["sales".to_string(), "admin".to_string()]).await.unwrap());
    let session = store
        .sessions()
        .create(NewSession {
            cookie_hash: "cookie-1".to_string(),
            user_id: user.id.clone(),
            auth_time: now() - 10,
            amr: vec!["pwd".to_string(), "otp".to_string()],
            acr: Some("urn:poort:acr:mfa".to_string()),
            idle_expires_at: now() + HOUR,
            expires_at: now() + 8 * HOUR,
            user_agent: Some("Mozilla/5.0".to_string()),
            ip: None,
        })
        .await
        .unwrap();
    let before = store.in_place_counts();

    // The authorization: the session and its user, then a grant with its code.
    let (found, found_user) = store.sessions().find_by_cookie_hash_with_user("cookie-1", now()).await.unwrap().unwrap();
    assert_eq!(found, session);
    let expected_user = store.users().get(&user.id).await.unwrap().unwrap();
    assert_eq!(found_user, expected_user);
    assert_eq!(found_user.roles, ["admin", "sales"]);
    assert_eq!(found_user.claims, json!({"locale": "nl", "groups": ["sales"]}));
    assert!(found_user.email_verified);
    assert_eq!(found_user.locked_until, None);
    assert_eq!(store.sessions().find_by_cookie_hash("cookie-1", now()).await.unwrap(), Some(session.clone()));
    assert_eq!(store.sessions().get(&session.id).await.unwrap(), Some(session.clone()));
    assert_eq!(store.sessions().find_by_cookie_hash("cookie-2", now()).await.unwrap(), None);
    let (grant, code) = store
        .grants()
        .create_grant_with_code(grant_of(&user.id, &session.id), code_of("code-1", &user.id, &session.id))
        .await
        .unwrap();
    // What was written in place reads back the same through the pool.
    assert_eq!(store.grants().get_grant(&grant.id).await.unwrap(), Some(grant.clone()));
    assert_eq!(grant.claims, Some(json!({"id_token": {"email": null}})));
    assert_eq!(store.sessions().clients_of(&session.id).await.unwrap(), ["webapp"]);

    // The token request: the code spent with its access token, the user read; more tokens under the grant.
    let accept: CodeCheck = Arc::new(|code| code.redirect_uri == "https://app.example/cb");
    let tokens: TokensForCode = Arc::new(|code| vec![token_of("token-0", &code.grant_id, &code.user_id)]);
    let ConsumeOutcome::Consumed(spent) =
        store.grants().redeem_code_for_tokens("code-1", now(), accept.clone(), tokens).await.unwrap()
    else {
        panic!("the code was not spent");
    };
    assert_eq!(spent.consumed_at.map(|_| ()), Some(()));
    assert_eq!(spent, storage_code_spent(&code, spent.consumed_at));
    let stored_with_code = store.grants().find_token("token-0").await.unwrap().expect("stored with the code");
    assert_eq!((stored_with_code.grant_id.as_str(), stored_with_code.user_id.as_deref()), (grant.id.as_str(), Some(user.id.as_str())));
    assert!(matches!(store.grants().redeem_code("code-1", now(), accept.clone()).await.unwrap(), ConsumeOutcome::AlreadyUsed(_)));
    assert!(matches!(store.grants().redeem_code("code-2", now(), accept).await.unwrap(), ConsumeOutcome::NotFound));
    let refuse: CodeCheck = Arc::new(|_| false);
    store.grants().create_grant_with_code(grant_of(&user.id, &session.id), code_of("code-3", &user.id, &session.id)).await.unwrap();
    assert!(matches!(store.grants().redeem_code("code-3", now(), refuse).await.unwrap(), ConsumeOutcome::Refused(_)));
    assert!(
        matches!(store.grants().consume_code("code-3", now()).await.unwrap(), ConsumeOutcome::Consumed(_)),
        "a refused code stays unspent"
    );
    let token = store.grants().store_token(token_of("token-1", &grant.id, &user.id)).await.unwrap().unwrap();
    assert_eq!(store.grants().find_token("token-1").await.unwrap(), Some(token));
    assert_eq!(store.grants().find_token("token-2").await.unwrap(), None);
    store.grants().revoke_grant(&grant.id, now()).await.unwrap();
    assert_eq!(store.grants().store_token(token_of("token-3", &grant.id, &user.id)).await.unwrap(), None, "no token under a revoked grant");
    assert_eq!(store.grants().find_token("token-3").await.unwrap(), None);

    let after = store.in_place_counts();
    InPlaceCounts {
        reads: after.reads - before.reads,
        read_fallbacks: after.read_fallbacks - before.read_fallbacks,
        write_batches: after.write_batches - before.write_batches,
        write_fallbacks: after.write_fallbacks - before.write_fallbacks,
    }
}

/// The stored code as the redemption returns it.
fn storage_code_spent(
    code: &poort_storage::repo::AuthorizationCodeRecord,
    consumed_at: Option<i64>,
) -> poort_storage::repo::AuthorizationCodeRecord {
    poort_storage::repo::AuthorizationCodeRecord { consumed_at, ..code.clone() }
}

#[tokio::test]
async fn on_a_sqlite_file_a_code_flow_runs_in_place_with_the_pools_answers() {
    run(Backend::SqliteFile, |db| async move {
        let counts = code_flow(&db).await;
        // Every read of the flow (five of sessions and users, four of tokens) and every write
        // batch (two grants with their codes, five redemptions, one of them with its token, two
        // tokens; one at a time, so one batch each) ran in place: none needed the pool.
        assert_eq!(counts, InPlaceCounts { reads: 9, read_fallbacks: 0, write_batches: 9, write_fallbacks: 0 });
    })
    .await;
}

#[tokio::test]
async fn on_postgres_and_in_memory_nothing_runs_in_place() {
    for backend in [Backend::Postgres, Backend::Memory] {
        run(backend, |db| async move {
            assert_eq!(code_flow(&db).await, InPlaceCounts::default());
        })
        .await;
    }
}

#[tokio::test]
async fn a_write_that_finds_the_database_locked_waits_its_turn_through_the_pool() {
    run(Backend::SqliteFile, |db| async move {
        let user = db.store.users().create(alice()).await.unwrap();
        let grant = db.store.grants().create_grant(grant_of(&user.id, "session-1")).await.unwrap();
        // Another node holds SQLite's write lock.
        let other = db.open_another().await;
        let immediate = TransactionOptions { sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate), ..Default::default() };
        let holding = other.connection().begin_with_options(immediate).await.unwrap();
        let before = db.store.in_place_counts();

        let store = db.store.clone();
        let (grant_id, user_id) = (grant.id.clone(), user.id.clone());
        let writing = tokio::spawn(async move { store.grants().store_token(token_of("token-1", &grant_id, &user_id)).await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!writing.is_finished(), "the write waits for the lock");
        // Reads go on meanwhile, in place.
        assert_eq!(db.store.grants().find_token("token-1").await.unwrap(), None);
        holding.commit().await.unwrap();

        let stored = writing.await.unwrap().unwrap().expect("stored once the lock is free");
        assert_eq!(db.store.grants().find_token("token-1").await.unwrap(), Some(stored));
        let after = db.store.in_place_counts();
        assert_eq!(after.write_fallbacks - before.write_fallbacks, 1);
        assert_eq!(after.read_fallbacks, before.read_fallbacks);
        assert_eq!(after.reads - before.reads, 2);
    })
    .await;
}

#[tokio::test]
async fn an_in_place_read_sees_what_another_connection_just_committed() {
    run(Backend::SqliteFile, |db| async move {
        let user = db.store.users().create(alice()).await.unwrap();
        let grant = db.store.grants().create_grant(grant_of(&user.id, "session-1")).await.unwrap();
        let other = db.open_another().await;
        for n in 0..20 {
            let hash = format!("token-{n}");
            assert_eq!(db.store.grants().find_token(&hash).await.unwrap(), None);
            other.grants().store_token(token_of(&hash, &grant.id, &user.id)).await.unwrap().unwrap();
            let found = db.store.grants().find_token(&hash).await.unwrap();
            assert_eq!(found.map(|t| t.token_hash), Some(hash));
        }
        assert_eq!(db.store.in_place_counts().read_fallbacks, 0);
    })
    .await;
}
