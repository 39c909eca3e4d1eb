//! What one client can make the provider spend: the password-hashing queue (503 at once when
//! full), registrations per client address (429), and on the real listener the size of request
//! lines, headers and bodies and how long a client may take to send its headers.

use crate::browser::Browser;
use crate::support::{Server, http};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use poort::accounts::throttle::RATE_LIMITED;
use sea_orm::{ConnectionTrait, Statement};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;
use tower::ServiceExt;

const CB: &str = "https://rp.example/cb";
const PASSWORD: &str = "correct horse battery staple";

async fn count(state: &poort::state::AppState, table: &str) -> i64 {
    let db = state.store.connection();
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), format!("SELECT COUNT(*) AS n FROM {table}")))
        .await
        .unwrap()
        .unwrap();
    row.try_get("", "n").unwrap()
}

#[tokio::test]
async fn a_full_password_hashing_queue_answers_503_at_once_and_signs_in_once_it_frees() {
    let (mut state, _dir) = crate::support::provider("https://op.example", |_| {}).await;
    crate::support::insert_client(&state, "rp", serde_json::json!({ "redirect_uris": [CB], "first_party": true })).await;
    crate::support::insert_user(&state, "ann@example.com", PASSWORD).await;
    // One hashing slot, no queue, and the slot taken: the pool is saturated.
    state.passwords = poort::password::PasswordPool::new(1, 0);
    let held = state.passwords.reserve().await.unwrap();
    let mut browser = Browser::new(poort::app::app(state.clone()));
    let start = browser.get(&format!("/authorize?client_id=rp&redirect_uri={CB}&response_type=code&scope=openid&state=s")).await;
    let login = start.location.clone().expect("to the sign-in page");

    let busy = browser.sign_in(&login, "ann", PASSWORD).await;
    assert_eq!(busy.status, StatusCode::SERVICE_UNAVAILABLE, "{}", busy.body);
    assert_eq!(busy.headers[header::RETRY_AFTER], "1");
    assert!(busy.body.contains("very busy"), "{}", busy.body);
    assert_eq!(count(&state, "sessions").await, 0, "no session from a refused sign-in");
    assert_eq!(count(&state, "throttle_counters").await, 0, "a refused sign-in is no failure");
    assert_eq!(state.metrics.get(RATE_LIMITED, &[("limit", "password_hashing")]), 1);

    drop(held);
    let signed_in = browser.sign_in(&login, "ann", PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::SEE_OTHER, "{}", signed_in.body);
    assert!(signed_in.location.unwrap().starts_with(CB));
    assert_eq!(count(&state, "sessions").await, 1);
}

fn registration_from(ip: &str) -> Request<Body> {
    let mut request = Request::post("/register")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(serde_json::json!({ "redirect_uris": [CB] }).to_string()))
        .unwrap();
    let addr: SocketAddr = format!("{ip}:40000").parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(addr));
    request
}

#[tokio::test]
async fn registrations_are_limited_per_client_address() {
    let (state, _dir) = crate::support::provider("https://op.example", |s| s.registration.max_per_ip = 3).await;
    let app = poort::app::app(state.clone());
    for _ in 0..3 {
        let response = app.clone().oneshot(registration_from("198.51.100.7")).await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
    }
    let refused = app.clone().oneshot(registration_from("198.51.100.7")).await.unwrap();
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: serde_json::Value = serde_json::from_slice(&refused.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["error"], "temporarily_unavailable");
    assert_eq!(state.store.clients().list().await.unwrap().len(), 3, "the refused registration stored nothing");
    // Another address has its own budget; IPv6 neighbours in one /64 share one.
    let other = app.clone().oneshot(registration_from("203.0.113.9")).await.unwrap();
    assert_eq!(other.status(), StatusCode::CREATED);
    for (host, expected) in [("[2001:db8::1]", 201), ("[2001:db8::2]", 201), ("[2001:db8::3]", 201), ("[2001:db8::4]", 429)] {
        let response = app.clone().oneshot(registration_from(host)).await.unwrap();
        assert_eq!(response.status().as_u16(), expected, "{host}");
    }
    assert_eq!(state.metrics.get(RATE_LIMITED, &[("limit", "registration")]), 2);
}

/// Sends `head` (and, from another thread, `body_len` bytes of body) on a raw connection and
/// returns what came back before the server closed it, and whether the whole body went out.
fn raw_exchange(base: &str, head: &str, body_len: usize) -> (String, bool) {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let head = head.to_string();
    let sender = std::thread::spawn(move || {
        if writer.write_all(head.as_bytes()).is_err() {
            return false;
        }
        let chunk = vec![b'a'; 64 * 1024];
        let mut sent = 0;
        while sent < body_len {
            let n = chunk.len().min(body_len - sent);
            if writer.write_all(&chunk[..n]).is_err() {
                return false;
            }
            sent += n;
        }
        true
    });
    let mut answer = Vec::new();
    let mut buffer = [0u8; 8192];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(error) if error.kind() == std::io::ErrorKind::WouldBlock || error.kind() == std::io::ErrorKind::TimedOut => {
                panic!("the server kept the connection open: {}", String::from_utf8_lossy(&answer))
            }
            // A reset after the server refused the rest of the request.
            Err(_) => break,
        }
    }
    // The writer stops at its first failed write once the server closed the connection.
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let all_sent = sender.join().unwrap();
    (String::from_utf8_lossy(&answer).into_owned(), all_sent)
}

#[tokio::test]
async fn oversized_and_slow_requests_are_cut_off_at_the_listener_and_the_server_carries_on() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), |c| {
        c.env("POORT__SERVER__HEADER_TIMEOUT", "1s");
    });
    let base = server.base_url.clone();
    let ten_mb = 10 * 1024 * 1024;

    // A 10 MB `claims` parameter in the query: refused while the request line is read.
    let claims = "a".repeat(ten_mb);
    let head = format!("GET /authorize?client_id=rp&claims={claims} HTTP/1.1\r\nHost: x\r\n\r\n");
    let (answer, _) = raw_exchange(&base, &head, 0);
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 431") || answer.starts_with("HTTP/1.1 414"), "{}", &answer[..answer.len().min(200)]);

    // A 10 MB form body (a `claims` parameter) to the authorization and token endpoints: 413
    // from the declared length, before the body is read.
    for path in ["/authorize", "/token"] {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {ten_mb}\r\n\r\nclaims="
        );
        let (answer, _) = raw_exchange(&base, &head, ten_mb - 7);
        assert!(answer.starts_with("HTTP/1.1 413"), "{path}: {}", &answer[..answer.len().min(200)]);
    }

    // The same without a declared length (chunked): cut off at the limit while reading.
    let head = "POST /token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n";
    let body = format!("{:x}\r\n{}\r\n", ten_mb, "a".repeat(ten_mb));
    let (answer, _) = raw_exchange(&base, &format!("{head}{body}"), 0);
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 413"), "{}", &answer[..answer.len().min(200)]);

    // Too many headers, and one huge header.
    let many: String = (0..200).map(|i| format!("X-Filler-{i}: x\r\n")).collect();
    let (answer, _) = raw_exchange(&base, &format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}\r\n"), 0);
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 431"), "{}", &answer[..answer.len().min(200)]);
    let (answer, _) = raw_exchange(&base, &format!("GET /healthz HTTP/1.1\r\nHost: x\r\nCookie: {}\r\n\r\n", "c".repeat(100_000)), 0);
    assert!(answer.is_empty() || answer.starts_with("HTTP/1.1 431"), "{}", &answer[..answer.len().min(200)]);

    // A client that never finishes its headers is disconnected (after server.header_timeout).
    let (answer, _) = raw_exchange(&base, "GET /healthz HTTP/1.1\r\nHost: x\r\n", 0);
    assert!(!answer.contains("200 OK"), "{answer}");

    // A well-formed request still gets its answer.
    let doc = http().get(format!("{base}/.well-known/openid-configuration")).send().await.unwrap();
    assert_eq!(doc.status(), StatusCode::OK);
}
