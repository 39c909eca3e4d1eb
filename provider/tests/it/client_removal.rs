//! Removing a client revokes what it was granted: none of its tokens outlive it.

use crate::grant_fixture::{CB, CodeSpec, Op};
use axum::http::StatusCode;
use serde_json::json;

#[tokio::test]
async fn a_removed_clients_tokens_stop_working_and_other_clients_keep_theirs() {
    let op = Op::new().await;
    for id in ["leaving", "staying"] {
        op.client(id, json!({ "redirect_uris": [CB], "grant_types": ["authorization_code", "refresh_token"] })).await;
    }
    let spec = || CodeSpec { scope: "openid offline_access", ..CodeSpec::default() };
    let leaving = op.redeem("leaving", &op.code("leaving", spec()).await).await.tokens();
    let staying = op.redeem("staying", &op.code("staying", spec()).await).await.tokens();
    let token = |t: &serde_json::Value| t["access_token"].as_str().unwrap().to_string();
    assert_eq!(op.userinfo(&token(&leaving)).await.status, StatusCode::OK);

    assert!(poort::clients::remove(&op.state.store, "leaving").await.unwrap());
    assert!(op.state.store.clients().get("leaving").await.unwrap().is_none());
    assert_eq!(op.userinfo(&token(&leaving)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(op.userinfo(&token(&staying)).await.status, StatusCode::OK);
    assert!(!poort::clients::remove(&op.state.store, "leaving").await.unwrap(), "removing twice is a no-op");
}
