//! The UserInfo endpoint: the token in the header (any case of `Bearer`) or a form body, claims
//! by scope and by the `claims` parameter, `sub` equal to the ID token's (pairwise too), signed
//! responses, and the bearer errors of RFC 6750.

use crate::grant_fixture::*;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

/// Issues tokens to `client_id` for `scope` and returns (access token, ID token).
async fn tokens(op: &Op, client_id: &str, spec: CodeSpec) -> (String, String) {
    let code = op.code(client_id, spec).await;
    let body = op.redeem(client_id, &code).await.tokens();
    (body["access_token"].as_str().unwrap().to_string(), body["id_token"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn get_and_both_kinds_of_post_return_the_same_claims() {
    let op = Op::new().await;
    op.client("rp", json!({})).await;
    let (access_token, id_token) = tokens(&op, "rp", CodeSpec { scope: "openid email", ..CodeSpec::default() }).await;
    let (_, id_claims) = op.verify_signed(&id_token).await;

    let get = op.userinfo(&access_token).await;
    assert_eq!(get.status, StatusCode::OK);
    assert!(get.header(header::CONTENT_TYPE).unwrap().starts_with("application/json"));
    let claims = get.json();
    assert_eq!(claims["sub"], id_claims["sub"]);
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    assert!(claims.get("name").is_none(), "scope email releases no name");

    let lowercase = Request::post("/userinfo")
        .header(header::AUTHORIZATION, format!("bearer {access_token}"))
        .header(header::CONTENT_TYPE, FORM)
        .body(Body::empty())
        .unwrap();
    let header_post = op.send(lowercase).await;
    assert_eq!((header_post.status, header_post.json()), (StatusCode::OK, claims.clone()));

    let in_body = Request::post("/userinfo")
        .header(header::CONTENT_TYPE, FORM)
        .body(Body::from(encode(&[("access_token", &access_token)])))
        .unwrap();
    let body_post = op.send(in_body).await;
    assert_eq!((body_post.status, body_post.json()), (StatusCode::OK, claims));
}

#[tokio::test]
async fn every_scope_releases_its_standard_claims_and_the_claims_parameter_adds_more() {
    let op = Op::new().await;
    op.client("rp", json!({})).await;
    let (all, _) =
        tokens(&op, "rp", CodeSpec { scope: "openid email phone address profile", ..CodeSpec::default() }).await;
    let claims = op.userinfo(&all).await.json();
    for name in [
        "name",
        "given_name",
        "family_name",
        "middle_name",
        "nickname",
        "preferred_username",
        "profile",
        "picture",
        "website",
        "gender",
        "birthdate",
        "zoneinfo",
        "locale",
        "updated_at",
        "email",
        "email_verified",
        "address",
        "phone_number",
        "phone_number_verified",
    ] {
        assert!(claims.get(name).is_some(), "{name} missing");
    }
    assert!(claims["updated_at"].is_i64());
    assert_eq!(claims["phone_number_verified"], true);
    assert_eq!(claims["address"]["locality"], "Utrecht");

    let essential = json!({ "userinfo": { "name": { "essential": true } } });
    let (token, id_token) = tokens(&op, "rp", CodeSpec { claims: Some(essential), ..CodeSpec::default() }).await;
    let claims = op.userinfo(&token).await.json();
    assert_eq!(claims["name"], "Alice Example");
    assert!(claims.get("email").is_none());
    let (_, id_claims) = op.verify_signed(&id_token).await;
    assert!(id_claims.get("name").is_none(), "asked for in userinfo, not in the ID token");
}

#[tokio::test]
async fn pairwise_subjects_agree_between_the_id_token_and_userinfo() {
    let op = Op::new().await;
    op.client("pw", json!({ "subject_type": "pairwise" })).await;
    let (token, id_token) = tokens(&op, "pw", CodeSpec::default()).await;
    let (_, id_claims) = op.verify_signed(&id_token).await;
    assert_ne!(id_claims["sub"], json!(op.user_id));
    assert_eq!(op.userinfo(&token).await.json()["sub"], id_claims["sub"]);
}

#[tokio::test]
async fn clients_that_registered_a_signing_algorithm_get_a_signed_jwt() {
    let op = Op::new().await;
    op.client("signed", json!({ "userinfo_signed_response_alg": "RS256" })).await;
    let (token, id_token) = tokens(&op, "signed", CodeSpec { scope: "openid profile", ..CodeSpec::default() }).await;
    let reply = op.userinfo(&token).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header(header::CONTENT_TYPE), Some("application/jwt"));
    let (header, claims) = op.verify_signed(std::str::from_utf8(&reply.body).unwrap()).await;
    assert_eq!(header["alg"], "RS256");
    assert_eq!((claims["iss"].as_str(), claims["aud"].as_str()), (Some(ISSUER), Some("signed")));
    assert_eq!(claims["sub"], op.verify_signed(&id_token).await.1["sub"]);
    assert_eq!(claims["name"], "Alice Example");
    assert!(claims.get("nonce").is_none());
}

#[tokio::test]
async fn bearer_errors_follow_rfc_6750() {
    let op = Op::new().await;
    op.client("rp", json!({})).await;
    let (token, _) = tokens(&op, "rp", CodeSpec::default()).await;

    let missing = op.send(Request::get("/userinfo").body(Body::empty()).unwrap()).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    let challenge = missing.header(header::WWW_AUTHENTICATE).unwrap();
    assert!(challenge.starts_with("Bearer") && !challenge.contains("error="), "{challenge}");

    let tampered = format!("{}x", &token[..token.len() - 1]);
    let other_key = {
        let (signer, _) = client_key("k");
        let mut header = josekit::jws::JwsHeader::new();
        header.set_token_type("at+jwt");
        let claims = part(&token, 1);
        josekit::jwt::encode_with_signer(&josekit::jwt::JwtPayload::from_map(claims).unwrap(), &header, signer.as_ref())
            .unwrap()
    };
    for bad in ["not-a-token", tampered.as_str(), other_key.as_str(), &poort::crypto::random_token()] {
        let reply = op.userinfo(bad).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{bad}");
        let challenge = reply.header(header::WWW_AUTHENTICATE).unwrap();
        assert!(challenge.starts_with("Bearer ") && challenge.contains("error=\"invalid_token\""), "{challenge}");
    }

    let both = Request::post("/userinfo")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header(header::CONTENT_TYPE, FORM)
        .body(Body::from(encode(&[("access_token", &token)])))
        .unwrap();
    let reply = op.send(both).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(reply.header(header::WWW_AUTHENTICATE).unwrap().contains("error=\"invalid_request\""));

    // Revoked through the revocation endpoint: refused from then on.
    assert_eq!(op.userinfo(&token).await.status, StatusCode::OK);
    assert_eq!(op.post("/revoke", &[("token", &token)], Some(("rp", SECRET))).await.status, StatusCode::OK);
    let revoked = op.userinfo(&token).await;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    assert!(revoked.header(header::WWW_AUTHENTICATE).unwrap().contains("invalid_token"));
}
