//! The suite's reusable conditions: the standard ID-token checks, the types of identity claims
//! (shared by ID tokens and userinfo), `at_hash`/`c_hash`, the generic error-response checks of
//! the negative modules, and the syntax checks on tokens and codes.

use crate::jose::{self, Jwt};
use crate::report::{Abort, Log, Severity, Step};
use serde_json::{Map, Value};
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The clock skew the suite tolerates, in seconds.
pub const SKEW: i64 = 5 * 60;

/// Claims that belong to the protocol, not to the user.
pub const PROTOCOL_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "acr",
    "amr",
    "azp",
    "c_hash",
    "at_hash",
    "s_hash",
    "jti",
    "nbf",
    "verified_claims",
];

/// What an ID token must satisfy beyond its own content.
pub struct IdTokenRules<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// The nonce sent; `None` means none was sent, so the token must carry none.
    pub nonce: Option<&'a str>,
    /// Skip the nonce check (refreshed ID tokens).
    pub ignore_nonce: bool,
    /// acr values requested through the `claims` parameter, when any.
    pub requested_acrs: Option<Vec<String>>,
    /// The JWKS `keys`.
    pub keys: &'a [Value],
}

fn number(claims: &Map<String, Value>, name: &str) -> Option<i64> {
    claims
        .get(name)
        .and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)))
}

/// Every standard ID-token check (all failures), signature included. A token that does not even
/// decode stops the module.
pub fn check_id_token(log: &mut Log, token: &str, rules: &IdTokenRules<'_>) -> Step<Jwt> {
    let jwt = jose::decode(token)
        .map_err(|e| Abort::Stop(format!("the id_token does not decode: {e}")))?;
    let claims = &jwt.claims;
    let now = now();

    match claims.get("iss").and_then(Value::as_str) {
        Some(iss) => {
            log.check(
                iss == rules.issuer,
                Severity::Failure,
                format!("id_token iss `{iss}` is not the issuer `{}`", rules.issuer),
            );
        }
        None => log.fail("the id_token has no iss"),
    }
    match claims.get("aud") {
        Some(Value::String(aud)) => {
            log.check(
                aud == rules.client_id,
                Severity::Failure,
                format!("id_token aud `{aud}` is not the client id"),
            );
        }
        Some(Value::Array(auds)) => {
            log.check(
                auds.iter().any(|a| a.as_str() == Some(rules.client_id)),
                Severity::Failure,
                "the id_token aud array does not contain the client id",
            );
        }
        _ => log.fail("the id_token has no aud (a string or an array)"),
    }
    match number(claims, "exp") {
        Some(exp) => {
            log.check(
                exp + SKEW > now,
                Severity::Failure,
                format!("the id_token has expired (exp {exp}, now {now})"),
            );
            log.check(
                exp < now + 50 * 365 * 86400,
                Severity::Failure,
                "the id_token exp is more than 50 years ahead",
            );
        }
        None => log.fail("the id_token has no numeric exp"),
    }
    match number(claims, "iat") {
        Some(iat) => {
            log.check(
                (iat - now).abs() <= SKEW,
                Severity::Failure,
                format!("the id_token iat {iat} is not within 5 minutes of now ({now})"),
            );
        }
        None => log.fail("the id_token has no numeric iat"),
    }
    if let Some(value) = claims.get("auth_time") {
        match number(claims, "auth_time") {
            Some(auth_time) => {
                log.check(
                    auth_time <= now + SKEW,
                    Severity::Failure,
                    "the id_token auth_time is in the future",
                );
                log.check(
                    auth_time >= now - 366 * 86400,
                    Severity::Failure,
                    "the id_token auth_time is more than a year ago",
                );
            }
            None => log.fail(format!("the id_token auth_time is not a number: {value}")),
        }
    }
    if let Some(acr) = claims.get("acr") {
        match acr.as_str() {
            Some(text) if !text.trim().is_empty() => {
                if let Some(requested) = &rules.requested_acrs {
                    log.check(
                        requested.iter().any(|r| r == text),
                        Severity::Failure,
                        format!("the id_token acr `{text}` is not one of the requested values {requested:?}"),
                    );
                }
            }
            _ => log.fail("the id_token acr is not a non-empty string"),
        }
    }
    if !rules.ignore_nonce {
        match (rules.nonce, claims.get("nonce")) {
            (Some(sent), Some(Value::String(got))) => {
                log.check(
                    got == sent,
                    Severity::Failure,
                    format!("the id_token nonce `{got}` is not the one sent (`{sent}`)"),
                );
            }
            (Some(_), other) => log.fail(format!(
                "the id_token nonce is missing or not a string ({other:?})"
            )),
            (None, Some(_)) => log.fail("the id_token carries a nonce although none was sent"),
            (None, None) => {}
        }
    }
    check_sub(log, claims.get("sub"), "id_token");
    check_identity_claims(log, claims, "id_token");
    if let Err(reason) = jose::verify(&jwt, rules.keys) {
        log.fail(format!("id_token signature: {reason}"));
    }
    Ok(jwt)
}

/// `sub`: present, a string of at most 255 printable ASCII characters.
pub fn check_sub(log: &mut Log, sub: Option<&Value>, source: &str) {
    match sub {
        Some(Value::String(sub)) => {
            log.check(
                !sub.is_empty(),
                Severity::Failure,
                format!("the {source} sub is empty"),
            );
            log.check(
                sub.len() <= 255,
                Severity::Failure,
                format!("the {source} sub is longer than 255 characters"),
            );
            log.check(
                sub.bytes().all(|b| (0x20..=0x7e).contains(&b)),
                Severity::Failure,
                format!("the {source} sub has characters outside printable ASCII"),
            );
        }
        Some(other) => log.fail(format!("the {source} sub is not a string: {other}")),
        None => log.fail(format!("the {source} has no sub")),
    }
}

const STRING_CLAIMS: &[&str] = &[
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "gender",
    "zoneinfo",
    "locale",
    "phone_number",
];

const ADDRESS_MEMBERS: &[&str] = &[
    "formatted",
    "street_address",
    "locality",
    "region",
    "postal_code",
    "country",
];

/// The identity claims' types: strings non-blank and not "null", `*_verified` booleans,
/// `updated_at` a plausible number, `birthdate` a date, `address` an object of strings.
/// Unknown claims are ignored.
pub fn check_identity_claims(log: &mut Log, claims: &Map<String, Value>, source: &str) {
    for name in STRING_CLAIMS {
        if let Some(value) = claims.get(*name) {
            match value {
                Value::String(s) if !s.trim().is_empty() && s != "null" => {}
                other => log.fail(format!(
                    "the {source} claim {name} is not a non-blank string: {other}"
                )),
            }
        }
    }
    for name in ["email_verified", "phone_number_verified"] {
        if let Some(value) = claims.get(name) {
            log.check(
                value.is_boolean(),
                Severity::Failure,
                format!("the {source} claim {name} is not a boolean: {value}"),
            );
        }
    }
    if let Some(value) = claims.get("updated_at") {
        match value.as_f64() {
            Some(t) => {
                log.check(
                    t as i64 <= now() + SKEW,
                    Severity::Failure,
                    format!("the {source} updated_at {t} is in the future"),
                );
                log.check(
                    t >= 631_152_000.0,
                    Severity::Failure,
                    format!("the {source} updated_at {t} is before 1990"),
                );
            }
            None => log.fail(format!(
                "the {source} claim updated_at is not a number: {value}"
            )),
        }
    }
    if let Some(value) = claims.get("birthdate") {
        match value.as_str() {
            Some(date) if valid_birthdate(date) => {}
            _ => log.fail(format!(
                "the {source} birthdate is not YYYY-MM-DD, 0000-MM-DD or YYYY: {value}"
            )),
        }
    }
    if let Some(value) = claims.get("address") {
        match value.as_object() {
            Some(address) => {
                for (member, v) in address {
                    if ADDRESS_MEMBERS.contains(&member.as_str()) {
                        match v {
                            Value::String(s) if !s.trim().is_empty() => {}
                            other => log.fail(format!(
                                "the {source} address.{member} is not a non-blank string: {other}"
                            )),
                        }
                    }
                }
            }
            None => log.fail(format!("the {source} address is not an object: {value}")),
        }
    }
}

fn current_year() -> i64 {
    // Days since the epoch to a civil year (Howard Hinnant's algorithm, year part only).
    let days = now().div_euclid(86400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + if month <= 2 { 1 } else { 0 }
}

/// YYYY-MM-DD, 0000-MM-DD (year withheld) or YYYY, years from 1850 to now.
pub fn valid_birthdate(date: &str) -> bool {
    let year_ok = |y: &str| {
        y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()) && {
            let y: i64 = y.parse().unwrap_or(0);
            (1850..=current_year()).contains(&y)
        }
    };
    let parts: Vec<&str> = date.split('-').collect();
    match parts.as_slice() {
        [year] => year_ok(year),
        [year, month, day] => {
            let two = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
            if !(two(month) && two(day)) {
                return false;
            }
            let (m, d): (u32, u32) = (month.parse().unwrap_or(0), day.parse().unwrap_or(0));
            (*year == "0000" || year_ok(year)) && (1..=12).contains(&m) && (1..=31).contains(&d)
        }
        _ => false,
    }
}

/// `at_hash`/`c_hash`/`s_hash`: required ones must be there; any that is there must match.
pub fn check_half_hash(log: &mut Log, jwt: &Jwt, claim: &str, value: Option<&str>, required: bool) {
    let present = jwt.claims.get(claim);
    match (present, value) {
        (None, _) => {
            if required {
                log.fail(format!(
                    "the id_token has no {claim}, which this response type requires"
                ));
            }
        }
        (Some(got), Some(value)) => {
            let alg = jwt.alg().unwrap_or("");
            match jose::half_hash(alg, value) {
                Some(expected) => {
                    log.check(
                        got.as_str() == Some(expected.as_str()),
                        Severity::Failure,
                        format!("the id_token {claim} does not match (alg {alg})"),
                    );
                }
                None => log.fail(format!(
                    "cannot check {claim}: no hash is defined for alg `{alg}`"
                )),
            }
        }
        (Some(_), None) => {}
    }
}

/// RFC 6749's characters for `error` and `error_description`: %x20-21 / %x23-5B / %x5D-7E.
fn legal_error_text(text: &str) -> bool {
    text.bytes()
        .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5b | 0x5d..=0x7e))
}

/// The syntax of `error`, `error_description` and `error_uri` in an error response
/// (authorization redirect or token-endpoint JSON).
pub fn check_error_fields(log: &mut Log, params: &Map<String, Value>) {
    if let Some(error) = params.get("error") {
        match error.as_str() {
            Some(e) if !e.is_empty() && legal_error_text(e) => {}
            _ => log.fail(format!(
                "`error` has illegal characters or is not a string: {error}"
            )),
        }
    }
    if let Some(description) = params.get("error_description") {
        match description.as_str() {
            Some(d) => {
                let has_control_whitespace = d.contains(['\r', '\n', '\t']);
                log.check(
                    !has_control_whitespace,
                    Severity::Warning,
                    "error_description contains CR, LF or TAB",
                );
                let rest: String = d
                    .chars()
                    .filter(|c| !matches!(c, '\r' | '\n' | '\t'))
                    .collect();
                log.check(
                    legal_error_text(&rest),
                    Severity::Failure,
                    format!("error_description has illegal characters: {d:?}"),
                );
            }
            None => log.fail("error_description is not a string"),
        }
    }
    if let Some(uri) = params.get("error_uri") {
        let ok = uri.as_str().is_some_and(|u| url::Url::parse(u).is_ok());
        log.check(
            ok,
            Severity::Failure,
            format!("error_uri is not a valid URI: {uri}"),
        );
    }
}

/// The generic checks of an authorization error response.
pub fn check_authorization_error(
    log: &mut Log,
    params: &Map<String, Value>,
    sent_state: Option<&str>,
    issuer: &str,
) {
    let state = params.get("state").and_then(Value::as_str);
    match sent_state {
        Some(sent) => {
            log.check(
                state == Some(sent),
                Severity::Failure,
                format!("the error response's state {state:?} is not the one sent"),
            );
        }
        None => {
            log.check(
                state.is_none(),
                Severity::Failure,
                "the error response carries a state although none was sent",
            );
        }
    }
    if let Some(iss) = params.get("iss") {
        log.check(
            iss.as_str() == Some(issuer),
            Severity::Failure,
            format!("the error response's iss {iss} is not the issuer"),
        );
    }
    log.check(
        params.contains_key("error"),
        Severity::Failure,
        "the error response has no `error`",
    );
    log.check(
        !params.contains_key("code"),
        Severity::Failure,
        "the error response carries a `code`",
    );
    let allowed = [
        "error",
        "error_description",
        "error_uri",
        "state",
        "session_state",
        "iss",
    ];
    let extra: Vec<&String> = params
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .collect();
    log.check(
        extra.is_empty(),
        Severity::Warning,
        format!("the error response has unexpected parameters {extra:?}"),
    );
    check_error_fields(log, params);
}

/// Characters a token may use (RFC 6749 appendix A: VSCHAR, %x20-7E).
pub fn legal_token_chars(token: &str) -> bool {
    token.bytes().all(|b| (0x20..=0x7e).contains(&b))
}

/// A code, access token or refresh token long and random enough: at least 16 characters and
/// more than 96 bits of estimated entropy.
pub fn check_entropy(log: &mut Log, what: &str, value: &str, check_length: bool) {
    if check_length {
        log.check(
            value.len() >= 16,
            Severity::Failure,
            format!("the {what} is shorter than 16 bytes"),
        );
    }
    let bits = jose::entropy_bits(value);
    log.check(
        bits > 96.0,
        Severity::Failure,
        format!("the {what} has only about {bits:.0} bits of entropy (more than 96 needed)"),
    );
}

/// The userinfo checks shared by every module that calls it on a JSON response.
pub fn check_userinfo_claims(
    log: &mut Log,
    claims: &Map<String, Value>,
    id_token_sub: Option<&str>,
) {
    check_sub(log, claims.get("sub"), "userinfo response");
    if let (Some(sub), Some(expected)) = (claims.get("sub").and_then(Value::as_str), id_token_sub) {
        log.check(
            sub == expected,
            Severity::Failure,
            format!("the userinfo sub `{sub}` differs from the id_token sub `{expected}`"),
        );
    }
    check_identity_claims(log, claims, "userinfo response");
    let names = claims.get("_claim_names");
    let sources = claims.get("_claim_sources");
    match (names, sources) {
        (None, None) => {}
        (Some(Value::Object(names)), Some(Value::Object(sources))) => {
            for (claim, source) in names {
                let known = source.as_str().is_some_and(|s| sources.contains_key(s));
                log.check(
                    known,
                    Severity::Failure,
                    format!("_claim_names.{claim} names no entry of _claim_sources"),
                );
            }
        }
        _ => log.fail("_claim_names and _claim_sources must both be objects, or both absent"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn birthdates() {
        assert!(valid_birthdate("1970-01-31"));
        assert!(valid_birthdate("0000-03-22"));
        assert!(valid_birthdate("1999"));
        assert!(!valid_birthdate("1849"));
        assert!(!valid_birthdate("3000-01-01"));
        assert!(!valid_birthdate("1970-1-1"));
        assert!(!valid_birthdate("1970-13-01"));
        assert!(current_year() >= 2025);
    }

    /// A signed ID token with `claims` over the defaults, and the JWKS that verifies it.
    fn signed(overrides: serde_json::Value) -> (String, Vec<Value>) {
        use std::sync::OnceLock;
        static KEY: OnceLock<(josekit::jwk::Jwk, josekit::jwk::Jwk)> = OnceLock::new();
        let (private, public) = KEY.get_or_init(|| jose::generate_client_key().unwrap());
        let now = now();
        let mut claims: Map<String, Value> = serde_json::from_value(serde_json::json!({
            "iss": "https://op.example", "sub": "user-1", "aud": "client", "exp": now + 600, "iat": now,
            "auth_time": now - 5, "nonce": "n0nce", "name": "Ann", "email_verified": true, "birthdate": "1980-02-29",
        }))
        .unwrap();
        for (k, v) in overrides.as_object().unwrap() {
            if v.is_null() {
                claims.remove(k);
            } else {
                claims.insert(k.clone(), v.clone());
            }
        }
        (
            jose::sign_rs256(&claims, private).unwrap(),
            vec![Value::Object(public.as_ref().clone())],
        )
    }

    fn failures(overrides: serde_json::Value, nonce: Option<&str>) -> Vec<String> {
        let (token, keys) = signed(overrides);
        let mut log = Log::default();
        let rules = IdTokenRules {
            issuer: "https://op.example",
            client_id: "client",
            nonce,
            ignore_nonce: false,
            requested_acrs: None,
            keys: &keys,
        };
        check_id_token(&mut log, &token, &rules).unwrap();
        log.findings
            .into_iter()
            .filter(|f| f.severity == Severity::Failure)
            .map(|f| f.message)
            .collect()
    }

    #[test]
    fn a_good_id_token_passes_every_check() {
        assert_eq!(
            failures(serde_json::json!({}), Some("n0nce")),
            Vec::<String>::new()
        );
        assert_eq!(
            failures(
                serde_json::json!({"aud": ["other", "client"], "nonce": null}),
                None
            ),
            Vec::<String>::new()
        );
    }

    #[test]
    fn each_standard_check_catches_its_fault() {
        let now = now();
        let cases = [
            (serde_json::json!({"iss": "https://op.example/"}), "iss"),
            (serde_json::json!({"aud": "someone-else"}), "aud"),
            (serde_json::json!({"aud": ["a", "b"]}), "aud array"),
            (serde_json::json!({"exp": now - 400}), "expired"),
            (serde_json::json!({"exp": null}), "exp"),
            (serde_json::json!({"iat": now - 400}), "iat"),
            (serde_json::json!({"iat": "now"}), "iat"),
            (serde_json::json!({"auth_time": now + 1000}), "future"),
            (serde_json::json!({"nonce": "other"}), "nonce"),
            (serde_json::json!({"nonce": null}), "nonce"),
            (serde_json::json!({"sub": null}), "no sub"),
            (serde_json::json!({"sub": "é"}), "printable ASCII"),
            (serde_json::json!({"acr": ""}), "acr"),
            (serde_json::json!({"name": "null"}), "name"),
            (
                serde_json::json!({"email_verified": "true"}),
                "email_verified",
            ),
            (serde_json::json!({"birthdate": "29-02-1980"}), "birthdate"),
            (serde_json::json!({"updated_at": "yesterday"}), "updated_at"),
            (serde_json::json!({"address": "Damrak 1"}), "address"),
        ];
        for (overrides, expected) in cases {
            let found = failures(overrides.clone(), Some("n0nce"));
            assert!(
                found.iter().any(|m| m.contains(expected)),
                "{overrides} should fail on `{expected}`: {found:?}"
            );
        }
        assert!(
            !failures(serde_json::json!({}), None).is_empty(),
            "a nonce that was never sent"
        );
    }

    #[test]
    fn a_token_from_another_key_or_tampered_fails_the_signature_check() {
        let (token, _) = signed(serde_json::json!({}));
        let (_, other_public) = jose::generate_client_key().unwrap();
        let mut other = other_public.as_ref().clone();
        // Same kid as the signing key, different key material.
        other.insert(
            "kid".into(),
            jose::decode(&token).unwrap().header["kid"].clone(),
        );
        let keys = vec![Value::Object(other)];
        let mut log = Log::default();
        let rules = IdTokenRules {
            issuer: "https://op.example",
            client_id: "client",
            nonce: Some("n0nce"),
            ignore_nonce: false,
            requested_acrs: None,
            keys: &keys,
        };
        check_id_token(&mut log, &token, &rules).unwrap();
        assert!(
            log.findings.iter().any(|f| f.message.contains("signature")),
            "{:?}",
            log.findings
        );
        let mut log = Log::default();
        assert!(check_id_token(&mut log, "not.a-jwt", &rules).is_err());
    }

    #[test]
    fn half_hashes_are_required_when_asked_and_checked_when_present() {
        let access_token = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        let (token, _) = signed(serde_json::json!({"at_hash": "77QmUPtjPfzWtF2AnpK9RQ"}));
        let jwt = jose::decode(&token).unwrap();
        let mut log = Log::default();
        check_half_hash(&mut log, &jwt, "at_hash", Some(access_token), true);
        assert!(!log.failed());
        check_half_hash(&mut log, &jwt, "at_hash", Some("another token"), false);
        assert!(log.failed());
        let mut log = Log::default();
        check_half_hash(&mut log, &jwt, "c_hash", Some("code"), true);
        assert!(log.failed(), "c_hash required but absent");
    }

    #[test]
    fn error_fields() {
        let mut log = Log::default();
        let params: Map<String, Value> = serde_json::from_str(
            r#"{"error":"invalid_request","error_description":"a \"quoted\" thing","state":"s"}"#,
        )
        .unwrap();
        check_authorization_error(&mut log, &params, Some("s"), "https://op");
        assert!(log.failed(), "a double quote is not allowed");
        let mut log = Log::default();
        let params: Map<String, Value> =
            serde_json::from_str(r#"{"error":"login_required","error_description":"sign in\nfirst","state":"s","iss":"https://op"}"#).unwrap();
        check_authorization_error(&mut log, &params, Some("s"), "https://op");
        assert!(!log.failed());
        assert_eq!(log.findings.len(), 1);
    }
}
