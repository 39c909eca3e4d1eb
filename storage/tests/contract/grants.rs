//! Grants, codes and tokens: round trips, single-use codes, refresh rotation with reuse
//! detection, revocation cascades and purging.

use crate::support::{Db, assert_conflict, contract, now};
use poort_storage::repo::{
    CodeCheck, ConsumeOutcome, GrantRecord, Grants, NewAuthorizationCode, NewGrant, NewRefreshToken, NewToken, RotateOutcome,
    TokenKind, TokensForCode,
};
use serde_json::json;
use std::sync::Arc;

contract!(
    grant_round_trips_every_field,
    code_round_trips_and_is_spent_once,
    concurrent_code_redemptions_have_one_winner,
    expired_and_unknown_codes_are_refused,
    a_code_the_check_refuses_stays_unspent,
    a_code_is_spent_with_its_tokens_or_not_at_all,
    a_revocation_racing_a_redemption_leaves_no_live_token,
    tokens_round_trip_and_conflict,
    tokens_are_refused_under_a_dead_grant,
    a_grant_and_its_token_are_stored_together,
    concurrent_writes_are_all_stored_and_one_failure_fails_alone,
    a_grant_and_its_code_are_stored_together,
    refresh_rotation_detects_reuse,
    concurrent_rotations_have_one_winner,
    refusals_to_rotate,
    revoking_a_grant_revokes_everything_under_it,
    revoke_token_and_family,
    revoke_user_grants_by_client,
    revoke_client_grants_for_every_user,
    revoke_session_grants_keeps_offline_access_when_asked,
    extend_grant_only_while_live,
    purge_removes_only_expired_rows,
);

const HOUR: i64 = 3600;

fn new_grant(client_id: &str, user_id: &str) -> NewGrant {
    NewGrant {
        client_id: client_id.to_string(),
        user_id: Some(user_id.to_string()),
        session_id: Some("session-1".to_string()),
        scope: "openid profile".to_string(),
        claims: None,
        auth_time: Some(now() - 10),
        expires_at: now() + HOUR,
    }
}

async fn live_grant(grants: &Grants<'_>) -> GrantRecord {
    grants.create_grant(new_grant("webapp", "user-1")).await.unwrap()
}

fn code(hash: &str, grant: &GrantRecord) -> NewAuthorizationCode {
    NewAuthorizationCode {
        code_hash: hash.to_string(),
        grant_id: grant.id.clone(),
        client_id: grant.client_id.clone(),
        user_id: grant.user_id.clone().unwrap(),
        session_id: "session-1".to_string(),
        redirect_uri: "https://app.example/cb".to_string(),
        scope: grant.scope.clone(),
        nonce: None,
        code_challenge: None,
        code_challenge_method: None,
        claims: None,
        auth_time: now() - 10,
        acr: None,
        amr: vec!["pwd".to_string()],
        expires_at: now() + 60,
    }
}

fn token(hash: &str, kind: TokenKind, grant: &GrantRecord) -> NewToken {
    NewToken {
        token_hash: hash.to_string(),
        kind,
        grant_id: grant.id.clone(),
        client_id: grant.client_id.clone(),
        user_id: grant.user_id.clone(),
        scope: grant.scope.clone(),
        family_id: None,
        expires_at: now() + HOUR,
    }
}

fn successor(hash: &str) -> NewRefreshToken {
    NewRefreshToken { token_hash: hash.to_string(), expires_at: now() + 2 * HOUR }
}

async fn grant_round_trips_every_field(db: Db) {
    let grants = db.store.grants();
    let before = now();
    let grant = grants
        .create_grant(NewGrant {
            client_id: "webapp".to_string(),
            user_id: Some("user-1".to_string()),
            session_id: Some("session-1".to_string()),
            scope: "openid email offline_access".to_string(),
            claims: Some(json!({"id_token": {"acr": {"essential": true}}})),
            auth_time: Some(1_700_000_000),
            expires_at: 4_000_000_000,
        })
        .await
        .unwrap();
    assert_eq!(uuid::Uuid::parse_str(&grant.id).unwrap().get_version_num(), 7);
    assert_eq!(grant.client_id, "webapp");
    assert_eq!(grant.user_id.as_deref(), Some("user-1"));
    assert_eq!(grant.session_id.as_deref(), Some("session-1"));
    assert_eq!(grant.scope, "openid email offline_access");
    assert_eq!(grant.claims, Some(json!({"id_token": {"acr": {"essential": true}}})));
    assert_eq!(grant.auth_time, Some(1_700_000_000));
    assert!((before..=now()).contains(&grant.created_at));
    assert_eq!(grant.expires_at, 4_000_000_000);
    assert_eq!(grant.revoked_at, None);
    assert!(grant.is_active(now()));
    assert_eq!(grants.get_grant(&grant.id).await.unwrap(), Some(grant));

    // A client-credentials grant has no user, session, claims or auth time.
    let machine = grants
        .create_grant(NewGrant { user_id: None, session_id: None, claims: None, auth_time: None, ..new_grant("svc", "x") })
        .await
        .unwrap();
    assert_eq!((machine.user_id.clone(), machine.session_id.clone(), machine.auth_time), (None, None, None));
    assert_eq!(grants.get_grant(&machine.id).await.unwrap(), Some(machine));
    assert_eq!(grants.get_grant("no-such-grant").await.unwrap(), None);
}

async fn code_round_trips_and_is_spent_once(db: Db) {
    let grants = db.store.grants();
    let grant = live_grant(&grants).await;
    let before = now();
    let stored = grants
        .store_code(NewAuthorizationCode {
            nonce: Some("n-0S6_WzA2Mj".to_string()),
            code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_string()),
            code_challenge_method: Some("S256".to_string()),
            claims: Some(json!({"userinfo": {"email": null}})),
            acr: Some("urn:poort:acr:mfa".to_string()),
            amr: vec!["pwd".to_string(), "otp".to_string()],
            auth_time: 1_700_000_123,
            expires_at: now() + 60,
            ..code("code-hash", &grant)
        })
        .await
        .unwrap();
    assert_eq!(stored.code_hash, "code-hash");
    assert_eq!(stored.grant_id, grant.id);
    assert_eq!(stored.client_id, "webapp");
    assert_eq!(stored.user_id, "user-1");
    assert_eq!(stored.session_id, "session-1");
    assert_eq!(stored.redirect_uri, "https://app.example/cb");
    assert_eq!(stored.scope, "openid profile");
    assert_eq!(stored.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
    assert_eq!(stored.code_challenge.as_deref(), Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
    assert_eq!(stored.code_challenge_method.as_deref(), Some("S256"));
    assert_eq!(stored.claims, Some(json!({"userinfo": {"email": null}})));
    assert_eq!(stored.auth_time, 1_700_000_123);
    assert_eq!(stored.acr.as_deref(), Some("urn:poort:acr:mfa"));
    assert_eq!(stored.amr, ["pwd", "otp"]);
    assert!((before..=now()).contains(&stored.created_at));
    assert_eq!(stored.consumed_at, None);

    assert_conflict(grants.store_code(code("code-hash", &grant)).await, "authorization code");

    let at = now();
    let ConsumeOutcome::Consumed(consumed) = grants.consume_code("code-hash", at).await.unwrap() else {
        panic!("the first redemption wins")
    };
    assert_eq!(consumed, poort_storage::repo::AuthorizationCodeRecord { consumed_at: Some(at), ..stored });
    match grants.consume_code("code-hash", at + 1).await.unwrap() {
        ConsumeOutcome::AlreadyUsed(again) => assert_eq!(again, consumed, "a replay reports the first redemption"),
        other => panic!("a replay must report AlreadyUsed, got {other:?}"),
    }
}

async fn concurrent_code_redemptions_have_one_winner(db: Db) {
    let grants = db.store.grants();
    let grant = live_grant(&grants).await;
    for round in 0..10 {
        let hash = format!("race-{round}");
        grants.store_code(code(&hash, &grant)).await.unwrap();
        let other = db.store.grants();
        let (a, b) = tokio::join!(grants.consume_code(&hash, now()), other.consume_code(&hash, now()));
        let outcomes = [a.unwrap(), b.unwrap()];
        let won = outcomes.iter().filter(|o| matches!(o, ConsumeOutcome::Consumed(_))).count();
        let lost = outcomes.iter().filter(|o| matches!(o, ConsumeOutcome::AlreadyUsed(_))).count();
        assert_eq!((won, lost), (1, 1), "round {round}: {outcomes:?}");
    }
}

async fn expired_and_unknown_codes_are_refused(db: Db) {
    let grants = db.store.grants();
    let grant = live_grant(&grants).await;
    grants.store_code(NewAuthorizationCode { expires_at: now() - 1, ..code("stale", &grant) }).await.unwrap();
    assert_eq!(grants.consume_code("stale", now()).await.unwrap(), ConsumeOutcome::Expired);
    // Refusing did not spend it: at an earlier time it is still good (expiry is strict).
    grants.store_code(NewAuthorizationCode { expires_at: 5000, ..code("edge", &grant) }).await.unwrap();
    assert_eq!(grants.consume_code("edge", 5000).await.unwrap(), ConsumeOutcome::Expired);
    assert!(matches!(grants.consume_code("edge", 4999).await.unwrap(), ConsumeOutcome::Consumed(_)));
    assert_eq!(grants.consume_code("never-issued", now()).await.unwrap(), ConsumeOutcome::NotFound);
}

async fn a_code_the_check_refuses_stays_unspent(db: Db) {
    let grants = db.store.grants();
    let grant = live_grant(&grants).await;
    grants.store_code(code("checked", &grant)).await.unwrap();
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let refuse: CodeCheck = {
        let seen = seen.clone();
        Arc::new(move |code| {
            seen.lock().unwrap().push(code.code_hash.clone());
            false
        })
    };
    let ConsumeOutcome::Refused(refused) = grants.redeem_code("checked", now(), refuse).await.unwrap() else {
        panic!("the check refused the code")
    };
    assert_eq!((refused.code_hash.as_str(), refused.consumed_at), ("checked", None));
    assert_eq!(*seen.lock().unwrap(), ["checked"], "the check saw the stored code");
    // Left as it was: the next redemption the check accepts spends it.
    let accept: CodeCheck = Arc::new(|code| code.client_id == "webapp");
    assert!(matches!(grants.redeem_code("checked", now(), accept.clone()).await.unwrap(), ConsumeOutcome::Consumed(_)));
    // A spent code is reported as such before any check runs.
    let never: CodeCheck = Arc::new(|_| panic!("a spent code is not checked"));
    assert!(matches!(grants.redeem_code("checked", now(), never).await.unwrap(), ConsumeOutcome::AlreadyUsed(_)));
    assert_eq!(grants.redeem_code("unknown", now(), accept).await.unwrap(), ConsumeOutcome::NotFound);
}

/// The tokens a redemption stores are made from the spent code, and stored in the write that
/// spends it: both happen, or neither does.
async fn a_code_is_spent_with_its_tokens_or_not_at_all(db: Db) {
    let grants = db.store.grants();
    let grant = live_grant(&grants).await;
    let accept: CodeCheck = Arc::new(|_| true);
    let tokens_named = |access: &'static str, refresh: &'static str| -> TokensForCode {
        Arc::new(move |code| {
            let of_code = |token_hash: &str, kind, family_id: Option<&str>| NewToken {
                token_hash: token_hash.to_string(),
                kind,
                grant_id: code.grant_id.clone(),
                client_id: code.client_id.clone(),
                user_id: Some(code.user_id.clone()),
                scope: code.scope.clone(),
                family_id: family_id.map(str::to_string),
                expires_at: now() + HOUR,
            };
            vec![of_code(access, TokenKind::Access, None), of_code(refresh, TokenKind::Refresh, Some("family-1"))]
        })
    };

    grants.store_code(code("good", &grant)).await.unwrap();
    let at = now();
    let ConsumeOutcome::Consumed(spent) = grants.redeem_code_for_tokens("good", at, accept.clone(), tokens_named("a-1", "r-1")).await.unwrap()
    else {
        panic!("the code was spent")
    };
    assert_eq!(spent.consumed_at, Some(at));
    let access = grants.find_token("a-1").await.unwrap().expect("the access token was stored with the code");
    assert_eq!((access.kind, access.grant_id.as_str(), access.user_id.as_deref()), (TokenKind::Access, grant.id.as_str(), Some("user-1")));
    let refresh = grants.find_token("r-1").await.unwrap().expect("the refresh token was stored with the code");
    assert_eq!((refresh.kind, refresh.family_id.as_deref()), (TokenKind::Refresh, Some("family-1")));
    // A spent code stores nothing more.
    let again = grants.redeem_code_for_tokens("good", now(), accept.clone(), tokens_named("a-2", "r-2")).await.unwrap();
    assert!(matches!(again, ConsumeOutcome::AlreadyUsed(_)), "{again:?}");
    assert_eq!(grants.find_token("a-2").await.unwrap(), None);

    // A token that cannot be stored (its hash is taken) leaves the code unspent and stores nothing.
    grants.store_code(code("clash", &grant)).await.unwrap();
    assert_conflict(grants.redeem_code_for_tokens("clash", now(), accept.clone(), tokens_named("a-3", "r-1")).await, "token");
    assert_eq!(grants.find_token("a-3").await.unwrap(), None, "the write was undone whole");
    // A refused code stores nothing either.
    let refuse: CodeCheck = Arc::new(|_| false);
    let refused = grants.redeem_code_for_tokens("clash", now(), refuse, tokens_named("a-4", "r-4")).await.unwrap();
    assert!(matches!(refused, ConsumeOutcome::Refused(_)), "{refused:?}");
    assert_eq!(grants.find_token("a-4").await.unwrap(), None);
    assert!(matches!(grants.consume_code("clash", now()).await.unwrap(), ConsumeOutcome::Consumed(_)), "the code was left unspent");

    // Under a grant that has ended, the code is as good as expired and is left as it was.
    let ended = grants.create_grant(NewGrant { expires_at: now() - 1, ..new_grant("webapp", "user-1") }).await.unwrap();
    grants.store_code(code("late", &ended)).await.unwrap();
    assert_eq!(grants.redeem_code_for_tokens("late", now(), accept, tokens_named("a-5", "r-5")).await.unwrap(), ConsumeOutcome::Expired);
    assert_eq!((grants.find_token("a-5").await.unwrap(), grants.find_token("r-5").await.unwrap()), (None, None));
    assert!(matches!(grants.consume_code("late", now()).await.unwrap(), ConsumeOutcome::Consumed(_)), "the code was left unspent");
}

/// A grant revoked while its code is redeemed with its tokens: whichever comes first, both
/// finish (no deadlock on PostgreSQL, where they lock the same rows) and no token is left live.
async fn a_revocation_racing_a_redemption_leaves_no_live_token(db: Db) {
    let (grants, other) = (db.store.grants(), db.store.grants());
    let accept: CodeCheck = Arc::new(|_| true);
    for round in 0..20 {
        let grant = live_grant(&grants).await;
        let (hash, token_hash) = (format!("raced-{round}"), format!("raced-token-{round}"));
        grants.store_code(code(&hash, &grant)).await.unwrap();
        let row = token(&token_hash, TokenKind::Access, &grant);
        let tokens: TokensForCode = Arc::new(move |_| vec![row.clone()]);
        let (redeemed, revoked) = tokio::join!(grants.redeem_code_for_tokens(&hash, now(), accept.clone(), tokens), other.revoke_grant(&grant.id, now()));
        let (redeemed, revoked) = (redeemed.unwrap(), revoked.unwrap());
        assert!(revoked, "round {round}: the grant was live until revoked");
        match redeemed {
            ConsumeOutcome::Consumed(_) => {
                let token = grants.find_token(&token_hash).await.unwrap().expect("stored with the code");
                assert!(!token.is_active(now()), "round {round}: the revocation ended the token stored before it");
            }
            ConsumeOutcome::AlreadyUsed(_) => assert_eq!(grants.find_token(&token_hash).await.unwrap(), None, "round {round}"),
            other => panic!("round {round}: {other:?}"),
        }
    }
}

async fn tokens_round_trip_and_conflict(db: Db) {
    let grants = db.store.grants();
    let grant = live_grant(&grants).await;
    let before = now();
    let access = grants.store_token(token("access-1", TokenKind::Access, &grant)).await.unwrap().unwrap();
    assert_eq!(access.token_hash, "access-1");
    assert_eq!(access.kind, TokenKind::Access);
    assert_eq!(access.grant_id, grant.id);
    assert_eq!(access.client_id, "webapp");
    assert_eq!(access.user_id.as_deref(), Some("user-1"));
    assert_eq!(access.scope, "openid profile");
    assert_eq!(access.family_id, None, "access tokens have no family");
    assert!((before..=now()).contains(&access.created_at));
    assert!(access.expires_at > now());
    assert_eq!((access.rotated_at, access.revoked_at), (None, None));
    assert!(access.is_active(now()));
    assert_eq!(grants.find_token("access-1").await.unwrap(), Some(access.clone()));

    let refresh = grants.store_token(token("refresh-1", TokenKind::Refresh, &grant)).await.unwrap().unwrap();
    assert_eq!(refresh.kind, TokenKind::Refresh);
    assert!(refresh.family_id.is_some(), "a refresh token without a family starts one");
    let chosen = NewToken { family_id: Some("family-x".to_string()), ..token("refresh-2", TokenKind::Refresh, &grant) };
    assert_eq!(grants.store_token(chosen).await.unwrap().unwrap().family_id.as_deref(), Some("family-x"));
    assert_eq!(grants.find_token("refresh-1").await.unwrap(), Some(refresh));

    assert_conflict(grants.store_token(token("access-1", TokenKind::Refresh, &grant)).await, "token");
    assert_eq!(grants.find_token("access-1").await.unwrap(), Some(access), "the conflict changed nothing");
    assert_eq!(grants.find_token("never-issued").await.unwrap(), None);
}

async fn tokens_are_refused_under_a_dead_grant(db: Db) {
    let grants = db.store.grants();
    let revoked = live_grant(&grants).await;
    grants.revoke_grant(&revoked.id, now()).await.unwrap();
    let expired = grants.create_grant(NewGrant { expires_at: now() - 1, ..new_grant("webapp", "user-1") }).await.unwrap();
    let mut missing = revoked.clone();
    missing.id = "no-such-grant".to_string();

    for (hash, grant) in [("t-revoked", &revoked), ("t-expired", &expired), ("t-missing", &missing)] {
        assert_eq!(grants.store_token(token(hash, TokenKind::Access, grant)).await.unwrap(), None, "{hash}");
        assert_eq!(grants.find_token(hash).await.unwrap(), None, "{hash} was not stored");
    }
}

async fn refresh_rotation_detects_reuse(db: Db) {
    let grants = db.store.grants();
    let grant = live_grant(&grants).await;
    let first = grants.store_token(token("r1", TokenKind::Refresh, &grant)).await.unwrap().unwrap();
    let family = first.family_id.clone().unwrap();

    let before = now();
    let RotateOutcome::Rotated { old, new } = grants.rotate_refresh("r1", successor("r2")).await.unwrap() else {
        panic!("a live refresh token rotates")
    };
    let rotated_at = old.rotated_at.expect("the old token is marked rotated");
    assert!((before..=now()).contains(&rotated_at));
    assert_eq!(old, poort_storage::repo::TokenRecord { rotated_at: Some(rotated_at), ..first.clone() });
    assert_eq!(grants.find_token("r1").await.unwrap(), Some(old.clone()));
    assert!(!old.is_active(now()), "a rotated token is spent");
    assert_eq!(new.token_hash, "r2");
    assert_eq!(new.kind, TokenKind::Refresh);
    assert_eq!(new.family_id.as_deref(), Some(family.as_str()), "the successor joins the family");
    assert_eq!((&new.grant_id, &new.client_id, &new.user_id, &new.scope), (&first.grant_id, &first.client_id, &first.user_id, &first.scope));
    assert_eq!(grants.find_token("r2").await.unwrap(), Some(new.clone()));

    // Replaying the old token is reuse; its successor is not stored.
    match grants.rotate_refresh("r1", successor("r2-evil")).await.unwrap() {
        RotateOutcome::Reused(reused) => assert_eq!(reused.family_id.as_deref(), Some(family.as_str())),
        other => panic!("a replayed refresh token must report reuse, got {other:?}"),
    }
    assert_eq!(grants.find_token("r2-evil").await.unwrap(), None);
    assert!(grants.find_token("r2").await.unwrap().unwrap().is_active(now()), "reuse alone revokes nothing");

    // The caller answers reuse by revoking the family: the legitimate successor dies too.
    assert_eq!(grants.revoke_family(&family).await.unwrap(), 2);
    assert!(grants.find_token("r2").await.unwrap().unwrap().revoked_at.is_some());
    assert!(matches!(grants.rotate_refresh("r2", successor("r3")).await.unwrap(), RotateOutcome::Revoked(_)));
    assert_eq!(grants.find_token("r3").await.unwrap(), None);
}

async fn concurrent_rotations_have_one_winner(db: Db) {
    let grants = db.store.grants();
    let grant = live_grant(&grants).await;
    for round in 0..10 {
        let old = format!("r-{round}");
        grants.store_token(token(&old, TokenKind::Refresh, &grant)).await.unwrap().unwrap();
        let other = db.store.grants();
        let (a, b) = tokio::join!(
            grants.rotate_refresh(&old, successor(&format!("{old}-a"))),
            other.rotate_refresh(&old, successor(&format!("{old}-b"))),
        );
        let outcomes = [a.unwrap(), b.unwrap()];
        let won = outcomes.iter().filter(|o| matches!(o, RotateOutcome::Rotated { .. })).count();
        let reused = outcomes.iter().filter(|o| matches!(o, RotateOutcome::Reused(_))).count();
        assert_eq!((won, reused), (1, 1), "round {round}: {outcomes:?}");
        let stored_a = grants.find_token(&format!("{old}-a")).await.unwrap().is_some();
        let stored_b = grants.find_token(&format!("{old}-b")).await.unwrap().is_some();
        assert!(stored_a ^ stored_b, "round {round}: exactly one successor is stored");
    }
}

async fn refusals_to_rotate(db: Db) {
    let grants = db.store.grants();
    let grant = live_grant(&grants).await;
    assert_eq!(grants.rotate_refresh("never-issued", successor("x1")).await.unwrap(), RotateOutcome::NotFound);

    grants.store_token(token("an-access-token", TokenKind::Access, &grant)).await.unwrap().unwrap();
    assert_eq!(
        grants.rotate_refresh("an-access-token", successor("x2")).await.unwrap(),
        RotateOutcome::NotFound,
        "access tokens do not rotate"
    );

    grants.store_token(NewToken { expires_at: now() - 1, ..token("stale", TokenKind::Refresh, &grant) }).await.unwrap();
    assert_eq!(grants.rotate_refresh("stale", successor("x3")).await.unwrap(), RotateOutcome::Expired);
    assert_eq!(grants.find_token("stale").await.unwrap().unwrap().rotated_at, None, "a refusal changes nothing");

    // A live token under a grant that has since expired does not rotate either.
    let short = grants.create_grant(new_grant("webapp", "user-2")).await.unwrap();
    grants.store_token(token("under-expired", TokenKind::Refresh, &short)).await.unwrap().unwrap();
    db.sql(&format!("UPDATE grants SET expires_at = 1 WHERE id = '{}'", short.id)).await;
    assert_eq!(grants.rotate_refresh("under-expired", successor("x4")).await.unwrap(), RotateOutcome::Expired);
    assert_eq!(grants.find_token("under-expired").await.unwrap().unwrap().rotated_at, None);

    grants.store_token(token("revoked", TokenKind::Refresh, &grant)).await.unwrap().unwrap();
    assert!(grants.revoke_token("revoked").await.unwrap());
    assert!(matches!(grants.rotate_refresh("revoked", successor("x5")).await.unwrap(), RotateOutcome::Revoked(_)));

    for hash in ["x1", "x2", "x3", "x4", "x5"] {
        assert_eq!(grants.find_token(hash).await.unwrap(), None, "no successor {hash} was stored");
    }
}

async fn revoking_a_grant_revokes_everything_under_it(db: Db) {
    let grants = db.store.grants();
    let grant = live_grant(&grants).await;
    let bystander = live_grant(&grants).await;
    grants.store_token(token("a1", TokenKind::Access, &grant)).await.unwrap().unwrap();
    grants.store_token(token("r1", TokenKind::Refresh, &grant)).await.unwrap().unwrap();
    grants.store_code(code("unredeemed", &grant)).await.unwrap();
    grants.store_token(token("b1", TokenKind::Access, &bystander)).await.unwrap().unwrap();
    grants.store_code(code("bystander-code", &bystander)).await.unwrap();

    assert!(grants.revoke_grant(&grant.id, 4242).await.unwrap());
    assert_eq!(grants.get_grant(&grant.id).await.unwrap().unwrap().revoked_at, Some(4242));
    for hash in ["a1", "r1"] {
        assert_eq!(grants.find_token(hash).await.unwrap().unwrap().revoked_at, Some(4242), "{hash}");
    }
    assert!(matches!(grants.consume_code("unredeemed", now()).await.unwrap(), ConsumeOutcome::AlreadyUsed(_)));
    assert!(matches!(grants.rotate_refresh("r1", successor("r2")).await.unwrap(), RotateOutcome::Revoked(_)));
    assert_eq!(grants.store_token(token("a2", TokenKind::Access, &grant)).await.unwrap(), None);

    // Revoking again changes nothing; other grants are untouched.
    assert!(!grants.revoke_grant(&grant.id, 9999).await.unwrap());
    assert_eq!(grants.find_token("a1").await.unwrap().unwrap().revoked_at, Some(4242));
    assert!(grants.get_grant(&bystander.id).await.unwrap().unwrap().is_active(now()));
    assert!(grants.find_token("b1").await.unwrap().unwrap().is_active(now()));
    assert!(matches!(grants.consume_code("bystander-code", now()).await.unwrap(), ConsumeOutcome::Consumed(_)));
}

async fn revoke_token_and_family(db: Db) {
    let grants = db.store.grants();
    let grant = live_grant(&grants).await;
    grants.store_token(token("a1", TokenKind::Access, &grant)).await.unwrap().unwrap();
    grants.store_token(token("a2", TokenKind::Access, &grant)).await.unwrap().unwrap();
    let fam = |hash: &str| NewToken { family_id: Some("fam".to_string()), ..token(hash, TokenKind::Refresh, &grant) };
    grants.store_token(fam("f1")).await.unwrap().unwrap();
    grants.store_token(fam("f2")).await.unwrap().unwrap();
    grants.store_token(token("other-family", TokenKind::Refresh, &grant)).await.unwrap().unwrap();

    let before = now();
    assert!(grants.revoke_token("a1").await.unwrap());
    let revoked = grants.find_token("a1").await.unwrap().unwrap();
    assert!(revoked.revoked_at.is_some_and(|t| t >= before));
    assert!(!revoked.is_active(now()));
    assert!(!grants.revoke_token("a1").await.unwrap(), "already revoked");
    assert!(!grants.revoke_token("never-issued").await.unwrap());
    assert!(grants.find_token("a2").await.unwrap().unwrap().is_active(now()));

    assert!(grants.revoke_token("f1").await.unwrap());
    assert_eq!(grants.revoke_family("fam").await.unwrap(), 1, "only the still-live member counts");
    assert!(grants.find_token("f2").await.unwrap().unwrap().revoked_at.is_some());
    assert!(grants.find_token("other-family").await.unwrap().unwrap().is_active(now()));
    assert_eq!(grants.revoke_family("no-such-family").await.unwrap(), 0);
}

async fn revoke_client_grants_for_every_user(db: Db) {
    let grants = db.store.grants();
    let first = grants.create_grant(new_grant("leaving", "user-1")).await.unwrap();
    let second = grants.create_grant(new_grant("leaving", "user-2")).await.unwrap();
    let other = grants.create_grant(new_grant("staying", "user-1")).await.unwrap();
    grants.store_token(token("t-leaving", TokenKind::Access, &first)).await.unwrap().unwrap();

    let mut revoked = grants.revoke_client_grants("leaving", now()).await.unwrap();
    revoked.sort();
    let mut expected = vec![first.id.clone(), second.id.clone()];
    expected.sort();
    assert_eq!(revoked, expected);
    assert!(!grants.find_token("t-leaving").await.unwrap().unwrap().is_active(now()));
    assert!(grants.get_grant(&other.id).await.unwrap().unwrap().is_active(now()));
    assert!(grants.revoke_client_grants("leaving", now()).await.unwrap().is_empty(), "nothing left to revoke");
}

async fn revoke_session_grants_keeps_offline_access_when_asked(db: Db) {
    let grants = db.store.grants();
    let online = grants.create_grant(new_grant("webapp", "user-1")).await.unwrap();
    let offline = grants
        .create_grant(NewGrant { scope: "openid offline_access".to_string(), ..new_grant("mobile", "user-1") })
        .await
        .unwrap();
    let elsewhere =
        grants.create_grant(NewGrant { session_id: Some("session-2".to_string()), ..new_grant("webapp", "user-1") }).await.unwrap();
    grants.store_token(token("r-online", TokenKind::Refresh, &online)).await.unwrap().unwrap();
    grants.store_token(token("r-offline", TokenKind::Refresh, &offline)).await.unwrap().unwrap();

    let revoked = grants.revoke_session_grants("session-1", Some("offline_access"), now()).await.unwrap();
    assert_eq!(revoked, std::slice::from_ref(&online.id));
    assert!(!grants.find_token("r-online").await.unwrap().unwrap().is_active(now()));
    assert!(grants.find_token("r-offline").await.unwrap().unwrap().is_active(now()), "offline access outlives the session");
    assert!(grants.get_grant(&elsewhere.id).await.unwrap().unwrap().is_active(now()), "another session's grant stays");

    // Without a kept scope, offline access ends with the session too.
    assert_eq!(grants.revoke_session_grants("session-1", None, now()).await.unwrap(), std::slice::from_ref(&offline.id));
    assert!(!grants.find_token("r-offline").await.unwrap().unwrap().is_active(now()));
    assert!(grants.revoke_session_grants("session-1", None, now()).await.unwrap().is_empty());
}

async fn revoke_user_grants_by_client(db: Db) {
    let grants = db.store.grants();
    let web = grants.create_grant(new_grant("webapp", "user-1")).await.unwrap();
    let web2 = grants.create_grant(new_grant("webapp", "user-1")).await.unwrap();
    let cli = grants.create_grant(new_grant("cli", "user-1")).await.unwrap();
    let someone_else = grants.create_grant(new_grant("webapp", "user-2")).await.unwrap();
    grants.store_token(token("t-web", TokenKind::Access, &web)).await.unwrap().unwrap();

    let mut revoked = grants.revoke_user_grants("user-1", Some("webapp"), now()).await.unwrap();
    revoked.sort();
    let mut expected = vec![web.id.clone(), web2.id.clone()];
    expected.sort();
    assert_eq!(revoked, expected);
    assert!(grants.find_token("t-web").await.unwrap().unwrap().revoked_at.is_some());
    assert!(grants.get_grant(&cli.id).await.unwrap().unwrap().is_active(now()));
    assert!(grants.get_grant(&someone_else.id).await.unwrap().unwrap().is_active(now()));

    assert_eq!(grants.revoke_user_grants("user-1", None, now()).await.unwrap(), [cli.id]);
    assert!(grants.revoke_user_grants("user-1", None, now()).await.unwrap().is_empty());
}

async fn extend_grant_only_while_live(db: Db) {
    let grants = db.store.grants();
    let grant = live_grant(&grants).await;
    assert!(grants.extend_grant(&grant.id, now() + 10 * HOUR).await.unwrap());
    assert!(grants.get_grant(&grant.id).await.unwrap().unwrap().expires_at >= now() + 10 * HOUR - 1);

    let expired = grants.create_grant(NewGrant { expires_at: now() - 1, ..new_grant("webapp", "u") }).await.unwrap();
    assert!(!grants.extend_grant(&expired.id, now() + HOUR).await.unwrap(), "an expired grant stays expired");
    grants.revoke_grant(&grant.id, now()).await.unwrap();
    assert!(!grants.extend_grant(&grant.id, now() + 20 * HOUR).await.unwrap());
    assert!(!grants.extend_grant("no-such-grant", now() + HOUR).await.unwrap());
}

async fn purge_removes_only_expired_rows(db: Db) {
    let grants = db.store.grants();
    let t = now();
    let live = live_grant(&grants).await;
    let dead = grants.create_grant(NewGrant { expires_at: t - 1, ..new_grant("webapp", "user-1") }).await.unwrap();
    grants.store_code(code("live-code", &live)).await.unwrap();
    grants.store_code(NewAuthorizationCode { expires_at: t - 1, ..code("dead-code", &live) }).await.unwrap();
    grants.store_token(token("live-token", TokenKind::Access, &live)).await.unwrap().unwrap();
    grants.store_token(NewToken { expires_at: t, ..token("dead-token", TokenKind::Refresh, &live) }).await.unwrap().unwrap();

    assert_eq!(grants.purge_expired(t).await.unwrap(), 3);
    assert_eq!(grants.get_grant(&dead.id).await.unwrap(), None);
    assert_eq!(grants.consume_code("dead-code", t).await.unwrap(), ConsumeOutcome::NotFound);
    assert_eq!(grants.find_token("dead-token").await.unwrap(), None);
    assert!(grants.get_grant(&live.id).await.unwrap().is_some());
    assert!(grants.find_token("live-token").await.unwrap().is_some());
    assert!(matches!(grants.consume_code("live-code", t).await.unwrap(), ConsumeOutcome::Consumed(_)));
    assert_eq!(grants.purge_expired(t).await.unwrap(), 0);
}

/// A `client_credentials` grant: no user, no session.
fn service_grant() -> NewGrant {
    NewGrant { user_id: None, session_id: None, auth_time: None, ..new_grant("service", "-") }
}

/// A client's own access token; its grant is given when it is stored.
fn service_token(hash: &str) -> NewToken {
    NewToken {
        token_hash: hash.to_string(),
        kind: TokenKind::Access,
        grant_id: "ignored".to_string(),
        client_id: "service".to_string(),
        user_id: None,
        scope: "reports:read".to_string(),
        family_id: None,
        expires_at: now() + HOUR,
    }
}

async fn a_grant_and_its_token_are_stored_together(db: Db) {
    let grants = db.store.grants();
    let token = service_token;
    let grant = service_grant();
    let (stored_grant, stored_token) = grants.create_grant_with_token(grant.clone(), token("cc-1")).await.unwrap();
    assert_eq!(stored_token.grant_id, stored_grant.id, "the token is under the new grant");
    assert_eq!(grants.get_grant(&stored_grant.id).await.unwrap().unwrap().client_id, "service");
    assert_eq!(grants.find_token("cc-1").await.unwrap().unwrap().grant_id, stored_grant.id);
    // A token that cannot be stored takes its grant with it.
    assert_conflict(grants.create_grant_with_token(grant, token("cc-1")).await, "token");
    assert_eq!(grants.revoke_client_grants("service", now()).await.unwrap().len(), 1, "one grant, not two");
}

/// Many requests writing at once (on SQLite they share commits): every write that was answered
/// is stored, and the one write that cannot be stored fails on its own, taking nothing else
/// with it.
async fn concurrent_writes_are_all_stored_and_one_failure_fails_alone(db: Db) {
    let taken = service_token("taken");
    db.store.grants().create_grant_with_token(service_grant(), taken.clone()).await.unwrap();
    let user_grant = live_grant(&db.store.grants()).await;

    let mut tasks = Vec::new();
    for n in 0..40 {
        let (store, taken, grant, user_grant) = (db.store.clone(), taken.clone(), service_grant(), user_grant.clone());
        tasks.push(tokio::spawn(async move {
            let grants = store.grants();
            match n {
                // The one that cannot be stored: its token's hash is taken.
                7 => grants.create_grant_with_token(grant, taken).await.map(|_| ()),
                n if n % 3 == 0 => grants.store_code(code(&format!("code-{n}"), &user_grant)).await.map(|_| ()),
                // New grants with codes, all for one session and client.
                n if n % 3 == 1 => grants
                    .create_grant_with_code(new_grant("webapp", "user-1"), code(&format!("code-{n}"), &user_grant))
                    .await
                    .map(|_| ()),
                n => grants
                    .create_grant_with_token(grant, NewToken { token_hash: format!("token-{n}"), ..taken })
                    .await
                    .map(|_| ()),
            }
        }));
    }
    let mut outcomes = Vec::new();
    for task in tasks {
        outcomes.push(task.await.unwrap());
    }
    assert_conflict(outcomes.remove(7), "token");
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");

    let grants = db.store.grants();
    for n in (0..40).filter(|n| *n != 7) {
        if n % 3 != 2 {
            assert!(matches!(grants.consume_code(&format!("code-{n}"), now()).await.unwrap(), ConsumeOutcome::Consumed(_)));
        } else {
            assert!(grants.find_token(&format!("token-{n}")).await.unwrap().is_some(), "token-{n} is stored");
        }
    }
    let service_grants = grants.revoke_client_grants("service", now()).await.unwrap().len();
    assert_eq!(service_grants, 1 + 13, "the first grant and one per stored token; none for the refused one");
    assert_eq!(db.store.sessions().clients_of("session-1").await.unwrap(), ["webapp"], "the session's client, once");
    let user_grants = grants.revoke_user_grants("user-1", Some("webapp"), now()).await.unwrap().len();
    assert_eq!(user_grants, 1 + 12, "the first user grant and one per code with a grant of its own");
}

async fn a_grant_and_its_code_are_stored_together(db: Db) {
    let grants = db.store.grants();
    let other = live_grant(&grants).await;
    let (grant, stored) =
        grants.create_grant_with_code(new_grant("webapp", "user-1"), code("auth-1", &other)).await.unwrap();
    assert_eq!(stored.grant_id, grant.id, "the code is under the new grant, whatever it named");
    assert_eq!(db.store.sessions().clients_of("session-1").await.unwrap(), ["webapp"], "the session has signed in to the client");
    assert_eq!(grants.get_grant(&grant.id).await.unwrap().unwrap().client_id, "webapp");
    match grants.consume_code("auth-1", now()).await.unwrap() {
        ConsumeOutcome::Consumed(code) => assert_eq!(code.grant_id, grant.id),
        outcome => panic!("{outcome:?}"),
    }
    // A code that cannot be stored takes its grant with it.
    let before = grants.revoke_user_grants("user-1", Some("webapp"), now()).await.unwrap().len();
    assert_eq!(before, 2, "the first grant and the new one");
    let for_crm = NewAuthorizationCode { client_id: "crm".into(), ..code("auth-1", &other) };
    assert_conflict(grants.create_grant_with_code(new_grant("crm", "user-1"), for_crm).await, "authorization code");
    assert!(grants.revoke_user_grants("user-1", Some("crm"), now()).await.unwrap().is_empty(), "no grant without its code");
    assert_eq!(db.store.sessions().clients_of("session-1").await.unwrap(), ["webapp"], "nor a client signed in");
}
