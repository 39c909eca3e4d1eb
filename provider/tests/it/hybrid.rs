//! Implicit and hybrid flows at the authorization endpoint: every response type, the fragment
//! and form_post response modes, the ID token's `nonce`, `at_hash` and `c_hash` checked exactly,
//! errors in the fragment, and the authorization endpoint's access token at userinfo and under
//! its grant.

use crate::browser::{Browser, Page};
use crate::grant_fixture::*;
use axum::http::StatusCode;
use poort::crypto::{b64url, keyed_hash, random_token, sha256};
use poort_storage::now;
use poort_storage::repo::NewSession;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

const ALL_TYPES: &[&str] = &["code", "id_token", "id_token token", "code id_token", "code token", "code id_token token", "none"];

/// A provider with the client `hy` (registered for every response type, first party so no
/// consent page) and `codeonly`, and a browser signed in as the fixture's user.
async fn setup() -> (Op, Browser) {
    let op = Op::new().await;
    op.client(
        "hy",
        json!({
            "response_types": ALL_TYPES,
            "grant_types": ["authorization_code", "implicit", "refresh_token"],
            "first_party": true,
        }),
    )
    .await;
    op.client("codeonly", json!({ "first_party": true })).await;
    let cookie = random_token();
    op.state
        .store
        .sessions()
        .create(NewSession {
            cookie_hash: keyed_hash(&op.state.hash_key, &cookie),
            user_id: op.user_id.clone(),
            auth_time: now() - 10,
            amr: vec!["pwd".into()],
            acr: Some("1".into()),
            idle_expires_at: now() + 3600,
            expires_at: now() + 36000,
            user_agent: None,
            ip: None,
        })
        .await
        .unwrap();
    let mut browser = Browser::new(op.router.clone());
    browser.cookies.insert(poort::session::SESSION_COOKIE.into(), cookie);
    (op, browser)
}

fn authorize(client: &str, response_type: &str, extra: &str) -> String {
    let response_type = response_type.replace(' ', "%20");
    format!("/authorize?client_id={client}&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type={response_type}&scope=openid%20email&state=xyz{extra}")
}

/// The parameters of a redirect that must carry them in the fragment.
#[track_caller]
fn fragment(page: &Page) -> BTreeMap<String, String> {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let location = page.location.as_deref().unwrap();
    assert!(location.starts_with(&format!("{CB}#")), "not a fragment response: {location}");
    let params = page.location_params();
    assert_eq!(params.get("state").map(String::as_str), Some("xyz"));
    assert_eq!(params.get("iss").map(String::as_str), Some(ISSUER));
    params
}

/// OpenID Connect Core §3.3.2.11: the left half of SHA-256 (RS256), base64url.
fn left_half_sha256(value: &str) -> String {
    b64url(&sha256(value.as_bytes())[..16])
}

#[tokio::test]
async fn every_response_type_issues_exactly_its_tokens_bound_by_their_hashes() {
    let (op, mut b) = setup().await;
    for response_type in ALL_TYPES {
        let words: Vec<&str> = response_type.split(' ').collect();
        let page = b.get(&authorize("hy", response_type, "&nonce=n-0S6_WzA2Mj")).await;
        let params = if words == ["code"] || words == ["none"] {
            // Nothing travels from this endpoint but a code: the query.
            assert!(page.location.as_deref().unwrap().starts_with(&format!("{CB}?")), "{:?}", page.location);
            page.location_params()
        } else {
            fragment(&page)
        };
        let expected: Vec<&str> = {
            // session_state: OpenID Connect Session Management, in every response.
            let mut keys = vec!["iss", "session_state", "state"];
            if words.contains(&"code") {
                keys.push("code");
            }
            if words.contains(&"token") {
                keys.extend(["access_token", "token_type", "expires_in"]);
            }
            if words.contains(&"id_token") {
                keys.push("id_token");
            }
            keys.sort_unstable();
            keys
        };
        assert_eq!(params.keys().map(String::as_str).collect::<Vec<_>>(), expected, "{response_type}");
        if words.contains(&"token") {
            assert_eq!(params["token_type"], "Bearer");
            assert_eq!(params["expires_in"], op.state.settings.tokens.access_token_ttl.as_secs().to_string());
            let userinfo = op.userinfo(&params["access_token"]).await;
            assert_eq!(userinfo.status, StatusCode::OK, "{response_type}");
            assert_eq!(userinfo.json()["email"], "alice@example.com");
        }
        let front_sub = if words.contains(&"id_token") {
            let (header, claims) = op.verify_signed(&params["id_token"]).await;
            assert_eq!(header["alg"], "RS256");
            assert_eq!(claims["iss"], ISSUER);
            assert_eq!(claims["aud"], "hy");
            assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
            assert!((claims["iat"].as_i64().unwrap() - now()).abs() < 60);
            assert!(claims["exp"].as_i64().unwrap() > now());
            match params.get("access_token") {
                Some(token) => assert_eq!(claims["at_hash"], left_half_sha256(token), "{response_type}"),
                None => assert!(!claims.contains_key("at_hash"), "{response_type}"),
            }
            match params.get("code") {
                Some(code) => assert_eq!(claims["c_hash"], left_half_sha256(code), "{response_type}"),
                None => assert!(!claims.contains_key("c_hash"), "{response_type}"),
            }
            // Without an access token the scope's claims ride in the ID token.
            if words == ["id_token"] {
                assert_eq!(claims["email"], "alice@example.com");
                assert_eq!(claims["email_verified"], true);
            } else {
                assert!(!claims.contains_key("email"), "{response_type}: the scope's claims are userinfo's");
            }
            Some(claims["sub"].clone())
        } else {
            None
        };
        if let Some(code) = params.get("code") {
            let tokens = op.redeem("hy", code).await.tokens();
            let (_, back) = op.verify_signed(tokens["id_token"].as_str().unwrap()).await;
            assert_eq!(back["nonce"], "n-0S6_WzA2Mj");
            assert_eq!(back["at_hash"], left_half_sha256(tokens["access_token"].as_str().unwrap()));
            if let Some(sub) = front_sub {
                assert_eq!(back["sub"], sub, "{response_type}: the same sub in both ID tokens");
            }
        }
    }
}

#[tokio::test]
async fn a_missing_nonce_is_invalid_request_in_the_fragment_when_an_id_token_comes_from_here() {
    let (_op, mut b) = setup().await;
    for response_type in ["id_token", "id_token token", "code id_token", "code id_token token"] {
        let params = fragment(&b.get(&authorize("hy", response_type, "")).await);
        assert_eq!(params.get("error").map(String::as_str), Some("invalid_request"), "{response_type}");
        assert!(!params.contains_key("code") && !params.contains_key("access_token") && !params.contains_key("id_token"));
    }
    // code token needs no nonce (oidcc-ensure-request-without-nonce-succeeds-for-code-flow).
    let params = fragment(&b.get(&authorize("hy", "code token", "")).await);
    assert!(params.contains_key("code") && params.contains_key("access_token"), "{params:?}");
}

#[tokio::test]
async fn clients_get_only_the_response_types_they_registered() {
    let (op, mut b) = setup().await;
    for response_type in ["id_token", "id_token token", "code id_token", "code token", "code id_token token"] {
        let params = fragment(&b.get(&authorize("codeonly", response_type, "&nonce=n")).await);
        assert_eq!(params.get("error").map(String::as_str), Some("unauthorized_client"), "{response_type}");
    }
    // Word order does not matter.
    let params = fragment(&b.get(&authorize("hy", "token id_token", "&nonce=n")).await);
    assert!(params.contains_key("access_token") && params.contains_key("id_token"));
    // `token` alone is not an OpenID Connect response type.
    let params = fragment(&b.get(&authorize("hy", "token", "")).await);
    assert_eq!(params["error"], "unsupported_response_type");
    // Tokens never go into a query.
    let params = fragment(&b.get(&authorize("hy", "code id_token", "&nonce=n&response_mode=query")).await);
    assert_eq!(params["error"], "invalid_request");
    // Discovery lists them all.
    let discovery = op
        .send(axum::http::Request::get("/.well-known/openid-configuration").body(axum::body::Body::empty()).unwrap())
        .await
        .json();
    let advertised: Vec<&str> = discovery["response_types_supported"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    for response_type in ALL_TYPES {
        assert!(advertised.contains(response_type), "{response_type} not in {advertised:?}");
    }
}

#[tokio::test]
async fn prompt_none_errors_go_to_the_fragment() {
    let (_op, mut b) = setup().await;
    b.cookies.clear();
    for response_type in ["id_token", "id_token token", "code id_token", "code token", "code id_token token"] {
        let params = fragment(&b.get(&authorize("hy", response_type, "&nonce=n&prompt=none")).await);
        assert_eq!(params.get("error").map(String::as_str), Some("login_required"), "{response_type}");
    }
    // Signed in, prompt=none answers at once, in the fragment.
    let (_op, mut b) = setup().await;
    let params = fragment(&b.get(&authorize("hy", "code id_token token", "&nonce=n&prompt=none")).await);
    assert!(params.contains_key("id_token"));
}

#[tokio::test]
async fn form_post_carries_a_hybrid_response() {
    let (op, mut b) = setup().await;
    let page = b.get(&authorize("hy", "code id_token token", "&nonce=n-1&response_mode=form_post")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.location.is_none());
    assert!(page.body.contains(r#"<form method="post" action="https://rp.example/cb">"#), "{}", page.body);
    assert!(page.body.contains(r#"<button type="submit">"#), "works without script");
    assert_eq!(page.input("state").as_deref(), Some("xyz"));
    assert_eq!(page.input("iss").as_deref(), Some(ISSUER));
    assert_eq!(page.input("token_type").as_deref(), Some("Bearer"));
    let (code, access_token, id_token) = (page.input("code").unwrap(), page.input("access_token").unwrap(), page.input("id_token").unwrap());
    let (_, claims) = op.verify_signed(&id_token).await;
    assert_eq!(claims["c_hash"], left_half_sha256(&code));
    assert_eq!(claims["at_hash"], left_half_sha256(&access_token));
    assert_eq!(claims["nonce"], "n-1");
    // Errors too.
    let page = b.get(&authorize("hy", "code id_token", "&response_mode=form_post")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.input("error").as_deref(), Some("invalid_request"));
    assert_eq!(page.input("state").as_deref(), Some("xyz"));
}

#[tokio::test]
async fn the_authorization_endpoints_access_token_ends_with_its_grant() {
    let (op, mut b) = setup().await;
    let params = fragment(&b.get(&authorize("hy", "code id_token token", "&nonce=n&scope=openid%20email%20offline_access").replace("&scope=openid%20email&", "&")).await);
    let front_token = params["access_token"].clone();
    let (_, id_claims) = op.verify_signed(&params["id_token"]).await;
    let userinfo = op.userinfo(&front_token).await;
    assert_eq!(userinfo.status, StatusCode::OK);
    assert_eq!(userinfo.json()["sub"], id_claims["sub"]);
    // The code's refresh token belongs to the same grant: revoking it ends the grant, and with
    // it the token the authorization endpoint issued.
    let tokens = op.redeem("hy", &params["code"]).await.tokens();
    let refresh_token = tokens["refresh_token"].as_str().expect("offline_access gives a refresh token");
    let reply = op.post("/revoke", &[("token", refresh_token)], Some(("hy", SECRET))).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(op.userinfo(&front_token).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(op.userinfo(tokens["access_token"].as_str().unwrap()).await.status, StatusCode::UNAUTHORIZED);
}

/// The grant's claims parameter reaches the ID token of every response type.
#[tokio::test]
async fn the_claims_parameter_applies_to_the_front_channel_id_token() {
    let (op, mut b) = setup().await;
    let claims = url::form_urlencoded::byte_serialize(json!({ "id_token": { "phone_number": null } }).to_string().as_bytes()).collect::<String>();
    let params = fragment(&b.get(&authorize("hy", "id_token token", &format!("&nonce=n&claims={claims}"))).await);
    let (_, id_claims): (Map<String, Value>, Map<String, Value>) = op.verify_signed(&params["id_token"]).await;
    assert_eq!(id_claims["phone_number"], "+31 20 123 4567");
}
