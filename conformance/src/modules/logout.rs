//! `oidcc-rp-initiated-logout-certification-test-plan`: the discovery module and the ten
//! end_session_endpoint modules. Each flow module signs in once (a normal code flow with the
//! suite's 128-character state), then sends the browser to the end_session_endpoint with the
//! parameters the module names:
//!
//! - the positive modules must be redirected to the post-logout URI with `state` exactly (and
//!   nothing else), after which `prompt=none` must fail with login_required (or another
//!   interaction error): the session really ended;
//! - the bad-hint and bad-URI modules, and the one without a hint, must see a page (error or
//!   confirmation), never a redirect to the client;
//! - no-params, no-post-logout-redirect-uri and only-state must see the "logged out" page, no
//!   redirect. Where the suite waits for a screenshot, the harness checks the page mechanically
//!   and (beyond the suite) that `prompt=none` then fails: the user was logged out.
//!
//! The post-logout URI is `B/post_logout_redirect`, beside the redirect URI `B/callback`; static
//! clients must have registered it, dynamic ones register it here.
//!
//! The front-channel, back-channel and session-management modules build on the pieces here:
//! the discovery checks, signing in, sending the browser to the end_session_endpoint, the
//! checks on the post-logout redirect and the `prompt=none` check.

use crate::browser::{Interact, Response};
use crate::flow::{AuthRequest, Flow};
use crate::registration::Which;
use crate::report::{Abort, Severity, Step};
use crate::{ClientCreds, Ctx, jose, random};
use reqwest::Method;
use serde_json::{Map, Value, json};
use url::Url;

const INTERACTION_ERRORS: &[&str] =
    &["login_required", "interaction_required", "account_selection_required", "consent_required"];

/// The post-logout redirect URI for a redirect URI `B/callback`: `B/post_logout_redirect`.
pub fn post_logout_redirect_uri(redirect_uri: &str) -> String {
    sibling(redirect_uri, "post_logout_redirect")
}

/// `B/<name>` for a redirect URI `B/callback` (query and fragment dropped).
pub(crate) fn sibling(redirect_uri: &str, name: &str) -> String {
    match Url::parse(redirect_uri) {
        Ok(mut url) => {
            url.set_query(None);
            url.set_fragment(None);
            let path = url.path().rsplit_once('/').map(|(dir, _)| format!("{dir}/{name}")).unwrap_or(format!("/{name}"));
            url.set_path(&path);
            url.to_string()
        }
        Err(_) => format!("{}/{name}", redirect_uri.trim_end_matches('/')),
    }
}

/// The suite's logout state: 90 characters of letters, digits and punctuation, without `+`,
/// space or `;`, so percent-encoding must round-trip.
pub(crate) fn logout_state() -> String {
    const PUNCTUATION: &[char] = &['-', '.', '_', '~', '!', '*', '(', ')', ',', ':', '@', '/', '?', '$', '\'', '='];
    let letters = random::alphanumeric(90);
    let bytes = random::bytes(90);
    letters
        .chars()
        .zip(bytes)
        .map(|(c, b)| if b % 3 == 0 { PUNCTUATION[(b as usize / 3) % PUNCTUATION.len()] } else { c })
        .collect()
}

/// The discovery checks of every logout plan: every `*_endpoint` https [F], end_session_endpoint
/// present and https [F], and each of `flags` present and `true` [F].
pub(crate) fn check_logout_discovery(ctx: &mut Ctx, flags: &[&str]) {
    let op = ctx.op();
    for (name, value) in &op.metadata {
        if name.ends_with("_endpoint") {
            let https = value.as_str().and_then(|v| Url::parse(v).ok()).is_some_and(|u| u.scheme() == "https");
            ctx.log.check(https, Severity::Failure, format!("{name} is not an https URL: {value}"));
        }
    }
    match op.metadata.get("end_session_endpoint").and_then(Value::as_str) {
        None => ctx.log.fail("discovery has no end_session_endpoint"),
        Some(value) => {
            let https = Url::parse(value).is_ok_and(|u| u.scheme() == "https");
            ctx.log.check(https, Severity::Failure, format!("end_session_endpoint `{value}` is not https"));
        }
    }
    for flag in flags {
        let value = op.metadata.get(*flag);
        ctx.log.check(
            value == Some(&Value::Bool(true)),
            Severity::Failure,
            format!("discovery {flag} must be true, it is {}", value.map_or("absent".to_string(), Value::to_string)),
        );
    }
}

/// `oidcc-rp-initiated-logout-discovery-endpoint-verification`: every `*_endpoint` https [F], and
/// end_session_endpoint present and https [F].
pub async fn oidcc_rp_initiated_logout_discovery_endpoint_verification(ctx: &mut Ctx) -> Step {
    check_logout_discovery(ctx, &[]);
    Ok(())
}

/// Where a logout request ended.
pub(crate) enum Outcome {
    /// At the client: the URL the browser was sent to.
    Client(Url),
    /// At a page of the OP.
    Page(Response),
}

/// The module's client (with `B/post_logout_redirect` registered when dynamic), a first
/// authorization with the long state, and the ID token's raw value.
async fn signed_in(ctx: &mut Ctx) -> Step<(ClientCreds, String)> {
    let (client, flow) = signed_in_with(ctx, Map::new()).await?;
    Ok((client, id_token_of(&flow)?))
}

/// The module's client, registered (when dynamic) with `B/post_logout_redirect` and `extra`,
/// and a first code flow with the long state.
pub(crate) async fn signed_in_with(ctx: &mut Ctx, mut extra: Map<String, Value>) -> Step<(ClientCreds, Flow)> {
    let plr = post_logout_redirect_uri(&ctx.cfg().redirect_uri);
    extra.insert("post_logout_redirect_uris".into(), json!([plr]));
    let client = ctx.client_with(Which::Main, extra).await?;
    let mut request = ctx.auth_request(&client);
    request.state = Some(random::long_state());
    let flow = ctx.code_flow(&request, None).await?;
    Ok((client, flow))
}

/// The raw ID token of a flow.
pub(crate) fn id_token_of(flow: &Flow) -> Step<String> {
    flow.tokens.id_token.as_ref().map(|j| j.raw.clone()).ok_or_else(|| Abort::Stop("no id_token".into()))
}

/// The suite's RP-initiated logout: the browser goes to the end_session_endpoint with
/// `id_token_hint`, `post_logout_redirect_uri` and `state`. Returns where it ended and the
/// state sent.
pub(crate) async fn logout_with_hint(ctx: &mut Ctx, id_token: String) -> Step<(Outcome, String)> {
    let plr = post_logout_redirect_uri(&ctx.cfg().redirect_uri);
    let state = logout_state();
    let params = [("id_token_hint", id_token), ("post_logout_redirect_uri", plr), ("state", state.clone())];
    Ok((end_session(ctx, &params).await?, state))
}

/// Sends the browser to the end_session_endpoint with `params` and follows the OP's redirects
/// until it reaches the client's site (`B/…`) or a page.
async fn end_session(ctx: &mut Ctx, params: &[(&str, String)]) -> Step<Outcome> {
    let op = ctx.op();
    let endpoint = op
        .metadata
        .get("end_session_endpoint")
        .and_then(Value::as_str)
        .and_then(|v| Url::parse(v).ok())
        .ok_or_else(|| Abort::Stop("discovery has no usable end_session_endpoint".into()))?;
    let mut url = endpoint;
    if !params.is_empty() {
        url.query_pairs_mut().extend_pairs(params.iter().map(|(k, v)| (*k, v.as_str())));
    }
    navigate(ctx, url).await
}

/// The client's site: every URL under `B/` is the suite's, never contacted.
pub(crate) fn client_site(ctx: &Ctx) -> String {
    sibling(&ctx.cfg().redirect_uri, "")
}

/// Sends the browser to `url` (a GET) and follows the OP's redirects until it reaches the
/// client's site or a page.
pub(crate) async fn navigate(ctx: &mut Ctx, mut url: Url) -> Step<Outcome> {
    let client_site = client_site(ctx);
    if url.as_str().starts_with(&client_site) {
        return Ok(Outcome::Client(url));
    }
    for _ in 0..10 {
        let response = ctx.browser.send(Method::GET, &url, None).await?;
        if !response.is_redirect() {
            ctx.log.info(format!("the OP showed {}", response.describe()));
            return Ok(Outcome::Page(response));
        }
        let next = response.location().ok_or_else(|| Abort::Stop(format!("{} has an unusable Location", response.describe())))?;
        if next.as_str().starts_with(&client_site) {
            ctx.log.info(format!("the OP redirected to {}", crate::browser::base_of(&next)));
            return Ok(Outcome::Client(next));
        }
        url = next;
    }
    Err(Abort::Stop("end_session: too many redirects".into()))
}

/// After a logout: `prompt=none` must fail with an interaction error [F].
pub(crate) async fn expect_logged_out(ctx: &mut Ctx, client: &ClientCreds) -> Step {
    let mut request: AuthRequest = ctx.auth_request(client).with("prompt", "none");
    request.state = Some(random::long_state());
    request.interact = Interact::NONE;
    let landing = ctx.authorize(&request).await?;
    match landing.callback() {
        Some(callback) => {
            let params = callback.params();
            if params.contains_key("code") {
                ctx.log.fail("after logout, prompt=none still returned a code: the session did not end");
                return Ok(());
            }
            let error = params.get("error").and_then(Value::as_str).unwrap_or("");
            ctx.log.check(
                INTERACTION_ERRORS.contains(&error),
                Severity::Failure,
                format!("after logout, prompt=none answered error `{error}`, expected one of {INTERACTION_ERRORS:?}"),
            );
        }
        None => ctx.log.fail("after logout, prompt=none must redirect with an error; the OP showed a page"),
    }
    Ok(())
}

/// The checks on the post-logout redirect: to the post_logout_redirect_uri [F], with exactly
/// the `state` sent (none when none was sent) [F], and nothing else [W].
pub(crate) fn check_post_logout_redirect(ctx: &mut Ctx, outcome: &Outcome, state: Option<&str>) {
    let url = match outcome {
        Outcome::Page(page) => {
            ctx.log.fail(format!("the OP did not redirect to the post_logout_redirect_uri; it showed {}", page.describe()));
            return;
        }
        Outcome::Client(url) => url,
    };
    let plr = post_logout_redirect_uri(&ctx.cfg().redirect_uri);
    ctx.log.check(
        crate::browser::base_of(url) == plr.as_str(),
        Severity::Failure,
        format!("redirected to {} rather than the post_logout_redirect_uri", crate::browser::base_of(url)),
    );
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let got_state: Vec<&str> = query.iter().filter(|(k, _)| k == "state").map(|(_, v)| v.as_str()).collect();
    match state {
        Some(state) => {
            ctx.log.check(
                got_state == [state],
                Severity::Failure,
                format!("the state in the post-logout redirect is {got_state:?}, expected {state:?}"),
            );
        }
        None => {
            ctx.log.check(got_state.is_empty(), Severity::Failure, "the post-logout redirect carries a state although none was sent");
        }
    }
    let others: Vec<&str> = query.iter().filter(|(k, _)| k != "state").map(|(k, _)| k.as_str()).collect();
    ctx.log.check(others.is_empty(), Severity::Warning, format!("the post-logout redirect carries other parameters: {others:?}"));
    ctx.log.check(url.fragment().is_none(), Severity::Warning, "the post-logout redirect has a fragment");
}

/// The positive ending: a redirect to the post-logout URI with exactly `state`, then prompt=none.
async fn positive(ctx: &mut Ctx, with_state: bool) -> Step {
    let (client, id_token) = signed_in(ctx).await?;
    if with_state {
        let (outcome, state) = logout_with_hint(ctx, id_token).await?;
        check_post_logout_redirect(ctx, &outcome, Some(&state));
    } else {
        let plr = post_logout_redirect_uri(&ctx.cfg().redirect_uri);
        let outcome = end_session(ctx, &[("id_token_hint", id_token), ("post_logout_redirect_uri", plr)]).await?;
        check_post_logout_redirect(ctx, &outcome, None);
    }
    expect_logged_out(ctx, &client).await
}

/// A page (error or confirmation) must be shown; a redirect to the client is [F].
fn expect_page(ctx: &mut Ctx, outcome: &Outcome, situation: &str) -> bool {
    match outcome {
        Outcome::Client(url) => {
            ctx.log.fail(format!(
                "{situation}: the OP redirected to the client ({}) instead of showing a page",
                crate::browser::base_of(url)
            ));
            false
        }
        Outcome::Page(page) => {
            if page.status >= 500 {
                ctx.log.fail(format!("{situation}: the OP failed with {}", page.describe()));
            } else if !page.is_html() {
                ctx.log.warn(format!("{situation}: the OP answered {} rather than an HTML page", page.describe()));
            }
            true
        }
    }
}

/// A module that must end at an error or confirmation page.
async fn page_expected(ctx: &mut Ctx, situation: &str, params: impl FnOnce(&str, String) -> Vec<(&'static str, String)>) -> Step {
    let (_, id_token) = signed_in(ctx).await?;
    let plr = post_logout_redirect_uri(&ctx.cfg().redirect_uri);
    let params = params(&plr, id_token);
    let outcome = end_session(ctx, &params).await?;
    expect_page(ctx, &outcome, situation);
    Ok(())
}

/// A module that must end at the "logged out" page; then (beyond the suite) prompt=none fails.
async fn logged_out_page_expected(ctx: &mut Ctx, situation: &str, with_hint: bool, with_state: bool) -> Step {
    let (client, id_token) = signed_in(ctx).await?;
    let mut params = Vec::new();
    if with_hint {
        params.push(("id_token_hint", id_token));
    }
    if with_state {
        params.push(("state", logout_state()));
    }
    let outcome = end_session(ctx, &params).await?;
    if expect_page(ctx, &outcome, situation)
        && let Outcome::Page(page) = &outcome
    {
        ctx.log.check(
            page.status == 200 && page.is_html(),
            Severity::Failure,
            format!("{situation}: expected a \"logged out\" page, the OP answered {}", page.describe()),
        );
        ctx.log.check(
            !crate::html::forms(&page.body).iter().any(|f| f.has_input(&ctx.cfg().user.form.password_field)),
            Severity::Failure,
            format!("{situation}: the OP showed a login form instead of a \"logged out\" page"),
        );
    }
    expect_logged_out(ctx, &client).await
}

/// `oidcc-rp-initiated-logout`: the positive flow.
pub async fn oidcc_rp_initiated_logout(ctx: &mut Ctx) -> Step {
    positive(ctx, true).await
}

/// `oidcc-rp-initiated-logout-no-state`: no state sent; the redirect must carry none.
pub async fn oidcc_rp_initiated_logout_no_state(ctx: &mut Ctx) -> Step {
    positive(ctx, false).await
}

/// `oidcc-rp-initiated-logout-bad-post-logout-redirect-uri`: `B/bad_post_logout_redirect_uri`.
pub async fn oidcc_rp_initiated_logout_bad_post_logout_redirect_uri(ctx: &mut Ctx) -> Step {
    let bad = sibling(&ctx.cfg().redirect_uri, "bad_post_logout_redirect_uri");
    page_expected(ctx, "an unregistered post_logout_redirect_uri", move |_, hint| {
        vec![("id_token_hint", hint), ("post_logout_redirect_uri", bad), ("state", logout_state())]
    })
    .await
}

/// `oidcc-rp-initiated-logout-query-added-to-post-logout-redirect-uri`: the registered URI + `?foo=bar`.
pub async fn oidcc_rp_initiated_logout_query_added_to_post_logout_redirect_uri(ctx: &mut Ctx) -> Step {
    page_expected(ctx, "a post_logout_redirect_uri with a query added", |plr, hint| {
        vec![("id_token_hint", hint), ("post_logout_redirect_uri", format!("{plr}?foo=bar")), ("state", logout_state())]
    })
    .await
}

/// `oidcc-rp-initiated-logout-modified-id-token-hint`: the hint re-headed as `alg: none`, its
/// signature stripped.
pub async fn oidcc_rp_initiated_logout_modified_id_token_hint(ctx: &mut Ctx) -> Step {
    page_expected(ctx, "an id_token_hint re-headed as alg none", |plr, hint| {
        let modified = match jose::decode(&hint) {
            Ok(jwt) => {
                let mut header = jwt.header.clone();
                header.insert("alg".into(), "none".into());
                let payload = hint.split('.').nth(1).unwrap_or("").to_string();
                format!("{}.{payload}.", jose::b64(serde_json::to_vec(&header).expect("JSON")))
            }
            Err(_) => hint,
        };
        vec![("id_token_hint", modified), ("post_logout_redirect_uri", plr.to_string()), ("state", logout_state())]
    })
    .await
}

/// `oidcc-rp-initiated-logout-bad-id-token-hint`: a hint signed by the suite (iss = client_id,
/// aud = issuer).
pub async fn oidcc_rp_initiated_logout_bad_id_token_hint(ctx: &mut Ctx) -> Step {
    let (client, _) = signed_in(ctx).await?;
    let (private, _) = ctx.shared.client_key().await?;
    let now = crate::checks::now();
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(client.id));
    claims.insert("sub".into(), json!(client.id));
    claims.insert("aud".into(), json!(ctx.op().issuer));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + 300));
    claims.insert("jti".into(), json!(random::alphanumeric(20)));
    let bad = jose::sign_rs256(&claims, private).map_err(|e| Abort::Stop(format!("cannot sign the bad hint: {e}")))?;
    let plr = post_logout_redirect_uri(&ctx.cfg().redirect_uri);
    let params = [("id_token_hint", bad), ("post_logout_redirect_uri", plr), ("state", logout_state())];
    let outcome = end_session(ctx, &params).await?;
    expect_page(ctx, &outcome, "an id_token_hint signed by someone else");
    Ok(())
}

/// `oidcc-rp-initiated-logout-no-id-token-hint`: post_logout_redirect_uri and state, no hint.
pub async fn oidcc_rp_initiated_logout_no_id_token_hint(ctx: &mut Ctx) -> Step {
    page_expected(ctx, "a post_logout_redirect_uri without an id_token_hint", |plr, _| {
        vec![("post_logout_redirect_uri", plr.to_string()), ("state", logout_state())]
    })
    .await
}

/// `oidcc-rp-initiated-logout-no-params`.
pub async fn oidcc_rp_initiated_logout_no_params(ctx: &mut Ctx) -> Step {
    logged_out_page_expected(ctx, "a logout without parameters", false, false).await
}

/// `oidcc-rp-initiated-logout-no-post-logout-redirect-uri`: id_token_hint and state.
pub async fn oidcc_rp_initiated_logout_no_post_logout_redirect_uri(ctx: &mut Ctx) -> Step {
    logged_out_page_expected(ctx, "a logout without post_logout_redirect_uri", true, true).await
}

/// `oidcc-rp-initiated-logout-only-state`.
pub async fn oidcc_rp_initiated_logout_only_state(ctx: &mut Ctx) -> Step {
    logged_out_page_expected(ctx, "a logout with only state", false, true).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suite_urls_sit_beside_the_callback() {
        assert_eq!(
            post_logout_redirect_uri("https://127.0.0.1:8443/test/a/poort/callback"),
            "https://127.0.0.1:8443/test/a/poort/post_logout_redirect"
        );
        assert_eq!(sibling("https://suite/test/a/x/callback?q=1", ""), "https://suite/test/a/x/");
        let state = logout_state();
        assert_eq!(state.len(), 90);
        assert!(!state.contains(['+', ' ', ';']));
    }
}
