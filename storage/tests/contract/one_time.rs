//! One-time tokens: round trips, single use under concurrency, purpose checks, invalidation.

use crate::support::{Db, assert_conflict, contract, now};
use poort_storage::repo::{NewOneTimeToken, OneTimePurpose, OneTimeTokenRecord, RedeemOutcome};

contract!(
    create_round_trips_every_field,
    redeem_spends_once_and_checks_purpose_and_expiry,
    concurrent_redemptions_have_one_winner,
    latest_and_invalidate_for_user,
    find_reads_without_spending,
    purge_removes_only_expired_tokens,
);

fn new_token(hash: &str, purpose: OneTimePurpose, user_id: &str) -> NewOneTimeToken {
    NewOneTimeToken {
        token_hash: hash.to_string(),
        purpose,
        user_id: user_id.to_string(),
        client_id: None,
        return_to: None,
        expires_at: now() + 3600,
    }
}

async fn create_round_trips_every_field(db: Db) {
    let tokens = db.store.one_time_tokens();
    let before = now();
    let created = tokens
        .create(NewOneTimeToken {
            client_id: Some("webapp".to_string()),
            return_to: Some("https://app.example/after?x=1".to_string()),
            expires_at: 4_000_000_000,
            ..new_token("hash-1", OneTimePurpose::Activation, "user-1")
        })
        .await
        .unwrap();
    assert_eq!(created.token_hash, "hash-1");
    assert_eq!(created.purpose, OneTimePurpose::Activation);
    assert_eq!(created.user_id, "user-1");
    assert_eq!(created.client_id.as_deref(), Some("webapp"));
    assert_eq!(created.return_to.as_deref(), Some("https://app.example/after?x=1"));
    assert!((before..=now()).contains(&created.created_at));
    assert_eq!(created.expires_at, 4_000_000_000);
    assert_eq!(created.used_at, None);
    assert_eq!(tokens.latest_for_user("user-1", OneTimePurpose::Activation).await.unwrap(), Some(created.clone()));

    assert_conflict(tokens.create(new_token("hash-1", OneTimePurpose::Reset, "user-2")).await, "one-time token");
    assert_eq!(tokens.latest_for_user("user-2", OneTimePurpose::Reset).await.unwrap(), None, "nothing stored");

    assert_eq!("activation".parse::<OneTimePurpose>().unwrap(), OneTimePurpose::Activation);
    assert_eq!(OneTimePurpose::Reset.as_str(), "reset");
    assert!("login".parse::<OneTimePurpose>().is_err());
}

async fn redeem_spends_once_and_checks_purpose_and_expiry(db: Db) {
    let tokens = db.store.one_time_tokens();
    let created = tokens.create(new_token("reset-1", OneTimePurpose::Reset, "user-1")).await.unwrap();

    assert_eq!(
        tokens.redeem("reset-1", OneTimePurpose::Activation, now()).await.unwrap(),
        RedeemOutcome::NotFound,
        "a reset token does not activate"
    );
    let t = now();
    assert_eq!(
        tokens.redeem("reset-1", OneTimePurpose::Reset, t).await.unwrap(),
        RedeemOutcome::Redeemed(OneTimeTokenRecord { used_at: Some(t), ..created })
    );
    assert_eq!(tokens.redeem("reset-1", OneTimePurpose::Reset, t).await.unwrap(), RedeemOutcome::Used);

    tokens.create(NewOneTimeToken { expires_at: 5000, ..new_token("edge", OneTimePurpose::Reset, "u") }).await.unwrap();
    assert_eq!(tokens.redeem("edge", OneTimePurpose::Reset, 5000).await.unwrap(), RedeemOutcome::Expired);
    assert!(matches!(tokens.redeem("edge", OneTimePurpose::Reset, 4999).await.unwrap(), RedeemOutcome::Redeemed(_)));
    assert_eq!(tokens.redeem("never-issued", OneTimePurpose::Reset, now()).await.unwrap(), RedeemOutcome::NotFound);
}

async fn concurrent_redemptions_have_one_winner(db: Db) {
    let tokens = db.store.one_time_tokens();
    for round in 0..10 {
        let hash = format!("race-{round}");
        tokens.create(new_token(&hash, OneTimePurpose::Activation, "u")).await.unwrap();
        let other = db.store.one_time_tokens();
        let (a, b) = tokio::join!(
            tokens.redeem(&hash, OneTimePurpose::Activation, now()),
            other.redeem(&hash, OneTimePurpose::Activation, now()),
        );
        let outcomes = [a.unwrap(), b.unwrap()];
        let won = outcomes.iter().filter(|o| matches!(o, RedeemOutcome::Redeemed(_))).count();
        let used = outcomes.iter().filter(|o| **o == RedeemOutcome::Used).count();
        assert_eq!((won, used), (1, 1), "round {round}: {outcomes:?}");
    }
}

async fn latest_and_invalidate_for_user(db: Db) {
    let tokens = db.store.one_time_tokens();
    tokens.create(new_token("old", OneTimePurpose::Reset, "alice")).await.unwrap();
    tokens.create(new_token("new", OneTimePurpose::Reset, "alice")).await.unwrap();
    tokens.create(new_token("activation", OneTimePurpose::Activation, "alice")).await.unwrap();
    tokens.create(new_token("bob", OneTimePurpose::Reset, "bob")).await.unwrap();
    db.sql("UPDATE one_time_tokens SET created_at = 100 WHERE token_hash = 'old'").await;

    let latest = tokens.latest_for_user("alice", OneTimePurpose::Reset).await.unwrap().unwrap();
    assert_eq!(latest.token_hash, "new");
    assert_eq!(tokens.latest_for_user("carol", OneTimePurpose::Reset).await.unwrap(), None);

    assert_eq!(tokens.invalidate_for_user("alice", OneTimePurpose::Reset).await.unwrap(), 2);
    assert_eq!(tokens.redeem("old", OneTimePurpose::Reset, now()).await.unwrap(), RedeemOutcome::Used);
    assert_eq!(tokens.redeem("new", OneTimePurpose::Reset, now()).await.unwrap(), RedeemOutcome::Used);
    assert!(matches!(
        tokens.redeem("activation", OneTimePurpose::Activation, now()).await.unwrap(),
        RedeemOutcome::Redeemed(_)
    ));
    assert!(matches!(tokens.redeem("bob", OneTimePurpose::Reset, now()).await.unwrap(), RedeemOutcome::Redeemed(_)));
    assert_eq!(tokens.invalidate_for_user("alice", OneTimePurpose::Reset).await.unwrap(), 0);
}

async fn purge_removes_only_expired_tokens(db: Db) {
    let tokens = db.store.one_time_tokens();
    let t = now();
    tokens.create(NewOneTimeToken { expires_at: t, ..new_token("expired", OneTimePurpose::Reset, "u") }).await.unwrap();
    tokens.create(NewOneTimeToken { expires_at: t - 10, ..new_token("older", OneTimePurpose::Activation, "u") }).await.unwrap();
    tokens.create(new_token("live", OneTimePurpose::Reset, "u")).await.unwrap();
    tokens.redeem("live", OneTimePurpose::Reset, t).await.unwrap();

    assert_eq!(tokens.purge_expired(t).await.unwrap(), 2);
    assert_eq!(tokens.redeem("expired", OneTimePurpose::Reset, t - 1).await.unwrap(), RedeemOutcome::NotFound);
    assert_eq!(tokens.redeem("live", OneTimePurpose::Reset, t).await.unwrap(), RedeemOutcome::Used, "used but unexpired stays");
    assert_eq!(tokens.purge_expired(t).await.unwrap(), 0);
}

async fn find_reads_without_spending(db: Db) {
    let tokens = db.store.one_time_tokens();
    let created = tokens.create(new_token("find-1", OneTimePurpose::Activation, "user-1")).await.unwrap();
    assert_eq!(tokens.find("find-1", OneTimePurpose::Activation).await.unwrap(), Some(created.clone()));
    assert_eq!(tokens.find("find-1", OneTimePurpose::Reset).await.unwrap(), None, "the purpose must match");
    assert_eq!(tokens.find("nothing", OneTimePurpose::Activation).await.unwrap(), None);
    assert!(matches!(tokens.redeem("find-1", OneTimePurpose::Activation, now()).await.unwrap(), RedeemOutcome::Redeemed(_)));
    let spent = tokens.find("find-1", OneTimePurpose::Activation).await.unwrap().unwrap();
    assert!(spent.used_at.is_some());
    // A link replaced within the same second: the unspent replacement is the latest.
    tokens.create(new_token("first", OneTimePurpose::Reset, "user-2")).await.unwrap();
    tokens.invalidate_for_user("user-2", OneTimePurpose::Reset).await.unwrap();
    tokens.create(new_token("second", OneTimePurpose::Reset, "user-2")).await.unwrap();
    db.sql("UPDATE one_time_tokens SET created_at = 100, expires_at = 4000000000 WHERE user_id = 'user-2'").await;
    let latest = tokens.latest_for_user("user-2", OneTimePurpose::Reset).await.unwrap().unwrap();
    assert_eq!(latest.token_hash, "second");
}
