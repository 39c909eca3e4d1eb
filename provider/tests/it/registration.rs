//! Dynamic client registration (RFC 7591, OpenID Connect Dynamic Registration) and its
//! management (RFC 7592), through the router in process. A small server on 127.0.0.1 serves
//! the sector identifier documents and key sets the registrations point at.

use crate::support::sqlite_settings;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use poort::app;
use poort::crypto::keyed_hash;
use poort::oauth::{Client, subject};
use poort::state::AppState;
use poort_config::Settings;
use poort_storage::repo::{ClientSource, NewClient};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use tower::ServiceExt;

const ISSUER: &str = "https://op.example";
const CB: &str = "https://rp.example/cb";

struct Fixture {
    state: AppState,
    router: axum::Router,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Self {
        Self::with(|_| {}).await
    }

    async fn with(configure: impl FnOnce(&mut Settings)) -> Self {
        Self::build(configure, None).await
    }

    /// A provider whose outbound client reaches the [`Documents`] server.
    async fn fetching_from(documents: &Documents) -> Self {
        Self::build(|_| {}, Some(documents.http.clone())).await
    }

    async fn build(configure: impl FnOnce(&mut Settings), http: Option<reqwest::Client>) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = sqlite_settings(dir.path());
        settings.server.issuer = Some(ISSUER.parse().unwrap());
        configure(&mut settings);
        let store = poort::open_store(&settings).await.unwrap();
        let mut state = app::state(settings, store).await.unwrap();
        if let Some(http) = http {
            state.http = http;
        }
        Self { router: app::app(state.clone()), state, _dir: dir }
    }

    async fn send(&self, request: Request<Body>) -> Answer {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "a 500: {json}");
        Answer { status, headers, json, raw: String::from_utf8_lossy(&bytes).into_owned() }
    }

    async fn register(&self, body: Value) -> Answer {
        self.send(json_request(Method::POST, "/register", None, &body)).await
    }

    async fn manage(&self, method: Method, client_id: &str, token: Option<&str>, body: Option<&Value>) -> Answer {
        let path = format!("/register/{client_id}");
        let request = match body {
            Some(body) => json_request(method, &path, token, body),
            None => {
                let mut builder = Request::builder().method(method).uri(path);
                if let Some(token) = token {
                    builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
                }
                builder.body(Body::empty()).unwrap()
            }
        };
        self.send(request).await
    }

    async fn client_count(&self) -> usize {
        self.state.store.clients().list().await.unwrap().len()
    }

    async fn load(&self, client_id: &str) -> Client {
        Client::load(&self.state.store, client_id).await.unwrap().expect("the client is stored")
    }
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
    raw: String,
}

impl Answer {
    fn content_type(&self) -> &str {
        self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    fn error(&self) -> &str {
        self.json["error"].as_str().unwrap_or("")
    }

    fn str(&self, member: &str) -> String {
        self.json[member].as_str().unwrap_or_else(|| panic!("{member} missing in {}", self.json)).to_string()
    }

    /// A JSON error answer with this status and code.
    fn assert_error(&self, status: StatusCode, error: &str, context: &str) {
        assert_eq!(self.status, status, "{context}: {}", self.raw);
        assert!(self.content_type().starts_with("application/json"), "{context}: {}", self.content_type());
        assert_eq!(self.error(), error, "{context}: {}", self.raw);
    }

    fn assert_invalid_token(&self, context: &str) {
        self.assert_error(StatusCode::UNAUTHORIZED, "invalid_token", context);
        assert_eq!(self.headers.get(header::WWW_AUTHENTICATE).unwrap(), "Bearer error=\"invalid_token\"", "{context}");
    }
}

fn json_request(method: Method, path: &str, token: Option<&str>, body: &Value) -> Request<Body> {
    let mut builder = Request::builder().method(method).uri(path).header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(Body::from(body.to_string())).unwrap()
}

fn rs256_public_jwks() -> Value {
    let key = poort::keys::material::generate("RS256").unwrap();
    json!({ "keys": [Value::Object(key.public_jwk.as_ref().clone())] })
}

/// The body the OpenID Foundation suite registers with (OIDCCCreateDynamicClientRegistrationRequest).
fn suite_body(response_type: &str, grant_types: Value, auth_method: &str) -> Value {
    json!({
        "client_name": "oidcc-server test client",
        "grant_types": grant_types,
        "jwks": rs256_public_jwks(),
        "token_endpoint_auth_method": auth_method,
        "response_types": [response_type],
        "redirect_uris": ["https://suite.example/test/a/poort/callback"],
        "contacts": ["certification@oidf.org"],
    })
}

fn keys_of(value: &Value) -> BTreeSet<&str> {
    value.as_object().unwrap().keys().map(String::as_str).collect()
}

/// A TLS server on loopback serving sector identifier documents and a key set, reached as
/// `https://sector-a.test:PORT` and `https://sector-b.test:PORT` (two sectors) through `http`,
/// a client like the provider's own (no redirects) that trusts the server's certificate.
struct Documents {
    a: String,
    b: String,
    http: reqwest::Client,
}

async fn documents_server() -> Documents {
    use axum::response::IntoResponse;
    use axum::routing::get;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let jwks = rs256_public_jwks();
    let router = axum::Router::new()
        .route(
            "/sector.json",
            get(|| async { axum::Json(json!([CB, "https://rp.example/other", "https://b.example/cb"])) }),
        )
        .route("/sector-bad.json", get(|| async { axum::Json(json!(["https://rp.example/other"])) }))
        .route("/sector-object.json", get(|| async { axum::Json(json!({ "redirect_uris": [CB] })) }))
        .route("/sector-text", get(|| async { "https://rp.example/cb" }))
        .route("/sector-huge.json", get(|| async { axum::Json(vec![CB.to_string(); 5000]) }))
        .route(
            "/sector-redirect",
            get(|| async { axum::response::Redirect::temporary("/sector.json").into_response() }),
        )
        .route("/sector-gone", get(|| async { StatusCode::NOT_FOUND }))
        .route("/jwks", get(move || async move { axum::Json(jwks) }));
    let names = vec!["sector-a.test".to_string(), "sector-b.test".to_string()];
    let cert = rcgen::generate_simple_self_signed(names).unwrap();
    let (cert_pem, key_pem) = (cert.cert.pem(), cert.signing_key.serialize_pem());
    let tls = axum_server::tls_rustls::RustlsConfig::from_pem(cert_pem.clone().into_bytes(), key_pem.into_bytes())
        .await
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let server = axum_server::from_tcp_rustls(listener, tls).unwrap();
    tokio::spawn(async move { server.serve(router.into_make_service()).await.ok() });
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .resolve("sector-a.test", address)
        .resolve("sector-b.test", address)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .unwrap();
    let port = address.port();
    Documents { a: format!("https://sector-a.test:{port}"), b: format!("https://sector-b.test:{port}"), http }
}

#[tokio::test]
async fn the_suites_registration_is_created_with_every_member_reported() {
    let fx = Fixture::new().await;
    let body = suite_body("code", json!(["authorization_code"]), "client_secret_basic");
    let answer = fx.register(body.clone()).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.raw);
    assert_eq!(answer.content_type(), "application/json");
    assert_eq!(answer.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    assert_eq!(answer.headers.get(header::PRAGMA).unwrap(), "no-cache");
    assert!(answer.json.get("error").is_none());
    let expected: BTreeSet<&str> = [
        "client_name",
        "grant_types",
        "jwks",
        "token_endpoint_auth_method",
        "response_types",
        "redirect_uris",
        "contacts",
        // Defaults, reported as registered.
        "application_type",
        "id_token_signed_response_alg",
        "subject_type",
        // Credentials and identifiers.
        "client_id",
        "client_id_issued_at",
        "client_secret",
        "client_secret_expires_at",
        "registration_access_token",
        "registration_client_uri",
    ]
    .into();
    assert_eq!(keys_of(&answer.json), expected);
    for member in [
        "client_name",
        "grant_types",
        "jwks",
        "token_endpoint_auth_method",
        "response_types",
        "redirect_uris",
        "contacts",
    ] {
        assert_eq!(answer.json[member], body[member], "{member}");
    }
    assert_eq!(answer.json["application_type"], "web");
    assert_eq!(answer.json["id_token_signed_response_alg"], "RS256");
    assert_eq!(answer.json["subject_type"], "public");
    assert_eq!(answer.json["client_secret_expires_at"], 0);
    let client_id = answer.str("client_id");
    assert_eq!(answer.str("registration_client_uri"), format!("{ISSUER}/register/{client_id}"));
    let issued_at = answer.json["client_id_issued_at"].as_i64().unwrap();
    assert!((issued_at - poort_storage::now()).abs() < 60);
    assert!(answer.str("client_secret").len() >= 43 && answer.str("registration_access_token").len() >= 43);

    // The hybrid and implicit variants, and the Dynamic plan's private_key_jwt client.
    for (rt, grants) in [
        ("code id_token", json!(["authorization_code", "implicit"])),
        ("code id_token token", json!(["authorization_code", "implicit"])),
        ("id_token token", json!(["implicit"])),
        ("id_token", json!(["implicit"])),
    ] {
        let answer = fx.register(suite_body(rt, grants, "client_secret_basic")).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{rt}: {}", answer.raw);
    }
    let answer =
        fx.register(suite_body("code id_token", json!(["authorization_code", "implicit"]), "private_key_jwt")).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.raw);
    assert!(answer.json.get("client_secret").is_none() && answer.json.get("client_secret_expires_at").is_none());
}

#[tokio::test]
async fn secrets_and_tokens_are_stored_only_as_keyed_hashes() {
    let fx = Fixture::new().await;
    let answer = fx.register(json!({ "redirect_uris": [CB], "first_party": true, "allow_plain_pkce": true })).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.raw);
    let (client_id, secret, token) =
        (answer.str("client_id"), answer.str("client_secret"), answer.str("registration_access_token"));
    let row = fx.state.store.clients().get(&client_id).await.unwrap().unwrap();
    assert_eq!(row.source, ClientSource::Dynamic);
    assert_eq!(row.secret_hash.as_deref(), Some(keyed_hash(&fx.state.hash_key, &secret).as_str()));
    assert_eq!(row.registration_token_hash.as_deref(), Some(keyed_hash(&fx.state.hash_key, &token).as_str()));
    assert_eq!(row.secret_sealed, None, "only client_secret_jwt needs the secret itself");
    let stored = format!("{row:?}");
    assert!(!stored.contains(&secret) && !stored.contains(&token), "a secret is stored in clear");
    // Poort-only members cannot be set by open registration.
    assert!(answer.json.get("first_party").is_none() && answer.json.get("allow_plain_pkce").is_none());
    let client = fx.load(&client_id).await;
    assert!(!client.metadata.first_party && !client.metadata.allow_plain_pkce);
    assert!(client.has_redirect_uri(CB));
    assert_eq!(client.auth_method(), "client_secret_basic");
}

#[tokio::test]
async fn client_secret_jwt_clients_have_their_secret_sealed() {
    let fx = Fixture::new().await;
    let answer = fx.register(json!({ "redirect_uris": [CB], "token_endpoint_auth_method": "client_secret_jwt" })).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.raw);
    let client = fx.load(&answer.str("client_id")).await;
    let sealed = client.secret_sealed.expect("a sealed secret");
    assert!(!sealed.contains(&answer.str("client_secret")));
    assert_eq!(
        poort::oauth::client_auth::unseal_secret(&fx.state.hash_key, &sealed).unwrap(),
        answer.str("client_secret")
    );
}

#[tokio::test]
async fn public_and_key_clients_get_no_secret() {
    let fx = Fixture::new().await;
    for body in [
        json!({ "redirect_uris": [CB], "token_endpoint_auth_method": "none" }),
        json!({ "redirect_uris": [CB], "token_endpoint_auth_method": "private_key_jwt", "jwks": rs256_public_jwks() }),
    ] {
        let answer = fx.register(body).await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.raw);
        assert!(answer.json.get("client_secret").is_none() && answer.json.get("client_secret_expires_at").is_none());
        let row = fx.state.store.clients().get(&answer.str("client_id")).await.unwrap().unwrap();
        assert_eq!((row.secret_hash, row.secret_sealed, row.secret_expires_at), (None, None, 0));
    }
}

#[tokio::test]
async fn a_secret_lifetime_sets_client_secret_expires_at() {
    let fx = Fixture::with(|s| s.registration.secret_lifetime = std::time::Duration::from_secs(3600)).await;
    let answer = fx.register(json!({ "redirect_uris": [CB] })).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.raw);
    let expires_at = answer.json["client_secret_expires_at"].as_i64().unwrap();
    assert!((expires_at - poort_storage::now() - 3600).abs() < 60, "{expires_at}");
    let row = fx.state.store.clients().get(&answer.str("client_id")).await.unwrap().unwrap();
    assert_eq!(row.secret_expires_at, expires_at);
}

#[tokio::test]
async fn a_redirect_uri_with_a_fragment_is_refused_as_the_suite_expects() {
    // oidcc-redirect-uri-regfrag
    let fx = Fixture::new().await;
    let mut body = suite_body("code", json!(["authorization_code"]), "client_secret_basic");
    body["redirect_uris"] = json!(["https://suite.example/test/a/poort/callback#foobar"]);
    let answer = fx.register(body).await;
    answer.assert_error(StatusCode::BAD_REQUEST, "invalid_redirect_uri", "regfrag");
    assert!(answer.json["error_description"].as_str().is_some_and(|d| !d.is_empty()));
    assert_eq!(fx.client_count().await, 0);
}

/// Every validation rule, valid and invalid, through the endpoint.
#[tokio::test]
async fn metadata_is_validated_rule_by_rule() {
    let fx = Fixture::new().await;
    let jwks = rs256_public_jwks();
    let private_jwks = {
        let key = poort::keys::material::generate("RS256").unwrap();
        json!({ "keys": [Value::Object(key.private_jwk.as_ref().clone())] })
    };
    let duplicate_kids = {
        let mut a = rs256_public_jwks()["keys"][0].clone();
        let b = rs256_public_jwks()["keys"][0].clone();
        a["kid"] = b["kid"].clone();
        json!({ "keys": [a, b] })
    };
    let hybrid = json!(["authorization_code", "implicit"]);
    // (what, members added to {"redirect_uris": [CB]}, expected error or "" for 201)
    let cases: Vec<(&str, Value, &str)> = vec![
        // redirect_uris
        ("query kept", json!({ "redirect_uris": ["https://rp.example/cb?bar=foo"] }), ""),
        (
            "loopback http",
            json!({ "redirect_uris": ["http://127.0.0.1:9999/cb", "http://[::1]/cb", "http://localhost/cb"] }),
            "",
        ),
        ("missing", json!({ "redirect_uris": [] }), "invalid_redirect_uri"),
        (
            "missing for implicit",
            json!({ "redirect_uris": [], "response_types": ["id_token"], "grant_types": ["implicit"] }),
            "invalid_redirect_uri",
        ),
        (
            "default response type needs its grant",
            json!({ "redirect_uris": [], "grant_types": ["client_credentials"], "response_types": [] }),
            "invalid_client_metadata",
        ),
        (
            "client credentials only",
            json!({ "redirect_uris": [], "grant_types": ["client_credentials"], "response_types": ["none"] }),
            "",
        ),
        ("relative", json!({ "redirect_uris": ["/cb"] }), "invalid_redirect_uri"),
        ("fragment", json!({ "redirect_uris": ["https://rp.example/cb#x"] }), "invalid_redirect_uri"),
        ("empty fragment", json!({ "redirect_uris": ["https://rp.example/cb#"] }), "invalid_redirect_uri"),
        ("plain http", json!({ "redirect_uris": ["http://rp.example/cb"] }), "invalid_redirect_uri"),
        ("custom scheme, web", json!({ "redirect_uris": ["com.example.app:/cb"] }), "invalid_redirect_uri"),
        (
            "custom scheme, native",
            json!({ "redirect_uris": ["com.example.app:/cb"], "application_type": "native" }),
            "",
        ),
        (
            "script scheme, native",
            json!({ "redirect_uris": ["javascript:alert(1)"], "application_type": "native" }),
            "invalid_redirect_uri",
        ),
        ("not a list", json!({ "redirect_uris": CB }), "invalid_client_metadata"),
        ("application_type", json!({ "application_type": "desktop" }), "invalid_client_metadata"),
        // response and grant types
        (
            "all response types",
            json!({ "response_types": ["code", "id_token", "id_token token", "code id_token", "code token", "code id_token token"], "grant_types": hybrid }),
            "",
        ),
        ("word order", json!({ "response_types": ["id_token code"], "grant_types": hybrid }), ""),
        ("unknown response type", json!({ "response_types": ["code foo"] }), "invalid_client_metadata"),
        ("token alone", json!({ "response_types": ["token"], "grant_types": ["implicit"] }), "invalid_client_metadata"),
        (
            "code without its grant",
            json!({ "response_types": ["code"], "grant_types": ["implicit"] }),
            "invalid_client_metadata",
        ),
        (
            "id_token without implicit",
            json!({ "response_types": ["code id_token"], "grant_types": ["authorization_code"] }),
            "invalid_client_metadata",
        ),
        (
            "token without implicit",
            json!({ "response_types": ["code token"], "grant_types": ["authorization_code"] }),
            "invalid_client_metadata",
        ),
        ("refresh", json!({ "grant_types": ["authorization_code", "refresh_token"] }), ""),
        ("unknown grant", json!({ "grant_types": ["authorization_code", "password"] }), "invalid_client_metadata"),
        // client authentication and keys
        ("client_secret_post", json!({ "token_endpoint_auth_method": "client_secret_post" }), ""),
        ("none", json!({ "token_endpoint_auth_method": "none" }), ""),
        ("unknown method", json!({ "token_endpoint_auth_method": "tls_client_auth" }), "invalid_client_metadata"),
        (
            "public client_credentials",
            json!({ "token_endpoint_auth_method": "none", "grant_types": ["authorization_code", "client_credentials"] }),
            "invalid_client_metadata",
        ),
        (
            "private_key_jwt without keys",
            json!({ "token_endpoint_auth_method": "private_key_jwt" }),
            "invalid_client_metadata",
        ),
        (
            "private_key_jwt with jwks_uri",
            json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://rp.example/jwks" }),
            "",
        ),
        (
            "jwks and jwks_uri",
            json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks": jwks, "jwks_uri": "https://rp.example/jwks" }),
            "invalid_client_metadata",
        ),
        (
            "private keys",
            json!({ "token_endpoint_auth_method": "private_key_jwt", "jwks": private_jwks }),
            "invalid_client_metadata",
        ),
        (
            "symmetric key",
            json!({ "jwks": { "keys": [{ "kty": "oct", "k": "c2VjcmV0", "kid": "s" }] } }),
            "invalid_client_metadata",
        ),
        ("duplicate kids", json!({ "jwks": duplicate_kids }), "invalid_client_metadata"),
        ("not a key set", json!({ "jwks": [1, 2] }), "invalid_client_metadata"),
        ("http jwks_uri", json!({ "jwks_uri": "http://rp.example/jwks" }), "invalid_client_metadata"),
        (
            "assertion alg",
            json!({ "token_endpoint_auth_method": "client_secret_jwt", "token_endpoint_auth_signing_alg": "RS256" }),
            "invalid_client_metadata",
        ),
        // algorithms
        ("id token ES256", json!({ "id_token_signed_response_alg": "ES256" }), ""),
        ("id token none, code", json!({ "id_token_signed_response_alg": "none" }), ""),
        (
            "id token none, hybrid",
            json!({ "id_token_signed_response_alg": "none", "response_types": ["code id_token"], "grant_types": hybrid }),
            "invalid_client_metadata",
        ),
        ("id token alg not held", json!({ "id_token_signed_response_alg": "PS256" }), "invalid_client_metadata"),
        ("id token HS256", json!({ "id_token_signed_response_alg": "HS256" }), "invalid_client_metadata"),
        ("userinfo RS256", json!({ "userinfo_signed_response_alg": "RS256" }), ""),
        ("userinfo none", json!({ "userinfo_signed_response_alg": "none" }), "invalid_client_metadata"),
        ("request object RS256", json!({ "request_object_signing_alg": "RS256", "jwks": jwks }), ""),
        ("request object none", json!({ "request_object_signing_alg": "none" }), ""),
        ("request object HS256", json!({ "request_object_signing_alg": "HS256" }), "invalid_client_metadata"),
        ("encryption", json!({ "userinfo_encrypted_response_alg": "RSA-OAEP" }), "invalid_client_metadata"),
        // subjects
        (
            "pairwise, one host",
            json!({ "subject_type": "pairwise", "redirect_uris": [CB, "https://rp.example/other"] }),
            "",
        ),
        (
            "pairwise, two hosts",
            json!({ "subject_type": "pairwise", "redirect_uris": [CB, "https://b.example/cb"] }),
            "invalid_client_metadata",
        ),
        ("subject type", json!({ "subject_type": "secret" }), "invalid_client_metadata"),
        (
            "https sector",
            json!({ "sector_identifier_uri": "http://rp.example/sector.json" }),
            "invalid_client_metadata",
        ),
        // links and other URIs
        (
            "links",
            json!({ "logo_uri": "https://rp.example/logo.png", "client_uri": "https://rp.example/", "policy_uri": "https://rp.example/policy", "tos_uri": "https://rp.example/tos" }),
            "",
        ),
        ("script logo", json!({ "logo_uri": "javascript:alert(1)" }), "invalid_client_metadata"),
        ("relative policy", json!({ "policy_uri": "/policy" }), "invalid_client_metadata"),
        ("data tos", json!({ "tos_uri": "data:text/html,hi" }), "invalid_client_metadata"),
        ("client_uri", json!({ "client_uri": "not a url" }), "invalid_client_metadata"),
        ("initiate_login_uri", json!({ "initiate_login_uri": "https://rp.example/login" }), ""),
        (
            "http initiate_login_uri",
            json!({ "initiate_login_uri": "http://127.0.0.1/login" }),
            "invalid_client_metadata",
        ),
        (
            "backchannel",
            json!({ "backchannel_logout_uri": "https://rp.example/bc", "backchannel_logout_session_required": true }),
            "",
        ),
        ("loopback backchannel", json!({ "backchannel_logout_uri": "http://127.0.0.1/bc" }), ""),
        ("http backchannel", json!({ "backchannel_logout_uri": "http://rp.example/bc" }), "invalid_client_metadata"),
        (
            "frontchannel",
            json!({ "frontchannel_logout_uri": "https://rp.example/fc", "frontchannel_logout_session_required": true }),
            "",
        ),
        (
            "frontchannel fragment",
            json!({ "frontchannel_logout_uri": "https://rp.example/fc#x" }),
            "invalid_client_metadata",
        ),
        ("post logout", json!({ "post_logout_redirect_uris": ["https://rp.example/bye?x=1"] }), ""),
        (
            "post logout fragment",
            json!({ "post_logout_redirect_uris": ["https://rp.example/bye#x"] }),
            "invalid_client_metadata",
        ),
        ("post logout relative", json!({ "post_logout_redirect_uris": ["bye"] }), "invalid_client_metadata"),
        ("request_uris", json!({ "request_uris": ["https://rp.example/req#hash"] }), ""),
        ("http request_uris", json!({ "request_uris": ["http://rp.example/req"] }), "invalid_client_metadata"),
        // values
        ("max age", json!({ "default_max_age": 3600, "require_auth_time": true, "default_acr_values": ["urn:x"] }), ""),
        ("negative max age", json!({ "default_max_age": -1 }), "invalid_client_metadata"),
        ("contacts", json!({ "contacts": ["a@rp.example", "b@rp.example"] }), ""),
        ("contacts of numbers", json!({ "contacts": [1] }), "invalid_client_metadata"),
        ("opaque tokens", json!({ "access_token_format": "opaque" }), ""),
        ("token format", json!({ "access_token_format": "paseto" }), "invalid_client_metadata"),
        ("unknown members", json!({ "client_name#nl": "RP", "software_statement": "x.y.z", "frobnicate": [1] }), ""),
        ("nulls", json!({ "logo_uri": null, "contacts": null }), ""),
    ];
    let mut created = 0;
    for (what, members, expected) in cases {
        let mut body = json!({ "redirect_uris": [CB] });
        for (key, value) in members.as_object().unwrap() {
            body[key] = value.clone();
        }
        let before = fx.client_count().await;
        let answer = fx.register(body).await;
        if expected.is_empty() {
            assert_eq!(answer.status, StatusCode::CREATED, "{what}: {}", answer.raw);
            created += 1;
        } else {
            answer.assert_error(StatusCode::BAD_REQUEST, expected, what);
            assert_eq!(fx.client_count().await, before, "{what}: a refused registration stored something");
        }
    }
    assert_eq!(fx.client_count().await, created);
}

#[tokio::test]
async fn http_redirect_uris_on_loopback_can_be_switched_off() {
    let fx = Fixture::with(|s| s.registration.allow_http_redirect_uris_on_loopback = false).await;
    let answer = fx.register(json!({ "redirect_uris": ["http://127.0.0.1:9999/cb"] })).await;
    answer.assert_error(StatusCode::BAD_REQUEST, "invalid_redirect_uri", "loopback http");
    let answer = fx.register(json!({ "redirect_uris": [CB], "backchannel_logout_uri": "http://127.0.0.1/bc" })).await;
    answer.assert_error(StatusCode::BAD_REQUEST, "invalid_client_metadata", "loopback backchannel");
    let answer = fx.register(json!({ "redirect_uris": [CB] })).await;
    assert_eq!(answer.status, StatusCode::CREATED);
}

#[tokio::test]
async fn sector_identifier_documents_must_list_every_redirect_uri() {
    let docs = documents_server().await;
    let fx = Fixture::fetching_from(&docs).await;
    let pairwise = |sector: String, uris: Value| json!({ "redirect_uris": uris, "subject_type": "pairwise", "sector_identifier_uri": sector });
    // oidcc-registration-sector-uri
    let sector = format!("{}/sector.json", docs.a);
    let answer = fx.register(pairwise(sector.clone(), json!([CB, "https://b.example/cb"]))).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.raw);
    assert_eq!(answer.json["sector_identifier_uri"], sector);
    // oidcc-registration-sector-bad, and every other way a document can fail
    for doc in
        ["sector-bad.json", "sector-object.json", "sector-text", "sector-huge.json", "sector-redirect", "sector-gone"]
    {
        let before = fx.client_count().await;
        let answer = fx.register(pairwise(format!("{}/{doc}", docs.a), json!([CB]))).await;
        answer.assert_error(StatusCode::BAD_REQUEST, "invalid_client_metadata", doc);
        assert_eq!(fx.client_count().await, before);
    }
    let answer = fx.register(pairwise("https://sector-a.test:1/sector.json".into(), json!([CB]))).await;
    answer.assert_error(StatusCode::BAD_REQUEST, "invalid_client_metadata", "unreachable");
    // Never plain http, not even on loopback: registrants must not probe the services beside us.
    let plain = docs.a.replace("https://sector-a.test", "http://127.0.0.1");
    let answer = fx.register(pairwise(format!("{plain}/sector.json"), json!([CB]))).await;
    answer.assert_error(StatusCode::BAD_REQUEST, "invalid_client_metadata", "http sector");
    // The document is checked for public clients too, when given.
    let bad = format!("{}/sector-bad.json", docs.a);
    let answer = fx.register(json!({ "redirect_uris": [CB], "sector_identifier_uri": bad })).await;
    answer.assert_error(StatusCode::BAD_REQUEST, "invalid_client_metadata", "public with a bad sector");
    // jwks_uri is taken as given at registration (the token endpoint fetches it).
    let jwks_uri = format!("{}/jwks", docs.a);
    let answer = fx
        .register(
            json!({ "redirect_uris": [CB], "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": jwks_uri }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.raw);
}

#[tokio::test]
async fn documents_under_an_internal_ca_are_fetched_once_outbound_ca_file_trusts_it() {
    use axum::routing::get;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let (cert_pem, key_pem) = (cert.cert.pem(), cert.signing_key.serialize_pem());
    let router = axum::Router::new().route("/sector.json", get(|| async { axum::Json(json!([CB])) }));
    let tls = axum_server::tls_rustls::RustlsConfig::from_pem(cert_pem.clone().into_bytes(), key_pem.into_bytes())
        .await
        .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let sector = format!("https://{}/sector.json", listener.local_addr().unwrap());
    let server = axum_server::from_tcp_rustls(listener, tls).unwrap();
    tokio::spawn(async move { server.serve(router.into_make_service()).await.ok() });
    let body = json!({ "redirect_uris": [CB], "subject_type": "pairwise", "sector_identifier_uri": sector });
    // Not a certificate the public web PKI vouches for…
    let untrusting = Fixture::new().await;
    untrusting.register(body.clone()).await.assert_error(StatusCode::BAD_REQUEST, "invalid_client_metadata", "unknown CA");
    // …until the operator trusts it.
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("internal-ca.pem");
    std::fs::write(&ca_file, &cert_pem).unwrap();
    let trusting = Fixture::with(|s| s.outbound.ca_file = Some(ca_file.clone())).await;
    let answer = trusting.register(body).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.raw);
    // A file that holds no certificate stops the start, naming the setting.
    let not_pem = dir.path().join("not-a-certificate.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let mut settings = sqlite_settings(dir.path());
    settings.outbound.ca_file = Some(not_pem);
    let store = poort::open_store(&settings).await.unwrap();
    let error = app::state(settings, store).await.err().expect("the start fails");
    assert!(error.to_string().contains("outbound.ca_file"), "{error}");
}

async fn registered_id(fx: &Fixture, body: Value) -> String {
    let answer = fx.register(body).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.raw);
    answer.str("client_id")
}

#[tokio::test]
async fn pairwise_subjects_differ_between_sectors_after_registration() {
    let docs = documents_server().await;
    let fx = Fixture::fetching_from(&docs).await;
    let register = |body: Value| registered_id(&fx, body);
    let pairwise_in = |sector: &str| json!({ "redirect_uris": [CB], "subject_type": "pairwise", "sector_identifier_uri": format!("{sector}/sector.json") });
    let sector_a = register(pairwise_in(&docs.a)).await;
    let sector_b = register(pairwise_in(&docs.b)).await;
    let by_host =
        register(json!({ "redirect_uris": [CB, "https://rp.example/other"], "subject_type": "pairwise" })).await;
    let same_host =
        register(json!({ "redirect_uris": ["https://rp.example/elsewhere"], "subject_type": "pairwise" })).await;
    let also_a = register(json!({
        "redirect_uris": ["https://b.example/cb"], "subject_type": "pairwise",
        "sector_identifier_uri": format!("{}/sector.json", docs.a)
    }))
    .await;
    let public = register(json!({ "redirect_uris": [CB] })).await;
    let key = &fx.state.hash_key;
    let sub = |client: &Client| subject::subject_for(client, "user-1", key);
    let mut loaded = Vec::new();
    for id in [&sector_a, &sector_b, &by_host, &same_host, &also_a, &public] {
        loaded.push(fx.load(id).await);
    }
    let [sector_a, sector_b, by_host, same_host, also_a, public] = loaded.try_into().ok().unwrap();
    assert_eq!(sub(&public), "user-1");
    let subjects = [sub(&sector_a), sub(&sector_b), sub(&by_host)];
    assert_eq!(subjects.iter().collect::<BTreeSet<_>>().len(), 3, "one subject per sector: {subjects:?}");
    assert!(subjects.iter().all(|s| s != "user-1"));
    assert_eq!(sub(&by_host), sub(&same_host), "one host, one sector, one subject");
    assert_eq!(sub(&sector_a), sub(&also_a), "the sector document's host is the sector");
}

#[tokio::test]
async fn a_registered_client_can_be_read_updated_and_deleted_with_its_token() {
    let fx = Fixture::new().await;
    let created =
        fx.register(json!({ "redirect_uris": [CB], "client_name": "RP", "contacts": ["a@rp.example"] })).await;
    let (id, secret, token) =
        (created.str("client_id"), created.str("client_secret"), created.str("registration_access_token"));

    // Read: the same members, without the secret.
    let read = fx.manage(Method::GET, &id, Some(&token), None).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.raw);
    assert_eq!(read.headers.get(header::CACHE_CONTROL).unwrap(), "no-store");
    let mut expected = created.json.clone();
    expected.as_object_mut().unwrap().remove("client_secret");
    assert_eq!(read.json, expected);

    // Update: full replacement; the secret stays.
    let mut update = read.json.clone();
    update["client_name"] = json!("RP, renamed");
    update["redirect_uris"] = json!([CB, "https://rp.example/cb2"]);
    update.as_object_mut().unwrap().remove("contacts");
    update["client_secret"] = json!(secret);
    let updated = fx.manage(Method::PUT, &id, Some(&token), Some(&update)).await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.raw);
    assert_eq!(updated.json["client_name"], "RP, renamed");
    assert!(updated.json.get("contacts").is_none());
    assert!(updated.json.get("client_secret").is_none(), "the secret is kept, not repeated");
    assert_eq!(updated.json["client_id_issued_at"], created.json["client_id_issued_at"]);
    let client = fx.load(&id).await;
    assert_eq!(client.metadata.client_name.as_deref(), Some("RP, renamed"));
    assert!(client.has_redirect_uri("https://rp.example/cb2"));
    assert_eq!(client.secret_hash.as_deref(), Some(keyed_hash(&fx.state.hash_key, &secret).as_str()));
    assert_eq!(fx.manage(Method::GET, &id, Some(&token), None).await.json, updated.json);

    // Refused updates change nothing.
    let before = fx.state.store.clients().get(&id).await.unwrap();
    let mut wrong_id = update.clone();
    wrong_id["client_id"] = json!("someone-else");
    let mut no_id = update.clone();
    no_id.as_object_mut().unwrap().remove("client_id");
    let mut wrong_secret = update.clone();
    wrong_secret["client_secret"] = json!("a-secret-of-my-own-choosing");
    let mut fragment = update.clone();
    fragment["redirect_uris"] = json!(["https://rp.example/cb#x"]);
    for (what, body, error) in [
        ("client_id of another", wrong_id, "invalid_client_metadata"),
        ("no client_id", no_id, "invalid_client_metadata"),
        ("chosen secret", wrong_secret, "invalid_client_metadata"),
        ("fragment", fragment, "invalid_redirect_uri"),
    ] {
        fx.manage(Method::PUT, &id, Some(&token), Some(&body)).await.assert_error(StatusCode::BAD_REQUEST, error, what);
        assert_eq!(fx.state.store.clients().get(&id).await.unwrap(), before, "{what}");
    }

    // Moving to private_key_jwt drops the secret; moving back issues a new one.
    let mut keys = update.clone();
    keys.as_object_mut().unwrap().remove("client_secret");
    keys["token_endpoint_auth_method"] = json!("private_key_jwt");
    keys["jwks"] = rs256_public_jwks();
    let answer = fx.manage(Method::PUT, &id, Some(&token), Some(&keys)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.raw);
    assert!(answer.json.get("client_secret").is_none() && answer.json.get("client_secret_expires_at").is_none());
    assert_eq!(fx.load(&id).await.secret_hash, None);
    let mut back = keys.clone();
    back["token_endpoint_auth_method"] = json!("client_secret_jwt");
    back.as_object_mut().unwrap().remove("jwks");
    let answer = fx.manage(Method::PUT, &id, Some(&token), Some(&back)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.raw);
    let new_secret = answer.str("client_secret");
    assert_ne!(new_secret, secret);
    assert_eq!(answer.json["client_secret_expires_at"], 0);
    let client = fx.load(&id).await;
    assert_eq!(client.secret_hash.as_deref(), Some(keyed_hash(&fx.state.hash_key, &new_secret).as_str()));
    let sealed = client.secret_sealed.expect("sealed for client_secret_jwt");
    assert_eq!(poort::oauth::client_auth::unseal_secret(&fx.state.hash_key, &sealed).unwrap(), new_secret);

    // Delete: 204, then the client and its token are gone.
    let deleted = fx.manage(Method::DELETE, &id, Some(&token), None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    assert!(fx.state.store.clients().get(&id).await.unwrap().is_none());
    fx.manage(Method::GET, &id, Some(&token), None).await.assert_invalid_token("after delete");
    fx.manage(Method::DELETE, &id, Some(&token), None).await.assert_invalid_token("delete twice");
}

#[tokio::test]
async fn a_hashed_only_secret_is_sealed_when_the_client_proves_it() {
    let fx = Fixture::new().await;
    let created = fx.register(json!({ "redirect_uris": [CB] })).await;
    let (id, secret, token) =
        (created.str("client_id"), created.str("client_secret"), created.str("registration_access_token"));
    let mut update = created.json.clone();
    update["token_endpoint_auth_method"] = json!("client_secret_jwt");
    let answer = fx.manage(Method::PUT, &id, Some(&token), Some(&update)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.raw);
    assert!(answer.json.get("client_secret").is_none(), "the sent secret is kept");
    let sealed = fx.load(&id).await.secret_sealed.expect("sealed");
    assert_eq!(poort::oauth::client_auth::unseal_secret(&fx.state.hash_key, &sealed).unwrap(), secret);
}

#[tokio::test]
async fn every_management_failure_is_the_same_401() {
    let fx = Fixture::new().await;
    let a = fx.register(json!({ "redirect_uris": [CB] })).await;
    let b = fx.register(json!({ "redirect_uris": [CB] })).await;
    let (a_id, a_token, b_token) =
        (a.str("client_id"), a.str("registration_access_token"), b.str("registration_access_token"));
    fx.state
        .store
        .clients()
        .insert(NewClient {
            client_id: "configured".into(),
            secret_hash: Some(keyed_hash(&fx.state.hash_key, "a-secret-of-sixteen")),
            secret_sealed: None,
            secret_expires_at: 0,
            metadata: json!({ "redirect_uris": [CB] }),
            source: ClientSource::Config,
            registration_token_hash: None,
        })
        .await
        .unwrap();
    let body = a.json.clone();
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let with_body = (method == Method::PUT).then_some(&body);
        for (what, id, token) in [
            ("no token", a_id.as_str(), None),
            ("wrong token", a_id.as_str(), Some("not-the-token")),
            ("another client's token", a_id.as_str(), Some(b_token.as_str())),
            ("unknown client", "no-such-client", Some(a_token.as_str())),
            ("configured client", "configured", Some(a_token.as_str())),
            ("configured client, its secret", "configured", Some("a-secret-of-sixteen")),
        ] {
            fx.manage(method.clone(), id, token, with_body).await.assert_invalid_token(&format!("{method} {what}"));
        }
        // Another scheme is no bearer token.
        let request = Request::builder()
            .method(method.clone())
            .uri(format!("/register/{a_id}"))
            .header(header::AUTHORIZATION, format!("Basic {a_token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        fx.send(request).await.assert_invalid_token(&format!("{method} basic scheme"));
    }
    // The scheme is case-insensitive, and nothing above changed anything.
    let request = Request::get(format!("/register/{a_id}"))
        .header(header::AUTHORIZATION, format!("bearer {a_token}"))
        .body(Body::empty())
        .unwrap();
    assert_eq!(fx.send(request).await.status, StatusCode::OK);
    assert_eq!(fx.client_count().await, 3);
}

#[tokio::test]
async fn an_initial_access_token_protects_registration() {
    const IAT: &str = "initial-access-token-for-tests";
    let fx = Fixture::with(|s| s.registration.initial_access_token = Some(IAT.into())).await;
    let body = json!({ "redirect_uris": [CB] });
    for (what, token) in
        [("none", None), ("wrong", Some("initial-access-token-for-tests!")), ("prefix", Some("initial"))]
    {
        let answer = fx.send(json_request(Method::POST, "/register", token, &body)).await;
        answer.assert_invalid_token(what);
    }
    assert_eq!(fx.client_count().await, 0);
    let answer = fx.send(json_request(Method::POST, "/register", Some(IAT), &body)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.raw);
    // The initial token is not a registration access token.
    let id = answer.str("client_id");
    fx.manage(Method::GET, &id, Some(IAT), None).await.assert_invalid_token("IAT as RAT");
    assert_eq!(
        fx.manage(Method::GET, &id, Some(&answer.str("registration_access_token")), None).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn discovery_advertises_registration_and_pairwise_subjects() {
    let fx = Fixture::new().await;
    let doc = fx.send(Request::get("/.well-known/openid-configuration").body(Body::empty()).unwrap()).await.json;
    assert_eq!(doc["registration_endpoint"], format!("{ISSUER}/register"));
    assert_eq!(doc["subject_types_supported"], json!(["public", "pairwise"]));
}

#[tokio::test]
async fn disabled_registration_is_neither_served_nor_advertised() {
    let fx = Fixture::with(|s| s.registration.enabled = false).await;
    let doc = fx.send(Request::get("/.well-known/openid-configuration").body(Body::empty()).unwrap()).await.json;
    assert!(doc.get("registration_endpoint").is_none(), "{doc}");
    let answer = fx.register(json!({ "redirect_uris": [CB] })).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(fx.manage(Method::GET, "any", Some("token"), None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(fx.client_count().await, 0);
}

#[tokio::test]
async fn bad_requests_get_json_errors_and_store_nothing() {
    let fx = Fixture::new().await;
    let raw = |method: Method, path: &str, content_type: Option<&str>, body: Body| {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(content_type) = content_type {
            builder = builder.header(header::CONTENT_TYPE, content_type);
        }
        builder.body(body).unwrap()
    };
    let good = json!({ "redirect_uris": [CB] }).to_string();
    let huge = format!(r#"{{"redirect_uris":["{CB}"],"client_name":"{}"}}"#, "x".repeat(70 * 1024));
    let cases: Vec<(&str, Request<Body>, StatusCode, &str)> = vec![
        (
            "malformed JSON",
            raw(Method::POST, "/register", Some("application/json"), Body::from("{\"redirect_uris\": [")),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "empty body",
            raw(Method::POST, "/register", Some("application/json"), Body::empty()),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "a JSON array",
            raw(Method::POST, "/register", Some("application/json"), Body::from("[]")),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "a JSON string",
            raw(Method::POST, "/register", Some("application/json"), Body::from("\"x\"")),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "form content type",
            raw(Method::POST, "/register", Some("application/x-www-form-urlencoded"), Body::from(good.clone())),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "no content type",
            raw(Method::POST, "/register", None, Body::from(good.clone())),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "oversized, streamed",
            raw(Method::POST, "/register", Some("application/json"), Body::from(huge.clone())),
            StatusCode::BAD_REQUEST,
            "invalid_request",
        ),
        (
            "GET /register",
            raw(Method::GET, "/register", None, Body::empty()),
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
        ),
        (
            "PUT /register",
            raw(Method::PUT, "/register", Some("application/json"), Body::from(good.clone())),
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
        ),
        (
            "POST /register/x",
            raw(Method::POST, "/register/x", Some("application/json"), Body::from(good.clone())),
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
        ),
        (
            "PATCH /register/x",
            raw(Method::PATCH, "/register/x", Some("application/json"), Body::from(good.clone())),
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
        ),
        (
            "bad percent-encoding",
            raw(Method::GET, "/register/%FF", None, Body::empty()),
            StatusCode::UNAUTHORIZED,
            "invalid_token",
        ),
    ];
    for (what, request, status, error) in cases {
        fx.send(request).await.assert_error(status, error, what);
    }
    // With a Content-Length over the limit the body-limit layer answers before any handler.
    let request = Request::post("/register")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CONTENT_LENGTH, huge.len())
        .body(Body::from(huge))
        .unwrap();
    assert_eq!(fx.send(request).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(fx.client_count().await, 0);
    // And a well-formed request still works.
    assert_eq!(
        fx.send(raw(Method::POST, "/register", Some("application/json; charset=utf-8"), Body::from(good))).await.status,
        StatusCode::CREATED
    );
}

/// The registration is what the token endpoint authenticates against: the hashed secret for
/// `client_secret_basic`, the sealed one for `client_secret_jwt` — until the client is deleted.
#[tokio::test]
async fn registered_clients_authenticate_at_the_token_endpoint_until_deleted() {
    use base64::Engine as _;
    let fx = Fixture::new().await;
    let machine = |method: &str| {
        json!({
            "redirect_uris": [], "grant_types": ["client_credentials"], "response_types": ["none"],
            "scope": "api", "token_endpoint_auth_method": method
        })
    };
    let token_request = |authorization: Option<String>, form: String| {
        let mut builder = Request::post("/token").header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(authorization) = authorization {
            builder = builder.header(header::AUTHORIZATION, authorization);
        }
        builder.body(Body::from(form)).unwrap()
    };

    let basic = fx.register(machine("client_secret_basic")).await;
    assert_eq!(basic.status, StatusCode::CREATED, "{}", basic.raw);
    let (id, secret) = (basic.str("client_id"), basic.str("client_secret"));
    let credentials = base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"));
    let answer =
        fx.send(token_request(Some(format!("Basic {credentials}")), "grant_type=client_credentials".into())).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.raw);
    assert!(answer.json["access_token"].is_string());

    let jwt = fx.register(machine("client_secret_jwt")).await;
    assert_eq!(jwt.status, StatusCode::CREATED, "{}", jwt.raw);
    let (jwt_id, jwt_secret) = (jwt.str("client_id"), jwt.str("client_secret"));
    let now = poort_storage::now();
    let mut payload = josekit::jwt::JwtPayload::new();
    for (claim, value) in [
        ("iss", json!(jwt_id)),
        ("sub", json!(jwt_id)),
        ("aud", json!(format!("{ISSUER}/token"))),
        ("iat", json!(now)),
        ("exp", json!(now + 60)),
        ("jti", json!(poort::crypto::random_token())),
    ] {
        payload.set_claim(claim, Some(value)).unwrap();
    }
    let mut header_ = josekit::jws::JwsHeader::new();
    header_.set_token_type("JWT");
    let signer = josekit::jws::HS256.signer_from_bytes(jwt_secret.as_bytes()).unwrap();
    let assertion = josekit::jwt::encode_with_signer(&payload, &header_, &signer).unwrap();
    let form = format!(
        "grant_type=client_credentials&client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer&client_assertion={assertion}"
    );
    let answer = fx.send(token_request(None, form)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.raw);

    let token = basic.str("registration_access_token");
    assert_eq!(fx.manage(Method::DELETE, &id, Some(&token), None).await.status, StatusCode::NO_CONTENT);
    let answer =
        fx.send(token_request(Some(format!("Basic {credentials}")), "grant_type=client_credentials".into())).await;
    answer.assert_error(StatusCode::UNAUTHORIZED, "invalid_client", "after delete");
}
