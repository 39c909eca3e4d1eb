//! Prometheus metrics at `/metrics`, in the text exposition format (0.0.4).
//!
//! Two kinds of series:
//! - counters of what this process did (requests answered, deliveries attempted, …), kept in
//!   memory: Prometheus scrapes every node and sums them;
//! - gauges of shared state (queues in the database), read from the database at scrape time,
//!   so every node reports the same cluster-wide figure.
//!
//! Label values must come from small fixed sets (a route pattern, an outcome), never from
//! request data such as a client id or a user name.

use crate::crypto::constant_time_eq;
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use tower::{Layer, Service};

pub const PATH: &str = "/metrics";

/// Every counter, with its help text. Counting a name not listed here panics in debug builds
/// (a test walks every code path that counts), so the exposition always has a HELP line.
pub const COUNTERS: &[(&str, &str)] = &[
    ("poort_http_requests_total", "HTTP requests answered, by route pattern and status class."),
    (
        "poort_backchannel_logout_deliveries_total",
        "Back-channel logout POSTs attempted by this node, by outcome (delivered, retrying, failed).",
    ),
    (
        "poort_rate_limited_total",
        "Requests refused by a limit, by limit: sign_in (per account or client address), mail_request, registration, password_hashing (the hashing queue was full).",
    ),
];

/// A value read at scrape time: a gauge, or a counter kept elsewhere (`counter`).
pub struct Gauge {
    pub name: &'static str,
    pub help: &'static str,
    pub labels: Vec<(&'static str, String)>,
    pub value: f64,
    pub counter: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Series {
    name: &'static str,
    labels: Vec<(&'static str, String)>,
}

/// The process's counters.
#[derive(Default)]
pub struct Metrics {
    counters: RwLock<BTreeMap<Series, AtomicU64>>,
    /// `poort_http_requests_total`, kept apart: it counts every request, so finding its
    /// counter must not allocate (route pattern → one counter per status class).
    requests: RwLock<BTreeMap<String, [AtomicU64; STATUS_CLASSES.len()]>>,
}

const REQUESTS_COUNTER: &str = "poort_http_requests_total";
const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

impl Metrics {
    /// Adds one to a counter.
    pub fn inc(&self, name: &'static str, labels: &[(&'static str, &str)]) {
        self.add(name, labels, 1);
    }

    /// Adds `by` to a counter.
    pub fn add(&self, name: &'static str, labels: &[(&'static str, &str)], by: u64) {
        debug_assert!(COUNTERS.iter().any(|(known, _)| *known == name), "metric {name} has no help text");
        let series = Series { name, labels: labels.iter().map(|(k, v)| (*k, (*v).to_string())).collect() };
        // A poisoned lock only means another thread panicked mid-increment: the map is intact.
        if let Some(counter) = self.counters.read().unwrap_or_else(|e| e.into_inner()).get(&series) {
            counter.fetch_add(by, Ordering::Relaxed);
            return;
        }
        self.counters.write().unwrap_or_else(|e| e.into_inner()).entry(series).or_default().fetch_add(by, Ordering::Relaxed);
    }

    /// Counts one answered request: `route` is the route pattern, never the raw path.
    pub fn count_request(&self, route: &str, status: StatusCode) {
        let class = usize::from(status.as_u16() / 100).clamp(1, STATUS_CLASSES.len()) - 1;
        if let Some(counters) = self.requests.read().unwrap_or_else(|e| e.into_inner()).get(route) {
            counters[class].fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut requests = self.requests.write().unwrap_or_else(|e| e.into_inner());
        requests.entry(route.to_string()).or_default()[class].fetch_add(1, Ordering::Relaxed);
    }

    /// A counter's current value (0 when never counted).
    pub fn get(&self, name: &'static str, labels: &[(&'static str, &str)]) -> u64 {
        if name == REQUESTS_COUNTER {
            let label = |key| labels.iter().find(|(k, _)| *k == key).map(|(_, v)| *v);
            let class = STATUS_CLASSES.iter().position(|c| Some(*c) == label("status"));
            let requests = self.requests.read().unwrap_or_else(|e| e.into_inner());
            let counters = label("route").and_then(|route| requests.get(route));
            return counters.zip(class).map_or(0, |(counters, class)| counters[class].load(Ordering::Relaxed));
        }
        let series = Series { name, labels: labels.iter().map(|(k, v)| (*k, (*v).to_string())).collect() };
        self.counters.read().unwrap_or_else(|e| e.into_inner()).get(&series).map_or(0, |c| c.load(Ordering::Relaxed))
    }

    /// The exposition: every counter (declared ones at 0 when not counted yet), then `gauges`.
    pub fn render(&self, gauges: &[Gauge]) -> String {
        let counters = self.counters.read().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        for (name, help) in COUNTERS {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (series, value) in counters.iter().filter(|(s, _)| s.name == *name) {
                line(&mut out, name, &series.labels, value.load(Ordering::Relaxed) as f64);
            }
            if *name == REQUESTS_COUNTER {
                for (route, by_class) in self.requests.read().unwrap_or_else(|e| e.into_inner()).iter() {
                    for (class, value) in STATUS_CLASSES.iter().zip(by_class).filter(|(_, v)| v.load(Ordering::Relaxed) > 0) {
                        let labels = [("route", route.clone()), ("status", (*class).to_string())];
                        line(&mut out, name, &labels, value.load(Ordering::Relaxed) as f64);
                    }
                }
            }
        }
        let mut described = Vec::new();
        for gauge in gauges {
            if !described.contains(&gauge.name) {
                described.push(gauge.name);
                let kind = if gauge.counter { "counter" } else { "gauge" };
                let _ = writeln!(out, "# HELP {} {}\n# TYPE {} {kind}", gauge.name, gauge.help, gauge.name);
            }
            line(&mut out, gauge.name, &gauge.labels, gauge.value);
        }
        out
    }
}

fn line(out: &mut String, name: &str, labels: &[(&'static str, String)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (index, (key, value)) in labels.iter().enumerate() {
            if index > 0 {
                out.push(',');
            }
            let escaped = value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n");
            let _ = write!(out, "{key}=\"{escaped}\"");
        }
        out.push('}');
    }
    let _ = writeln!(out, " {value}");
}

/// The layer counting every answered request by its route pattern (never the raw path, which
/// would carry ids) and status class. A layer of its own rather than `from_fn`: the router
/// clones its middleware for every request, and cloning this one costs one `Arc`.
#[derive(Clone)]
pub struct CountRequestsLayer(pub Arc<Metrics>);

impl<S> Layer<S> for CountRequestsLayer {
    type Service = CountRequests<S>;
    fn layer(&self, inner: S) -> CountRequests<S> {
        CountRequests { inner, metrics: self.0.clone() }
    }
}

#[derive(Clone)]
pub struct CountRequests<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S> Service<Request> for CountRequests<S>
where
    S: Service<Request, Response = Response>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let route = request.extensions().get::<MatchedPath>().cloned();
        let metrics = self.metrics.clone();
        let answered = self.inner.call(request);
        Box::pin(async move {
            let response = answered.await?;
            metrics.count_request(route.as_ref().map_or("unmatched", MatchedPath::as_str), response.status());
            Ok(response)
        })
    }
}

/// The process's resident memory, from `/proc` (Linux only; nothing elsewhere).
fn resident_memory_bytes() -> Option<f64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page_size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    (page_size > 0).then_some(pages * page_size as f64)
}

/// Gauges of this process and of the shared state.
async fn gauges(state: &AppState) -> Vec<Gauge> {
    let mut gauges = Vec::new();
    if let Some(bytes) = resident_memory_bytes() {
        gauges.push(Gauge {
            name: "process_resident_memory_bytes",
            help: "Resident memory of this process, in bytes.",
            labels: Vec::new(),
            value: bytes,
            counter: false,
        });
    }
    gauges.extend(crate::logout::backchannel::gauges(state).await);
    gauges.extend(sqlite_in_place(state));
    gauges
}

/// On SQLite, what the in-place connections served, and how often the pool had to instead (a
/// lock held by another connection or process, a failed statement).
fn sqlite_in_place(state: &AppState) -> Vec<Gauge> {
    if state.store.engine() != poort_storage::Engine::Sqlite {
        return Vec::new();
    }
    let counts = state.store.in_place_counts();
    [
        ("read", counts.reads),
        ("read_through_pool", counts.read_fallbacks),
        ("write_batch", counts.write_batches),
        ("write_batch_through_pool", counts.write_fallbacks),
    ]
    .into_iter()
    .map(|(kind, value)| Gauge {
        name: "poort_sqlite_in_place_total",
        help: "SQLite statements run on the calling thread, by kind: reads and write batches done in place, and those that went through the pool instead.",
        labels: vec![("kind", kind.to_string())],
        value: value as f64,
        counter: true,
    })
    .collect()
}

/// `GET /metrics`.
pub async fn scrape(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(expected) = &state.settings.metrics.bearer_token {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        if !presented.is_some_and(|token| constant_time_eq(token.as_bytes(), expected.as_bytes())) {
            let mut response = StatusCode::UNAUTHORIZED.into_response();
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    let body = state.metrics.render(&gauges(&state).await);
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_render_with_help_labels_and_escaping() {
        let metrics = Metrics::default();
        metrics.inc("poort_rate_limited_total", &[("limit", "sign_in")]);
        metrics.add("poort_rate_limited_total", &[("limit", "sign_in")], 2);
        metrics.inc("poort_rate_limited_total", &[("limit", "a\"b")]);
        assert_eq!(metrics.get("poort_rate_limited_total", &[("limit", "sign_in")]), 3);
        let text = metrics.render(&[
            Gauge { name: "g", help: "A gauge.", labels: vec![("state", "x".into())], value: 1.5, counter: false },
            Gauge { name: "c_total", help: "A counter kept elsewhere.", labels: Vec::new(), value: 7.0, counter: true },
        ]);
        assert!(text.contains("# TYPE poort_rate_limited_total counter\n"), "{text}");
        assert!(text.contains("poort_rate_limited_total{limit=\"sign_in\"} 3\n"), "{text}");
        assert!(text.contains("poort_rate_limited_total{limit=\"a\\\"b\"} 1\n"), "{text}");
        assert!(text.contains("# TYPE g gauge\ng{state=\"x\"} 1.5\n"), "{text}");
        assert!(text.contains("# TYPE c_total counter\nc_total 7\n"), "{text}");
    }

    #[test]
    fn requests_are_counted_by_route_and_status_class() {
        let metrics = Metrics::default();
        for status in [200, 204, 302, 400, 401, 503] {
            metrics.count_request("/token", StatusCode::from_u16(status).unwrap());
        }
        metrics.count_request("/a\"b", StatusCode::OK);
        let token = |class| metrics.get("poort_http_requests_total", &[("route", "/token"), ("status", class)]);
        assert_eq!([token("1xx"), token("2xx"), token("3xx"), token("4xx"), token("5xx")], [0, 2, 1, 2, 1]);
        let text = metrics.render(&[]);
        assert!(text.contains("# TYPE poort_http_requests_total counter\n"), "{text}");
        assert!(text.contains("poort_http_requests_total{route=\"/token\",status=\"2xx\"} 2\n"), "{text}");
        assert!(text.contains("poort_http_requests_total{route=\"/token\",status=\"5xx\"} 1\n"), "{text}");
        assert!(text.contains("poort_http_requests_total{route=\"/a\\\"b\",status=\"2xx\"} 1\n"), "{text}");
        assert!(!text.contains("status=\"1xx\""), "classes never counted are left out: {text}");
    }
}
