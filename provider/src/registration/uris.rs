//! The URI rules of registration: which schemes and hosts a registered URI may use.

use url::{Host, Url};

/// Schemes no registered URI may use, whatever the application type: they run code or read
/// local data in the user agent instead of reaching the client.
const FORBIDDEN_SCHEMES: &[&str] = &["javascript", "data", "vbscript", "file", "about", "blob", "filesystem"];

/// An absolute URI, or `None`.
pub fn absolute(uri: &str) -> Option<Url> {
    Url::parse(uri).ok()
}

/// `127.0.0.1` (any 127/8 address), `::1` or `localhost`.
pub fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// A URL the provider calls or sends the browser to on the open web: https, or http on a
/// loopback host when `allow_loopback_http` (development).
pub fn is_secure(url: &Url, allow_loopback_http: bool) -> bool {
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => allow_loopback_http && is_loopback(url),
        _ => false,
    }
}

/// A redirect target: [`is_secure`], or for native applications their own private-use scheme
/// (`com.example.app:/callback`, RFC 8252 §7.1).
pub fn is_redirect_target(url: &Url, allow_loopback_http: bool, native: bool) -> bool {
    match url.scheme() {
        "https" | "http" => is_secure(url, allow_loopback_http),
        scheme => native && !FORBIDDEN_SCHEMES.contains(&scheme),
    }
}

/// A link shown on our pages (logo, home page, policy, terms): http or https only.
pub fn is_web_link(url: &Url) -> bool {
    matches!(url.scheme(), "https" | "http") && url.host().is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn loopback_hosts_are_recognised() {
        for yes in ["http://127.0.0.1:8080/cb", "http://[::1]/cb", "http://localhost/cb", "http://LOCALHOST:1/"] {
            assert!(is_loopback(&url(yes)), "{yes}");
        }
        for no in ["http://127.example.com/", "http://10.0.0.1/", "http://localhost.example.com/"] {
            assert!(!is_loopback(&url(no)), "{no}");
        }
    }

    #[test]
    fn http_is_only_for_loopback_and_only_when_allowed() {
        assert!(is_secure(&url("https://rp.example/cb"), false));
        assert!(is_secure(&url("http://127.0.0.1/cb"), true));
        assert!(!is_secure(&url("http://127.0.0.1/cb"), false));
        assert!(!is_secure(&url("http://rp.example/cb"), true));
        assert!(!is_secure(&url("ftp://rp.example/cb"), true));
    }

    #[test]
    fn native_apps_may_use_their_own_schemes_but_never_script_ones() {
        let custom = url("com.example.app:/callback");
        assert!(is_redirect_target(&custom, true, true));
        assert!(!is_redirect_target(&custom, true, false));
        assert!(!is_redirect_target(&url("javascript:alert(1)"), true, true));
        assert!(!is_redirect_target(&url("http://rp.example/cb"), true, true));
        assert!(is_web_link(&url("http://rp.example/logo.png")));
        assert!(!is_web_link(&url("javascript:alert(1)")));
    }
}
