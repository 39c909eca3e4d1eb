//! What the suite's RP publishes under its base URL `B` for the OP to fetch — request objects
//! (`B/requesturi/<64 alnum>`), the RP's key set (`jwks_uri`) and the sector identifier document
//! (`B/redirect_uris.json`) — served by a minimal HTTP/1.1 listener, over TLS when given a
//! certificate (the suite's URLs are https, and an OP may rightly refuse anything else). It runs
//! for the harness's lifetime, answers GET by exact path, counts fetches per path, and answers
//! 404 to everything else.

use crate::HostTls;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// A published document.
#[derive(Clone, Debug)]
struct Document {
    content_type: &'static str,
    body: String,
}

#[derive(Default)]
struct Served {
    documents: HashMap<String, Document>,
    fetches: HashMap<String, usize>,
}

/// The running listener and what it serves.
pub struct Host {
    base: String,
    served: Arc<Mutex<Served>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Host {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Host {
    /// Listens on `listen` (with TLS when `tls` is given); `base` is the URL the OP reaches it
    /// at (default `https://<address>` with TLS, else `http://<address>`).
    pub async fn start(
        listen: SocketAddr,
        base: Option<String>,
        tls: Option<&HostTls>,
    ) -> std::io::Result<Host> {
        let acceptor = tls.map(tls_acceptor).transpose()?;
        let listener = TcpListener::bind(listen).await?;
        let scheme = if acceptor.is_some() { "https" } else { "http" };
        let base =
            base.unwrap_or_else(|| format!("{scheme}://{}", listener.local_addr().expect("bound")));
        let served: Arc<Mutex<Served>> = Arc::default();
        let shared = served.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (served, acceptor) = (shared.clone(), acceptor.clone());
                tokio::spawn(async move {
                    match acceptor {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                answer(stream, &served).await;
                            }
                        }
                        None => answer(stream, &served).await,
                    }
                });
            }
        });
        Ok(Host { base, served, task })
    }

    /// The URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.trim_end_matches('/'))
    }

    /// A new request URI path, `/requesturi/<64 alnum>`, as the suite makes them.
    pub fn new_request_uri_path(&self) -> String {
        format!("/requesturi/{}", crate::random::alphanumeric(64))
    }

    /// A new folder standing in for one test's `B`: `/test/a/<random>`.
    pub fn new_folder(&self) -> String {
        format!("/test/a/{}", crate::random::alphanumeric(16))
    }

    /// Serves `body` as `content_type` at `path` from now on.
    pub fn publish(&self, path: &str, content_type: &'static str, body: String) {
        let mut served = self.served.lock().expect("not poisoned");
        served
            .documents
            .insert(path.to_string(), Document { content_type, body });
    }

    /// How many times `path` was fetched.
    pub fn fetches(&self, path: &str) -> usize {
        let served = self.served.lock().expect("not poisoned");
        served.fetches.get(path).copied().unwrap_or(0)
    }
}

fn tls_acceptor(tls: &HostTls) -> std::io::Result<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidData, e);
    let certs = CertificateDer::pem_slice_iter(&tls.cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(format!("the host certificate: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(&tls.key_pem)
        .map_err(|e| invalid(format!("the host key: {e}")))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| invalid(e.to_string()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Reads one request's head and answers it: the document at its path, or 404.
async fn answer<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, served: &Mutex<Served>) {
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
        .unwrap_or("/")
        .to_string();
    let document = {
        let mut served = served.lock().expect("not poisoned");
        *served.fetches.entry(path.clone()).or_default() += 1;
        served.documents.get(&path).cloned()
    };
    let response = match document {
        Some(document) => format!(
            "HTTP/1.1 200 OK\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            document.content_type,
            document.body.len(),
            document.body
        ),
        None => {
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
        }
    };
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_published_documents_by_exact_path_and_counts_fetches() {
        let host = Host::start(SocketAddr::from(([127, 0, 0, 1], 0)), None, None)
            .await
            .unwrap();
        let folder = host.new_folder();
        let path = format!("{folder}/jwks");
        host.publish(&path, "application/json", r#"{"keys":[]}"#.into());
        let http = reqwest::Client::new();
        let response = http.get(host.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        assert_eq!(response.text().await.unwrap(), r#"{"keys":[]}"#);
        let missing = http
            .get(host.url(&format!("{path}x")))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);
        assert_eq!(host.fetches(&path), 1);
        assert!(host.new_request_uri_path().len() > 64);
    }
}
