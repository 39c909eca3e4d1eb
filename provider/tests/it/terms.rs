//! Terms of service in the authorization flow: shown before the first code for a client that
//! requires them, once per version; declined is `access_denied`; a client's own terms win over
//! the deployment's; `prompt=none` cannot show them — through the router in process.

use crate::browser::{Browser, Page};
use axum::http::StatusCode;
use poort::app;
use poort::state::AppState;
use poort_storage::now;
use poort_storage::repo::TermsVersion;

const ISSUER: &str = "https://op.example";
const CB: &str = "https://rp.example/cb";
const PASSWORD: &str = "correct horse battery staple";

struct Fixture {
    state: AppState,
    user_id: String,
    _dir: tempfile::TempDir,
}

impl Fixture {
    /// Clients `settings` (requires terms, no consent page), `crm` (requires terms, asks
    /// consent) and `plain` (no terms); one active user, ann.
    async fn new() -> Self {
        let (state, dir) = crate::support::provider(ISSUER, |_| {}).await;
        let user_id = crate::support::insert_user(&state, "ann@example.com", PASSWORD).await;
        let fixture = Self { state, user_id, _dir: dir };
        let settings_client = serde_json::json!({
            "redirect_uris": [CB], "client_name": "Instellingen en onderhoud", "first_party": true, "requires_terms": true
        });
        fixture.client("settings", settings_client).await;
        fixture.client("crm", serde_json::json!({ "redirect_uris": [CB], "client_name": "CRM", "requires_terms": true })).await;
        fixture.client("plain", serde_json::json!({ "redirect_uris": [CB], "first_party": true })).await;
        fixture
    }

    async fn client(&self, id: &str, metadata: serde_json::Value) {
        crate::support::insert_client(&self.state, id, metadata).await;
    }

    async fn publish(&self, client_id: Option<&str>, version: &str, body: &str) -> TermsVersion {
        self.state.store.terms().publish(client_id, version, body).await.unwrap()
    }

    async fn accepted(&self, terms: &TermsVersion) -> bool {
        self.state.store.terms().has_accepted(&self.user_id, &terms.id).await.unwrap()
    }

    fn browser(&self) -> Browser {
        Browser::new(app::app(self.state.clone()))
    }

    /// Ann signed in (through `plain`, which shows no terms).
    async fn signed_in(&self) -> Browser {
        let mut b = self.browser();
        let first = b.get(&auth("plain", "")).await;
        let done = b.sign_in(first.location.as_deref().unwrap(), "ann", PASSWORD).await;
        assert!(done.location_params().contains_key("code"), "{:?}", done.location);
        b
    }

    /// How many grants ann gave since the last call (revoking them is how the store lists them).
    async fn new_grants(&self) -> usize {
        self.state.store.grants().revoke_user_grants(&self.user_id, None, now()).await.unwrap().len()
    }
}

fn auth(client_id: &str, extra: &str) -> String {
    format!("/authorize?client_id={client_id}&response_type=code&scope=openid&state=xyz{extra}")
}

fn location(page: &Page) -> &str {
    page.location.as_deref().unwrap_or_else(|| panic!("a redirect, not {}: {}", page.status, page.body))
}

/// Opens the terms page a redirect points to and answers it.
async fn answer(b: &mut Browser, terms_page: &str, decision: &str, tick: bool) -> Page {
    assert!(terms_page.starts_with("/terms?ticket="), "{terms_page}");
    let page = b.get(terms_page).await;
    assert_eq!(page.status, StatusCode::OK, "terms page: {}", page.body);
    let ticket = page.input("ticket").unwrap();
    let csrf = page.input("csrf_token").unwrap();
    let mut fields = vec![("ticket", ticket.as_str()), ("csrf_token", csrf.as_str()), ("decision", decision)];
    if tick {
        fields.push(("accept", "yes"));
    }
    b.post_form("/terms", &fields).await
}

fn assert_code(page: &Page) {
    assert!(location(page).starts_with(&format!("{CB}?code=")), "{:?}", page.location);
    assert_eq!(page.location_params()["state"], "xyz");
}

#[tokio::test]
async fn terms_come_before_the_first_code_and_once_per_version() {
    let f = Fixture::new().await;
    let v1 = f.publish(None, "2025-03", "These are the terms.\nAll of them.\n\nRead them <carefully>.").await;
    let mut b = f.browser();
    let first = b.get(&auth("settings", "")).await;
    let after_sign_in = b.sign_in(location(&first), "ann@example.com", PASSWORD).await;
    let terms_uri = location(&after_sign_in).to_string();
    assert!(terms_uri.starts_with("/terms?ticket="), "{terms_uri}");
    assert!(!f.accepted(&v1).await);

    let page = b.get(&terms_uri).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Instellingen en onderhoud"), "{}", page.body);
    assert!(page.body.contains("Version 2025-03"));
    assert!(page.body.contains("<p>These are the terms. All of them.</p>"), "{}", page.body);
    assert!(page.body.contains("<p>Read them &lt;carefully&gt;.</p>"), "escaped: {}", page.body);
    assert_eq!(page.headers["cache-control"], "no-store");

    let done = answer(&mut b, &terms_uri, "accept", true).await;
    assert_code(&done);
    assert!(f.accepted(&v1).await);
    let accepted_at = f.state.store.terms().accepted_at(&f.user_id, &v1.id).await.unwrap().unwrap();
    assert!((now() - accepted_at).abs() < 60);

    // Accepted: neither the same session nor a new sign-in sees them again.
    assert_code(&b.get(&auth("settings", "")).await);
    let mut other = f.browser();
    let first = other.get(&auth("settings", "")).await;
    assert_code(&other.sign_in(location(&first), "ann", PASSWORD).await);

    // A new version is shown again, and only it is recorded.
    let v2 = f.publish(None, "2025-09", "The new terms.").await;
    let again = b.get(&auth("settings", "")).await;
    let page = b.get(location(&again)).await;
    assert!(page.body.contains("Version 2025-09") && page.body.contains("The new terms."), "{}", page.body);
    assert_code(&answer(&mut b, location(&again), "accept", true).await);
    assert!(f.accepted(&v2).await);
    assert_code(&b.get(&auth("settings", "")).await);
}

#[tokio::test]
async fn terms_come_before_consent_and_after_them_the_consent_page() {
    let f = Fixture::new().await;
    f.publish(None, "1", "Terms.").await;
    let mut b = f.signed_in().await;
    let first = b.get(&auth("crm", "")).await;
    let consent = answer(&mut b, location(&first), "accept", true).await;
    assert!(location(&consent).starts_with("/consent?ticket="), "{:?}", consent.location);
    assert_code(&b.consent(location(&consent), "allow").await);
}

#[tokio::test]
async fn declining_is_access_denied_and_issues_nothing() {
    let f = Fixture::new().await;
    let v1 = f.publish(None, "1", "Terms.").await;
    let mut b = f.signed_in().await;
    assert_eq!(f.new_grants().await, 1, "the sign-in through plain");
    let first = b.get(&auth("settings", "")).await;
    // Decline needs no ticked box.
    let done = answer(&mut b, location(&first), "decline", false).await;
    let params = done.location_params();
    assert!(location(&done).starts_with(CB));
    assert_eq!(params.get("error").map(String::as_str), Some("access_denied"));
    assert_eq!(params["state"], "xyz");
    assert_eq!(params["iss"], ISSUER);
    assert!(!params.contains_key("code"));
    assert!(!f.accepted(&v1).await);
    assert_eq!(f.new_grants().await, 0, "no grant for the declined client");
    // Still not accepted: asked again.
    assert!(location(&b.get(&auth("settings", "")).await).starts_with("/terms?ticket="));
}

#[tokio::test]
async fn a_clients_own_terms_win_over_the_deployments() {
    let f = Fixture::new().await;
    let everyone = f.publish(None, "general-1", "The general terms.").await;
    let own = f.publish(Some("settings"), "settings-1", "The terms of Settings and maintenance.").await;
    let mut b = f.signed_in().await;
    let first = b.get(&auth("settings", "")).await;
    let page = b.get(location(&first)).await;
    assert!(page.body.contains("The terms of Settings and maintenance.") && !page.body.contains("The general terms."));
    assert_code(&answer(&mut b, location(&first), "accept", true).await);
    assert!(f.accepted(&own).await && !f.accepted(&everyone).await);
    // Another client that requires terms gets the deployment's.
    let first = b.get(&auth("crm", "")).await;
    let page = b.get(location(&first)).await;
    assert!(page.body.contains("The general terms."), "{}", page.body);
    // A client that does not require terms never shows any.
    assert_code(&b.get(&auth("plain", "")).await);
}

#[tokio::test]
async fn nothing_published_means_nothing_to_accept() {
    let f = Fixture::new().await;
    let mut b = f.signed_in().await;
    assert_code(&b.get(&auth("settings", "")).await);
}

#[tokio::test]
async fn prompt_none_cannot_show_terms() {
    let f = Fixture::new().await;
    f.publish(None, "1", "Terms.").await;
    let mut b = f.signed_in().await;
    let page = b.get(&auth("settings", "&prompt=none")).await;
    let params = page.location_params();
    assert!(location(&page).starts_with(CB));
    assert_eq!(params.get("error").map(String::as_str), Some("interaction_required"));
    assert!(!params.contains_key("code"));
}

#[tokio::test]
async fn the_form_needs_its_csrf_token_the_ticked_box_and_the_pages_ticket() {
    let f = Fixture::new().await;
    let v1 = f.publish(None, "1", "Terms.").await;
    let mut b = f.signed_in().await;
    let first = b.get(&auth("settings", "")).await;
    let redirect_ticket = location(&first).trim_start_matches("/terms?ticket=").to_string();
    let page = b.get(location(&first)).await;
    let ticket = page.input("ticket").unwrap();
    let csrf = page.input("csrf_token").unwrap();

    let no_csrf = b.post_form("/terms", &[("ticket", &ticket), ("decision", "accept"), ("accept", "yes")]).await;
    assert_eq!(no_csrf.status, StatusCode::FORBIDDEN);
    let wrong_csrf = b.post_form("/terms", &[("ticket", &ticket), ("csrf_token", "x".repeat(43).as_str()), ("decision", "accept"), ("accept", "yes")]).await;
    assert_eq!(wrong_csrf.status, StatusCode::FORBIDDEN);
    // Decline without the token changes nothing either.
    let no_csrf_decline = b.post_form("/terms", &[("ticket", &ticket), ("decision", "decline")]).await;
    assert_eq!(no_csrf_decline.status, StatusCode::FORBIDDEN);

    let unticked = b.post_form("/terms", &[("ticket", &ticket), ("csrf_token", &csrf), ("decision", "accept")]).await;
    assert_eq!(unticked.status, StatusCode::BAD_REQUEST);
    assert!(unticked.body.contains("Tick Accept to continue"), "{}", unticked.body);
    assert!(unticked.location.is_none());
    // The ticket the page was not rendered with names no version: it cannot accept.
    let unseen = b.post_form("/terms", &[("ticket", &redirect_ticket), ("csrf_token", &csrf), ("decision", "accept"), ("accept", "yes")]).await;
    assert_eq!(unseen.status, StatusCode::BAD_REQUEST);
    assert!(!f.accepted(&v1).await);

    // Another browser (another session) cannot use this ticket.
    let mut stranger = f.browser();
    stranger.cookies.insert("poort_csrf".into(), csrf.clone());
    let foreign = stranger.post_form("/terms", &[("ticket", &ticket), ("csrf_token", &csrf), ("decision", "accept"), ("accept", "yes")]).await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST);
    assert!(!f.accepted(&v1).await);

    let done = b.post_form("/terms", &[("ticket", &unticked.input("ticket").unwrap()), ("csrf_token", &csrf), ("decision", "accept"), ("accept", "yes")]).await;
    assert_code(&done);
    assert!(f.accepted(&v1).await);
    assert_eq!(b.get("/terms").await.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_terms_page_speaks_dutch() {
    let f = Fixture::new().await;
    f.publish(None, "2025-03", "De voorwaarden.").await;
    let mut b = f.signed_in().await;
    let first = b.get(&auth("settings", "&ui_locales=nl")).await;
    let page = b.get(location(&first)).await;
    assert!(page.body.contains(r#"<html lang="nl">"#));
    assert!(page.body.contains("Servicevoorwaarden") && page.body.contains("Versie 2025-03") && page.body.contains("Accepteren"));
}
