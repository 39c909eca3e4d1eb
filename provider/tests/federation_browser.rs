//! Federation in a real browser: headless Chromium against a real `poort serve` with connectors
//! (so its sign-in page asks for the user ID first), the upstream OpenID provider
//! (node-oidc-provider as Entra ID, `federation/upstream-op`) and OpenLDAP's slapd on loopback,
//! activation mails over SMTP. The harness is the browser suite's (`browser/harness.rs`), with
//! this binary's `[[connectors]]` added; screenshots go to `test-artifacts/browser/<test>/`.

#[path = "browser/harness.rs"]
mod harness;
#[path = "peers/mod.rs"]
mod peers;

use harness::{Browser, CRM, Client, SETTINGS, suite};
use peers::upstream::FAULTS;
use peers::{directory, upstream};
use poort_themes::{Locale, Theme};
use std::sync::OnceLock;


/// The suite with this binary's connectors: Contoso (Entra, `contoso.test`, tenant A), one
/// connector per fault (`<fault>.test`), and the directory (`corp.test`, just-in-time).
fn federated_suite() -> &'static harness::Suite {
    let _ = harness::EXTRA_CONFIG.get_or_init(|| {
        let up = upstream::shared(&[]);
        let entra = |id: &str, client: &str, domain: &str| {
            format!(
                "[[connectors]]\nid = \"{id}\"\nkind = \"entra\"\nname = \"{name}\"\ntenant = \"organizations\"\n\
                 authority = \"{authority}\"\nallowed_tenants = [\"{tenant}\"]\nclient_id = \"{client}\"\n\
                 client_secret = \"{secret}\"\ndomains = [\"{domain}\"]\ntimeout = \"2s\"\n\n",
                name = if id == "contoso" { "Contoso" } else { id },
                authority = up.authority(),
                tenant = upstream::TENANT_A,
                secret = upstream::CLIENT_SECRET,
            )
        };
        let mut config = entra("contoso", "poort", "contoso.test");
        for (fault, _) in FAULTS {
            config.push_str(&entra(fault, &format!("fault-{fault}"), &format!("{fault}.test")));
        }
        let dir = directory::shared();
        config.push_str(&format!(
            "[[connectors]]\nid = \"ad\"\nkind = \"ldap\"\nname = \"Windows\"\nurl = \"{url}\"\nstarttls = true\n\
             ca_file = \"{ca}\"\nbind_dn = \"{service}\"\nbind_password = \"{password}\"\nbase_dn = \"{base}\"\n\
             group_base_dn = \"ou=groups,{base}\"\njit_provisioning = true\ndomains = [\"corp.test\"]\n\
             [connectors.group_roles]\n\"{admins}\" = [\"{role}\"]\n",
            url = dir.url,
            ca = dir.ca_file.display(),
            service = directory::SERVICE_DN,
            password = directory::SERVICE_PASSWORD,
            base = directory::BASE_DN,
            admins = directory::ADMINS_GROUP,
            role = harness::SETTINGS_ROLE,
        ));
        config
    });
    suite()
}

fn en(key: &str, parameters: &[(&str, &str)]) -> String {
    static THEME: OnceLock<Theme> = OnceLock::new();
    THEME
        .get_or_init(|| Theme::load(None, Locale::En).expect("the built-in theme loads"))
        .translate(Locale::En, key, parameters)
        .unwrap_or_else(|e| panic!("catalog key {key}: {e}"))
}

fn unique(name: &str, domain: &str) -> String {
    format!("{name}.{}@{domain}", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

fn authorize_url(client: Client) -> (String, String) {
    let suite = federated_suite();
    let state = uuid::Uuid::new_v4().simple().to_string();
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", client.id)
        .append_pair("redirect_uri", &suite.redirect_uri(client))
        .append_pair("scope", "openid profile email")
        .append_pair("state", &state)
        .append_pair("nonce", "browser-nonce");
    (format!("{}/authorize?{}", suite.base_url, query.finish()), state)
}

/// The identifier step: types the user ID and goes on.
async fn identify(browser: &mut Browser, user_id: &str) {
    browser.expect_page(r#"form[action="/login"] input[name="step"][value="identify"]"#, "the identifier step").await;
    browser.snap("identifier").await;
    browser.fill("#username", user_id).await;
    browser.submit(r#"form[action="/login"] button[type="submit"]"#).await;
}

/// At the upstream's sign-in form: the password, and on.
async fn upstream_sign_in(browser: &mut Browser) {
    browser.expect_page("#password", "the upstream's sign-in form").await;
    browser.snap("upstream-sign-in").await;
    browser.fill("#password", upstream::PASSWORD).await;
    browser.submit("#submit").await;
}

/// Waits for `client`'s redirect URI with a code for `state`, answering consent on the way.
async fn arrive_with_code(browser: &mut Browser, client: Client, state: &str) {
    let redirect_uri = federated_suite().redirect_uri(client);
    let url = browser
        .wait_for_url("the client (or its consent page)", |u| u.as_str().starts_with(&redirect_uri) || u.path() == "/consent")
        .await;
    if url.path() == "/consent" {
        browser.snap("consent").await;
        browser.submit(r#"form[action="/consent"] button[value="allow"]"#).await;
    }
    let url = browser.wait_for_url("the client's redirect URI", |u| u.as_str().starts_with(&redirect_uri)).await;
    browser.snap("arrived-at-client").await;
    let query: std::collections::BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    if query.get("state").map(String::as_str) != Some(state) || !query.contains_key("code") {
        browser.fail(&format!("arrived without a code for state {state}: {url}")).await;
    }
}

/// `poort user show --json` of `email`.
fn shown(email: &str) -> serde_json::Value {
    let (ok, stdout, stderr) = federated_suite().cli(&["user", "show", email, "--json"], None);
    assert!(ok, "poort user show {email}: {stderr}");
    serde_json::from_str(&stdout).unwrap()
}

#[tokio::test]
async fn activation_through_single_sign_on_from_the_mail_link_then_silent_sign_in() {
    let suite = federated_suite();
    let email = unique("amira", "contoso.test");
    let (ok, _, stderr) = suite.cli(&["user", "add", "--email", &email, "--name", "Amira", "--client", CRM.id], None);
    assert!(ok, "{stderr}");
    let mail = suite.wait_for_mail(&email, "/activate");
    let mut browser = Browser::open("federation-activation").await;
    browser.goto(&mail.link).await;
    browser.expect_page(r#"form[action="/federation/start"]"#, "the activation page with single sign-on").await;
    browser.snap("activation").await;
    let text = browser.page_text().await;
    assert!(text.contains(&email) && text.contains(&en("activate.sso_submit", &[("connector", "Contoso")])), "{text}");
    assert!(browser.find_now("#password").await.is_none(), "no password to choose");
    browser.submit(r#"form[action="/federation/start"] button[type="submit"]"#).await;
    upstream_sign_in(&mut browser).await;
    // Activated, linked and signed in: the account page (CRM has no landing address).
    browser.expect_page(r#"form[action="/logout"]"#, "the account page, signed in").await;
    browser.snap("signed-in").await;
    let text = browser.page_text().await;
    assert!(text.contains(&en("account.federated", &[("connector", "Contoso")])), "{text}");
    let account = shown(&email);
    assert_eq!(account["status"], "active");
    assert_eq!(account["federated_identities"].as_array().unwrap().len(), 1);
    assert!(account["sign_in"].as_str().unwrap().contains("through Contoso"), "{account}");

    // Signed out of Poort, still signed in upstream: the way back needs no credentials.
    browser.submit(r#"form[action="/logout"] button[type="submit"]"#).await;
    let (url, state) = authorize_url(CRM);
    browser.goto(&url).await;
    identify(&mut browser, &email).await;
    let upstream_base = upstream::shared(&[]).base.clone();
    let at = browser
        .wait_for_url("the client, consent, or the upstream's form", |u| {
            u.path() == "/consent" || u.as_str().starts_with(&suite.redirect_uri(CRM)) || (u.as_str().starts_with(&upstream_base) && u.path().contains("/interaction/"))
        })
        .await;
    if at.path().contains("/interaction/") {
        browser.fail("the upstream asked for credentials although its session lives").await;
    }
    arrive_with_code(&mut browser, CRM, &state).await;
    browser.close().await;
}

#[tokio::test]
async fn identifier_first_sends_password_domains_to_the_password_step_and_sso_domains_upstream() {
    let suite = federated_suite();
    let password_user = unique("pia", "password.test");
    suite.add_user(&password_user, None, "Pia", "Zuiderzee-fietsbel-pannenkoek-42", &[]);
    let mut browser = Browser::open("federation-routing").await;
    let (url, state) = authorize_url(CRM);
    browser.goto(&url).await;
    identify(&mut browser, &password_user).await;
    browser.expect_page("#password", "the password step").await;
    browser.snap("password-step").await;
    assert!(browser.find_now(r#"form[action="/federation/start"]"#).await.is_none());
    browser.fill("#password", "Zuiderzee-fietsbel-pannenkoek-42").await;
    browser.submit(r#"form[action="/login"] button[type="submit"]"#).await;
    arrive_with_code(&mut browser, CRM, &state).await;
    browser.close().await;

    let sso_user = unique("sven", "contoso.test");
    suite.add_user(&sso_user, None, "Sven", "Kanaalbrug-tulpenveld-ooievaar-17", &[]);
    let mut browser = Browser::open("federation-routing-sso").await;
    let (url, state) = authorize_url(CRM);
    browser.goto(&url).await;
    identify(&mut browser, &sso_user).await;
    let upstream_base = upstream::shared(&[]).base.clone();
    browser.wait_for_url("the upstream", |u| u.as_str().starts_with(&upstream_base)).await;
    let value = browser.eval(r#"document.getElementById("login").value"#).await;
    assert_eq!(value, serde_json::json!(sso_user), "login_hint carries the user ID");
    upstream_sign_in(&mut browser).await;
    arrive_with_code(&mut browser, CRM, &state).await;
    assert_eq!(shown(&sso_user)["federated_identities"][0]["connector"], "contoso");
    browser.close().await;
}

#[tokio::test]
async fn every_failure_reaches_its_page_and_links_nothing() {
    let suite = federated_suite();
    let person = unique("fay", "contoso.test");
    suite.add_user(&person, None, "Fay", "Lantaarn-Kompas-Zeilboot-73", &[]);
    let mut browser = Browser::open("federation-failures").await;
    let upstream_base = upstream::shared(&[]).base.clone();
    for (index, (fault, reason)) in FAULTS.iter().enumerate() {
        let (url, _) = authorize_url(CRM);
        browser.goto(&url).await;
        identify(&mut browser, &person.replace("contoso.test", &format!("{fault}.test"))).await;
        if index == 0 {
            // The first time the upstream asks who this is; later its session answers.
            browser.wait_for_url("the upstream", |u| u.as_str().starts_with(&upstream_base)).await;
            browser.fill("#login", &person).await;
            upstream_sign_in(&mut browser).await;
        }
        let expected = en(&format!("federation.error.{reason}"), &[("connector", fault)]);
        browser.expect_page(".alert-error", &format!("the {fault} failure page")).await;
        browser.snap(fault).await;
        let text = browser.page_text().await;
        if !text.contains(&expected) {
            browser.fail(&format!("{fault}: expected `{expected}`")).await;
        }
    }
    // A callback this browser did not start.
    browser.goto(&format!("{}/federation/callback?state=made-up&code=x", suite.base_url)).await;
    browser.expect_page(".alert-error", "the state mismatch page").await;
    assert!(browser.page_text().await.contains(&en("federation.error.state_mismatch", &[])));
    let account = shown(&person);
    assert_eq!(account["federated_identities"], serde_json::json!([]), "nothing linked");
    assert_eq!(account["auth_method"], "password", "nothing changed");
    browser.close().await;
}

#[tokio::test]
async fn a_windows_user_signs_in_with_their_user_name_and_their_group_opens_settings() {
    federated_suite();
    let mut browser = Browser::open("federation-directory").await;
    let (url, state) = authorize_url(SETTINGS);
    browser.goto(&url).await;
    identify(&mut browser, "jdoe").await;
    browser.expect_page("#password", "the password step").await;
    browser.fill("#password", "not the password").await;
    browser.submit(r#"form[action="/login"] button[type="submit"]"#).await;
    browser.expect_page(".alert-error", "wrong credentials").await;
    assert!(browser.page_text().await.contains(&en("sign_in.invalid_credentials", &[])));
    browser.fill("#password", directory::PASSWORD).await;
    browser.submit(r#"form[action="/login"] button[type="submit"]"#).await;
    // The group gives the role Settings and maintenance requires; then its terms, once.
    let redirect_uri = federated_suite().redirect_uri(SETTINGS);
    let at = browser.wait_for_url("the terms or the client", |u| u.path() == "/terms" || u.as_str().starts_with(&redirect_uri)).await;
    if at.path() == "/terms" {
        browser.snap("terms").await;
        browser.click("#accept").await;
        browser.submit(r#"form[action="/terms"] button[value="accept"]"#).await;
    }
    arrive_with_code(&mut browser, SETTINGS, &state).await;
    let account = shown("jdoe@corp.test");
    assert_eq!(account["roles"], serde_json::json!([harness::SETTINGS_ROLE]));
    assert!(account["sign_in"].as_str().unwrap().contains("Active Directory"), "{account}");
    browser.close().await;
}
