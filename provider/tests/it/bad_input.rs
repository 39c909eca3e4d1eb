//! The bad-input corpus: malformed requests to every endpoint of the OpenID Connect core —
//! missing, repeated and oversized parameters, wrong methods and content types, broken JWTs,
//! `alg: none` where it is not allowed, expired and foreign tokens. Each must answer with a client
//! error (the spec's code where it has one), never a 5xx, and leave every stored row as it was.

use crate::grant_fixture::{CB, CodeSpec, Op, SECRET, basic_header};
use axum::body::Body;
use axum::http::{Method, Request, header};
use base64::Engine as _;
use serde_json::json;

/// Every table's row count (a cheap fingerprint of the stored state).
async fn fingerprint(op: &Op) -> Vec<(String, i64)> {
    crate::support::table_counts(&op.state.store).await
}

fn b64(text: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text)
}

struct Case {
    name: &'static str,
    request: Request<Body>,
    /// The OAuth error code expected in a JSON body, when the endpoint answers JSON.
    error: Option<&'static str>,
}

fn form(method: Method, path: &str, body: &str, auth: Option<String>) -> Request<Body> {
    let mut request = Request::builder().method(method).uri(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(auth) = auth {
        request = request.header(header::AUTHORIZATION, auth);
    }
    request.body(Body::from(body.to_string())).unwrap()
}

#[tokio::test]
async fn malformed_requests_get_client_errors_and_change_nothing() {
    let op = Op::new().await;
    op.client("rp", json!({ "redirect_uris": [CB], "grant_types": ["authorization_code", "refresh_token"] })).await;
    // A live code that must survive every bad request aimed at it.
    let code = op.code("rp", CodeSpec::default()).await;
    let basic = || Some(basic_header("rp", SECRET));
    let none_jwt = format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64(r#"{"iss":"rp","sub":"rp","aud":"https://op.example/token","exp":9999999999,"jti":"x"}"#));
    let expired_hint = {
        let mut claims = serde_json::Map::new();
        claims.insert("iss".into(), "https://someone-else.example".into());
        claims.insert("sub".into(), "x".into());
        claims.insert("exp".into(), 1.into());
        poort::tokens::jwt::sign(&op.state.keyring.snapshot(), "RS256", None, claims).unwrap()
    };
    let huge = "a".repeat(200 * 1024);
    let code_form = |extra: &str| format!("grant_type=authorization_code&code={code}&redirect_uri={}{extra}", urlencode(CB));

    let cases = vec![
        // Token endpoint.
        Case { name: "token: GET", request: Request::get("/token").body(Body::empty()).unwrap(), error: Some("invalid_request") },
        Case { name: "token: JSON body", request: Request::post("/token").header(header::CONTENT_TYPE, "application/json").header(header::AUTHORIZATION, basic_header("rp", SECRET)).body(Body::from("{}")).unwrap(), error: Some("invalid_request") },
        Case { name: "token: no grant_type", request: form(Method::POST, "/token", &format!("code={code}"), basic()), error: Some("invalid_request") },
        Case { name: "token: unknown grant_type", request: form(Method::POST, "/token", "grant_type=magic", basic()), error: Some("unsupported_grant_type") },
        Case { name: "token: repeated code", request: form(Method::POST, "/token", &code_form(&format!("&code={code}")), basic()), error: Some("invalid_request") },
        Case { name: "token: wrong secret", request: form(Method::POST, "/token", &code_form(""), Some(basic_header("rp", "wrong"))), error: Some("invalid_client") },
        Case { name: "token: garbage Basic header", request: form(Method::POST, "/token", &code_form(""), Some("Basic !!!".into())), error: Some("invalid_client") },
        Case { name: "token: alg none assertion", request: form(Method::POST, "/token", &format!("{}&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={none_jwt}", code_form("")), None), error: Some("invalid_client") },
        Case { name: "token: broken assertion", request: form(Method::POST, "/token", &format!("{}&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion=a.b.c", code_form("")), None), error: Some("invalid_client") },
        Case { name: "token: wrong redirect_uri", request: form(Method::POST, "/token", &format!("grant_type=authorization_code&code={code}&redirect_uri=https%3A%2F%2Frp.example%2Fother"), basic()), error: Some("invalid_grant") },
        Case { name: "token: verifier without challenge", request: form(Method::POST, "/token", &code_form(&format!("&code_verifier={}", "v".repeat(43))), basic()), error: Some("invalid_grant") },
        Case { name: "token: unknown refresh token", request: form(Method::POST, "/token", "grant_type=refresh_token&refresh_token=nope", basic()), error: Some("invalid_grant") },
        Case { name: "token: oversized body", request: form(Method::POST, "/token", &format!("grant_type=authorization_code&code={huge}"), basic()), error: None },
        Case { name: "token: invalid UTF-8", request: Request::post("/token").header(header::CONTENT_TYPE, "application/x-www-form-urlencoded").header(header::AUTHORIZATION, basic_header("rp", SECRET)).body(Body::from(vec![0xff, 0xfe, b'=', 0x80])).unwrap(), error: Some("invalid_request") },
        // UserInfo.
        Case { name: "userinfo: no token", request: Request::get("/userinfo").body(Body::empty()).unwrap(), error: None },
        Case { name: "userinfo: garbage token", request: Request::get("/userinfo").header(header::AUTHORIZATION, "Bearer garbage").body(Body::empty()).unwrap(), error: None },
        Case { name: "userinfo: alg none token", request: Request::get("/userinfo").header(header::AUTHORIZATION, format!("Bearer {none_jwt}")).body(Body::empty()).unwrap(), error: None },
        Case { name: "userinfo: foreign expired JWT", request: Request::get("/userinfo").header(header::AUTHORIZATION, format!("Bearer {expired_hint}")).body(Body::empty()).unwrap(), error: None },
        Case { name: "userinfo: DELETE", request: Request::delete("/userinfo").body(Body::empty()).unwrap(), error: None },
        // Revocation and introspection.
        Case { name: "revoke: no client", request: form(Method::POST, "/revoke", "token=x", None), error: Some("invalid_client") },
        Case { name: "revoke: no token", request: form(Method::POST, "/revoke", "", basic()), error: Some("invalid_request") },
        Case { name: "introspect: wrong secret", request: form(Method::POST, "/introspect", "token=x", Some(basic_header("rp", "nope"))), error: Some("invalid_client") },
        Case { name: "introspect: GET", request: Request::get("/introspect").body(Body::empty()).unwrap(), error: None },
        // Registration.
        Case { name: "register: not JSON", request: Request::post("/register").header(header::CONTENT_TYPE, "application/json").body(Body::from("{")).unwrap(), error: None },
        Case { name: "register: fragment", request: Request::post("/register").header(header::CONTENT_TYPE, "application/json").body(Body::from(r#"{"redirect_uris":["https://rp.example/cb#x"]}"#)).unwrap(), error: Some("invalid_redirect_uri") },
        Case { name: "register: wrong types", request: Request::post("/register").header(header::CONTENT_TYPE, "application/json").body(Body::from(r#"{"redirect_uris":"https://rp.example/cb","grant_types":5}"#)).unwrap(), error: None },
        Case { name: "register/{id}: no token", request: Request::get("/register/rp").body(Body::empty()).unwrap(), error: None },
        // Authorization endpoint and its pages (they answer HTML pages or redirects).
        Case { name: "authorize: nothing", request: Request::get("/authorize").body(Body::empty()).unwrap(), error: None },
        Case { name: "authorize: broken request object", request: Request::get(format!("/authorize?client_id=rp&response_type=code&scope=openid&redirect_uri={}&request=a.b.c", urlencode(CB))).body(Body::empty()).unwrap(), error: None },
        Case { name: "authorize: oversized parameter", request: Request::get(format!("/authorize?client_id=rp&response_type=code&scope=openid&state={}", "s".repeat(20_000))).body(Body::empty()).unwrap(), error: None },
        Case { name: "authorize: POST as JSON", request: Request::post("/authorize").header(header::CONTENT_TYPE, "application/json").body(Body::from("{}")).unwrap(), error: None },
        Case { name: "authorize: expired foreign hint", request: Request::get(format!("/authorize?client_id=rp&response_type=code&scope=openid&redirect_uri={}&prompt=none&id_token_hint={expired_hint}", urlencode(CB))).body(Body::empty()).unwrap(), error: None },
        Case { name: "login: no ticket", request: form(Method::POST, "/login", "username=a&password=b", None), error: None },
        Case { name: "consent: garbage ticket", request: Request::get("/consent?ticket=%00%01").body(Body::empty()).unwrap(), error: None },
    ];

    let before = fingerprint(&op).await;
    let mut problems = Vec::new();
    for case in cases {
        let reply = op.send(case.request).await;
        let status = reply.status;
        if status.is_server_error() || status.is_success() && !matches!(case.name, n if n.starts_with("authorize") || n.starts_with("revoke")) {
            problems.push(format!("{}: answered {status}", case.name));
            continue;
        }
        if let Some(code) = case.error
            && reply.json()["error"].as_str() != Some(code)
        {
            problems.push(format!("{}: expected {code}, got {status} {}", case.name, String::from_utf8_lossy(&reply.body)));
        }
        if case.name.starts_with("authorize")
            && let Some(location) = reply.header(header::LOCATION)
            && !location.starts_with(CB)
        {
            problems.push(format!("{}: redirected somewhere unexpected: {location}", case.name));
        }
    }
    assert!(problems.is_empty(), "bad input was mishandled:\n{}", problems.join("\n"));
    assert_eq!(fingerprint(&op).await, before, "a failed request changed stored state");
    // The code aimed at by every bad token request is still good.
    op.redeem("rp", &code).await.tokens();
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
