//! The hosted pages in a real browser: headless Chromium (Debian's `chromium` and
//! `chromium-driver`, driven with fantoccini) against the real `poort serve`, which sends its
//! activation and reset mails over SMTP to an aiosmtpd server on loopback; the tests open the
//! links from the delivered messages. Most relying parties are static clients whose redirect URI
//! is a closed port on loopback: the browser's URL there carries the code (or the error). The
//! logout and session tests use one the test binary serves itself (`browser/relying_party.rs`):
//! Chromium loads its front-channel logout frame and runs Poort's check_session_iframe inside
//! its page.
//!
//! One ChromeDriver, one SMTP server and one Poort serve the whole binary (`browser/harness.rs`);
//! each test has its own Chromium profile and its own users. Screenshots of every page go to
//! `test-artifacts/browser/<test>/`. Run through `scripts/test`, which installs what is needed;
//! without Chromium or ChromeDriver every test fails and says so.

#[path = "browser/harness.rs"]
mod harness;

use harness::{Browser, CRM, Client, DUTCH, RP, SETTINGS, SETTINGS_ROLE, suite};
use poort_themes::{Locale, Theme};
use std::collections::BTreeMap;
use std::sync::OnceLock;

const STRONG_PASSWORD: &str = "Zuiderzee-fietsbel-pannenkoek-42";
const OTHER_STRONG_PASSWORD: &str = "Kanaalbrug-tulpenveld-ooievaar-17";

// --- Helpers -------------------------------------------------------------------------------------

/// A text of the built-in English catalog (the suite's default language).
fn en(key: &str) -> String {
    en_with(key, &[])
}

fn en_with(key: &str, parameters: &[(&str, &str)]) -> String {
    static THEME: OnceLock<Theme> = OnceLock::new();
    THEME
        .get_or_init(|| Theme::load(None, Locale::En).expect("the built-in theme loads"))
        .translate(Locale::En, key, parameters)
        .unwrap_or_else(|e| panic!("catalog key {key}: {e}"))
}

/// A unique e-mail address for one test's user.
fn email(test: &str) -> String {
    format!("{test}.{}@example.com", &uuid::Uuid::new_v4().simple().to_string()[..8])
}

/// The authorization request of `client`, with a fresh state; `extra` adds parameters
/// (`ui_locales`, `prompt`, …). Returns (URL, state).
fn authorize_url(client: Client, extra: &[(&str, &str)]) -> (String, String) {
    let suite = suite();
    let state = uuid::Uuid::new_v4().simple().to_string();
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let redirect_uri = suite.redirect_uri(client);
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("response_type", "code")
        .append_pair("client_id", client.id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("scope", "openid profile email")
        .append_pair("state", &state)
        .append_pair("nonce", &nonce);
    for (key, value) in extra {
        query.append_pair(key, value);
    }
    (format!("{}/authorize?{}", suite.base_url, query.finish()), state)
}

fn query_of(url: &url::Url) -> BTreeMap<String, String> {
    url.query_pairs().into_owned().collect()
}

fn at_redirect_uri(client: Client) -> impl Fn(&url::Url) -> bool {
    let redirect_uri = suite().redirect_uri(client);
    move |url: &url::Url| url.as_str().starts_with(&redirect_uri)
}

/// Waits for the sign-in page and signs in.
async fn sign_in(browser: &mut Browser, user_id: &str, password: &str) {
    browser.expect_page(r#"form[action="/login"] #username"#, "the sign-in page").await;
    browser.snap("sign-in").await;
    browser.fill("#username", user_id).await;
    browser.fill("#password", password).await;
    browser.submit(r#"form[action="/login"] button[type="submit"]"#).await;
}

/// Waits for the consent page and allows.
async fn allow_consent(browser: &mut Browser) {
    browser.expect_page(r#"form[action="/consent"] button[value="allow"]"#, "the consent page").await;
    browser.snap("consent").await;
    browser.submit(r#"form[action="/consent"] button[value="allow"]"#).await;
}

/// Waits for the browser to arrive at `client`'s redirect URI with a code and `state`; returns
/// the code.
async fn arrive_with_code(browser: &mut Browser, client: Client, state: &str) -> String {
    arrive_at_client(browser, client, state).await["code"].clone()
}

/// As [`arrive_with_code`]; returns the whole response (`code`, `state`, `iss`,
/// `session_state`).
async fn arrive_at_client(browser: &mut Browser, client: Client, state: &str) -> BTreeMap<String, String> {
    let url = browser.wait_for_url(&format!("{}'s redirect URI", client.id), at_redirect_uri(client)).await;
    browser.snap("arrived-at-client").await;
    let query = query_of(&url);
    if query.get("state").map(String::as_str) != Some(state) || !query.contains_key("code") {
        browser.fail(&format!("arrived at the client without a code and the state {state}: {url}")).await;
    }
    assert_eq!(query.get("iss"), Some(&suite().base_url), "the response names the issuer (RFC 9207)");
    query
}

/// Redeems `code` at the token endpoint as `client`: the token response.
async fn exchange_code(client: Client, code: &str) -> serde_json::Value {
    let suite = suite();
    let response = reqwest::Client::new()
        .post(format!("{}/token", suite.base_url))
        .basic_auth(client.id, Some(client.secret))
        .form(&[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", &suite.redirect_uri(client))])
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(status.is_success(), "the token endpoint refused the code: {status} {body}");
    body
}

/// The claims of a JWT (not verified: the tests read what Poort put in).
fn claims_of(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(jwt.split('.').nth(1).unwrap()).unwrap();
    serde_json::from_slice(&payload).unwrap()
}

/// Redeems `code` at the token endpoint as `client`, then asks the userinfo endpoint with the
/// access token: (the ID token's claims, the userinfo claims).
async fn redeem(client: Client, code: &str) -> (serde_json::Value, serde_json::Value) {
    let suite = suite();
    let http = reqwest::Client::new();
    let body = exchange_code(client, code).await;
    let claims = claims_of(body["id_token"].as_str().expect("an ID token"));
    let access_token = body["access_token"].as_str().expect("an access token");
    let userinfo: serde_json::Value = http
        .get(format!("{}/userinfo", suite.base_url))
        .bearer_auth(access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (claims, userinfo)
}

/// After an authorization request, the sign-in page must not come: the browser goes straight
/// on (to consent or to the client). Proves the browser is signed in.
async fn expect_signed_in(browser: &mut Browser, client: Client) {
    let (url, state) = authorize_url(client, &[]);
    browser.goto(&url).await;
    let redirect = at_redirect_uri(client);
    let url = browser
        .wait_for_url("the consent page or the client (signed in)", |u| {
            redirect(u) || u.path() == "/consent" || u.path() == "/login"
        })
        .await;
    if url.path() == "/login" {
        browser.fail("expected to be signed in, but the sign-in page came").await;
    }
    if url.path() == "/consent" {
        allow_consent(browser).await;
    }
    arrive_with_code(browser, client, &state).await;
}

/// The meter's state: (score class such as "score-1", score text, hint text, how much of the
/// bar is filled, 0 to 1).
async fn meter(browser: &Browser) -> (String, String, String, f64) {
    let value = browser
        .eval(
            r#"(function () {
                var m = document.getElementById("password-meter");
                var score = Array.prototype.filter.call(m.classList, function (c) { return c.indexOf("score-") === 0; });
                return [score.join(" "),
                        document.getElementById("password-meter-score").textContent,
                        document.getElementById("password-meter-hint").textContent,
                        document.getElementById("password-meter-fill").getBoundingClientRect().width
                          / m.querySelector(".meter-bar").getBoundingClientRect().width,
                        !m.hidden];
            })()"#,
        )
        .await;
    let field = |i: usize| value[i].as_str().unwrap_or("").to_string();
    assert_eq!(value[4], true, "the strength meter is shown once JavaScript runs: {value}");
    (field(0), field(1), field(2), value[3].as_f64().unwrap_or(0.0))
}

/// True once the meter bar's width and colour transition has finished.
const BAR_SETTLED: &str = r#"document.getElementById("password-meter-fill").getAnimations().length === 0"#;

/// Types a weak, then a strong password into `#password` and checks that the meter goes from
/// weak to strong (class, words and bar), with screenshots of both.
async fn meter_goes_from_weak_to_strong(browser: &mut Browser, weak: &str, strong: &str) {
    browser.expect_page("#password-meter", "the strength meter (#password-meter)").await;
    browser.fill("#password", weak).await;
    browser
        .wait_for_script(
            "the meter rates the weak password",
            r#"/score-[01]/.test(document.getElementById("password-meter").className)"#,
        )
        .await;
    browser.wait_for_script("the bar settles", BAR_SETTLED).await;
    browser.snap("meter-weak").await;
    let (class, score, hint, weak_fill) = meter(browser).await;
    assert!(
        [en("meter.score_0"), en("meter.score_1")].contains(&score),
        "a weak password reads as weak: {class} `{score}` `{hint}`"
    );
    assert!(!hint.is_empty() && hint != en("meter.hint_strong"), "a weak password gets advice: `{hint}`");

    browser.fill("#password", strong).await;
    browser
        .wait_for_script(
            "the meter rates the strong password",
            r#"/score-[34]/.test(document.getElementById("password-meter").className)"#,
        )
        .await;
    browser.wait_for_script("the bar settles", BAR_SETTLED).await;
    browser.snap("meter-strong").await;
    let (class, score, hint, strong_fill) = meter(browser).await;
    assert!(
        [en("meter.score_3"), en("meter.score_4")].contains(&score),
        "a strong password reads as strong: {class} `{score}` `{hint}`"
    );
    assert_eq!(hint, en("meter.hint_strong"));
    assert!(weak_fill < 0.35, "a weak password fills little of the bar: {weak_fill}");
    assert!(strong_fill > 0.7, "a strong password fills most of the bar: {strong_fill}");

    browser.fill("#password_confirm", strong).await;
    browser
        .wait_for_script(
            "the confirmation matches",
            r#"document.getElementById("password-match").className.indexOf("match-ok") >= 0"#,
        )
        .await;
    assert_eq!(browser.text_of("#password-match").await, en("meter.match"));
}

// --- Sign-in -------------------------------------------------------------------------------------

#[tokio::test]
async fn sign_in_consent_and_arrival_at_the_client_with_a_code() {
    let suite = suite();
    let address = email("sign-in");
    suite.add_user(&address, None, "Sanne Aanmelder", STRONG_PASSWORD, &[]);
    let mut browser = Browser::open("sign_in_consent_and_arrival").await;
    let (url, state) = authorize_url(CRM, &[]);
    browser.goto(&url).await;
    browser.expect_page(r#"form[action="/login"]"#, "the sign-in page").await;
    let text = browser.page_text().await;
    assert!(text.contains(&en_with("sign_in.continue_to", &[("client", CRM.name)])), "names the client: {text}");
    assert!(text.contains(&en("sign_in.user_id")) && text.contains(&en("sign_in.password")), "{text}");
    sign_in(&mut browser, &address, STRONG_PASSWORD).await;

    browser.expect_page(r#"form[action="/consent"]"#, "the consent page").await;
    let text = browser.page_text().await;
    assert!(text.contains(&en_with("consent.asks", &[("client", CRM.name)])), "{text}");
    assert!(text.contains(&en("consent.scope.email")), "lists the scopes: {text}");
    allow_consent(&mut browser).await;
    let code = arrive_with_code(&mut browser, CRM, &state).await;
    let (claims, userinfo) = redeem(CRM, &code).await;
    assert_eq!(claims["aud"], CRM.id, "{claims}");
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]), "{claims}");
    assert_eq!(userinfo["sub"], claims["sub"], "{userinfo}");
    assert_eq!(userinfo["email"], address.as_str(), "{userinfo}");
    assert_eq!(userinfo["name"], "Sanne Aanmelder", "{userinfo}");

    // Signed in now: the next request goes straight to the client (consent was remembered).
    let (url, state) = authorize_url(CRM, &[]);
    browser.goto(&url).await;
    arrive_with_code(&mut browser, CRM, &state).await;
    browser.close().await;
}

#[tokio::test]
async fn sign_in_with_the_user_name_instead_of_the_email_address() {
    let suite = suite();
    let address = email("username");
    let username = format!("jdevries{}", &uuid::Uuid::new_v4().simple().to_string()[..6]);
    suite.add_user(&address, Some(&username), "Jan de Vries", STRONG_PASSWORD, &[]);
    let mut browser = Browser::open("sign_in_with_the_user_name").await;
    let (url, state) = authorize_url(CRM, &[]);
    browser.goto(&url).await;
    browser.expect_page(r#"form[action="/login"]"#, "the sign-in page").await;
    let hint = browser.text_of("#username-hint").await;
    assert_eq!(hint, en("sign_in.user_id_hint_directory"), "the label says both work");
    sign_in(&mut browser, &username, STRONG_PASSWORD).await;
    allow_consent(&mut browser).await;
    let code = arrive_with_code(&mut browser, CRM, &state).await;
    assert_eq!(redeem(CRM, &code).await.1["email"], address.as_str(), "the same account as by e-mail address");
    browser.close().await;
}

#[tokio::test]
async fn a_wrong_password_shows_the_error_then_the_right_one_signs_in() {
    let suite = suite();
    let address = email("wrong");
    suite.add_user(&address, None, "Willem Verkeerd", STRONG_PASSWORD, &[]);
    let mut browser = Browser::open("a_wrong_password_shows_the_error").await;
    let (url, state) = authorize_url(CRM, &[("login_hint", &address)]);
    browser.goto(&url).await;
    browser.expect_page(r#"form[action="/login"]"#, "the sign-in page").await;
    let prefilled = browser.el("#username").await.prop("value").await.unwrap().unwrap_or_default();
    assert_eq!(prefilled, address, "login_hint pre-fills the user ID");
    sign_in(&mut browser, &address, "not-the-password-at-all").await;

    browser.expect_page(".alert-error", "the sign-in page with an error").await;
    browser.snap("wrong-password").await;
    let error = browser.text_of(".alert-error").await;
    assert_eq!(error, en("sign_in.invalid_credentials"));
    let kept = browser.el("#username").await.prop("value").await.unwrap().unwrap_or_default();
    assert_eq!(kept, address, "the user ID stays filled in");

    // An unknown user ID gets the very same message.
    browser.fill("#password", "whatever-it-is").await;
    browser.fill("#username", "nobody-here@example.com").await;
    browser.submit(r#"form[action="/login"] button[type="submit"]"#).await;
    browser.expect_page(".alert-error", "the sign-in page with an error").await;
    let kept = browser.el("#username").await.prop("value").await.unwrap().unwrap_or_default();
    assert_eq!(kept, "nobody-here@example.com");
    assert_eq!(browser.text_of(".alert-error").await, en("sign_in.invalid_credentials"));

    sign_in(&mut browser, &address, STRONG_PASSWORD).await;
    allow_consent(&mut browser).await;
    arrive_with_code(&mut browser, CRM, &state).await;
    browser.close().await;
}

// --- Dutch ---------------------------------------------------------------------------------------

/// Signs in and consents, checking the seed's Dutch words on every page.
async fn whole_sign_in_in_dutch(browser: &mut Browser, url: &str, state: &str, address: &str) {
    browser.goto(url).await;
    browser.expect_page(r#"form[action="/login"]"#, "the sign-in page").await;
    assert_eq!(browser.eval("document.documentElement.lang").await, "nl");
    assert_eq!(browser.eval("document.title").await.as_str().unwrap_or("").split(" · ").next(), Some("Aanmelden"));
    assert_eq!(browser.text_of("h1").await, "Aanmelden");
    assert_eq!(browser.text_of(r#"label[for="username"]"#).await, "Gebruikers-ID");
    assert_eq!(browser.text_of(r#"label[for="password"]"#).await, "Wachtwoord");
    assert_eq!(browser.text_of(r#"form[action="/login"] button[type="submit"]"#).await, "Aanmelden");
    let hint = browser.text_of("#username-hint").await;
    assert!(hint.contains("e-mailadres"), "Voor online-gebruikers is de gebruikers-ID uw e-mailadres: {hint}");
    // The reset link is checked by the forgot-password test; here only its words.
    if let Some(link) = browser.find_now(r#"a[href*="/password/forgot"]"#).await {
        assert_eq!(link.text().await.unwrap_or_default(), "Wachtwoord vergeten?");
    }
    sign_in(browser, address, "fout-wachtwoord-123").await;
    browser.expect_page(".alert-error", "the Dutch error").await;
    browser.snap("fout-wachtwoord").await;
    assert_eq!(browser.text_of(".alert-error").await, "De gebruikers-ID of het wachtwoord is onjuist.");
    sign_in(browser, address, STRONG_PASSWORD).await;

    browser.expect_page(r#"form[action="/consent"]"#, "the consent page").await;
    assert_eq!(browser.text_of("h1").await, "Toegang toestaan?");
    assert_eq!(browser.text_of(r#"button[value="allow"]"#).await, "Toestaan");
    assert_eq!(browser.text_of(r#"button[value="deny"]"#).await, "Weigeren");
    let text = browser.page_text().await;
    assert!(text.contains("uw e-mailadres zien"), "{text}");
    allow_consent(browser).await;
    arrive_with_code(browser, CRM, state).await;
}

#[tokio::test]
async fn the_whole_sign_in_in_dutch_by_ui_locales() {
    let address = email("nl-ui-locales");
    suite().add_user(&address, None, "Femke Nederlands", STRONG_PASSWORD, &[]);
    // An English browser: the client's ui_locales decides.
    let mut browser = Browser::open("the_whole_sign_in_in_dutch_by_ui_locales").await;
    let (url, state) = authorize_url(CRM, &[("ui_locales", "nl")]);
    whole_sign_in_in_dutch(&mut browser, &url, &state, &address).await;
    browser.close().await;
}

#[tokio::test]
async fn the_whole_sign_in_in_dutch_by_the_browser_language() {
    let address = email("nl-browser");
    suite().add_user(&address, None, "Pieter Nederlands", STRONG_PASSWORD, &[]);
    // Chromium in Dutch (--lang=nl, Accept-Language nl-NL,nl); the request names no language.
    let mut browser = Browser::open_with("the_whole_sign_in_in_dutch_by_the_browser_language", DUTCH).await;
    let (url, state) = authorize_url(CRM, &[]);
    whole_sign_in_in_dutch(&mut browser, &url, &state, &address).await;
    browser.close().await;
}

// --- Roles ---------------------------------------------------------------------------------------

#[tokio::test]
async fn a_user_without_the_role_is_refused_and_the_client_hears_access_denied() {
    let address = email("no-role");
    suite().add_user(&address, None, "Rob Zonderrol", STRONG_PASSWORD, &["sales"]);
    let mut browser = Browser::open("a_user_without_the_role_is_refused").await;
    let (url, state) = authorize_url(SETTINGS, &[]);
    browser.goto(&url).await;
    sign_in(&mut browser, &address, STRONG_PASSWORD).await;

    browser.expect_page(".alert-error", "the access-refused page").await;
    browser.snap("access-refused").await;
    assert_eq!(browser.text_of("h1").await, en("access_refused.heading"));
    assert_eq!(browser.text_of(".alert-error").await, en_with("access_refused.message", &[("client", SETTINGS.name)]));
    let text = browser.page_text().await;
    assert!(text.contains(&en_with("access_refused.signed_in_as", &[("user", &address)])), "{text}");
    browser.submit(r#"a[href^="/refused"]"#).await;

    let url = browser.wait_for_url("the client's redirect URI", at_redirect_uri(SETTINGS)).await;
    browser.snap("client-hears-access-denied").await;
    let query = query_of(&url);
    assert_eq!(query.get("error").map(String::as_str), Some("access_denied"), "{url}");
    assert_eq!(query.get("state"), Some(&state));
    assert!(!query.contains_key("code"), "no code for a refused user: {url}");
    browser.close().await;
}

// --- Activation ----------------------------------------------------------------------------------

#[tokio::test]
async fn activation_from_the_mailed_link_with_the_strength_meter_then_signed_in() {
    let suite = suite();
    let address = email("activate");
    // The administrator adds the user for the CRM; Poort mails the activation link over SMTP.
    let (ok, stdout, stderr) =
        suite.cli(&["user", "add", "--email", &address, "--name", "Anna Activering", "--client", CRM.id], None);
    assert!(ok, "poort user add --email … --client {}: {stderr}{stdout}", CRM.id);
    let mail = suite.wait_for_mail(&address, "/activate");
    assert_eq!(mail.subject, en("mail.activation.subject"));
    assert!(mail.text.contains(&en_with("mail.activation.intro_client", &[("client", CRM.name)])), "{}", mail.text);
    assert!(mail.html.contains(&en("mail.activation.action")), "the HTML part has the Activate now button");

    let mut browser = Browser::open("activation_from_the_mailed_link").await;
    browser.goto(&mail.link).await;
    browser.expect_page(r#"form[action="/activate"]"#, "the activation page").await;
    browser.snap("activate").await;
    assert_eq!(browser.text_of("h1").await, en("activate.heading"));
    assert!(browser.page_text().await.contains(&address), "the page names the account");

    // The server refuses a weak password with the reason, whatever the meter said.
    browser.fill("#password", "wachtwoord1").await;
    browser.fill("#password_confirm", "wachtwoord1").await;
    browser.submit(r#"form[action="/activate"] button[type="submit"]"#).await;
    browser
        .expect_page(r#"form[action="/activate"] .alert-error"#, "the activation page refusing a weak password")
        .await;
    browser.snap("weak-password-refused").await;

    meter_goes_from_weak_to_strong(&mut browser, "welkom123", STRONG_PASSWORD).await;
    browser.submit(r#"form[action="/activate"] button[type="submit"]"#).await;
    // The CRM has no client_uri or initiate_login_uri to send the new user on to, so they land
    // on Poort's account page, signed in.
    let url = browser.wait_for_url("a page after activation", |u| u.path() != "/activate").await;
    browser.snap("after-activation").await;
    if browser.find_now(".alert-error").await.is_some() || url.path() != "/account" {
        browser.fail(&format!("activation should end signed in on the account page: {url}")).await;
    }
    assert!(browser.page_text().await.contains(&address), "the account page shows who is signed in");
    let (_, stdout, _) = suite.cli(&["user", "show", &address, "--json"], None);
    let user: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(user["status"], "active", "{user}");

    // Signed in: the CRM gets a code without the sign-in page.
    expect_signed_in(&mut browser, CRM).await;

    // The link was single-use.
    browser.goto(&mail.link).await;
    browser.expect_page(r#"form[action="/activate/resend"]"#, "the used-link page offering a new link").await;
    browser.snap("link-used").await;
    assert_eq!(browser.text_of("h1").await, en("activation_expired.heading"));
    assert_eq!(browser.text_of(".lead").await, en("activation_expired.used"));
    assert!(
        browser.find_now(r#"form[action="/activate"] #password"#).await.is_none(),
        "a used link offers no password form"
    );

    // Afterwards the chosen password signs in.
    let (url, state) = authorize_url(CRM, &[("prompt", "login")]);
    browser.goto(&url).await;
    sign_in(&mut browser, &address, STRONG_PASSWORD).await;
    arrive_with_code(&mut browser, CRM, &state).await;
    browser.close().await;
}

// --- Terms ---------------------------------------------------------------------------------------

fn require_terms_support() {
    if let Some(why) = &suite().terms_unsupported {
        panic!("the `settings` client cannot require terms in this build: {why}");
    }
}

/// Waits for the terms page and checks it.
async fn expect_terms_page(browser: &mut Browser) {
    browser.expect_page(r#"form[action="/terms"] #accept"#, "the terms-of-service page").await;
    browser.snap("terms").await;
    assert_eq!(browser.text_of("h1").await, en("terms.heading"));
    assert_eq!(browser.text_of(r#"label[for="accept"]"#).await, en("terms.accept"));
    assert_eq!(browser.text_of(r#"button[value="accept"]"#).await, en("terms.ok"));
    let text = browser.text_of(".terms-text").await;
    assert!(text.contains(harness::TERMS_TEXT.lines().next().unwrap()), "the published terms are shown: {text}");
    let page = browser.page_text().await;
    assert!(page.contains(&en_with("terms.version", &[("version", harness::TERMS_VERSION)])), "{page}");
}

#[tokio::test]
async fn first_sign_in_asks_for_terms_then_sign_out_and_sign_in_again_without_them() {
    require_terms_support();
    let address = email("terms");
    suite().add_user(&address, None, "Tessa Voorwaarden", STRONG_PASSWORD, &[SETTINGS_ROLE]);
    let mut browser = Browser::open("first_sign_in_asks_for_terms").await;
    let (url, state) = authorize_url(SETTINGS, &[]);
    browser.goto(&url).await;
    sign_in(&mut browser, &address, STRONG_PASSWORD).await;
    expect_terms_page(&mut browser).await;
    browser.click("#accept").await;
    browser.snap("terms-accepted").await;
    browser.submit(r#"form[action="/terms"] button[value="accept"]"#).await;
    arrive_with_code(&mut browser, SETTINGS, &state).await;

    // Sign out on the account page.
    browser.goto(&format!("{}/account", suite().base_url)).await;
    browser.expect_page(r#"form[action="/logout"] button"#, "the account page with Sign out").await;
    browser.snap("account").await;
    assert_eq!(browser.text_of(r#"form[action="/logout"] button"#).await, en("account.sign_out"));
    browser.submit(r#"form[action="/logout"] button"#).await;
    browser
        .wait_for_script(
            "the signed-out page",
            &format!("document.body.innerText.indexOf({:?}) >= 0", en("logged_out.heading")),
        )
        .await;
    browser.snap("signed-out").await;

    // Signed out: the sign-in page comes again; after it, no terms (accepted already).
    let (url, state) = authorize_url(SETTINGS, &[]);
    browser.goto(&url).await;
    sign_in(&mut browser, &address, STRONG_PASSWORD).await;
    let redirect = at_redirect_uri(SETTINGS);
    let url = browser.wait_for_url("the client or the terms page", |u| redirect(u) || u.path() == "/terms").await;
    if url.path() == "/terms" || browser.find_now(r#"form[action="/terms"]"#).await.is_some() {
        browser.fail("the terms came again although this version was accepted").await;
    }
    arrive_with_code(&mut browser, SETTINGS, &state).await;
    browser.close().await;
}

/// Single sign-on: signed in for the CRM, the same browser reaches "Settings and maintenance"
/// without the sign-in page (its terms come first, once); both ID tokens name one session.
#[tokio::test]
async fn one_sign_in_serves_the_crm_and_the_settings_application() {
    require_terms_support();
    let address = email("sso");
    suite().add_user(&address, None, "Sanne Eenmalig", STRONG_PASSWORD, &[SETTINGS_ROLE]);
    let mut browser = Browser::open("one_sign_in_serves_the_crm_and_settings").await;
    let (url, state) = authorize_url(CRM, &[]);
    browser.goto(&url).await;
    sign_in(&mut browser, &address, STRONG_PASSWORD).await;
    allow_consent(&mut browser).await;
    let crm_code = arrive_with_code(&mut browser, CRM, &state).await;

    let (url, state) = authorize_url(SETTINGS, &[]);
    browser.goto(&url).await;
    let redirect = at_redirect_uri(SETTINGS);
    let url = browser.wait_for_url("the terms page or the client", |u| redirect(u) || u.path() != "/authorize").await;
    if url.path() == "/login" || browser.find_now(r#"form[action="/login"]"#).await.is_some() {
        browser.fail("the sign-in page came again: no single sign-on").await;
    }
    expect_terms_page(&mut browser).await;
    browser.click("#accept").await;
    browser.submit(r#"form[action="/terms"] button[value="accept"]"#).await;
    let settings_code = arrive_with_code(&mut browser, SETTINGS, &state).await;

    let (crm, _) = redeem(CRM, &crm_code).await;
    let (settings, _) = redeem(SETTINGS, &settings_code).await;
    assert_eq!(crm["sid"], settings["sid"], "one session: {crm} {settings}");
    assert_eq!(crm["auth_time"], settings["auth_time"], "one sign-in: {crm} {settings}");
    assert_eq!(crm["sub"], settings["sub"]);
    browser.close().await;
}

#[tokio::test]
async fn declining_the_terms_sends_access_denied_to_the_client() {
    require_terms_support();
    let address = email("decline");
    suite().add_user(&address, None, "Dirk Weigeraar", STRONG_PASSWORD, &[SETTINGS_ROLE]);
    // In Dutch, with the seed's words: Servicevoorwaarden, Accepteren, OK.
    let mut browser = Browser::open("declining_the_terms").await;
    let (url, state) = authorize_url(SETTINGS, &[("ui_locales", "nl")]);
    browser.goto(&url).await;
    sign_in(&mut browser, &address, STRONG_PASSWORD).await;
    browser.expect_page(r#"form[action="/terms"] #accept"#, "the terms-of-service page").await;
    browser.snap("servicevoorwaarden").await;
    assert_eq!(browser.text_of("h1").await, "Servicevoorwaarden");
    assert_eq!(browser.text_of(r#"label[for="accept"]"#).await, "Accepteren");
    assert_eq!(browser.text_of(r#"button[value="accept"]"#).await, "OK");
    assert_eq!(browser.text_of(r#"button[value="decline"]"#).await, "Weigeren");
    browser.submit(r#"form[action="/terms"] button[value="decline"]"#).await;
    let url = browser.wait_for_url("the client's redirect URI", at_redirect_uri(SETTINGS)).await;
    browser.snap("client-hears-access-denied").await;
    let query = query_of(&url);
    assert_eq!(query.get("error").map(String::as_str), Some("access_denied"), "{url}");
    assert_eq!(query.get("state"), Some(&state));
    assert!(!query.contains_key("code"));
    browser.close().await;
}

// --- Passwords -----------------------------------------------------------------------------------

#[tokio::test]
async fn change_password_on_the_account_page() {
    let address = email("change");
    suite().add_user(&address, None, "Carla Wijziger", STRONG_PASSWORD, &[]);
    let mut browser = Browser::open("change_password_on_the_account_page").await;
    let (url, state) = authorize_url(CRM, &[]);
    browser.goto(&url).await;
    sign_in(&mut browser, &address, STRONG_PASSWORD).await;
    allow_consent(&mut browser).await;
    arrive_with_code(&mut browser, CRM, &state).await;

    browser.goto(&format!("{}/account", suite().base_url)).await;
    browser.expect_page(r#"a[href="/account/password"]"#, "the account page with Change password").await;
    browser.snap("account").await;
    assert_eq!(browser.text_of("h1").await, en("account.heading"));
    assert!(browser.page_text().await.contains(&address), "the account page shows the user");
    browser.submit(r#"a[href="/account/password"]"#).await;

    browser.expect_page(r#"form[action="/account/password"] #current_password"#, "the change-password page").await;
    browser.snap("change-password").await;
    assert_eq!(browser.text_of("h1").await, en("change_password.heading"));
    // A wrong current password is refused.
    browser.fill("#current_password", "not-my-password-123").await;
    browser.fill("#password", OTHER_STRONG_PASSWORD).await;
    browser.fill("#password_confirm", OTHER_STRONG_PASSWORD).await;
    browser.submit(r#"form[action="/account/password"] button[type="submit"]"#).await;
    browser.expect_page(".alert-error", "the change-password page refusing the current password").await;
    browser.snap("current-password-wrong").await;
    assert!(browser.page_text().await.contains(&en("change_password.current_incorrect")));

    browser.fill("#current_password", STRONG_PASSWORD).await;
    meter_goes_from_weak_to_strong(&mut browser, "qwerty123", OTHER_STRONG_PASSWORD).await;
    browser.submit(r#"form[action="/account/password"] button[type="submit"]"#).await;
    browser
        .wait_for_script(
            "the account page saying so",
            &format!("document.body.innerText.indexOf({:?}) >= 0", en("account.password_changed")),
        )
        .await;
    browser.snap("password-changed").await;

    // The old password no longer signs in; the new one does.
    let (url, state) = authorize_url(CRM, &[("prompt", "login")]);
    browser.goto(&url).await;
    sign_in(&mut browser, &address, STRONG_PASSWORD).await;
    browser.expect_page(".alert-error", "the sign-in page refusing the old password").await;
    assert_eq!(browser.text_of(".alert-error").await, en("sign_in.invalid_credentials"));
    sign_in(&mut browser, &address, OTHER_STRONG_PASSWORD).await;
    arrive_with_code(&mut browser, CRM, &state).await;
    browser.close().await;
}

#[tokio::test]
async fn forgot_password_end_to_end_with_the_mailed_link() {
    let suite = suite();
    let address = email("forgot");
    suite.add_user(&address, None, "Vera Vergeten", STRONG_PASSWORD, &[]);
    let mut browser = Browser::open("forgot_password_end_to_end").await;
    let (url, state) = authorize_url(CRM, &[]);
    browser.goto(&url).await;
    browser.expect_page(r#"form[action="/login"]"#, "the sign-in page").await;
    browser.snap("sign-in").await;
    // A missing link is reported at the end, after the rest of the flow has been tried from the
    // documented URL, so one run tells everything that is missing.
    let mut problems = Vec::new();
    let link = r#"a[href*="/password/forgot"]"#;
    match browser.find_now(link).await {
        Some(found) => {
            assert_eq!(found.text().await.unwrap_or_default(), en("sign_in.forgot_password"));
            browser.submit(link).await;
        }
        None => {
            problems.push("the sign-in page has no \"Forgot password?\" link (a[href*=\"/password/forgot\"]) although self-service reset is on");
            browser.goto(&format!("{}/password/forgot", suite.base_url)).await;
        }
    }

    browser.expect_page(r#"form[action="/password/forgot"] #email"#, "the forgot-password page").await;
    browser.snap("forgot-password").await;
    assert_eq!(
        browser.text_of(r#"form[action="/password/forgot"] button[type="submit"]"#).await,
        en("forgot_password.submit")
    );
    browser.fill("#email", &address).await;
    browser.submit(r#"form[action="/password/forgot"] button[type="submit"]"#).await;
    browser.expect_page(".alert-success", "the mail-is-on-its-way answer").await;
    browser.snap("reset-mail-sent").await;
    let answer = browser.text_of(".alert-success").await;
    assert_eq!(answer, en("forgot_password.sent"));

    let mail = suite.wait_for_mail(&address, "/password/reset");
    assert_eq!(mail.subject, en("mail.reset.subject"));
    browser.goto(&mail.link).await;
    browser.expect_page(r#"form[action="/password/reset"]"#, "the reset-password page").await;
    browser.snap("reset-password").await;
    assert_eq!(browser.text_of("h1").await, en("reset_password.heading"));
    meter_goes_from_weak_to_strong(&mut browser, "Vera2024", OTHER_STRONG_PASSWORD).await;
    browser.submit(r#"form[action="/password/reset"] button[type="submit"]"#).await;
    // Signed in, and the sign-in "Forgot password?" was clicked on carries on: consent, then
    // the CRM gets its code with the state of that first request.
    let redirect = at_redirect_uri(CRM);
    let url = browser.wait_for_url("the consent page or the client", |u| redirect(u) || u.path() == "/consent").await;
    browser.snap("after-reset").await;
    if url.path() == "/consent" {
        allow_consent(&mut browser).await;
    }
    arrive_with_code(&mut browser, CRM, &state).await;

    // The link was single-use.
    browser.goto(&mail.link).await;
    browser.expect_page(".alert-error", "the expired-link page").await;
    browser.snap("link-used").await;
    assert_eq!(browser.text_of(".alert-error").await, en("reset_password.invalid_link"));

    // An address without an account gets the very same answer.
    browser.goto(&format!("{}/password/forgot", suite.base_url)).await;
    browser.fill("#email", "nobody-at-all@example.com").await;
    browser.submit(r#"form[action="/password/forgot"] button[type="submit"]"#).await;
    browser.expect_page(".alert-success", "the mail-is-on-its-way answer").await;
    browser.snap("unknown-address").await;
    assert_eq!(browser.text_of(".alert-success").await, answer, "the same answer for every address");

    // The old password no longer signs in; the new one does.
    let (url, state) = authorize_url(CRM, &[("prompt", "login")]);
    browser.goto(&url).await;
    sign_in(&mut browser, &address, STRONG_PASSWORD).await;
    browser.expect_page(".alert-error", "the sign-in page refusing the old password").await;
    sign_in(&mut browser, &address, OTHER_STRONG_PASSWORD).await;
    arrive_with_code(&mut browser, CRM, &state).await;
    browser.close().await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

// --- Logout and session management ---------------------------------------------------------------
//
// The `rp` client's URIs point at the relying party the test binary serves: it records what the
// browser asks of it (the front-channel frame, the return after logout) and serves a page that
// frames the OP's check_session_iframe.

/// The `end_session_endpoint` request of an RP-initiated logout back to the relying party.
fn end_session_url(id_token: &str, state: &str) -> String {
    let suite = suite();
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", id_token)
        .append_pair("post_logout_redirect_uri", &format!("{}/bye", suite.relying_party.origin))
        .append_pair("state", state)
        .finish();
    format!("{}/session/end?{query}", suite.base_url)
}

/// Signs in for the relying party (the sign-in page comes first): its authorization response
/// and the raw ID token.
async fn sign_in_for_rp(browser: &mut Browser, address: &str) -> (BTreeMap<String, String>, String) {
    let (url, state) = authorize_url(RP, &[]);
    browser.goto(&url).await;
    sign_in(browser, address, STRONG_PASSWORD).await;
    let response = arrive_at_client(browser, RP, &state).await;
    let tokens = exchange_code(RP, &response["code"]).await;
    (response, tokens["id_token"].as_str().expect("an ID token").to_string())
}

/// Waits for the browser to be back at the relying party's post-logout URI; returns the query.
async fn back_at_rp_after_logout(browser: &mut Browser) -> BTreeMap<String, String> {
    let bye = format!("{}/bye", suite().relying_party.origin);
    let url = browser.wait_for_url("the relying party's post-logout URI", |u| u.as_str().starts_with(&bye)).await;
    browser.snap("back-at-the-rp").await;
    query_of(&url)
}

#[tokio::test]
async fn front_channel_logout_loads_the_rp_frame_then_returns_to_the_rp_with_the_state() {
    let suite = suite();
    let address = email("front-channel");
    suite.add_user(&address, None, "Fenna Voorkant", STRONG_PASSWORD, &[]);
    let mut browser = Browser::open("front_channel_logout").await;
    let (_, id_token) = sign_in_for_rp(&mut browser, &address).await;
    let sid = claims_of(&id_token)["sid"].as_str().expect("the ID token carries sid").to_string();

    // Punctuation that must survive the round trip.
    let state = format!("bye.{}-~!*()'", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    browser.goto(&end_session_url(&id_token, &state)).await;
    // The signed-out page frames the RP's front-channel URI and goes on by itself.
    let query = back_at_rp_after_logout(&mut browser).await;
    assert_eq!(query, BTreeMap::from([("state".to_string(), state.clone())]), "the state and nothing else");
    assert_eq!(browser.text_of("#state").await, state);

    let requests = suite.relying_party.requests();
    let framed = requests.iter().position(|r| r.path == "/fc" && r.query.get("sid") == Some(&sid));
    let Some(framed) = framed else {
        panic!("the RP's front-channel URI was never requested with sid {sid}: {requests:#?}\n{}", suite.log_tail())
    };
    let frame = &requests[framed];
    let expected = BTreeMap::from([("iss".to_string(), suite.base_url.clone()), ("sid".to_string(), sid.clone())]);
    assert_eq!(frame.query, expected, "iss and sid, nothing else");
    assert_eq!(frame.method, "GET");
    assert_eq!(
        frame.headers.get("sec-fetch-dest").map(String::as_str),
        Some("iframe"),
        "Chromium loaded it as a frame: {frame:?}"
    );
    let returned = requests
        .iter()
        .position(|r| r.path == "/bye" && r.query.get("state") == Some(&state))
        .expect("the return to the RP was recorded");
    assert!(framed < returned, "the page went on to the RP after its frame was requested");

    // Signed out of Poort too: the sign-in page comes again.
    let (response, id_token) = sign_in_for_rp(&mut browser, &address).await;
    let sid = claims_of(&id_token)["sid"].as_str().unwrap().to_string();
    assert!(response.contains_key("code"));

    // Signing out on the account page frames the RP too; that page stays (nowhere to return to).
    browser.goto(&format!("{}/account", suite.base_url)).await;
    browser.submit(r#"form[action="/logout"] button"#).await;
    browser.expect_page(r#"iframe.logout-frame"#, "the signed-out page with the RP's frame").await;
    browser.snap("signed-out-page-with-frame").await;
    assert!(browser.page_text().await.contains(&en("logged_out.heading")));
    let deadline = std::time::Instant::now() + harness::WAIT;
    while !suite.relying_party.requests().iter().any(|r| r.path == "/fc" && r.query.get("sid") == Some(&sid)) {
        if std::time::Instant::now() > deadline {
            browser.fail(&format!("the signed-out page did not load the RP's frame for sid {sid}")).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    browser.close().await;
}

/// Opens the relying party's session-check page for `session_state` and waits for the OP
/// frame's `answer`.
async fn expect_session_answer(browser: &mut Browser, check_session_iframe: &str, session_state: &str, answer: &str) {
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("op", check_session_iframe)
        .append_pair("client_id", RP.id)
        .append_pair("session_state", session_state)
        .finish();
    browser.goto(&format!("{}/session?{query}", suite().relying_party.origin)).await;
    wait_for_session_answer(browser, answer).await;
}

async fn wait_for_session_answer(browser: &mut Browser, answer: &str) {
    browser
        .wait_for_script(
            &format!("the check_session_iframe answering {answer}"),
            &format!("document.getElementById('answer').textContent === {answer:?}"),
        )
        .await;
    browser.snap(answer).await;
}

#[tokio::test]
async fn check_session_iframe_answers_unchanged_then_changed_after_logout_and_a_new_sign_in() {
    let suite = suite();
    let address = email("check-session");
    suite.add_user(&address, None, "Sem Sessie", STRONG_PASSWORD, &[]);
    let discovery: serde_json::Value = reqwest::get(format!("{}/.well-known/openid-configuration", suite.base_url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let frame = discovery["check_session_iframe"].as_str().expect("discovery names the check_session_iframe").to_string();
    let mut browser = Browser::open("check_session_iframe").await;
    let (response, id_token) = sign_in_for_rp(&mut browser, &address).await;
    let first = response.get("session_state").expect("session_state in the authorization response").clone();
    expect_session_answer(&mut browser, &frame, &first, "unchanged").await;
    let answers = browser.text_of("#answers").await;
    assert_ne!(answers, "0", "the answer came from the OP's origin");

    // Signing out in another tab: the page left open learns it at its next check.
    let rp_tab = browser.open_tab().await;
    browser.goto(&end_session_url(&id_token, "signed-out-elsewhere")).await;
    let query = back_at_rp_after_logout(&mut browser).await;
    assert_eq!(query.get("state").map(String::as_str), Some("signed-out-elsewhere"));
    browser.close_tab_for(rp_tab).await;
    wait_for_session_answer(&mut browser, "changed").await;

    // A new sign-in is a new session: the old session_state stays changed, the new one holds.
    let (response, _) = sign_in_for_rp(&mut browser, &address).await;
    let second = response.get("session_state").expect("session_state in the authorization response").clone();
    assert_ne!(second, first);
    expect_session_answer(&mut browser, &frame, &first, "changed").await;
    expect_session_answer(&mut browser, &frame, &second, "unchanged").await;
    // Another client's session_state is not this one's.
    let query = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("op", &frame)
        .append_pair("client_id", CRM.id)
        .append_pair("session_state", &second)
        .finish();
    browser.goto(&format!("{}/session?{query}", suite.relying_party.origin)).await;
    wait_for_session_answer(&mut browser, "changed").await;
    browser.close().await;
}
