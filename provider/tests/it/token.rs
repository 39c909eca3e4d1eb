//! The token endpoint through the router in process: the code exchange with every client
//! authentication method, the ID token checked as the certification suite checks it, PKCE,
//! redirect URIs, code reuse, refresh rotation, client credentials, and malformed requests.

use crate::grant_fixture::*;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use poort::crypto::{keyed_hash, random_token};
use poort_storage::now;
use poort_storage::repo::{ConsumeOutcome, NewToken, TokenKind, UserStatus};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A confidential client for the code flow with refresh tokens.
async fn op_with_rp() -> Op {
    let op = Op::new().await;
    op.client("rp", json!({ "grant_types": ["authorization_code", "refresh_token"] })).await;
    op
}

#[tokio::test]
async fn a_code_exchange_issues_tokens_and_an_id_token_the_suite_accepts() {
    let op = op_with_rp().await;
    let code = op.code("rp", CodeSpec { nonce: Some("n-0S6_WzA2Mj"), ..CodeSpec::default() }).await;
    let body = op.redeem("rp", &code).await.tokens();
    assert_eq!(body["scope"], "openid");
    assert!(body.get("refresh_token").is_none(), "no offline_access, no refresh token");
    let access_token = body["access_token"].as_str().unwrap();
    let (header, claims) = op.verify_signed(body["id_token"].as_str().unwrap()).await;
    assert_eq!(header["alg"], "RS256");
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["sub"], json!(op.user_id));
    assert_eq!(claims["aud"], "rp");
    assert_eq!(claims["azp"], "rp");
    let (iat, exp) = (claims["iat"].as_i64().unwrap(), claims["exp"].as_i64().unwrap());
    assert!((now() - 300..=now() + 300).contains(&iat), "iat within five minutes");
    assert!(exp > now() && exp <= iat + 3600);
    assert_eq!(claims["auth_time"], op.auth_time);
    assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
    assert_eq!(claims["sid"], json!(op.session_id));
    assert_eq!(claims["amr"], json!(["pwd"]));
    assert_eq!(claims["acr"], "urn:poort:acr:password");
    assert_eq!(claims["at_hash"], json!(poort::tokens::jwt::half_hash("RS256", access_token)));
    for identity in ["name", "email", "given_name", "preferred_username"] {
        assert!(claims.get(identity).is_none(), "scope openid alone releases no {identity}");
    }
    // The access token is an RFC 9068 JWT.
    let (header, at) = op.verify_signed(access_token).await;
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(
        (at["iss"].as_str(), at["client_id"].as_str(), at["aud"].as_str()),
        (Some(ISSUER), Some("rp"), Some("rp"))
    );
    assert_eq!(at["sub"], json!(op.user_id));
    assert_eq!(at["scope"], "openid");
    assert!(at["jti"].as_str().is_some_and(|j| j.len() >= 43));
    // And it works at userinfo.
    assert_eq!(op.userinfo(access_token).await.json()["sub"], json!(op.user_id));
}

#[tokio::test]
async fn a_user_disabled_after_the_authorization_gets_no_tokens_and_those_stored_with_the_code_end() {
    let op = op_with_rp().await;
    let code = op.code("rp", CodeSpec { scope: "openid offline_access", ..CodeSpec::default() }).await;
    assert!(op.state.store.users().set_status(&op.user_id, UserStatus::Disabled).await.unwrap());
    op.redeem("rp", &code).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    // The code was spent with its tokens in one write; its grant, and so those tokens, ended.
    let hash = poort::crypto::token_key(&op.state.hash_key, &code);
    let ConsumeOutcome::AlreadyUsed(spent) = op.state.store.grants().consume_code(&hash, now()).await.unwrap() else {
        panic!("the code was spent")
    };
    let grant = op.state.store.grants().get_grant(&spent.grant_id).await.unwrap().unwrap();
    assert!(grant.revoked_at.is_some(), "the grant was revoked");
}

#[tokio::test]
async fn nonce_is_absent_when_none_was_sent_and_requested_claims_are_present() {
    let op = op_with_rp().await;
    let claims_parameter = json!({ "id_token": { "email": { "essential": true } } });
    let code = op.code("rp", CodeSpec { claims: Some(claims_parameter), ..CodeSpec::default() }).await;
    let body = op.redeem("rp", &code).await.tokens();
    let (_, claims) = op.verify_signed(body["id_token"].as_str().unwrap()).await;
    assert!(claims.get("nonce").is_none());
    assert_eq!(claims["email"], "alice@example.com");
    assert!(claims.get("name").is_none());
}

#[tokio::test]
async fn client_secret_post_works_for_a_client_registered_for_it_only() {
    let op = Op::new().await;
    op.client("poster", json!({ "token_endpoint_auth_method": "client_secret_post" })).await;
    let code = op.code("poster", CodeSpec::default()).await;
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CB)];
    // The registered method is client_secret_post: Basic is refused, and the code stays unspent.
    op.post("/token", &form, Some(("poster", SECRET))).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
    let mut with_secret = form.to_vec();
    with_secret.extend([("client_id", "poster"), ("client_secret", SECRET)]);
    op.post("/token", &with_secret, None).await.tokens();
}

#[tokio::test]
async fn basic_credentials_are_form_url_decoded() {
    let op = Op::new().await;
    op.client("my client:1", json!({})).await;
    let code = op.code("my client:1", CodeSpec::default()).await;
    let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CB)];
    op.post("/token", &form, Some(("my client:1", SECRET))).await.tokens();
}

#[tokio::test]
async fn client_secret_jwt_verifies_with_the_sealed_secret() {
    let op = Op::new().await;
    op.client("hmac", json!({ "token_endpoint_auth_method": "client_secret_jwt" })).await;
    let signer = josekit::jws::HS256.signer_from_bytes(SECRET.as_bytes()).unwrap();
    let code = op.code("hmac", CodeSpec::default()).await;
    let assertion = sign(&signer, None, assertion_claims("hmac", json!(TOKEN_URL)));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        ("client_assertion", assertion.as_str()),
    ];
    op.post("/token", &form, None).await.tokens();
    // A secret that is only hashed (nothing sealed) cannot serve client_secret_jwt.
    op.insert_client(
        "unsealed",
        json!({ "token_endpoint_auth_method": "client_secret_jwt" }),
        Some(keyed_hash(&op.state.hash_key, SECRET)),
        None,
        0,
    )
    .await;
    let code = op.code("unsealed", CodeSpec::default()).await;
    let assertion = sign(&signer, None, assertion_claims("unsealed", json!(TOKEN_URL)));
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
        ("client_assertion", assertion.as_str()),
    ];
    op.post("/token", &form, None).await.assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
}

fn with_assertion<'a>(form: &[(&'a str, &'a str)], assertion: &'a str) -> Vec<(&'a str, &'a str)> {
    let mut form = form.to_vec();
    form.push(("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"));
    form.push(("client_assertion", assertion));
    form
}

#[tokio::test]
async fn private_key_jwt_with_registered_keys_accepts_each_audience_once() {
    let op = Op::new().await;
    let (signer, public) = client_key("k1");
    op.client("pkj", json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks": { "keys": [public] } })).await;
    for aud in [json!(TOKEN_URL), json!(ISSUER), json!([ISSUER, "https://other.example"])] {
        let code = op.code("pkj", CodeSpec::default()).await;
        let assertion = sign(signer.as_ref(), Some("k1"), assertion_claims("pkj", aud.clone()));
        let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CB)];
        op.post("/token", &with_assertion(&form, &assertion), None).await.tokens();
        // The same assertion again: its jti was spent.
        let code = op.code("pkj", CodeSpec::default()).await;
        let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CB)];
        op.post("/token", &with_assertion(&form, &assertion), None)
            .await
            .assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
        assert!(code_unspent(&op, &code).await, "a refused client leaves the code alone ({aud})");
    }
}

/// A client's `jwks_uri`, served by a real HTTP server on loopback.
struct KeyServer {
    uri: String,
    keys: Arc<Mutex<Vec<Value>>>,
    fetches: Arc<Mutex<usize>>,
}

impl KeyServer {
    async fn start(keys: Vec<Value>) -> Self {
        let keys = Arc::new(Mutex::new(keys));
        let fetches = Arc::new(Mutex::new(0));
        let (served, counted) = (keys.clone(), fetches.clone());
        let app = axum::Router::new().route(
            "/jwks.json",
            axum::routing::get(move || {
                let (served, counted) = (served.clone(), counted.clone());
                async move {
                    *counted.lock().unwrap() += 1;
                    axum::Json(json!({ "keys": *served.lock().unwrap() }))
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let uri = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { uri, keys, fetches }
    }

    fn fetches(&self) -> usize {
        *self.fetches.lock().unwrap()
    }
}

#[tokio::test]
async fn private_key_jwt_with_a_jwks_uri_caches_and_refetches_for_a_new_kid() {
    let op = Op::new().await;
    let (old_signer, old_public) = client_key("old");
    let server = KeyServer::start(vec![old_public]).await;
    op.client("rotating", json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": server.uri })).await;
    let exchange = |signer: &dyn josekit::jws::JwsSigner, kid: &str| {
        let assertion = sign(signer, Some(kid), assertion_claims("rotating", json!(TOKEN_URL)));
        let op = &op;
        async move {
            let code = op.code("rotating", CodeSpec::default()).await;
            let form = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CB)];
            op.post("/token", &with_assertion(&form, &assertion), None).await
        }
    };
    exchange(old_signer.as_ref(), "old").await.tokens();
    exchange(old_signer.as_ref(), "old").await.tokens();
    assert_eq!(server.fetches(), 1, "the key set is cached");
    // The client rotates: a key with a new kid appears in its document.
    let (new_signer, new_public) = client_key("new");
    server.keys.lock().unwrap().push(new_public);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    exchange(new_signer.as_ref(), "new").await.tokens();
    assert_eq!(server.fetches(), 2, "an unknown kid fetches the document again");
    // A kid the document does not hold either fails, after at most one more fetch.
    let (stranger, _) = client_key("stranger");
    exchange(stranger.as_ref(), "stranger").await.assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
    assert!(server.fetches() <= 3);
}

#[tokio::test]
async fn a_public_client_authenticates_with_none_and_must_use_pkce() {
    let op = Op::new().await;
    op.client("spa", json!({ "token_endpoint_auth_method": "none" })).await;
    let (verifier, challenge) = pkce();
    let code = op.code("spa", CodeSpec { challenge: Some((challenge, "S256")), ..CodeSpec::default() }).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", CB),
        ("client_id", "spa"),
        ("code_verifier", verifier.as_str()),
    ];
    op.post("/token", &form, None).await.tokens();
    let code = op.code("spa", CodeSpec::default()).await;
    let form =
        [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CB), ("client_id", "spa")];
    op.post("/token", &form, None).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn pkce_verifiers_are_checked() {
    let op = op_with_rp().await;
    let (verifier, challenge) = pkce();
    let with_pkce = CodeSpec { challenge: Some((challenge, "S256")), ..CodeSpec::default() };
    let redeem = |code: String, verifier: Option<String>| {
        let op = &op;
        async move {
            let mut form = vec![("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CB)];
            form.extend(verifier.as_deref().map(|v| ("code_verifier", v)));
            op.post("/token", &form, Some(("rp", SECRET))).await
        }
    };
    // A malformed verifier is a malformed request: the code is left unspent.
    let code = op.code("rp", with_pkce.clone()).await;
    redeem(code.clone(), Some("short".into())).await.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    assert!(code_unspent(&op, &code).await);
    let code = op.code("rp", with_pkce.clone()).await;
    redeem(code, Some(verifier.clone())).await.tokens();
    let code = op.code("rp", with_pkce.clone()).await;
    redeem(code, Some(pkce().0)).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    let code = op.code("rp", with_pkce).await;
    redeem(code, None).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    let code = op.code("rp", CodeSpec::default()).await;
    redeem(code, Some(verifier)).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn the_redirect_uri_must_match_the_authorization_request() {
    let op = Op::new().await;
    op.client("two", json!({ "redirect_uris": [CB, "https://rp.example/other"] })).await;
    let send = |code: String, redirect_uri: Option<&'static str>| {
        let op = &op;
        async move {
            let mut form = vec![("grant_type", "authorization_code"), ("code", code.as_str())];
            form.extend(redirect_uri.map(|r| ("redirect_uri", r)));
            op.post("/token", &form, Some(("two", SECRET))).await
        }
    };
    let code = op.code("two", CodeSpec::default()).await;
    send(code, Some("https://rp.example/other")).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    let code = op.code("two", CodeSpec::default()).await;
    send(code, Some("https://rp.example/cb/extra")).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    let code = op.code("two", CodeSpec::default()).await;
    send(code, None).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    // The authorization request named none: any registered URI, or none, will do.
    let code = op.code("two", CodeSpec { redirect_uri: "", ..CodeSpec::default() }).await;
    send(code, None).await.tokens();
    let code = op.code("two", CodeSpec { redirect_uri: "", ..CodeSpec::default() }).await;
    send(code, Some("https://rp.example/other")).await.tokens();
    let code = op.code("two", CodeSpec { redirect_uri: "", ..CodeSpec::default() }).await;
    send(code, Some("https://evil.example/cb")).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn a_reused_code_is_refused_and_revokes_what_it_issued() {
    let op = op_with_rp().await;
    let code = op.code("rp", CodeSpec { scope: "openid offline_access", ..CodeSpec::default() }).await;
    let first = op.redeem("rp", &code).await.tokens();
    let access_token = first["access_token"].as_str().unwrap();
    let refresh_token = first["refresh_token"].as_str().unwrap();
    assert_eq!(op.userinfo(access_token).await.status, StatusCode::OK);
    op.redeem("rp", &code).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    assert_eq!(op.userinfo(access_token).await.status, StatusCode::UNAUTHORIZED, "the first access token is revoked");
    op.refresh("rp", refresh_token, None).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn expired_unknown_and_foreign_codes_are_invalid_grants() {
    let op = op_with_rp().await;
    op.client("other", json!({})).await;
    let expired = op.code("rp", CodeSpec { lifetime: -1, ..CodeSpec::default() }).await;
    op.redeem("rp", &expired).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    op.redeem("rp", "no-such-code").await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    let foreign = op.code("other", CodeSpec::default()).await;
    op.redeem("rp", &foreign).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn refresh_tokens_rotate_narrow_and_keep_the_identity() {
    let op = op_with_rp().await;
    let code = op
        .code("rp", CodeSpec { scope: "openid profile offline_access", nonce: Some("abc"), ..CodeSpec::default() })
        .await;
    let first = op.redeem("rp", &code).await.tokens();
    let (_, first_id) = op.verify_signed(first["id_token"].as_str().unwrap()).await;
    let first_refresh = first["refresh_token"].as_str().unwrap();
    assert!(first_refresh.len() >= 43);
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let second = op.refresh("rp", first_refresh, None).await.tokens();
    assert_eq!(second["scope"], "openid profile offline_access");
    let second_refresh = second["refresh_token"].as_str().unwrap();
    assert_ne!(second_refresh, first_refresh, "refresh tokens rotate");
    let (_, second_id) = op.verify_signed(second["id_token"].as_str().unwrap()).await;
    for same in ["iss", "sub", "aud", "azp", "auth_time", "sid"] {
        assert_eq!(second_id[same], first_id[same], "{same}");
    }
    assert!(second_id["iat"].as_i64() > first_id["iat"].as_i64(), "a new iat");
    assert!(second_id.get("nonce").is_none(), "no nonce on refresh");
    assert_eq!(
        second_id["at_hash"],
        json!(poort::tokens::jwt::half_hash("RS256", second["access_token"].as_str().unwrap()))
    );
    assert_eq!(op.userinfo(second["access_token"].as_str().unwrap()).await.json()["name"], "Alice Example");

    // Narrowing works; widening does not (and leaves the token usable).
    op.refresh("rp", second_refresh, Some("openid email")).await.assert_error(StatusCode::BAD_REQUEST, "invalid_scope");
    let third = op.refresh("rp", second_refresh, Some("openid")).await.tokens();
    assert_eq!(third["scope"], "openid");
    let narrowed = op.userinfo(third["access_token"].as_str().unwrap()).await.json();
    assert!(narrowed.get("name").is_none(), "the narrowed token releases no profile claims");
    let third_refresh = third["refresh_token"].as_str().unwrap();
    // The refresh token keeps the original scope.
    assert_eq!(op.refresh("rp", third_refresh, Some("openid profile")).await.tokens()["scope"], "openid profile");
}

#[tokio::test]
async fn a_replayed_refresh_token_revokes_its_family() {
    let op = op_with_rp().await;
    let code = op.code("rp", CodeSpec { scope: "openid offline_access", ..CodeSpec::default() }).await;
    let first = op.redeem("rp", &code).await.tokens();
    let first_refresh = first["refresh_token"].as_str().unwrap();
    let second = op.refresh("rp", first_refresh, None).await.tokens();
    let second_refresh = second["refresh_token"].as_str().unwrap();
    op.refresh("rp", first_refresh, None).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    op.refresh("rp", second_refresh, None).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    assert_eq!(op.userinfo(second["access_token"].as_str().unwrap()).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn another_clients_refresh_token_is_an_invalid_grant_and_stays_valid() {
    let op = op_with_rp().await;
    op.client("rp2", json!({ "grant_types": ["authorization_code", "refresh_token"] })).await;
    let code = op.code("rp2", CodeSpec { scope: "openid offline_access", ..CodeSpec::default() }).await;
    let tokens = op.redeem("rp2", &code).await.tokens();
    let refresh_token = tokens["refresh_token"].as_str().unwrap();
    op.refresh("rp", refresh_token, None).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    op.refresh("rp2", refresh_token, None).await.tokens();
}

#[tokio::test]
async fn refresh_needs_the_grant_type_and_offline_access() {
    let op = Op::new().await;
    op.client("plain", json!({})).await;
    let code = op.code("plain", CodeSpec { scope: "openid offline_access", ..CodeSpec::default() }).await;
    let tokens = op.redeem("plain", &code).await.tokens();
    assert!(tokens.get("refresh_token").is_none(), "the client is not registered for refresh_token");
    op.refresh("plain", &poort::crypto::random_token(), None)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "unauthorized_client");
}

#[tokio::test]
async fn client_credentials_issue_a_token_for_the_client_itself() {
    let op = Op::new().await;
    op.client("svc", json!({ "grant_types": ["client_credentials"], "scope": "reports:read reports:write openid" }))
        .await;
    op.client("spa", json!({ "grant_types": ["client_credentials"], "token_endpoint_auth_method": "none" })).await;
    let body = op
        .post("/token", &[("grant_type", "client_credentials"), ("scope", "reports:read")], Some(("svc", SECRET)))
        .await
        .tokens();
    assert_eq!(body["scope"], "reports:read");
    assert!(body.get("id_token").is_none() && body.get("refresh_token").is_none());
    let (_, claims) = op.verify_signed(body["access_token"].as_str().unwrap()).await;
    assert_eq!((claims["sub"].as_str(), claims["client_id"].as_str()), (Some("svc"), Some("svc")));
    let all = op.post("/token", &[("grant_type", "client_credentials")], Some(("svc", SECRET))).await.tokens();
    assert_eq!(all["scope"], "reports:read reports:write");
    op.post("/token", &[("grant_type", "client_credentials"), ("scope", "openid")], Some(("svc", SECRET)))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_scope");
    op.post("/token", &[("grant_type", "client_credentials"), ("client_id", "spa")], None)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "unauthorized_client");
    op.client("rp", json!({})).await;
    op.post("/token", &[("grant_type", "client_credentials")], Some(("rp", SECRET)))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "unauthorized_client");
    // Its token is not a userinfo token.
    assert_eq!(op.userinfo(body["access_token"].as_str().unwrap()).await.status, StatusCode::FORBIDDEN);
}

async fn code_unspent(op: &Op, code: &str) -> bool {
    // Spending it here is the check; callers do not use the code afterwards.
    matches!(
        op.state.store.grants().consume_code(&poort::crypto::token_key(&op.state.hash_key, code), now()).await.unwrap(),
        ConsumeOutcome::Consumed(_)
    )
}

#[tokio::test]
async fn every_failed_client_authentication_is_401_invalid_client() {
    let op = op_with_rp().await;
    let (signer, public) = client_key("k1");
    op.client("pkj", json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks": { "keys": [public] } })).await;
    op.insert_client("expired", json!({}), Some(keyed_hash(&op.state.hash_key, SECRET)), None, now() - 1).await;
    let code = op.code("rp", CodeSpec::default()).await;
    let pkj_code = op.code("pkj", CodeSpec::default()).await;
    let grant = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CB)];
    let pkj_grant = [("grant_type", "authorization_code"), ("code", pkj_code.as_str()), ("redirect_uri", CB)];

    // With the Authorization header: a Basic challenge.
    for (id, secret) in [("rp", "wrong"), ("nobody", SECRET), ("expired", SECRET), ("pkj", SECRET)] {
        let reply = op.post("/token", &grant, Some((id, secret))).await;
        reply.assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
        assert_eq!(reply.header(header::WWW_AUTHENTICATE), Some("Basic realm=\"poort\""), "{id}");
        assert_eq!(reply.json()["error_description"], "client authentication failed", "never says which part failed");
    }
    let garbled = Request::post("/token")
        .header(header::CONTENT_TYPE, FORM)
        .header(header::AUTHORIZATION, "Basic %%%")
        .body(Body::from(encode(&grant)))
        .unwrap();
    let reply = op.send(garbled).await;
    reply.assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
    assert!(reply.header(header::WWW_AUTHENTICATE).is_some());

    // In the body: no challenge.
    let mut cases: Vec<Vec<(&str, &str)>> = vec![
        vec![],
        vec![("client_id", "rp"), ("client_secret", "wrong")],
        vec![("client_id", "rp")],
        vec![("client_id", "nobody"), ("client_secret", SECRET)],
    ];
    let none = sign_none(&assertion_claims("pkj", json!(TOKEN_URL)));
    let wrong_aud =
        sign(signer.as_ref(), Some("k1"), assertion_claims("pkj", json!("https://elsewhere.example/token")));
    let mut expired_claims = assertion_claims("pkj", json!(TOKEN_URL));
    expired_claims.insert("exp".into(), json!(now() - 600));
    let expired = sign(signer.as_ref(), Some("k1"), expired_claims);
    let (stranger, _) = client_key("k1");
    let foreign_key = sign(stranger.as_ref(), Some("k1"), assertion_claims("pkj", json!(TOKEN_URL)));
    let hmac = sign(
        &josekit::jws::HS256.signer_from_bytes(SECRET.as_bytes()).unwrap(),
        None,
        assertion_claims("pkj", json!(TOKEN_URL)),
    );
    let mut no_jti = assertion_claims("pkj", json!(TOKEN_URL));
    no_jti.remove("jti");
    let no_jti = sign(signer.as_ref(), Some("k1"), no_jti);
    let assertions: [&str; 8] = ["garbage", "a.b.c", &none, &wrong_aud, &expired, &foreign_key, &hmac, &no_jti];
    for assertion in assertions {
        let mut form = pkj_grant.to_vec();
        form.extend([
            ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
            ("client_assertion", assertion),
        ]);
        cases.push(form);
    }
    let mut wrong_type = pkj_grant.to_vec();
    wrong_type.extend([("client_assertion_type", "urn:example:saml"), ("client_assertion", wrong_aud.as_str())]);
    cases.push(wrong_type);
    for (index, extra) in cases.into_iter().enumerate() {
        let mut form = if extra.iter().any(|(k, _)| *k == "client_assertion") { vec![] } else { grant.to_vec() };
        form.extend(extra);
        let reply = op.post("/token", &form, None).await;
        reply.assert_error(StatusCode::UNAUTHORIZED, "invalid_client");
        assert!(reply.header(header::WWW_AUTHENTICATE).is_none(), "case {index}");
    }
    // Nothing was spent by the refused requests.
    assert!(code_unspent(&op, &code).await);
    assert!(code_unspent(&op, &pkj_code).await);
}

/// An unsecured JWT (`alg: none`).
fn sign_none(claims: &serde_json::Map<String, Value>) -> String {
    let encode = |v: &Value| poort::crypto::b64url(v.to_string().as_bytes());
    format!("{}.{}.", encode(&json!({ "alg": "none" })), encode(&Value::Object(claims.clone())))
}

#[tokio::test]
async fn malformed_requests_get_the_spec_error_and_change_nothing() {
    let op = op_with_rp().await;
    let code = op.code("rp", CodeSpec::default()).await;
    let basic = Some(("rp", SECRET));
    let good = [("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CB)];

    let json_body = Request::post("/token")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, basic_header("rp", SECRET))
        .body(Body::from(json!({ "grant_type": "authorization_code", "code": code }).to_string()))
        .unwrap();
    op.send(json_body).await.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let no_type = Request::post("/token").body(Body::from(encode(&good))).unwrap();
    op.send(no_type).await.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let get = op.send(Request::get("/token").body(Body::empty()).unwrap()).await;
    get.assert_error(StatusCode::METHOD_NOT_ALLOWED, "invalid_request");
    assert_eq!(get.header(header::ALLOW), Some("POST"));

    let repeated_code = [("grant_type", "authorization_code"), ("code", code.as_str()), ("code", code.as_str())];
    op.post("/token", &repeated_code, basic).await.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    let repeated_type =
        [("grant_type", "authorization_code"), ("grant_type", "refresh_token"), ("code", code.as_str())];
    op.post("/token", &repeated_type, basic).await.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    op.post("/token", &[("code", code.as_str())], basic).await.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    op.post("/token", &[("grant_type", "authorization_code")], basic)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    op.post("/token", &[("grant_type", "refresh_token")], basic)
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    for unknown in ["password", "urn:ietf:params:oauth:grant-type:device_code", "AUTHORIZATION_CODE"] {
        op.post("/token", &[("grant_type", unknown), ("code", code.as_str())], basic)
            .await
            .assert_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    // Two authentication methods at once.
    let mut both = good.to_vec();
    both.extend([("client_id", "rp"), ("client_secret", SECRET)]);
    op.post("/token", &both, basic).await.assert_error(StatusCode::BAD_REQUEST, "invalid_request");
    // A refresh token that is not one of ours, or an access token in its place.
    op.refresh("rp", "a.b.c", None).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    op.refresh("rp", &"x".repeat(5000), None).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");

    // After all that, the code is as good as new.
    op.post("/token", &good, basic).await.tokens();
}

#[tokio::test]
async fn opaque_access_tokens_are_stored_and_work_at_userinfo() {
    let op = Op::new().await;
    op.client("opaque", json!({ "access_token_format": "opaque" })).await;
    let code = op.code("opaque", CodeSpec { scope: "openid email", ..CodeSpec::default() }).await;
    let body = op.redeem("opaque", &code).await.tokens();
    let access_token = body["access_token"].as_str().unwrap();
    assert!(poort::crypto::is_token_shaped(access_token) && access_token.len() == 55, "{access_token}");
    assert!(!access_token.contains('.'));
    let userinfo = op.userinfo(access_token).await.json();
    assert_eq!(userinfo["email"], "alice@example.com");
    assert_eq!(userinfo["email_verified"], true);
}

#[tokio::test]
async fn discovery_advertises_the_token_side() {
    let op = Op::new().await;
    let doc = op.send(Request::get("/.well-known/openid-configuration").body(Body::empty()).unwrap()).await.json();
    let list = |key: &str| -> Vec<String> {
        doc[key].as_array().unwrap_or_else(|| panic!("{key}")).iter().map(|v| v.as_str().unwrap().to_string()).collect()
    };
    for (key, path) in [
        ("token_endpoint", "/token"),
        ("userinfo_endpoint", "/userinfo"),
        ("revocation_endpoint", "/revoke"),
        ("introspection_endpoint", "/introspect"),
    ] {
        assert_eq!(doc[key], format!("{ISSUER}{path}"));
    }
    let methods = list("token_endpoint_auth_methods_supported");
    for method in ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"] {
        assert!(methods.contains(&method.to_string()), "{method}");
    }
    assert!(list("token_endpoint_auth_signing_alg_values_supported").contains(&"RS256".to_string()));
    assert_eq!(list("grant_types_supported"), ["authorization_code", "implicit", "refresh_token", "client_credentials"]);
    assert_eq!(list("scopes_supported"), ["openid", "profile", "email", "address", "phone", "offline_access"]);
    assert!(list("userinfo_signing_alg_values_supported").contains(&"RS256".to_string()));
    assert!(list("claims_supported").iter().any(|c| c == "email_verified"));
    assert_eq!(doc["claims_parameter_supported"], true);
    assert!(!list("introspection_endpoint_auth_methods_supported").contains(&"none".to_string()));
    assert!(list("revocation_endpoint_auth_methods_supported").contains(&"none".to_string()));
}

/// Opaque access tokens and refresh tokens issued before tokens carried their issue time are
/// stored under their keyed hash alone; after an upgrade they still work where they did.
#[tokio::test]
async fn tokens_issued_before_the_time_prefix_still_work() {
    let op = op_with_rp().await;
    let code = op.code("rp", CodeSpec { scope: "openid email offline_access", ..CodeSpec::default() }).await;
    let issued = op.redeem("rp", &code).await.tokens();
    let grants = op.state.store.grants();
    let current = poort::crypto::token_key(&op.state.hash_key, issued["refresh_token"].as_str().unwrap());
    let grant_id = grants.find_token(&current).await.unwrap().unwrap().grant_id;
    let (legacy_access, legacy_refresh) = (random_token(), random_token());
    for (token, kind) in [(&legacy_access, TokenKind::Access), (&legacy_refresh, TokenKind::Refresh)] {
        let row = NewToken {
            token_hash: keyed_hash(&op.state.hash_key, token),
            kind,
            grant_id: grant_id.clone(),
            client_id: "rp".into(),
            user_id: Some(op.user_id.clone()),
            scope: "openid email offline_access".into(),
            family_id: None,
            expires_at: now() + 600,
        };
        assert!(grants.store_token(row).await.unwrap().is_some());
    }
    assert_eq!(op.userinfo(&legacy_access).await.json()["email"], "alice@example.com");
    let refreshed = op.refresh("rp", &legacy_refresh, None).await.tokens();
    assert_eq!(refreshed["refresh_token"].as_str().unwrap().len(), 55, "its successor is an ordered token");
    op.refresh("rp", &legacy_refresh, None).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
}
