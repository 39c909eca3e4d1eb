//! What a session's end sets off, through the router in process with a real HTTP client
//! endpoint on loopback: front-channel logout frames on the "signed out" page, back-channel
//! logout tokens delivered from the outbox (with retries and giving up), the grants that end
//! with the session, `session_state` and the check-session frame, and a new sign-in in the same
//! browser (the same user re-authenticates the session; someone else ends it).

use crate::browser::Browser;
use crate::support::{Receiver, closed_port, logout_tokens};
use crate::logout::{BYE, CB, Fixture, ISSUER, PASSWORD, assert_signed_out, authorize_for, claims_of, end_session, tokens_for};
use axum::http::{StatusCode, header};
use base64::Engine as _;
use poort::logout::backchannel::{self, BACKCHANNEL_LOGOUT_EVENT};
use poort_storage::now;
use poort_storage::repo::DeliveryStatus;
use serde_json::{Value, json};
use std::time::Duration;

/// The client `channels` with the given logout URIs, redirect URI `CB` and `BYE`.
async fn channel_client(f: &Fixture, id: &str, extra: Value) {
    let mut metadata = json!({
        "redirect_uris": [CB], "post_logout_redirect_uris": [BYE], "client_name": "Channels", "first_party": true,
        "grant_types": ["authorization_code", "refresh_token"],
    });
    for (key, value) in extra.as_object().unwrap() {
        metadata[key] = value.clone();
    }
    f.client(id, metadata).await;
}

/// Signs ann in for `client` and returns the ID token's claims and the raw ID token.
async fn signed_in(f: &Fixture, b: &mut Browser, client: &str) -> (serde_json::Map<String, Value>, String) {
    let tokens = tokens_for(f, b, client, "").await;
    let id_token = tokens["id_token"].as_str().unwrap().to_string();
    (claims_of(&id_token), id_token)
}

/// HTTP Basic credentials of a client with the fixture's secret.
fn basic(client: &str) -> String {
    let secret = crate::support::CLIENT_SECRET;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{client}:{secret}")))
}

/// The page's text with handlebars' escapes undone.
fn unescape(html: &str) -> String {
    html.replace("&#x3D;", "=").replace("&amp;", "&")
}

fn header_of(jwt: &str) -> Value {
    let part = jwt.split('.').next().unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[tokio::test]
async fn discovery_advertises_every_logout_mechanism_and_the_check_session_iframe() {
    let f = Fixture::new().await;
    let doc: Value = serde_json::from_str(&f.browser().get("/.well-known/openid-configuration").await.body).unwrap();
    for flag in [
        "frontchannel_logout_supported",
        "frontchannel_logout_session_supported",
        "backchannel_logout_supported",
        "backchannel_logout_session_supported",
    ] {
        assert_eq!(doc[flag], true, "{flag}");
    }
    assert_eq!(doc["check_session_iframe"], format!("{ISSUER}/session/check"));
}

#[tokio::test]
async fn front_channel_frames_load_before_the_browser_returns_to_the_client() {
    let f = Fixture::new().await;
    channel_client(&f, "framed", json!({ "frontchannel_logout_uri": "https://framed.example/fc?tenant=7" })).await;
    channel_client(&f, "plain", json!({})).await;
    let mut b = f.browser();
    let (claims, id_token) = signed_in(&f, &mut b, "framed").await;
    signed_in(&f, &mut b, "plain").await;
    let sid = claims["sid"].as_str().unwrap().to_string();

    let page = b.get(&end_session(&[("id_token_hint", &id_token), ("post_logout_redirect_uri", BYE), ("state", "s1")])).await;
    // Not a redirect: the page with the frames comes first, then it continues to the client.
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.location.is_none());
    let body = unescape(&page.body);
    let frame = format!("https://framed.example/fc?tenant=7&iss=https%3A%2F%2Fop.example&sid={sid}");
    assert!(body.contains(&format!(r#"<iframe class="logout-frame" src="{frame}""#)), "{body}");
    assert_eq!(body.matches("<iframe").count(), 1, "only clients with a front-channel URI");
    assert!(body.contains(r#"href="https://rp.example/bye?state=s1" data-continue-after-frames"#), "{body}");
    assert!(page.body.contains(r#"<script src="/assets/continue-after-frames.js?v="#));
    let csp = page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.ends_with("; frame-src https://framed.example/fc"), "exactly that document may be framed: {csp}");
    assert!(!f.session_live(&sid).await);
    assert!(!b.cookies.contains_key("poort_session") && !b.cookies.contains_key("poort_bs"), "{:?}", b.cookies);
    assert_signed_out(&mut b).await;
}

#[tokio::test]
async fn without_front_channel_clients_the_logout_redirects_at_once_and_other_pages_frame_nothing() {
    let f = Fixture::new().await;
    let mut b = f.browser();
    let (_, id_token) = signed_in(&f, &mut b, "rp").await;
    let page = b.get(&end_session(&[("id_token_hint", &id_token), ("post_logout_redirect_uri", BYE), ("state", "s1")])).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location.as_deref(), Some("https://rp.example/bye?state=s1"));

    // The account page's sign-out shows the frames of the session's clients, with no way onward.
    channel_client(&f, "framed", json!({ "frontchannel_logout_uri": "https://framed.example/fc" })).await;
    let mut b = f.browser();
    signed_in(&f, &mut b, "framed").await;
    let account = b.get("/account").await;
    let csrf = account.input("csrf_token").unwrap();
    let page = b.post_form("/logout", &[("csrf_token", &csrf)]).await;
    assert!(unescape(&page.body).contains("https://framed.example/fc?iss="), "{}", page.body);
    assert!(!page.body.contains("data-continue-after-frames"));
    assert!(!page.body.contains("continue-after-frames.js"));
    let csp = page.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("frame-src https://framed.example/fc"), "{csp}");
    let error = f.browser().get("/session/end?id_token_hint=nonsense").await;
    assert!(!error.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("frame-src"));
}

#[tokio::test]
async fn back_channel_logout_tokens_reach_each_client_once_signed_and_well_formed() {
    let f = Fixture::new().await;
    let receiver = Receiver::start(0, &[]).await;
    channel_client(&f, "backed", json!({ "backchannel_logout_uri": receiver.uri(), "backchannel_logout_session_required": true }))
        .await;
    let mut b = f.browser();
    let (claims, id_token) = signed_in(&f, &mut b, "backed").await;
    signed_in(&f, &mut b, "rp").await;
    let sid = claims["sid"].as_str().unwrap().to_string();

    let page = b.get(&end_session(&[("id_token_hint", &id_token), ("post_logout_redirect_uri", BYE)])).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "no front channel: straight back");
    let queued = f.state.store.logout_deliveries().list(None, 0, 10).await.unwrap();
    assert_eq!(queued.len(), 1, "only the client with a back-channel URI: {queued:?}");
    assert_eq!(queued[0].status, DeliveryStatus::Pending);

    assert_eq!(backchannel::deliver_due(&f.state).await, 1);
    assert_eq!(backchannel::deliver_due(&f.state).await, 0, "delivered once");
    let delivery = f.state.store.logout_deliveries().get(&queued[0].id).await.unwrap().unwrap();
    assert_eq!((delivery.status, delivery.attempts), (DeliveryStatus::Delivered, 1));
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 1);
    let (content_type, body) = &bodies[0];
    assert_eq!(content_type, "application/x-www-form-urlencoded");
    let fields: Vec<(String, String)> = url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    assert_eq!(fields.len(), 1, "only logout_token: {fields:?}");
    assert_eq!(fields[0].0, "logout_token");
    let token = &fields[0].1;

    let header = header_of(token);
    assert_eq!(header["typ"], "logout+jwt");
    assert_eq!(header["alg"], "RS256");
    let logout = poort::tokens::jwt::verify_ours(&f.state.keyring.snapshot(), token).expect("signed with a key of ours");
    assert_eq!(logout["iss"], ISSUER);
    assert_eq!(logout["aud"], "backed");
    assert_eq!(logout["sub"], claims["sub"]);
    assert_eq!(logout["sid"], sid.as_str());
    assert_eq!(logout["jti"], delivery.id.as_str());
    assert_eq!(logout["events"], json!({ BACKCHANNEL_LOGOUT_EVENT: {} }));
    let iat = logout["iat"].as_i64().unwrap();
    assert!((now() - 5..=now()).contains(&iat));
    assert!(logout["exp"].as_i64().unwrap() > iat);
    assert!(!logout.contains_key("nonce"), "a logout token never carries a nonce");

    let metrics = f.browser().get("/metrics").await.body;
    assert!(metrics.contains("poort_backchannel_logout_deliveries_total{outcome=\"delivered\"} 1\n"), "{metrics}");
    assert!(metrics.contains("poort_backchannel_logout_queue{status=\"delivered\"} 1\n"), "{metrics}");
    assert!(metrics.contains("poort_backchannel_logout_queue{status=\"pending\"} 0\n"), "{metrics}");
}

/// Waits (boundedly) until a delivery falls due and is attempted; returns the time bracket of
/// that attempt.
async fn deliver_once_due(f: &Fixture) -> (i64, i64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let before = now();
        if backchannel::deliver_due(&f.state).await == 1 {
            return (before, now());
        }
        assert!(std::time::Instant::now() < deadline, "no delivery fell due");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_client_that_is_down_gets_its_token_when_it_comes_back() {
    let f = Fixture::with(|s| s.logout.backchannel_retry_initial = Duration::from_secs(1)).await;
    let port = closed_port();
    channel_client(&f, "backed", json!({ "backchannel_logout_uri": format!("http://127.0.0.1:{port}/backchannel") })).await;
    let mut b = f.browser();
    let (claims, id_token) = signed_in(&f, &mut b, "backed").await;
    b.get(&end_session(&[("id_token_hint", &id_token), ("post_logout_redirect_uri", BYE)])).await;

    let before = now();
    assert_eq!(backchannel::deliver_due(&f.state).await, 1);
    let after = now();
    let [delivery] = <[_; 1]>::try_from(f.state.store.logout_deliveries().list(None, 0, 10).await.unwrap()).unwrap();
    assert_eq!((delivery.status, delivery.attempts), (DeliveryStatus::Pending, 1));
    assert_eq!(delivery.last_error.as_deref(), Some("cannot connect"));
    assert!((before + 1..=after + 1).contains(&delivery.next_attempt_at), "retried after the initial second");

    // The client comes up, answering 503 once (still retried), then accepting.
    let receiver = Receiver::start(port, &[503]).await;
    let (before, after) = deliver_once_due(&f).await;
    let again = f.state.store.logout_deliveries().get(&delivery.id).await.unwrap().unwrap();
    assert_eq!((again.status, again.attempts, again.last_error.as_deref()), (DeliveryStatus::Pending, 2, Some("HTTP 503")));
    assert!((before + 2..=after + 2).contains(&again.next_attempt_at), "the second retry waits twice as long");
    deliver_once_due(&f).await;
    let done = f.state.store.logout_deliveries().get(&delivery.id).await.unwrap().unwrap();
    assert_eq!((done.status, done.attempts), (DeliveryStatus::Delivered, 3));
    let tokens: Vec<_> = logout_tokens(&receiver).iter().map(|token| claims_of(token)).collect();
    assert_eq!(tokens.len(), 2);
    assert_eq!(tokens[0]["jti"], tokens[1]["jti"], "the same jti on every attempt");
    assert_eq!(tokens[1]["sid"], claims["sid"]);
}

#[tokio::test]
async fn a_refused_token_fails_at_once_and_a_client_down_too_long_is_given_up() {
    let f = Fixture::with(|s| {
        s.logout.backchannel_retry_initial = Duration::from_secs(2);
        s.logout.backchannel_give_up_after = Duration::from_secs(1);
    })
    .await;
    let refusing = Receiver::start(0, &[400]).await;
    channel_client(&f, "refusing", json!({ "backchannel_logout_uri": refusing.uri() })).await;
    channel_client(&f, "gone", json!({ "backchannel_logout_uri": format!("http://127.0.0.1:{}/backchannel", closed_port()) })).await;
    let mut b = f.browser();
    signed_in(&f, &mut b, "refusing").await;
    let (_, id_token) = signed_in(&f, &mut b, "gone").await;
    b.get(&end_session(&[("id_token_hint", &id_token), ("post_logout_redirect_uri", BYE)])).await;

    assert_eq!(backchannel::deliver_due(&f.state).await, 2);
    let deliveries = f.state.store.logout_deliveries().list(None, 0, 10).await.unwrap();
    let of = |client: &str| deliveries.iter().find(|d| d.client_id == client).unwrap().clone();
    assert_eq!((of("refusing").status, of("refusing").last_error.as_deref()), (DeliveryStatus::Failed, Some("HTTP 400")));
    assert_eq!(of("gone").status, DeliveryStatus::Failed, "its next retry would come after the give-up time");
    assert_eq!(refusing.bodies().len(), 1);
    let metrics = f.browser().get("/metrics").await.body;
    assert!(metrics.contains("poort_backchannel_logout_deliveries_total{outcome=\"failed\"} 2\n"), "{metrics}");

    // An administrator's retry puts it back in the queue.
    assert!(f.state.store.logout_deliveries().retry_failed(&of("refusing").id).await.unwrap());
    assert_eq!(backchannel::deliver_due(&f.state).await, 1);
    assert_eq!(f.state.store.logout_deliveries().get(&of("refusing").id).await.unwrap().unwrap().status, DeliveryStatus::Delivered);
}

#[tokio::test]
async fn the_grants_of_an_ended_session_end_with_it_but_offline_access_outlives_it() {
    let f = Fixture::new().await;
    channel_client(&f, "app", json!({})).await;
    let mut b = f.browser();
    let online = tokens_for(&f, &mut b, "app", "").await;
    let offline = tokens_for(&f, &mut b, "app", "&scope=openid%20offline_access&prompt=consent").await;
    let refresh = offline["refresh_token"].as_str().expect("offline access brings a refresh token").to_string();
    let id_token = online["id_token"].as_str().unwrap();
    b.get(&end_session(&[("id_token_hint", id_token)])).await;

    let bearer = |tokens: &Value| format!("Bearer {}", tokens["access_token"].as_str().unwrap());
    assert_eq!(f.browser().get_authorized("/userinfo", &bearer(&online)).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(f.browser().get_authorized("/userinfo", &bearer(&offline)).await.status, StatusCode::OK);
    let refreshed =
        f.browser().post_form_authorized("/token", &[("grant_type", "refresh_token"), ("refresh_token", &refresh)], &basic("app")).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);

    // With logout.revoke_offline_access, offline access ends with the session too.
    let f = Fixture::with(|s| s.logout.revoke_offline_access = true).await;
    channel_client(&f, "app", json!({})).await;
    let mut b = f.browser();
    let offline = tokens_for(&f, &mut b, "app", "&scope=openid%20offline_access&prompt=consent").await;
    b.get(&end_session(&[("id_token_hint", offline["id_token"].as_str().unwrap())])).await;
    let refresh = offline["refresh_token"].as_str().unwrap();
    let refused =
        f.browser().post_form_authorized("/token", &[("grant_type", "refresh_token"), ("refresh_token", refresh)], &basic("app")).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(refused.body.contains("invalid_grant"), "{}", refused.body);
}

#[tokio::test]
async fn a_new_sign_in_by_the_same_user_keeps_the_session_and_by_another_ends_it() {
    let f = Fixture::new().await;
    let receiver = Receiver::start(0, &[]).await;
    channel_client(&f, "backed", json!({ "backchannel_logout_uri": receiver.uri() })).await;
    let mut b = f.browser();
    let (first, _) = signed_in(&f, &mut b, "backed").await;
    let old_cookie = b.cookies["poort_session"].clone();
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // prompt=login: ann again. Same sid, later auth_time, a new cookie; nobody is logged out.
    let login = b.get(&authorize_for("backed", "&prompt=login")).await.location.unwrap();
    let done = b.sign_in(&login, "ann@example.com", PASSWORD).await;
    assert!(done.location_params().contains_key("code"), "{:?}", done.location);
    let (second, _) = signed_in(&f, &mut b, "backed").await;
    assert_eq!(second["sid"], first["sid"]);
    assert!(second["auth_time"].as_i64() > first["auth_time"].as_i64());
    assert_ne!(b.cookies["poort_session"], old_cookie, "a new cookie value at every sign-in");
    let mut stale = f.browser();
    stale.cookies.insert("poort_session".into(), old_cookie);
    assert!(stale.get(&authorize_for("backed", "&prompt=none")).await.location_params().contains_key("error"));
    assert!(f.state.store.logout_deliveries().list(None, 0, 10).await.unwrap().is_empty());

    // bob signs in in the same browser: ann's session ends, and her clients are told.
    let login = b.get(&authorize_for("backed", "&prompt=login")).await.location.unwrap();
    let done = b.sign_in(&login, "bob@example.com", PASSWORD).await;
    assert!(done.location_params().contains_key("code"));
    assert!(!f.session_live(first["sid"].as_str().unwrap()).await);
    assert_eq!(backchannel::deliver_due(&f.state).await, 1);
    let token = logout_tokens(&receiver)[0].clone();
    assert_eq!(claims_of(&token)["sid"], first["sid"]);
}

#[tokio::test]
async fn session_state_in_responses_binds_the_client_origin_and_browser_state() {
    let f = Fixture::new().await;
    let mut b = f.browser();
    let login = b.get(&authorize_for("rp", "")).await.location.unwrap();
    let done = b.sign_in(&login, "ann@example.com", PASSWORD).await;
    let params = done.location_params();
    let session_state = params.get("session_state").expect("session_state in the response");
    let (hash, salt) = session_state.rsplit_once('.').unwrap();
    let browser_state = b.cookies.get("poort_bs").expect("the browser-state cookie").clone();
    let expected = poort::crypto::sha256(format!("rp https://rp.example {browser_state} {salt}").as_bytes());
    assert_eq!(hash, poort::crypto::b64url(&expected));
    // Another response in the same session: another salt, the same browser state.
    let again = b.get(&authorize_for("rp", "&prompt=none")).await.location_params();
    assert_ne!(again["session_state"], *session_state);
    assert_eq!(b.cookies["poort_bs"], browser_state);

    let cookie = done.headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap()).find(|c| c.starts_with("poort_bs=")).unwrap();
    assert!(!cookie.contains("HttpOnly"), "the check-session script reads it: {cookie}");
    assert!(cookie.contains("SameSite=None") && cookie.contains("Secure"), "read inside the relying party's page: {cookie}");

    let frame = f.browser().get("/session/check").await;
    assert_eq!(frame.status, StatusCode::OK);
    let csp = frame.headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("frame-ancestors *") && csp.contains("script-src 'self'"), "{csp}");
    assert!(!frame.headers.contains_key(header::X_FRAME_OPTIONS), "relying parties frame it");
    assert!(frame.body.contains(r#"<script src="/session/check.js">"#), "{}", frame.body);
    let script = f.browser().get("/session/check.js").await;
    assert!(script.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/javascript"));
    assert!(script.body.contains("postMessage"));
}

#[tokio::test]
async fn the_account_page_lists_where_one_is_signed_in_and_signs_other_browsers_out() {
    let f = Fixture::new().await;
    let receiver = Receiver::start(0, &[]).await;
    channel_client(&f, "backed", json!({ "backchannel_logout_uri": receiver.uri() })).await;
    let mut laptop = f.browser();
    let (laptop_claims, _) = signed_in(&f, &mut laptop, "backed").await;
    let laptop_sid = laptop_claims["sid"].as_str().unwrap().to_string();
    let mut phone = f.browser();
    let (phone_claims, _) = signed_in(&f, &mut phone, "rp").await;
    let phone_sid = phone_claims["sid"].as_str().unwrap().to_string();
    let mut bob = f.browser();
    let login = bob.get(&authorize_for("rp", "")).await.location.unwrap();
    bob.sign_in(&login, "bob@example.com", PASSWORD).await;
    let bob_sid = f.state.store.sessions().list_for_user(&f.state.store.users().find_by_login("bob").await.unwrap().unwrap().id, now())
        .await
        .unwrap()[0]
        .id
        .clone();

    let account = phone.get("/account").await;
    let body = unescape(&account.body);
    assert!(body.contains("Where you are signed in"), "{body}");
    assert_eq!(body.matches(r#"<li class="session">"#).count(), 2, "ann's two sessions, not bob's");
    assert!(body.contains(&format!(r#"name="session" value="{laptop_sid}""#)), "the other session can be signed out");
    assert!(!body.contains(&format!(r#"name="session" value="{phone_sid}""#)), "this one is ended with Sign out");
    assert!(body.contains("this browser") && body.contains("Applications: Channels"), "{body}");
    let csrf = account.input("csrf_token").unwrap();

    // No CSRF token: refused, nothing ends.
    let refused = phone.post_form("/account/sessions/end", &[("session", &laptop_sid)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(f.session_live(&laptop_sid).await);
    // Someone else's session or this one: nothing ends.
    phone.post_form("/account/sessions/end", &[("csrf_token", &csrf), ("session", &bob_sid)]).await;
    phone.post_form("/account/sessions/end", &[("csrf_token", &csrf), ("session", &phone_sid)]).await;
    assert!(f.session_live(&bob_sid).await && f.session_live(&phone_sid).await && f.session_live(&laptop_sid).await);

    let ended = phone.post_form("/account/sessions/end", &[("csrf_token", &csrf), ("session", &laptop_sid)]).await;
    assert_eq!(ended.status, StatusCode::OK);
    assert!(ended.body.contains("You are signed out there"), "{}", ended.body);
    assert!(!f.session_live(&laptop_sid).await);
    assert!(f.session_live(&phone_sid).await);
    assert_eq!(unescape(&ended.body).matches(r#"<li class="session">"#).count(), 1);
    assert_eq!(backchannel::deliver_due(&f.state).await, 1, "the laptop's application is told");
    let token = logout_tokens(&receiver)[0].clone();
    assert_eq!(claims_of(&token)["sid"], laptop_sid.as_str());
    assert!(laptop.get(&authorize_for("backed", "&prompt=none")).await.location_params().contains_key("error"));

    // "Sign out everywhere else".
    let mut tablet = f.browser();
    let (tablet_claims, _) = signed_in(&f, &mut tablet, "rp").await;
    phone.post_form("/account/sessions/end", &[("csrf_token", &csrf), ("session", "others")]).await;
    assert!(!f.session_live(tablet_claims["sid"].as_str().unwrap()).await);
    assert!(f.session_live(&phone_sid).await);
    assert!(f.session_live(&bob_sid).await);
}
