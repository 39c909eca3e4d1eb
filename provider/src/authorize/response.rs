//! Delivering an authorization response to the client: the redirect URI with the parameters in
//! the query, the fragment, or an auto-submitted form (OAuth 2.0 Form Post Response Mode).
//! Every response carries `iss` (RFC 9207) and echoes `state` exactly.

use crate::web::html::{escape, page};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

impl ResponseMode {
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "query" => Some(Self::Query),
            "fragment" => Some(Self::Fragment),
            "form_post" => Some(Self::FormPost),
            _ => None,
        }
    }

    /// The default for a response type: the fragment whenever tokens come from this endpoint.
    pub fn default_for(response_type: &str) -> Self {
        if response_type.split(' ').any(|word| word == "token" || word == "id_token") { Self::Fragment } else { Self::Query }
    }
}

/// Where and how the response goes, known once the client and redirect URI are validated.
#[derive(Debug, Clone)]
pub struct RedirectTarget {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub state: Option<String>,
    pub issuer: String,
}

impl RedirectTarget {
    /// The response carrying `params`, plus `state` and `iss`.
    pub fn respond(&self, params: Vec<(&'static str, String)>) -> Response {
        let mut all = params;
        if let Some(state) = &self.state {
            all.push(("state", state.clone()));
        }
        all.push(("iss", self.issuer.clone()));
        match self.mode {
            ResponseMode::Query | ResponseMode::Fragment => {
                let encoded = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&all).finish();
                let separator = match self.mode {
                    ResponseMode::Query if self.redirect_uri.contains('?') => '&',
                    ResponseMode::Query => '?',
                    _ => '#',
                };
                let location = format!("{}{separator}{encoded}", self.redirect_uri);
                see_other(&location)
            }
            ResponseMode::FormPost => form_post(&self.redirect_uri, &all),
        }
    }

    pub fn error(&self, error: &crate::oauth::OAuthError) -> Response {
        let [(k1, v1), (k2, v2)] = error.pairs();
        self.respond(vec![(k1, v1), (k2, v2)])
    }
}

/// A 303 to `location`, never cached.
pub fn see_other(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(value) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            response.headers_mut().insert(header::LOCATION, value);
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            response
        }
        Err(_) => page(StatusCode::BAD_REQUEST, "<!doctype html><title>Error</title><p>The redirect URI is not valid.</p>".into()),
    }
}

/// The form-post response: a form that a small script submits at once, with a visible button
/// for browsers without script.
fn form_post(action: &str, params: &[(&'static str, String)]) -> Response {
    let inputs: String = params
        .iter()
        .map(|(name, value)| format!(r#"<input type="hidden" name="{}" value="{}">"#, escape(name), escape(value)))
        .collect();
    let body = format!(
        r#"<!doctype html><html><head><meta charset="utf-8"><title>Continue</title></head><body><form method="post" action="{}">{inputs}<noscript><p>Press Continue to return to the application.</p></noscript><button type="submit">Continue</button></form><script src="/assets/form-post.js"></script></body></html>"#,
        escape(action)
    );
    let mut response = page(StatusCode::OK, body);
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'"),
    );
    response
}

/// The script that submits a form-post response.
pub async fn form_post_script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=86400")],
        "document.forms[0].submit();\n",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(uri: &str, mode: ResponseMode) -> RedirectTarget {
        RedirectTarget { redirect_uri: uri.into(), mode, state: Some("s t".into()), issuer: "https://op".into() }
    }

    #[test]
    fn query_responses_keep_the_redirect_uris_own_query() {
        let response = target("https://rp/cb?bar=foo", ResponseMode::Query).respond(vec![("code", "c".into())]);
        assert_eq!(response.headers()["location"], "https://rp/cb?bar=foo&code=c&state=s+t&iss=https%3A%2F%2Fop");
        let response = target("https://rp/cb", ResponseMode::Fragment).respond(vec![("code", "c".into())]);
        assert_eq!(response.headers()["location"], "https://rp/cb#code=c&state=s+t&iss=https%3A%2F%2Fop");
    }

    #[test]
    fn defaults_follow_the_response_type() {
        assert_eq!(ResponseMode::default_for("code"), ResponseMode::Query);
        assert_eq!(ResponseMode::default_for("code id_token"), ResponseMode::Fragment);
        assert_eq!(ResponseMode::default_for("id_token token"), ResponseMode::Fragment);
    }
}
