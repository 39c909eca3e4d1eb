//! The key ring: first keys, persistence across restarts, rotation by hand and by schedule,
//! sealed private keys, and corrupt rows.

use crate::support::sqlite_settings;
use poort::keys::{KeyError, KeyPolicy, Keyring, rotate_now};
use poort_config::Settings;
use poort_storage::{Store, now};
use sea_orm::ConnectionTrait;
use std::time::Duration;

async fn open(settings: &Settings) -> (Store, std::sync::Arc<Keyring>) {
    let store = poort::open_store(settings).await.unwrap();
    let keyring = Keyring::open(store.clone(), KeyPolicy::from_settings(settings)).await.unwrap();
    (store, keyring)
}

fn kids(keyring: &Keyring) -> Vec<String> {
    let mut kids: Vec<String> = keyring.snapshot().keys.iter().map(|k| k.record.kid.clone()).collect();
    kids.sort();
    kids
}

#[tokio::test]
async fn the_same_keys_are_served_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let settings = sqlite_settings(dir.path());
    let (store, first) = open(&settings).await;
    let before = kids(&first);
    assert_eq!(before.len(), 2);
    store.close().await.unwrap();
    let (_, second) = open(&settings).await;
    assert_eq!(kids(&second), before);
    assert_eq!(first.snapshot().jwks_json, second.snapshot().jwks_json);
}

#[tokio::test]
async fn a_manual_rotation_signs_with_the_new_key_and_keeps_the_old_one_published() {
    let dir = tempfile::tempdir().unwrap();
    let settings = sqlite_settings(dir.path());
    let (store, keyring) = open(&settings).await;
    let old = keyring.snapshot().signing_key("RS256", now()).unwrap().record.kid.clone();
    let created = rotate_now(&store, &KeyPolicy::from_settings(&settings), Some("RS256")).await.unwrap();
    assert_eq!(created.len(), 1);
    keyring.refresh().await.unwrap();
    let set = keyring.snapshot();
    let signing = set.signing_key("RS256", now()).unwrap();
    assert_eq!(signing.record.kid, created[0]);
    let retired = set.keys.iter().find(|k| k.record.kid == old).expect("the old key stays published");
    let window = settings.tokens.longest_signed_lifetime().as_secs() as i64;
    assert!(retired.record.unpublish_at.unwrap() >= now() + window, "published until its tokens expire");
    let jwks: serde_json::Value = serde_json::from_slice(&set.jwks_json).unwrap();
    let published: Vec<&str> = jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert!(published.contains(&old.as_str()) && published.contains(&created[0].as_str()));
    // ES256 was not asked to rotate.
    assert_eq!(set.keys.iter().filter(|k| k.record.alg == "ES256").count(), 1);
}

#[tokio::test]
async fn a_due_scheduled_rotation_prepublishes_the_next_key() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = sqlite_settings(dir.path());
    settings.keys.algorithms = vec!["RS256".into()];
    settings.keys.rotation_interval = Duration::from_secs(8 * 3600);
    let (store, keyring) = open(&settings).await;
    let first = kids(&keyring);
    assert_eq!(first.len(), 1);
    // Age the key to just inside the pre-publication window (a quarter of the interval: 2 h).
    store
        .connection()
        .execute_unprepared(&format!("UPDATE signing_keys SET active_from = active_from - {}", 6 * 3600 + 600))
        .await
        .unwrap();
    keyring.refresh().await.unwrap();
    let set = keyring.snapshot();
    assert_eq!(set.keys.len(), 2, "the next key is published ahead of time");
    let next = set.keys.iter().find(|k| k.record.kid != first[0]).unwrap();
    assert!(next.record.active_from > now(), "but it does not sign yet");
    assert_eq!(set.signing_key("RS256", now()).unwrap().record.kid, first[0]);
    assert_eq!(set.signing_key("RS256", next.record.active_from).unwrap().record.kid, next.record.kid);
    // A second refresh (or another node) does not add a third key.
    keyring.refresh().await.unwrap();
    assert_eq!(keyring.snapshot().keys.len(), 2);
}

#[tokio::test]
async fn sealed_private_keys_need_the_secret_to_load() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = sqlite_settings(dir.path());
    settings.keys.encryption_secret = Some("correct horse battery staple, but longer".into());
    let (store, _) = open(&settings).await;
    for key in store.keys().all().await.unwrap() {
        assert!(key.private_jwk.starts_with("jwe:"), "stored in clear: {}", key.kid);
    }
    store.close().await.unwrap();
    settings.keys.encryption_secret = None;
    let store = poort::open_store(&settings).await.unwrap();
    let error = Keyring::open(store, KeyPolicy::from_settings(&settings)).await.err().expect("must not load");
    assert!(matches!(error, KeyError::Corrupt { .. }));
    assert!(error.to_string().contains("encryption_secret"), "{error}");
}

#[tokio::test]
async fn a_corrupt_key_row_is_named_and_stops_the_load() {
    let dir = tempfile::tempdir().unwrap();
    let settings = sqlite_settings(dir.path());
    let (store, keyring) = open(&settings).await;
    let kid = kids(&keyring)[0].clone();
    store
        .connection()
        .execute_unprepared(&format!("UPDATE signing_keys SET private_jwk = '{{\"kty\":\"RSA\"' WHERE kid = '{kid}'"))
        .await
        .unwrap();
    let error = Keyring::open(store, KeyPolicy::from_settings(&settings)).await.err().expect("must not load");
    assert!(error.to_string().contains(&kid), "{error}");
}

#[tokio::test]
async fn key_material_that_does_not_match_its_kid_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let settings = sqlite_settings(dir.path());
    let (store, keyring) = open(&settings).await;
    let set = keyring.snapshot();
    let (a, b) = (&set.keys[0].record.kid, &set.keys[1].record.kid);
    // Give key a the private material of key b.
    store
        .connection()
        .execute_unprepared(&format!(
            "UPDATE signing_keys SET private_jwk = (SELECT private_jwk FROM signing_keys WHERE kid = '{b}') WHERE kid = '{a}'"
        ))
        .await
        .unwrap();
    let error = Keyring::open(store, KeyPolicy::from_settings(&settings)).await.err().expect("must not load");
    assert!(error.to_string().contains(a.as_str()), "{error}");
}

#[tokio::test]
async fn tokens_signed_before_a_rotation_keep_working_while_the_old_key_is_published() {
    use crate::grant_fixture::{CodeSpec, Op, SECRET, part};
    let op = Op::new().await;
    op.client("rp", serde_json::json!({ "grant_types": ["authorization_code"] })).await;
    let code = op.code("rp", CodeSpec::default()).await;
    let before = op.redeem("rp", &code).await.tokens();
    let (access_token, id_token) = (before["access_token"].as_str().unwrap(), before["id_token"].as_str().unwrap());
    let old_kid = part(id_token, 0)["kid"].clone();

    let created = rotate_now(&op.state.store, &KeyPolicy::from_settings(&op.state.settings), None).await.unwrap();
    op.state.keyring.refresh().await.unwrap();

    // New tokens are signed with the new key…
    let code = op.code("rp", CodeSpec::default()).await;
    let after = op.redeem("rp", &code).await.tokens();
    let new_kid = part(after["id_token"].as_str().unwrap(), 0)["kid"].clone();
    assert_ne!(new_kid, old_kid);
    assert!(created.iter().any(|kid| new_kid == kid.as_str()));
    // …and those signed before still verify wherever they come back: userinfo and introspection
    // (a JWT access token), and an id_token_hint.
    assert_eq!(op.userinfo(access_token).await.status, axum::http::StatusCode::OK);
    let introspected = op.post("/introspect", &[("token", access_token)], Some(("rp", SECRET))).await.json();
    assert_eq!(introspected["active"], true);
    let subject = poort::authorize::interaction::subject_of_id_token_hint(&op.state, id_token).unwrap();
    assert_eq!(subject, op.user_id);
}
