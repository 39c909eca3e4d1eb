//! `oidcc-basic-certification-test-plan`: response_type `code`, client_secret_basic (one module
//! with client_secret_post), the default response mode. One function per module, named after
//! it; each states what it sends and what it checks beyond the baseline of [`crate::flow`].

use crate::browser::{End, Interact};
use crate::checks::{self, PROTOCOL_CLAIMS};
use crate::flow::{AuthRequest, Tokens, UserinfoCall};
use crate::registration::Which;
use crate::report::{Abort, Severity, Step};
use crate::{ClientCreds, Ctx, jose, random};
use serde_json::{Map, Value, json};
use std::time::Duration;
use url::Url;

/// Errors that tell the client a user must interact (prompt=none without a session).
const INTERACTION_ERRORS: &[&str] = &[
    "login_required",
    "interaction_required",
    "account_selection_required",
    "consent_required",
];

// ---------------------------------------------------------------------------------------------
// Happy paths, ID token, userinfo

/// The baseline, plus: no profile claims (`name`) and no non-protocol claims in the ID token for
/// scope openid, a long and random code, and expires_in in the token response.
async fn server_checks(ctx: &mut Ctx, client: ClientCreds) -> Step {
    let request = ctx.auth_request(&client);
    let flow = ctx.code_flow(&request, Some(UserinfoCall::Get)).await?;
    if !flow.auth.code.is_empty() {
        checks::check_entropy(&mut ctx.log, "authorization code", &flow.auth.code, true);
    }
    if let Some(jwt) = &flow.tokens.id_token {
        ctx.log.check(
            !jwt.claims.contains_key("name"),
            Severity::Warning,
            "the id_token carries `name` although only openid was requested",
        );
        let extra: Vec<&String> = jwt
            .claims
            .keys()
            .filter(|k| {
                !PROTOCOL_CLAIMS.contains(&k.as_str()) && !matches!(k.as_str(), "sid" | "txn")
            })
            .collect();
        ctx.log.check(
            extra.is_empty(),
            Severity::Warning,
            format!("the id_token has claims beyond the protocol set for scope openid: {extra:?}"),
        );
    }
    // response_type=id_token issues no access token, so there is no expires_in to give.
    ctx.log.check(
        flow.tokens.access_token.is_empty() || flow.tokens.body.contains_key("expires_in"),
        Severity::Warning,
        "the token response has no expires_in",
    );
    Ok(())
}

/// `oidcc-server`: the baseline code flow with client_secret_basic.
pub async fn oidcc_server(ctx: &mut Ctx) -> Step {
    let client = ctx.client(Which::Main).await?;
    server_checks(ctx, client).await
}

/// `oidcc-server-client-secret-post`: the same with client_secret_post.
pub async fn oidcc_server_client_secret_post(ctx: &mut Ctx) -> Step {
    let client = ctx.client(Which::Post).await?;
    server_checks(ctx, client).await
}

/// `oidcc-idtoken-signature` (dynamic): no alg registered; the ID token must carry a `kid` and be
/// RS256.
pub async fn oidcc_idtoken_signature(ctx: &mut Ctx) -> Step {
    let client = ctx.client(Which::Main).await?;
    let request = ctx.auth_request(&client);
    let flow = ctx.code_flow(&request, Some(UserinfoCall::Get)).await?;
    check_rs256_id_token(ctx, &flow.tokens, "the default");
    Ok(())
}

/// The ID token's header must name its key (`kid`) and say RS256 (`why`: registered, or the
/// default).
pub(super) fn check_rs256_id_token(ctx: &mut Ctx, tokens: &Tokens, why: &str) {
    let Some(jwt) = tokens.id_token.as_ref() else {
        ctx.log.fail("there is no id_token to check");
        return;
    };
    ctx.log.check(
        jwt.kid().is_some(),
        Severity::Failure,
        "the id_token header has no kid",
    );
    ctx.log.check(
        jwt.alg() == Some("RS256"),
        Severity::Failure,
        format!("the id_token alg is {:?}, not RS256 ({why})", jwt.alg()),
    );
}

/// `oidcc-idtoken-unsigned` (dynamic): skipped unless discovery lists `none`; the client
/// registers `id_token_signed_response_alg=none` and the ID token must be unsigned.
pub async fn oidcc_idtoken_unsigned(ctx: &mut Ctx) -> Step {
    if !ctx
        .op()
        .lists("id_token_signing_alg_values_supported", "none")
    {
        return Err(Abort::Skip(
            "id_token_signing_alg_values_supported does not list none".into(),
        ));
    }
    let mut extra = Map::new();
    extra.insert("id_token_signed_response_alg".into(), "none".into());
    let client = ctx.client_with(Which::Main, extra).await?;
    let request = ctx.auth_request(&client);
    let landing = ctx.authorize(&request).await?;
    let auth = ctx.expect_code(&request, &landing)?;
    let form = vec![
        ("grant_type".to_string(), "authorization_code".to_string()),
        ("code".into(), auth.code.clone()),
        ("redirect_uri".into(), request.redirect_uri.clone()),
    ];
    let response = ctx.token_request(&client, form).await?;
    if response.status != 200 {
        return Err(Abort::Stop(format!(
            "the token endpoint answered {}",
            response.describe()
        )));
    }
    let body = response
        .json_object()
        .ok_or_else(|| Abort::Stop("the token response is not a JSON object".into()))?;
    let token = body
        .get("id_token")
        .and_then(Value::as_str)
        .ok_or_else(|| Abort::Stop("the token response has no id_token".into()))?;
    let jwt = jose::decode(token)
        .map_err(|e| Abort::Stop(format!("the id_token does not decode: {e}")))?;
    ctx.log.check(
        jwt.alg() == Some("none"),
        Severity::Failure,
        format!(
            "the id_token alg is {:?}, not none as registered",
            jwt.alg()
        ),
    );
    Ok(())
}

async fn userinfo_module(ctx: &mut Ctx, call: UserinfoCall) -> Step {
    let client = ctx.client(Which::Main).await?;
    let request = ctx.auth_request(&client);
    ctx.code_flow(&request, Some(call)).await?;
    Ok(())
}

/// `oidcc-userinfo-get`: userinfo by GET with the bearer token in the header.
pub async fn oidcc_userinfo_get(ctx: &mut Ctx) -> Step {
    userinfo_module(ctx, UserinfoCall::Get).await
}

/// `oidcc-userinfo-post-header`: userinfo by POST with the header and an empty form body.
pub async fn oidcc_userinfo_post_header(ctx: &mut Ctx) -> Step {
    userinfo_module(ctx, UserinfoCall::PostHeader).await
}

/// `oidcc-userinfo-post-body`: userinfo by POST with `access_token` in the body (a refusal is
/// only a warning).
pub async fn oidcc_userinfo_post_body(ctx: &mut Ctx) -> Step {
    userinfo_module(ctx, UserinfoCall::PostBody).await
}

// ---------------------------------------------------------------------------------------------
// Nonce and scopes

/// `oidcc-ensure-request-without-nonce-succeeds-for-code-flow`: no nonce; the authorization
/// response must carry a code (which is not redeemed).
pub async fn oidcc_ensure_request_without_nonce_succeeds_for_code_flow(ctx: &mut Ctx) -> Step {
    let client = ctx.client(Which::Main).await?;
    let mut request = ctx.auth_request(&client);
    request.nonce = None;
    let landing = ctx.authorize(&request).await?;
    ctx.expect_code(&request, &landing)?;
    Ok(())
}

/// `oidcc-ensure-request-without-nonce-fails` (response types with an id_token from the
/// authorization endpoint): no nonce; an `invalid_request` redirect (in the fragment, or the
/// form_post form) or an error page.
pub async fn oidcc_ensure_request_without_nonce_fails(ctx: &mut Ctx) -> Step {
    let client = ctx.client(Which::Main).await?;
    let mut request = ctx.auth_request(&client);
    request.nonce = None;
    let landing = ctx.authorize(&request).await?;
    match &landing.end {
        End::Callback(callback) => {
            if matches!(callback.mode, crate::browser::ResponseMode::Query) {
                ctx.log.fail("the error for a missing nonce came in the query; this response type answers in the fragment");
            }
            ctx.expect_error(request.state.as_deref(), &landing, &["invalid_request"])?;
        }
        End::Page(_) => {
            ctx.expect_error_page(&landing, "nonce missing");
        }
    }
    Ok(())
}

fn scope_claims(scope: &str) -> &'static [&'static str] {
    match scope {
        "profile" => &[
            "name",
            "given_name",
            "family_name",
            "middle_name",
            "nickname",
            "preferred_username",
            "profile",
            "picture",
            "website",
            "gender",
            "birthdate",
            "zoneinfo",
            "locale",
            "updated_at",
        ],
        "email" => &["email", "email_verified"],
        "address" => &["address"],
        "phone" => &["phone_number", "phone_number_verified"],
        _ => &[],
    }
}

/// A scope module: skipped unless scopes_supported lists every scope; every standard claim of
/// each scope must come back from userinfo (a warning otherwise).
async fn scope_module(ctx: &mut Ctx, scope: &str, reverse: bool) -> Step {
    let op = ctx.op();
    let supported = op
        .list("scopes_supported")
        .ok_or_else(|| Abort::Skip("discovery has no scopes_supported".into()))?;
    let scopes: Vec<&str> = scope.split(' ').collect();
    if let Some(missing) = scopes.iter().find(|s| !supported.iter().any(|x| x == *s)) {
        return Err(Abort::Skip(format!(
            "scopes_supported does not list {missing}"
        )));
    }
    let client = ctx.client(Which::Main).await?;
    let mut request = ctx.auth_request(&client);
    request.scope = Some(scope.to_string());
    request.reverse = reverse;
    let flow = ctx.code_flow(&request, Some(UserinfoCall::Get)).await?;
    // response_type=id_token: no access token, so the claims are expected in the id_token.
    let id_token_only = flow.tokens.access_token.is_empty();
    let (userinfo, source) = if id_token_only {
        let claims = flow.tokens.id_token.as_ref().map(|jwt| jwt.claims.clone());
        (claims.unwrap_or_default(), "the id_token")
    } else {
        (flow.userinfo.unwrap_or_default(), "userinfo")
    };
    for scope in &scopes {
        let missing: Vec<&&str> = scope_claims(scope)
            .iter()
            .filter(|c| !userinfo.contains_key(**c))
            .collect();
        ctx.log.check(
            missing.is_empty(),
            Severity::Warning,
            format!("{source} lacks the `{scope}` claims {missing:?}"),
        );
    }
    if !id_token_only && scopes.contains(&"email") && !scopes.contains(&"profile") {
        ctx.log.check(
            flow.tokens.claim("email").is_none(),
            Severity::Warning,
            "the id_token carries `email` although an access token was issued (it belongs in userinfo)",
        );
        ctx.log.check(
            !userinfo.contains_key("name") && flow.tokens.claim("name").is_none(),
            Severity::Warning,
            "`name` was returned although only the email scope was requested",
        );
    }
    Ok(())
}

/// `oidcc-scope-profile`.
pub async fn oidcc_scope_profile(ctx: &mut Ctx) -> Step {
    scope_module(ctx, "openid profile", false).await
}

/// `oidcc-scope-email`.
pub async fn oidcc_scope_email(ctx: &mut Ctx) -> Step {
    scope_module(ctx, "openid email", false).await
}

/// `oidcc-scope-address`.
pub async fn oidcc_scope_address(ctx: &mut Ctx) -> Step {
    scope_module(ctx, "openid address", false).await
}

/// `oidcc-scope-phone`.
pub async fn oidcc_scope_phone(ctx: &mut Ctx) -> Step {
    scope_module(ctx, "openid phone", false).await
}

/// `oidcc-scope-all`.
pub async fn oidcc_scope_all(ctx: &mut Ctx) -> Step {
    scope_module(ctx, "openid email phone address profile", false).await
}

/// `oidcc-alternate-happy-flow`: scope-email with the scope reversed and the query in reverse
/// order.
pub async fn oidcc_alternate_happy_flow(ctx: &mut Ctx) -> Step {
    scope_module(ctx, "email openid", true).await
}

// ---------------------------------------------------------------------------------------------
// Request parameters that must not break the flow

async fn with_parameter(
    ctx: &mut Ctx,
    name: &str,
    value: &str,
) -> Step<(crate::flow::Flow, AuthRequest)> {
    let client = ctx.client(Which::Main).await?;
    let request = ctx.auth_request(&client).with(name, value);
    let flow = ctx.code_flow(&request, Some(UserinfoCall::Get)).await?;
    Ok((flow, request))
}

/// `oidcc-display-page`.
pub async fn oidcc_display_page(ctx: &mut Ctx) -> Step {
    with_parameter(ctx, "display", "page").await.map(drop)
}

/// `oidcc-display-popup`.
pub async fn oidcc_display_popup(ctx: &mut Ctx) -> Step {
    with_parameter(ctx, "display", "popup").await.map(drop)
}

/// `oidcc-ensure-request-with-unknown-parameter-succeeds`: `extra=foobar` is ignored.
pub async fn oidcc_ensure_request_with_unknown_parameter_succeeds(ctx: &mut Ctx) -> Step {
    with_parameter(ctx, "extra", "foobar").await.map(drop)
}

/// `oidcc-login-hint`: `login_hint` (configured, else `buffy@<issuer host>`).
pub async fn oidcc_login_hint(ctx: &mut Ctx) -> Step {
    let hint = match &ctx.cfg().login_hint {
        Some(hint) => hint.clone(),
        None => {
            let host = Url::parse(&ctx.cfg().issuer)
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_default();
            format!("buffy@{host}")
        }
    };
    with_parameter(ctx, "login_hint", &hint).await.map(drop)
}

/// `oidcc-ui-locales`: `ui_locales` (configured, default `se`).
pub async fn oidcc_ui_locales(ctx: &mut Ctx) -> Step {
    let locales = ctx.cfg().ui_locales.clone();
    with_parameter(ctx, "ui_locales", &locales).await.map(drop)
}

/// `oidcc-claims-locales`: `claims_locales=se`.
pub async fn oidcc_claims_locales(ctx: &mut Ctx) -> Step {
    with_parameter(ctx, "claims_locales", "se").await.map(drop)
}

/// `oidcc-ensure-request-with-acr-values-succeeds`: every advertised acr value (else the
/// configured ones, else `1 2`); a missing or unrequested acr is only a warning.
pub async fn oidcc_ensure_request_with_acr_values_succeeds(ctx: &mut Ctx) -> Step {
    let advertised = ctx
        .op()
        .list("acr_values_supported")
        .filter(|l| !l.is_empty())
        .map(|l| l.join(" "));
    let acr_values = advertised
        .or_else(|| ctx.cfg().acr_values.clone())
        .unwrap_or_else(|| "1 2".into());
    let (flow, _) = with_parameter(ctx, "acr_values", &acr_values).await?;
    match flow.tokens.claim("acr").and_then(Value::as_str) {
        None => ctx
            .log
            .warn("the id_token has no acr although acr_values were requested"),
        Some(acr) => {
            ctx.log.check(
                acr_values.split(' ').any(|v| v == acr),
                Severity::Warning,
                format!("the id_token acr `{acr}` is not one of the requested `{acr_values}`"),
            );
        }
    }
    Ok(())
}

/// `oidcc-ensure-post-request-succeeds`: the browser POSTs the parameters to the authorization
/// endpoint.
pub async fn oidcc_ensure_post_request_succeeds(ctx: &mut Ctx) -> Step {
    let client = ctx.client(Which::Main).await?;
    let mut request = ctx.auth_request(&client);
    request.post = true;
    ctx.code_flow(&request, Some(UserinfoCall::Get)).await?;
    Ok(())
}

/// `oidcc-ensure-request-with-valid-pkce-succeeds`: an S256 challenge, the verifier at the token
/// endpoint.
pub async fn oidcc_ensure_request_with_valid_pkce_succeeds(ctx: &mut Ctx) -> Step {
    let client = ctx.client(Which::Main).await?;
    let request = ctx.auth_request(&client).with_pkce();
    ctx.code_flow(&request, Some(UserinfoCall::Get)).await?;
    Ok(())
}

/// `oidcc-claims-essential`: `claims={"userinfo":{"name":{"essential":true}}}`; name missing from
/// userinfo, or present in the ID token, is a warning.
pub async fn oidcc_claims_essential(ctx: &mut Ctx) -> Step {
    let (flow, _) =
        with_parameter(ctx, "claims", r#"{"userinfo":{"name":{"essential":true}}}"#).await?;
    // response_type=id_token: no access token, so userinfo's claims come in the id_token
    // (OpenID Connect Core §5.5).
    if flow.tokens.access_token.is_empty() {
        ctx.log.check(
            flow.tokens.claim("name").is_some(),
            Severity::Warning,
            "the id_token lacks `name`, requested as essential (there is no access token for userinfo)",
        );
        return Ok(());
    }
    let userinfo = flow.userinfo.unwrap_or_default();
    ctx.log.check(
        userinfo.contains_key("name"),
        Severity::Warning,
        "userinfo lacks `name`, requested as essential",
    );
    ctx.log.check(
        flow.tokens.claim("name").is_none(),
        Severity::Warning,
        "the id_token carries `name`, which was requested for userinfo only",
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Negative: where errors must go

/// `oidcc-response-type-missing`: no response_type. An error redirect (invalid_request or
/// unsupported_response_type) or an error page.
pub async fn oidcc_response_type_missing(ctx: &mut Ctx) -> Step {
    let client = ctx.client(Which::Main).await?;
    let mut request = ctx.auth_request(&client);
    request.response_type = None;
    let landing = ctx.authorize(&request).await?;
    match &landing.end {
        End::Callback(callback) => {
            let params = callback.params();
            if params.contains_key("code") || !params.contains_key("error") {
                ctx.log.fail(
                    "the OP answered a request without response_type with a successful response",
                );
            } else {
                ctx.expect_error(
                    request.state.as_deref(),
                    &landing,
                    &["invalid_request", "unsupported_response_type"],
                )?;
            }
        }
        End::Page(_) => {
            ctx.expect_error_page(&landing, "response_type missing");
        }
    }
    Ok(())
}

/// `oidcc-ensure-registered-redirect-uri`: redirect_uri = the registered one with an extra path
/// segment. An error page is required; any redirect is a failure.
pub async fn oidcc_ensure_registered_redirect_uri(ctx: &mut Ctx) -> Step {
    let client = ctx.client(Which::Main).await?;
    let mut request = ctx.auth_request(&client);
    let mut extended = Url::parse(&request.redirect_uri)
        .map_err(|e| Abort::Stop(format!("the redirect URI is not a URL: {e}")))?;
    let path = format!(
        "{}/{}",
        extended.path().trim_end_matches('/'),
        random::alphanumeric(10)
    );
    extended.set_path(&path);
    request.redirect_uri = extended.to_string();
    let landing = ctx.authorize(&request).await?;
    ctx.expect_error_page(&landing, "an unregistered (path-extended) redirect_uri");
    Ok(())
}

/// `oidcc-prompt-none-not-logged-in`: a fresh browser, prompt=none and a 128-character state:
/// must redirect with login_required (or interaction/account_selection/consent_required).
pub async fn oidcc_prompt_none_not_logged_in(ctx: &mut Ctx) -> Step {
    let client = ctx.client(Which::Main).await?;
    let mut request = ctx.auth_request(&client).with("prompt", "none");
    request.state = Some(random::long_state());
    request.interact = Interact::NONE;
    let landing = ctx.authorize(&request).await?;
    if let End::Page(page) = &landing.end {
        let what = if ctx.is_login_page(page) {
            "a login page".to_string()
        } else {
            page.describe()
        };
        ctx.log.fail(format!(
            "prompt=none without a session must redirect with an error; the OP answered {what}"
        ));
        return Ok(());
    }
    ctx.expect_error(request.state.as_deref(), &landing, INTERACTION_ERRORS)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// prompt, max_age, id_token_hint: two authorizations in one browser

fn same_sub(ctx: &mut Ctx, first: &Tokens, second: &Tokens) {
    ctx.log.check(
        first.sub() == second.sub(),
        Severity::Failure,
        format!(
            "the second id_token's sub {:?} differs from the first's {:?}",
            second.sub(),
            first.sub()
        ),
    );
}

/// `oidcc-prompt-login`: a normal authorization, then after 1 s prompt=login, which must show
/// the login form again and give a later auth_time.
pub async fn oidcc_prompt_login(ctx: &mut Ctx) -> Step {
    let client = ctx.client(Which::Main).await?;
    let first = ctx
        .code_flow(&ctx.auth_request(&client), Some(UserinfoCall::Get))
        .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let second_request = ctx.auth_request(&client).with("prompt", "login");
    let second = ctx
        .code_flow(&second_request, Some(UserinfoCall::Get))
        .await?;
    ctx.log.check(
        second.landing.login_forms > 0,
        Severity::Failure,
        "prompt=login did not show the login form again",
    );
    if let (Some(a), Some(b)) = (first.tokens.auth_time(), second.tokens.auth_time()) {
        ctx.log.check(
            b > a,
            Severity::Failure,
            format!("after prompt=login auth_time {b} is not later than the first {a}"),
        );
    }
    Ok(())
}

/// Shared by prompt-none-logged-in and id-token-hint: a normal authorization, then a silent
/// prompt=none one (with an id_token_hint when asked).
async fn silent_second_authorization(ctx: &mut Ctx, with_hint: bool) -> Step {
    let client = ctx.client(Which::Main).await?;
    let first = ctx
        .code_flow(&ctx.auth_request(&client), Some(UserinfoCall::Get))
        .await?;
    let mut second_request = ctx.auth_request(&client).with("prompt", "none");
    if with_hint {
        let raw = first
            .tokens
            .id_token
            .as_ref()
            .map(|j| j.raw.clone())
            .unwrap_or_default();
        second_request = second_request.with("id_token_hint", raw);
    }
    second_request.interact = Interact::NONE;
    let second = ctx
        .code_flow(&second_request, Some(UserinfoCall::Get))
        .await?;
    if let (Some(a), Some(b)) = (first.tokens.auth_time(), second.tokens.auth_time()) {
        ctx.log.check(
            a == b,
            Severity::Failure,
            format!("auth_time changed without a new login ({a} → {b})"),
        );
    }
    same_sub(ctx, &first.tokens, &second.tokens);
    Ok(())
}

/// `oidcc-prompt-none-logged-in`.
pub async fn oidcc_prompt_none_logged_in(ctx: &mut Ctx) -> Step {
    silent_second_authorization(ctx, false).await
}

/// `oidcc-id-token-hint`.
pub async fn oidcc_id_token_hint(ctx: &mut Ctx) -> Step {
    silent_second_authorization(ctx, true).await
}

/// `oidcc-max-age-1`: a normal authorization, then after 2 s max_age=1, which must make the
/// user log in again; the second ID token must have a later, recent auth_time.
pub async fn oidcc_max_age_1(ctx: &mut Ctx) -> Step {
    let client = ctx.client(Which::Main).await?;
    let first = ctx
        .code_flow(&ctx.auth_request(&client), Some(UserinfoCall::Get))
        .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let second_request = ctx.auth_request(&client).with("max_age", "1");
    let second = ctx
        .code_flow(&second_request, Some(UserinfoCall::Get))
        .await?;
    ctx.log.check(
        second.landing.login_forms > 0,
        Severity::Failure,
        "max_age=1 did not make the user log in again",
    );
    match second.tokens.auth_time() {
        None => ctx
            .log
            .fail("the id_token has no auth_time although max_age was sent"),
        Some(b) => {
            if let Some(a) = first.tokens.auth_time() {
                ctx.log.check(
                    b > a,
                    Severity::Failure,
                    format!("after max_age=1 auth_time {b} is not later than the first {a}"),
                );
            }
            let age = checks::now() - b;
            ctx.log.check(
                age <= checks::SKEW + 1,
                Severity::Failure,
                format!("auth_time {b} is not recent ({age}s ago)"),
            );
        }
    }
    Ok(())
}

/// `oidcc-max-age-10000`: max_age=15000, then max_age=10000 silently: auth_time present in both
/// and unchanged.
pub async fn oidcc_max_age_10000(ctx: &mut Ctx) -> Step {
    let client = ctx.client(Which::Main).await?;
    let first = ctx
        .code_flow(
            &ctx.auth_request(&client).with("max_age", "15000"),
            Some(UserinfoCall::Get),
        )
        .await?;
    ctx.log.check(
        first.tokens.auth_time().is_some(),
        Severity::Failure,
        "the first id_token has no auth_time although max_age was sent",
    );
    let second = ctx
        .code_flow(
            &ctx.auth_request(&client).with("max_age", "10000"),
            Some(UserinfoCall::Get),
        )
        .await?;
    match (first.tokens.auth_time(), second.tokens.auth_time()) {
        (_, None) => ctx
            .log
            .fail("the second id_token has no auth_time although max_age was sent"),
        (Some(a), Some(b)) => {
            ctx.log.check(
                a == b,
                Severity::Failure,
                format!("auth_time changed within max_age=10000 ({a} → {b})"),
            );
        }
        (None, Some(_)) => {}
    }
    same_sub(ctx, &first.tokens, &second.tokens);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Codes

/// The checks on a reused code's answer: 400, JSON, invalid_grant (a 200 is only a warning
/// unless `strict`).
fn check_code_reuse_answer(ctx: &mut Ctx, response: &crate::browser::Response, strict: bool) {
    if response.status == 200 {
        let severity = if strict {
            Severity::Failure
        } else {
            Severity::Warning
        };
        ctx.log
            .add(severity, "the token endpoint accepted a code a second time");
        return;
    }
    check_invalid_grant(ctx, response, "a reused code");
}

/// A token-endpoint error that must be `400`, JSON (by Content-Type) and `invalid_grant`, with
/// well-formed error fields.
fn check_invalid_grant(ctx: &mut Ctx, response: &crate::browser::Response, what: &str) {
    ctx.log.check(
        response.status == 400,
        Severity::Failure,
        format!("{what} answered {}, not 400", response.describe()),
    );
    ctx.log.check(
        response.media_type().as_deref() == Some("application/json"),
        Severity::Failure,
        format!(
            "the answer to {what} has Content-Type {:?}, not application/json",
            response.header("content-type")
        ),
    );
    match response.json_object() {
        Some(body) => {
            let error = body.get("error").and_then(Value::as_str);
            ctx.log.check(
                error == Some("invalid_grant"),
                Severity::Failure,
                format!("{what} gave the error {error:?}, not invalid_grant"),
            );
            checks::check_error_fields(&mut ctx.log, &body);
        }
        None => ctx
            .log
            .fail(format!("the answer to {what} is not a JSON object")),
    }
}

async fn redeem_again(
    ctx: &mut Ctx,
    request: &AuthRequest,
    code: &str,
) -> Step<crate::browser::Response> {
    let form = vec![
        ("grant_type".to_string(), "authorization_code".to_string()),
        ("code".into(), code.to_string()),
        ("redirect_uri".into(), request.redirect_uri.clone()),
    ];
    ctx.token_request(&request.client, form).await
}

/// `oidcc-codereuse`: the same code redeemed twice.
pub async fn oidcc_codereuse(ctx: &mut Ctx) -> Step {
    let client = ctx.client(Which::Main).await?;
    let request = ctx.auth_request(&client);
    let flow = ctx.code_flow(&request, Some(UserinfoCall::Get)).await?;
    let response = redeem_again(ctx, &request, &flow.auth.code).await?;
    check_code_reuse_answer(ctx, &response, false);
    Ok(())
}

/// `oidcc-codereuse-30seconds`: the code redeemed again after 30 s must fail, and the access
/// token issued from it should be revoked.
pub async fn oidcc_codereuse_30seconds(ctx: &mut Ctx) -> Step {
    let client = ctx.client(Which::Main).await?;
    let request = ctx.auth_request(&client);
    let flow = ctx.code_flow(&request, Some(UserinfoCall::Get)).await?;
    tokio::time::sleep(ctx.cfg().codereuse_wait).await;
    let response = redeem_again(ctx, &request, &flow.auth.code).await?;
    check_code_reuse_answer(ctx, &response, true);
    let userinfo = ctx
        .userinfo_raw(
            UserinfoCall::Get,
            &flow.tokens.token_type,
            &flow.tokens.access_token,
        )
        .await?;
    ctx.log.check(
        (400..500).contains(&userinfo.status),
        Severity::Warning,
        format!(
            "the access token from a reused code still works at userinfo ({})",
            userinfo.describe()
        ),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Request objects

/// The unsigned-object modules are skipped when the OP lists signing algorithms without `none`.
pub(super) fn skip_unless_unsigned_objects(ctx: &Ctx) -> Step {
    if let Some(algs) = ctx.op().list("request_object_signing_alg_values_supported")
        && !algs.iter().any(|a| a == "none")
    {
        return Err(Abort::Skip(
            "request_object_signing_alg_values_supported does not list none".into(),
        ));
    }
    Ok(())
}

/// Skips when the OP redirected with `error` (request_not_supported or
/// request_uri_not_supported).
fn skip_if_refused(landing: &crate::browser::Landing, error: &str) -> Step {
    if let Some(callback) = landing.callback()
        && callback.params().get("error").and_then(Value::as_str) == Some(error)
    {
        return Err(Abort::Skip(format!("the OP answered {error}")));
    }
    Ok(())
}

pub(super) async fn finish_object_flow(
    ctx: &mut Ctx,
    request: &AuthRequest,
    landing: &crate::browser::Landing,
) -> Step {
    let auth = ctx.expect_code(request, landing)?;
    let tokens = ctx.finish(request, &auth).await?;
    if !tokens.access_token.is_empty() {
        ctx.userinfo(UserinfoCall::Get, &tokens).await?;
    }
    Ok(())
}

/// `oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported`: `request` is
/// an alg-none JWT; state and nonce exist only inside it.
pub async fn oidcc_unsigned_request_object_supported_correctly_or_rejected_as_unsupported(
    ctx: &mut Ctx,
) -> Step {
    skip_unless_unsigned_objects(ctx)?;
    let client = ctx.client(Which::Main).await?;
    let request = ctx.auth_request(&client);
    let issuer = ctx.op().issuer.clone();
    let object = jose::unsigned_jwt(&request.object_claims(&issuer));
    let landing = ctx
        .authorize_params(
            request.object_query("request", &object),
            false,
            Interact::USER,
        )
        .await?;
    skip_if_refused(&landing, "request_not_supported")?;
    ctx.log.check(
        ctx.op().metadata.get("request_parameter_supported") == Some(&Value::Bool(true)),
        Severity::Warning,
        "the OP processed a request object but request_parameter_supported is not true",
    );
    finish_object_flow(ctx, &request, &landing).await
}

/// Registers the module's client with a fresh `request_uris` entry on the document host (and
/// `extra`), serves the request's object there as the suite does (`application/jose`) — signed
/// RS256 with the client's key when `signed` — and sends the authorization request by reference:
/// `request_uri` with the object's `#<sha256>` fragment.
pub(super) async fn authorize_by_reference(
    ctx: &mut Ctx,
    mut extra: Map<String, Value>,
    signed: bool,
) -> Step<(AuthRequest, crate::browser::Landing)> {
    let shared = ctx.shared.clone();
    let host = shared.documents().await?;
    let path = host.new_request_uri_path();
    let uri = host.url(&path);
    extra.insert("request_uris".into(), json!([uri]));
    let client = ctx.client_with(Which::Main, extra).await?;
    let request = ctx.auth_request(&client);
    let issuer = ctx.op().issuer.clone();
    let claims = request.object_claims(&issuer);
    let object = if signed {
        let (private, _) = shared.client_key().await?;
        jose::sign_rs256(&claims, private)
            .map_err(|e| Abort::Stop(format!("cannot sign the request object: {e}")))?
    } else {
        jose::unsigned_jwt(&claims)
    };
    let fragment = {
        use sha2::Digest;
        jose::b64(sha2::Sha256::digest(object.as_bytes()))
    };
    host.publish(&path, "application/jose", object);
    let landing = ctx
        .authorize_params(
            request.object_query("request_uri", &format!("{uri}#{fragment}")),
            false,
            Interact::USER,
        )
        .await?;
    Ok((request, landing))
}

/// `oidcc-request-uri-unsigned-supported-correctly-or-rejected-as-unsupported` (dynamic): the
/// same object served by the harness at a registered `request_uri` with a `#<sha256>` fragment.
pub async fn oidcc_request_uri_unsigned_supported_correctly_or_rejected_as_unsupported(
    ctx: &mut Ctx,
) -> Step {
    skip_unless_unsigned_objects(ctx)?;
    let (request, landing) = authorize_by_reference(ctx, Map::new(), false).await?;
    skip_if_refused(&landing, "request_uri_not_supported")?;
    finish_object_flow(ctx, &request, &landing).await
}

/// `oidcc-ensure-request-object-with-redirect-uri`: the object carries the valid redirect_uri,
/// the query `…/callback_invalid`. The OP must use the object's value, or show an error page.
pub async fn oidcc_ensure_request_object_with_redirect_uri(ctx: &mut Ctx) -> Step {
    skip_unless_unsigned_objects(ctx)?;
    let client = ctx.client(Which::Main).await?;
    let request = ctx.auth_request(&client);
    let issuer = ctx.op().issuer.clone();
    let object = jose::unsigned_jwt(&request.object_claims(&issuer));
    let mut invalid = Url::parse(&request.redirect_uri)
        .map_err(|e| Abort::Stop(format!("the redirect URI is not a URL: {e}")))?;
    let path = format!("{}_invalid", invalid.path());
    invalid.set_path(&path);
    let mut params = request.object_query("request", &object);
    for (name, value) in params.iter_mut() {
        if name == "redirect_uri" {
            *value = invalid.to_string();
        }
    }
    let landing = ctx.authorize_params(params, false, Interact::USER).await?;
    match &landing.end {
        End::Page(_) => {
            ctx.expect_error_page(
                &landing,
                "a request object whose redirect_uri differs from the query's",
            );
            Ok(())
        }
        End::Callback(callback) => {
            if crate::browser::base_of(&callback.url) == crate::browser::base_of(&invalid) {
                ctx.log.fail("the OP redirected to the query's (unregistered) redirect_uri instead of the request object's");
                return Ok(());
            }
            if callback.params().get("error").and_then(Value::as_str)
                == Some("request_not_supported")
            {
                ctx.log
                    .fail("the OP answered request_not_supported to the valid redirect URI");
                return Ok(());
            }
            finish_object_flow(ctx, &request, &landing).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Refresh tokens

/// One client's half of refresh-token: authorize (with offline_access and prompt=consent when
/// offered), redeem, refresh after 1 s and check the result; returns the newest refresh token.
async fn refresh_round(
    ctx: &mut Ctx,
    client: &ClientCreds,
    nonce: String,
    send_scope: bool,
) -> Step<String> {
    let (flow, refresh_token, scope) = flow_with_refresh_token(ctx, client, nonce).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    check_refresh(ctx, client, &flow, &refresh_token, send_scope.then_some(scope)).await
}

/// The grants a client registers for refresh tokens: those its response type needs (as the
/// suite's registration has them), plus refresh_token.
pub(super) fn refresh_grant_types(ctx: &Ctx) -> Value {
    if ctx.cfg().response_type.split(' ').any(|w| w == "token" || w == "id_token") {
        json!(["authorization_code", "implicit", "refresh_token"])
    } else {
        json!(["authorization_code", "refresh_token"])
    }
}

/// A code flow for a refresh token (scope offline_access and prompt=consent when offered):
/// returns the flow, its refresh token and the scope requested; skips when the OP issued no
/// refresh token.
pub(super) async fn flow_with_refresh_token(
    ctx: &mut Ctx,
    client: &ClientCreds,
    nonce: String,
) -> Step<(crate::flow::Flow, String, &'static str)> {
    let op = ctx.op();
    let offline = op.lists("scopes_supported", "offline_access");
    let scope = if offline {
        "openid offline_access"
    } else {
        "openid"
    };
    let mut request = ctx.auth_request(client);
    request.scope = Some(scope.into());
    request.nonce = Some(nonce);
    if offline {
        request = request.with("prompt", "consent");
    }
    let flow = ctx.code_flow(&request, Some(UserinfoCall::Get)).await?;
    let Some(refresh_token) = flow.tokens.refresh_token.clone() else {
        if op.lists("grant_types_supported", "refresh_token") {
            ctx.log.warn(
                "no refresh token was issued although grant_types_supported lists refresh_token",
            );
        }
        return Err(Abort::Skip("the OP issued no refresh token".into()));
    };
    ctx.log.check(
        checks::legal_token_chars(&refresh_token),
        Severity::Failure,
        "the refresh token has characters outside 0x20–0x7E",
    );
    Ok((flow, refresh_token, scope))
}

/// Refreshes `first`'s tokens with `refresh_token` (sending `scope` when given) and runs the
/// suite's checks on the answer, the new ID token against the first one's, and userinfo with the
/// new access token; returns the newest refresh token.
pub(super) async fn check_refresh(
    ctx: &mut Ctx,
    client: &ClientCreds,
    first: &crate::flow::Flow,
    refresh_token: &str,
    scope: Option<&str>,
) -> Step<String> {
    let flow = first;
    let response = ctx.refresh(client, refresh_token, scope).await?;
    if !ctx.log.check(
        response.status == 200,
        Severity::Failure,
        format!("the refresh answered {}", response.describe()),
    ) {
        return Err(Abort::Stop("the refresh failed".into()));
    }
    let cache_control = response
        .header("cache-control")
        .unwrap_or("")
        .to_ascii_lowercase();
    ctx.log.check(
        cache_control.contains("no-store"),
        Severity::Failure,
        format!("the refresh response's Cache-Control is `{cache_control}`, not no-store"),
    );
    let refreshed = ctx.check_token_response(response, client, None, None, true)?;
    ctx.log.check(
        refreshed.token_type.eq_ignore_ascii_case("bearer"),
        Severity::Failure,
        format!(
            "the refreshed token_type is `{}`, not Bearer",
            refreshed.token_type
        ),
    );
    checks::check_entropy(
        &mut ctx.log,
        "refreshed access token",
        &refreshed.access_token,
        false,
    );
    ctx.log.check(
        checks::legal_token_chars(&refreshed.access_token),
        Severity::Failure,
        "the refreshed access token has illegal characters",
    );
    ctx.log.check(
        refreshed.body.contains_key("expires_in"),
        Severity::Warning,
        "the refresh response has no expires_in",
    );
    if let Some(new_refresh) = &refreshed.refresh_token {
        checks::check_entropy(&mut ctx.log, "new refresh token", new_refresh, true);
    }
    if let (Some(new), Some(old)) = (&refreshed.id_token, &flow.tokens.id_token) {
        for claim in ["iss", "sub"] {
            ctx.log.check(
                new.claims.get(claim) == old.claims.get(claim),
                Severity::Failure,
                format!("the refreshed id_token's {claim} changed"),
            );
        }
        ctx.log.check(
            new.claims.get("iat") != old.claims.get("iat"),
            Severity::Failure,
            "the refreshed id_token has the same iat as the first",
        );
        let audiences = |claims: &Map<String, Value>| -> Vec<String> {
            let mut list: Vec<String> = match claims.get("aud") {
                Some(Value::String(s)) => vec![s.clone()],
                Some(Value::Array(a)) => a
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect(),
                _ => Vec::new(),
            };
            list.sort();
            list
        };
        ctx.log.check(
            audiences(&new.claims) == audiences(&old.claims),
            Severity::Failure,
            "the refreshed id_token has a different aud",
        );
        if old.claims.contains_key("auth_time") || new.claims.contains_key("auth_time") {
            ctx.log.check(
                new.claims.get("auth_time") == old.claims.get("auth_time"),
                Severity::Failure,
                "the refreshed id_token's auth_time changed",
            );
        }
        if old.claims.contains_key("azp") || new.claims.contains_key("azp") {
            ctx.log.check(
                new.claims.get("azp") == old.claims.get("azp"),
                Severity::Failure,
                "the refreshed id_token's azp is inconsistent",
            );
        }
        if let Some(nonce) = new.claims.get("nonce") {
            ctx.log.check(
                Some(nonce) == old.claims.get("nonce"),
                Severity::Failure,
                "the refreshed id_token has a different nonce",
            );
        }
    }
    let userinfo = ctx
        .userinfo_raw(
            UserinfoCall::Get,
            &refreshed.token_type,
            &refreshed.access_token,
        )
        .await?;
    ctx.log.check(
        userinfo.status == 200,
        Severity::Failure,
        format!(
            "userinfo with the refreshed access token answered {}",
            userinfo.describe()
        ),
    );
    Ok(refreshed.refresh_token.unwrap_or_else(|| refresh_token.to_string()))
}

/// `oidcc-refresh-token`: two clients each get and use a refresh token (client 1 with the same
/// scope, client 2 with none and a 43-character nonce); then client 2's refresh token presented
/// by client 1 must be refused with invalid_grant.
pub async fn oidcc_refresh_token(ctx: &mut Ctx) -> Step {
    let mut extra = Map::new();
    extra.insert("grant_types".into(), refresh_grant_types(ctx));
    let op = ctx.op();
    ctx.log.check(
        op.lists("grant_types_supported", "refresh_token"),
        Severity::Warning,
        "grant_types_supported does not list refresh_token",
    );
    let first = ctx.client_with(Which::Main, extra.clone()).await?;
    refresh_round(ctx, &first, random::alphanumeric(10), true).await?;
    let second = ctx.client_with(Which::Second, extra).await?;
    if second.id == first.id {
        return Err(Abort::Stop(
            "the second client must differ from the first".into(),
        ));
    }
    let second_token = refresh_round(ctx, &second, random::alphanumeric(43), false).await?;
    let response = ctx.refresh(&first, &second_token, None).await?;
    let body = response.json_object();
    if response.status == 200 && !body.as_ref().is_some_and(|b| b.contains_key("error")) {
        return Err(Abort::Stop(
            "client 1 refreshed with client 2's refresh token".into(),
        ));
    }
    check_invalid_grant(ctx, &response, "another client's refresh token");
    Ok(())
}
