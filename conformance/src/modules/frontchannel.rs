//! `oidcc-frontchannel-rp-initiated-logout-certification-test-plan`: the discovery module and
//! `oidcc-frontchannel-rp-initiated-logout`.
//!
//! The client registers `frontchannel_logout_uri = B/frontchannel_logout` with
//! `frontchannel_logout_session_required`; its ID token must carry `sid`. After the
//! RP-initiated logout the browser must load that URI with `iss` (the issuer) and `sid` (the
//! ID token's), and reach the post-logout URI with the state; then `prompt=none` must fail.
//!
//! What is emulated: the suite's browser runs the OP's logout page with JavaScript. The harness
//! has none, so on each page of the OP it loads the `<iframe>`s as a browser would — a frame
//! the page's `Content-Security-Policy` forbids is not loaded; a frame on the OP is fetched (with
//! the browser's cookies) and its own frames followed; a frame on the client's site `B/…` is
//! the front-channel request, recorded and never contacted. A page that continues to the
//! client by script must also offer the way as a link (for browsers without script): the
//! harness follows the link to the client's site. Headless Chromium runs the real page in
//! `provider/tests/browser.rs`.

use super::logout::{self, Outcome};
use crate::browser::Response;
use crate::report::{Severity, Step};
use crate::{Ctx, csp, html};
use serde_json::{Map, Value, json};
use url::Url;

/// How deep frames within frames are followed on the OP.
const MAX_FRAME_DEPTH: usize = 2;

/// `oidcc-frontchannel-logout-discovery-endpoint-verification`.
pub async fn oidcc_frontchannel_logout_discovery_endpoint_verification(ctx: &mut Ctx) -> Step {
    logout::check_logout_discovery(ctx, &["frontchannel_logout_supported", "frontchannel_logout_session_supported"]);
    Ok(())
}

/// `oidcc-frontchannel-rp-initiated-logout`.
pub async fn oidcc_frontchannel_rp_initiated_logout(ctx: &mut Ctx) -> Step {
    let frontchannel_uri = logout::sibling(&ctx.cfg().redirect_uri, "frontchannel_logout");
    let mut extra = Map::new();
    extra.insert("frontchannel_logout_uri".into(), json!(frontchannel_uri));
    extra.insert("frontchannel_logout_session_required".into(), json!(true));
    let (client, flow) = logout::signed_in_with(ctx, extra).await?;
    let sid = flow.tokens.claim("sid").and_then(Value::as_str).map(str::to_string);
    ctx.log.check(sid.is_some(), Severity::Failure, "the id_token has no sid (front-channel logout with session required)");

    let (outcome, state) = logout::logout_with_hint(ctx, logout::id_token_of(&flow)?).await?;
    let mut loaded = Vec::new();
    let outcome = match outcome {
        Outcome::Page(page) => {
            load_frames(ctx, &page, 0, &mut loaded).await?;
            continue_to_client(ctx, page)
        }
        at_client => at_client,
    };

    let issuer = ctx.op().issuer.clone();
    let ours: Vec<&Url> = loaded.iter().filter(|u| crate::browser::base_of(u) == frontchannel_uri).collect();
    match ours.as_slice() {
        [] => ctx.log.fail(format!(
            "the browser never loaded the frontchannel_logout_uri {frontchannel_uri} (frames loaded on the client's site: {:?})",
            loaded.iter().map(Url::as_str).collect::<Vec<_>>()
        )),
        [frame, ..] => {
            let query: Vec<(String, String)> = frame.query_pairs().into_owned().collect();
            let value = |name: &str| query.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect::<Vec<_>>();
            ctx.log.check(
                value("iss") == [issuer.as_str()],
                Severity::Failure,
                format!("the front-channel request's iss is {:?}, expected the issuer {issuer:?}", value("iss")),
            );
            match &sid {
                Some(sid) => ctx.log.check(
                    value("sid") == [sid.as_str()],
                    Severity::Failure,
                    format!("the front-channel request's sid is {:?}, the id_token's is {sid:?}", value("sid")),
                ),
                None => ctx.log.check(!value("sid").is_empty(), Severity::Failure, "the front-channel request has no sid"),
            };
            let others: Vec<&str> = query.iter().map(|(k, _)| k.as_str()).filter(|k| *k != "iss" && *k != "sid").collect();
            ctx.log.check(
                others.is_empty(),
                Severity::Warning,
                format!("the front-channel request carries other parameters: {others:?}"),
            );
        }
    }
    logout::check_post_logout_redirect(ctx, &outcome, Some(&state));
    logout::expect_logged_out(ctx, &client).await
}

/// Loads the frames of an OP page as a browser would, collecting those that reach the client's
/// site (not contacted).
async fn load_frames(ctx: &mut Ctx, page: &Response, depth: usize, loaded: &mut Vec<Url>) -> Step {
    let policies = csp::policies(&page.headers);
    let client_site = logout::client_site(ctx);
    for src in html::attribute_values(&page.body, "iframe", "src") {
        let Ok(frame) = page.url.join(&src) else {
            ctx.log.warn(format!("a frame on {} has an unusable src `{src}`", crate::browser::base_of(&page.url)));
            continue;
        };
        if !csp::allows_frame(&policies, &page.url, &frame) {
            ctx.log.fail(format!(
                "the page's Content-Security-Policy does not let a browser load its frame {}: {policies:?}",
                crate::browser::base_of(&frame)
            ));
            continue;
        }
        if frame.as_str().starts_with(&client_site) {
            ctx.log.info(format!("the page frames {}", crate::browser::base_of(&frame)));
            loaded.push(frame);
            continue;
        }
        if depth >= MAX_FRAME_DEPTH {
            ctx.log.warn(format!("frames nested deeper than {MAX_FRAME_DEPTH} are not followed: {frame}"));
            continue;
        }
        // A frame elsewhere (on the OP) is a document of its own, with its own redirects and frames.
        match logout::navigate(ctx, frame).await? {
            Outcome::Client(url) => loaded.push(url),
            Outcome::Page(inner) => Box::pin(load_frames(ctx, &inner, depth + 1, loaded)).await?,
        }
    }
    Ok(())
}

/// From an OP page after the logout, the way on to the client: the page's link to the client's
/// site (what its script follows once the frames have loaded), or else the page itself.
fn continue_to_client(ctx: &mut Ctx, page: Response) -> Outcome {
    let client_site = logout::client_site(ctx);
    let link = html::attribute_values(&page.body, "a[href]", "href")
        .into_iter()
        .filter_map(|href| page.url.join(&href).ok())
        .find(|url| url.as_str().starts_with(&client_site));
    match link {
        Some(url) => {
            ctx.log.info(format!("the page leads on to {}", crate::browser::base_of(&url)));
            Outcome::Client(url)
        }
        None => Outcome::Page(page),
    }
}
