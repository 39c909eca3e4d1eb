//! Signing out: RP-initiated logout at the end_session_endpoint (`/session/end`, GET and POST)
//! exactly as the certification plan expects — redirect with `state` only for a valid hint and a
//! registered URI, an error page for a bad hint or URI, a confirmation page without a hint, the
//! "signed out" page otherwise — and `prompt=none` afterwards — through the router in process.

use crate::browser::{Browser, Page};
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use http_body_util::BodyExt;
use poort::app;
use poort::crypto::{keyed_hash, random_token};
use poort::state::AppState;
use poort_storage::now;
use poort_storage::repo::{NewSession, NewUser, UserStatus};
use serde_json::{Map, Value, json};
use tower::ServiceExt;

pub(crate) const ISSUER: &str = "https://op.example";
pub(crate) const CB: &str = "https://rp.example/cb";
pub(crate) const BYE: &str = "https://rp.example/bye";
use crate::support::CLIENT_SECRET as SECRET;
pub(crate) const PASSWORD: &str = "correct horse battery staple";
/// Like the suite's: letters, digits and punctuation, percent-encoded on the way.
const STATE: &str = "aB3-._~!$'()*,/:?@[]x%&=";

pub(crate) struct Fixture {
    pub(crate) state: AppState,
    _dir: tempfile::TempDir,
}

impl Fixture {
    pub(crate) async fn new() -> Self {
        Self::with(|_| {}).await
    }

    /// The fixture on a provider whose settings `configure` changed.
    pub(crate) async fn with(configure: impl FnOnce(&mut poort_config::Settings)) -> Self {
        let (state, dir) = crate::support::provider(ISSUER, configure).await;
        let fixture = Self { state, _dir: dir };
        fixture
            .client("rp", json!({ "redirect_uris": [CB], "post_logout_redirect_uris": [BYE], "client_name": "The RP", "first_party": true }))
            .await;
        fixture.client("other", json!({ "redirect_uris": ["https://other.example/cb"], "post_logout_redirect_uris": ["https://other.example/bye"] })).await;
        fixture.user("ann@example.com").await;
        fixture.user("bob@example.com").await;
        fixture
    }

    pub(crate) async fn client(&self, id: &str, metadata: Value) {
        crate::support::insert_client(&self.state, id, metadata).await;
    }

    pub(crate) async fn user(&self, email: &str) -> String {
        self.state
            .store
            .users()
            .create(NewUser {
                email: email.into(),
                username: Some(email.split('@').next().unwrap().into()),
                display_name: None,
                email_verified: true,
                claims: json!({}),
                status: UserStatus::Active,
                auth_method: "password".into(),
                password_hash: Some(poort::password::hash(PASSWORD)),
            })
            .await
            .unwrap()
            .id
    }

    pub(crate) fn browser(&self) -> Browser {
        Browser::new(app::app(self.state.clone()))
    }

    /// A browser with a session for `email`, made in the store; and the session's id.
    async fn session_browser(&self, email: &str) -> (Browser, String) {
        let user_id = self.state.store.users().find_by_login(email).await.unwrap().unwrap().id;
        let token = random_token();
        let session = self
            .state
            .store
            .sessions()
            .create(NewSession {
                cookie_hash: keyed_hash(&self.state.hash_key, &token),
                user_id,
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

    pub(crate) async fn session_live(&self, session_id: &str) -> bool {
        self.state.store.sessions().get(session_id).await.unwrap().unwrap().is_live(now())
    }

    /// A JWT signed with our current RS256 key.
    fn signed(&self, claims: Value) -> String {
        let Value::Object(claims) = claims else { panic!() };
        poort::tokens::jwt::sign(&self.state.keyring.snapshot(), "RS256", None, claims).unwrap()
    }

    /// An ID-token-shaped hint for `rp` about `sid`, as we would issue it.
    fn hint(&self, sid: &str, extra: Value) -> String {
        let mut claims = json!({ "iss": ISSUER, "sub": "subject-1", "aud": "rp", "azp": "rp", "iat": now(), "exp": now() + 300, "sid": sid });
        for (k, v) in extra.as_object().unwrap() {
            claims[k] = v.clone();
        }
        self.signed(claims)
    }
}

/// Signs in through `/authorize` and redeems the code: the real ID token.
async fn sign_in_for_id_token(f: &Fixture, b: &mut Browser) -> String {
    tokens_for(f, b, "rp", "").await["id_token"].as_str().unwrap().to_string()
}

/// Signs `client` in through `/authorize` (ann's password when the browser has no session; the
/// request's `extra` parameters added) and redeems the code: the token response.
pub(crate) async fn tokens_for(f: &Fixture, b: &mut Browser, client: &str, extra: &str) -> Value {
    let mut page = b.get(&authorize_for(client, extra)).await;
    if let Some(login) = page.location.clone().filter(|l| l.starts_with("/login?ticket=")) {
        page = b.sign_in(&login, "ann@example.com", PASSWORD).await;
    }
    let code = page.location_params().get("code").cloned().unwrap_or_else(|| panic!("a code: {:?} {}", page.location, page.body));
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs([("grant_type", "authorization_code"), ("code", code.as_str()), ("redirect_uri", CB)])
        .finish();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{client}:{SECRET}"));
    let request = Request::post("/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::AUTHORIZATION, format!("Basic {basic}"))
        .body(Body::from(body))
        .unwrap();
    let response = app::app(f.state.clone()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

/// An authorization request of `client` (redirect URI `CB`) with `extra` parameters (scope
/// `openid` unless they name one).
pub(crate) fn authorize_for(client: &str, extra: &str) -> String {
    let scope = if extra.contains("&scope=") { "" } else { "&scope=openid" };
    format!("/authorize?client_id={client}&redirect_uri=https%3A%2F%2Frp.example%2Fcb&response_type=code{scope}&state=xyz{extra}")
}

fn authorize(extra: &str) -> String {
    authorize_for("rp", extra)
}

fn enc(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

pub(crate) fn end_session(params: &[(&str, &str)]) -> String {
    let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
    if query.is_empty() { "/session/end".into() } else { format!("/session/end?{query}") }
}

pub(crate) fn claims_of(jwt: &str) -> Map<String, Value> {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// An error page: HTML, never a redirect.
fn assert_error_page(page: &Page) {
    assert!(page.location.is_none(), "must not redirect: {:?}", page.location);
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(page.body.contains("Something went wrong"), "{}", page.body);
}

/// The "signed out" page, with the session cookie cleared.
fn assert_logged_out_page(page: &Page) {
    assert!(page.location.is_none(), "must not redirect: {:?}", page.location);
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("You are signed out"), "{}", page.body);
    assert!(page.headers.get_all(header::SET_COOKIE).iter().any(|c| c.to_str().unwrap().starts_with("poort_session=;")));
}

/// After a logout, `prompt=none` answers login_required.
pub(crate) async fn assert_signed_out(b: &mut Browser) {
    let page = b.get(&authorize("&prompt=none")).await;
    let params = page.location_params();
    assert!(page.location.as_deref().unwrap().starts_with(CB), "{:?}", page.location);
    assert_eq!(params.get("error").map(String::as_str), Some("login_required"), "{:?}", page.location);
}

#[tokio::test]
async fn discovery_advertises_the_end_session_endpoint() {
    let f = Fixture::new().await;
    let page = f.browser().get("/.well-known/openid-configuration").await;
    let doc: Value = serde_json::from_str(&page.body).unwrap();
    assert_eq!(doc["end_session_endpoint"], format!("{ISSUER}/session/end"));
}

#[tokio::test]
async fn a_valid_hint_and_registered_uri_redirect_with_state_only_and_end_the_session() {
    let f = Fixture::new().await;
    let mut b = f.browser();
    let id_token = sign_in_for_id_token(&f, &mut b).await;
    let sid = claims_of(&id_token)["sid"].as_str().expect("the ID token carries sid").to_string();
    assert!(f.session_live(&sid).await);
    // Signed in: prompt=none gives a code.
    assert!(b.get(&authorize("&prompt=none")).await.location_params().contains_key("code"));

    let out = b.get(&end_session(&[("id_token_hint", &id_token), ("post_logout_redirect_uri", BYE), ("state", STATE)])).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
    assert_eq!(out.location.as_deref(), Some(format!("{BYE}?state={}", enc(STATE)).as_str()));
    let params = out.location_params();
    assert_eq!(params.len(), 1, "state only: {params:?}");
    assert_eq!(params["state"], STATE, "state round-trips");
    assert!(!b.cookies.contains_key("poort_session"), "the cookie is cleared");
    assert!(!f.session_live(&sid).await);
    assert_signed_out(&mut b).await;
}

#[tokio::test]
async fn post_works_too_and_without_state_nothing_is_added() {
    let f = Fixture::new().await;
    let mut b = f.browser();
    let id_token = sign_in_for_id_token(&f, &mut b).await;
    let out = b.post_form("/session/end", &[("id_token_hint", &id_token), ("post_logout_redirect_uri", BYE), ("client_id", "rp")]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{}", out.body);
    assert_eq!(out.location.as_deref(), Some(BYE));
    assert_signed_out(&mut b).await;
}

#[tokio::test]
async fn a_cross_site_post_without_the_lax_cookie_becomes_a_get_that_carries_it() {
    let f = Fixture::new().await;
    let (mut b, sid) = f.session_browser("ann@example.com").await;
    let hint = f.hint(&sid, json!({}));
    // The relying party's form POST arrives without the SameSite=Lax session cookie.
    let cookie = b.cookies.remove("poort_session").unwrap();
    let post = b
        .post_form("/session/end", &[("id_token_hint", &hint), ("post_logout_redirect_uri", BYE), ("state", STATE), ("unrelated", "x")])
        .await;
    assert_eq!(post.status, StatusCode::SEE_OTHER);
    let location = post.location.unwrap();
    assert!(location.starts_with("/session/end?"), "{location}");
    assert!(!location.contains("unrelated"), "{location}");
    assert!(f.session_live(&sid).await, "nothing ended without the cookie");
    // The GET is a top-level navigation: the cookie comes along.
    b.cookies.insert("poort_session".into(), cookie);
    let out = b.get(&location).await;
    assert_eq!(out.location.as_deref(), Some(format!("{BYE}?state={}", enc(STATE)).as_str()));
    assert!(!f.session_live(&sid).await);
}

#[tokio::test]
async fn an_expired_hint_still_counts() {
    let f = Fixture::new().await;
    let (mut b, sid) = f.session_browser("ann@example.com").await;
    let hint = f.hint(&sid, json!({ "iat": now() - 7200, "exp": now() - 3600 }));
    let out = b.get(&end_session(&[("id_token_hint", &hint), ("post_logout_redirect_uri", BYE), ("state", "s1")])).await;
    assert_eq!(out.location.as_deref(), Some(format!("{BYE}?state=s1").as_str()));
    assert!(!f.session_live(&sid).await);
}

#[tokio::test]
async fn unregistered_or_extended_uris_get_an_error_page_and_the_session_stays() {
    let f = Fixture::new().await;
    let (mut b, sid) = f.session_browser("ann@example.com").await;
    let hint = f.hint(&sid, json!({}));
    for uri in [
        "https://rp.example/bad_post_logout_redirect_uri",
        "https://rp.example/bye?foo=bar",
        "https://rp.example/bye/",
        "https://other.example/bye",
        CB,
    ] {
        let page = b.get(&end_session(&[("id_token_hint", &hint), ("post_logout_redirect_uri", uri), ("state", "s")])).await;
        assert_error_page(&page);
        assert!(page.body.contains("not registered"), "{uri}: {}", page.body);
        let page = b.post_form("/session/end", &[("id_token_hint", &hint), ("post_logout_redirect_uri", uri)]).await;
        assert_error_page(&page);
    }
    assert!(f.session_live(&sid).await);
    assert!(b.cookies.contains_key("poort_session"));
}

#[tokio::test]
async fn bad_or_modified_hints_get_an_error_page_and_the_session_stays() {
    let f = Fixture::new().await;
    let (mut b, sid) = f.session_browser("ann@example.com").await;
    let good = f.hint(&sid, json!({}));
    let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = good.split('.').collect();
    let mut header: Map<String, Value> = serde_json::from_slice(&e.decode(parts[0]).unwrap()).unwrap();

    // Re-headed as alg none, signature stripped (the suite's modified hint).
    header.insert("alg".into(), "none".into());
    let none = format!("{}.{}.", e.encode(Value::Object(header.clone()).to_string()), parts[1]);
    // Claims changed under the original signature.
    let mut claims = claims_of(&good);
    claims.insert("sub".into(), "someone-else".into());
    let tampered = format!("{}.{}.{}", parts[0], e.encode(Value::Object(claims).to_string()), parts[2]);
    // Signed by someone else (the suite's bad hint: iss = client, aud = issuer).
    let (signer, _) = crate::grant_fixture::client_key("rp-key");
    let mut foreign_claims = Map::new();
    for (k, v) in [("iss", json!("rp")), ("sub", json!("subject-1")), ("aud", json!(ISSUER)), ("iat", json!(now())), ("exp", json!(now() + 300))] {
        foreign_claims.insert(k.into(), v);
    }
    let foreign = crate::grant_fixture::sign(signer.as_ref(), Some("rp-key"), foreign_claims);
    // Ours, but another issuer.
    let other_issuer = f.signed(json!({ "iss": "https://elsewhere.example", "sub": "s", "aud": "rp", "iat": now(), "exp": now() + 300 }));
    // Ours, but an access token rather than an ID token.
    let access_token = {
        let mut claims = Map::new();
        for (k, v) in [("iss", json!(ISSUER)), ("sub", json!("subject-1")), ("aud", json!("rp")), ("iat", json!(now())), ("exp", json!(now() + 300))] {
            claims.insert(k.into(), v);
        }
        poort::tokens::jwt::sign(&f.state.keyring.snapshot(), "RS256", Some("at+jwt"), claims).unwrap()
    };
    // Ours, but for a client the request does not name.
    let for_other = f.hint(&sid, json!({ "aud": "other", "azp": "other" }));

    let cases: [(&str, &str, Option<&str>); 8] = [
        ("alg none", &none, None),
        ("tampered", &tampered, None),
        ("foreign", &foreign, None),
        ("other issuer", &other_issuer, None),
        ("access token", &access_token, None),
        ("garbage", "not-a-jwt", None),
        ("client_id not in aud", &for_other, Some("rp")),
        ("unknown client_id", &good, Some("nobody")),
    ];
    for (what, hint, client_id) in cases {
        let mut params = vec![("id_token_hint", hint), ("post_logout_redirect_uri", BYE), ("state", "s")];
        if let Some(client_id) = client_id {
            params.push(("client_id", client_id));
        }
        let page = b.get(&end_session(&params)).await;
        assert!(page.location.is_none(), "{what}: must not redirect: {:?}", page.location);
        assert_error_page(&page);
        if client_id.is_none() {
            // Without a URI too: a bad hint is never accepted.
            let page = b.get(&end_session(&[("id_token_hint", hint)])).await;
            assert_error_page(&page);
        }
    }
    assert!(f.session_live(&sid).await);
    assert!(b.cookies.contains_key("poort_session"));
}

#[tokio::test]
async fn without_a_hint_a_uri_gets_a_confirmation_page_then_the_signed_out_page() {
    let f = Fixture::new().await;
    let (mut b, sid) = f.session_browser("ann@example.com").await;
    let page = b.get(&end_session(&[("post_logout_redirect_uri", BYE), ("state", "s1"), ("client_id", "rp")])).await;
    assert!(page.location.is_none(), "must not redirect: {:?}", page.location);
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Sign out of Poort?"), "{}", page.body);
    assert!(page.body.contains(r#"action="/session/end""#));
    assert!(page.body.contains("The RP asked to sign you out"));
    assert!(f.session_live(&sid).await, "nothing ends before the user confirms");

    // Without the CSRF token the button does nothing.
    let forged = b.post_form("/session/end", &[("confirm", "yes"), ("post_logout_redirect_uri", BYE)]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(f.session_live(&sid).await);

    let csrf = page.input("csrf_token").unwrap();
    let fields = [
        ("csrf_token", csrf.as_str()),
        ("client_id", &page.input("client_id").unwrap()),
        ("post_logout_redirect_uri", &page.input("post_logout_redirect_uri").unwrap()),
        ("state", &page.input("state").unwrap()),
        ("confirm", "yes"),
    ]
    .map(|(k, v)| (k, v.to_string()));
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = b.post_form("/session/end", &fields).await;
    assert_logged_out_page(&out);
    // The way back is offered as a link, not taken.
    assert!(out.body.contains(r#"href="https://rp.example/bye?state&#x3D;s1""#), "{}", out.body);
    assert!(!f.session_live(&sid).await);
    assert_signed_out(&mut b).await;

    // Without a client, or with a URI not registered for it, no link.
    let (mut b, _) = f.session_browser("ann@example.com").await;
    let page = b.get(&end_session(&[("post_logout_redirect_uri", "https://evil.example/")])).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("An application asked to sign you out"));
    let csrf = page.input("csrf_token").unwrap();
    let out = b.post_form("/session/end", &[("csrf_token", &csrf), ("post_logout_redirect_uri", "https://evil.example/"), ("confirm", "yes")]).await;
    assert_logged_out_page(&out);
    assert!(!out.body.contains("evil.example"));
}

#[tokio::test]
async fn no_params_only_state_or_no_uri_sign_out_with_the_signed_out_page() {
    let f = Fixture::new().await;
    for case in ["no params", "only state", "hint without uri", "client_id only"] {
        let (mut b, sid) = f.session_browser("ann@example.com").await;
        let hint = f.hint(&sid, json!({}));
        let uri = match case {
            "no params" => end_session(&[]),
            "only state" => end_session(&[("state", "s1")]),
            "hint without uri" => end_session(&[("id_token_hint", &hint), ("state", "s1")]),
            _ => end_session(&[("client_id", "rp")]),
        };
        let page = b.get(&uri).await;
        assert_logged_out_page(&page);
        assert!(!f.session_live(&sid).await, "{case}");
        assert_signed_out(&mut b).await;
    }
    // Without any session, the same page.
    let page = f.browser().get("/session/end").await;
    assert_logged_out_page(&page);
    let page = f.browser().post_form("/session/end", &[]).await;
    assert_eq!(page.location.as_deref(), Some("/session/end"), "a POST without the cookie becomes a GET");
}

#[tokio::test]
async fn a_hint_naming_another_session_ends_only_the_browsers_own() {
    let f = Fixture::new().await;
    let (mut ann, ann_sid) = f.session_browser("ann@example.com").await;
    let (_bob, bob_sid) = f.session_browser("bob@example.com").await;
    // Ann's browser presents a hint about Bob's session.
    let hint = f.hint(&bob_sid, json!({ "sub": "bob-subject" }));
    let out = ann.get(&end_session(&[("id_token_hint", &hint), ("post_logout_redirect_uri", BYE), ("state", "s")])).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(f.session_live(&bob_sid).await, "Bob stays signed in");
    assert!(!f.session_live(&ann_sid).await);
    // A browser without any session ends nothing at all.
    let out = f.browser().get(&end_session(&[("id_token_hint", &hint), ("post_logout_redirect_uri", BYE)])).await;
    assert_eq!(out.location.as_deref(), Some(BYE));
    assert!(f.session_live(&bob_sid).await);
}

#[tokio::test]
async fn the_pages_speak_dutch_when_asked() {
    let f = Fixture::new().await;
    let (mut b, _) = f.session_browser("ann@example.com").await;
    let page = b.get(&end_session(&[("post_logout_redirect_uri", BYE), ("ui_locales", "nl")])).await;
    assert!(page.body.contains("Afmelden bij Poort?"), "{}", page.body);
    let page = b.get(&end_session(&[("id_token_hint", "x.y.z"), ("ui_locales", "nl")])).await;
    assert!(page.body.contains("Er is iets misgegaan"), "{}", page.body);
    let page = b.get(&end_session(&[("ui_locales", "nl")])).await;
    assert!(page.body.contains("U bent afgemeld"), "{}", page.body);
}

#[tokio::test]
async fn the_account_page_form_still_signs_out() {
    let f = Fixture::new().await;
    let (mut b, sid) = f.session_browser("ann@example.com").await;
    let account = b.get("/account").await;
    let csrf = account.input("csrf_token").unwrap();
    assert_eq!(b.post_form("/logout", &[]).await.status, StatusCode::FORBIDDEN);
    assert!(f.session_live(&sid).await);
    let out = b.post_form("/logout", &[("csrf_token", &csrf)]).await;
    assert_logged_out_page(&out);
    assert!(!f.session_live(&sid).await);
}
