//! What a request presents to authenticate its client, before anything is checked against the
//! registration: HTTP Basic (RFC 6749 §2.3.1, id and secret form-URL-encoded before base64), a
//! secret in the body, a JWT assertion (RFC 7523), or only a `client_id`. More than one method
//! in one request is refused (RFC 6749 §2.3).

use super::ASSERTION_TYPE;
use crate::oauth::OAuthError;
use crate::oauth::form::FormParams;
use axum::http::{HeaderMap, header};
use base64::Engine as _;
use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// The credentials of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// `client_secret_basic` or `client_secret_post`.
    Secret { client_id: String, secret: String, in_header: bool },
    /// `client_secret_jwt` or `private_key_jwt`; `client_id` only when the body also sent it.
    Assertion { client_id: Option<String>, assertion: String },
    /// `none`: a public client names itself.
    ClientId(String),
}

impl Presented {
    /// Whether the client used the `Authorization` header (a failure then carries a challenge).
    pub fn in_header(&self) -> bool {
        matches!(self, Presented::Secret { in_header: true, .. })
    }
}

/// Why no credentials could be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreadable {
    /// A malformed request (`invalid_request`).
    Request(OAuthError),
    /// An `Authorization` header that is not Basic credentials (`invalid_client` with a challenge).
    BadHeader,
    /// No usable credentials at all (`invalid_client`); the reason is for the log.
    Refused(&'static str),
}

/// Reads the credentials of a request.
pub fn extract(headers: &HeaderMap, params: &FormParams) -> Result<Presented, Unreadable> {
    let basic = basic_credentials(headers)?;
    let body_id = params.get("client_id");
    let secret = params.get("client_secret");
    let assertion = params.get("client_assertion");
    let assertion_type = params.get("client_assertion_type");
    let methods = [basic.is_some(), secret.is_some(), assertion.is_some()].iter().filter(|m| **m).count();
    if methods > 1 {
        return Err(request_error("use exactly one client authentication method"));
    }
    if assertion.is_some() != assertion_type.is_some() {
        return Err(request_error("client_assertion and client_assertion_type go together"));
    }
    if let Some((client_id, secret)) = basic {
        if body_id.is_some_and(|id| id != client_id) {
            return Err(request_error("client_id differs from the one in the Authorization header"));
        }
        return Ok(Presented::Secret { client_id, secret, in_header: true });
    }
    if let Some(secret) = secret {
        let client_id = body_id.ok_or_else(|| request_error("client_secret needs client_id"))?;
        return Ok(Presented::Secret { client_id: client_id.into(), secret: secret.into(), in_header: false });
    }
    if let (Some(assertion), Some(assertion_type)) = (assertion, assertion_type) {
        if assertion_type != ASSERTION_TYPE {
            return Err(Unreadable::Refused("unsupported client_assertion_type"));
        }
        return Ok(Presented::Assertion { client_id: body_id.map(str::to_string), assertion: assertion.into() });
    }
    body_id.map(|id| Presented::ClientId(id.into())).ok_or(Unreadable::Refused("no client credentials"))
}

fn request_error(description: &'static str) -> Unreadable {
    Unreadable::Request(OAuthError::invalid_request(description))
}

/// The id and secret of an `Authorization: Basic` header; `None` without the header.
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, Unreadable> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(request_error("only one Authorization header is allowed"));
    }
    parse_basic(value.as_bytes()).map(Some).ok_or(Unreadable::BadHeader)
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`, the scheme in any case.
pub fn parse_basic(value: &[u8]) -> Option<(String, String)> {
    let value = std::str::from_utf8(value).ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let lenient = GeneralPurpose::new(
        &STANDARD,
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
    );
    let decoded = String::from_utf8(lenient.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let (id, secret) = (form_decode(id)?, form_decode(secret)?);
    (!id.is_empty() && !secret.is_empty()).then_some((id, secret))
}

/// `application/x-www-form-urlencoded` decoding of one value: `+` is a space, `%XX` a byte.
fn form_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn basic(raw: &str) -> String {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
    }

    #[test]
    fn basic_credentials_are_form_url_decoded() {
        assert_eq!(
            parse_basic(basic("my%20client:s%3Acr+t%25").as_bytes()),
            Some(("my client".into(), "s:cr t%".into()))
        );
        assert_eq!(parse_basic(basic("id:a:b").as_bytes()), Some(("id".into(), "a:b".into())));
        assert_eq!(parse_basic(format!("bAsIc {}", "aWQ6cw").as_bytes()), Some(("id".into(), "s".into())), "unpadded");
        for bad in [
            basic("no-colon"),
            basic(":secret"),
            basic("id:"),
            basic("id:%zz"),
            "Bearer abc".into(),
            "Basic !!!".into(),
        ] {
            assert_eq!(parse_basic(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn one_method_per_request() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(&basic("c:s")).unwrap());
        let post = FormParams::parse(b"client_id=c&client_secret=s").unwrap();
        assert!(matches!(extract(&headers, &post), Err(Unreadable::Request(_))));
        let same_id = FormParams::parse(b"client_id=c").unwrap();
        assert!(matches!(extract(&headers, &same_id), Ok(Presented::Secret { in_header: true, .. })));
        let other_id = FormParams::parse(b"client_id=d").unwrap();
        assert!(matches!(extract(&headers, &other_id), Err(Unreadable::Request(_))));
        let none = HeaderMap::new();
        assert_eq!(
            extract(&none, &post),
            Ok(Presented::Secret { client_id: "c".into(), secret: "s".into(), in_header: false })
        );
        assert_eq!(extract(&none, &same_id), Ok(Presented::ClientId("c".into())));
        assert!(matches!(extract(&none, &FormParams::default()), Err(Unreadable::Refused(_))));
        let half = FormParams::parse(b"client_assertion=x").unwrap();
        assert!(matches!(extract(&none, &half), Err(Unreadable::Request(_))));
    }
}
