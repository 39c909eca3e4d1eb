//! Form-encoded request bodies of the back-channel endpoints (token, revocation, introspection,
//! userinfo): the content type checked, every parameter at most once (RFC 6749 §3.2), and empty
//! values treated as absent (RFC 6749 §3.1).

use super::error::OAuthError;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;

/// The parameters of one request, each present at most once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormParams {
    values: BTreeMap<String, String>,
}

impl FormParams {
    /// Parses a form body; a parameter that appears twice is `invalid_request`.
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let mut values = BTreeMap::new();
        for (name, value) in url::form_urlencoded::parse(body) {
            if values.insert(name.to_string(), value.into_owned()).is_some() {
                return Err(OAuthError::invalid_request(format!("the parameter {name} appears more than once")));
            }
        }
        Ok(Self { values })
    }

    /// Checks the content type, then parses the body.
    pub fn from_request(headers: &HeaderMap, body: &[u8]) -> Result<Self, OAuthError> {
        if !is_form(headers) {
            return Err(OAuthError::invalid_request("the request body must be application/x-www-form-urlencoded"));
        }
        Self::parse(body)
    }

    /// The value of `name`; a parameter sent without a value counts as omitted.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    /// The value of a required parameter, or `invalid_request` naming it.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name).ok_or_else(|| OAuthError::invalid_request(format!("the parameter {name} is required")))
    }
}

/// A body that could not be read (too large, or cut off) as an OAuth error, with the status
/// axum chose (413 for a body over the limit).
pub fn unreadable_body(rejection: BytesRejection) -> Response {
    let status = rejection.status();
    let mut response = OAuthError::invalid_request("the request body could not be read").into_response();
    *response.status_mut() = status;
    response
}

/// Whether the request declares a form body (`application/x-www-form-urlencoded`, with any
/// parameters such as `charset`).
pub fn is_form(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(header::CONTENT_TYPE).iter();
    let (Some(value), None) = (values.next(), values.next()) else { return false };
    value
        .to_str()
        .ok()
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn repeated_parameters_are_refused_and_empty_ones_are_absent() {
        let params = FormParams::parse(b"a=1&b=&c=x+y%21").unwrap();
        assert_eq!(params.get("a"), Some("1"));
        assert_eq!(params.get("b"), None);
        assert_eq!(params.get("c"), Some("x y!"));
        assert!(params.require("b").is_err());
        let error = FormParams::parse(b"a=1&a=1").unwrap_err();
        assert_eq!(error.code.as_str(), "invalid_request");
    }

    #[test]
    fn only_form_content_types_are_accepted() {
        let mut headers = HeaderMap::new();
        assert!(!is_form(&headers));
        headers
            .insert(header::CONTENT_TYPE, HeaderValue::from_static("Application/X-WWW-Form-Urlencoded; charset=UTF-8"));
        assert!(is_form(&headers));
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert!(!is_form(&headers));
        assert!(FormParams::from_request(&headers, b"a=1").is_err());
    }
}
