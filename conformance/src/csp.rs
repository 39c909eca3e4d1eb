//! What a browser lets a page frame, and who may frame a page: the `Content-Security-Policy`
//! directives `frame-src` (falling back to `child-src`, then `default-src`) and
//! `frame-ancestors`, and `X-Frame-Options`. The harness has no browser engine; it applies these
//! rules itself where a module depends on a frame loading (front-channel logout) or on a page
//! being frameable (the `check_session_iframe`).
//!
//! Source matching follows CSP Level 3 (§6.7.2): `*`, `'none'`, `'self'`, scheme sources and
//! host sources with wildcard hosts and ports and path prefixes. Nonces, hashes and keywords
//! that concern scripts match no frame.

use reqwest::header::HeaderMap;
use url::Url;

/// The policies of a response: every `Content-Security-Policy` header, and every
/// comma-separated policy within one. Each must allow what is done.
pub fn policies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all("content-security-policy")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The source list of `name` in `policy` (the first occurrence counts, as in a browser).
fn directive<'a>(policy: &'a str, name: &str) -> Option<Vec<&'a str>> {
    policy.split(';').find_map(|part| {
        let mut tokens = part.split_ascii_whitespace();
        let directive = tokens.next()?;
        directive.eq_ignore_ascii_case(name).then(|| tokens.collect())
    })
}

/// Whether a page at `page` with these policies may frame `frame`.
pub fn allows_frame(policies: &[String], page: &Url, frame: &Url) -> bool {
    policies.iter().all(|policy| {
        let sources = ["frame-src", "child-src", "default-src"]
            .iter()
            .find_map(|name| directive(policy, name));
        sources.is_none_or(|list| list_matches(&list, page, frame))
    })
}

/// Whether a page at `page` with these headers may be framed by a document at `ancestor`:
/// `frame-ancestors` when a policy has it, else `X-Frame-Options` (DENY, or SAMEORIGIN for
/// another origin, refuses).
pub fn allows_framing_by(headers: &HeaderMap, page: &Url, ancestor: &Url) -> bool {
    let policies = policies(headers);
    let with_ancestors: Vec<Vec<&str>> = policies.iter().filter_map(|p| directive(p, "frame-ancestors")).collect();
    if !with_ancestors.is_empty() {
        return with_ancestors.iter().all(|list| list_matches(list, page, ancestor));
    }
    headers
        .get_all("x-frame-options")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .all(|value| match value.trim().to_ascii_lowercase().as_str() {
            "deny" => false,
            "sameorigin" => page.origin() == ancestor.origin(),
            _ => true,
        })
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// A source list against `url`, for a protected resource at `page`.
fn list_matches(list: &[&str], page: &Url, url: &Url) -> bool {
    list.iter().any(|source| source_matches(source, page, url))
}

/// Scheme `source` admits `scheme` (http admits https, ws admits wss).
fn scheme_admits(source: &str, scheme: &str) -> bool {
    source.eq_ignore_ascii_case(scheme)
        || (source.eq_ignore_ascii_case("http") && scheme == "https")
        || (source.eq_ignore_ascii_case("ws") && scheme == "wss")
}

fn source_matches(source: &str, page: &Url, url: &Url) -> bool {
    let lower = source.to_ascii_lowercase();
    match lower.as_str() {
        "*" => matches!(url.scheme(), "http" | "https" | "ws" | "wss") || url.scheme() == page.scheme(),
        "'self'" => {
            url.origin() == page.origin()
                || (page.scheme() == "http" && url.scheme() == "https" && url.host() == page.host())
        }
        _ if lower.starts_with('\'') => false,
        _ if lower.ends_with(':') && !lower.contains('/') => scheme_admits(&lower[..lower.len() - 1], url.scheme()),
        _ => host_source_matches(&lower, page, url),
    }
}

/// `[scheme://]host[:port][/path]`.
fn host_source_matches(source: &str, page: &Url, url: &Url) -> bool {
    let (scheme, rest) = match source.split_once("://") {
        Some((scheme, rest)) => (Some(scheme), rest),
        None => (None, source),
    };
    let scheme_ok = match scheme {
        Some(scheme) => scheme_admits(scheme, url.scheme()),
        None => scheme_admits(page.scheme(), url.scheme()),
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], Some(&rest[at..])),
        None => (rest, None),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let Some(url_host) = url.host_str().map(str::to_ascii_lowercase) else { return false };
    let host_ok = match host.strip_prefix("*.") {
        Some(suffix) => url_host.ends_with(&format!(".{suffix}")),
        None => host == "*" || url_host == host,
    };
    let url_port = url.port_or_known_default();
    let port_ok = match port {
        Some("*") => true,
        Some(port) => port.parse::<u16>().ok() == url_port,
        // No port: the scheme's default; http's default also admits https on 443.
        None => {
            let scheme = scheme.unwrap_or(page.scheme());
            url_port == default_port(scheme) || (url.scheme() == "https" && url_port == Some(443))
        }
    };
    let path_ok = match path {
        None | Some("/") => true,
        Some(path) if path.ends_with('/') => url.path().starts_with(path),
        Some(path) => url.path() == path,
    };
    scheme_ok && host_ok && port_ok && path_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn frame_src_with_exact_documents() {
        let page = url("https://op.example/session/end");
        let policy = vec![
            "default-src 'none'; script-src 'self'; frame-src https://rp.example:8443/test/fc https://other.example/dir/"
                .to_string(),
        ];
        assert!(allows_frame(&policy, &page, &url("https://rp.example:8443/test/fc?iss=x&sid=y")));
        assert!(!allows_frame(&policy, &page, &url("https://rp.example:8443/test/fc2")));
        assert!(!allows_frame(&policy, &page, &url("https://rp.example/test/fc")));
        assert!(allows_frame(&policy, &page, &url("https://other.example/dir/any/thing")));
        assert!(!allows_frame(&policy, &page, &url("http://other.example/dir/x")));
        let none = vec!["default-src 'none'; script-src 'self'".to_string()];
        assert!(!allows_frame(&none, &page, &url("https://rp.example/fc")));
        assert!(allows_frame(&[], &page, &url("https://rp.example/fc")));
        let wide = vec!["frame-src https: 'self'".to_string(), "child-src *.rp.example".to_string()];
        assert!(allows_frame(&wide, &page, &url("https://www.rp.example/fc")));
        assert!(!allows_frame(&wide, &page, &url("https://rp.example/fc")));
    }

    #[test]
    fn frame_ancestors_and_x_frame_options() {
        let frame = url("https://op.example/session/check");
        let rp = url("https://rp.example/page");
        let mut headers = HeaderMap::new();
        headers.insert("content-security-policy", HeaderValue::from_static("default-src 'none'; frame-ancestors *"));
        headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
        assert!(allows_framing_by(&headers, &frame, &rp), "frame-ancestors wins over X-Frame-Options");
        headers.insert("content-security-policy", HeaderValue::from_static("frame-ancestors 'none'"));
        assert!(!allows_framing_by(&headers, &frame, &rp));
        headers.insert("content-security-policy", HeaderValue::from_static("frame-ancestors https://rp.example"));
        assert!(allows_framing_by(&headers, &frame, &rp));
        let mut headers = HeaderMap::new();
        headers.insert("x-frame-options", HeaderValue::from_static("SAMEORIGIN"));
        assert!(!allows_framing_by(&headers, &frame, &rp));
        assert!(allows_framing_by(&headers, &frame, &url("https://op.example/rp")));
        assert!(allows_framing_by(&HeaderMap::new(), &frame, &rp));
    }
}
