//! A relying party for the logout and session tests, served by the test binary itself on
//! loopback (plain HTTP/1.1, one thread per connection): it records every request it gets and
//! answers with small pages —
//!
//! - `/cb`: the redirect URI ("signed in");
//! - `/fc`: the front-channel logout URI (what the OP's signed-out page frames);
//! - `/bye`: the post-logout redirect URI;
//! - `/session?op=…&client_id=…&session_state=…`: a page framing the OP's
//!   `check_session_iframe` (`op`) and an RP frame, `/session/rp-frame`, which posts
//!   `"<client_id> <session_state>"` to it every half second, as Session Management 1.0 §3.1
//!   describes, and shows the latest answer from the OP's origin in `#answer` (and how many
//!   came in `#answers`).

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request the relying party received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    /// Header names lower-cased.
    pub headers: BTreeMap<String, String>,
}

/// The running relying party.
pub struct RelyingParty {
    /// `http://127.0.0.1:<port>`.
    pub origin: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl RelyingParty {
    /// Listens on a free port of 127.0.0.1 from a thread of its own.
    pub fn start() -> std::io::Result<RelyingParty> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let origin = format!("http://{}", listener.local_addr()?);
        let requests: Arc<Mutex<Vec<Request>>> = Arc::default();
        let log = requests.clone();
        std::thread::Builder::new().name("relying-party".into()).spawn(move || {
            for stream in listener.incoming().flatten() {
                let log = log.clone();
                std::thread::spawn(move || serve(stream, &log));
            }
        })?;
        Ok(RelyingParty { origin, requests })
    }

    /// Everything received so far, in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

fn serve(mut stream: TcpStream, log: &Mutex<Vec<Request>>) {
    // A browser's speculative connection may never send anything.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buffer.windows(4).any(|w| w == b"\r\n\r\n") && buffer.len() < 64 * 1024 {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
    }
    let head = String::from_utf8_lossy(&buffer).to_string();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or("").split_whitespace();
    let method = request_line.next().unwrap_or("").to_string();
    let url = url::Url::parse(&format!("http://rp{}", request_line.next().unwrap_or("/"))).unwrap();
    let headers = lines
        .take_while(|line| !line.is_empty())
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let request = Request {
        method,
        path: url.path().to_string(),
        query: url.query_pairs().into_owned().collect(),
        headers,
    };
    let (status, body) = page(&request);
    log.lock().unwrap().push(request);
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nCache-Control: no-store\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn page(request: &Request) -> (&'static str, String) {
    let param = |name: &str| escape(request.query.get(name).map(String::as_str).unwrap_or(""));
    let html = |title: &str, body: String| {
        format!("<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head><body>{body}</body></html>")
    };
    match request.path.as_str() {
        "/cb" => ("200 OK", html("Signed in", "<h1>Test relying party: signed in</h1>".into())),
        "/fc" => ("200 OK", html("Front-channel logout", format!("<p>Signed out of session {}</p>", param("sid")))),
        "/bye" => ("200 OK", html("Signed out", format!("<h1>Test relying party: signed out</h1><p id=\"state\">{}</p>", param("state")))),
        "/session" => (
            "200 OK",
            html(
                "Session check",
                format!(
                    "<h1>Session check</h1><p>The OP says: <output id=\"answer\">nothing yet</output> \
                     (<output id=\"answers\">0</output> answers)</p>\
                     <iframe id=\"op\" src=\"{}\" title=\"OP\"></iframe>\
                     <iframe id=\"rp\" src=\"/session/rp-frame\" title=\"RP\"></iframe>",
                    param("op")
                ),
            ),
        ),
        "/session/rp-frame" => ("200 OK", html("RP frame", format!("<script>{RP_FRAME_SCRIPT}</script>"))),
        _ => ("404 Not Found", html("Not found", "<p>Not found</p>".into())),
    }
}

/// The RP frame: posts `"<client_id> <session_state>"` to the OP frame (target `*`, as the
/// suite does) every half second, and shows answers from the OP's origin only.
const RP_FRAME_SCRIPT: &str = r#"
var query = new URLSearchParams(parent.location.search);
var opOrigin = new URL(query.get('op')).origin;
var message = query.get('client_id') + ' ' + query.get('session_state');
var answers = 0;
window.addEventListener('message', function (event) {
  if (event.origin !== opOrigin) return;
  answers += 1;
  parent.document.getElementById('answer').textContent = event.data;
  parent.document.getElementById('answers').textContent = String(answers);
});
function check() { parent.document.getElementById('op').contentWindow.postMessage(message, '*'); }
parent.document.getElementById('op').addEventListener('load', check);
setInterval(check, 500);
"#;
