//! `request_uri` at the authorization endpoint, through the router in process, against real
//! HTTP servers on loopback standing in for the client's document host: only registered URIs are
//! fetched, the answer must be a JWT of bounded size whose hash matches the fragment, a server
//! that hangs costs a bounded wait, and every refusal is `invalid_request_uri` at the redirect
//! URI (or a page when the redirect URI cannot be trusted) with nothing stored.

use crate::browser::{Browser, Page};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use poort::app;
use poort::state::AppState;
use serde_json::{Value, json};
use sha2::Digest;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ISSUER: &str = "https://op.example";
const CB: &str = "https://rp.example/cb";
const PASSWORD: &str = "correct horse battery staple";

/// What the client's document host answers at one path.
#[derive(Clone)]
struct Answer {
    status: StatusCode,
    content_type: &'static str,
    body: String,
}

/// The client's document host: answers each path as told, counts every request.
struct Documents {
    base: String,
    answers: Arc<Mutex<std::collections::HashMap<String, Answer>>>,
    requests: Arc<Mutex<usize>>,
}

impl Documents {
    async fn start() -> Self {
        let answers: Arc<Mutex<std::collections::HashMap<String, Answer>>> = Arc::default();
        let requests = Arc::new(Mutex::new(0));
        let (served, counted) = (answers.clone(), requests.clone());
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
            let (served, counted) = (served.clone(), counted.clone());
            async move {
                *counted.lock().unwrap() += 1;
                match served.lock().unwrap().get(uri.path()).cloned() {
                    Some(answer) if answer.status.is_redirection() => {
                        (answer.status, [(axum::http::header::LOCATION, answer.body)]).into_response()
                    }
                    Some(answer) => {
                        (answer.status, [(axum::http::header::CONTENT_TYPE, answer.content_type)], answer.body).into_response()
                    }
                    None => StatusCode::NOT_FOUND.into_response(),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, answers, requests }
    }

    /// Serves `body` at `path` with `status` and `content_type`; returns its URL.
    fn serve(&self, path: &str, status: StatusCode, content_type: &'static str, body: String) -> String {
        self.answers.lock().unwrap().insert(path.to_string(), Answer { status, content_type, body });
        format!("{}{path}", self.base)
    }

    fn requests(&self) -> usize {
        *self.requests.lock().unwrap()
    }
}

struct Fixture {
    state: AppState,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Self {
        let (state, dir) = crate::support::provider(ISSUER, |_| {}).await;
        crate::support::insert_user(&state, "ann@example.com", PASSWORD).await;
        Self { state, _dir: dir }
    }

    /// A first-party client (no consent page) that registered `request_uris`.
    async fn client(&self, id: &str, request_uris: &[&str], more: Value) {
        let mut metadata = json!({ "redirect_uris": [CB, "https://rp.example/other"], "first_party": true, "request_uris": request_uris });
        for (k, v) in more.as_object().unwrap() {
            metadata[k] = v.clone();
        }
        crate::support::insert_client(&self.state, id, metadata).await;
    }

    fn browser(&self) -> Browser {
        Browser::new(app::app(self.state.clone()))
    }

    /// Every table's row count.
    async fn stored(&self) -> Vec<(String, i64)> {
        crate::support::table_counts(&self.state.store).await
    }
}

fn unsigned(claims: Value) -> String {
    format!("{}.{}.", URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#), URL_SAFE_NO_PAD.encode(claims.to_string()))
}

fn hash_of(body: &str) -> String {
    URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(body.as_bytes()))
}

fn object() -> String {
    unsigned(json!({ "client_id": "rp", "response_type": "code", "scope": "openid", "state": "from-object", "nonce": "n", "redirect_uri": CB }))
}

/// An authorization request by reference for client `rp`.
fn by_reference(request_uri: &str) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("client_id", "rp"), ("response_type", "code"), ("scope", "openid"), ("redirect_uri", CB), ("state", "xyz")])
        .append_pair("request_uri", request_uri)
        .finish();
    format!("/authorize?{query}")
}

#[track_caller]
fn assert_refused(page: &Page, error: &str) {
    let location = page.location.as_deref().unwrap_or_else(|| panic!("a redirect, not {}: {}", page.status, page.body));
    assert!(location.starts_with(CB), "{location}");
    let params = page.location_params();
    assert_eq!(params.get("error").map(String::as_str), Some(error), "{location}");
    assert_eq!(params.get("state").map(String::as_str), Some("xyz"));
    assert!(!params.contains_key("code"));
}

#[tokio::test]
async fn a_registered_request_uri_supplies_the_request_and_is_fetched_once() {
    let f = Fixture::new().await;
    let docs = Documents::start().await;
    let object = object();
    // The suite serves application/jose; RFC 9101's own type works as well.
    let uri = docs.serve("/r/1", StatusCode::OK, "application/jose", object.clone());
    let other = docs.serve("/r/2", StatusCode::OK, "application/oauth-authz-req+jwt; charset=utf-8", object.clone());
    f.client("rp", &[&uri, &format!("{other}#ignored-at-registration")], json!({})).await;
    let mut b = f.browser();
    let first = b.get(&by_reference(&format!("{uri}#{}", hash_of(&object)))).await;
    let login = first.location.clone().unwrap_or_else(|| panic!("{}: {}", first.status, first.body));
    assert!(login.starts_with("/login?ticket="), "{login}");
    assert_eq!(docs.requests(), 1);
    // Signing in resumes from the ticket: the object is not fetched again.
    let done = b.sign_in(&login, "ann", PASSWORD).await;
    let params = done.location_params();
    assert!(done.location.as_deref().unwrap().starts_with(CB));
    assert_eq!(params["state"], "from-object");
    assert!(params.contains_key("code"));
    assert_eq!(docs.requests(), 1);
    // A registered URI matches whatever its fragment; without a fragment there is no hash to check.
    let page = b.get(&by_reference(&other)).await;
    assert!(page.location_params().contains_key("code"), "{:?}", page.location);
}

#[tokio::test]
async fn only_registered_uris_are_ever_fetched() {
    let f = Fixture::new().await;
    let docs = Documents::start().await;
    let uri = docs.serve("/r/1", StatusCode::OK, "application/jwt", object());
    let unregistered = docs.serve("/r/elsewhere", StatusCode::OK, "application/jwt", object());
    f.client("rp", &[&uri], json!({})).await;
    let mut b = f.browser();
    let before = f.stored().await;
    for asked in [unregistered.as_str(), &format!("{uri}/"), &format!("{uri}?x=1"), &uri.replace("/r/1", "/R/1")] {
        assert_refused(&b.get(&by_reference(asked)).await, "invalid_request_uri");
    }
    assert_eq!(docs.requests(), 0, "nothing was fetched");
    // request and request_uri together are one too many.
    let both = format!("{}&request={}", by_reference(&uri), object());
    assert_refused(&b.get(&both).await, "invalid_request");
    // Without a redirect URI the OP can trust, the refusal is a page.
    let page = b.get(&by_reference(&unregistered).replace("&redirect_uri=https%3A%2F%2Frp.example%2Fcb", "")).await;
    assert!(page.location.is_none() && page.status.is_client_error(), "{:?}", page.location);
    assert_eq!(f.stored().await, before, "a refused request changes no stored state");
}

#[tokio::test]
async fn bad_answers_are_invalid_request_uri_and_store_nothing() {
    let f = Fixture::new().await;
    let docs = Documents::start().await;
    let object = object();
    let oversized = unsigned(json!({ "client_id": "rp", "state": "x".repeat(20 * 1024) }));
    let cases = [
        docs.serve("/html", StatusCode::OK, "text/html", object.clone()),
        docs.serve("/json", StatusCode::OK, "application/json", object.clone()),
        docs.serve("/missing", StatusCode::NOT_FOUND, "application/jwt", object.clone()),
        docs.serve("/error", StatusCode::INTERNAL_SERVER_ERROR, "application/jwt", object.clone()),
        docs.serve("/moved", StatusCode::FOUND, "", "/good".into()),
        docs.serve("/big", StatusCode::OK, "application/jwt", oversized),
        docs.serve("/garbage", StatusCode::OK, "application/jwt", "not a jwt".into()),
    ];
    let good = docs.serve("/good", StatusCode::OK, "application/jwt", object.clone());
    let mut registered: Vec<&str> = cases.iter().map(String::as_str).collect();
    registered.push(&good);
    f.client("rp", &registered, json!({})).await;
    let mut b = f.browser();
    let before = f.stored().await;
    for (index, uri) in cases.iter().enumerate() {
        let expected = if uri.ends_with("/garbage") { "invalid_request_object" } else { "invalid_request_uri" };
        let page = b.get(&by_reference(uri)).await;
        assert_refused(&page, expected);
        assert!(!page.location.unwrap().contains("127.0.0.1"), "case {index}: the answer names no address");
    }
    // The hash in the fragment must be the body's.
    assert_refused(&b.get(&by_reference(&format!("{good}#{}", hash_of("something else")))).await, "invalid_request_uri");
    assert_eq!(f.stored().await, before, "a refused request changes no stored state");
    // The redirect was not followed to /good.
    assert_eq!(docs.requests(), cases.len() + 1);
}

#[tokio::test]
async fn a_host_that_never_answers_costs_at_most_the_outbound_timeout() {
    let mut f = Fixture::new().await;
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}/r", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    f.client("rp", &[&uri], json!({})).await;
    // The server's own client gives up after 10 seconds; a shorter one keeps the test quick.
    f.state.http =
        reqwest::Client::builder().timeout(Duration::from_secs(1)).redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let mut b = f.browser();
    let before = f.stored().await;
    assert_refused(&b.get(&by_reference(&uri)).await, "invalid_request_uri");
    assert_eq!(f.stored().await, before);
}

#[tokio::test]
async fn signed_objects_by_reference_are_verified_with_the_clients_keys() {
    use josekit::jws::{JwsHeader, RS256};
    use josekit::jwt::JwtPayload;
    let f = Fixture::new().await;
    let docs = Documents::start().await;
    let key = RS256.generate_key_pair(2048).unwrap();
    let mut public = key.to_jwk_public_key();
    public.set_key_id("rp-key");
    let sign = |pair: &josekit::jwk::alg::rsa::RsaKeyPair| {
        let mut header = JwsHeader::new();
        header.set_key_id("rp-key");
        let mut payload = JwtPayload::new();
        for (k, v) in [("client_id", "rp"), ("response_type", "code"), ("scope", "openid"), ("state", "xyz"), ("redirect_uri", CB), ("aud", ISSUER), ("iss", "rp")] {
            payload.set_claim(k, Some(v.into())).unwrap();
        }
        josekit::jwt::encode_with_signer(&payload, &header, &RS256.signer_from_jwk(&pair.to_jwk_private_key()).unwrap()).unwrap()
    };
    let good = docs.serve("/signed", StatusCode::OK, "application/jwt", sign(&key));
    let forged = docs.serve("/forged", StatusCode::OK, "application/jwt", sign(&RS256.generate_key_pair(2048).unwrap()));
    let plain = docs.serve("/plain", StatusCode::OK, "application/jwt", object());
    f.client(
        "rp",
        &[&good, &forged, &plain],
        json!({ "request_object_signing_alg": "RS256", "jwks": { "keys": [Value::Object(public.as_ref().clone())] } }),
    )
    .await;
    let mut b = f.browser();
    let page = b.get(&by_reference(&good)).await;
    assert!(page.location.as_deref().unwrap().starts_with("/login?ticket="), "{:?}", page.location);
    assert_refused(&b.get(&by_reference(&forged)).await, "invalid_request_object");
    // This client signs: an unsigned object by reference is refused like one by value.
    assert_refused(&b.get(&by_reference(&plain)).await, "invalid_request_object");
}
