//! `oidcc-session-management-certification-test-plan`: the discovery module and
//! `oidcc-session-management-rp-initiated-logout`.
//!
//! The suite's page frames the OP's `check_session_iframe` beside an RP frame that posts
//! `"<client_id> <session_state>"` to it and reads the answer: `unchanged` after the sign-in,
//! `changed` after the logout.
//!
//! What is emulated: the harness runs no JavaScript, so it cannot run the OP frame's script.
//! It checks mechanically what a browser needs — the frame is served as HTML, may be framed by
//! the RP's origin (`frame-ancestors`, `X-Frame-Options`), runs only scripts of the OP's own
//! origin, and those scripts are served — and it computes the answer the way the
//! specification's example frame (OpenID Connect Session Management 1.0, §4.2) does:
//! `session_state` is unchanged when, for some cookie the frame's script can read
//! (`document.cookie`: not HttpOnly, and `SameSite=None` when the RP is another site), the
//! SHA-256 of `client_id ␠ RP origin ␠ cookie value ␠ salt`, as hex, base64url or base64,
//! followed by `.salt` gives the `session_state` back. An OP whose frame computes something
//! else cannot be judged this way: the module then warns instead of guessing. Headless
//! Chromium runs the OP's real frame and script in `provider/tests/browser.rs`.

use super::logout;
use crate::browser::Browser;
use crate::report::{Abort, Severity, Step};
use crate::{Ctx, html};
use base64::Engine;
use reqwest::Method;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use url::Url;

/// `oidcc-session-management-discovery-endpoint-verification`: check_session_iframe https [F], and
/// the logout plans' endpoint checks.
pub async fn oidcc_session_management_discovery_endpoint_verification(ctx: &mut Ctx) -> Step {
    logout::check_logout_discovery(ctx, &[]);
    match ctx.op().metadata.get("check_session_iframe").and_then(Value::as_str) {
        None => ctx.log.fail("discovery has no check_session_iframe"),
        Some(value) => {
            let https = Url::parse(value).is_ok_and(|u| u.scheme() == "https");
            ctx.log.check(https, Severity::Failure, format!("check_session_iframe `{value}` is not https"));
        }
    }
    Ok(())
}

/// `oidcc-session-management-rp-initiated-logout`.
pub async fn oidcc_session_management_rp_initiated_logout(ctx: &mut Ctx) -> Step {
    let frame = ctx
        .op()
        .metadata
        .get("check_session_iframe")
        .and_then(Value::as_str)
        .and_then(|v| Url::parse(v).ok())
        .ok_or_else(|| Abort::Stop("discovery has no usable check_session_iframe".into()))?;
    let (client, flow) = logout::signed_in_with(ctx, Map::new()).await?;
    let session_state = flow
        .auth
        .params
        .get("session_state")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| Abort::Stop("the authorization response has no session_state".into()))?;
    // The suite's RP page and its frame are on the redirect URI's origin.
    let rp_page = Url::parse(&ctx.cfg().redirect_uri).map_err(|e| Abort::Stop(format!("the redirect URI: {e}")))?;
    check_frame(ctx, &frame, &rp_page).await?;

    let emulated = match answer(&ctx.browser, &frame, &rp_page, &client.id, &session_state) {
        Some(cookie) => {
            ctx.log.info(format!("session_state matches the browser state in the OP's cookie `{cookie}`: unchanged"));
            true
        }
        None => {
            ctx.log.warn(
                "no cookie the check_session_iframe's script can read reproduces the session_state with the \
                 specification's example algorithm: the OP's answer cannot be emulated (run the frame in a browser)",
            );
            false
        }
    };

    let (outcome, state) = logout::logout_with_hint(ctx, logout::id_token_of(&flow)?).await?;
    logout::check_post_logout_redirect(ctx, &outcome, Some(&state));
    if emulated {
        let after = answer(&ctx.browser, &frame, &rp_page, &client.id, &session_state);
        ctx.log.check(
            after.is_none(),
            Severity::Failure,
            format!(
                "after the logout the check_session_iframe would still answer unchanged for the old session_state (cookie {after:?})"
            ),
        );
    }
    Ok(())
}

/// The OP frame as a browser loads it inside the RP page: an HTML page [F] that the RP's origin
/// may frame [F], whose scripts come from the OP's own origin [F] and are served [F].
async fn check_frame(ctx: &mut Ctx, frame: &Url, rp_page: &Url) -> Step {
    let page = match logout::navigate(ctx, frame.clone()).await? {
        logout::Outcome::Page(page) => page,
        logout::Outcome::Client(url) => {
            ctx.log.fail(format!("the check_session_iframe redirects to the client ({})", crate::browser::base_of(&url)));
            return Ok(());
        }
    };
    if !ctx.log.check(
        page.status == 200 && page.is_html(),
        Severity::Failure,
        format!("the check_session_iframe answered {}", page.describe()),
    ) {
        return Ok(());
    }
    ctx.log.check(
        crate::csp::allows_framing_by(&page.headers, &page.url, rp_page),
        Severity::Failure,
        format!(
            "a page at {} may not frame the check_session_iframe (Content-Security-Policy {:?}, X-Frame-Options {:?})",
            rp_page.origin().ascii_serialization(),
            page.header("content-security-policy"),
            page.header("x-frame-options")
        ),
    );
    let sources = html::attribute_values(&page.body, "script", "src");
    let inline = html::inline_scripts(&page.body);
    ctx.log.check(!sources.is_empty() || inline > 0, Severity::Failure, "the check_session_iframe has no script to answer the RP");
    for src in sources {
        let Some(script) = page.url.join(&src).ok().filter(|s| s.origin() == page.url.origin()) else {
            ctx.log.fail(format!("the check_session_iframe runs a script from elsewhere: `{src}`"));
            continue;
        };
        let response = ctx.browser.send(Method::GET, &script, None).await?;
        if ctx.log.check(response.status == 200, Severity::Failure, format!("its script answered {}", response.describe())) {
            let media = response.media_type().unwrap_or_default();
            ctx.log.check(
                media.ends_with("javascript") || media.ends_with("ecmascript"),
                Severity::Warning,
                format!("its script {} is served as {media:?}", crate::browser::base_of(&script)),
            );
        }
    }
    Ok(())
}

/// The emulated answer of the OP frame at `frame`, framed by `rp_page`, to
/// `"<client_id> <session_state>"`: the name of the cookie that reproduces the session_state
/// (unchanged), or `None` (changed).
fn answer(browser: &Browser, frame: &Url, rp_page: &Url, client_id: &str, session_state: &str) -> Option<String> {
    let origin = rp_page.origin().ascii_serialization();
    let salt = session_state.rsplit_once('.').map_or("", |(_, salt)| salt);
    browser.script_cookies(frame, rp_page).into_iter().find_map(|(name, value)| {
        let digest = Sha256::digest(format!("{client_id} {origin} {value} {salt}").as_bytes());
        let encodings = [
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest),
            base64::engine::general_purpose::STANDARD.encode(digest),
            digest.iter().map(|b| format!("{b:02x}")).collect(),
        ];
        encodings.iter().any(|hash| format!("{hash}.{salt}") == session_state).then_some(name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::browser::{LoginForm, User};
    use reqwest::header::{HeaderMap, HeaderValue, SET_COOKIE};

    #[test]
    fn the_emulated_frame_answers_unchanged_only_for_the_browser_state_it_was_computed_from() {
        let user = User { username: "u".into(), password: "p".into(), form: LoginForm::default() };
        let mut browser = Browser::new(reqwest::Client::new(), user);
        let frame = Url::parse("https://op.example/session/check").unwrap();
        let rp = Url::parse("https://rp.example/test/a/x/callback").unwrap();
        let mut headers = HeaderMap::new();
        headers.append(SET_COOKIE, HeaderValue::from_static("op_bs=state-1; Path=/; SameSite=None; Secure"));
        headers.append(SET_COOKIE, HeaderValue::from_static("op_session=secret; Path=/; HttpOnly; SameSite=Lax"));
        browser.store_cookies(&frame, &headers);
        let hash = |value: &str| {
            let digest = Sha256::digest(format!("rp1 https://rp.example {value} salt").as_bytes());
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest)
        };
        let session_state = format!("{}.salt", hash("state-1"));
        assert_eq!(answer(&browser, &frame, &rp, "rp1", &session_state).as_deref(), Some("op_bs"));
        assert_eq!(answer(&browser, &frame, &rp, "rp2", &session_state), None, "another client");
        let other_origin = Url::parse("https://evil.example/cb").unwrap();
        assert_eq!(answer(&browser, &frame, &other_origin, "rp1", &session_state), None, "another origin");
        let hidden = format!("{}.salt", hash("secret"));
        assert_eq!(answer(&browser, &frame, &rp, "rp1", &hidden), None, "an HttpOnly cookie is not readable");
        let mut signed_out = HeaderMap::new();
        signed_out.append(SET_COOKIE, HeaderValue::from_static("op_bs=; Path=/; Max-Age=0"));
        browser.store_cookies(&frame, &signed_out);
        assert_eq!(answer(&browser, &frame, &rp, "rp1", &session_state), None, "changed after the logout");
    }
}
