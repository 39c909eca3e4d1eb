//! A tiny in-process browser for the router: keeps cookies, follows nothing by itself, and
//! fills forms the way a person would.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use std::collections::BTreeMap;
use tower::ServiceExt;

pub struct Browser {
    pub router: Router,
    pub cookies: BTreeMap<String, String>,
}

pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub body: String,
    pub headers: axum::http::HeaderMap,
}

impl Page {
    /// The value of `<input name="NAME" value="…">` on the page.
    pub fn input(&self, name: &str) -> Option<String> {
        let marker = format!(r#"name="{name}" value=""#);
        let start = self.body.find(&marker)? + marker.len();
        let end = self.body[start..].find('"')? + start;
        Some(html_unescape(&self.body[start..end]))
    }

    /// Query parameters of the Location header (or of its fragment).
    pub fn location_params(&self) -> BTreeMap<String, String> {
        let location = self.location.as_deref().unwrap_or("");
        let tail = location.split_once(['?', '#']).map(|(_, t)| t).unwrap_or("");
        url::form_urlencoded::parse(tail.as_bytes()).into_owned().collect()
    }
}

/// Keeps the cookies a response sets in `jar`, and forgets those it clears.
pub fn remember_cookies(jar: &mut BTreeMap<String, String>, headers: &axum::http::HeaderMap) {
    for value in headers.get_all(header::SET_COOKIE) {
        let text = value.to_str().unwrap();
        let (name, value) = text.split(';').next().unwrap().split_once('=').unwrap();
        if value.is_empty() || text.contains("Max-Age=0") {
            jar.remove(name);
        } else {
            jar.insert(name.to_string(), value.to_string());
        }
    }
}

fn html_unescape(text: &str) -> String {
    text.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

impl Browser {
    pub fn new(router: Router) -> Self {
        Self { router, cookies: BTreeMap::new() }
    }

    pub async fn get(&mut self, uri: &str) -> Page {
        self.send(Request::get(uri), Body::empty()).await
    }

    /// A GET from a browser whose preferred language is `language` (`Accept-Language`).
    pub async fn get_in_language(&mut self, uri: &str, language: &str) -> Page {
        self.send(Request::get(uri).header(header::ACCEPT_LANGUAGE, language), Body::empty()).await
    }

    pub async fn post_form(&mut self, uri: &str, fields: &[(&str, &str)]) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        self.send(Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded"), Body::from(body)).await
    }

    /// A GET with an `Authorization` header (a bearer token, say).
    pub async fn get_authorized(&mut self, uri: &str, authorization: &str) -> Page {
        self.send(Request::get(uri).header(header::AUTHORIZATION, authorization), Body::empty()).await
    }

    /// A form POST with an `Authorization` header (HTTP Basic client credentials, say).
    pub async fn post_form_authorized(&mut self, uri: &str, fields: &[(&str, &str)], authorization: &str) -> Page {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let request = Request::post(uri)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::AUTHORIZATION, authorization);
        self.send(request, Body::from(body)).await
    }

    async fn send(&mut self, mut builder: axum::http::request::Builder, body: Body) -> Page {
        if !self.cookies.is_empty() {
            let cookie = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            builder = builder.header(header::COOKIE, cookie);
        }
        let response = self.router.clone().oneshot(builder.body(body).unwrap()).await.unwrap();
        remember_cookies(&mut self.cookies, response.headers());
        let status = response.status();
        let headers = response.headers().clone();
        let location = headers.get(header::LOCATION).map(|v| v.to_str().unwrap().to_string());
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        Page { status, location, body: String::from_utf8_lossy(&bytes).into_owned(), headers }
    }

    /// From a 303 to the sign-in page: sign in and return the response to the form post.
    pub async fn sign_in(&mut self, login_page: &str, username: &str, password: &str) -> Page {
        let page = self.get(login_page).await;
        assert_eq!(page.status, StatusCode::OK, "sign-in page: {}", page.body);
        let ticket = page.input("ticket").expect("a ticket on the sign-in page");
        let csrf = page.input("csrf_token").expect("a CSRF token on the sign-in page");
        self.post_form("/login", &[("ticket", &ticket), ("csrf_token", &csrf), ("username", username), ("password", password)]).await
    }

    /// From a 303 to the consent page: answer it.
    pub async fn consent(&mut self, consent_page: &str, decision: &str) -> Page {
        let page = self.get(consent_page).await;
        assert_eq!(page.status, StatusCode::OK, "consent page: {}", page.body);
        let ticket = page.input("ticket").unwrap();
        let csrf = page.input("csrf_token").unwrap();
        self.post_form("/consent", &[("ticket", &ticket), ("csrf_token", &csrf), ("decision", decision)]).await
    }
}
