//! The suite's `B/requesturi/<64 alnum>` host: a minimal HTTP/1.1 listener that serves the
//! request objects the harness publishes (`application/jwt`), for the OP to fetch when it is
//! given a `request_uri`. It runs for the harness's lifetime and answers nothing else.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The running listener and what it serves.
pub struct Host {
    base: String,
    objects: Arc<Mutex<HashMap<String, String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Host {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Host {
    /// Listens on `listen`; `base` is the URL the OP reaches it at (default `http://<address>`).
    pub async fn start(listen: SocketAddr, base: Option<String>) -> std::io::Result<Host> {
        let listener = TcpListener::bind(listen).await?;
        let base =
            base.unwrap_or_else(|| format!("http://{}", listener.local_addr().expect("bound")));
        let objects: Arc<Mutex<HashMap<String, String>>> = Arc::default();
        let served = objects.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else {
                    continue;
                };
                let served = served.clone();
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    let mut chunk = [0u8; 2048];
                    while !buffer.windows(4).any(|w| w == b"\r\n\r\n") && buffer.len() < 16384 {
                        match stream.read(&mut chunk).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let request = String::from_utf8_lossy(&buffer);
                    let path = request
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or("/")
                        .split(['?', '#'])
                        .next()
                        .unwrap_or("/");
                    let name = path.rsplit('/').next().unwrap_or("").to_string();
                    let body = served.lock().expect("not poisoned").get(&name).cloned();
                    let response = match body {
                        Some(jwt) => format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/jwt\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{jwt}",
                            jwt.len()
                        ),
                        None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string(),
                    };
                    let _ = stream.write_all(response.as_bytes()).await;
                    let _ = stream.shutdown().await;
                });
            }
        });
        Ok(Host {
            base,
            objects,
            task,
        })
    }

    /// A new request URI (without fragment) under `/requesturi/`, and its name.
    pub fn new_uri(&self) -> (String, String) {
        let name = crate::random::alphanumeric(64);
        (
            format!("{}/requesturi/{name}", self.base.trim_end_matches('/')),
            name,
        )
    }

    /// Serves `jwt` at the request URI called `name` from now on.
    pub fn publish(&self, name: &str, jwt: String) {
        self.objects
            .lock()
            .expect("not poisoned")
            .insert(name.to_string(), jwt);
    }
}
