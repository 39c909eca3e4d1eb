//! Two `poort serve` nodes on one PostgreSQL database, each request sent to the node a
//! round-robin front would choose: whichever node serves it, the answer is the same — and a
//! back-channel logout is delivered once, by whichever node claims it.

use crate::cluster::{self, Agent, BYE, CB, ISSUER, authorize_path, json, urlencode};
use crate::support::{PgDatabase, Receiver, logout_tokens};
use axum::http::StatusCode;

#[tokio::test]
async fn sign_in_on_one_node_redeem_on_the_other_refresh_and_logout_across_nodes() {
    let db = PgDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    cluster::write_config(dir.path());
    cluster::add_user(dir.path(), &db.url);
    let a = cluster::start_node(dir.path(), &db.url, |_| {});
    let b = cluster::start_node(dir.path(), &db.url, |_| {});
    let (a, b) = (a.base_url.clone(), b.base_url.clone());
    let mut browser = Agent::new();
    let mut rp = Agent::new();

    // The authorization starts on A, the sign-in page comes from B, the form goes back to A.
    let code = browser.sign_in(&a, &b, &a).await;
    let tokens = rp
        .post_client(&format!("{b}/token"), "rp", &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CB)])
        .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    let tokens = json(&tokens);
    let (access, refresh, id_token) =
        (tokens["access_token"].as_str().unwrap(), tokens["refresh_token"].as_str().unwrap(), tokens["id_token"].as_str().unwrap());
    // Either node reads a token the other issued.
    let userinfo = reqwest::Client::new().get(format!("{a}/userinfo")).bearer_auth(access).send().await.unwrap();
    assert_eq!(userinfo.status(), StatusCode::OK);
    assert!(userinfo.json::<serde_json::Value>().await.unwrap()["sub"].as_str().is_some());

    // Refresh on A; the rotated-out token replayed on B is reuse, and revokes the family.
    let refreshed = rp.post_client(&format!("{a}/token"), "rp", &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    let next_refresh = json(&refreshed)["refresh_token"].as_str().unwrap().to_string();
    let replayed = rp.post_client(&format!("{b}/token"), "rp", &[("grant_type", "refresh_token"), ("refresh_token", refresh)]).await;
    assert_eq!(json(&replayed)["error"], "invalid_grant");
    let after_reuse = rp.post_client(&format!("{a}/token"), "rp", &[("grant_type", "refresh_token"), ("refresh_token", &next_refresh)]).await;
    assert_eq!(json(&after_reuse)["error"], "invalid_grant", "reuse on B revoked the family A rotated");

    // Single sign-on through B with the session A started.
    let silent = browser.get(&format!("{b}{}", authorize_path("&prompt=none"))).await;
    cluster::code_from(&silent);

    // Logout on B ends the session for A as well.
    let logout = browser
        .get(&format!("{b}/session/end?id_token_hint={id_token}&post_logout_redirect_uri={}&state=bye", urlencode(BYE)))
        .await;
    assert_eq!(logout.location.as_deref(), Some(format!("{BYE}?state=bye").as_str()), "{} {}", logout.status, logout.body);
    let after = browser.get(&format!("{a}{}", authorize_path("&prompt=none"))).await;
    assert_eq!(after.location_params().get("error").map(String::as_str), Some("login_required"), "{:?}", after.location);
    assert_eq!(ISSUER, json(&browser.get(&format!("{a}/.well-known/openid-configuration")).await)["issuer"]);

    // The code replayed on A is spent, and the replay revokes what it issued, for B too.
    let again = rp.post_client(&format!("{a}/token"), "rp", &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CB)]).await;
    assert_eq!(json(&again)["error"], "invalid_grant");
    let revoked = reqwest::Client::new().get(format!("{b}/userinfo")).bearer_auth(access).send().await.unwrap();
    assert_eq!(revoked.status(), StatusCode::UNAUTHORIZED);
}

/// The kids a node publishes.
async fn kids(base: &str) -> Vec<String> {
    let jwks: serde_json::Value = reqwest::get(format!("{base}/jwks")).await.unwrap().json().await.unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_string()).collect()
}

#[tokio::test]
async fn a_key_rotated_by_the_cli_is_published_and_used_by_every_node_without_a_restart() {
    let db = PgDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    cluster::write_config(dir.path());
    cluster::add_user(dir.path(), &db.url);
    let reload = |c: &mut std::process::Command| {
        c.env("POORT__KEYS__RELOAD_INTERVAL", "1s");
    };
    let a = cluster::start_node(dir.path(), &db.url, reload);
    let b = cluster::start_node(dir.path(), &db.url, reload);
    let before = kids(&a.base_url).await;
    assert_eq!(before.len(), 2);

    let output = crate::support::poort()
        .current_dir(dir.path())
        .env("POORT_CONFIG", "poort.toml")
        .env("POORT__STORAGE__DATABASE_URL", &db.url)
        .args(["keys", "rotate", "--alg", "RS256", "--json"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let created: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let new_kid = created["created"][0].as_str().unwrap().to_string();

    // Each node picks the new key up on its next reload (bounded wait, not a timing assertion).
    for node in [&a.base_url, &b.base_url] {
        let mut published = Vec::new();
        for _ in 0..300 {
            published = kids(node).await;
            if published.contains(&new_kid) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(published.contains(&new_kid), "{node} never published {new_kid}: {published:?}");
        assert!(before.iter().all(|kid| published.contains(kid)), "the old keys stay published");
    }
    // A sign-in on B now gets an ID token signed with the new key.
    let mut browser = Agent::new();
    let code = browser.sign_in(&b.base_url, &b.base_url, &b.base_url).await;
    let tokens = Agent::new()
        .post_client(&format!("{}/token", a.base_url), "rp", &[("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", CB)])
        .await;
    let id_token = json(&tokens)["id_token"].as_str().unwrap().to_string();
    let header: serde_json::Value = {
        use base64::Engine as _;
        let part = id_token.split('.').next().unwrap();
        serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    };
    assert_eq!(header["kid"], new_kid.as_str());
}

/// Sessions ended from the CLI queue their logout tokens without waking any node: both nodes'
/// workers race for them, and every token reaches the client exactly once.
#[tokio::test]
async fn back_channel_logouts_are_delivered_exactly_once_by_whichever_node_claims_them() {
    const SESSIONS: usize = 12;
    let db = PgDatabase::create().await;
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start(0, &[]).await;
    cluster::write_config_with(dir.path(), &format!("backchannel_logout_uri = \"{}\"", receiver.uri()));
    cluster::add_user(dir.path(), &db.url);
    let poll = |c: &mut std::process::Command| {
        c.env("POORT__LOGOUT__BACKCHANNEL_POLL_INTERVAL", "1s");
    };
    let a = cluster::start_node(dir.path(), &db.url, poll);
    let b = cluster::start_node(dir.path(), &db.url, poll);
    for i in 0..SESSIONS {
        let (one, other) = if i % 2 == 0 { (&a.base_url, &b.base_url) } else { (&b.base_url, &a.base_url) };
        Agent::new().sign_in(one, other, one).await;
    }
    let output = crate::support::poort()
        .current_dir(dir.path())
        .env("POORT_CONFIG", "poort.toml")
        .env("POORT__STORAGE__DATABASE_URL", &db.url)
        .args(["session", "end", cluster::USER, "--all"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains(&format!("ended {SESSIONS} sessions")));

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while logout_tokens(&receiver).len() < SESSIONS && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    // Let a late duplicate show itself, were there one.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let tokens: Vec<_> = logout_tokens(&receiver).iter().map(|t| crate::logout::claims_of(t)).collect();
    assert_eq!(tokens.len(), SESSIONS, "one logout token per ended session");
    let mut sids: Vec<&str> = tokens.iter().map(|c| c["sid"].as_str().unwrap()).collect();
    sids.sort_unstable();
    sids.dedup();
    assert_eq!(sids.len(), SESSIONS, "no session told twice");
    let mut jtis: Vec<&str> = tokens.iter().map(|c| c["jti"].as_str().unwrap()).collect();
    jtis.sort_unstable();
    jtis.dedup();
    assert_eq!(jtis.len(), SESSIONS);
}
