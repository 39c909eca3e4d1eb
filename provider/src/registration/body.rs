//! Reading a registration request body: `application/json`, within the body limit, one JSON
//! object. Anything else is a JSON `invalid_request`, never an extractor's plain-text rejection.

use crate::oauth::OAuthError;
use axum::body::Body;
use axum::http::{HeaderMap, header};
use serde_json::{Map, Value};

/// The request's JSON object.
pub async fn json_object(headers: &HeaderMap, body: Body, limit: usize) -> Result<Map<String, Value>, OAuthError> {
    if !is_json(headers) {
        return Err(OAuthError::invalid_request("the request body must be application/json"));
    }
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| OAuthError::invalid_request("the request body is too large or could not be read"))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(OAuthError::invalid_request("the request body must be a JSON object")),
        Err(_) => Err(OAuthError::invalid_request("the request body is not valid JSON")),
    }
}

/// `application/json`, with or without parameters (`; charset=utf-8`).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
        headers
    }

    #[test]
    fn only_json_media_types_are_accepted() {
        assert!(is_json(&headers("application/json")));
        assert!(is_json(&headers("Application/JSON; charset=utf-8")));
        assert!(!is_json(&headers("application/x-www-form-urlencoded")));
        assert!(!is_json(&headers("application/jsonp")));
        assert!(!is_json(&HeaderMap::new()));
    }

    #[tokio::test]
    async fn bodies_must_be_one_json_object_within_the_limit() {
        let json = headers("application/json");
        assert!(json_object(&json, Body::from(r#"{"a":1}"#), 100).await.is_ok());
        for bad in ["[1]", "{", "", "\"x\""] {
            assert!(json_object(&json, Body::from(bad), 100).await.is_err(), "{bad}");
        }
        assert!(json_object(&json, Body::from(vec![b' '; 101]), 100).await.is_err());
    }
}
