//! Discovery, JWKS and the health probes, through the router in process.

use crate::support::sqlite_settings;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use poort::app;
use serde_json::Value;
use tower::ServiceExt;

async fn get(router: &axum::Router, path: &str) -> (StatusCode, String, Value) {
    let response = router.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, content_type, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

async fn router_with_issuer(issuer: &str) -> (axum::Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = sqlite_settings(dir.path());
    settings.server.issuer = Some(issuer.parse().unwrap());
    let store = poort::open_store(&settings).await.unwrap();
    let state = app::state(settings, store).await.unwrap();
    (app::app(state), dir)
}

#[tokio::test]
async fn discovery_names_the_configured_issuer_and_the_endpoints_served() {
    let (router, _dir) = router_with_issuer("https://id.example.com").await;
    let (status, content_type, doc) = get(&router, "/.well-known/openid-configuration").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/json");
    assert_eq!(doc["issuer"], "https://id.example.com");
    assert_eq!(doc["jwks_uri"], "https://id.example.com/jwks");
    let algs: Vec<&str> = doc["id_token_signing_alg_values_supported"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(algs, ["RS256", "ES256", "none"]);
    assert_eq!(doc["request_uri_parameter_supported"], true);
    assert_eq!(doc["require_request_uri_registration"], true);
    // Every advertised URL is one the router really serves.
    for (key, value) in doc.as_object().unwrap() {
        if key.ends_with("_endpoint") || key.ends_with("_uri") {
            let path = value.as_str().unwrap().strip_prefix("https://id.example.com").unwrap();
            let (status, _, _) = get(&router, path).await;
            // Served, though not every endpoint answers a bare GET (registration is POST only).
            assert_ne!(status, StatusCode::NOT_FOUND, "{key} → {path}");
        }
    }
    let (status, _, oauth) = get(&router, "/.well-known/oauth-authorization-server").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(oauth, doc);
}

#[tokio::test]
async fn an_issuer_with_a_path_prefixes_every_endpoint() {
    let (router, _dir) = router_with_issuer("https://example.com/tenant").await;
    let (_, _, doc) = get(&router, "/.well-known/openid-configuration").await;
    assert_eq!(doc["issuer"], "https://example.com/tenant");
    assert_eq!(doc["jwks_uri"], "https://example.com/tenant/jwks");
}

#[tokio::test]
async fn jwks_publishes_only_public_keys_with_unique_kids() {
    let (router, _dir) = router_with_issuer("https://id.example.com").await;
    let (status, content_type, jwks) = get(&router, "/jwks").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "application/jwk-set+json");
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 2);
    let mut kids = std::collections::HashSet::new();
    for key in keys {
        let kid = key["kid"].as_str().unwrap();
        assert!(!kid.trim().is_empty());
        assert!(kids.insert(kid.to_string()), "duplicate kid {kid}");
        assert_eq!(key["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi", "k"] {
            assert!(key.get(private).is_none(), "{kid} publishes private member {private}");
        }
    }
    let rsa = keys.iter().find(|k| k["alg"] == "RS256").expect("an RS256 key");
    assert_eq!(rsa["kty"], "RSA");
    let ec = keys.iter().find(|k| k["alg"] == "ES256").expect("an ES256 key");
    assert_eq!((ec["kty"].as_str(), ec["crv"].as_str()), (Some("EC"), Some("P-256")));
}

#[tokio::test]
async fn health_and_readiness_answer() {
    let (router, _dir) = router_with_issuer("https://id.example.com").await;
    let response = router.clone().oneshot(Request::get("/healthz").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = router.clone().oneshot(Request::get("/readyz").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let settings = sqlite_settings(dir.path());
    let store = poort::open_store(&settings).await.unwrap();
    let state = app::state(settings, store.clone()).await.unwrap();
    let router = app::app(state);
    store.close().await.unwrap();
    let response = router.oneshot(Request::get("/readyz").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn unknown_paths_and_wrong_methods_are_client_errors() {
    let (router, _dir) = router_with_issuer("https://id.example.com").await;
    let response = router.clone().oneshot(Request::get("/nope").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let response = router.clone().oneshot(Request::delete("/jwks").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

async fn get_text(router: &axum::Router, path: &str, authorization: Option<&str>) -> (StatusCode, String) {
    let mut request = Request::get(path);
    if let Some(value) = authorization {
        request = request.header("authorization", value);
    }
    let response = router.clone().oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_and_status_class() {
    let (router, _dir) = router_with_issuer("https://id.example.com").await;
    get(&router, "/jwks").await;
    get(&router, "/jwks").await;
    get(&router, "/register/some-client-id").await;
    let (status, text) = get_text(&router, "/metrics", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("# TYPE poort_http_requests_total counter"), "{text}");
    assert!(text.contains("poort_http_requests_total{route=\"/jwks\",status=\"2xx\"} 2\n"), "{text}");
    // The pattern, never the raw path with its id.
    assert!(text.contains("route=\"/register/{client_id}\""), "{text}");
    assert!(!text.contains("some-client-id"), "{text}");
    assert!(text.contains("# TYPE process_resident_memory_bytes gauge"), "{text}");
    // On SQLite: what ran on the in-place connections, and that nothing had to go through the pool.
    assert!(text.contains("# TYPE poort_sqlite_in_place_total counter\n"), "{text}");
    assert!(text.contains("poort_sqlite_in_place_total{kind=\"read_through_pool\"} 0\n"), "{text}");
    assert!(text.contains("poort_sqlite_in_place_total{kind=\"write_batch_through_pool\"} 0\n"), "{text}");
    let (_, doc) = get_text(&router, "/.well-known/openid-configuration", None).await;
    assert!(!doc.contains("/metrics"), "metrics are not advertised: {doc}");
}

#[tokio::test]
async fn metrics_with_a_bearer_token_refuse_other_scrapes() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = sqlite_settings(dir.path());
    settings.metrics.bearer_token = Some("a-scrape-token-of-some-length".into());
    let store = poort::open_store(&settings).await.unwrap();
    let router = app::app(app::state(settings, store).await.unwrap());
    for authorization in [None, Some("Bearer wrong-token-wrong-token"), Some("Basic a-scrape-token-of-some-length")] {
        let (status, text) = get_text(&router, "/metrics", authorization).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{authorization:?}");
        assert!(text.is_empty());
    }
    let (status, text) = get_text(&router, "/metrics", Some("Bearer a-scrape-token-of-some-length")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.contains("poort_http_requests_total"));
}

#[tokio::test]
async fn metrics_can_be_switched_off() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = sqlite_settings(dir.path());
    settings.metrics.enabled = false;
    let store = poort::open_store(&settings).await.unwrap();
    let router = app::app(app::state(settings, store).await.unwrap());
    let (status, _) = get_text(&router, "/metrics", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn browser_applications_may_call_the_api_endpoints_but_not_the_pages() {
    let (router, _dir) = router_with_issuer("https://id.example.com").await;
    for path in ["/.well-known/openid-configuration", "/jwks", "/token", "/userinfo", "/revoke", "/introspect"] {
        let preflight = Request::builder()
            .method("OPTIONS")
            .uri(path)
            .header("origin", "https://spa.example")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization, content-type")
            .body(Body::empty())
            .unwrap();
        let response = router.clone().oneshot(preflight).await.unwrap();
        assert!(response.status().is_success(), "{path}: {}", response.status());
        let headers = response.headers();
        assert_eq!(headers["access-control-allow-origin"], "*", "{path}");
        assert!(headers.get("access-control-allow-credentials").is_none(), "{path}: no cookies cross origins");
        let allowed = headers["access-control-allow-headers"].to_str().unwrap().to_ascii_lowercase();
        assert!(allowed.contains("authorization") && allowed.contains("content-type"), "{path}: {allowed}");
    }
    let request = Request::get("/jwks").header("origin", "https://spa.example").body(Body::empty()).unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    // The pages, which rely on cookies, answer no other origin.
    for path in ["/login", "/account", "/session/end", "/authorize"] {
        let request = Request::get(path).header("origin", "https://spa.example").body(Body::empty()).unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        assert!(response.headers().get("access-control-allow-origin").is_none(), "{path}");
    }
}

/// Status, headers (but `date`) in order of name, and body of the answer to `request`.
async fn answer(router: &axum::Router, request: Request<Body>) -> (StatusCode, Vec<(String, String)>, bytes::Bytes) {
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let mut headers: Vec<(String, String)> = response
        .headers()
        .iter()
        .filter(|(name, _)| *name != "date")
        .map(|(name, value)| (name.to_string(), value.to_str().unwrap().to_string()))
        .collect();
    headers.sort();
    (status, headers, response.into_body().collect().await.unwrap().to_bytes())
}

#[tokio::test]
async fn the_published_documents_are_answered_as_the_router_answers_them() {
    let dir = tempfile::tempdir().unwrap();
    let settings = sqlite_settings(dir.path());
    let store = poort::open_store(&settings).await.unwrap();
    let state = app::state(settings, store).await.unwrap();
    let (shortcut, routed) = (app::app(state.clone()), app::routed(state.clone()));
    let request = |method: &str, path: &str, origin: Option<&str>| {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(origin) = origin {
            request = request.header("origin", origin).header("access-control-request-method", "GET");
        }
        request.body(Body::empty()).unwrap()
    };
    let paths = ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/jwks", "/jwks?x=1"];
    for path in paths {
        for method in ["GET", "HEAD", "OPTIONS", "POST"] {
            for origin in [None, Some("https://spa.example")] {
                let ours = answer(&shortcut, request(method, path, origin)).await;
                let router = answer(&routed, request(method, path, origin)).await;
                assert_eq!(ours, router, "{method} {path} from {origin:?}");
            }
        }
        let get = answer(&shortcut, request("GET", path, None)).await;
        assert_eq!(get.0, StatusCode::OK, "{path}");
        assert!(get.1.iter().any(|(name, value)| name == "access-control-allow-origin" && value == "*"), "{path}: {:?}", get.1);
    }

    // Counted as the router counts them, by route.
    let jwks_answered = || state.metrics.get("poort_http_requests_total", &[("route", "/jwks"), ("status", "2xx")]);
    let before = jwks_answered();
    answer(&shortcut, request("GET", "/jwks", None)).await;
    assert_eq!(jwks_answered(), before + 1);
    // A rotation is published as soon as the key ring has it.
    let policy = poort::keys::KeyPolicy::from_settings(&state.settings);
    let rotated = poort::keys::rotate_now(&state.store, &policy, None).await.unwrap();
    state.keyring.refresh().await.unwrap();
    let (_, _, body) = answer(&shortcut, request("GET", "/jwks", None)).await;
    let keys: Value = serde_json::from_slice(&body).unwrap();
    let kids: Vec<&str> = keys["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap()).collect();
    assert!(rotated.iter().all(|kid| kids.contains(&kid.as_str())), "{kids:?} lacks {rotated:?}");
}
