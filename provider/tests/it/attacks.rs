//! One test per attack, named after the threat in RFC 6819 (OAuth 2.0 Threat Model) and RFC 9700
//! (OAuth 2.0 Security Best Current Practice): each plays the attacker's part against the
//! provider and checks that it gains nothing — and that the victim's legitimate use still works.

use crate::browser::{Browser, Page};
use crate::grant_fixture::{CB, CodeSpec, ISSUER, Op, SECRET, pkce};
use axum::http::{StatusCode, header};
use poort::session::SESSION_COOKIE;
use poort::web::csrf::CSRF_COOKIE;
use serde_json::json;

const PASSWORD: &str = "correct horse battery staple";

/// A provider with the first-party client `rp`, the consent-asking client `crm`, and the users
/// `ann` and `mallory`.
async fn provider() -> (poort::state::AppState, tempfile::TempDir) {
    let (state, dir) = crate::support::provider(ISSUER, |_| {}).await;
    crate::support::insert_client(&state, "rp", json!({ "redirect_uris": [CB], "first_party": true, "post_logout_redirect_uris": ["https://rp.example/bye"] })).await;
    crate::support::insert_client(&state, "crm", json!({ "redirect_uris": [CB] })).await;
    crate::support::insert_user(&state, "ann@example.com", PASSWORD).await;
    crate::support::insert_user(&state, "mallory@example.com", PASSWORD).await;
    (state, dir)
}

fn authorize(client: &str, redirect_uri: &str, extra: &str) -> String {
    let redirect: String = url::form_urlencoded::byte_serialize(redirect_uri.as_bytes()).collect();
    format!("/authorize?client_id={client}&redirect_uri={redirect}&response_type=code&scope=openid&state=st{extra}")
}

/// Signs `user` in through the authorization request `start` and returns the final response.
async fn sign_in(browser: &mut Browser, start: &str, user: &str) -> Page {
    let first = browser.get(start).await;
    let login = first.location.clone().unwrap_or_else(|| panic!("to the sign-in page: {}", first.body));
    browser.sign_in(&login, user, PASSWORD).await
}

#[tokio::test]
async fn open_redirector_rfc6819_4_2_4_rfc9700_4_11_2_unregistered_redirect_uris_get_a_page_never_a_redirect() {
    let (state, _dir) = provider().await;
    let mut browser = Browser::new(poort::app::app(state.clone()));
    for target in [
        "https://evil.example/cb",
        "https://rp.example/cb/../../evil",
        "https://rp.example/cb?next=https://evil.example",
        "https://rp.example/cb/",
        "https://rp.example.evil.example/cb",
        "https://rp.example:8443/cb",
        "http://rp.example/cb",
        "//evil.example/cb",
        "javascript:alert(1)",
    ] {
        let page = browser.get(&authorize("rp", target, "&scope=not-a-scope")).await;
        assert!(page.location.is_none(), "{target}: redirected to {:?}", page.location);
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{target}");
    }
    // An unknown client: a page too, whatever redirect it names.
    let page = browser.get(&authorize("nobody", "https://evil.example/cb", "")).await;
    assert!(page.location.is_none() && page.status.is_client_error());
    // After logout, only a registered URI with a valid hint is followed.
    let page = browser.get("/session/end?client_id=rp&post_logout_redirect_uri=https%3A%2F%2Fevil.example%2F").await;
    assert!(page.location.as_deref().is_none_or(|l| !l.contains("evil.example")), "{:?}", page.location);
    // A sign-in's way back to Poort's own pages never leaves the site.
    assert!(!poort::authorize::ticket::is_local_path("//evil.example/account"));
    assert!(!poort::authorize::ticket::is_local_path("https://evil.example/"));
    assert!(poort::authorize::ticket::is_local_path("/account"));
    // The legitimate request still gets its code.
    let done = sign_in(&mut browser, &authorize("rp", CB, ""), "ann").await;
    assert!(done.location.as_deref().unwrap().starts_with(&format!("{CB}?code=")), "{:?}", done.location);
}

#[tokio::test]
async fn mix_up_rfc9700_4_4_every_authorization_response_names_its_issuer() {
    let (state, _dir) = provider().await;
    let mut browser = Browser::new(poort::app::app(state.clone()));
    let discovery = browser.get("/.well-known/openid-configuration").await;
    let discovery: serde_json::Value = serde_json::from_str(&discovery.body).unwrap();
    assert_eq!(discovery["authorization_response_iss_parameter_supported"], true);
    // An error response (no session for prompt=none) and a success both carry `iss`.
    let error = browser.get(&authorize("rp", CB, "&prompt=none")).await;
    let params = error.location_params();
    assert_eq!(params.get("error").map(String::as_str), Some("login_required"));
    assert_eq!(params.get("iss").map(String::as_str), Some(ISSUER));
    let done = sign_in(&mut browser, &authorize("rp", CB, ""), "ann").await;
    let params = done.location_params();
    assert!(params.contains_key("code"));
    assert_eq!(params.get("iss").map(String::as_str), Some(ISSUER));
    assert_eq!(params.get("state").map(String::as_str), Some("st"));
}

#[tokio::test]
async fn csrf_rfc6819_4_4_1_8_rfc9700_4_7_forms_without_their_token_change_nothing() {
    let (state, _dir) = provider().await;
    let mut browser = Browser::new(poort::app::app(state.clone()));
    let first = browser.get(&authorize("crm", CB, "")).await;
    let login = browser.get(first.location.as_deref().unwrap()).await;
    let ticket = login.input("ticket").unwrap();
    let token = login.input("csrf_token").unwrap();
    // A cross-site form post carries the victim's cookies but cannot read the token.
    for (name, fields) in [
        ("no token", vec![("ticket", ticket.as_str()), ("username", "ann"), ("password", PASSWORD)]),
        ("a forged token", vec![("ticket", ticket.as_str()), ("csrf_token", "forged"), ("username", "ann"), ("password", PASSWORD)]),
    ] {
        let refused = browser.post_form("/login", &fields).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{name}");
        assert!(!browser.cookies.contains_key(SESSION_COOKIE), "{name}: signed in");
    }
    // The token without the cookie it pairs with (another browser): refused as well.
    let mut other = Browser::new(poort::app::app(state.clone()));
    let refused = other.post_form("/login", &[("ticket", &ticket), ("csrf_token", &token), ("username", "ann"), ("password", PASSWORD)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    // Consent: the same, and no code is issued.
    let consent = browser.sign_in(first.location.as_deref().unwrap(), "ann", PASSWORD).await;
    let consent_page = browser.get(consent.location.as_deref().expect("to the consent page")).await;
    let ticket = consent_page.input("ticket").unwrap();
    let forged = browser.post_form("/consent", &[("ticket", &ticket), ("csrf_token", "forged"), ("decision", "allow")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(forged.location.is_none());
    // Signing out from another site: refused, the session lives on.
    let logout = browser.post_form("/logout", &[]).await;
    assert_eq!(logout.status, StatusCode::FORBIDDEN);
    let silent = browser.get(&authorize("rp", CB, "&prompt=none")).await;
    assert!(silent.location_params().contains_key("code"), "still signed in: {:?}", silent.location);
    assert!(browser.cookies.contains_key(CSRF_COOKIE));
}

#[tokio::test]
async fn clickjacking_rfc6819_4_4_1_9_rfc9700_4_16_pages_refuse_to_be_framed() {
    let (state, _dir) = provider().await;
    let mut browser = Browser::new(poort::app::app(state.clone()));
    let first = browser.get(&authorize("crm", CB, "")).await;
    let login = browser.get(first.location.as_deref().unwrap()).await;
    let consent_redirect = browser.sign_in(first.location.as_deref().unwrap(), "ann", PASSWORD).await;
    let consent = browser.get(consent_redirect.location.as_deref().unwrap()).await;
    let error = browser.get(&authorize("rp", "https://evil.example/cb", "")).await;
    let account = browser.get("/account").await;
    let forgot = browser.get("/password/forgot").await;
    for (name, page) in [("sign-in", &login), ("consent", &consent), ("error", &error), ("account", &account), ("forgot", &forgot)] {
        assert_eq!(page.headers.get(header::X_FRAME_OPTIONS).map(|v| v.to_str().unwrap()), Some("DENY"), "{name}");
        let csp = page.headers.get(header::CONTENT_SECURITY_POLICY).map(|v| v.to_str().unwrap()).unwrap_or("");
        assert!(csp.contains("frame-ancestors 'none'"), "{name}: {csp}");
    }
}

#[tokio::test]
async fn session_fixation_a_sign_in_never_keeps_a_session_the_browser_brought() {
    let (state, _dir) = provider().await;
    let app = poort::app::app(state.clone());
    // The attacker signs in and plants their own session cookie in the victim's browser (a
    // "login CSRF"), or makes one up.
    let mut attacker = Browser::new(app.clone());
    sign_in(&mut attacker, &authorize("rp", CB, ""), "mallory").await;
    let planted = attacker.cookies[SESSION_COOKIE].clone();
    for fixed in [planted.clone(), "attacker-chosen-session-value".to_string()] {
        let mut victim = Browser::new(app.clone());
        victim.cookies.insert(SESSION_COOKIE.into(), fixed.clone());
        // The victim signs in as themselves (prompt=login: a planted session must not stand in).
        let done = sign_in(&mut victim, &authorize("rp", CB, "&prompt=login"), "ann").await;
        assert!(done.location.as_deref().unwrap().starts_with(CB), "{:?}", done.location);
        let issued = victim.cookies[SESSION_COOKIE].clone();
        assert_ne!(issued, fixed, "the session identifier is new at sign-in");
    }
    // The planted session was replaced, not extended: the attacker's copy no longer works.
    let silent = attacker.get(&authorize("rp", CB, "&prompt=none")).await;
    assert_eq!(silent.location_params().get("error").map(String::as_str), Some("login_required"), "{:?}", silent.location);
}

#[tokio::test]
async fn authorization_code_injection_rfc9700_4_5_and_pkce_downgrade_4_8_a_code_works_only_for_its_client_uri_and_verifier() {
    let op = Op::new().await;
    op.client("rp", json!({ "redirect_uris": [CB, "https://rp.example/other"] })).await;
    op.client("attacker", json!({ "redirect_uris": ["https://attacker.example/cb"] })).await;
    let (verifier, challenge) = pkce();
    let code = op.code("rp", CodeSpec { challenge: Some((challenge, "S256")), ..CodeSpec::default() }).await;
    let redeem = |client: &'static str, redirect: &'static str, verifier: Option<String>| {
        let code = code.clone();
        let op = &op;
        async move {
            let mut form = vec![("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", redirect)];
            let verifier = verifier.unwrap_or_default();
            if !verifier.is_empty() {
                form.push(("code_verifier", verifier.as_str()));
            }
            op.post("/token", &form, Some((client, SECRET))).await
        }
    };
    // A stolen code injected into another client, another redirect URI, without the verifier
    // (a PKCE downgrade) or with the attacker's own verifier: refused, and the code not spent.
    redeem("attacker", "https://attacker.example/cb", Some(verifier.clone())).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    redeem("rp", "https://rp.example/other", Some(verifier.clone())).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    redeem("rp", CB, None).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    redeem("rp", CB, Some(pkce().0)).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    let tokens = redeem("rp", CB, Some(verifier.clone())).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", String::from_utf8_lossy(&tokens.body));
    // Once: a replay is refused and revokes what the code issued.
    redeem("rp", CB, Some(verifier)).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    let access = tokens.json()["access_token"].as_str().unwrap().to_string();
    assert_eq!(op.userinfo(&access).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn token_substitution_rfc6819_4_4_1_13_rfc9700_4_6_tokens_work_only_for_the_client_they_were_issued_to() {
    let op = Op::new().await;
    op.client("rp", json!({ "redirect_uris": [CB], "grant_types": ["authorization_code", "refresh_token"] })).await;
    op.client("other", json!({ "redirect_uris": ["https://other.example/cb"], "grant_types": ["authorization_code", "refresh_token"] })).await;
    let code = op.code("rp", CodeSpec { scope: "openid offline_access", nonce: Some("n"), ..CodeSpec::default() }).await;
    let tokens = op.redeem("rp", &code).await.tokens();
    let (access, refresh, id_token) = (
        tokens["access_token"].as_str().unwrap(),
        tokens["refresh_token"].as_str().unwrap(),
        tokens["id_token"].as_str().unwrap(),
    );
    // The ID token is for rp alone: another client must not accept it as its own sign-in.
    let (_, claims) = op.verify_signed(id_token).await;
    assert_eq!(claims["aud"], json!("rp"));
    assert_eq!(claims["nonce"], "n");
    // Another client presenting rp's refresh token: refused, and rp's token survives.
    op.refresh("other", refresh, None).await.assert_error(StatusCode::BAD_REQUEST, "invalid_grant");
    // Another client learns nothing by introspection, and cannot revoke rp's tokens.
    let introspected = op.post("/introspect", &[("token", access)], Some(("other", SECRET))).await;
    assert_eq!(introspected.json()["active"], false);
    let revoked = op.post("/revoke", &[("token", access)], Some(("other", SECRET))).await;
    assert_eq!(revoked.status, StatusCode::OK, "RFC 7009: the same answer");
    assert_eq!(op.userinfo(access).await.status, StatusCode::OK, "rp's token still works");
    let introspected = op.post("/introspect", &[("token", access)], Some(("rp", SECRET))).await;
    assert_eq!(introspected.json()["active"], true);
    assert_eq!(introspected.json()["client_id"], "rp");
    let refreshed = op.refresh("rp", refresh, None).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", String::from_utf8_lossy(&refreshed.body));
}
