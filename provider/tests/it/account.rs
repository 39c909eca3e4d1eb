//! The personal settings pages: `/account` signs in first and comes back; change password with
//! its checks, and what a change ends elsewhere; federated users; Dutch; signing out — through the
//! router in process.

use crate::browser::{Browser, Page};
use axum::http::{StatusCode, header};
use poort::app;
use poort::crypto::{keyed_hash, random_token};
use poort::state::AppState;
use poort_storage::now;
use poort_storage::repo::{ClientSource, NewClient, NewGrant, NewSession, NewToken, NewUser, TokenKind, UserStatus};

const ISSUER: &str = "https://op.example";
const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "violet tractor marmalade harbour";

struct Fixture {
    state: AppState,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Self {
        Self::with(|_| {}).await
    }

    async fn with(configure: impl FnOnce(&mut poort_config::Settings)) -> Self {
        let (state, dir) = crate::support::provider(ISSUER, configure).await;
        let fixture = Self { state, _dir: dir };
        fixture.user("ann@example.com", Some("Ann Smith"), "password").await;
        fixture
    }

    async fn user(&self, email: &str, name: Option<&str>, auth_method: &str) -> String {
        let password_user = auth_method == "password";
        self.state
            .store
            .users()
            .create(NewUser {
                email: email.into(),
                username: Some(email.split('@').next().unwrap().into()),
                display_name: name.map(str::to_string),
                email_verified: true,
                claims: serde_json::json!({}),
                status: UserStatus::Active,
                auth_method: auth_method.into(),
                password_hash: password_user.then(|| poort::password::hash(PASSWORD)),
            })
            .await
            .unwrap()
            .id
    }

    async fn user_id(&self, login: &str) -> String {
        self.state.store.users().find_by_login(login).await.unwrap().unwrap().id
    }

    fn browser(&self) -> Browser {
        Browser::new(app::app(self.state.clone()))
    }

    /// A session for `user_id` made in the store, and a browser presenting it (as after a
    /// sign-in elsewhere: federated users have no password to sign in with here).
    async fn session_browser(&self, user_id: &str) -> (Browser, String) {
        let token = random_token();
        let session = self
            .state
            .store
            .sessions()
            .create(NewSession {
                cookie_hash: keyed_hash(&self.state.hash_key, &token),
                user_id: user_id.into(),
                auth_time: now(),
                amr: vec!["pwd".into()],
                acr: Some("1".into()),
                idle_expires_at: now() + 3600,
                expires_at: now() + 36000,
                user_agent: None,
                ip: None,
            })
            .await
            .unwrap();
        let mut b = self.browser();
        b.cookies.insert("poort_session".into(), token);
        (b, session.id)
    }

    /// Ann signed in through `/account`.
    async fn signed_in(&self) -> Browser {
        let mut b = self.browser();
        let first = b.get("/account").await;
        let back = b.sign_in(first.location.as_deref().unwrap(), "ann@example.com", PASSWORD).await;
        assert_eq!(back.location.as_deref(), Some("/account"), "{}", back.body);
        b
    }

    async fn session_live(&self, session_id: &str) -> bool {
        let session = self.state.store.sessions().get(session_id).await.unwrap().unwrap();
        session.is_live(now())
    }
}

/// Opens the change-password page and sends its form.
async fn change(b: &mut Browser, current: &str, new: &str, confirm: &str) -> Page {
    let page = b.get("/account/password").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let csrf = page.input("csrf_token").unwrap();
    b.post_form("/account/password", &[("csrf_token", &csrf), ("current_password", current), ("password", new), ("password_confirm", confirm)])
        .await
}

async fn can_sign_in(f: &Fixture, password: &str) -> bool {
    let mut b = f.browser();
    let first = b.get("/account").await;
    b.sign_in(first.location.as_deref().unwrap(), "ann", password).await.location.as_deref() == Some("/account")
}

#[tokio::test]
async fn the_account_page_signs_in_first_and_comes_back() {
    let f = Fixture::new().await;
    let mut b = f.browser();
    let first = b.get("/account").await;
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    let login = first.location.clone().unwrap();
    assert!(login.starts_with("/login?ticket="), "{login}");
    let page = b.get(&login).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("Sign in to continue to Poort."), "{}", page.body);
    let wrong = b.sign_in(&login, "ann", "not the password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("The user ID or password is incorrect."));
    let back = b.sign_in(&login, "ann@example.com", PASSWORD).await;
    assert_eq!(back.status, StatusCode::SEE_OTHER);
    assert_eq!(back.location.as_deref(), Some("/account"));
    assert!(b.cookies.contains_key("poort_session"));

    let account = b.get("/account").await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(account.body.contains("Personal settings"));
    assert!(account.body.contains("Ann Smith") && account.body.contains("ann@example.com"));
    assert!(account.body.contains(r#"href="/account/password""#));
    assert!(account.body.contains(r#"action="/logout""#));
    assert_eq!(account.headers["cache-control"], "no-store");

    // The change-password page comes back to itself.
    let mut other = f.browser();
    let first = other.get("/account/password").await;
    let back = other.sign_in(first.location.as_deref().unwrap(), "ann", PASSWORD).await;
    assert_eq!(back.location.as_deref(), Some("/account/password"));
    assert_eq!(other.get("/account/password").await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_sign_in_ticket_cannot_be_made_to_leave_the_site() {
    use poort::authorize::ticket::{Ticket, seal};
    let f = Fixture::new().await;
    // Even a ticket we sealed ourselves with an outside target goes back to /account.
    let ticket = Ticket {
        params: Default::default(),
        login_at: None,
        session_id: None,
        consented: false,
        expires_at: now() + 600,
        return_to: Some("//evil.example/".into()),
        terms_id: None,
    };
    let sealed = seal(&f.state, &ticket).unwrap();
    let mut b = f.browser();
    let back = b.sign_in(&format!("/login?ticket={sealed}"), "ann", PASSWORD).await;
    assert_eq!(back.location.as_deref(), Some("/account"));
}

#[tokio::test]
async fn change_password_checks_the_current_one_the_strength_and_the_confirmation() {
    let f = Fixture::new().await;
    let mut b = f.signed_in().await;
    let page = b.get("/account/password").await;
    assert!(page.body.contains("Current password") && page.body.contains("password-meter.js"), "{}", page.body);

    let forged = b
        .post_form("/account/password", &[("current_password", PASSWORD), ("password", NEW_PASSWORD), ("password_confirm", NEW_PASSWORD)])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "no CSRF token, no change");
    let wrong = change(&mut b, "not the password", NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    assert!(wrong.body.contains("Your current password is incorrect."), "{}", wrong.body);
    let weak = change(&mut b, PASSWORD, "password123", "password123").await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert!(weak.body.contains("This password is too easy to guess."), "{}", weak.body);
    let short = change(&mut b, PASSWORD, "kort", "kort").await;
    assert!(short.body.contains("The password must have at least 10 characters."), "{}", short.body);
    let personal = change(&mut b, PASSWORD, "AnnSmith1985", "AnnSmith1985").await;
    assert!(personal.body.contains("must not be based on your name"), "{}", personal.body);
    let mismatch = change(&mut b, PASSWORD, NEW_PASSWORD, "violet tractor marmalade harbor").await;
    assert_eq!(mismatch.status, StatusCode::BAD_REQUEST);
    assert!(mismatch.body.contains("The passwords do not match."));
    assert!(can_sign_in(&f, PASSWORD).await, "nothing changed yet");

    let done = change(&mut b, PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(done.body.contains("Your password has been changed."), "{}", done.body);
    assert!(!can_sign_in(&f, PASSWORD).await);
    assert!(can_sign_in(&f, NEW_PASSWORD).await);
    let events = f.state.store.audit().list(Some(&f.user_id("ann").await), 50).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert!(kinds.contains(&"password.changed") && kinds.contains(&"password.change_failed"), "{kinds:?}");
    let logged = serde_json::to_string(&events.iter().map(|e| &e.detail).collect::<Vec<_>>()).unwrap();
    assert!(!logged.contains("violet") && !logged.contains("horse"), "no password in the audit trail");
}

#[tokio::test]
async fn wrong_current_passwords_count_like_failed_sign_ins() {
    let f = Fixture::with(|settings| {
        settings.accounts.max_failed_sign_ins = 3;
        settings.accounts.failure_delay = std::time::Duration::ZERO;
    })
    .await;
    let mut b = f.signed_in().await;
    for _ in 0..3 {
        let wrong = change(&mut b, "not the password", NEW_PASSWORD, NEW_PASSWORD).await;
        assert_eq!(wrong.status, StatusCode::BAD_REQUEST);
    }
    // Locked now: even the right current password changes nothing…
    let locked = change(&mut b, PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{}", locked.body);
    assert!(locked.body.contains("Too many attempts."), "{}", locked.body);
    // …and the same lock holds for signing in.
    let mut other = f.browser();
    let first = other.get("/account").await;
    let refused = other.sign_in(first.location.as_deref().unwrap(), "ann", PASSWORD).await;
    assert!(refused.body.contains("Too many attempts."), "{}", refused.body);
    assert!(!can_sign_in(&f, NEW_PASSWORD).await);
}

#[tokio::test]
async fn a_change_ends_the_other_sessions_and_revokes_refresh_tokens() {
    let f = Fixture::new().await;
    let ann = f.user_id("ann").await;
    let (mut b, own_session) = f.session_browser(&ann).await;
    let (_, other_session) = f.session_browser(&ann).await;
    f.state
        .store
        .clients()
        .insert(NewClient {
            client_id: "rp".into(),
            secret_hash: None,
            secret_sealed: None,
            secret_expires_at: 0,
            metadata: serde_json::json!({ "redirect_uris": ["https://rp.example/cb"] }),
            source: ClientSource::Config,
            registration_token_hash: None,
        })
        .await
        .unwrap();
    let grant = f
        .state
        .store
        .grants()
        .create_grant(NewGrant {
            client_id: "rp".into(),
            user_id: Some(ann.clone()),
            session_id: Some(other_session.clone()),
            scope: "openid offline_access".into(),
            claims: None,
            auth_time: Some(now()),
            expires_at: now() + 3600,
        })
        .await
        .unwrap();
    let refresh_hash = keyed_hash(&f.state.hash_key, &random_token());
    f.state
        .store
        .grants()
        .store_token(NewToken {
            token_hash: refresh_hash.clone(),
            kind: TokenKind::Refresh,
            grant_id: grant.id.clone(),
            client_id: "rp".into(),
            user_id: Some(ann.clone()),
            scope: "openid offline_access".into(),
            family_id: None,
            expires_at: now() + 3600,
        })
        .await
        .unwrap()
        .unwrap();

    // A failed attempt ends nothing.
    change(&mut b, "not the password", NEW_PASSWORD, NEW_PASSWORD).await;
    assert!(f.session_live(&other_session).await);
    assert!(f.state.store.grants().find_token(&refresh_hash).await.unwrap().unwrap().is_active(now()));

    let done = change(&mut b, PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert!(!f.session_live(&other_session).await, "the other session ended");
    assert!(f.session_live(&own_session).await, "this browser stays signed in");
    let token = f.state.store.grants().find_token(&refresh_hash).await.unwrap().unwrap();
    assert!(token.revoked_at.is_some() && !token.is_active(now()));
    assert!(f.state.store.grants().get_grant(&grant.id).await.unwrap().unwrap().revoked_at.is_some());
    assert_eq!(b.get("/account").await.status, StatusCode::OK);
}

#[tokio::test]
async fn federated_users_are_told_why_there_is_no_password_to_change() {
    let f = Fixture::new().await;
    let bob = f.user("bob@example.com", None, "Microsoft 365").await;
    let (mut b, _) = f.session_browser(&bob).await;
    let account = b.get("/account").await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(account.body.contains("You sign in through Microsoft 365, so you have no password to change here."), "{}", account.body);
    assert!(!account.body.contains(r#"href="/account/password""#));
    let page = b.get("/account/password").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Change your password there; it cannot be changed here."), "{}", page.body);
    assert!(!page.body.contains("current_password"));
    let csrf = account.input("csrf_token").unwrap();
    let refused = b
        .post_form("/account/password", &[("csrf_token", &csrf), ("current_password", ""), ("password", NEW_PASSWORD), ("password_confirm", NEW_PASSWORD)])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let stored = f.state.store.users().get(&bob).await.unwrap().unwrap();
    assert!(stored.password_hash.is_none());
}

#[tokio::test]
async fn the_pages_speak_dutch() {
    let f = Fixture::new().await;
    let mut b = f.browser();
    let first = b.get("/account?ui_locales=nl").await;
    let login = first.location.unwrap();
    let page = b.get(&login).await;
    assert!(page.body.contains(r#"<html lang="nl">"#) && page.body.contains("Aanmelden"), "{}", page.body);
    let back = b.sign_in(&login, "ann", PASSWORD).await;
    let account_uri = back.location.unwrap();
    assert_eq!(account_uri, "/account?ui_locales=nl");
    let account = b.get(&account_uri).await;
    assert!(account.body.contains(r#"<html lang="nl">"#) && account.body.contains("Persoonlijke instellingen"), "{}", account.body);
    assert!(account.body.contains("Wachtwoord wijzigen") && account.body.contains("Afmelden"));

    // The browser's language decides where no ui_locales is given.
    let cookie = b.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ");
    let request = axum::http::Request::get("/account/password")
        .header(header::COOKIE, &cookie)
        .header(header::ACCEPT_LANGUAGE, "nl-NL,nl;q=0.9")
        .body(axum::body::Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(b.router.clone(), request).await.unwrap();
    let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("Huidig wachtwoord") && body.contains("Nieuw wachtwoord"), "{body}");
}

#[tokio::test]
async fn signing_out_ends_the_session_and_clears_the_cookie() {
    let f = Fixture::new().await;
    let mut b = f.signed_in().await;
    let account = b.get("/account").await;
    let csrf = account.input("csrf_token").unwrap();
    let ann = f.user_id("ann").await;
    let session_id = f.state.store.sessions().list_for_user(&ann, now()).await.unwrap()[0].id.clone();

    let old_cookie = b.cookies["poort_session"].clone();
    let forged = b.post_form("/logout", &[]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(f.session_live(&session_id).await);

    let out = b.post_form("/logout", &[("csrf_token", &csrf)]).await;
    assert_eq!(out.status, StatusCode::OK);
    assert!(out.body.contains("You are signed out"), "{}", out.body);
    let cleared = out.headers.get_all(header::SET_COOKIE).iter().any(|c| {
        let c = c.to_str().unwrap();
        c.starts_with("poort_session=;") && c.contains("Max-Age=0") && c.contains("HttpOnly")
    });
    assert!(cleared, "{:?}", out.headers);
    assert!(!b.cookies.contains_key("poort_session"));
    assert!(!f.session_live(&session_id).await);
    assert!(b.get("/account").await.location.unwrap().starts_with("/login?ticket="));
    // The old cookie no longer signs anyone in either.
    b.cookies.insert("poort_session".into(), old_cookie);
    assert!(b.get("/account").await.location.unwrap().starts_with("/login?ticket="));
}
