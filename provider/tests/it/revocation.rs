//! Token revocation (RFC 7009) and introspection (RFC 7662): clients authenticate, reach only
//! their own tokens, and revoking a refresh token ends its grant.

use crate::grant_fixture::*;
use axum::http::{StatusCode, header};
use serde_json::json;

async fn op_with_clients() -> Op {
    let op = Op::new().await;
    op.client("rp", json!({ "grant_types": ["authorization_code", "refresh_token"] })).await;
    op.client("other", json!({})).await;
    op.client("spa", json!({ "token_endpoint_auth_method": "none" })).await;
    op
}

/// Access and refresh token for `rp`.
async fn tokens(op: &Op) -> (String, String) {
    let code = op.code("rp", CodeSpec { scope: "openid offline_access", ..CodeSpec::default() }).await;
    let body = op.redeem("rp", &code).await.tokens();
    (body["access_token"].as_str().unwrap().into(), body["refresh_token"].as_str().unwrap().into())
}

async fn introspect(op: &Op, client: &str, token: &str) -> serde_json::Value {
    let reply = op.post("/introspect", &[("token", token)], Some((client, SECRET))).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.header(header::CACHE_CONTROL), Some("no-store"));
    reply.json()
}

#[tokio::test]
async fn introspection_describes_own_tokens_only() {
    let op = op_with_clients().await;
    let (access_token, refresh_token) = tokens(&op).await;
    let active = introspect(&op, "rp", &access_token).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["client_id"], "rp");
    assert_eq!(active["scope"], "openid offline_access");
    assert_eq!(active["token_type"], "Bearer");
    assert_eq!(active["sub"], json!(op.user_id));
    assert_eq!(active["iss"], ISSUER);
    assert!(active["exp"].as_i64().unwrap() > poort_storage::now());
    let refresh = introspect(&op, "rp", &refresh_token).await;
    assert_eq!(refresh["active"], true);
    assert!(refresh.get("token_type").is_none());
    assert_eq!(introspect(&op, "other", &access_token).await, json!({ "active": false }));
    assert_eq!(introspect(&op, "rp", "unknown").await, json!({ "active": false }));
    // A public client cannot introspect, and every client must authenticate.
    op.post("/introspect", &[("token", access_token.as_str()), ("client_id", "spa")], None)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
    op.post("/introspect", &[("token", access_token.as_str())], Some(("rp", "wrong")))
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
    op.post("/introspect", &[], Some(("rp", SECRET))).await.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
}

#[tokio::test]
async fn revoking_an_access_token_ends_only_that_token() {
    let op = op_with_clients().await;
    let (access_token, refresh_token) = tokens(&op).await;
    let reply = op
        .post("/revoke", &[("token", access_token.as_str()), ("token_type_hint", "access_token")], Some(("rp", SECRET)))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(introspect(&op, "rp", &access_token).await["active"], false);
    assert_eq!(op.userinfo(&access_token).await.status, StatusCode::UNAUTHORIZED);
    op.refresh("rp", &refresh_token, None).await.tokens();
}

#[tokio::test]
async fn revoking_a_refresh_token_ends_its_grant() {
    let op = op_with_clients().await;
    let (access_token, refresh_token) = tokens(&op).await;
    // The hint is only a hint.
    let reply = op
        .post(
            "/revoke",
            &[("token", refresh_token.as_str()), ("token_type_hint", "access_token")],
            Some(("rp", SECRET)),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    op.refresh("rp", &refresh_token, None).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    assert_eq!(op.userinfo(&access_token).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(introspect(&op, "rp", &access_token).await["active"], false);
}

#[tokio::test]
async fn unknown_and_foreign_tokens_are_answered_200_and_left_alone() {
    let op = op_with_clients().await;
    let (access_token, refresh_token) = tokens(&op).await;
    for token in ["unknown", "a.b.c", poort::crypto::random_token().as_str()] {
        assert_eq!(op.post("/revoke", &[("token", token)], Some(("rp", SECRET))).await.status, StatusCode::OK);
    }
    for token in [&access_token, &refresh_token] {
        assert_eq!(
            op.post("/revoke", &[("token", token.as_str())], Some(("other", SECRET))).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(op.userinfo(&access_token).await.status, StatusCode::OK, "another client cannot revoke it");
    op.refresh("rp", &refresh_token, None).await.tokens();
}

#[tokio::test]
async fn revocation_needs_client_authentication_and_a_token() {
    let op = op_with_clients().await;
    let (access_token, _) = tokens(&op).await;
    let reply = op.post("/revoke", &[("token", access_token.as_str())], Some(("rp", "wrong"))).await;
    reply.assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
    assert_eq!(reply.header(header::WWW_AUTHENTICATE), Some("Basic realm=\"poort\""));
    op.post("/revoke", &[("token", access_token.as_str())], None)
        .await
        .assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
    op.post("/revoke", &[], Some(("rp", SECRET))).await.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    op.post("/revoke", &[("token", "a"), ("token", "b")], Some(("rp", SECRET)))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    assert_eq!(op.userinfo(&access_token).await.status, StatusCode::OK, "nothing was revoked");
    // A public client may revoke its own tokens.
    let (verifier, challenge) = pkce();
    let code = op.code("spa", CodeSpec { challenge: Some((challenge, "S256")), ..CodeSpec::default() }).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("client_id", "spa"),
        ("code_verifier", verifier.as_str()),
    ];
    let spa_token = op.post("/token", &form, None).await.tokens()["access_token"].as_str().unwrap().to_string();
    assert_eq!(
        op.post("/revoke", &[("token", spa_token.as_str()), ("client_id", "spa")], None).await.status,
        StatusCode::OK
    );
    assert_eq!(op.userinfo(&spa_token).await.status, StatusCode::UNAUTHORIZED);
}
