//! The user's identity claims (OpenID Connect Core §5.1): which scope releases which claims,
//! the claims a user record holds (well typed, or not at all), and the individual claims asked
//! for through the `claims` request parameter (§5.5).

use poort_storage::repo::UserRecord;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// The scopes Poort knows; unknown scopes are ignored by the authorization endpoint.
pub const SCOPES: &[&str] = &["openid", "profile", "email", "address", "phone", "offline_access"];

/// The standard claims each scope releases (OpenID Connect Core §5.4).
pub const SCOPE_CLAIMS: &[(&str, &[&str])] = &[
    (
        "profile",
        &[
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
    ),
    ("email", &["email", "email_verified"]),
    ("address", &["address"]),
    ("phone", &["phone_number", "phone_number_verified"]),
];

/// Claims about the authentication itself that ID tokens carry (advertised in discovery).
pub const PROTOCOL_CLAIMS: &[&str] =
    &["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "at_hash", "sid"];

/// The members of an address claim (§5.1.1).
const ADDRESS_MEMBERS: &[&str] = &["formatted", "street_address", "locality", "region", "postal_code", "country"];

/// Every claim Poort can release, for `claims_supported`.
pub fn supported() -> Vec<&'static str> {
    let mut all: Vec<&'static str> = PROTOCOL_CLAIMS.to_vec();
    all.extend(SCOPE_CLAIMS.iter().flat_map(|(_, claims)| claims.iter().copied()));
    all
}

/// Where claims asked for with the `claims` parameter are to be returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Userinfo,
    IdToken,
}

impl Target {
    fn member(self) -> &'static str {
        match self {
            Target::Userinfo => "userinfo",
            Target::IdToken => "id_token",
        }
    }
}

/// The names of the claims the `claims` parameter asks for in `target`, essential or voluntary.
/// Values and value filters are not enforced.
pub fn requested(claims_parameter: Option<&Value>, target: Target) -> Vec<String> {
    claims_parameter
        .and_then(|c| c.get(target.member()))
        .and_then(Value::as_object)
        .map(|members| members.keys().cloned().collect())
        .unwrap_or_default()
}

/// The claims to release: those of each scope in `scope` (space-separated) and those named in
/// `requested`, limited to the standard claims the user has.
pub fn release(user: &UserRecord, scope: &str, requested: &[String]) -> Map<String, Value> {
    let mut wanted: BTreeSet<&str> = BTreeSet::new();
    for word in scope.split(' ') {
        if let Some((_, claims)) = SCOPE_CLAIMS.iter().find(|(s, _)| *s == word) {
            wanted.extend(claims.iter().copied());
        }
    }
    wanted.extend(requested.iter().map(String::as_str));
    let mut all = standard_claims(user);
    all.retain(|name, _| wanted.contains(name.as_str()));
    all
}

/// Every standard claim the user has, each well typed: strings non-blank, `*_verified`
/// booleans, `updated_at` a number, `birthdate` a date, `address` an object of strings.
pub fn standard_claims(user: &UserRecord) -> Map<String, Value> {
    let stored = user.claims.as_object();
    let text = |name: &str| stored.and_then(|c| c.get(name)).and_then(Value::as_str).and_then(non_blank);
    let mut out = Map::new();
    for &(_, names) in SCOPE_CLAIMS {
        for &name in names {
            let value = match name {
                "name" => text("name").or_else(|| user.display_name.as_deref().and_then(non_blank)).map(Value::from),
                "preferred_username" => {
                    text("preferred_username").or_else(|| user.username.as_deref().and_then(non_blank)).map(Value::from)
                }
                "email" => non_blank(&user.email).map(Value::from),
                "email_verified" => Some(Value::Bool(user.email_verified)),
                "updated_at" => Some(Value::from(user.updated_at)),
                "birthdate" => text("birthdate").filter(|d| is_birthdate(d)).map(Value::from),
                "phone_number_verified" => stored.and_then(|c| c.get(name)).filter(|v| v.is_boolean()).cloned(),
                "address" => stored.and_then(|c| c.get("address")).and_then(address),
                other => text(other).map(Value::from),
            };
            if let Some(value) = value {
                out.insert(name.to_string(), value);
            }
        }
    }
    // A verification flag says nothing without the value it verifies.
    if !out.contains_key("phone_number") {
        out.remove("phone_number_verified");
    }
    out
}

fn non_blank(value: &str) -> Option<&str> {
    let trimmed = value.trim();
    (!trimmed.is_empty() && trimmed != "null").then_some(value)
}

/// `YYYY-MM-DD`, `0000-MM-DD` (year withheld) or `YYYY` (§5.1).
fn is_birthdate(value: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match value.split('-').collect::<Vec<_>>()[..] {
        [year] => year.len() == 4 && digits(year),
        [year, month, day] => {
            let in_range =
                |s: &str, max: u32| s.len() == 2 && digits(s) && s.parse::<u32>().is_ok_and(|n| (1..=max).contains(&n));
            year.len() == 4 && digits(year) && in_range(month, 12) && in_range(day, 31)
        }
        _ => false,
    }
}

/// An address with only its string members; `None` when none is left.
fn address(value: &Value) -> Option<Value> {
    let members = value.as_object()?;
    let kept: Map<String, Value> = members
        .iter()
        .filter(|(name, v)| ADDRESS_MEMBERS.contains(&name.as_str()) && v.as_str().and_then(non_blank).is_some())
        .map(|(name, v)| (name.clone(), v.clone()))
        .collect();
    (!kept.is_empty()).then_some(Value::Object(kept))
}

#[cfg(test)]
mod tests {
    use super::*;
    use poort_storage::repo::UserStatus;
    use serde_json::json;

    fn user(claims: Value) -> UserRecord {
        UserRecord {
            id: "u1".into(),
            email: "alice@example.com".into(),
            email_verified: true,
            username: Some("alice".into()),
            display_name: Some("Alice Example".into()),
            claims,
            status: UserStatus::Active,
            auth_method: "password".into(),
            password_hash: None,
            failed_logins: 0,
            locked_until: None,
            activated_at: Some(1),
            activation_sent_at: None,
            created_at: 1,
            updated_at: 1_700_000_000,
            roles: vec![],
        }
    }

    #[test]
    fn scopes_release_their_claims_and_nothing_else() {
        let u =
            user(json!({ "given_name": "Alice", "phone_number": "+31 20 123 4567", "phone_number_verified": false }));
        assert!(release(&u, "openid", &[]).is_empty(), "openid alone releases no identity claim");
        let email = release(&u, "openid email", &[]);
        assert_eq!(email, json!({ "email": "alice@example.com", "email_verified": true }).as_object().unwrap().clone());
        let profile = release(&u, "profile", &[]);
        assert_eq!(profile["name"], "Alice Example");
        assert_eq!(profile["given_name"], "Alice");
        assert_eq!(profile["preferred_username"], "alice");
        assert_eq!(profile["updated_at"], 1_700_000_000);
        assert!(!profile.contains_key("email"));
        let phone = release(&u, "phone", &[]);
        assert_eq!(phone["phone_number_verified"], false);
    }

    #[test]
    fn individually_requested_claims_are_released_without_their_scope() {
        let u = user(json!({}));
        let request = json!({ "userinfo": { "name": { "essential": true } }, "id_token": { "email": null } });
        assert_eq!(requested(Some(&request), Target::Userinfo), ["name"]);
        assert_eq!(requested(Some(&request), Target::IdToken), ["email"]);
        assert!(requested(None, Target::IdToken).is_empty());
        let released = release(&u, "openid", &requested(Some(&request), Target::Userinfo));
        assert_eq!(released.len(), 1);
        assert_eq!(released["name"], "Alice Example");
    }

    #[test]
    fn only_well_typed_claims_are_emitted() {
        let u = user(json!({
            "nickname": " ", "locale": "null", "website": 5, "birthdate": "1990-13-01",
            "phone_number_verified": "true", "address": { "locality": "Utrecht", "country": 31 }, "zoneinfo": "Europe/Amsterdam"
        }));
        let all = standard_claims(&u);
        for absent in ["nickname", "locale", "website", "birthdate", "phone_number_verified"] {
            assert!(!all.contains_key(absent), "{absent}");
        }
        assert_eq!(all["address"], json!({ "locality": "Utrecht" }));
        assert_eq!(all["zoneinfo"], "Europe/Amsterdam");
        assert!(is_birthdate("0000-03-22") && is_birthdate("1987") && is_birthdate("1987-10-01"));
        assert!(!is_birthdate("87") && !is_birthdate("1987-1-01"));
    }
}
