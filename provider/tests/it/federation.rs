//! Federation through the router in process, against real peers on loopback: the upstream
//! OpenID provider (node-oidc-provider shaped like Entra ID and Google Workspace, see
//! `federation/upstream-op`), a second Poort as a generic upstream, and OpenLDAP's slapd.
//!
//! The person's browser is two halves: [`Browser`] for Poort's router (in process, keeping its
//! cookies), and [`Agent`] for the upstream (real HTTP, keeping the upstream's cookies, so its
//! session lives on between sign-ins). Every failure case checks its page, its audit event, and
//! that no account changed and nothing was linked.

#[path = "../peers/mod.rs"]
mod peers;

use crate::accounts::read_outbox;
use crate::browser::{Browser, Page};
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use peers::directory;
use peers::upstream::{self, TENANT_A, Upstream};
use poort::accounts::activation::{self, Invitation};
use poort::accounts::links::LinkMailer;
use poort::app;
use poort::state::AppState;
use poort_config::{ConnectorKind, ConnectorSettings, Settings};
use poort_storage::repo::{NewUser, UserRecord, UserStatus};
use poort_themes::Locale;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

const ISSUER: &str = "https://op.example";
const CALLBACK: &str = "https://op.example/federation/callback";
const CB: &str = "https://rp.example/cb";
const LANDING: &str = "https://crm.example/login";
const LOCAL_PASSWORD: &str = "correct horse battery staple";

fn upstream() -> &'static Upstream {
    upstream::shared(&[CALLBACK])
}

// --- The upstream half of the browser ----------------------------------------------------------

/// The person's browser at the upstream: real HTTP, its own cookies, no redirects followed by
/// itself.
struct Agent {
    http: reqwest::Client,
    cookies: BTreeMap<String, String>,
}

/// Where an upstream visit ended.
enum Upstreamed {
    /// Back at Poort: the callback's path and query.
    Back(String),
    /// The upstream's sign-in form was shown (and filled in, if credentials were given).
    Stuck(String),
}

impl Agent {
    fn new() -> Self {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Agent { http, cookies: BTreeMap::new() }
    }

    async fn send(&mut self, request: reqwest::RequestBuilder) -> (StatusCode, Option<String>, String) {
        let cookie = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
        let response = request.header("cookie", cookie).send().await.expect("the upstream answers");
        for value in response.headers().get_all("set-cookie") {
            let text = value.to_str().unwrap();
            let (name, value) = text.split(';').next().unwrap().split_once('=').unwrap();
            if value.is_empty() || text.to_ascii_lowercase().contains("expires=thu, 01 jan 1970") {
                self.cookies.remove(name);
            } else {
                self.cookies.insert(name.to_string(), value.to_string());
            }
        }
        let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
        let location = response.headers().get("location").map(|l| l.to_str().unwrap().to_string());
        (status, location, response.text().await.unwrap_or_default())
    }

    /// Follows the upstream from `url` until it sends the browser back to Poort; signs in on its
    /// form as `login` when it asks (with `None`, a form is where it stops).
    async fn visit(&mut self, url: &str, login: Option<&str>) -> Upstreamed {
        let mut url = url.to_string();
        let mut signed_in = false;
        for _ in 0..12 {
            if let Some(back) = url.strip_prefix(ISSUER) {
                return Upstreamed::Back(back.to_string());
            }
            let (status, location, body) = self.send(self.http.get(&url)).await;
            if let Some(next) = location {
                url = absolute(&url, &next);
                continue;
            }
            assert_eq!(status, StatusCode::OK, "upstream page {url}: {body}");
            let action = between(&body, r#"action=""#, "\"").unwrap_or_else(|| panic!("no form at {url}: {body}"));
            let Some(login) = login.filter(|_| !signed_in) else { return Upstreamed::Stuck(body) };
            signed_in = true;
            let form = [("login", login), ("password", upstream::PASSWORD)];
            let (status, location, body) = self.send(self.http.post(absolute(&url, &action)).form(&form)).await;
            url = absolute(&url, &location.unwrap_or_else(|| panic!("the upstream refused {login}: {status} {body}")));
        }
        panic!("the upstream kept redirecting: {url}")
    }
}

fn absolute(base: &str, location: &str) -> String {
    url::Url::parse(base).unwrap().join(location).unwrap().to_string()
}

fn between(text: &str, start: &str, end: &str) -> Option<String> {
    let from = text.find(start)? + start.len();
    let to = text[from..].find(end)? + from;
    Some(text[from..to].replace("&amp;", "&"))
}

// --- The provider ------------------------------------------------------------------------------

struct Op {
    state: AppState,
    _dir: tempfile::TempDir,
}

/// The Entra connector for the multi-tenant face, limited to tenant A unless `edit` says other.
fn entra(id: &str, domain: &str, edit: impl FnOnce(&mut ConnectorSettings)) -> ConnectorSettings {
    let mut connector = ConnectorSettings::new(id, ConnectorKind::Entra);
    connector.name = Some(format!("{id} (Microsoft 365)"));
    connector.tenant = Some("organizations".into());
    connector.authority = Some(upstream().authority().parse().unwrap());
    connector.allowed_tenants = vec![TENANT_A.into()];
    connector.client_id = Some("poort".into());
    connector.client_secret = Some(upstream::CLIENT_SECRET.into());
    connector.domains = vec![domain.into()];
    connector.timeout = Duration::from_secs(2);
    edit(&mut connector);
    connector
}

fn ldap(id: &str, domain: &str, edit: impl FnOnce(&mut ConnectorSettings)) -> ConnectorSettings {
    let directory = directory::shared();
    let mut connector = ConnectorSettings::new(id, ConnectorKind::Ldap);
    connector.name = Some("Windows".into());
    connector.url = Some(directory.url.clone());
    connector.starttls = true;
    connector.ca_file = Some(directory.ca_file.clone());
    connector.bind_dn = Some(directory::SERVICE_DN.into());
    connector.bind_password = Some(directory::SERVICE_PASSWORD.into());
    connector.base_dn = Some(directory::BASE_DN.into());
    connector.group_base_dn = Some(format!("ou=groups,{}", directory::BASE_DN));
    connector.group_roles.insert(directory::ADMINS_GROUP.into(), vec!["user level 0".into()]);
    connector.domains = vec![domain.into()];
    connector.timeout = Duration::from_secs(2);
    edit(&mut connector);
    connector
}

impl Op {
    /// A provider with `connectors` (written to the store as `poort serve` does) and the
    /// first-party client `crm`.
    async fn new(connectors: Vec<ConnectorSettings>) -> Op {
        Self::with(connectors, |_| {}).await
    }

    async fn with(connectors: Vec<ConnectorSettings>, configure: impl FnOnce(&mut Settings)) -> Op {
        let (state, dir) = crate::support::provider(ISSUER, |settings| {
            settings.accounts.failure_delay = Duration::ZERO;
            settings.connectors = connectors;
            configure(settings);
        })
        .await;
        poort::federation::connectors::sync_configured(&state.store, &state.settings).await.unwrap();
        let metadata = serde_json::json!({
            "redirect_uris": [CB], "client_name": "CRM", "first_party": true, "initiate_login_uri": LANDING,
        });
        crate::support::insert_client(&state, "crm", metadata).await;
        Op { state, _dir: dir }
    }

    fn browser(&self) -> Browser {
        let addr = SocketAddr::new("192.0.2.7".parse().unwrap(), 40000);
        Browser::new(app::app(self.state.clone()).layer(axum::Extension(ConnectInfo(addr))))
    }

    async fn user(&self, email: &str, status: UserStatus) -> UserRecord {
        let new = NewUser {
            email: email.into(),
            username: None,
            display_name: None,
            email_verified: false,
            claims: serde_json::json!({}),
            status,
            auth_method: "password".into(),
            password_hash: Some(poort::password::hash(LOCAL_PASSWORD)),
        };
        self.state.store.users().create(new).await.unwrap()
    }

    async fn get(&self, email: &str) -> Option<UserRecord> {
        self.state.store.users().find_by_email(email).await.unwrap()
    }

    async fn links_of(&self, email: &str) -> Vec<(String, String)> {
        let Some(user) = self.get(email).await else { return Vec::new() };
        let links = self.state.store.federated_identities().for_user(&user.id).await.unwrap();
        links.into_iter().map(|l| (l.connector, l.subject)).collect()
    }

    async fn audit(&self, kind: &str) -> Vec<serde_json::Value> {
        let events = self.state.store.audit().list(None, 1000).await.unwrap();
        events.into_iter().filter(|e| e.kind == kind).map(|e| e.detail).collect()
    }

    fn text(&self, key: &str, connector: &str) -> String {
        let text = self.state.theme.translate(Locale::En, key, &[("connector", connector)]).unwrap();
        text.replace('&', "&amp;").replace('\'', "&#x27;").replace('"', "&quot;")
    }
}

/// Starts an authorization of `crm` with `extra` parameters; returns the sign-in page's path.
async fn authorize(browser: &mut Browser, extra: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.extend_pairs([
        ("response_type", "code"),
        ("client_id", "crm"),
        ("redirect_uri", CB),
        ("scope", "openid email profile"),
        ("state", "rp-state"),
        ("nonce", "rp-nonce"),
    ]);
    query.extend_pairs(extra);
    let page = browser.get(&format!("/authorize?{}", query.finish())).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    page.location.unwrap()
}

/// The identifier step: opens the sign-in page and gives the user ID.
async fn identify(browser: &mut Browser, login_page: &str, user_id: &str) -> Page {
    let page = browser.get(login_page).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains(r#"name="step" value="identify""#), "identifier first: {}", page.body);
    assert!(!page.body.contains(r#"name="password""#), "no password on the identifier step");
    let ticket = page.input("ticket").unwrap();
    let csrf = page.input("csrf_token").unwrap();
    browser.post_form("/login", &[("ticket", &ticket), ("csrf_token", &csrf), ("step", "identify"), ("username", user_id)]).await
}

/// From the identifier step to the upstream and back: the callback's response.
async fn sign_in_upstream(browser: &mut Browser, agent: &mut Agent, user_id: &str, upstream_login: &str) -> Page {
    let login_page = authorize(browser, &[]).await;
    let page = identify(browser, &login_page, user_id).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "straight upstream: {}", page.body);
    let url = page.location.unwrap();
    assert!(url.contains(&format!("login_hint={}", user_id.replace('@', "%40"))), "login_hint goes upstream: {url}");
    match agent.visit(&url, Some(upstream_login)).await {
        Upstreamed::Back(callback) => browser.get(&callback).await,
        Upstreamed::Stuck(body) => panic!("the upstream did not send the browser back: {body}"),
    }
}

/// The code a callback's redirect brought to the client, redeemed: the ID token's claims.
async fn redeem(op: &Op, page: &Page) -> serde_json::Map<String, serde_json::Value> {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let location = page.location.clone().unwrap();
    assert!(location.starts_with(CB), "back at the client: {location}");
    let code = page.location_params()["code"].clone();
    let response = app::app(op.state.clone())
        .oneshot(
            axum::http::Request::post("/token")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("authorization", crate::grant_fixture::basic_header("crm", crate::support::CLIENT_SECRET))
                .body(axum::body::Body::from(crate::grant_fixture::encode(&[
                    ("grant_type", "authorization_code"),
                    ("code", &code),
                    ("redirect_uri", CB),
                ])))
                .unwrap(),
        )
        .await
        .unwrap();
    use http_body_util::BodyExt;
    let body: serde_json::Value = serde_json::from_slice(&response.into_body().collect().await.unwrap().to_bytes()).unwrap();
    crate::grant_fixture::part(body["id_token"].as_str().expect("an ID token"), 1)
}

use tower::ServiceExt;

// --- Entra ID ----------------------------------------------------------------------------------

#[tokio::test]
async fn entra_sign_in_links_by_verified_address_reflects_the_upstream_amr_and_is_silent_afterwards() {
    let op = Op::new(vec![entra("contoso", "contoso.test", |_| {})]).await;
    let user = op.user("alice@contoso.test", UserStatus::Active).await;
    let mut agent = Agent::new();
    let mut browser = op.browser();
    let page = sign_in_upstream(&mut browser, &mut agent, "alice@contoso.test", "alice@contoso.test").await;
    let claims = redeem(&op, &page).await;
    assert_eq!(claims["amr"], serde_json::json!(["fed", "pwd", "mfa"]), "amr: fed plus the upstream's");
    assert_eq!(claims["acr"], "1");
    let subject = format!("{TENANT_A}/aaaaaaaa-0000-4000-8000-000000000001");
    assert_eq!(op.links_of("alice@contoso.test").await, [("contoso".to_string(), subject.clone())]);
    let linked = op.get("alice@contoso.test").await.unwrap();
    assert_eq!(linked.auth_method, "contoso", "signs in through the connector from now on");
    assert_eq!(linked.id, user.id);
    let succeeded = op.audit("login.succeeded").await;
    assert_eq!(succeeded[0]["method"], "federated");

    // Poort's session is gone (another browser), the upstream's lives: no form anywhere.
    let mut fresh = op.browser();
    let login_page = authorize(&mut fresh, &[]).await;
    let page = identify(&mut fresh, &login_page, "alice@contoso.test").await;
    let Upstreamed::Back(callback) = agent.visit(&page.location.unwrap(), None).await else {
        panic!("the upstream asked for credentials again although its session lives");
    };
    let page = fresh.get(&callback).await;
    redeem(&op, &page).await;
    // And with Poort's own session alive, the client gets a code without any page.
    let page = fresh.get(&authorize_url(&[])).await;
    assert!(page.location.unwrap().starts_with(CB), "signed in at Poort: straight back to the client");
    // The user overview says how the account signs in, in words.
    let shown = poort::accounts::overview::show(&op.state.store, &linked).await.unwrap();
    assert_eq!(shown["sign_in_method"], "through contoso (Microsoft 365) (Microsoft Entra ID connector `contoso`)");
    assert_eq!(shown["federated_identities"][0]["subject"], subject);
}

fn authorize_url(extra: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.extend_pairs([("response_type", "code"), ("client_id", "crm"), ("redirect_uri", CB), ("scope", "openid"), ("nonce", "n")]);
    query.extend_pairs(extra);
    format!("/authorize?{}", query.finish())
}

#[tokio::test]
async fn prompt_login_from_the_client_asks_the_upstream_again() {
    let op = Op::new(vec![entra("contoso", "contoso.test", |_| {})]).await;
    op.user("grace@contoso.test", UserStatus::Active).await;
    let mut agent = Agent::new();
    let mut browser = op.browser();
    let page = sign_in_upstream(&mut browser, &mut agent, "grace@contoso.test", "grace@contoso.test").await;
    redeem(&op, &page).await;
    let login_page = authorize(&mut browser, &[("prompt", "login")]).await;
    let page = identify(&mut browser, &login_page, "grace@contoso.test").await;
    let url = page.location.unwrap();
    assert!(url.contains("prompt=login"), "the client's prompt=login goes upstream: {url}");
    assert!(matches!(agent.visit(&url, None).await, Upstreamed::Stuck(_)), "the upstream asks again");
}

#[tokio::test]
async fn invited_people_activate_through_single_sign_on_and_land_signed_in() {
    let op = Op::new(vec![entra("contoso", "contoso.test", |_| {})]).await;
    let invitation = Invitation { email: "carol@contoso.test".into(), client_id: Some("crm".into()), ..Invitation::default() };
    let invited = activation::invite(&LinkMailer::of(&op.state), invitation).await.unwrap();
    invited.mail.expect("the activation mail goes out");
    let mail = read_outbox(&op.state.settings.outbox_dir()).pop().unwrap();
    let link = mail.link();
    let mut browser = op.browser();
    let page = browser.get(&link).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(r#"action="/federation/start""#), "continue upstream: {}", page.body);
    assert!(!page.body.contains(r#"name="password""#), "an upstream-only domain chooses no password");
    assert!(page.body.contains("carol@contoso.test"), "the page shows the address");
    // A password posted anyway is refused.
    let csrf = page.input("csrf_token").unwrap();
    let token = page.input("token").unwrap();
    let refused = browser
        .post_form("/activate", &[("token", &token), ("csrf_token", &csrf), ("password", "Zuiderzee-fietsbel-42"), ("password_confirm", "Zuiderzee-fietsbel-42")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(op.get("carol@contoso.test").await.unwrap().status, UserStatus::Invited);

    let page = browser.post_form("/federation/start", &[("token", &token), ("csrf_token", &csrf), ("connector", "contoso")]).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let mut agent = Agent::new();
    let Upstreamed::Back(callback) = agent.visit(&page.location.unwrap(), Some("carol@contoso.test")).await else { panic!() };
    let page = browser.get(&callback).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(page.location.as_deref().unwrap().starts_with(LANDING), "lands at the inviting client: {:?}", page.location);
    let user = op.get("carol@contoso.test").await.unwrap();
    assert_eq!((user.status, user.email_verified, user.auth_method.as_str()), (UserStatus::Active, true, "contoso"));
    assert_eq!(op.links_of("carol@contoso.test").await.len(), 1);
    assert_eq!(op.audit("account.activated").await[0]["method"], "federated");
    // Signed in: the client gets a code without a page; the link is spent.
    let again = browser.get(&authorize_url(&[])).await;
    assert!(again.location.unwrap().starts_with(CB));
    assert_eq!(browser.get(&link).await.status, StatusCode::GONE);
}

#[tokio::test]
async fn activation_with_another_upstream_address_is_refused_and_changes_nothing() {
    let op = Op::new(vec![entra("contoso", "contoso.test", |_| {})]).await;
    let invitation = Invitation { email: "dave@contoso.test".into(), ..Invitation::default() };
    activation::invite(&LinkMailer::of(&op.state), invitation).await.unwrap();
    let link = read_outbox(&op.state.settings.outbox_dir()).pop().unwrap().link();
    let mut browser = op.browser();
    let page = browser.get(&link).await;
    let (token, csrf) = (page.input("token").unwrap(), page.input("csrf_token").unwrap());
    let page = browser.post_form("/federation/start", &[("token", &token), ("csrf_token", &csrf), ("connector", "contoso")]).await;
    let mut agent = Agent::new();
    let Upstreamed::Back(callback) = agent.visit(&page.location.unwrap(), Some("other@contoso.test")).await else { panic!() };
    let page = browser.get(&callback).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.body.contains(&op.text("federation.error.email_mismatch", "contoso (Microsoft 365)")), "{}", page.body);
    let user = op.get("dave@contoso.test").await.unwrap();
    assert_eq!(user.status, UserStatus::Invited, "still invited");
    assert!(op.links_of("dave@contoso.test").await.is_empty(), "nothing linked");
    assert!(op.get("other@contoso.test").await.is_none());
    assert_eq!(op.audit("federation.failed").await[0]["reason"], "email_mismatch");
    assert_eq!(browser.get(&link).await.status, StatusCode::OK, "the link still works");
}

/// Each spoilt answer of the upstream, the reason Poort records and the text it shows.
#[tokio::test]
async fn every_bad_upstream_answer_shows_its_page_and_changes_nothing() {
    let faults = upstream::FAULTS;
    let connectors = faults
        .iter()
        .map(|(fault, _)| entra(fault, &format!("{fault}.test"), |c| c.client_id = Some(format!("fault-{fault}"))))
        .collect();
    let op = Op::new(connectors).await;
    op.user("frank@contoso.test", UserStatus::Active).await;
    let mut agent = Agent::new();
    for (index, (fault, reason)) in faults.iter().enumerate() {
        let mut browser = op.browser();
        let login_page = authorize(&mut browser, &[]).await;
        let page = identify(&mut browser, &login_page, &format!("frank@{fault}.test")).await;
        let Upstreamed::Back(callback) = agent.visit(&page.location.unwrap(), Some("frank@contoso.test")).await else { panic!() };
        let page = browser.get(&callback).await;
        assert!(page.status.is_client_error() || page.status.is_server_error(), "{fault}: {} {}", page.status, page.body);
        let name = format!("{fault} (Microsoft 365)");
        assert!(page.body.contains(&op.text(&format!("federation.error.{reason}"), &name)), "{fault}: {}", page.body);
        assert!(!browser.cookies.contains_key("poort_session"), "{fault}: no session");
        let failed = op.audit("federation.failed").await;
        assert_eq!(failed.len(), index + 1);
        assert_eq!(failed[0]["reason"], *reason, "{fault}: {}", failed[0]);
        assert_eq!(failed[0]["connector"], *fault);
    }
    let user = op.get("frank@contoso.test").await.unwrap();
    assert_eq!(user.auth_method, "password", "no account changed");
    assert!(op.links_of("frank@contoso.test").await.is_empty(), "nothing linked");
    assert!(op.audit("login.succeeded").await.is_empty());
}

#[tokio::test]
async fn callbacks_from_another_browser_replayed_or_unknown_are_refused() {
    let op = Op::new(vec![entra("contoso", "contoso.test", |_| {})]).await;
    op.user("erin@contoso.test", UserStatus::Active).await;
    let mut browser = op.browser();
    let login_page = authorize(&mut browser, &[]).await;
    let page = identify(&mut browser, &login_page, "erin@contoso.test").await;
    let mut agent = Agent::new();
    let Upstreamed::Back(callback) = agent.visit(&page.location.unwrap(), Some("erin@contoso.test")).await else { panic!() };

    // Another browser (an attacker who sends someone their own callback) is refused, and
    // that does not spend the real browser's flow.
    let mut other = op.browser();
    let page = other.get(&callback).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains(&op.text("federation.error.state_mismatch", "")), "{}", page.body);
    // Unknown and missing states.
    for bad in ["/federation/callback?state=made-up&code=x", "/federation/callback?code=x", "/federation/callback"] {
        let page = browser.get(bad).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    assert!(op.links_of("erin@contoso.test").await.is_empty());

    let page = browser.get(&callback).await;
    redeem(&op, &page).await;
    assert_eq!(op.links_of("erin@contoso.test").await.len(), 1);
    // The same callback again is a replay.
    let page = browser.get(&callback).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains(&op.text("federation.error.replayed", "")), "{}", page.body);
    let reasons: Vec<_> = op.audit("federation.failed").await.iter().map(|d| d["reason"].as_str().unwrap().to_string()).collect();
    assert_eq!(reasons.iter().filter(|r| *r == "replayed").count(), 1);
    assert_eq!(reasons.iter().filter(|r| *r == "state_mismatch").count(), 4);
}

#[tokio::test]
async fn unverified_addresses_foreign_tenants_and_unknown_people_are_refused_unless_provisioned() {
    let multi = entra("anyone", "contoso.test", |c| c.allowed_tenants.clear());
    let listed = entra("listed", "fabrikam.test", |_| {});
    let op = Op::new(vec![multi, listed]).await;
    op.user("alice@contoso.test", UserStatus::Active).await;
    op.user("bob@fabrikam.test", UserStatus::Active).await;
    let mut agent = Agent::new();

    // Any tenant may claim any address: without a tenant list the address links nothing.
    let page = sign_in_upstream(&mut op.browser(), &mut agent, "alice@contoso.test", "alice@contoso.test").await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.body.contains(&op.text("federation.error.email_unverified", "anyone (Microsoft 365)")), "{}", page.body);
    // A tenant the connector does not list.
    let page = sign_in_upstream(&mut op.browser(), &mut Agent::new(), "bob@fabrikam.test", "bob@fabrikam.test").await;
    assert!(page.body.contains(&op.text("federation.error.tenant_not_allowed", "")), "{}", page.body);
    assert!(op.links_of("alice@contoso.test").await.is_empty() && op.links_of("bob@fabrikam.test").await.is_empty());
    let reasons: Vec<_> = op.audit("federation.failed").await.iter().map(|d| d["reason"].clone()).collect();
    assert_eq!(reasons, ["tenant_not_allowed", "email_unverified"]);

    // Someone Poort does not know: "not added", unless the connector provisions.
    let op = Op::new(vec![entra("contoso", "contoso.test", |_| {})]).await;
    let page = sign_in_upstream(&mut op.browser(), &mut Agent::new(), "newcomer@contoso.test", "newcomer@contoso.test").await;
    assert!(page.body.contains(&op.text("federation.error.not_added", "")), "{}", page.body);
    assert!(op.get("newcomer@contoso.test").await.is_none(), "no account made");
    let op = Op::new(vec![entra("contoso", "contoso.test", |c| c.jit_provisioning = true)]).await;
    let page = sign_in_upstream(&mut op.browser(), &mut Agent::new(), "newcomer@contoso.test", "newcomer@contoso.test").await;
    redeem(&op, &page).await;
    let made = op.get("newcomer@contoso.test").await.expect("provisioned just in time");
    assert_eq!((made.status, made.auth_method.as_str(), made.email_verified), (UserStatus::Active, "contoso", true));
    assert_eq!(made.display_name.as_deref(), Some("newcomer"));
}

#[tokio::test]
async fn single_tenant_with_private_key_jwt_and_a_client_that_names_its_connector() {
    let pkjwt = entra("contoso", "contoso.test", |c| {
        c.tenant = Some(TENANT_A.into());
        c.allowed_tenants.clear();
        c.client_id = Some("poort-pkjwt".into());
        c.client_secret = None;
    });
    let op = Op::new(vec![]).await;
    let key = upstream().client_key_pem.clone();
    poort::federation::connectors::save(&op.state.store, &op.state.hash_key, pkjwt, Some(key), poort_storage::repo::ConnectorSource::Admin)
        .await
        .unwrap();
    // A client that signs in through the connector skips Poort's sign-in page.
    let metadata = serde_json::json!({ "redirect_uris": [CB], "first_party": true, "connector": "contoso" });
    crate::support::insert_client(&op.state, "portal", metadata).await;
    op.user("alice@contoso.test", UserStatus::Active).await;
    let mut browser = op.browser();
    let url = authorize_url(&[]).replace("client_id=crm", "client_id=portal");
    let page = browser.get(&url).await;
    let page = browser.get(&page.location.unwrap()).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "straight upstream: {}", page.body);
    let Upstreamed::Back(callback) = Agent::new().visit(&page.location.unwrap(), Some("alice@contoso.test")).await else { panic!() };
    let page = browser.get(&callback).await;
    assert!(page.location.as_deref().is_some_and(|l| l.starts_with(CB)), "{} {}", page.status, page.body);
    assert_eq!(op.links_of("alice@contoso.test").await.len(), 1, "single-tenant addresses are trusted");
}

// --- Google Workspace ---------------------------------------------------------------------------

fn google() -> ConnectorSettings {
    let mut connector = ConnectorSettings::new("google", ConnectorKind::Google);
    connector.name = Some("Google".into());
    connector.issuer = Some(upstream().google_issuer().parse().unwrap());
    connector.client_id = Some("poort".into());
    connector.client_secret = Some(upstream::CLIENT_SECRET.into());
    connector.hosted_domains = vec!["example.test".into()];
    connector.domains = vec!["example.test".into()];
    connector.timeout = Duration::from_secs(2);
    connector
}

#[tokio::test]
async fn google_accepts_only_listed_workspace_domains_and_verified_addresses() {
    let op = Op::new(vec![google()]).await;
    op.user("jan@example.test", UserStatus::Active).await;
    op.user("unverified@example.test", UserStatus::Active).await;
    op.user("someone@gmail.test", UserStatus::Active).await;
    let page = sign_in_upstream(&mut op.browser(), &mut Agent::new(), "jan@example.test", "jan@example.test").await;
    redeem(&op, &page).await;
    assert_eq!(op.links_of("jan@example.test").await.len(), 1);

    let page = sign_in_upstream(&mut op.browser(), &mut Agent::new(), "unverified@example.test", "unverified@example.test").await;
    assert!(page.body.contains(&op.text("federation.error.email_unverified", "Google")), "{}", page.body);
    // A personal account, reached through the relying party's idp_hint.
    let mut browser = op.browser();
    let login_page = authorize(&mut browser, &[("idp_hint", "google")]).await;
    let page = browser.get(&login_page).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "idp_hint goes straight upstream");
    let Upstreamed::Back(callback) = Agent::new().visit(&page.location.unwrap(), Some("someone@gmail.test")).await else { panic!() };
    let page = browser.get(&callback).await;
    assert!(page.body.contains(&op.text("federation.error.domain_not_allowed", "Google")), "{}", page.body);
    assert!(op.links_of("unverified@example.test").await.is_empty() && op.links_of("someone@gmail.test").await.is_empty());
    assert_eq!(op.get("someone@gmail.test").await.unwrap().auth_method, "password");
}

// --- Home-realm discovery, and no passwords for single sign-on -----------------------------------

#[tokio::test]
async fn identifier_first_routes_each_domain_its_own_way() {
    let both = entra("both", "both.test", |c| c.allow_password = true);
    let op = Op::new(vec![entra("contoso", "contoso.test", |_| {}), both]).await;
    op.user("pat@password.test", UserStatus::Active).await;
    op.user("sam@both.test", UserStatus::Active).await;
    op.user("alice@contoso.test", UserStatus::Active).await;
    let mut browser = op.browser();
    // A password domain: the password step, for that user ID, without single sign-on.
    let login_page = authorize(&mut browser, &[]).await;
    let page = identify(&mut browser, &login_page, "pat@password.test").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(r#"name="password""#) && page.body.contains("readonly"), "{}", page.body);
    assert!(!page.body.contains("/federation/start"));
    let (ticket, csrf) = (page.input("ticket").unwrap(), page.input("csrf_token").unwrap());
    let page = browser
        .post_form("/login", &[("ticket", &ticket), ("csrf_token", &csrf), ("username", "pat@password.test"), ("password", LOCAL_PASSWORD)])
        .await;
    assert!(page.location.unwrap().starts_with(CB), "signed in with a password");

    // A domain that allows both: the password step with the way upstream beside it.
    let mut browser = op.browser();
    let login_page = authorize(&mut browser, &[]).await;
    let page = identify(&mut browser, &login_page, "sam@both.test").await;
    assert!(page.body.contains(r#"name="password""#) && page.body.contains(r#"action="/federation/start""#), "{}", page.body);

    // An upstream-only domain never gets a password checked, even posted directly.
    let mut browser = op.browser();
    let login_page = authorize(&mut browser, &[]).await;
    let page = browser.get(&login_page).await;
    let (ticket, csrf) = (page.input("ticket").unwrap(), page.input("csrf_token").unwrap());
    let page = browser
        .post_form("/login", &[("ticket", &ticket), ("csrf_token", &csrf), ("username", "alice@contoso.test"), ("password", LOCAL_PASSWORD)])
        .await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.body.contains(&op.text("sign_in.password_not_available", "")), "{}", page.body);
    assert!(!browser.cookies.contains_key("poort_session"));
    // A login_hint from the client routes without the question.
    let mut browser = op.browser();
    let login_page = authorize(&mut browser, &[("login_hint", "alice@contoso.test")]).await;
    let page = browser.get(&login_page).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert!(page.location.unwrap().starts_with(&upstream().base));
}

#[tokio::test]
async fn people_of_single_sign_on_domains_get_no_password_change_or_reset() {
    let op = Op::new(vec![entra("contoso", "contoso.test", |_| {})]).await;
    op.user("alice@contoso.test", UserStatus::Active).await;
    let mut browser = op.browser();
    let page = sign_in_upstream(&mut browser, &mut Agent::new(), "alice@contoso.test", "alice@contoso.test").await;
    redeem(&op, &page).await;
    for (language, key) in [("en", Locale::En), ("nl", Locale::Nl)] {
        let page = browser.get_in_language("/account/password", language).await;
        assert_eq!(page.status, StatusCode::OK);
        let text = op.state.theme.translate(key, "change_password.federated", &[("connector", "contoso (Microsoft 365)")]).unwrap();
        assert!(page.body.contains(&text.replace('\'', "&#x27;")), "{language}: {}", page.body);
        assert!(!page.body.contains(r#"name="current_password""#));
    }
    let csrf = browser.cookies["poort_csrf"].clone();
    let page = browser.post_form("/account/password", &[("csrf_token", &csrf), ("current_password", "x"), ("password", "y"), ("password_confirm", "y")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);

    // Forgot password: the usual answer, but no mail (also for a password account of the domain).
    op.user("carl@contoso.test", UserStatus::Active).await;
    for email in ["alice@contoso.test", "carl@contoso.test"] {
        let mut browser = op.browser();
        let page = browser.get("/password/forgot").await;
        let csrf = page.input("csrf_token").unwrap();
        let page = browser.post_form("/password/forgot", &[("csrf_token", &csrf), ("email", email)]).await;
        assert_eq!(page.status, StatusCode::OK);
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while op.audit("password.reset_requested").await.len() < 2 {
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(op.audit("password.reset_requested").await.iter().all(|d| d["mailed"] == false));
    assert!(read_outbox(&op.state.settings.outbox_dir()).is_empty(), "no reset link for single sign-on users");
}

// --- A second Poort as a generic OpenID Connect upstream -----------------------------------------

#[tokio::test]
async fn a_second_poort_is_a_generic_upstream_with_userinfo_and_claim_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "[[clients]]\nclient_id = \"downstream\"\nclient_secret = \"downstream-secret-0001\"\nredirect_uris = [\"{CALLBACK}\"]\nfirst_party = true\n"
    );
    std::fs::write(dir.path().join("poort.toml"), config).unwrap();
    let added = crate::support::poort()
        .current_dir(dir.path())
        .args(["--config", "poort.toml", "user", "add", "--email", "kim@upstream.test", "--name", "Kim Upstream", "--email-verified", "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"an upstream password\n")?;
            child.wait()
        })
        .unwrap();
    assert!(added.success());
    let port = peers::free_port();
    let server = crate::support::Server::start(dir.path(), |c| {
        c.env("POORT_CONFIG", "poort.toml").env("POORT__SERVER__LISTEN", format!("127.0.0.1:{port}"));
    });
    let mut connector = ConnectorSettings::new("corp", ConnectorKind::Oidc);
    connector.issuer = Some(server.base_url.parse().unwrap());
    connector.client_id = Some("downstream".into());
    connector.client_secret = Some("downstream-secret-0001".into());
    connector.userinfo = true;
    connector.trust_email = Some(true);
    connector.jit_provisioning = true;
    connector.claims.insert("nickname".into(), "name".into());
    connector.domains = vec!["upstream.test".into()];
    let op = Op::new(vec![connector]).await;
    let mut browser = op.browser();
    let login_page = authorize(&mut browser, &[]).await;
    let page = identify(&mut browser, &login_page, "kim@upstream.test").await;
    // At the upstream Poort: its own sign-in page.
    let mut agent = Agent::new();
    let mut url = page.location.unwrap();
    let body = loop {
        let (status, location, body) = agent.send(agent.http.get(&url)).await;
        match location {
            Some(next) => url = absolute(&url, &next),
            None => {
                assert_eq!(status, StatusCode::OK, "{body}");
                break body;
            }
        }
    };
    let field = |name: &str| between(&body, &format!(r#"name="{name}" value=""#), "\"").unwrap();
    let form = [("ticket", field("ticket")), ("csrf_token", field("csrf_token")), ("username", "kim@upstream.test".into()), ("password", "an upstream password".into())];
    let (_, location, body) = agent.send(agent.http.post(format!("{}/login", server.base_url)).form(&form)).await;
    let callback = location.unwrap_or_else(|| panic!("the upstream Poort did not sign in: {body}"));
    let page = browser.get(callback.strip_prefix(ISSUER).unwrap()).await;
    let claims = redeem(&op, &page).await;
    assert_eq!(claims["amr"], serde_json::json!(["fed", "pwd"]));
    let user = op.get("kim@upstream.test").await.expect("provisioned from the upstream's verified address");
    assert_eq!(user.display_name.as_deref(), Some("Kim Upstream"), "the name from userinfo");
    assert_eq!(user.claims["nickname"], "Kim Upstream", "mapped claim");
    assert_eq!(op.links_of("kim@upstream.test").await[0].0, "corp");
}

// --- Active Directory / LDAP ---------------------------------------------------------------------

/// Signs in on the password step with a directory user name.
async fn directory_sign_in(op: &Op, browser: &mut Browser, user_id: &str, password: &str) -> Page {
    let login_page = authorize(browser, &[]).await;
    let page = identify(browser, &login_page, user_id).await;
    assert!(page.body.contains(r#"name="password""#), "the password step: {}", page.body);
    assert!(!page.body.contains("/password/forgot"), "a directory password is not reset here");
    let _ = op;
    let (ticket, csrf) = (page.input("ticket").unwrap(), page.input("csrf_token").unwrap());
    browser.post_form("/login", &[("ticket", &ticket), ("csrf_token", &csrf), ("username", user_id), ("password", password)]).await
}

#[tokio::test]
async fn directory_users_sign_in_with_their_user_name_and_groups_become_roles() {
    let op = Op::new(vec![ldap("ad", "corp.test", |_| {})]).await;
    let user = op.user("jdoe@corp.test", UserStatus::Invited).await;
    op.state.store.users().set_roles(&user.id, &["visitor".to_string()]).await.unwrap();
    let mut browser = op.browser();
    let page = directory_sign_in(&op, &mut browser, "jdoe", directory::PASSWORD).await;
    let claims = redeem(&op, &page).await;
    assert_eq!(claims["amr"], serde_json::json!(["fed", "pwd"]));
    let user = op.get("jdoe@corp.test").await.unwrap();
    assert_eq!((user.status, user.auth_method.as_str()), (UserStatus::Active, "ad"), "linked and active");
    assert_eq!(user.roles, ["user level 0", "visitor"], "the group's role added, others kept");
    // The link is the directory's entryUUID; the e-mail address works as user ID too.
    let links = op.links_of("jdoe@corp.test").await;
    assert_eq!(links.len(), 1);
    assert_eq!(links[0].1.len(), 36, "an entryUUID: {}", links[0].1);
    let page = directory_sign_in(&op, &mut op.browser(), "jdoe@corp.test", directory::PASSWORD).await;
    assert!(page.location.unwrap().starts_with(CB));
    // Without the group, the mapped role goes (asmith has none).
    op.user("asmith@corp.test", UserStatus::Active).await;
    let asmith = op.get("asmith@corp.test").await.unwrap();
    op.state.store.users().set_roles(&asmith.id, &["user level 0".to_string()]).await.unwrap();
    let page = directory_sign_in(&op, &mut op.browser(), "asmith", directory::PASSWORD).await;
    redeem(&op, &page).await;
    assert!(op.get("asmith@corp.test").await.unwrap().roles.is_empty());
}

#[tokio::test]
async fn wrong_directory_passwords_are_ordinary_wrong_credentials_under_the_throttle() {
    let op = Op::new(vec![ldap("ad", "corp.test", |c| {
        // Plain LDAP is allowed when asked for, on loopback.
        c.starttls = false;
        c.allow_plain_ldap = true;
        c.ca_file = None;
    })])
    .await;
    op.user("jdoe@corp.test", UserStatus::Active).await;
    let wrong = op.text("sign_in.invalid_credentials", "");
    for (user_id, password) in [("jdoe", "not it"), ("nobody", "whatever"), ("twin@corp.test", directory::PASSWORD), ("jdoe", "")] {
        let page = directory_sign_in(&op, &mut op.browser(), user_id, password).await;
        assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{user_id}");
        assert!(page.body.contains(&wrong), "{user_id}: {}", page.body);
    }
    assert!(op.links_of("jdoe@corp.test").await.is_empty());
    // Five failures for one account lock it, as for passwords here.
    for _ in 0..4 {
        directory_sign_in(&op, &mut op.browser(), "jdoe", "still wrong").await;
    }
    let page = directory_sign_in(&op, &mut op.browser(), "jdoe", directory::PASSWORD).await;
    assert!(page.body.contains(&op.text("sign_in.too_many_attempts", "")), "locked: {}", page.body);
    assert!(op.links_of("jdoe@corp.test").await.is_empty(), "the right password while locked signs nobody in");
    assert_eq!(op.audit("login.failed").await.len(), 8);
}

#[tokio::test]
async fn an_unreachable_directory_or_a_refused_service_account_says_so_and_logs_why() {
    let closed = format!("ldap://127.0.0.1:{}", peers::free_port());
    let down = ldap("down", "down.test", |c| {
        c.url = Some(closed.clone());
        c.starttls = false;
        c.allow_plain_ldap = true;
    });
    let refused = ldap("refused", "corp.test", |c| c.bind_password = Some("not the service password".into()));
    let op = Op::new(vec![down, refused]).await;
    for user_id in ["jdoe@down.test", "jdoe@corp.test"] {
        let page = directory_sign_in(&op, &mut op.browser(), user_id, directory::PASSWORD).await;
        assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE, "{user_id}");
        assert!(page.body.contains(&op.text("sign_in.directory_unavailable", "")), "{}", page.body);
    }
    let failed = op.audit("federation.failed").await;
    assert_eq!(failed.len(), 2);
    assert!(failed[1]["detail"].as_str().unwrap().contains("connecting failed"), "{}", failed[1]);
    assert!(failed[0]["detail"].as_str().unwrap().contains("service account"), "{}", failed[0]);
    assert!(failed[0]["detail"].as_str().unwrap().contains("invalid credentials"), "{}", failed[0]);
    assert!(op.audit("login.failed").await.is_empty(), "the person's password was never judged");
}

#[tokio::test]
async fn invited_directory_users_activate_with_their_directory_password() {
    let op = Op::new(vec![ldap("ad", "corp.test", |_| {})]).await;
    activation::invite(&LinkMailer::of(&op.state), Invitation { email: "jdoe@corp.test".into(), ..Invitation::default() })
        .await
        .unwrap();
    let link = read_outbox(&op.state.settings.outbox_dir()).pop().unwrap().link();
    let mut browser = op.browser();
    let page = browser.get(&link).await;
    assert!(page.body.contains(r#"name="directory" value="1""#), "{}", page.body);
    let (token, csrf) = (page.input("token").unwrap(), page.input("csrf_token").unwrap());
    let form = |password: &'static str| {
        [("token", token.clone()), ("csrf_token", csrf.clone()), ("directory", "1".into()), ("username", "jdoe".into()), ("password", password.into())]
    };
    let page = browser.post_form("/activate", &form("wrong").iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>()).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert_eq!(op.get("jdoe@corp.test").await.unwrap().status, UserStatus::Invited);
    let page = browser.post_form("/activate", &form(directory::PASSWORD).iter().map(|(k, v)| (*k, v.as_str())).collect::<Vec<_>>()).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let user = op.get("jdoe@corp.test").await.unwrap();
    assert_eq!((user.status, user.auth_method.as_str()), (UserStatus::Active, "ad"));
    assert_eq!(user.roles, ["user level 0"]);
}

// --- The CLI and the configuration ----------------------------------------------------------------

#[tokio::test]
async fn connectors_are_added_changed_and_removed_with_the_cli_and_configured_ones_only_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = "[[connectors]]\nid = \"configured\"\nkind = \"google\"\nclient_id = \"c\"\nclient_secret = \"s\"\nhosted_domains = [\"example.com\"]\n";
    std::fs::write(dir.path().join("poort.toml"), config).unwrap();
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut child = crate::support::poort()
            .current_dir(dir.path())
            .arg("--config")
            .arg("poort.toml")
            .args(args)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(stdin.unwrap_or("").as_bytes()).unwrap();
        let output = child.wait_with_output().unwrap();
        (output.status.success(), String::from_utf8_lossy(&output.stdout).into_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let (ok, _, stderr) = run(
        &["connector", "add", "--id", "ad", "--kind", "ldap", "--url", "ldaps://dc.corp.example", "--base-dn", "dc=corp,dc=example",
          "--bind-dn", "cn=poort", "--bind-password-stdin", "--group-role", "cn=admins=user level 0", "--domain", "corp.example"],
        Some("service-secret\n"),
    );
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = run(&["connector", "add", "--id", "ad", "--kind", "ldap"], None);
    assert!(!ok && stderr.contains("exists"), "{stderr}");
    let (ok, _, stderr) = run(&["connector", "add", "--id", "bad", "--kind", "entra", "--client-id", "c", "--client-secret-stdin"], Some("s\n"));
    assert!(!ok && stderr.contains("connector.tenant"), "names the setting: {stderr}");
    let (ok, stdout, _) = run(&["connector", "show", "ad", "--json"], None);
    assert!(ok);
    let shown: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(shown["settings"]["group_roles"]["cn=admins"], serde_json::json!(["user level 0"]));
    assert!(!stdout.contains("service-secret"), "secrets are never shown");
    // `update` changes what it is given and keeps the rest: the bind DN, and the password.
    let (ok, stdout, stderr) = run(
        &["connector", "update", "ad", "--domain", "ad.example", "--allow-password", "--unset", "group_roles", "--json"],
        None,
    );
    assert!(ok, "{stderr}");
    let shown: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(shown["domains"], serde_json::json!(["ad.example"]));
    assert_eq!(shown["settings"]["allow_password"], true);
    assert_eq!(shown["settings"]["bind_dn"], "cn=poort");
    assert!(shown["settings"].get("group_roles").is_none(), "{shown}");
    assert_eq!((shown["source"].as_str(), shown["has_secrets"].as_bool()), (Some("cli"), Some(true)));
    let (ok, stdout, _) = run(&["connector", "update", "ad", "--allow-password", "false", "--json"], None);
    assert!(ok);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&stdout).unwrap()["settings"]["allow_password"], false);
    // A change that leaves the connector invalid names the setting and stores nothing.
    let (ok, _, stderr) = run(&["connector", "update", "ad", "--unset", "url", "--domain", "elsewhere.example"], None);
    assert!(!ok && stderr.contains("connector.url"), "{stderr}");
    let (ok, _, stderr) = run(&["connector", "update", "ad", "--unset", "tenant"], None);
    assert!(!ok && stderr.contains("no setting `tenant`"), "{stderr}");
    let (ok, _, stderr) = run(&["connector", "update", "ad", "--unset", "kind"], None);
    assert!(!ok && stderr.contains("kind stays"), "{stderr}");
    let (ok, _, stderr) = run(&["connector", "update", "nobody", "--name", "x"], None);
    assert!(!ok && stderr.contains("no connector `nobody`"), "{stderr}");
    let (ok, _, stderr) = run(&["connector", "add", "--id", "ad", "--kind", "ldap"], None);
    assert!(!ok && stderr.contains("poort connector update"), "{stderr}");
    // The password is rotated by giving it anew.
    let (ok, _, stderr) = run(&["connector", "update", "ad", "--bind-password-stdin"], Some("rotated-secret\n"));
    assert!(ok, "{stderr}");
    // A client can be told to sign in through it.
    let (ok, _, stderr) = run(&["client", "add", "--client-id", "portal", "--redirect-uri", CB, "--connector", "ad"], None);
    assert!(ok, "{stderr}");
    let (_, stdout, _) = run(&["client", "show", "portal", "--json"], None);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&stdout).unwrap()["metadata"]["connector"], "ad");
    // `serve` would write the configured one; `migrate` does not, so write it as serve does.
    let (settings, _) = poort_config::load(Some(&dir.path().join("poort.toml"))).unwrap();
    let mut settings = settings;
    settings.storage.data_dir = dir.path().join("poort-data");
    let store = poort::open_store(&settings).await.unwrap();
    poort::federation::connectors::sync_configured(&store, &settings).await.unwrap();
    let hash_key = poort::secrets::hash_key(&store).await.unwrap();
    let ad = poort::federation::connectors::load(&store, &hash_key, "ad").await.unwrap().unwrap();
    assert_eq!(ad.secrets.bind_password.as_deref(), Some("rotated-secret"));
    assert_eq!((ad.settings.domains.as_slice(), ad.settings.url.as_deref()), (&["ad.example".to_string()][..], Some("ldaps://dc.corp.example")));
    store.close().await.unwrap();
    let (ok, _, stderr) = run(&["connector", "update", "configured", "--name", "Google"], None);
    assert!(!ok && stderr.contains("configuration file"), "{stderr}");
    let (ok, stdout, _) = run(&["connector", "list"], None);
    assert!(ok && stdout.contains("configured") && stdout.contains("config") && stdout.contains("ad.example"), "{stdout}");
    let (ok, _, stderr) = run(&["connector", "remove", "configured"], None);
    assert!(!ok && stderr.contains("configuration file"), "{stderr}");
    let (ok, stdout, _) = run(&["connector", "remove", "ad"], None);
    assert!(ok && stdout.contains("removed"));
    let (ok, _, _) = run(&["connector", "show", "ad"], None);
    assert!(!ok);
}

#[tokio::test]
async fn an_upstream_whose_discovery_is_not_a_document_is_unavailable_before_anyone_leaves() {
    let mut broken = ConnectorSettings::new("broken", ConnectorKind::Oidc);
    broken.issuer = Some(format!("{}/nowhere", upstream().base).parse().unwrap());
    broken.client_id = Some("poort".into());
    broken.client_secret = Some(upstream::CLIENT_SECRET.into());
    broken.domains = vec!["broken.test".into()];
    let op = Op::new(vec![broken]).await;
    let mut browser = op.browser();
    let login_page = authorize(&mut browser, &[]).await;
    let page = identify(&mut browser, &login_page, "ann@broken.test").await;
    assert_eq!(page.status, StatusCode::BAD_GATEWAY, "{}", page.body);
    assert!(page.body.contains(&op.text("federation.error.unavailable", "broken")), "{}", page.body);
    let failed = op.audit("federation.failed").await;
    assert!(failed[0]["detail"].as_str().unwrap().contains("the discovery document"), "{}", failed[0]);
    assert!(op.state.store.flows().find("anything").await.unwrap().is_none());
    assert!(!browser.cookies.contains_key("poort_federation"), "nothing was started");
}

#[tokio::test]
async fn an_answer_naming_another_issuer_is_refused_as_a_mix_up() {
    let op = Op::new(vec![entra("contoso", "contoso.test", |_| {})]).await;
    op.user("grace@contoso.test", UserStatus::Active).await;
    let mut browser = op.browser();
    let login_page = authorize(&mut browser, &[]).await;
    let page = identify(&mut browser, &login_page, "grace@contoso.test").await;
    let Upstreamed::Back(callback) = Agent::new().visit(&page.location.unwrap(), Some("grace@contoso.test")).await else { panic!() };
    let (path, query) = callback.split_once('?').unwrap();
    let mut params: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    assert!(params.iter().any(|(k, _)| k == "iss"), "the upstream names itself (RFC 9207): {callback}");
    for (name, value) in params.iter_mut() {
        if name == "iss" {
            *value = "https://evil.example".into();
        }
    }
    let forged = format!("{path}?{}", url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&params).finish());
    let page = browser.get(&forged).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.body.contains(&op.text("federation.error.wrong_issuer", "contoso (Microsoft 365)")), "{}", page.body);
    assert!(op.links_of("grace@contoso.test").await.is_empty());
    assert_eq!(op.audit("federation.failed").await[0]["reason"], "wrong_issuer");
}

#[tokio::test]
async fn a_sign_in_started_on_one_node_finishes_on_another_on_postgresql() {
    let db = crate::support::PgDatabase::create().await;
    let node = |db_url: String| async move {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = crate::support::sqlite_settings(dir.path());
        settings.server.issuer = Some(ISSUER.parse().unwrap());
        settings.storage.database_url = Some(db_url);
        settings.connectors = vec![entra("contoso", "contoso.test", |_| {})];
        let store = poort::open_store(&settings).await.unwrap();
        poort::federation::connectors::sync_configured(&store, &settings).await.unwrap();
        (poort::app::state(settings, store).await.unwrap(), dir)
    };
    let (a, _dir_a) = node(db.url.clone()).await;
    let (b, _dir_b) = node(db.url.clone()).await;
    let metadata = serde_json::json!({ "redirect_uris": [CB], "first_party": true });
    crate::support::insert_client(&a, "crm", metadata).await;
    let op_a = Op { state: a, _dir: tempfile::tempdir().unwrap() };
    op_a.user("alice@contoso.test", UserStatus::Active).await;
    let mut browser = op_a.browser();
    let login_page = authorize(&mut browser, &[]).await;
    let page = identify(&mut browser, &login_page, "alice@contoso.test").await;
    let Upstreamed::Back(callback) = Agent::new().visit(&page.location.unwrap(), Some("alice@contoso.test")).await else { panic!() };
    // The way back reaches the other node, which knows the flow from the database.
    let router_a = std::mem::replace(&mut browser.router, app::app(b.clone()));
    let page = browser.get(&callback).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert!(page.location.unwrap().starts_with(CB));
    // And a replay on the first node is refused.
    browser.router = router_a;
    let page = browser.get(&callback).await;
    assert!(page.body.contains(&op_a.text("federation.error.replayed", "")), "{}", page.body);
    assert_eq!(op_a.links_of("alice@contoso.test").await.len(), 1);
}
