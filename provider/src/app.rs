//! Assembling the provider: the state from settings and store, and the router from the route
//! table. `app(state)` is what tests drive with `oneshot` and what `serve` runs.

use crate::StartError;
use crate::keys::{KeyPolicy, Keyring};
use crate::state::AppState;
use crate::{discovery, routes};
use axum::Router;
use axum::http::{HeaderValue, header};
use poort_config::Settings;
use poort_storage::Store;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceBuilder;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Builds the shared state: opens the key ring (creating keys on a new database) and
/// pre-computes the discovery document.
pub async fn state(settings: Settings, store: Store) -> Result<AppState, StartError> {
    let locale = poort_themes::Locale::from_tag(&settings.themes.default_locale)
        .ok_or_else(|| StartError::Theme(format!("themes.default_locale `{}` is not en or nl", settings.themes.default_locale)))?;
    let theme = poort_themes::Theme::load(settings.themes.dir.as_deref(), locale)
        .map_err(|e| StartError::Theme(format!("cannot load the theme: {e}")))?;
    let mailer = crate::mail::Mailer::from_settings(&settings).map_err(|e| StartError::Mail(e.to_string()))?;
    let password_policy = crate::password_policy::PasswordPolicy::from_settings(&settings.passwords);
    let keyring = Keyring::open(store.clone(), KeyPolicy::from_settings(&settings)).await.map_err(StartError::Keys)?;
    let hash_key: Arc<[u8]> = crate::secrets::hash_key(&store).await?.into();
    let http = outbound_http_client(&settings)?;
    let issuer: Arc<str> = settings.issuer_string().into();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let passwords = crate::password::PasswordPool::new(cores, settings.passwords.hash_queue_limit);
    let discovery = discovery::build(&issuer, &routes::endpoints(&settings), keyring.algorithms());
    Ok(AppState::new(crate::state::Shared {
        settings: Arc::new(settings),
        store,
        keyring,
        issuer,
        discovery_json: bytes::Bytes::from(discovery.to_string()),
        hash_key,
        http,
        client_keys: Arc::new(crate::oauth::client_auth::ClientKeyCache::new()),
        theme: Arc::new(theme),
        mailer: Arc::new(mailer),
        password_policy,
        passwords,
        metrics: Arc::default(),
        backchannel: Arc::default(),
        upstreams: Arc::new(poort_federation::discovery::Upstreams::new()),
    }))
}

/// The client for outbound fetches of client-published documents: no redirects, the
/// `server.outbound_timeout`, and the extra roots of `outbound.ca_file` trusted beside the public ones.
fn outbound_http_client(settings: &Settings) -> Result<reqwest::Client, StartError> {
    // Every fetch ends within the timeout, so a server that hangs cannot hold a request (or a
    // worker) longer.
    let timeout = settings.server.outbound_timeout;
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .timeout(timeout)
        .user_agent(concat!("Poort/", env!("CARGO_PKG_VERSION")));
    if let Some(file) = &settings.outbound.ca_file {
        let unusable = |detail: String| StartError::Tls(format!("outbound.ca_file `{}`: {detail}", file.display()));
        let pem = std::fs::read(file).map_err(|e| unusable(e.to_string()))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| unusable(e.to_string()))?;
        if certificates.is_empty() {
            return Err(unusable("it holds no PEM certificate".into()));
        }
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    builder.build().map_err(|e| StartError::Tls(format!("cannot set up outbound HTTPS: {e}")))
}

/// What `serve` runs: the published documents' answers (see [`crate::published`]) ahead of
/// [`routed`].
pub fn app(state: AppState) -> Router {
    Router::new().fallback_service(crate::published::Published::new(state.clone(), routed(state)))
}

/// The router over every endpoint of the route table, with its middleware: everything but the
/// published documents' shortcut, which tests compare with it.
pub fn routed(state: AppState) -> Router {
    let max_body = state.settings.server.max_body_bytes;
    let request_timeout = state.settings.server.request_timeout;
    let mut router = Router::new();
    for endpoint in routes::endpoints(&state.settings) {
        router = router.route(endpoint.path, endpoint.handler);
    }
    // One layer of the whole stack: the router boxes each `layer` call's service and clones
    // every box for every request, so six calls cost six allocations a request, this one one.
    let middleware = ServiceBuilder::new()
        // Spans name the path only: query strings can carry hints and tokens.
        .layer(TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<axum::body::Body>| {
            tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
        }))
        .layer(TimeoutLayer::with_status_code(axum::http::StatusCode::SERVICE_UNAVAILABLE, request_timeout))
        // Back to axum's body types around the limit, as separate `layer` calls would do.
        .map_response(|response: axum::http::Response<_>| response.map(axum::body::Body::new))
        .layer(RequestBodyLimitLayer::new(max_body))
        .map_request(|request: axum::http::Request<_>| request.map(axum::body::Body::new))
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(crate::metrics::CountRequestsLayer(state.metrics.clone()));
    router.layer(middleware).with_state(state)
}
