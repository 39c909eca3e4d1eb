//! The authorization endpoint: where errors go (page or redirect), sign-in, consent, prompts,
//! max_age, hints, request objects and response modes — through the router in process.

use crate::browser::{Browser, Page};
use axum::http::StatusCode;
use poort::app;
use poort::state::AppState;
use poort_storage::repo::{ConsumeOutcome, NewUser, UserStatus};

const ISSUER: &str = "https://op.example";
const CB: &str = "https://rp.example/cb";
const PASSWORD: &str = "correct horse battery staple";

struct Fixture {
    state: AppState,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn new() -> Self {
        let (state, dir) = crate::support::provider(ISSUER, |_| {}).await;
        let fixture = Self { state, _dir: dir };
        fixture.client("rp", serde_json::json!({ "redirect_uris": [CB, "https://rp.example/cb?bar=foo"], "client_name": "The RP", "grant_types": ["authorization_code", "refresh_token"] })).await;
        fixture.client("single", serde_json::json!({ "redirect_uris": [CB], "first_party": true })).await;
        fixture.user("ann@example.com", UserStatus::Active).await;
        fixture
    }

    async fn client(&self, id: &str, metadata: serde_json::Value) {
        crate::support::insert_client(&self.state, id, metadata).await;
    }

    async fn user(&self, email: &str, status: UserStatus) -> String {
        self.state
            .store
            .users()
            .create(NewUser {
                email: email.into(),
                username: Some(email.split('@').next().unwrap().into()),
                display_name: None,
                email_verified: true,
                claims: serde_json::json!({}),
                status,
                auth_method: "password".into(),
                password_hash: Some(poort::password::hash(PASSWORD)),
            })
            .await
            .unwrap()
            .id
    }

    fn browser(&self) -> Browser {
        Browser::new(app::app(self.state.clone()))
    }

    async fn code_is_stored(&self, code: &str) -> bool {
        matches!(
            self.state.store.grants().consume_code(&poort::crypto::token_key(&self.state.hash_key, code), poort_storage::now()).await.unwrap(),
            ConsumeOutcome::Consumed(_)
        )
    }
}

fn auth(extra: &str) -> String {
    format!("/authorize?client_id=rp&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code&scope=openid&state=xyz{extra}")
}

fn assert_page(page: &Page) {
    assert!(page.location.is_none(), "must not redirect: {:?}", page.location);
    assert!(page.status.is_client_error(), "{}", page.status);
    assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
}

fn assert_redirect_error(page: &Page, error: &str) {
    let location = page.location.as_deref().expect("a redirect");
    assert!(location.starts_with(CB), "{location}");
    let params = page.location_params();
    assert_eq!(params.get("error").map(String::as_str), Some(error), "{location}");
    assert_eq!(params.get("state").map(String::as_str), Some("xyz"));
    assert_eq!(params.get("iss").map(String::as_str), Some(ISSUER));
    assert!(!params.contains_key("code"));
}

/// Signs in and consents; returns the final redirect.
async fn full_flow(b: &mut Browser, uri: &str) -> Page {
    let first = b.get(uri).await;
    assert_eq!(first.status, StatusCode::SEE_OTHER, "{}", first.body);
    let login = first.location.unwrap();
    assert!(login.starts_with("/login?ticket="), "{login}");
    let after_login = b.sign_in(&login, "ann@example.com", PASSWORD).await;
    let consent = after_login.location.clone().unwrap();
    if consent.starts_with("/consent") { b.consent(&consent, "allow").await } else { after_login }
}

#[tokio::test]
async fn requests_that_cannot_be_trusted_to_redirect_show_a_page() {
    let f = Fixture::new().await;
    let mut b = f.browser();
    for uri in [
        "/authorize?response_type=code&scope=openid",
        "/authorize?client_id=nobody&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code&scope=openid",
        "/authorize?client_id=rp&redirect_uri=https%3A%2F%2Fevil.example%2Fcb&response_type=code&scope=openid",
        "/authorize?client_id=rp&redirect_uri=https%3A%2F%2Frp.example%2Fcb%2Fextra&response_type=code&scope=openid",
        "/authorize?client_id=rp&redirect_uri=https%3A%2F%2Frp.example%2Fcb%3Ffoo%3Dbar&response_type=code&scope=openid",
        "/authorize?client_id=rp&redirect_uri=https%3A%2F%2Frp.example%2Fcb%3Fbar%3Dfoo%26foo%3Dbar&response_type=code&scope=openid",
        // Two URIs registered, none named.
        "/authorize?client_id=rp&response_type=code&scope=openid",
        "/authorize?client_id=rp&client_id=rp&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code&scope=openid",
    ] {
        let page = b.get(uri).await;
        assert_page(&page);
    }
    // With one registered URI, omitting it is fine.
    let page = b.get("/authorize?client_id=single&response_type=code&scope=openid&state=xyz").await;
    assert!(page.location.unwrap().starts_with("/login?ticket="));
}

#[tokio::test]
async fn other_errors_go_to_the_redirect_uri_with_state_and_iss() {
    let f = Fixture::new().await;
    let mut b = f.browser();
    let page = b.get("/authorize?client_id=rp&redirect_uri=https%3A%2F%2Frp.example%2Fcb&scope=openid&state=xyz").await;
    assert_redirect_error(&page, "invalid_request");
    assert_redirect_error(&b.get(&auth("&response_type=token")).await, "invalid_request");
    let page = b.get("/authorize?client_id=rp&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=token&scope=openid&state=xyz").await;
    assert!(page.location.as_deref().unwrap().contains("error=unsupported_response_type"));
    assert_redirect_error(&b.get(&auth("&prompt=none")).await, "login_required");
    assert_redirect_error(&b.get(&auth("&request_uri=https%3A%2F%2Frp.example%2Freq")).await, "invalid_request_uri");
    assert_redirect_error(&b.get(&auth("&max_age=soon")).await, "invalid_request");
    assert_redirect_error(&b.get(&auth("&id_token_hint=garbage")).await, "invalid_request");
    // Nothing was stored for any of them.
    assert!(f.state.store.sessions().list_for_user("nobody", poort_storage::now()).await.unwrap().is_empty());
}

#[tokio::test]
async fn sign_in_consent_and_a_code_then_single_sign_on() {
    let f = Fixture::new().await;
    let mut b = f.browser();
    let done = full_flow(&mut b, &auth("&nonce=n1")).await;
    let params = done.location_params();
    assert!(done.location.as_deref().unwrap().starts_with(&format!("{CB}?code=")), "{:?}", done.location);
    assert_eq!(params["state"], "xyz");
    assert_eq!(params["iss"], ISSUER);
    assert!(params["code"].len() >= 43);
    assert!(f.code_is_stored(&params["code"]).await);

    // Signed in and consented: the next request answers at once.
    let again = b.get(&auth("")).await;
    let code = again.location_params().get("code").cloned().expect("a code without any page");
    assert!(f.code_is_stored(&code).await);
    // prompt=none too.
    assert!(b.get(&auth("&prompt=none")).await.location_params().contains_key("code"));
    // A query-carrying registered URI keeps its query.
    let page = b.get("/authorize?client_id=rp&redirect_uri=https%3A%2F%2Frp.example%2Fcb%3Fbar%3Dfoo&response_type=code&scope=openid").await;
    assert!(page.location.unwrap().starts_with("https://rp.example/cb?bar=foo&code="));
    // A first-party client needs no consent.
    let page = b.get("/authorize?client_id=single&response_type=code&scope=openid%20email").await;
    assert!(page.location_params().contains_key("code"));
}

#[tokio::test]
async fn prompts_and_max_age_force_the_pages_again() {
    let f = Fixture::new().await;
    let mut b = f.browser();
    full_flow(&mut b, &auth("")).await;
    for extra in ["&prompt=login", "&max_age=0", "&prompt=select_account"] {
        let page = b.get(&auth(extra)).await;
        assert!(page.location.as_deref().unwrap().starts_with("/login?ticket="), "{extra}: {:?}", page.location);
        // Signing in again satisfies the prompt (no loop).
        let done = b.sign_in(page.location.as_deref().unwrap(), "ann", PASSWORD).await;
        assert!(done.location_params().contains_key("code"), "{extra}: {:?}", done.location);
    }
    let page = b.get(&auth("&max_age=3600")).await;
    assert!(page.location_params().contains_key("code"));
    let page = b.get(&auth("&prompt=consent")).await;
    assert!(page.location.as_deref().unwrap().starts_with("/consent?ticket="));
    let done = b.consent(page.location.as_deref().unwrap(), "allow").await;
    assert!(done.location_params().contains_key("code"));
    // New scopes need consent; with prompt=none that is consent_required.
    let wider = "/authorize?client_id=rp&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code&scope=openid%20email&state=xyz&prompt=none";
    assert_redirect_error(&b.get(wider).await, "consent_required");
}

#[tokio::test]
async fn declined_consent_is_access_denied_and_issues_nothing() {
    let f = Fixture::new().await;
    let mut b = f.browser();
    let first = b.get(&auth("")).await;
    let consent = b.sign_in(first.location.as_deref().unwrap(), "ann@example.com", PASSWORD).await;
    let done = b.consent(consent.location.as_deref().unwrap(), "deny").await;
    assert_redirect_error(&done, "access_denied");
}

#[tokio::test]
async fn wrong_credentials_get_one_answer_and_inactive_accounts_a_clear_one() {
    let f = Fixture::new().await;
    f.user("off@example.com", UserStatus::Disabled).await;
    f.user("new@example.com", UserStatus::Invited).await;
    let mut b = f.browser();
    let login = b.get(&auth("")).await.location.unwrap();
    let wrong_password = b.sign_in(&login, "ann@example.com", "not the password").await;
    let unknown_user = b.sign_in(&login, "nobody@example.com", PASSWORD).await;
    for page in [&wrong_password, &unknown_user] {
        assert_eq!(page.status, StatusCode::UNAUTHORIZED);
        assert!(page.body.contains("The user ID or password is incorrect."));
        assert!(page.location.is_none());
    }
    let disabled_wrong = b.sign_in(&login, "off@example.com", "not the password").await;
    assert!(disabled_wrong.body.contains("The user ID or password is incorrect."), "no hint before the password is right");
    assert!(b.sign_in(&login, "off@example.com", PASSWORD).await.body.contains("disabled"));
    assert!(b.sign_in(&login, "new@example.com", PASSWORD).await.body.contains("has not been activated"));
    assert!(!b.cookies.contains_key("poort_session"), "no session for any of them");
}

#[tokio::test]
async fn forms_need_their_csrf_token_and_an_intact_ticket() {
    let f = Fixture::new().await;
    let mut b = f.browser();
    let login = b.get(&auth("")).await.location.unwrap();
    let page = b.get(&login).await;
    let ticket = page.input("ticket").unwrap();
    let no_csrf = b.post_form("/login", &[("ticket", &ticket), ("username", "ann"), ("password", PASSWORD)]).await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    let csrf = page.input("csrf_token").unwrap();
    let mut tampered = ticket.clone();
    tampered.replace_range(tampered.len() - 3.., "AAA");
    let bad_ticket = b.post_form("/login", &[("ticket", &tampered), ("csrf_token", &csrf), ("username", "ann"), ("password", PASSWORD)]).await;
    assert_eq!(bad_ticket.status, StatusCode::BAD_REQUEST);
    assert!(!b.cookies.contains_key("poort_session"));
    assert_eq!(b.get("/login?ticket=garbage").await.status, StatusCode::BAD_REQUEST);
    assert_eq!(b.get("/consent").await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_id_token_hint_for_someone_else_is_login_required_with_prompt_none() {
    let f = Fixture::new().await;
    let mut b = f.browser();
    full_flow(&mut b, &auth("")).await;
    let mut claims = serde_json::Map::new();
    claims.insert("iss".into(), ISSUER.into());
    claims.insert("sub".into(), "someone-else".into());
    claims.insert("aud".into(), "rp".into());
    let hint = poort::tokens::jwt::sign(&f.state.keyring.snapshot(), "RS256", None, claims).unwrap();
    assert_redirect_error(&b.get(&auth(&format!("&prompt=none&id_token_hint={hint}"))).await, "login_required");
}

fn unsigned(claims: serde_json::Value) -> String {
    use base64::Engine as _;
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    format!("{}.{}.", e.encode(br#"{"alg":"none"}"#), e.encode(claims.to_string()))
}

#[tokio::test]
async fn request_objects_supply_state_nonce_and_the_redirect_uri() {
    let f = Fixture::new().await;
    let mut b = f.browser();
    full_flow(&mut b, &auth("")).await;
    let object = unsigned(serde_json::json!({ "state": "from-object", "nonce": "n", "redirect_uri": CB, "client_id": "rp", "response_type": "code", "scope": "openid" }));
    let uri = format!("/authorize?client_id=rp&response_type=code&scope=openid&redirect_uri=https%3A%2F%2Frp.example%2Fcallback_invalid&request={object}");
    let page = b.get(&uri).await;
    let params = page.location_params();
    assert!(page.location.as_deref().unwrap().starts_with(CB));
    assert_eq!(params["state"], "from-object");
    assert!(params.contains_key("code"));
}

#[tokio::test]
async fn form_post_and_post_requests() {
    let f = Fixture::new().await;
    let mut b = f.browser();
    full_flow(&mut b, &auth("")).await;
    let page = b.get(&auth("&response_mode=form_post")).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.location.is_none());
    assert!(page.body.contains(r#"<form method="post" action="https://rp.example/cb">"#), "{}", page.body);
    assert_eq!(page.input("state").as_deref(), Some("xyz"));
    assert_eq!(page.input("iss").as_deref(), Some(ISSUER));
    assert!(page.input("code").is_some());
    let page = b
        .post_form("/authorize", &[("client_id", "rp"), ("redirect_uri", CB), ("response_type", "code"), ("scope", "openid"), ("state", "xyz")])
        .await;
    assert!(page.location_params().contains_key("code"));
}

#[tokio::test]
async fn signed_request_objects_are_verified_with_the_clients_keys() {
    use josekit::jws::{JwsHeader, RS256};
    use josekit::jwt::JwtPayload;
    let f = Fixture::new().await;
    let key = RS256.generate_key_pair(2048).unwrap();
    let mut public = key.to_jwk_public_key();
    public.set_key_id("rp-key");
    f.client("signer", serde_json::json!({
        "redirect_uris": [CB], "first_party": true, "request_object_signing_alg": "RS256",
        "jwks": { "keys": [serde_json::Value::Object(public.as_ref().clone())] }
    }))
    .await;
    let sign = |key_pair: &josekit::jws::alg::rsassa::RsassaJwsSigner| {
        let mut header = JwsHeader::new();
        header.set_key_id("rp-key");
        let mut payload = JwtPayload::new();
        for (k, v) in [("client_id", "signer"), ("response_type", "code"), ("scope", "openid"), ("state", "signed-state"), ("redirect_uri", CB), ("aud", ISSUER), ("iss", "signer")] {
            payload.set_claim(k, Some(v.into())).unwrap();
        }
        josekit::jwt::encode_with_signer(&payload, &header, key_pair).unwrap()
    };
    let mut b = f.browser();
    let first = b.get("/authorize?client_id=single&response_type=code&scope=openid").await;
    b.sign_in(first.location.as_deref().unwrap(), "ann", PASSWORD).await;

    let good = sign(&RS256.signer_from_jwk(&key.to_jwk_private_key()).unwrap());
    let page = b.get(&format!("/authorize?client_id=signer&response_type=code&scope=openid&request={good}")).await;
    let params = page.location_params();
    assert_eq!(params.get("state").map(String::as_str), Some("signed-state"));
    assert!(params.contains_key("code"), "{:?}", page.location);

    let other = RS256.generate_key_pair(2048).unwrap();
    let forged = sign(&RS256.signer_from_jwk(&other.to_jwk_private_key()).unwrap());
    let page = b.get(&format!("/authorize?client_id=signer&response_type=code&scope=openid&request={forged}")).await;
    assert_eq!(page.location_params().get("error").map(String::as_str), Some("invalid_request_object"));
    // This client must sign: an unsigned object is refused.
    let unsigned_object = unsigned(serde_json::json!({ "client_id": "signer", "response_type": "code", "scope": "openid" }));
    let page = b.get(&format!("/authorize?client_id=signer&response_type=code&scope=openid&request={unsigned_object}")).await;
    assert_eq!(page.location_params().get("error").map(String::as_str), Some("invalid_request_object"));
}

#[tokio::test]
async fn a_role_gated_client_refuses_users_without_the_role_and_issues_nothing() {
    let f = Fixture::new().await;
    f.client("settings", serde_json::json!({
        "redirect_uris": [CB], "first_party": true, "client_name": "Settings and maintenance",
        "required_roles": ["user level 0"], "required_permissions": ["settings.login"]
    }))
    .await;
    let settings_auth = "/authorize?client_id=settings&response_type=code&scope=openid&state=xyz";
    let mut b = f.browser();
    let first = b.get(settings_auth).await;
    let refused = b.sign_in(first.location.as_deref().unwrap(), "ann", PASSWORD).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    assert!(refused.body.contains("Settings and maintenance"));
    assert!(refused.location.is_none());
    let back = refused.body.split(r#"class="button" href=""#).nth(1).expect("a way back").split('"').next().unwrap().replace("&amp;", "&").replace("&#x3D;", "=");
    assert!(back.starts_with("/refused?ticket="), "{back}");
    assert_redirect_error(&b.get(&back).await, "access_denied");
    // Signed in now: prompt=none hears access_denied at once.
    assert_redirect_error(&b.get(&format!("{settings_auth}&prompt=none")).await, "access_denied");

    // A role granting the permission opens the door…
    let ann = f.state.store.users().find_by_login("ann").await.unwrap().unwrap();
    f.state.store.roles().upsert("administrator", None, &["settings.login".to_string()]).await.unwrap();
    f.state.store.users().set_roles(&ann.id, &["administrator".to_string()]).await.unwrap();
    assert!(b.get(settings_auth).await.location_params().contains_key("code"));
    // …and so does the required role itself.
    f.state.store.users().set_roles(&ann.id, &["user level 0".to_string()]).await.unwrap();
    assert!(b.get(settings_auth).await.location_params().contains_key("code"));
    f.state.store.users().set_roles(&ann.id, &[]).await.unwrap();
    assert_eq!(b.get(settings_auth).await.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_pages_speak_dutch_when_asked_and_carry_strict_headers() {
    let f = Fixture::new().await;
    let mut b = f.browser();
    let login = b.get(&auth("&ui_locales=nl")).await.location.unwrap();
    let page = b.get(&login).await;
    assert!(page.body.contains(r#"<html lang="nl">"#), "{}", page.body);
    assert!(page.body.contains("Aanmelden"));
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(page.headers["cache-control"], "no-store");
    let wrong = b.sign_in(&login, "ann", "wrong password").await;
    assert!(wrong.body.contains(r#"<html lang="nl">"#));
    // Without ui_locales the browser's language decides; the error page is themed too.
    let request = axum::http::Request::get("/authorize?client_id=nobody").header("accept-language", "nl-NL,nl;q=0.9,en;q=0.5").body(axum::body::Body::empty()).unwrap();
    let response = tower::ServiceExt::oneshot(app::app(f.state.clone()), request).await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains(r#"<html lang="nl">"#));
    // The theme's assets are served.
    let css = b.get("/assets/style.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.headers["content-type"].to_str().unwrap().starts_with("text/css"));
    assert_eq!(b.get("/assets/nope.css").await.status, StatusCode::NOT_FOUND);
}
