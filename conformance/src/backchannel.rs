//! The suite's `B/backchannel_logout`: a minimal HTTP/1.1 listener on loopback standing in for
//! the relying party's back-channel logout endpoint. It answers every request `200` with
//! `Cache-Control: no-store` (what the specification asks of a relying party that accepted a
//! logout token), keeps what it was sent by path, and lets a module wait for the OP's POST.
//!
//! Static clients register `<base>/backchannel_logout`; each dynamic registration gets a path
//! of its own, `<base>/<random>/backchannel_logout`, so parallel modules never see each other's
//! requests. It runs for the harness's lifetime.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// The last path segment of every back-channel logout URI the harness hands out.
const ENDPOINT: &str = "backchannel_logout";
/// The largest request the listener reads (a logout token is a few kilobytes).
const MAX_REQUEST: usize = 256 * 1024;

/// One request the OP sent.
#[derive(Clone, Debug)]
pub struct Received {
    pub method: String,
    /// The path and query as sent.
    pub target: String,
    /// Header names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The body as form fields (name, value), in order.
    pub fn form(&self) -> Vec<(String, String)> {
        url::form_urlencoded::parse(&self.body).into_owned().collect()
    }
}

#[derive(Default)]
struct Inbox {
    by_path: Mutex<HashMap<String, Vec<Received>>>,
    arrived: Notify,
}

/// The running listener and what it received.
pub struct Listener {
    base: String,
    inbox: Arc<Inbox>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Listener {
    /// Listens on `listen`; `base` is the URL the OP reaches it at (default `http://<address>`).
    pub async fn start(listen: SocketAddr, base: Option<String>) -> std::io::Result<Listener> {
        let listener = TcpListener::bind(listen).await?;
        let base = base
            .unwrap_or_else(|| format!("http://{}", listener.local_addr().expect("bound")))
            .trim_end_matches('/')
            .to_string();
        let inbox: Arc<Inbox> = Arc::default();
        let shared = inbox.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { continue };
                let inbox = shared.clone();
                tokio::spawn(async move {
                    if let Some(received) = serve(stream).await {
                        let path = received.target.split('?').next().unwrap_or("").to_string();
                        inbox.by_path.lock().expect("not poisoned").entry(path).or_default().push(received);
                        inbox.arrived.notify_waiters();
                    }
                });
            }
        });
        Ok(Listener { base, inbox, task })
    }

    /// The URI static clients register: `<base>/backchannel_logout`.
    pub fn static_uri(&self) -> String {
        format!("{}/{ENDPOINT}", self.base)
    }

    /// A URI of its own for one registration.
    pub fn new_uri(&self) -> String {
        format!("{}/{}/{ENDPOINT}", self.base, crate::random::alphanumeric(16))
    }

    /// How many requests came to `uri` so far (a mark for [`Listener::wait`]).
    pub fn count(&self, uri: &str) -> usize {
        let path = path_of(uri);
        self.inbox.by_path.lock().expect("not poisoned").get(&path).map_or(0, Vec::len)
    }

    /// The first request to `uri` after the first `since`, waiting at most `timeout` for it.
    pub async fn wait(&self, uri: &str, since: usize, timeout: Duration) -> Option<Received> {
        let path = path_of(uri);
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            // Registered before looking, so an arrival in between is not missed.
            let arrived = self.inbox.arrived.notified();
            tokio::pin!(arrived);
            arrived.as_mut().enable();
            if let Some(received) = self.inbox.by_path.lock().expect("not poisoned").get(&path).and_then(|r| r.get(since)) {
                return Some(received.clone());
            }
            if tokio::time::timeout_at(deadline, arrived).await.is_err() {
                return None;
            }
        }
    }
}

fn path_of(uri: &str) -> String {
    url::Url::parse(uri).map(|u| u.path().to_string()).unwrap_or_default()
}

/// Reads one request (headers, then `Content-Length` bytes of body) and answers 200.
async fn serve(mut stream: TcpStream) -> Option<Received> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at;
        }
        if buffer.len() > MAX_REQUEST {
            return None;
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).to_string();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next()?.split_ascii_whitespace();
    let (method, target) = (request_line.next()?.to_string(), request_line.next()?.to_string());
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let length = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_REQUEST);
    let mut body = buffer[header_end + 4..].to_vec();
    while body.len() < length {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    body.truncate(length);
    let answer = "HTTP/1.1 200 OK\r\nCache-Control: no-store\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    let _ = stream.write_all(answer.as_bytes()).await;
    let _ = stream.shutdown().await;
    Some(Received { method, target, headers, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_each_post_under_its_path_and_wakes_the_waiter() {
        let listener = Listener::start(SocketAddr::from(([127, 0, 0, 1], 0)), None).await.unwrap();
        let (mine, other) = (listener.new_uri(), listener.new_uri());
        assert!(mine.ends_with("/backchannel_logout") && mine != other);
        let since = listener.count(&mine);
        let waiting = listener.wait(&mine, since, Duration::from_secs(10));
        let http = reqwest::Client::new();
        let send = async {
            http.post(&other).form(&[("logout_token", "not mine")]).send().await.unwrap();
            let response = http.post(&mine).form(&[("logout_token", "a.b.c")]).send().await.unwrap();
            assert_eq!(response.status(), 200);
            assert_eq!(response.headers()["cache-control"], "no-store");
        };
        let (received, ()) = tokio::join!(waiting, send);
        let received = received.expect("the POST arrived");
        assert_eq!(received.method, "POST");
        assert_eq!(received.header("content-type"), Some("application/x-www-form-urlencoded"));
        assert_eq!(received.form(), [("logout_token".to_string(), "a.b.c".to_string())]);
        assert_eq!(listener.count(&mine), 1);
        assert!(listener.wait(&mine, 1, Duration::from_millis(50)).await.is_none(), "nothing more came");
    }
}
