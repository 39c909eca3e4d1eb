//! The public documents every relying party fetches again and again — the discovery document
//! (at both well-known paths) and the JWKS — answered ahead of the router.
//!
//! Both are bytes in memory, so nearly all a request for them cost was the way there: the
//! router's path matching and the clone of the route's boxed service, the middleware's body
//! boxing, the request timeout's timer, the trace span. A `GET` for one of them is answered
//! here instead, with the headers the router's answer carries (its CORS and security headers),
//! and counted in the same metric: side by side this took about an eighth off each request's
//! CPU, two thirds of which is the kernel's TCP work. Everything else — other methods (`HEAD`,
//! CORS preflights, a `POST`), every other path — goes on to the router, which serves these
//! paths too, by the handlers in `discovery` and `jwks`; a test checks that both answer the
//! same.

use crate::discovery::{OAUTH_METADATA_PATH, OPENID_CONFIGURATION_PATH};
use crate::state::AppState;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse as _, Response};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tower::Service;

/// `inner` (the router) behind the answers for the published documents.
#[derive(Clone)]
pub struct Published<S> {
    state: AppState,
    inner: S,
}

impl<S> Published<S> {
    pub fn new(state: AppState, inner: S) -> Self {
        Self { state, inner }
    }

    /// The answer to a `GET` of `path`, when it is a published document.
    fn answer(&self, path: &str) -> Option<(&'static str, Response)> {
        let (route, content_type, body) = match path {
            OPENID_CONFIGURATION_PATH => (OPENID_CONFIGURATION_PATH, "application/json", self.state.discovery_json.clone()),
            OAUTH_METADATA_PATH => (OAUTH_METADATA_PATH, "application/json", self.state.discovery_json.clone()),
            crate::jwks::PATH => (crate::jwks::PATH, "application/jwk-set+json", self.state.keyring.snapshot().jwks_json.clone()),
            _ => return None,
        };
        let length = HeaderValue::from(body.len());
        let mut response = Response::new(axum::body::Body::from(body));
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.insert(header::CONTENT_LENGTH, length);
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
        // What `web::cors::api()` adds to an answer that is not a preflight.
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("www-authenticate"));
        // What the router's middleware adds to every answer (see `app::app`).
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        Some((route, response))
    }
}

impl<S> Service<Request> for Published<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Unpin,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if request.method() == Method::GET
            && let Some((route, response)) = self.answer(request.uri().path())
        {
            self.state.metrics.count_request(route, StatusCode::OK);
            return Answer::Ready(Some(response));
        }
        Answer::Inner(self.inner.call(request))
    }
}

/// A published document's answer, or the router's future.
pub enum Answer<F> {
    Ready(Option<Response>),
    Inner(F),
}

impl<F: Future<Output = Result<Response, Infallible>> + Unpin> Future for Answer<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            // Polled again after it was ready (a broken contract, never done): an error answer.
            Answer::Ready(response) => {
                Poll::Ready(Ok(response.take().unwrap_or_else(|| StatusCode::INTERNAL_SERVER_ERROR.into_response())))
            }
            Answer::Inner(future) => Pin::new(future).poll(cx),
        }
    }
}
