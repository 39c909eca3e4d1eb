//! Signing keys: round trips, supersession, and the generation race between nodes.

use crate::support::{Db, contract, now};
use poort_storage::repo::{NewSigningKey, Supersede};
use serde_json::json;

contract!(
    insert_generation_round_trips_and_supersedes;
    shared: concurrent_nodes_store_one_key_per_generation,
);

fn key(kid: &str, alg: &str) -> NewSigningKey {
    NewSigningKey {
        kid: kid.to_string(),
        alg: alg.to_string(),
        private_jwk: format!("{{\"kid\":\"{kid}\",\"d\":\"secret\"}}"),
        public_jwk: json!({"kid": kid, "kty": "RSA", "n": "abc", "e": "AQAB"}),
        active_from: 1000,
    }
}

async fn insert_generation_round_trips_and_supersedes(db: Db) {
    let keys = db.store.keys();
    let before = now();
    assert!(keys.insert_generation("RS256#1", key("k1", "RS256"), None).await.unwrap());
    assert!(keys.insert_generation("ES256#1", key("e1", "ES256"), None).await.unwrap());
    let all = keys.all().await.unwrap();
    let k1 = all.iter().find(|k| k.kid == "k1").unwrap();
    assert_eq!(k1.alg, "RS256");
    assert_eq!(k1.private_jwk, r#"{"kid":"k1","d":"secret"}"#);
    assert_eq!(k1.public_jwk, json!({"kid": "k1", "kty": "RSA", "n": "abc", "e": "AQAB"}));
    assert!((before..=now()).contains(&k1.created_at));
    assert_eq!((k1.active_from, k1.retired_at, k1.unpublish_at), (1000, None, None));

    // The same generation again stores nothing, even with another kid.
    assert!(!keys.insert_generation("RS256#1", key("k1-bis", "RS256"), None).await.unwrap());
    assert_eq!(keys.all().await.unwrap().len(), 2);

    let plan = Supersede { retire_at: now() + 100, unpublish_at: now() + 200 };
    assert!(keys.insert_generation("RS256#2", key("k2", "RS256"), Some(plan.clone())).await.unwrap());
    let all = keys.all().await.unwrap();
    let k1 = all.iter().find(|k| k.kid == "k1").unwrap();
    assert_eq!((k1.retired_at, k1.unpublish_at), (Some(plan.retire_at), Some(plan.unpublish_at)));
    let e1 = all.iter().find(|k| k.kid == "e1").unwrap();
    assert_eq!((e1.retired_at, e1.unpublish_at), (None, None), "other algorithms are untouched");
    assert_eq!(keys.published().await.unwrap().len(), 3, "a superseded key stays published for a while");
}

async fn concurrent_nodes_store_one_key_per_generation(db: Db) {
    let (node_a, node_b) = (db.store.clone(), db.open_another().await);
    for round in 0..5 {
        let generation = format!("RS256#{round}");
        let (keys_a, keys_b) = (node_a.keys(), node_b.keys());
        let (a, b) = tokio::join!(
            keys_a.insert_generation(&generation, key(&format!("a{round}"), "RS256"), None),
            keys_b.insert_generation(&generation, key(&format!("b{round}"), "RS256"), None),
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert!(a ^ b, "round {round}: exactly one node stores its key (a: {a}, b: {b})");
        let winner = if a { format!("a{round}") } else { format!("b{round}") };
        let stored: Vec<_> = node_b.keys().all().await.unwrap().into_iter().map(|k| k.kid).collect();
        assert_eq!(stored.len(), round + 1, "round {round}: one key per generation, got {stored:?}");
        assert!(stored.contains(&winner));
    }
    node_b.close().await.unwrap();
}
