//! The account lifecycle through the router in process: activation by mail (invite, the policy,
//! single use, expiry, a fresh link), forgotten passwords (answers that never tell whether an
//! address has an account, reset end to end, the on-premises mode), brute-force throttling per
//! account, per unknown name and per client address, CSRF on every form, Dutch pages, and the
//! CLI's `user add` and `user resend-activation`. Mails are read from the file outbox.

use crate::browser::{Browser, Page};
use crate::support::{poort, sqlite_settings};
use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use mail_parser::MessageParser;
use poort::accounts::activation::{self, Invitation};
use poort::accounts::links::LinkMailer;
use poort::app;
use poort::crypto::keyed_hash;
use poort::state::AppState;
use poort_config::Settings;
use poort_storage::now;
use poort_storage::repo::{NewGrant, NewUser, OneTimePurpose, UserRecord, UserStatus};
use poort_themes::Locale;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

const ISSUER: &str = "https://op.example";
const CB: &str = "https://rp.example/cb";
const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "Lantaarn-Kompas-Zeilboot-73";
const CRM_LANDING: &str = "https://crm.example/login";

struct Fixture {
    state: AppState,
    _dir: tempfile::TempDir,
}

/// A delivered mail, read back from the outbox.
#[derive(Debug, Clone)]
pub(crate) struct Mail {
    pub(crate) to: String,
    pub(crate) subject: String,
    pub(crate) text: String,
    pub(crate) html: String,
}

impl Mail {
    /// The path and query of the mail's link (on the issuer).
    pub(crate) fn link(&self) -> String {
        let start = self.text.find(ISSUER).expect("a link on the issuer") + ISSUER.len();
        let end = self.text[start..].find(char::is_whitespace).map_or(self.text.len(), |i| start + i);
        self.text[start..end].to_string()
    }
}

impl Fixture {
    async fn new() -> Self {
        Self::with(|_| {}).await
    }

    async fn with(configure: impl FnOnce(&mut Settings)) -> Self {
        let (state, dir) = crate::support::provider(ISSUER, |settings| {
            // Real waits make slow tests; the delay itself is unit-tested.
            settings.accounts.failure_delay = Duration::ZERO;
            configure(settings);
        })
        .await;
        let fixture = Self { state, _dir: dir };
        fixture
            .client(
                "crm",
                serde_json::json!({ "redirect_uris": [CB], "client_name": "CRM", "first_party": true, "initiate_login_uri": CRM_LANDING }),
            )
            .await;
        fixture.client("plain", serde_json::json!({ "redirect_uris": [CB], "first_party": true })).await;
        fixture
    }

    async fn client(&self, id: &str, metadata: serde_json::Value) {
        crate::support::insert_client(&self.state, id, metadata).await;
    }

    async fn user(&self, email: &str, status: UserStatus, auth_method: &str) -> UserRecord {
        let new = NewUser {
            email: email.into(),
            username: Some(email.split('@').next().unwrap().into()),
            display_name: None,
            email_verified: true,
            claims: serde_json::json!({}),
            status,
            auth_method: auth_method.into(),
            password_hash: Some(poort::password::hash(PASSWORD)),
        };
        self.state.store.users().create(new).await.unwrap()
    }

    async fn get_user(&self, id: &str) -> UserRecord {
        self.state.store.users().get(id).await.unwrap().unwrap()
    }

    async fn invite(
        &self,
        email: &str,
        name: Option<&str>,
        client: Option<&str>,
        claims: serde_json::Value,
    ) -> UserRecord {
        let invitation = Invitation {
            email: email.into(),
            display_name: name.map(str::to_string),
            claims,
            client_id: client.map(str::to_string),
            ..Invitation::default()
        };
        let invited = activation::invite(&LinkMailer::of(&self.state), invitation).await.unwrap();
        invited.mail.expect("the activation mail is sent");
        invited.user
    }

    /// A browser at a fixed client address.
    fn browser_at(&self, ip: &str) -> Browser {
        let addr = SocketAddr::new(ip.parse().unwrap(), 40000);
        Browser::new(app::app(self.state.clone()).layer(axum::Extension(ConnectInfo(addr))))
    }

    fn browser(&self) -> Browser {
        self.browser_at("192.0.2.1")
    }

    /// Every mail in the outbox, oldest first.
    fn mails(&self) -> Vec<Mail> {
        read_outbox(&self.state.settings.outbox_dir())
    }

    fn mails_to(&self, to: &str) -> Vec<Mail> {
        self.mails().into_iter().filter(|m| m.to == to).collect()
    }

    /// Waits (up to ten seconds) until `to` has `count` mails, and returns them.
    async fn wait_for_mails(&self, to: &str, count: usize) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let mails = self.mails_to(to);
            if mails.len() >= count {
                return mails;
            }
            assert!(Instant::now() < deadline, "{to} got {} mails, expected {count}", mails.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits (up to ten seconds) until `count` audit events of `kind` are recorded.
    async fn wait_for_audit(&self, kind: &str, count: usize) -> Vec<poort_storage::repo::AuditRecord> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let events: Vec<_> = self
                .state
                .store
                .audit()
                .list(None, 1000)
                .await
                .unwrap()
                .into_iter()
                .filter(|e| e.kind == kind)
                .collect();
            if events.len() >= count {
                return events;
            }
            assert!(Instant::now() < deadline, "{} `{kind}` events, expected {count}", events.len());
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// How long the user's latest link of `purpose` was issued for, in seconds.
    async fn link_lifetime(&self, user_id: &str, purpose: OneTimePurpose) -> i64 {
        let tokens = self.state.store.one_time_tokens();
        let latest = tokens.latest_for_user(user_id, purpose).await.unwrap().unwrap();
        latest.expires_at - latest.created_at
    }

    /// Moves the user's links `secs` into the past (as if that much time had gone by).
    async fn age_links(&self, user_id: &str, secs: i64) {
        use sea_orm::ConnectionTrait;
        let statement = format!(
            "UPDATE one_time_tokens SET created_at = created_at - {secs}, expires_at = expires_at - {secs} WHERE user_id = '{user_id}'"
        );
        self.state.store.connection().execute_unprepared(&statement).await.unwrap();
    }

    /// A catalog text as it appears in a page.
    fn text(&self, locale: Locale, key: &str) -> String {
        html_escape(&self.state.theme.translate(locale, key, &[]).unwrap())
    }
}

pub(crate) fn read_outbox(dir: &Path) -> Vec<Mail> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<_> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
        .map(|e| (e.metadata().unwrap().modified().unwrap(), e.path()))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|(_, path)| {
            let raw = std::fs::read(&path).unwrap();
            let message = MessageParser::default().parse(&raw).expect("a parseable mail");
            Mail {
                to: message.to().and_then(|a| a.first()).and_then(|a| a.address()).unwrap().to_string(),
                subject: message.subject().unwrap_or("").to_string(),
                text: message.body_text(0).unwrap().into_owned(),
                html: message.body_html(0).unwrap().into_owned(),
            }
        })
        .collect()
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#x27;")
        .replace('`', "&#x60;")
        .replace('=', "&#x3D;")
}

fn authorize(client: &str, extra: &str) -> String {
    format!(
        "/authorize?client_id={client}&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code&scope=openid&state=xyz{extra}"
    )
}

/// Starts an authorization and returns the sign-in page it leads to.
async fn sign_in_page(b: &mut Browser, client: &str, extra: &str) -> (String, Page) {
    let start = b.get(&authorize(client, extra)).await;
    assert_eq!(start.status, StatusCode::SEE_OTHER, "{}", start.body);
    let login = start.location.unwrap();
    assert!(login.starts_with("/login?ticket="), "{login}");
    let page = b.get(&login).await;
    assert_eq!(page.status, StatusCode::OK);
    (login, page)
}

/// Posts the form of a page that has `token` and `csrf_token` fields.
async fn post_password(b: &mut Browser, action: &str, page: &Page, password: &str, confirmation: &str) -> Page {
    let token = page.input("token").expect("a token field");
    let csrf = page.input("csrf_token").expect("a CSRF field");
    b.post_form(
        action,
        &[("csrf_token", &csrf), ("token", &token), ("password", password), ("password_confirm", confirmation)],
    )
    .await
}

async fn forgot(b: &mut Browser, email: &str) -> Page {
    let page = b.get("/password/forgot").await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = page.input("csrf_token").unwrap();
    b.post_form("/password/forgot", &[("csrf_token", &csrf), ("email", email)]).await
}

/// The "Forgot password?" link of a sign-in page.
fn forgot_link(sign_in: &Page) -> Option<String> {
    let start = sign_in.body.find(r#"href="/password/forgot"#)? + 6;
    let end = start + sign_in.body[start..].find('"')?;
    Some(sign_in.body[start..end].replace("&#x3D;", "=").replace("&amp;", "&"))
}

fn assert_signed_in_cookie(b: &Browser) {
    assert!(b.cookies.contains_key("poort_session"), "a session cookie: {:?}", b.cookies.keys());
}

#[tokio::test]
async fn accounts_activation_sets_a_strong_password_once_and_signs_in() {
    let f = Fixture::new().await;
    let jan = f.invite("jan.devries@acme-logistics.nl", Some("Jan de Vries"), Some("crm"), serde_json::json!({})).await;
    assert_eq!(jan.status, UserStatus::Invited);
    assert!(f.get_user(&jan.id).await.activation_sent_at.is_some());
    let mails = f.wait_for_mails("jan.devries@acme-logistics.nl", 1).await;
    let mail = &mails[0];
    assert_eq!(mail.subject, "Activate your account");
    assert!(mail.text.contains("CRM") && mail.text.contains("Jan de Vries"), "{}", mail.text);
    let link = mail.link();
    assert!(link.starts_with("/activate?token=") && link.ends_with("&lang=en"), "{link}");
    assert!(mail.html.contains("Activate now"));
    let token = link.trim_start_matches("/activate?token=").trim_end_matches("&lang=en");
    let tokens = f.state.store.one_time_tokens();
    let stored = tokens.latest_for_user(&jan.id, OneTimePurpose::Activation).await.unwrap().unwrap();
    assert_eq!(stored.token_hash, keyed_hash(&f.state.hash_key, token), "only the keyed hash is stored");
    assert_eq!(stored.client_id.as_deref(), Some("crm"));

    let mut b = f.browser();
    let page = b.get(&link).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("jan.devries@acme-logistics.nl"));
    assert!(page.body.contains("/assets/password-meter.js"), "the strength meter");
    assert!(page.body.contains(r#"data-user-inputs="jan de vries"#), "the person's words feed the meter");

    // Too weak, the person's own name, a typo in the confirmation: refused with the reason.
    let weak = post_password(&mut b, "/activate", &page, "password123", "password123").await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert!(weak.body.contains(&f.text(Locale::En, "password.reason.too_weak")), "{}", weak.body);
    let personal = post_password(&mut b, "/activate", &page, "JanDeVries1985", "JanDeVries1985").await;
    assert!(personal.body.contains(&f.text(Locale::En, "password.reason.personal")));
    let mismatch = post_password(&mut b, "/activate", &page, NEW_PASSWORD, "Lantaarn-Kompas-Zeilboot-74").await;
    assert!(mismatch.body.contains(&f.text(Locale::En, "password.reason.mismatch")));
    assert!(!b.cookies.contains_key("poort_session"));
    assert_eq!(f.get_user(&jan.id).await.status, UserStatus::Invited, "a refusal does not spend the link");

    // Strong: active, verified, signed in, and sent to the inviting client's login-initiation URI.
    let done = post_password(&mut b, "/activate", &page, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let location = done.location.clone().unwrap();
    assert_eq!(
        location,
        format!("{CRM_LANDING}?iss=https%3A%2F%2Fop.example&login_hint=jan.devries%40acme-logistics.nl")
    );
    assert_signed_in_cookie(&b);
    let jan = f.get_user(&jan.id).await;
    assert_eq!(jan.status, UserStatus::Active);
    assert!(jan.email_verified && jan.activated_at.is_some());
    assert!(poort::password::verify(NEW_PASSWORD, jan.password_hash.as_deref().unwrap()));
    // The client's sign-in completes at once: the browser is signed in.
    let code = b.get(&authorize("crm", "")).await;
    assert!(code.location.as_deref().unwrap().starts_with(CB), "{:?}", code.location);
    assert!(code.location_params().contains_key("code"));
    assert!(!f.wait_for_audit("account.activated", 1).await.is_empty());

    // The link works once.
    let again = b.get(&link).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.body.contains(&f.text(Locale::En, "activation_expired.used")), "{}", again.body);
    let replay =
        post_password(&mut b, "/activate", &page, "another strong passphrase here", "another strong passphrase here")
            .await;
    assert_eq!(replay.status, StatusCode::GONE);
    assert!(poort::password::verify(NEW_PASSWORD, f.get_user(&jan.id).await.password_hash.as_deref().unwrap()));
    // From then on: user ID and the new password.
    let mut other = f.browser();
    let (login, _) = sign_in_page(&mut other, "crm", "").await;
    let signed_in = other.sign_in(&login, "jan.devries@acme-logistics.nl", NEW_PASSWORD).await;
    assert!(signed_in.location.as_deref().unwrap().starts_with(CB));
}

#[tokio::test]
async fn accounts_activation_lands_on_the_client_uri_the_default_or_the_account_page() {
    let f =
        Fixture::with(|s| s.accounts.default_redirect_uri = Some("https://intranet.example/".parse().unwrap())).await;
    f.client("site", serde_json::json!({ "redirect_uris": [CB], "client_uri": "https://site.example/" })).await;
    for (email, client, landing) in [
        ("a@example.com", Some("site"), "https://site.example/"),
        ("b@example.com", Some("plain"), "https://intranet.example/"),
        ("c@example.com", None, "https://intranet.example/"),
    ] {
        f.invite(email, None, client, serde_json::json!({})).await;
        let mail = f.wait_for_mails(email, 1).await.remove(0);
        let mut b = f.browser();
        let page = b.get(&mail.link()).await;
        let done = post_password(&mut b, "/activate", &page, NEW_PASSWORD, NEW_PASSWORD).await;
        assert_eq!(done.location.as_deref(), Some(landing), "{email}");
    }
    let f = Fixture::new().await;
    f.invite("d@example.com", None, None, serde_json::json!({})).await;
    let mail = f.wait_for_mails("d@example.com", 1).await.remove(0);
    let mut b = f.browser();
    let page = b.get(&mail.link()).await;
    let done = post_password(&mut b, "/activate", &page, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(done.location.as_deref(), Some("/account"), "nothing configured: Poort's own account page");
}

#[tokio::test]
async fn accounts_expired_activation_links_offer_a_fresh_one() {
    let f = Fixture::with(|s| s.accounts.activation_link_ttl = Duration::from_secs(2 * 3600)).await;
    let ann = f.invite("ann@example.com", None, Some("crm"), serde_json::json!({})).await;
    let old_link = f.wait_for_mails("ann@example.com", 1).await[0].link();
    assert_eq!(f.link_lifetime(&ann.id, OneTimePurpose::Activation).await, 2 * 3600, "the configured lifetime");
    f.age_links(&ann.id, 2 * 3600).await;

    let mut b = f.browser();
    let expired = b.get(&old_link).await;
    assert_eq!(expired.status, StatusCode::GONE);
    assert!(expired.body.contains(&f.text(Locale::En, "activation_expired.expired")), "{}", expired.body);
    assert!(expired.body.contains(r#"action="/activate/resend""#));
    let resent = b
        .post_form(
            "/activate/resend",
            &[("csrf_token", &expired.input("csrf_token").unwrap()), ("token", &expired.input("token").unwrap())],
        )
        .await;
    assert_eq!(resent.status, StatusCode::OK);
    assert!(resent.body.contains(&f.text(Locale::En, "activation_expired.sent")));
    let mails = f.wait_for_mails("ann@example.com", 2).await;
    let new_link = mails[1].link();
    assert_ne!(new_link, old_link);
    assert!(mails[1].text.contains("CRM"), "the fresh link is for the same client");

    // The fresh link works; the old one stays dead.
    let page = b.get(&new_link).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(b.get(&old_link).await.status, StatusCode::GONE);
    let done = post_password(&mut b, "/activate", &page, NEW_PASSWORD, NEW_PASSWORD).await;
    assert!(done.location.as_deref().unwrap().starts_with(CRM_LANDING));
    assert_eq!(f.get_user(&ann.id).await.status, UserStatus::Active);

    // An unknown link asks for the address, and answers alike for every address.
    f.invite("bob@example.com", None, None, serde_json::json!({})).await;
    f.wait_for_mails("bob@example.com", 1).await;
    let unknown = b.get("/activate?token=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(unknown.body.contains(&f.text(Locale::En, "activation_expired.invalid")));
    assert!(unknown.body.contains(r#"name="email""#));
    let csrf = unknown.input("csrf_token").unwrap();
    let mut answers = Vec::new();
    for email in ["bob@example.com", "nobody@example.com", "ann@example.com"] {
        let page = b.post_form("/activate/resend", &[("csrf_token", &csrf), ("email", email)]).await;
        answers.push((page.status, page.body));
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "the same answer for every address");
    f.wait_for_audit("account.activation_requested", 4).await;
    assert_eq!(f.mails_to("bob@example.com").len(), 2, "the invited account gets a fresh link");
    assert!(f.mails_to("nobody@example.com").is_empty());
    assert_eq!(f.mails_to("ann@example.com").len(), 2, "an active account gets nothing");
}

#[tokio::test]
async fn accounts_forgot_password_answers_alike_and_mails_only_active_password_users() {
    let f = Fixture::new().await;
    let ann = f.user("ann@example.com", UserStatus::Active, "password").await;
    f.user("dis@example.com", UserStatus::Disabled, "password").await;
    f.user("fed@example.com", UserStatus::Active, "entra").await;
    f.user("inv@example.com", UserStatus::Invited, "password").await;
    let mut b = f.browser();
    let mut answers = Vec::new();
    for email in ["ann@example.com", "dis@example.com", "fed@example.com", "inv@example.com", "nobody@example.com"] {
        let page = forgot(&mut b, email).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains(&f.text(Locale::En, "forgot_password.sent")), "{}", page.body);
        assert!(!page.body.contains(email), "the address is not echoed");
        answers.push(page.body);
    }
    assert!(answers.windows(2).all(|w| w[0] == w[1]), "identical pages for every address");
    let requests = f.wait_for_audit("password.reset_requested", 5).await;
    let mailed: Vec<_> = requests.iter().filter(|e| e.detail["mailed"] == true).collect();
    assert_eq!(mailed.len(), 1);
    assert_eq!(mailed[0].user_id.as_deref(), Some(ann.id.as_str()));
    let mails = f.mails();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!((mails[0].to.as_str(), mails[0].subject.as_str()), ("ann@example.com", "Reset your password"));
    assert!(mails[0].link().starts_with("/password/reset?token="));
    assert!(mails[0].text.contains("1 hour"), "{}", mails[0].text);
}

#[tokio::test]
async fn accounts_reset_end_to_end_ends_other_sessions_and_resumes_the_sign_in() {
    let f = Fixture::new().await;
    let ann = f.user("ann@example.com", UserStatus::Active, "password").await;
    // Ann is signed in elsewhere, with a grant that holds refresh tokens.
    let mut elsewhere = f.browser_at("198.51.100.7");
    let (login, _) = sign_in_page(&mut elsewhere, "crm", "").await;
    assert!(elsewhere.sign_in(&login, "ann", PASSWORD).await.location.unwrap().starts_with(CB));
    let grant = f
        .state
        .store
        .grants()
        .create_grant(NewGrant {
            client_id: "crm".into(),
            user_id: Some(ann.id.clone()),
            session_id: None,
            scope: "openid offline_access".into(),
            claims: None,
            auth_time: Some(now()),
            expires_at: now() + 3600,
        })
        .await
        .unwrap();

    // Here she forgot it: "Forgot password?" on the CRM's sign-in page.
    let mut b = f.browser();
    let (_, sign_in) = sign_in_page(&mut b, "crm", "&login_hint=ann%40example.com").await;
    let forgot_uri = forgot_link(&sign_in).expect("a forgot-password link");
    let page = b.get(&forgot_uri).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.input("email").as_deref(), Some("ann@example.com"), "login_hint fills the address in");
    assert!(page.body.contains(r#"href="/login?ticket"#), "a way back to the sign-in page");
    let sent = b
        .post_form(
            "/password/forgot",
            &[("csrf_token", &page.input("csrf_token").unwrap()), ("email", "ann@example.com")],
        )
        .await;
    assert!(sent.body.contains(&f.text(Locale::En, "forgot_password.sent")));
    assert!(sent.body.contains(r#"href="/login?ticket"#), "still a way back after sending");
    let link = f.wait_for_mails("ann@example.com", 1).await[0].link();

    // The reset link opens in another browser (the mail client's): it works there too.
    let mut mail_browser = f.browser();
    let reset = mail_browser.get(&link).await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
    assert!(reset.body.contains("ann@example.com"));
    let weak = post_password(&mut mail_browser, "/password/reset", &reset, "qwertyuiop", "qwertyuiop").await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert!(weak.body.contains(&f.text(Locale::En, "password.reason.too_weak")));
    let done = post_password(&mut mail_browser, "/password/reset", &reset, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    let location = done.location.clone().unwrap();
    assert!(location.starts_with(CB) && done.location_params().contains_key("code"), "back into the CRM: {location}");
    assert_signed_in_cookie(&mail_browser);

    // Every other session ended, refresh tokens revoked, the old password gone, the link spent.
    let silent = elsewhere.get(&authorize("crm", "&prompt=none")).await;
    assert_eq!(silent.location_params().get("error").map(String::as_str), Some("login_required"));
    let grant = f.state.store.grants().get_grant(&grant.id).await.unwrap().unwrap();
    assert!(grant.revoked_at.is_some(), "the grant and its refresh tokens are revoked");
    assert_eq!(f.state.store.sessions().list_for_user(&ann.id, now()).await.unwrap().len(), 1, "only the new session");
    let mut later = f.browser();
    let (login, _) = sign_in_page(&mut later, "crm", "").await;
    assert_eq!(later.sign_in(&login, "ann", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    let (login, _) = sign_in_page(&mut later, "crm", "").await;
    assert!(later.sign_in(&login, "ann", NEW_PASSWORD).await.location.unwrap().starts_with(CB));
    let reused = mail_browser.get(&link).await;
    assert_eq!(reused.status, StatusCode::GONE);
    assert!(reused.body.contains(&f.text(Locale::En, "reset_password.invalid_link")));
    assert_eq!(f.wait_for_audit("password.reset", 1).await[0].user_id.as_deref(), Some(ann.id.as_str()));
}

#[tokio::test]
async fn accounts_a_newer_reset_link_replaces_the_older_and_expiry_applies() {
    let f = Fixture::with(|s| s.accounts.reset_link_ttl = Duration::from_secs(600)).await;
    let ann = f.user("ann@example.com", UserStatus::Active, "password").await;
    let mut b = f.browser();
    forgot(&mut b, "ann@example.com").await;
    let first = f.wait_for_mails("ann@example.com", 1).await[0].link();
    forgot(&mut b, "ann@example.com").await;
    let second = f.wait_for_mails("ann@example.com", 2).await[1].link();
    assert_eq!(b.get(&first).await.status, StatusCode::GONE, "the older link stops working");
    assert_eq!(b.get(&second).await.status, StatusCode::OK);
    assert_eq!(f.link_lifetime(&ann.id, OneTimePurpose::Reset).await, 600, "the configured lifetime");
    f.age_links(&ann.id, 600).await;
    assert_eq!(b.get(&second).await.status, StatusCode::GONE, "and every link expires");
}

#[tokio::test]
async fn accounts_on_premises_mode_sends_people_to_their_administrator() {
    let f = Fixture::with(|s| s.accounts.self_service_reset = false).await;
    f.user("ann@example.com", UserStatus::Active, "password").await;
    let mut b = f.browser();
    let (_, sign_in) = sign_in_page(&mut b, "crm", "").await;
    assert!(!sign_in.body.contains("/password/forgot"), "no forgot-password link");
    let page = b.get("/password/forgot").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&f.text(Locale::En, "forgot_password.contact_admin")));
    assert!(!page.body.contains(r#"name="email""#));
    let posted = forgot_post_without_form(&mut b, &page, "ann@example.com").await;
    assert!(posted.body.contains(&f.text(Locale::En, "forgot_password.contact_admin")));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(f.mails().is_empty(), "nothing is mailed");

    // Online, the sign-in page links to it.
    let f = Fixture::new().await;
    let mut b = f.browser();
    let (_, sign_in) = sign_in_page(&mut b, "crm", "").await;
    assert!(forgot_link(&sign_in).is_some_and(|l| l.starts_with("/password/forgot?ticket=")));
    assert!(sign_in.body.contains(&f.text(Locale::En, "sign_in.forgot_password")));
}

/// Posts the forgot form even where the page shows none (the on-premises mode).
async fn forgot_post_without_form(b: &mut Browser, page: &Page, email: &str) -> Page {
    let csrf = b.cookies.get("poort_csrf").cloned().or_else(|| page.input("csrf_token")).unwrap();
    b.post_form("/password/forgot", &[("csrf_token", &csrf), ("email", email)]).await
}

#[tokio::test]
async fn accounts_failed_sign_ins_lock_accounts_and_unknown_names_alike() {
    let f = Fixture::with(|s| {
        s.accounts.max_failed_sign_ins = 3;
        s.accounts.lock_duration = Duration::from_secs(600);
    })
    .await;
    let ann = f.user("ann@example.com", UserStatus::Active, "password").await;
    let incorrect = f.text(Locale::En, "sign_in.invalid_credentials");
    let too_many = f.text(Locale::En, "sign_in.too_many_attempts");
    let mut b = f.browser();
    for name in ["ann@example.com", "ghost@example.com"] {
        for attempt in 1..=3 {
            let (login, _) = sign_in_page(&mut b, "crm", "").await;
            let page = b.sign_in(&login, name, "wrong password").await;
            assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{name} #{attempt}");
            assert!(page.body.contains(&incorrect), "{name} #{attempt}");
        }
        // Locked now: a wrong password still reads as a wrong password, for both names.
        let (login, _) = sign_in_page(&mut b, "crm", "").await;
        let page = b.sign_in(&login, name, "wrong again").await;
        assert!(page.body.contains(&incorrect) && !page.body.contains(&too_many), "{name}");
    }
    // The right password while locked: refused, with the lock named, and no session.
    let (login, _) = sign_in_page(&mut b, "crm", "").await;
    let page = b.sign_in(&login, "ann", PASSWORD).await;
    assert_eq!(page.status, StatusCode::UNAUTHORIZED);
    assert!(page.body.contains(&too_many), "{}", page.body);
    assert!(!b.cookies.contains_key("poort_session"));
    let locked = f.get_user(&ann.id).await;
    let left = locked.locked_until.expect("the administrator can see the lock") - now();
    assert!((598..=600).contains(&left), "locked for lock_duration: {left}s left");
    assert!(locked.failed_logins >= 3);
    assert!(!f.wait_for_audit("login.locked", 1).await.is_empty());

    // After the lock, the right password works and the count starts again.
    use sea_orm::ConnectionTrait;
    let passed = "UPDATE throttle_counters SET locked_until = locked_until - 600, expires_at = expires_at - 600";
    f.state.store.connection().execute_unprepared(passed).await.unwrap();
    let (login, _) = sign_in_page(&mut b, "crm", "").await;
    let page = b.sign_in(&login, "ann@example.com", PASSWORD).await;
    assert!(page.location.as_deref().unwrap_or("").starts_with(CB), "{}", page.body);
    let unlocked = f.get_user(&ann.id).await;
    assert_eq!((unlocked.failed_logins, unlocked.locked_until), (0, None));
}

#[tokio::test]
async fn accounts_one_client_address_has_a_budget_of_failures() {
    let f = Fixture::with(|s| {
        s.accounts.max_failed_sign_ins = 3;
        s.accounts.max_failures_per_ip = 4;
    })
    .await;
    f.user("ann@example.com", UserStatus::Active, "password").await;
    let mut attacker = f.browser_at("203.0.113.9");
    for name in ["a@example.com", "b@example.com", "c@example.com", "d@example.com"] {
        let (login, _) = sign_in_page(&mut attacker, "crm", "").await;
        assert_eq!(attacker.sign_in(&login, name, "guess").await.status, StatusCode::UNAUTHORIZED);
    }
    // That address is refused now, whatever it tries…
    let (login, _) = sign_in_page(&mut attacker, "crm", "").await;
    let refused = attacker.sign_in(&login, "ann", PASSWORD).await;
    assert!(refused.body.contains(&f.text(Locale::En, "sign_in.too_many_attempts")));
    assert!(!attacker.cookies.contains_key("poort_session"));
    // …while everyone else signs in as usual (IPv6 neighbours of another /64 included).
    for ip in ["192.0.2.50", "2001:db8:1:2::1"] {
        let mut someone = f.browser_at(ip);
        let (login, _) = sign_in_page(&mut someone, "crm", "").await;
        assert!(someone.sign_in(&login, "ann", PASSWORD).await.location.unwrap().starts_with(CB), "{ip}");
    }
}

#[tokio::test]
async fn accounts_mail_requests_are_limited_per_address_and_per_client() {
    let f = Fixture::with(|s| {
        s.accounts.max_failed_sign_ins = 3;
        s.accounts.max_failures_per_ip = 5;
    })
    .await;
    f.user("ann@example.com", UserStatus::Active, "password").await;
    let mut b = f.browser();
    for _ in 0..3 {
        assert_eq!(forgot(&mut b, "ann@example.com").await.status, StatusCode::OK);
    }
    let limited = forgot(&mut b, "ann@example.com").await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.body.contains(&f.text(Locale::En, "error.too_many_requests")));
    // An unknown address is limited exactly alike.
    let mut other = f.browser_at("192.0.2.77");
    for _ in 0..3 {
        assert_eq!(forgot(&mut other, "nobody@example.com").await.status, StatusCode::OK);
    }
    assert_eq!(forgot(&mut other, "nobody@example.com").await.status, StatusCode::TOO_MANY_REQUESTS);
    // Per client: 3 + 2 requests from 192.0.2.77 spend its budget of 5, whatever the address.
    assert_eq!(forgot(&mut other, "x@example.com").await.status, StatusCode::OK);
    assert_eq!(forgot(&mut other, "y@example.com").await.status, StatusCode::OK);
    assert_eq!(forgot(&mut other, "z@example.com").await.status, StatusCode::TOO_MANY_REQUESTS);
    f.wait_for_audit("password.reset_requested", 8).await;
    assert_eq!(f.mails_to("ann@example.com").len(), 3);
}

#[tokio::test]
async fn accounts_every_form_needs_its_csrf_token() {
    let f = Fixture::new().await;
    f.invite("ann@example.com", None, None, serde_json::json!({})).await;
    let link = f.wait_for_mails("ann@example.com", 1).await[0].link();
    let mut b = f.browser();
    let page = b.get(&link).await;
    let token = page.input("token").unwrap();
    for (action, fields) in [
        ("/activate", vec![("token", token.as_str()), ("password", NEW_PASSWORD), ("password_confirm", NEW_PASSWORD)]),
        ("/activate/resend", vec![("token", token.as_str())]),
        ("/password/forgot", vec![("email", "ann@example.com")]),
        (
            "/password/reset",
            vec![("token", token.as_str()), ("password", NEW_PASSWORD), ("password_confirm", NEW_PASSWORD)],
        ),
    ] {
        let refused = b.post_form(action, &fields).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{action} without a token");
        let mut wrong = fields.clone();
        wrong.push(("csrf_token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
        assert_eq!(b.post_form(action, &wrong).await.status, StatusCode::FORBIDDEN, "{action} with another token");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(f.mails().len(), 1, "nothing was sent");
    assert_eq!(b.get(&link).await.status, StatusCode::OK, "nor spent");
}

#[tokio::test]
async fn accounts_pages_and_mails_speak_dutch() {
    let f = Fixture::new().await;
    // The account's own locale chooses the mail's language, and the link carries it.
    f.invite("jan@example.nl", Some("Jan"), Some("crm"), serde_json::json!({ "locale": "nl" })).await;
    let mail = f.wait_for_mails("jan@example.nl", 1).await.remove(0);
    assert_eq!(mail.subject, "Activeer uw account");
    assert!(mail.html.contains("Nu activeren"));
    assert!(mail.link().ends_with("&lang=nl"));
    let mut b = f.browser();
    let page = b.get(&mail.link()).await;
    assert!(page.body.contains("<html lang=\"nl\""), "{}", &page.body[..200]);
    assert!(page.body.contains(&f.text(Locale::Nl, "activate.heading")));

    // ui_locales on the authorization carries through "Forgot password?" to the reset mail.
    f.user("ann@example.com", UserStatus::Active, "password").await;
    let (_, sign_in) = sign_in_page(&mut b, "crm", "&ui_locales=nl").await;
    assert!(sign_in.body.contains(&f.text(Locale::Nl, "sign_in.forgot_password")));
    let page = b.get(&forgot_link(&sign_in).unwrap()).await;
    assert!(page.body.contains(&f.text(Locale::Nl, "forgot_password.intro")));
    let sent = b
        .post_form(
            "/password/forgot",
            &[("csrf_token", &page.input("csrf_token").unwrap()), ("email", "ann@example.com")],
        )
        .await;
    assert!(sent.body.contains(&f.text(Locale::Nl, "forgot_password.sent")));
    let reset = f.wait_for_mails("ann@example.com", 1).await.remove(0);
    assert_eq!(reset.subject, "Stel uw wachtwoord opnieuw in");
    assert!(reset.link().ends_with("&lang=nl"));

    // Accept-Language, without ui_locales.
    let dutch = get_in_language(&f, "/password/forgot", "nl-NL,nl;q=0.9,en;q=0.5").await;
    assert!(dutch.contains(&f.text(Locale::Nl, "forgot_password.heading")));
    let english = get_in_language(&f, "/password/forgot", "en-GB,en;q=0.9").await;
    assert!(english.contains(&f.text(Locale::En, "forgot_password.heading")));
}

/// A page fetched with an `Accept-Language` header.
async fn get_in_language(f: &Fixture, uri: &str, accept_language: &str) -> String {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let request = axum::http::Request::get(uri)
        .header(axum::http::header::ACCEPT_LANGUAGE, accept_language)
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app::app(f.state.clone()).oneshot(request).await.unwrap();
    String::from_utf8(response.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

#[tokio::test]
async fn accounts_cli_invites_and_resends_activation_mails() {
    let dir = tempfile::tempdir().unwrap();
    let cli = |args: &[&str]| {
        let output = poort().current_dir(dir.path()).env("POORT__SERVER__ISSUER", ISSUER).args(args).output().unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (ok, _, stderr) = cli(&["client", "add", "--client-id", "crm", "--name", "CRM", "--redirect-uri", CB]);
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = cli(&["user", "add", "--email", "ann@example.com", "--client", "nope"]);
    assert!(!ok && stderr.contains("nope"), "an unknown client is refused: {stderr}");
    let (ok, stdout, stderr) = cli(&["user", "add", "--email", "ann@example.com", "--name", "Ann", "--client", "crm"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("invited") && stdout.contains("activation mail: written to"), "{stdout}");
    assert!(!stdout.contains("token") && !stderr.contains("token"), "the link is never printed");
    let outbox = dir.path().join("poort-data/outbox");
    let mails = read_outbox(&outbox);
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].to, "ann@example.com");
    assert!(mails[0].text.contains("CRM"));
    let first = mails[0].link();
    assert!(first.starts_with("/activate?token="), "{first}");

    let (ok, stdout, _) = cli(&["user", "show", "ann@example.com"]);
    assert!(ok && stdout.contains("link valid until"), "{stdout}");
    let (ok, stdout, stderr) = cli(&["user", "resend-activation", "ann@example.com"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("a new activation link went to ann@example.com"), "{stdout}");
    let mails = read_outbox(&outbox);
    assert_eq!(mails.len(), 2);
    let second = mails.iter().map(Mail::link).find(|l| *l != first).expect("a new link");
    let (_, stdout, _) = cli(&["user", "show", "ann@example.com", "--json"]);
    let shown: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(shown["activation_link"]["state"], "valid");

    // The server on the same database honours the new link, not the old one.
    let mut settings = sqlite_settings(dir.path());
    settings.storage.data_dir = dir.path().join("poort-data");
    settings.server.issuer = Some(ISSUER.parse().unwrap());
    let store = poort::open_store(&settings).await.unwrap();
    let state = app::state(settings, store).await.unwrap();
    let mut b = Browser::new(app::app(state));
    assert_eq!(b.get(&first).await.status, StatusCode::GONE);
    assert_eq!(b.get(&second).await.status, StatusCode::OK);

    let (ok, _, stderr) = cli(&["user", "resend-activation", "nobody@example.com"]);
    assert!(!ok && stderr.contains("no user"), "{stderr}");
}
