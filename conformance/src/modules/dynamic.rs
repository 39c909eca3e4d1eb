//! `oidcc-dynamic-certification-test-plan` ("Dynamic OP"): discovery, dynamic registration and
//! private_key_jwt client authentication (`Config::client_auth`), with the response type the
//! user picks. The modules the plan shares with the Basic plan (`oidcc-server`,
//! `oidcc-idtoken-unsigned`, `oidcc-ensure-request-object-with-redirect-uri`,
//! `oidcc-refresh-token`) and with the Config plan (`oidcc-discovery-endpoint-verification`, with
//! the dynamic rules) are the same functions; this file holds the others, one function per
//! module, named after it.
//!
//! What the suite serves under its base URL `B` — request objects, the RP's key set, the sector
//! document — comes from the harness's document host ([`crate::documents`]). Where the suite
//! waits for a screenshot (the login page showing the client's logo or links), the harness reads
//! the login page's HTML; where it waits for an operator (`oidcc-server-rotate-keys`), it runs the
//! configured action itself and then polls the JWKS.

use super::basic::{
    authorize_by_reference, check_refresh, check_rs256_id_token, finish_object_flow,
    flow_with_refresh_token, refresh_grant_types, skip_unless_unsigned_objects,
};
use super::logout::sibling;
use crate::browser::{End, Interact, Response};
use crate::checks;
use crate::flow::UserinfoCall;
use crate::registration::{Registered, Which};
use crate::report::{Abort, Severity, Step};
use crate::{Ctx, discovery, html, jose, random};
use serde_json::{Map, Value, json};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// Discovery's `member` must list `value` (a failure otherwise).
fn require_listed(ctx: &mut Ctx, member: &str, value: &str) {
    let listed = ctx.op().lists(member, value);
    ctx.log.check(
        listed,
        Severity::Failure,
        format!("{member} does not list {value}"),
    );
}

/// Registration metadata with one member.
fn member(name: &str, value: Value) -> Map<String, Value> {
    Map::from_iter([(name.to_string(), value)])
}

// ---------------------------------------------------------------------------------------------
// Signed ID tokens and userinfo

/// `oidcc-idtoken-rs256`: registers `id_token_signed_response_alg=RS256`; the ID token must carry
/// a `kid` and be RS256.
pub async fn oidcc_idtoken_rs256(ctx: &mut Ctx) -> Step {
    let extra = member("id_token_signed_response_alg", json!("RS256"));
    let client = ctx.client_with(Which::Main, extra).await?;
    let request = ctx.auth_request(&client);
    let flow = ctx.code_flow(&request, Some(UserinfoCall::Get)).await?;
    check_rs256_id_token(ctx, &flow.tokens, "as registered");
    Ok(())
}

/// `oidcc-userinfo-rs256`: discovery must list RS256 for userinfo; the client registers
/// `userinfo_signed_response_alg=RS256`, and userinfo must answer `application/jwt`, RS256,
/// signed by an OP key, for the client and from the issuer (warnings), without a nonce, about
/// the ID token's subject.
pub async fn oidcc_userinfo_rs256(ctx: &mut Ctx) -> Step {
    require_listed(ctx, "userinfo_signing_alg_values_supported", "RS256");
    let extra = member("userinfo_signed_response_alg", json!("RS256"));
    let client = ctx.client_with(Which::Main, extra).await?;
    let request = ctx.auth_request(&client);
    let flow = ctx.code_flow(&request, None).await?;
    let tokens = &flow.tokens;
    let response = ctx
        .userinfo_raw(UserinfoCall::Get, &tokens.token_type, &tokens.access_token)
        .await?;
    if response.status != 200 {
        return Err(Abort::Stop(format!(
            "userinfo answered {}",
            response.describe()
        )));
    }
    ctx.log.check(
        response.media_type().as_deref() == Some("application/jwt"),
        Severity::Failure,
        format!(
            "the signed userinfo's Content-Type is {:?}, not application/jwt",
            response.header("content-type")
        ),
    );
    let jwt = jose::decode(response.body.trim())
        .map_err(|e| Abort::Stop(format!("the signed userinfo does not decode: {e}")))?;
    if let Err(reason) = jose::verify(&jwt, &ctx.op().keys) {
        ctx.log.fail(format!("signed userinfo: {reason}"));
    }
    ctx.log.check(
        jwt.alg() == Some("RS256"),
        Severity::Failure,
        format!(
            "the signed userinfo's alg is {:?}, not RS256 as registered",
            jwt.alg()
        ),
    );
    let claims = &jwt.claims;
    let issuer = ctx.op().issuer.clone();
    ctx.log.check(
        claims.get("iss").and_then(Value::as_str) == Some(issuer.as_str()),
        Severity::Warning,
        "the signed userinfo's iss is missing or not the issuer",
    );
    let for_client = match claims.get("aud") {
        Some(Value::String(aud)) => *aud == client.id,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(client.id.as_str())),
        _ => false,
    };
    ctx.log.check(
        for_client,
        Severity::Warning,
        "the signed userinfo's aud is missing or does not name the client",
    );
    ctx.log.check(
        !claims.contains_key("nonce"),
        Severity::Failure,
        "the signed userinfo carries a nonce",
    );
    checks::check_userinfo_claims(&mut ctx.log, claims, tokens.sub());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Redirect URIs

/// `oidcc-ensure-redirect-uri-in-authorization-request`: two redirect URIs registered and none
/// sent. The OP cannot know where to answer: an error page (or, as the suite also accepts, an
/// `invalid_request` redirect with the state).
pub async fn oidcc_ensure_redirect_uri_in_authorization_request(ctx: &mut Ctx) -> Step {
    let redirect_uri = ctx.cfg().redirect_uri.clone();
    let second = format!("{redirect_uri}?dummy1=lorem&dummy2=ipsum");
    let extra = member("redirect_uris", json!([redirect_uri, second]));
    let client = ctx.client_with(Which::Main, extra).await?;
    let request = ctx.auth_request(&client);
    let params: Vec<(String, String)> = request
        .params()
        .into_iter()
        .filter(|(name, _)| name != "redirect_uri")
        .collect();
    let landing = ctx.authorize_params(params, false, Interact::USER).await?;
    match &landing.end {
        End::Page(_) => {
            ctx.expect_error_page(&landing, "two redirect URIs registered, none sent");
        }
        End::Callback(_) => {
            ctx.expect_error(
                request.state.as_deref(),
                &landing,
                &["invalid_request", "invalid_request_object"],
            )?;
        }
    }
    Ok(())
}

/// The registered redirect URI with `query` added.
fn with_query(redirect_uri: &str, query: &str) -> String {
    let separator = if redirect_uri.contains('?') { '&' } else { '?' };
    format!("{redirect_uri}{separator}{query}")
}

/// `oidcc-redirect-uri-query-OK`: registers and uses `B/callback?dummy1=lorem&dummy2=ipsum`; the
/// flow must succeed with the query kept.
pub async fn oidcc_redirect_uri_query_ok(ctx: &mut Ctx) -> Step {
    let redirect_uri = with_query(&ctx.cfg().redirect_uri, "dummy1=lorem&dummy2=ipsum");
    let extra = member("redirect_uris", json!([redirect_uri]));
    let client = ctx.client_with(Which::Main, extra).await?;
    let mut request = ctx.auth_request(&client);
    request.redirect_uri = redirect_uri;
    ctx.code_flow(&request, Some(UserinfoCall::Get)).await?;
    Ok(())
}

/// `oidcc-redirect-uri-query-mismatch`: registers `B/callback?foo=bar`, sends
/// `B/callback?foo=zot`: an error page, never a redirect.
pub async fn oidcc_redirect_uri_query_mismatch(ctx: &mut Ctx) -> Step {
    let base = ctx.cfg().redirect_uri.clone();
    let extra = member("redirect_uris", json!([with_query(&base, "foo=bar")]));
    let client = ctx.client_with(Which::Main, extra).await?;
    let mut request = ctx.auth_request(&client);
    request.redirect_uri = with_query(&base, "foo=zot");
    let landing = ctx.authorize(&request).await?;
    ctx.expect_error_page(
        &landing,
        "a redirect_uri whose query differs from the registered one",
    );
    Ok(())
}

/// `oidcc-redirect-uri-query-added`: registers `B/callback`, sends `B/callback?foo=bar`: an
/// error page, never a redirect.
pub async fn oidcc_redirect_uri_query_added(ctx: &mut Ctx) -> Step {
    let client = ctx.client(Which::Main).await?;
    let mut request = ctx.auth_request(&client);
    request.redirect_uri = with_query(&request.redirect_uri, "foo=bar");
    let landing = ctx.authorize(&request).await?;
    ctx.expect_error_page(&landing, "a query added to the registered redirect_uri");
    Ok(())
}

/// A refusal must come as JSON; returns its `error` (empty when it has none).
fn refusal_error(ctx: &mut Ctx, response: &Response) -> String {
    ctx.log.check(
        response.media_type().as_deref() == Some("application/json"),
        Severity::Failure,
        format!(
            "the refusal has Content-Type {:?}, not application/json",
            response.header("content-type")
        ),
    );
    let body = response.json_object().unwrap_or_default();
    body.get("error")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// A registration that must be refused: 400 with a JSON error among `errors`. A client the OP
/// registered anyway is recorded for deletion.
fn expect_registration_refused(
    ctx: &mut Ctx,
    response: &Response,
    what: &str,
    errors: &[&str],
    severity: Severity,
) {
    let body = response.json_object();
    if response.status == 201 {
        if let Some(body) = &body {
            let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_string);
            if let Some(client_id) = text("client_id") {
                ctx.registered.push(Registered {
                    client_id,
                    uri: text("registration_client_uri"),
                    token: text("registration_access_token"),
                });
            }
        }
        ctx.log
            .fail(format!("the OP registered a client with {what}"));
        return;
    }
    ctx.log.check(
        response.status == 400,
        Severity::Failure,
        format!(
            "registration with {what} answered {}, not 400",
            response.describe()
        ),
    );
    let error = refusal_error(ctx, response);
    let error = error.as_str();
    ctx.log.check(
        errors.contains(&error),
        severity,
        format!("the refusal's error is `{error}`, expected one of {errors:?}"),
    );
}

/// `oidcc-redirect-uri-regfrag`: a redirect URI with a fragment (`#foobar`) must be refused at
/// registration.
pub async fn oidcc_redirect_uri_regfrag(ctx: &mut Ctx) -> Step {
    let redirect_uri = format!("{}#foobar", ctx.cfg().redirect_uri);
    let auth = ctx.auth;
    let response = ctx
        .register_raw(auth, member("redirect_uris", json!([redirect_uri])))
        .await?;
    let errors = [
        "invalid_request",
        "invalid_client_metadata",
        "invalid_redirect_uri",
    ];
    expect_registration_refused(
        ctx,
        &response,
        "a fragment in its redirect URI",
        &errors,
        Severity::Failure,
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Registration metadata

/// What a registration module expects the login page to show.
enum Shown {
    Logo,
    Policy,
    Terms,
}

/// Registers `member` = `B/<file>`, starts an authorization in a fresh browser and reads the
/// login page (where the suite takes a screenshot): it must show the logo (`<img src>`) or link
/// to the document (`<a href>`). Then the user signs in and the flow must succeed.
async fn login_page_shows(ctx: &mut Ctx, name: &str, file: &str, shown: Shown) -> Step {
    let uri = sibling(&ctx.cfg().redirect_uri, file);
    let client = ctx
        .client_with(Which::Main, member(name, json!(uri)))
        .await?;
    let mut request = ctx.auth_request(&client);
    request.interact = Interact::NONE;
    let landing = ctx.authorize(&request).await?;
    let page = match &landing.end {
        End::Page(page) if ctx.is_login_page(page) => page.clone(),
        End::Page(page) => {
            return Err(Abort::Stop(format!(
                "expected the login page; the OP answered {}",
                page.describe()
            )));
        }
        End::Callback(_) => {
            return Err(Abort::Stop(
                "expected the login page; the OP answered the client at once".into(),
            ));
        }
    };
    let (css, attribute, what) = match shown {
        Shown::Logo => ("img", "src", "the client's logo"),
        Shown::Policy => ("a", "href", "a link to the client's policy"),
        Shown::Terms => ("a", "href", "a link to the client's terms of service"),
    };
    let values = html::attribute_values(&page.body, css, attribute);
    let present = values
        .iter()
        .any(|value| page.url.join(value).is_ok_and(|u| u.as_str() == uri));
    ctx.log.check(
        present,
        Severity::Failure,
        format!("the login page does not show {what} ({uri})"),
    );
    let request = ctx.auth_request(&client);
    ctx.code_flow(&request, Some(UserinfoCall::Get)).await?;
    Ok(())
}

/// `oidcc-registration-logo-uri`: the login page shows the registered `logo_uri`.
pub async fn oidcc_registration_logo_uri(ctx: &mut Ctx) -> Step {
    login_page_shows(ctx, "logo_uri", "logo.png", Shown::Logo).await
}

/// `oidcc-registration-policy-uri`: the login page links to the registered `policy_uri`.
pub async fn oidcc_registration_policy_uri(ctx: &mut Ctx) -> Step {
    login_page_shows(ctx, "policy_uri", "policy.html", Shown::Policy).await
}

/// `oidcc-registration-tos-uri`: the login page links to the registered `tos_uri`.
pub async fn oidcc_registration_tos_uri(ctx: &mut Ctx) -> Step {
    login_page_shows(ctx, "tos_uri", "tos.html", Shown::Terms).await
}

/// Publishes `keys` (public JWKs) as a key set at `path` on the document host.
fn publish_keys(host: &crate::documents::Host, path: &str, keys: &[&josekit::jwk::Jwk]) {
    let keys: Vec<&Map<String, Value>> = keys.iter().map(|k| k.as_ref()).collect();
    host.publish(
        path,
        "application/json",
        json!({ "keys": keys }).to_string(),
    );
}

/// `oidcc-registration-jwks-uri` (private_key_jwt): the client registers a `jwks_uri` (served
/// by the harness) instead of `jwks`; the normal flow must succeed.
pub async fn oidcc_registration_jwks_uri(ctx: &mut Ctx) -> Step {
    let shared = ctx.shared.clone();
    let host = shared.documents().await?;
    let path = format!("{}/jwks", host.new_folder());
    let (_, public) = shared.client_key().await?;
    publish_keys(host, &path, &[public]);
    let client = ctx
        .client_with(Which::Main, member("jwks_uri", json!(host.url(&path))))
        .await?;
    let request = ctx.auth_request(&client);
    ctx.code_flow(&request, Some(UserinfoCall::Get)).await?;
    ctx.log.info(format!(
        "the OP fetched the jwks_uri {} time(s)",
        host.fetches(&path)
    ));
    Ok(())
}

/// The sector modules are skipped unless the OP offers pairwise subjects.
fn skip_unless_pairwise(ctx: &Ctx) -> Step {
    if !ctx.op().lists("subject_types_supported", "pairwise") {
        return Err(Abort::Skip(
            "subject_types_supported does not list pairwise".into(),
        ));
    }
    Ok(())
}

/// Serves `uris` as a sector identifier document (`B/redirect_uris.json`); returns its URL.
async fn sector_document(ctx: &Ctx, uris: Value) -> Step<String> {
    let shared = ctx.shared.clone();
    let host = shared.documents().await?;
    let path = format!("{}/redirect_uris.json", host.new_folder());
    host.publish(&path, "application/json", uris.to_string());
    Ok(host.url(&path))
}

/// `oidcc-registration-sector-uri`: a pairwise client with a `sector_identifier_uri` whose
/// document lists its redirect URI must be registered. Beyond the suite, the client then signs
/// a user in.
pub async fn oidcc_registration_sector_uri(ctx: &mut Ctx) -> Step {
    skip_unless_pairwise(ctx)?;
    let redirect_uri = ctx.cfg().redirect_uri.clone();
    let sector = sector_document(ctx, json!([redirect_uri])).await?;
    let mut extra = member("subject_type", json!("pairwise"));
    extra.insert("sector_identifier_uri".into(), json!(sector));
    let client = ctx.client_with(Which::Main, extra).await?;
    let request = ctx.auth_request(&client);
    let flow = ctx.code_flow(&request, Some(UserinfoCall::Get)).await?;
    ctx.log
        .info(format!("the pairwise sub is {:?}", flow.tokens.sub()));
    Ok(())
}

/// `oidcc-registration-sector-bad`: a sector document that does not list the redirect URI: 400,
/// JSON, and `invalid_client_metadata` (a warning otherwise).
pub async fn oidcc_registration_sector_bad(ctx: &mut Ctx) -> Step {
    skip_unless_pairwise(ctx)?;
    let elsewhere = sibling(&ctx.cfg().redirect_uri, "other_callback");
    let sector = sector_document(ctx, json!([elsewhere])).await?;
    let mut extra = member("subject_type", json!("pairwise"));
    extra.insert("sector_identifier_uri".into(), json!(sector));
    let auth = ctx.auth;
    let response = ctx.register_raw(auth, extra).await?;
    expect_registration_refused(
        ctx,
        &response,
        "a sector document that lacks its redirect URI",
        &["invalid_client_metadata"],
        Severity::Warning,
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Key rotation

/// The kids of the signing keys in a JWKS (`use` sig or absent).
fn signing_kids(keys: &[Value]) -> BTreeSet<String> {
    keys.iter()
        .filter(|k| {
            k.get("use")
                .and_then(Value::as_str)
                .is_none_or(|u| u == "sig")
        })
        .filter_map(|k| k.get("kid").and_then(Value::as_str).map(str::to_string))
        .collect()
}

/// Reads the JWKS (without the checks) until a signing key that `before` lacks appears, or
/// `wait` has passed.
async fn poll_for_new_key(ctx: &Ctx, before: &BTreeSet<String>, wait: Duration) -> bool {
    let deadline = Instant::now() + wait;
    let jwks_uri = ctx.op().jwks_uri.clone();
    loop {
        if let Ok(response) = ctx.http.get(jwks_uri.clone()).send().await
            && let Ok(Value::Object(jwks)) = response.json::<Value>().await
        {
            let keys = jwks
                .get("keys")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if !signing_kids(&keys).is_subset(before) {
                return true;
            }
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `oidcc-server-rotate-keys`: the JWKS before and after the operator rotates the OP's keys
/// (the configured action; without one, the JWKS is read again once it changes or
/// `rotation_wait` has passed), each with the JWKS checks; the new one must have a new signing
/// key and should still have the old ones. Beyond the suite, tokens issued before the rotation
/// must still work (userinfo with the access token, the ID token as `id_token_hint`) and a new
/// ID token must be signed with a new key.
pub async fn oidcc_server_rotate_keys(ctx: &mut Ctx) -> Step {
    let client = ctx.client(Which::Main).await?;
    let before_flow = ctx
        .code_flow(&ctx.auth_request(&client), Some(UserinfoCall::Get))
        .await?;
    let before = signing_kids(&ctx.op().keys);
    let wait = ctx.cfg().rotation_wait;
    match ctx.cfg().rotate_keys.clone() {
        Some(action) => {
            action
                .run()
                .await
                .map_err(|e| Abort::Stop(format!("the key rotation failed: {e}")))?;
        }
        None => ctx
            .log
            .info("no rotation action is configured: waiting for the operator to rotate the keys"),
    }
    if !poll_for_new_key(ctx, &before, wait).await {
        ctx.log.fail(format!(
            "no new signing key appeared in the JWKS within {}s",
            wait.as_secs()
        ));
    }
    let jwks_uri = ctx.op().jwks_uri.clone();
    let keys = discovery::fetch_jwks(&mut ctx.log, &ctx.http, &jwks_uri).await?;
    let after = signing_kids(&keys);
    let new: BTreeSet<&String> = after.difference(&before).collect();
    ctx.log.check(
        !new.is_empty(),
        Severity::Failure,
        "the JWKS has no new signing key after the rotation",
    );
    let gone: Vec<&String> = before.difference(&after).collect();
    ctx.log.check(
        gone.is_empty(),
        Severity::Warning,
        format!("the rotation removed signing keys {gone:?} from the JWKS (tokens they signed no longer verify)"),
    );
    ctx.set_keys(keys);

    // Beyond the suite: what was issued before still works…
    let tokens = &before_flow.tokens;
    let userinfo = ctx
        .userinfo_raw(UserinfoCall::Get, &tokens.token_type, &tokens.access_token)
        .await?;
    ctx.log.check(
        userinfo.status == 200,
        Severity::Failure,
        format!(
            "userinfo with an access token from before the rotation answered {}",
            userinfo.describe()
        ),
    );
    let hint = tokens
        .id_token
        .as_ref()
        .map(|jwt| jwt.raw.clone())
        .unwrap_or_default();
    let mut silent = ctx
        .auth_request(&client)
        .with("prompt", "none")
        .with("id_token_hint", hint);
    silent.interact = Interact::NONE;
    let after_flow = ctx.code_flow(&silent, None).await?;
    // …and what is issued now is signed with a new key.
    let kid = after_flow
        .tokens
        .id_token
        .as_ref()
        .and_then(|jwt| jwt.kid())
        .map(str::to_string);
    ctx.log.check(
        kid.as_ref().is_some_and(|kid| new.contains(kid)),
        Severity::Failure,
        format!("the ID token issued after the rotation is signed with {kid:?}, not with a new key {new:?}"),
    );
    Ok(())
}

/// `oidcc-refresh-token-rp-key-rotation` (private_key_jwt, code types): the client registers a
/// `jwks_uri` (served by the harness) and gets a refresh token (required); then it publishes a
/// new key under a new kid in place of the old one, waits `jwks_refresh_delay`, and refreshes
/// with an assertion signed by the new key, which must succeed: the OP must fetch the key set
/// again when it meets a kid it does not know.
pub async fn oidcc_refresh_token_rp_key_rotation(ctx: &mut Ctx) -> Step {
    let shared = ctx.shared.clone();
    let host = shared.documents().await?;
    let path = format!("{}/jwks", host.new_folder());
    let fresh_key = || {
        jose::generate_client_key().map_err(|e| Abort::Stop(format!("cannot generate a key: {e}")))
    };
    let (first_private, first_public) = fresh_key()?;
    publish_keys(host, &path, &[&first_public]);
    let mut extra = member("jwks_uri", json!(host.url(&path)));
    extra.insert("grant_types".into(), refresh_grant_types(ctx));
    let mut client = ctx.client_with(Which::Main, extra).await?;
    client.key = Some(first_private);
    let (flow, refresh_token, scope) =
        flow_with_refresh_token(ctx, &client, random::alphanumeric(10))
            .await
            .map_err(|end| match end {
                Abort::Skip(why) => Abort::Stop(format!("a refresh token is required: {why}")),
                stop => stop,
            })?;
    let (second_private, second_public) = fresh_key()?;
    publish_keys(host, &path, &[&second_public]);
    client.key = Some(second_private);
    let fetched = host.fetches(&path);
    tokio::time::sleep(ctx.cfg().jwks_refresh_delay).await;
    check_refresh(ctx, &client, &flow, &refresh_token, Some(scope)).await?;
    ctx.log.info(format!(
        "the OP fetched the jwks_uri {} time(s) after the rotation",
        host.fetches(&path) - fetched
    ));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Request objects by reference

/// The request_uri modules fail when discovery says `request_uri_parameter_supported: false`.
fn check_request_uri_offered(ctx: &mut Ctx) {
    let disabled =
        ctx.op().metadata.get("request_uri_parameter_supported") == Some(&Value::Bool(false));
    ctx.log.check(
        !disabled,
        Severity::Failure,
        "request_uri_parameter_supported is false",
    );
}

/// `oidcc-request-uri-unsigned`: an unsigned request object by reference; discovery must not
/// say `request_uri_parameter_supported: false`, and the flow must succeed.
pub async fn oidcc_request_uri_unsigned(ctx: &mut Ctx) -> Step {
    check_request_uri_offered(ctx);
    skip_unless_unsigned_objects(ctx)?;
    let (request, landing) = authorize_by_reference(ctx, Map::new(), false).await?;
    finish_object_flow(ctx, &request, &landing).await
}

/// `oidcc-request-uri-signed-rs256`: discovery must list RS256 for request objects; the client
/// registers `request_object_signing_alg=RS256` and passes an object signed with its key (iss =
/// client, aud = issuer) by reference; the flow must succeed.
pub async fn oidcc_request_uri_signed_rs256(ctx: &mut Ctx) -> Step {
    check_request_uri_offered(ctx);
    require_listed(ctx, "request_object_signing_alg_values_supported", "RS256");
    let extra = member("request_object_signing_alg", json!("RS256"));
    let (request, landing) = authorize_by_reference(ctx, extra, true).await?;
    finish_object_flow(ctx, &request, &landing).await
}

// ---------------------------------------------------------------------------------------------
// Client authentication

/// `oidcc-ensure-client-assertion-with-iss-aud-succeeds` (private_key_jwt): the code is redeemed
/// with an assertion whose `aud` is the issuer. Success is expected; a refusal is only a
/// warning, but must be a proper `invalid_client` error (JSON, 400 or 401).
pub async fn oidcc_ensure_client_assertion_with_iss_aud_succeeds(ctx: &mut Ctx) -> Step {
    let mut client = ctx.client(Which::Main).await?;
    client.assertion_audience = Some(ctx.op().issuer.clone());
    let request = ctx.auth_request(&client);
    let landing = ctx.authorize(&request).await?;
    let auth = ctx.expect_code(&request, &landing)?;
    if auth.code.is_empty() {
        ctx.finish(&request, &auth).await?;
        return Ok(());
    }
    let front_id = ctx.check_front_id_token(&request, &auth)?;
    let form = vec![
        ("grant_type".to_string(), "authorization_code".to_string()),
        ("code".into(), auth.code.clone()),
        ("redirect_uri".into(), request.redirect_uri.clone()),
    ];
    let response = ctx.token_request(&client, form).await?;
    let body = response.json_object();
    let refused = response.status != 200 || body.as_ref().is_some_and(|b| b.contains_key("error"));
    if !refused {
        let tokens = ctx.check_token_response(
            response,
            &client,
            request.nonce.as_deref(),
            Some(&auth.code),
            false,
        )?;
        ctx.check_same_sub(front_id.as_ref(), &tokens);
        return Ok(());
    }
    ctx.log.warn(format!(
        "an assertion with the issuer as aud was refused: {}",
        response.describe()
    ));
    let error = refusal_error(ctx, &response);
    let error = error.as_str();
    let status_ok = response.status == 400 || (response.status == 401 && error == "invalid_client");
    ctx.log.check(
        status_ok,
        Severity::Failure,
        format!("the refusal answered HTTP {}", response.status),
    );
    ctx.log.check(
        error == "invalid_client",
        Severity::Failure,
        format!("the refusal's error is `{error}`, not invalid_client"),
    );
    if let Some(body) = &body {
        checks::check_error_fields(&mut ctx.log, body);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_added_to_redirect_uris() {
        assert_eq!(
            with_query("https://rp/cb", "foo=bar"),
            "https://rp/cb?foo=bar"
        );
        assert_eq!(
            with_query("https://rp/cb?a=1", "foo=bar"),
            "https://rp/cb?a=1&foo=bar"
        );
    }

    #[test]
    fn signing_kids_leave_out_encryption_keys() {
        let keys: Vec<Value> = serde_json::from_str(
            r#"[{"kid":"a","use":"sig"},{"kid":"b"},{"kid":"c","use":"enc"},{"use":"sig"}]"#,
        )
        .unwrap();
        let kids: Vec<String> = signing_kids(&keys).into_iter().collect();
        assert_eq!(kids, ["a", "b"]);
    }
}
