//! `oidcc-backchannel-rp-initiated-logout-certification-test-plan`: the discovery module and
//! `oidcc-backchannel-rp-initiated-logout`.
//!
//! The client registers a `backchannel_logout_uri` on the harness's listener
//! ([`crate::backchannel`]) with `backchannel_logout_session_required`. After the RP-initiated
//! logout (the post-logout redirect with the state) the OP must POST a form with only
//! `logout_token` there, within `Config::backchannel_wait`; the token gets the suite's checks;
//! then `prompt=none` must fail. The listener is plain HTTP on loopback, so the suite's warning
//! about the TLS version of the OP's request does not apply.

use super::logout;
use crate::backchannel::Received;
use crate::checks::now;
use crate::jose;
use crate::report::{Log, Severity, Step};
use crate::{Ctx, discovery::ServerInfo};
use serde_json::{Map, Value, json};

/// The `events` member every logout token carries.
pub const BACKCHANNEL_LOGOUT_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// `oidcc-backchannel-logout-discovery-endpoint-verification`.
pub async fn oidcc_backchannel_logout_discovery_endpoint_verification(ctx: &mut Ctx) -> Step {
    logout::check_logout_discovery(ctx, &["backchannel_logout_supported", "backchannel_logout_session_supported"]);
    Ok(())
}

/// `oidcc-backchannel-rp-initiated-logout`.
pub async fn oidcc_backchannel_rp_initiated_logout(ctx: &mut Ctx) -> Step {
    let shared = ctx.shared.clone();
    let listener = shared.backchannel().await?;
    let uri = if ctx.cfg().dynamic { listener.new_uri() } else { listener.static_uri() };
    let mut extra = Map::new();
    extra.insert("backchannel_logout_uri".into(), json!(uri));
    extra.insert("backchannel_logout_session_required".into(), json!(true));
    let (client, flow) = logout::signed_in_with(ctx, extra).await?;
    let id_token = flow.tokens.id_token.clone().map(|jwt| jwt.claims).unwrap_or_default();

    let since = listener.count(&uri);
    let (outcome, state) = logout::logout_with_hint(ctx, logout::id_token_of(&flow)?).await?;
    logout::check_post_logout_redirect(ctx, &outcome, Some(&state));

    let wait = ctx.cfg().backchannel_wait;
    match listener.wait(&uri, since, wait).await {
        None => ctx.log.fail(format!("the OP did not send a logout token to {uri} within {}s of the logout", wait.as_secs())),
        Some(received) => {
            ctx.log.info(format!("the OP sent {} {} with a {}-byte body", received.method, received.target, received.body.len()));
            if let Some(token) = check_request(&mut ctx.log, &received) {
                let op = ctx.op();
                check_logout_token(&mut ctx.log, &token, &op, &client.id, &id_token);
            }
        }
    }
    logout::expect_logged_out(ctx, &client).await
}

/// The OP's request: a POST [F] of a form [F] with exactly one `logout_token` [F] and nothing
/// else [W]. Returns the token.
fn check_request(log: &mut Log, received: &Received) -> Option<String> {
    log.check(received.method == "POST", Severity::Failure, format!("the OP sent the logout token with {}, not POST", received.method));
    let media = received.header("content-type").unwrap_or("").split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    log.check(
        media == "application/x-www-form-urlencoded",
        Severity::Failure,
        format!("the logout request's Content-Type is {media:?}, not application/x-www-form-urlencoded"),
    );
    let form = received.form();
    let tokens: Vec<&str> = form.iter().filter(|(k, _)| k == "logout_token").map(|(_, v)| v.as_str()).collect();
    let others: Vec<&str> = form.iter().map(|(k, _)| k.as_str()).filter(|k| *k != "logout_token").collect();
    log.check(others.is_empty(), Severity::Warning, format!("the logout request carries other parameters: {others:?}"));
    match tokens.as_slice() {
        [token] => Some(token.to_string()),
        [] => {
            log.fail("the logout request has no logout_token");
            None
        }
        many => {
            log.fail(format!("the logout request has {} logout_token parameters", many.len()));
            None
        }
    }
}

/// The suite's checks on a logout token, for `client_id` whose ID token had `id_token` claims.
pub fn check_logout_token(log: &mut Log, token: &str, op: &ServerInfo, client_id: &str, id_token: &Map<String, Value>) {
    let jwt = match jose::decode(token) {
        Ok(jwt) => jwt,
        Err(e) => {
            log.fail(format!("the logout_token does not decode: {e}"));
            return;
        }
    };
    if let Err(reason) = jose::verify(&jwt, &op.keys) {
        log.fail(format!("logout_token signature: {reason}"));
    }
    if jwt.header.get("typ").and_then(Value::as_str) != Some("logout+jwt") {
        log.info(format!("the logout_token's typ is {:?} (logout+jwt is recommended)", jwt.header.get("typ")));
    }
    let claims = &jwt.claims;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    log.check(
        text("iss") == Some(op.issuer.as_str()),
        Severity::Failure,
        format!("the logout_token's iss is {:?}, not the issuer", claims.get("iss")),
    );
    let audience = match claims.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    };
    log.check(audience, Severity::Failure, format!("the logout_token's aud {:?} does not name the client", claims.get("aud")));
    match claims.get("iat").and_then(Value::as_i64) {
        Some(iat) => {
            let now = now();
            log.check(iat <= now + 5 * 60, Severity::Failure, format!("the logout_token's iat {iat} is in the future (now {now})"));
            log.check(iat >= now - 24 * 3600, Severity::Failure, format!("the logout_token's iat {iat} is more than a day ago"));
        }
        None => log.fail("the logout_token has no numeric iat"),
    }
    log.check(text("jti").is_some_and(|j| !j.is_empty()), Severity::Failure, "the logout_token has no jti");
    let events_ok = claims
        .get("events")
        .and_then(Value::as_object)
        .is_some_and(|events| events.len() == 1 && events.get(BACKCHANNEL_LOGOUT_EVENT) == Some(&json!({})));
    log.check(
        events_ok,
        Severity::Failure,
        format!("the logout_token's events must be exactly {{\"{BACKCHANNEL_LOGOUT_EVENT}\": {{}}}}, it is {:?}", claims.get("events")),
    );
    log.check(claims.get("nonce").is_none(), Severity::Failure, "the logout_token carries a nonce");
    let (sub, sid) = (text("sub"), text("sid"));
    log.check(sub.is_some() || sid.is_some(), Severity::Failure, "the logout_token has neither sub nor sid");
    if let Some(sub) = sub {
        let expected = id_token.get("sub").and_then(Value::as_str);
        log.check(expected == Some(sub), Severity::Failure, format!("the logout_token's sub {sub:?} is not the id_token's {expected:?}"));
    }
    // Beyond the suite: the client registered backchannel_logout_session_required.
    log.check(sid.is_some(), Severity::Failure, "the logout_token has no sid although the client requires one");
    if let Some(sid) = sid {
        let expected = id_token.get("sid").and_then(Value::as_str);
        log.check(expected == Some(sid), Severity::Failure, format!("the logout_token's sid {sid:?} is not the id_token's {expected:?}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Severity;

    fn op_with(public: &josekit::jwk::Jwk) -> ServerInfo {
        let url = url::Url::parse("https://op.example/x").unwrap();
        ServerInfo {
            discovery_url: url.clone(),
            metadata: Map::new(),
            issuer: "https://op.example".into(),
            authorization_endpoint: url.clone(),
            token_endpoint: url.clone(),
            userinfo_endpoint: url.clone(),
            registration_endpoint: None,
            jwks_uri: url,
            keys: vec![Value::Object(public.as_ref().clone())],
        }
    }

    fn failures(log: &Log) -> Vec<&str> {
        log.findings.iter().filter(|f| f.severity == Severity::Failure).map(|f| f.message.as_str()).collect()
    }

    #[test]
    fn a_good_logout_token_passes_and_each_fault_is_found() {
        let (private, public) = jose::generate_client_key().unwrap();
        let op = op_with(&public);
        let id_token: Map<String, Value> = serde_json::from_value(json!({ "sub": "u1", "sid": "s1" })).unwrap();
        let good = json!({
            "iss": "https://op.example", "aud": ["rp"], "iat": now(), "jti": "j1", "sub": "u1", "sid": "s1",
            "events": { BACKCHANNEL_LOGOUT_EVENT: {} },
        });
        let check = |claims: &Value| {
            let token = jose::sign_rs256(claims.as_object().unwrap(), &private).unwrap();
            let mut log = Log::default();
            check_logout_token(&mut log, &token, &op, "rp", &id_token);
            failures(&log).into_iter().map(str::to_string).collect::<Vec<_>>()
        };
        assert!(check(&good).is_empty(), "{:?}", check(&good));
        let faults = [
            ("iss", json!("https://other.example")),
            ("aud", json!("someone-else")),
            ("iat", json!(now() - 2 * 24 * 3600)),
            ("jti", json!("")),
            ("events", json!({ BACKCHANNEL_LOGOUT_EVENT: {}, "x": {} })),
            ("events", json!({ BACKCHANNEL_LOGOUT_EVENT: { "a": 1 } })),
            ("nonce", json!("n")),
            ("sub", json!("u2")),
            ("sid", json!("s2")),
        ];
        for (name, value) in faults {
            let mut claims = good.clone();
            claims[name] = value.clone();
            assert_eq!(check(&claims).len(), 1, "{name} = {value}: {:?}", check(&claims));
        }
        let mut unsigned = Log::default();
        check_logout_token(&mut unsigned, &jose::unsigned_jwt(good.as_object().unwrap()), &op, "rp", &id_token);
        assert_eq!(failures(&unsigned).len(), 1, "{:?}", unsigned.findings);
    }
}
