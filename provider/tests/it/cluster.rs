//! Real `poort serve` processes for the many-node and fault tests: a configuration with a
//! relying party and a service client, a user, and a browser over real HTTP that keeps cookies
//! and follows nothing by itself, so a test can send each request to the node it chooses.

use crate::browser::Page;
use crate::support::{Server, poort};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

/// The issuer every node advertises (the nodes sit behind one name).
pub const ISSUER: &str = "http://id.example.test";
pub const CB: &str = "https://rp.example/cb";
pub const BYE: &str = "https://rp.example/bye";
pub const SECRET: &str = "a-client-secret-for-the-nodes";
pub const USER: &str = "ann";
pub const PASSWORD: &str = "correct horse battery staple";

/// `poort.toml` with the relying party `rp` (code, refresh tokens, no consent page) and the
/// service client `svc` (client_credentials, opaque access tokens).
pub fn write_config(dir: &Path) {
    write_config_with(dir, "");
}

/// [`write_config`] with `rp`'s extra settings `rp_extra` (TOML lines of its `[[clients]]` block).
pub fn write_config_with(dir: &Path, rp_extra: &str) {
    let config = format!(
        r#"
[[clients]]
client_id = "rp"
client_secret = "{SECRET}"
redirect_uris = ["{CB}"]
post_logout_redirect_uris = ["{BYE}"]
grant_types = ["authorization_code", "refresh_token"]
first_party = true
{rp_extra}

[[clients]]
client_id = "svc"
client_secret = "{SECRET}"
redirect_uris = []
grant_types = ["client_credentials"]
scope = "api:read"
access_token_format = "opaque"
"#
    );
    std::fs::write(dir.join("poort.toml"), config).unwrap();
}

/// `poort user add` with a password, against the database `url`.
pub fn add_user(dir: &Path, url: &str) {
    let mut child = poort()
        .current_dir(dir)
        .env("POORT_CONFIG", "poort.toml")
        .env("POORT__STORAGE__DATABASE_URL", url)
        .args(["user", "add", "--email", "ann@example.com", "--username", USER, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(PASSWORD.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "poort user add: {}", String::from_utf8_lossy(&output.stderr));
}

/// A node on the database `url` with the shared configuration of `dir`.
pub fn start_node(dir: &Path, url: &str, configure: impl FnOnce(&mut std::process::Command)) -> Server {
    Server::start(dir, |c| {
        c.env("POORT_CONFIG", "poort.toml")
            .env("POORT__STORAGE__DATABASE_URL", url)
            .env("POORT__SERVER__ISSUER", ISSUER)
            .env("POORT__ACCOUNTS__FAILURE_DELAY", "0s");
        configure(c);
    })
}

/// A browser (or a relying party's back end) over real HTTP with its own cookie jar.
pub struct Agent {
    client: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
}

impl Agent {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .unwrap();
        Self { client, cookies: BTreeMap::new() }
    }

    pub async fn get(&mut self, url: &str) -> Page {
        let request = self.client.get(url);
        self.send(request).await
    }

    pub async fn post_form(&mut self, url: &str, fields: &[(&str, &str)]) -> Page {
        let request = self.client.post(url).form(fields);
        self.send(request).await
    }

    /// A form post with HTTP Basic client authentication (a relying party's back channel).
    pub async fn post_client(&mut self, url: &str, client: &str, fields: &[(&str, &str)]) -> Page {
        let request = self.client.post(url).basic_auth(client, Some(SECRET)).form(fields);
        self.send(request).await
    }

    async fn send(&mut self, mut request: reqwest::RequestBuilder) -> Page {
        if !self.cookies.is_empty() {
            let cookie = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
            request = request.header(reqwest::header::COOKIE, cookie);
        }
        let response = request.send().await.unwrap();
        crate::browser::remember_cookies(&mut self.cookies, response.headers());
        let status = response.status();
        let headers = response.headers().clone();
        let location = headers.get(reqwest::header::LOCATION).map(|v| v.to_str().unwrap().to_string());
        let body = response.text().await.unwrap();
        Page { status, location, body, headers }
    }

    /// Starts an authorization at `authorize_on`, fetches the sign-in page from `page_from`,
    /// posts it to `post_to`, and returns the code from the redirect to the relying party.
    pub async fn sign_in(&mut self, authorize_on: &str, page_from: &str, post_to: &str) -> String {
        let start = self.get(&format!("{authorize_on}{}", authorize_path(""))).await;
        let login = start.location.clone().unwrap_or_else(|| panic!("to the sign-in page: {} {}", start.status, start.body));
        let page = self.get(&format!("{page_from}{login}")).await;
        let ticket = page.input("ticket").expect("a ticket");
        let csrf = page.input("csrf_token").expect("a CSRF token");
        let done = self
            .post_form(
                &format!("{post_to}/login"),
                &[("ticket", &ticket), ("csrf_token", &csrf), ("username", USER), ("password", PASSWORD)],
            )
            .await;
        code_from(&done)
    }
}

/// The authorization request of `rp` (with a refresh token), plus `extra` parameters.
pub fn authorize_path(extra: &str) -> String {
    format!(
        "/authorize?client_id=rp&redirect_uri={}&response_type=code&scope=openid%20offline_access&state=s&nonce=n{extra}",
        urlencode(CB)
    )
}

pub fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// The code of a redirect to the relying party.
pub fn code_from(page: &Page) -> String {
    let location = page.location.as_deref().unwrap_or_else(|| panic!("a redirect: {} {}", page.status, page.body));
    assert!(location.starts_with(CB), "{location}");
    page.location_params().get("code").unwrap_or_else(|| panic!("a code in {location}")).clone()
}

/// The JSON body of a page.
pub fn json(page: &Page) -> serde_json::Value {
    serde_json::from_str(&page.body).unwrap_or_else(|e| panic!("JSON ({e}): {} {}", page.status, page.body))
}
