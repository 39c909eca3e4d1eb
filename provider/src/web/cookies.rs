//! Reading the `Cookie` header and writing `Set-Cookie` with the flags every cookie of ours
//! carries: HttpOnly, SameSite=Lax, Path=/, and Secure when the issuer is https.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

/// The value of cookie `name`, if the browser sent it (the first one when sent twice).
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// A `Set-Cookie` value. `max_age` None makes a browser-session cookie.
pub fn set(name: &str, value: &str, secure: bool, max_age: Option<i64>) -> String {
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if secure {
        cookie.push_str("; Secure");
    }
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    cookie
}

/// A `Set-Cookie` value that deletes the cookie.
pub fn clear(name: &str, secure: bool) -> String {
    set(name, "", secure, Some(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn finds_a_cookie_among_several_headers_and_pairs() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("a=1; poort_session=abc"));
        headers.append(COOKIE, HeaderValue::from_static("b=2"));
        assert_eq!(get(&headers, "poort_session"), Some("abc"));
        assert_eq!(get(&headers, "b"), Some("2"));
        assert_eq!(get(&headers, "poort"), None);
    }

    #[test]
    fn cookies_carry_the_security_flags() {
        assert_eq!(set("s", "v", true, Some(60)), "s=v; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=60");
        assert_eq!(clear("s", false), "s=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    }
}
