//! The scripted user agent: one per module instance, with its own cookie jar, following
//! redirects itself until a Location points at the client (so `code`, `state`, `iss` and `error`
//! can be read from the query or the fragment), filling the login form like the suite's
//! `browser` block, allowing consent, and reading form_post auto-submit forms.

use crate::html::{self, Form};
use crate::report::{Abort, Step};
use reqwest::Method;
use reqwest::header::{self, HeaderMap, HeaderValue};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use url::{Position, Url};

/// An HTTP client for the harness: redirects are never followed automatically, and TLS trusts
/// the extra root certificate when one is given.
pub fn http_client(ca_pem: Option<&[u8]>) -> anyhow::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .user_agent("poort-conformance");
    if let Some(pem) = ca_pem {
        for cert in reqwest::Certificate::from_pem_bundle(pem)? {
            builder = builder.add_root_certificate(cert);
        }
    }
    Ok(builder.build()?)
}

/// An error with its causes ("error sending request: … : invalid peer certificate: …").
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// A response read completely.
#[derive(Clone, Debug)]
pub struct Response {
    pub status: u16,
    pub url: Url,
    pub headers: HeaderMap,
    pub body: String,
}

impl Response {
    /// Reads a reqwest response (body as text).
    pub async fn read(response: reqwest::Response) -> Step<Self> {
        let status = response.status().as_u16();
        let url = response.url().clone();
        let headers = response.headers().clone();
        let body = response.text().await.map_err(|e| {
            Abort::Stop(format!(
                "reading the response of {url}: {}",
                error_chain(&e)
            ))
        })?;
        Ok(Self {
            status,
            url,
            headers,
            body,
        })
    }

    /// The media type, lower-cased, without parameters.
    pub fn media_type(&self) -> Option<String> {
        let value = self.headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
        Some(
            value
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase(),
        )
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn is_redirect(&self) -> bool {
        matches!(self.status, 301 | 302 | 303 | 307 | 308)
            && self.headers.contains_key(header::LOCATION)
    }

    /// The Location, resolved against the request URL.
    pub fn location(&self) -> Option<Url> {
        let value = self.headers.get(header::LOCATION)?.to_str().ok()?;
        self.url.join(value).ok()
    }

    pub fn is_html(&self) -> bool {
        self.media_type()
            .is_some_and(|t| t == "text/html" || t == "application/xhtml+xml")
    }

    /// The body as a JSON object, when it is one.
    pub fn json_object(&self) -> Option<Map<String, Value>> {
        match serde_json::from_str(&self.body) {
            Ok(Value::Object(map)) => Some(map),
            _ => None,
        }
    }

    /// "HTTP 400 text/html “Title”": what the OP answered, for messages.
    pub fn describe(&self) -> String {
        let media = self
            .media_type()
            .unwrap_or_else(|| "no content type".into());
        let title = if self.is_html() {
            html::title(&self.body)
                .map(|t| format!(" “{t}”"))
                .unwrap_or_default()
        } else {
            String::new()
        };
        let snippet = if !self.is_html() && !self.body.is_empty() {
            let short: String = self.body.chars().take(160).collect();
            format!(": {short}")
        } else {
            String::new()
        };
        format!(
            "HTTP {} {media}{title} at {}{snippet}",
            self.status,
            &self.url[..Position::AfterPath]
        )
    }
}

/// How the authorization response reached the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponseMode {
    Query,
    Fragment,
    /// An auto-submitting form: its method and enctype as written in the page.
    FormPost {
        method: String,
        enctype: Option<String>,
    },
}

/// The authorization response as the client would receive it.
#[derive(Clone, Debug)]
pub struct Callback {
    /// The client URL, with query and fragment (for form_post, the form's action).
    pub url: Url,
    pub mode: ResponseMode,
    /// The query parameters of the client URL.
    pub query: Vec<(String, String)>,
    /// The fragment parameters (empty for query and form_post).
    pub fragment: Vec<(String, String)>,
    /// The form fields, for form_post.
    pub form: Vec<(String, String)>,
}

fn to_map(pairs: &[(String, String)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect()
}

impl Callback {
    /// The response parameters wherever they are: the form for form_post, the fragment when it
    /// has any, else the query.
    pub fn params(&self) -> Map<String, Value> {
        match self.mode {
            ResponseMode::FormPost { .. } => to_map(&self.form),
            ResponseMode::Fragment => to_map(&self.fragment),
            ResponseMode::Query => to_map(&self.query),
        }
    }

    pub fn query_map(&self) -> Map<String, Value> {
        to_map(&self.query)
    }

    pub fn fragment_map(&self) -> Map<String, Value> {
        to_map(&self.fragment)
    }
}

/// Where an authorization ended.
#[derive(Clone, Debug)]
pub enum End {
    /// Back at the client.
    Callback(Callback),
    /// The OP answered with something other than a redirect to the client, a login form the
    /// browser was not allowed (or failed) to fill, or a consent page it was not allowed to
    /// accept: an error page, typically.
    Page(Response),
}

/// An authorization's end and what the user was asked along the way.
#[derive(Clone, Debug)]
pub struct Landing {
    pub end: End,
    /// How many times a login form was shown.
    pub login_forms: usize,
    /// How many consent pages were shown.
    pub consents: usize,
    /// The URLs visited (without query), for messages.
    pub trail: Vec<String>,
}

impl Landing {
    pub fn callback(&self) -> Option<&Callback> {
        match &self.end {
            End::Callback(callback) => Some(callback),
            End::Page(_) => None,
        }
    }
}

/// The login form's field names (the defaults are Poort's).
#[derive(Clone, Debug)]
pub struct LoginForm {
    pub username_field: String,
    pub password_field: String,
}

impl Default for LoginForm {
    fn default() -> Self {
        Self {
            username_field: "username".into(),
            password_field: "password".into(),
        }
    }
}

/// The test user the browser signs in as.
#[derive(Clone, Debug)]
pub struct User {
    pub username: String,
    pub password: String,
    pub form: LoginForm,
}

/// What the browser may do on the OP's pages.
#[derive(Clone, Copy, Debug)]
pub struct Interact {
    /// Fill and submit a login form.
    pub login: bool,
    /// Allow on a consent page.
    pub consent: bool,
}

impl Interact {
    pub const USER: Interact = Interact {
        login: true,
        consent: true,
    };
    pub const NONE: Interact = Interact {
        login: false,
        consent: false,
    };
}

/// The first request of an authorization.
#[derive(Clone, Debug)]
pub enum Start {
    Get(Url),
    Post(Url, Vec<(String, String)>),
}

/// A cookie in the jar: its value and what decides whether a script in a frame may read it.
#[derive(Clone, Debug)]
struct Cookie {
    value: String,
    http_only: bool,
    /// `SameSite`, lower-cased, when given.
    same_site: Option<String>,
}

/// A user agent with its own cookie jar.
pub struct Browser {
    http: reqwest::Client,
    /// (host, cookie name) → cookie.
    cookies: BTreeMap<(String, String), Cookie>,
    user: User,
}

const MAX_STEPS: usize = 25;

impl Browser {
    pub fn new(http: reqwest::Client, user: User) -> Self {
        Self {
            http,
            cookies: BTreeMap::new(),
            user,
        }
    }

    fn cookie_header(&self, url: &Url) -> Option<HeaderValue> {
        let host = url.host_str()?;
        let pairs: Vec<String> = self
            .cookies
            .iter()
            .filter(|((h, _), _)| h == host)
            .map(|((_, name), cookie)| format!("{name}={}", cookie.value))
            .collect();
        if pairs.is_empty() {
            None
        } else {
            HeaderValue::from_str(&pairs.join("; ")).ok()
        }
    }

    pub(crate) fn store_cookies(&mut self, url: &Url, headers: &HeaderMap) {
        let Some(host) = url.host_str() else { return };
        for value in headers.get_all(header::SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            let mut parts = text.split(';');
            let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let (name, value) = (
                name.trim().to_string(),
                value.trim().trim_matches('"').to_string(),
            );
            let (mut expired, mut http_only, mut same_site) = (false, false, None);
            for attribute in parts {
                let attribute = attribute.trim().to_ascii_lowercase();
                if let Some(age) = attribute.strip_prefix("max-age=") {
                    expired |= age.trim().parse::<i64>().is_ok_and(|a| a <= 0);
                } else if let Some(date) = attribute.strip_prefix("expires=") {
                    expired |= date.contains("1970");
                } else if attribute == "httponly" {
                    http_only = true;
                } else if let Some(value) = attribute.strip_prefix("samesite=") {
                    same_site = Some(value.trim().to_string());
                }
            }
            let key = (host.to_string(), name);
            if expired {
                self.cookies.remove(&key);
            } else {
                self.cookies.insert(key, Cookie { value, http_only, same_site });
            }
        }
    }

    /// The cookies a script of a document at `url` reads (`document.cookie`) when that document
    /// is framed by a page at `embedder`: those of its host that are not HttpOnly and, when the
    /// two are not same-site, only `SameSite=None` ones. Same-site is judged strictly: the same
    /// scheme and host (a browser would also count sibling subdomains).
    pub fn script_cookies(&self, url: &Url, embedder: &Url) -> Vec<(String, String)> {
        let Some(host) = url.host_str() else { return Vec::new() };
        let same_site = url.scheme() == embedder.scheme() && Some(host) == embedder.host_str();
        self.cookies
            .iter()
            .filter(|((h, _), cookie)| {
                h == host && !cookie.http_only && (same_site || cookie.same_site.as_deref() == Some("none"))
            })
            .map(|((_, name), cookie)| (name.clone(), cookie.value.clone()))
            .collect()
    }

    /// One request with the jar's cookies; the response's cookies go into the jar.
    pub async fn send(
        &mut self,
        method: Method,
        url: &Url,
        form: Option<&[(String, String)]>,
    ) -> Step<Response> {
        let mut request = self.http.request(method.clone(), url.clone());
        if let Some(cookie) = self.cookie_header(url) {
            request = request.header(header::COOKIE, cookie);
        }
        if let Some(form) = form {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish();
            request = request
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body);
        }
        let response = request.send().await.map_err(|e| {
            Abort::Stop(format!(
                "{method} {}: {}",
                &url[..Position::AfterPath],
                error_chain(&e)
            ))
        })?;
        let response = Response::read(response).await?;
        self.store_cookies(url, &response.headers);
        Ok(response)
    }

    /// Drives an authorization from `start` until the client (whose URLs begin with
    /// `client_prefix`, the redirect URI without query) receives the response, or the OP shows
    /// a page the browser is not to handle.
    pub async fn authorize(
        &mut self,
        start: Start,
        client_prefix: &str,
        interact: Interact,
    ) -> Step<Landing> {
        let (mut method, mut url, mut form) = match start {
            Start::Get(url) => (Method::GET, url, None),
            Start::Post(url, form) => (Method::POST, url, Some(form)),
        };
        let mut landing = Landing {
            end: End::Page(empty_response(&url)),
            login_forms: 0,
            consents: 0,
            trail: Vec::new(),
        };
        let mut logins = 0;
        for _ in 0..MAX_STEPS {
            landing
                .trail
                .push(format!("{method} {}", &url[..Position::AfterPath]));
            let response = self.send(method.clone(), &url, form.as_deref()).await?;
            if response.is_redirect() {
                let next = response.location().ok_or_else(|| {
                    Abort::Stop(format!("{} has an unusable Location", response.describe()))
                })?;
                if is_client_url(&next, client_prefix) {
                    landing.end = End::Callback(callback_from_url(next));
                    return Ok(landing);
                }
                // 307 and 308 repeat the method and body; the others become a GET.
                if !matches!(response.status, 307 | 308) {
                    method = Method::GET;
                    form = None;
                }
                url = next;
                continue;
            }
            if response.is_html() {
                let forms = html::forms(&response.body);
                if let Some(posted) = forms.iter().find(|f| {
                    action_url(f, &response.url).is_some_and(|a| is_client_url(&a, client_prefix))
                }) {
                    let action = action_url(posted, &response.url).expect("checked above");
                    landing.end = End::Callback(Callback {
                        query: action.query_pairs().into_owned().collect(),
                        url: action,
                        mode: ResponseMode::FormPost {
                            method: posted.method.clone(),
                            enctype: posted.enctype.clone(),
                        },
                        fragment: Vec::new(),
                        form: posted.fields.clone(),
                    });
                    return Ok(landing);
                }
                if let Some(login) = forms
                    .iter()
                    .find(|f| f.has_input(&self.user.form.password_field))
                {
                    landing.login_forms += 1;
                    if !interact.login || logins >= 2 {
                        landing.end = End::Page(response);
                        return Ok(landing);
                    }
                    logins += 1;
                    let mut fields = login.fields.clone();
                    set_field(
                        &mut fields,
                        &self.user.form.username_field,
                        &self.user.username,
                    );
                    set_field(
                        &mut fields,
                        &self.user.form.password_field,
                        &self.user.password,
                    );
                    if let Some(button) = login.buttons.iter().find(|(_, v)| !looks_like_cancel(v))
                    {
                        fields.push(button.clone());
                    }
                    (method, url, form) = submission(login, &response.url, fields)?;
                    continue;
                }
                if let Some(consent) = forms.iter().find(|f| f.has_button("decision", "allow")) {
                    landing.consents += 1;
                    if !interact.consent {
                        landing.end = End::Page(response);
                        return Ok(landing);
                    }
                    let mut fields = consent.fields.clone();
                    fields.push(("decision".into(), "allow".into()));
                    (method, url, form) = submission(consent, &response.url, fields)?;
                    continue;
                }
            }
            landing.end = End::Page(response);
            return Ok(landing);
        }
        Err(Abort::Stop(format!(
            "the authorization did not end after {MAX_STEPS} requests: {}",
            landing.trail.join(" → ")
        )))
    }
}

fn empty_response(url: &Url) -> Response {
    Response {
        status: 0,
        url: url.clone(),
        headers: HeaderMap::new(),
        body: String::new(),
    }
}

fn looks_like_cancel(value: &str) -> bool {
    let v = value.to_ascii_lowercase();
    ["cancel", "deny", "reject", "abort", "back"]
        .iter()
        .any(|w| v.contains(w))
}

fn set_field(fields: &mut Vec<(String, String)>, name: &str, value: &str) {
    match fields.iter_mut().find(|(n, _)| n == name) {
        Some(field) => field.1 = value.to_string(),
        None => fields.push((name.to_string(), value.to_string())),
    }
}

fn action_url(form: &Form, page: &Url) -> Option<Url> {
    match form.action.as_deref().map(str::trim) {
        None | Some("") => Some(page.clone()),
        Some(action) => page.join(action).ok(),
    }
}

/// A request the browser makes next: method, URL, and the form body of a POST.
type Request = (Method, Url, Option<Vec<(String, String)>>);

/// The request a browser makes when it submits `form` with `fields`.
fn submission(form: &Form, page: &Url, fields: Vec<(String, String)>) -> Step<Request> {
    let mut action = action_url(form, page)
        .ok_or_else(|| Abort::Stop(format!("a form on {page} has an unusable action")))?;
    if form.method == "post" {
        Ok((Method::POST, action, Some(fields)))
    } else {
        action.set_query(None);
        action.query_pairs_mut().extend_pairs(&fields);
        Ok((Method::GET, action, None))
    }
}

/// The URL without query and fragment.
pub fn base_of(url: &Url) -> &str {
    &url[..Position::AfterPath]
}

fn is_client_url(url: &Url, client_prefix: &str) -> bool {
    base_of(url).starts_with(client_prefix)
}

fn callback_from_url(url: Url) -> Callback {
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let fragment: Vec<(String, String)> = url
        .fragment()
        .map(|f| {
            url::form_urlencoded::parse(f.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let mode = if fragment.is_empty() {
        ResponseMode::Query
    } else {
        ResponseMode::Fragment
    };
    Callback {
        url,
        mode,
        query,
        fragment,
        form: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_query_and_fragment_responses() {
        let cb = callback_from_url(Url::parse("https://rp/cb?bar=foo&code=c&state=s").unwrap());
        assert_eq!(cb.mode, ResponseMode::Query);
        assert_eq!(cb.params()["code"], "c");
        let cb =
            callback_from_url(Url::parse("https://rp/cb#error=login_required&state=s%2B").unwrap());
        assert_eq!(cb.mode, ResponseMode::Fragment);
        assert_eq!(cb.params()["state"], "s+");
        assert!(is_client_url(
            &Url::parse("https://rp/cb/extra?x").unwrap(),
            "https://rp/cb"
        ));
        assert!(!is_client_url(
            &Url::parse("https://op/cb").unwrap(),
            "https://rp/cb"
        ));
    }

    #[test]
    fn keeps_and_drops_cookies() {
        let mut browser = Browser::new(
            reqwest::Client::new(),
            User {
                username: "u".into(),
                password: "p".into(),
                form: LoginForm::default(),
            },
        );
        let url = Url::parse("https://op/x").unwrap();
        let mut headers = HeaderMap::new();
        headers.append(
            header::SET_COOKIE,
            HeaderValue::from_static("sid=abc; Path=/; HttpOnly; Secure"),
        );
        headers.append(header::SET_COOKIE, HeaderValue::from_static("csrf=1"));
        browser.store_cookies(&url, &headers);
        assert_eq!(browser.cookie_header(&url).unwrap(), "csrf=1; sid=abc");
        let mut headers = HeaderMap::new();
        headers.append(
            header::SET_COOKIE,
            HeaderValue::from_static("sid=; Max-Age=0"),
        );
        browser.store_cookies(&url, &headers);
        assert_eq!(browser.cookie_header(&url).unwrap(), "csrf=1");
        let mut headers = HeaderMap::new();
        headers.append(header::SET_COOKIE, HeaderValue::from_static("bs=v1; Path=/; SameSite=None; Secure"));
        headers.append(header::SET_COOKIE, HeaderValue::from_static("lax=v2; SameSite=Lax"));
        headers.append(header::SET_COOKIE, HeaderValue::from_static("hidden=v3; HttpOnly; SameSite=None"));
        browser.store_cookies(&url, &headers);
        let cross_site = Url::parse("https://rp.example/page").unwrap();
        assert_eq!(browser.script_cookies(&url, &cross_site), [("bs".to_string(), "v1".to_string())]);
        let same_site = Url::parse("https://op:8443/page").unwrap();
        let names: Vec<String> = browser.script_cookies(&url, &same_site).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["bs", "csrf", "lax"]);
        assert!(
            browser
                .cookie_header(&Url::parse("https://elsewhere/").unwrap())
                .is_none()
        );
    }
}

#[cfg(test)]
mod scripted_op {
    //! The browser against a tiny scripted OP on loopback: redirects, cookies, the login form
    //! with its hidden fields, consent, and a form_post response; and an error page.

    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn read_request(stream: &mut tokio::net::TcpStream) -> String {
        let mut buffer = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).await.unwrap();
            buffer.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buffer).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse::<usize>().unwrap())
                    })
                    .unwrap_or(0);
                if buffer.len() >= end + 4 + length || n == 0 {
                    return text;
                }
            }
            if n == 0 {
                return text;
            }
        }
    }

    fn respond(status: &str, headers: &[(&str, &str)], body: &str) -> String {
        let mut out = format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
            body.len()
        );
        for (name, value) in headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        out.push_str(body);
        out
    }

    /// Serves the scripted OP; returns its base URL.
    async fn start() -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                let request = read_request(&mut stream).await;
                let line = request.lines().next().unwrap_or("").to_string();
                let cookie_ok = request.contains("op_session=s1");
                let html = [("Content-Type", "text/html; charset=utf-8")];
                let response = if line.starts_with("GET /authorize?bad") {
                    respond(
                        "400 Bad Request",
                        &html,
                        "<html><head><title>Sign-in error</title></head><body>unknown redirect_uri</body></html>",
                    )
                } else if line.starts_with("GET /authorize") {
                    respond(
                        "302 Found",
                        &[
                            ("Location", "/login?ticket=t1"),
                            ("Set-Cookie", "op_session=s1; Path=/; HttpOnly"),
                        ],
                        "",
                    )
                } else if line.starts_with("GET /login") && cookie_ok {
                    respond(
                        "200 OK",
                        &html,
                        r#"<form method="post" action="login"><input type="hidden" name="ticket" value="t1"><input type="hidden" name="csrf_token" value="c&amp;1"><input name="username"><input type="password" name="password"><button type="submit">Sign in</button></form>"#,
                    )
                } else if line.starts_with("POST /login")
                    && request.ends_with("ticket=t1&csrf_token=c%261&username=ann&password=secret")
                {
                    respond("303 See Other", &[("Location", "/consent")], "")
                } else if line.starts_with("POST /login") {
                    respond(
                        "401 Unauthorized",
                        &html,
                        r#"<form method="post" action="/login"><input name="username"><input type="password" name="password"></form>"#,
                    )
                } else if line.starts_with("GET /consent") && cookie_ok {
                    respond(
                        "200 OK",
                        &html,
                        r#"<form method="post"><input type="hidden" name="csrf_token" value="c2"><button name="decision" value="deny">No</button><button name="decision" value="allow">Yes</button></form>"#,
                    )
                } else if line.starts_with("POST /consent")
                    && request.ends_with("csrf_token=c2&decision=allow")
                {
                    respond(
                        "200 OK",
                        &html,
                        r#"<html><body onload="document.forms[0].submit()"><form method="post" action="https://rp.example/cb?bar=foo"><input type="hidden" name="code" value="the-code"><input type="hidden" name="state" value="st"></form></body></html>"#,
                    )
                } else {
                    respond(
                        "500 Internal Server Error",
                        &[],
                        &format!("unexpected: {line}"),
                    )
                };
                let _ = stream.write_all(response.as_bytes()).await;
            }
        });
        base
    }

    fn browser(password: &str) -> Browser {
        let user = User {
            username: "ann".into(),
            password: password.into(),
            form: LoginForm::default(),
        };
        Browser::new(http_client(None).unwrap(), user)
    }

    #[tokio::test]
    async fn signs_in_consents_and_reads_a_form_post_response() {
        let base = start().await;
        let start = Start::Get(Url::parse(&format!("{base}/authorize?client_id=c")).unwrap());
        let landing = browser("secret")
            .authorize(start, "https://rp.example/cb", Interact::USER)
            .await
            .unwrap();
        assert_eq!(
            (landing.login_forms, landing.consents),
            (1, 1),
            "{:?}",
            landing.trail
        );
        let callback = landing.callback().expect("back at the client");
        assert_eq!(
            callback.mode,
            ResponseMode::FormPost {
                method: "post".into(),
                enctype: None
            }
        );
        assert_eq!(callback.params()["code"], "the-code");
        assert_eq!(callback.query_map()["bar"], "foo");
    }

    #[tokio::test]
    async fn stops_at_an_error_page_a_refused_login_or_a_login_it_may_not_fill() {
        let base = start().await;
        let bad = Start::Get(Url::parse(&format!("{base}/authorize?bad")).unwrap());
        let landing = browser("secret")
            .authorize(bad, "https://rp.example/cb", Interact::USER)
            .await
            .unwrap();
        match &landing.end {
            End::Page(page) => assert_eq!(
                (page.status, html::title(&page.body).as_deref()),
                (400, Some("Sign-in error"))
            ),
            other => panic!("{other:?}"),
        }
        let start = || Start::Get(Url::parse(&format!("{base}/authorize?client_id=c")).unwrap());
        let landing = browser("wrong")
            .authorize(start(), "https://rp.example/cb", Interact::USER)
            .await
            .unwrap();
        assert!(matches!(landing.end, End::Page(ref p) if p.status == 401));
        assert_eq!(landing.login_forms, 3, "the form came back after two tries");
        let landing = browser("secret")
            .authorize(start(), "https://rp.example/cb", Interact::NONE)
            .await
            .unwrap();
        assert!(matches!(landing.end, End::Page(ref p) if p.status == 200));
        assert_eq!(landing.login_forms, 1);
    }
}
