//! The protocol endpoints and the admin API end to end, in process, on a real SQLite database:
//! the first byte picks an endpoint, the rest is its form body, query, JSON body or bearer token.
//! Whatever arrives, the answer is never a 5xx (bad input is the client's error) and nothing
//! panics. Client assertions, request objects and the `claims` parameter reach their parsers
//! through here.
#![no_main]

use axum::body::Body;
use axum::http::{Request, Uri, header};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use tower::ServiceExt;

const SECRET: &str = "a-fuzzing-client-secret";

struct Target {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    admin_token: String,
    _dir: tempfile::TempDir,
}

fn target() -> &'static Target {
    static TARGET: OnceLock<Target> = OnceLock::new();
    TARGET.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (router, admin_token) = runtime.block_on(async {
            let mut settings = poort_config::Settings::default();
            settings.storage.data_dir = dir.path().join("data");
            settings.server.issuer = Some("https://op.example".parse().unwrap());
            settings.log.level = "off".into();
            let store = poort::open_store(&settings).await.unwrap();
            let state = poort::app::state(settings, store).await.unwrap();
            for (id, metadata) in [
                ("rp", serde_json::json!({ "redirect_uris": ["https://rp.example/cb"], "grant_types": ["authorization_code", "refresh_token", "client_credentials"], "scope": "api" })),
                ("admin", serde_json::json!({ "redirect_uris": [], "grant_types": ["client_credentials"], "scope": "poort.admin" })),
            ] {
                let client = poort_storage::repo::NewClient {
                    client_id: id.into(),
                    secret_hash: Some(poort::crypto::keyed_hash(&state.hash_key, SECRET)),
                    secret_sealed: None,
                    secret_expires_at: 0,
                    metadata,
                    source: poort_storage::repo::ClientSource::Config,
                    registration_token_hash: None,
                };
                state.store.clients().insert(client).await.unwrap();
            }
            let router = poort::app::app(state);
            let response = router
                .clone()
                .oneshot(form("/token", "grant_type=client_credentials&scope=poort.admin", Some(basic("admin"))))
                .await
                .unwrap();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
            let token: serde_json::Value = serde_json::from_slice(&body).unwrap();
            (router, token["access_token"].as_str().unwrap().to_string())
        });
        Target { runtime, router, admin_token, _dir: dir }
    })
}

fn basic(client: &str) -> String {
    use base64::Engine as _;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{client}:{SECRET}")))
}

fn form(path: &str, body: &str, authorization: Option<String>) -> Request<Body> {
    let mut request = Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    request.body(Body::from(body.to_string())).unwrap()
}

fn json(method: &str, path: &str, body: &[u8], bearer: Option<&str>) -> Request<Body> {
    let mut request = Request::builder().method(method).uri(path).header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = bearer {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    request.body(Body::from(body.to_vec())).unwrap()
}

/// `payload` as a query string: characters a URI cannot carry are percent-encoded, the rest
/// (`&`, `=`, `%`) kept so the fuzzer controls the structure.
fn query(path: &str, payload: &[u8]) -> Option<Request<Body>> {
    let mut uri = format!("{path}?");
    for &byte in payload {
        if byte.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&byte) {
            uri.push(byte as char);
        } else {
            uri.push_str(&format!("%{byte:02X}"));
        }
    }
    let uri: Uri = uri.parse().ok()?;
    Some(Request::get(uri).body(Body::empty()).unwrap())
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, payload)) = data.split_first() else { return };
    let target = target();
    let text = String::from_utf8_lossy(payload);
    let request = match selector % 14 {
        0 => form("/token", &text, Some(basic("rp"))),
        1 => form("/token", &text, None),
        2 => match query("/authorize", payload) {
            Some(request) => request,
            None => return,
        },
        3 => form("/authorize", &text, None),
        4 => json("POST", "/register", payload, None),
        5 => json("POST", "/admin/users", payload, Some(&target.admin_token)),
        6 => json("PUT", "/admin/users/ann@example.com/roles", payload, Some(&target.admin_token)),
        7 => json("PUT", "/admin/roles/fuzz", payload, Some(&target.admin_token)),
        8 => form("/introspect", &text, Some(basic("rp"))),
        9 => form("/revoke", &text, Some(basic("rp"))),
        10 => match header::HeaderValue::from_bytes(payload) {
            Ok(value) => Request::get("/userinfo").header(header::AUTHORIZATION, value).body(Body::empty()).unwrap(),
            Err(_) => return,
        },
        11 => form("/userinfo", &text, None),
        12 => match query("/session/end", payload) {
            Some(request) => request,
            None => return,
        },
        _ => form("/login", &text, None),
    };
    let path = request.uri().path().to_string();
    let response = target.runtime.block_on(target.router.clone().oneshot(request)).unwrap();
    let status = response.status();
    assert!(!status.is_server_error(), "{path} answered {status} to {text:?}");
});
