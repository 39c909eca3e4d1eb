//! Registration metadata: parsed from the request object, then run through an ordered table of
//! small named checks, each of which fills in a default or fails with `invalid_redirect_uri` /
//! `invalid_client_metadata`. The sector identifier document is fetched last ([`super::sector`]).

use super::{jwks, uris};
use crate::oauth::{ClientMetadata, ErrorCode, OAuthError};
use poort_config::CLIENT_AUTH_METHODS;
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::BTreeSet;

pub fn invalid(description: impl Into<Cow<'static, str>>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidClientMetadata, description)
}

pub fn invalid_redirect(description: impl Into<Cow<'static, str>>) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidRedirectUri, description)
}

/// What the checks need to know of the provider.
pub struct Policy<'a> {
    /// `registration.allow_http_redirect_uris_on_loopback`.
    pub allow_loopback_http: bool,
    /// The algorithms we hold signing keys for.
    pub signing_algorithms: &'a [String],
}

/// Poort's own members, which only configuration and the CLI may set.
const POORT_ONLY: &[&str] =
    &["first_party", "allow_plain_pkce", "required_roles", "required_permissions", "requires_terms"];

/// Encryption is not offered: a client asking for it must hear so rather than get plain tokens.
const ENCRYPTION_MEMBERS: &[&str] = &[
    "id_token_encrypted_response_alg",
    "id_token_encrypted_response_enc",
    "userinfo_encrypted_response_alg",
    "userinfo_encrypted_response_enc",
    "request_object_encryption_alg",
    "request_object_encryption_enc",
    "authorization_encrypted_response_alg",
    "authorization_encrypted_response_enc",
];

pub const GRANT_TYPES: &[&str] = &["authorization_code", "implicit", "refresh_token", "client_credentials"];

/// Response types, as sorted word lists (`code id_token` and `id_token code` are one type).
const RESPONSE_TYPES: &[&[&str]] = &[
    &["code"],
    &["id_token"],
    &["id_token", "token"],
    &["code", "id_token"],
    &["code", "token"],
    &["code", "id_token", "token"],
    &["none"],
];

pub const REQUEST_OBJECT_ALGS: &[&str] = &["RS256", "PS256", "ES256", "EdDSA", "none"];

/// Algorithms a `private_key_jwt` / `client_secret_jwt` assertion may be signed with.
const ASYMMETRIC_ALGS: &[&str] =
    &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"];
// Only HS256: HS384 and HS512 need longer keys than the 256-bit secrets Poort issues.
const SYMMETRIC_ALGS: &[&str] = &["HS256"];

/// The metadata in a request object. Unknown members are ignored (RFC 7591 §2), `null` means
/// absent, Poort-only members are dropped; a member of the wrong type is named in the error.
pub fn parse(request: &Map<String, Value>) -> Result<ClientMetadata, OAuthError> {
    let mut members = request.clone();
    members.retain(|key, value| !value.is_null() && !POORT_ONLY.contains(&key.as_str()));
    if let Some(member) = ENCRYPTION_MEMBERS.iter().find(|m| members.contains_key(**m)) {
        return Err(invalid(format!("{member} is not supported: Poort does not encrypt responses")));
    }
    match serde_json::from_value::<ClientMetadata>(Value::Object(members.clone())) {
        Ok(mut metadata) => {
            metadata.first_party = false;
            metadata.allow_plain_pkce = false;
            metadata.required_roles.clear();
            metadata.required_permissions.clear();
            metadata.requires_terms = false;
            Ok(metadata)
        }
        Err(_) => {
            let culprit = members.iter().find(|(key, value)| {
                let single = Map::from_iter([((*key).clone(), (*value).clone())]);
                serde_json::from_value::<ClientMetadata>(Value::Object(single)).is_err()
            });
            Err(invalid(match culprit {
                Some((key, _)) => format!("{key} has the wrong type"),
                None => "the metadata has a member of the wrong type".to_string(),
            }))
        }
    }
}

type Check = fn(&mut ClientMetadata, &Policy) -> Result<(), OAuthError>;

/// The checks, in order: later ones rely on the defaults earlier ones fill in.
const CHECKS: &[(&str, Check)] = &[
    ("application_type", check_application_type),
    ("grant_types", check_grant_types),
    ("response_types", check_response_types),
    ("redirect_uris", check_redirect_uris),
    ("token_endpoint_auth_method", check_auth_method),
    ("jwks", check_keys),
    ("signing_algorithms", check_signing_algorithms),
    ("subject_type", check_subject_type),
    ("links", check_links),
    ("logout_uris", check_logout_uris),
    ("request_uris", check_request_uris),
    ("sector_identifier_uri", check_sector_uri_shape),
    ("values", check_values),
    ("scope", check_scope),
];

/// Runs every check, filling in the defaults the response then reports.
pub fn check(metadata: &mut ClientMetadata, policy: &Policy) -> Result<(), OAuthError> {
    for (name, check) in CHECKS {
        check(metadata, policy).inspect_err(|e| tracing::debug!(check = name, error = %e, "registration refused"))?;
    }
    Ok(())
}

fn check_application_type(m: &mut ClientMetadata, _: &Policy) -> Result<(), OAuthError> {
    match m.application_type.get_or_insert_with(|| "web".into()).as_str() {
        "web" | "native" => Ok(()),
        _ => Err(invalid("application_type must be web or native")),
    }
}

fn check_grant_types(m: &mut ClientMetadata, _: &Policy) -> Result<(), OAuthError> {
    if m.grant_types.is_empty() {
        m.grant_types = vec!["authorization_code".into()];
    }
    for (index, grant) in m.grant_types.iter().enumerate() {
        if !GRANT_TYPES.contains(&grant.as_str()) {
            return Err(invalid(format!("grant_types[{index}] is not supported (use {})", GRANT_TYPES.join(", "))));
        }
    }
    Ok(())
}

fn words(response_type: &str) -> Vec<&str> {
    let mut words: Vec<&str> = response_type.split(' ').filter(|w| !w.is_empty()).collect();
    words.sort_unstable();
    words
}

fn check_response_types(m: &mut ClientMetadata, _: &Policy) -> Result<(), OAuthError> {
    if m.response_types.is_empty() {
        m.response_types = vec!["code".into()];
    }
    for (index, response_type) in m.response_types.iter().enumerate() {
        let words = words(response_type);
        if !RESPONSE_TYPES.contains(&words.as_slice()) {
            return Err(invalid(format!("response_types[{index}] is not supported")));
        }
        let needs = |grant: &'static str| {
            if m.grant_types.iter().any(|g| g == grant) {
                Ok(())
            } else {
                Err(invalid(format!("response_types[{index}] needs the {grant} grant type in grant_types")))
            }
        };
        if words.contains(&"code") {
            needs("authorization_code")?;
        }
        if words.contains(&"id_token") || words.contains(&"token") {
            needs("implicit")?;
        }
    }
    Ok(())
}

fn has_grant(m: &ClientMetadata, grant: &str) -> bool {
    m.grant_types.iter().any(|g| g == grant)
}

fn is_native(m: &ClientMetadata) -> bool {
    m.application_type.as_deref() == Some("native")
}

fn check_redirect_uris(m: &mut ClientMetadata, policy: &Policy) -> Result<(), OAuthError> {
    if m.redirect_uris.is_empty() && (has_grant(m, "authorization_code") || has_grant(m, "implicit")) {
        return Err(invalid_redirect("redirect_uris is required for the authorization_code and implicit grant types"));
    }
    for (index, uri) in m.redirect_uris.iter().enumerate() {
        let url = uris::absolute(uri)
            .ok_or_else(|| invalid_redirect(format!("redirect_uris[{index}] is not an absolute URI")))?;
        if url.fragment().is_some() {
            return Err(invalid_redirect(format!("redirect_uris[{index}] must not have a fragment")));
        }
        if !uris::is_redirect_target(&url, policy.allow_loopback_http, is_native(m)) {
            return Err(invalid_redirect(format!("redirect_uris[{index}] must use https{}", loopback_hint(policy))));
        }
    }
    Ok(())
}

fn loopback_hint(policy: &Policy) -> &'static str {
    if policy.allow_loopback_http { " (http only on a loopback host)" } else { "" }
}

fn check_auth_method(m: &mut ClientMetadata, _: &Policy) -> Result<(), OAuthError> {
    let method = m.token_endpoint_auth_method.get_or_insert_with(|| "client_secret_basic".into()).clone();
    if !CLIENT_AUTH_METHODS.contains(&method.as_str()) {
        return Err(invalid(format!("token_endpoint_auth_method must be one of {}", CLIENT_AUTH_METHODS.join(", "))));
    }
    if method == "none" && has_grant(m, "client_credentials") {
        return Err(invalid("the client_credentials grant needs a client that authenticates"));
    }
    if let Some(alg) = &m.token_endpoint_auth_signing_alg {
        let (asymmetric, symmetric) = (ASYMMETRIC_ALGS.contains(&alg.as_str()), SYMMETRIC_ALGS.contains(&alg.as_str()));
        let fits = match method.as_str() {
            "private_key_jwt" => asymmetric,
            "client_secret_jwt" => symmetric,
            _ => asymmetric || symmetric,
        };
        if !fits {
            return Err(invalid("token_endpoint_auth_signing_alg does not fit token_endpoint_auth_method"));
        }
    }
    Ok(())
}

fn check_keys(m: &mut ClientMetadata, policy: &Policy) -> Result<(), OAuthError> {
    if m.jwks.is_some() && m.jwks_uri.is_some() {
        return Err(invalid("jwks and jwks_uri must not both be given"));
    }
    if m.token_endpoint_auth_method.as_deref() == Some("private_key_jwt") && m.jwks.is_none() && m.jwks_uri.is_none() {
        return Err(invalid("private_key_jwt needs the client's keys in jwks or jwks_uri"));
    }
    if let Some(set) = &m.jwks {
        jwks::check(set)?;
    }
    if let Some(uri) = &m.jwks_uri {
        secure_url("jwks_uri", uri, policy.allow_loopback_http)?;
    }
    Ok(())
}

/// Whether any response type returns an ID token from the authorization endpoint.
fn front_channel_id_token(m: &ClientMetadata) -> bool {
    m.response_types.iter().any(|rt| words(rt).contains(&"id_token"))
}

fn check_signing_algorithms(m: &mut ClientMetadata, policy: &Policy) -> Result<(), OAuthError> {
    let ours = policy.signing_algorithms;
    let id_alg = m.id_token_signed_response_alg.get_or_insert_with(|| "RS256".into()).clone();
    if id_alg == "none" {
        if front_channel_id_token(m) {
            return Err(invalid(
                "id_token_signed_response_alg none is only for clients whose response types return no ID token from the authorization endpoint",
            ));
        }
    } else if !ours.contains(&id_alg) {
        return Err(invalid(format!("id_token_signed_response_alg must be one of {}, none", ours.join(", "))));
    }
    if let Some(alg) = &m.userinfo_signed_response_alg
        && !ours.contains(alg)
    {
        return Err(invalid(format!("userinfo_signed_response_alg must be one of {}", ours.join(", "))));
    }
    if let Some(alg) = &m.access_token_signed_response_alg
        && !ours.contains(alg)
    {
        return Err(invalid(format!("access_token_signed_response_alg must be one of {}", ours.join(", "))));
    }
    if let Some(alg) = &m.request_object_signing_alg
        && !REQUEST_OBJECT_ALGS.contains(&alg.as_str())
    {
        return Err(invalid(format!("request_object_signing_alg must be one of {}", REQUEST_OBJECT_ALGS.join(", "))));
    }
    Ok(())
}

fn check_subject_type(m: &mut ClientMetadata, _: &Policy) -> Result<(), OAuthError> {
    match m.subject_type.get_or_insert_with(|| "public".into()).as_str() {
        "public" => Ok(()),
        "pairwise" if m.sector_identifier_uri.is_some() => Ok(()),
        "pairwise" => {
            // The sector is then the redirect URIs' one host (see `oauth::subject`).
            let hosts: BTreeSet<Option<String>> = m
                .redirect_uris
                .iter()
                .map(|uri| uris::absolute(uri).and_then(|u| u.host_str().map(str::to_ascii_lowercase)))
                .collect();
            match hosts.iter().next() {
                Some(Some(_)) if hosts.len() == 1 => Ok(()),
                _ => Err(invalid(
                    "a pairwise client needs a sector_identifier_uri unless its redirect_uris share one host",
                )),
            }
        }
        _ => Err(invalid("subject_type must be public or pairwise")),
    }
}

fn secure_url(member: &str, uri: &str, allow_loopback_http: bool) -> Result<url::Url, OAuthError> {
    let url = uris::absolute(uri).ok_or_else(|| invalid(format!("{member} is not an absolute URL")))?;
    if !uris::is_secure(&url, allow_loopback_http) {
        let hint = if allow_loopback_http { " (http only on a loopback host)" } else { "" };
        return Err(invalid(format!("{member} must use https{hint}")));
    }
    Ok(url)
}

fn check_links(m: &mut ClientMetadata, _: &Policy) -> Result<(), OAuthError> {
    for (member, value) in [
        ("logo_uri", &m.logo_uri),
        ("client_uri", &m.client_uri),
        ("policy_uri", &m.policy_uri),
        ("tos_uri", &m.tos_uri),
    ] {
        if let Some(uri) = value
            && !uris::absolute(uri).is_some_and(|url| uris::is_web_link(&url))
        {
            return Err(invalid(format!("{member} must be an absolute http or https URL")));
        }
    }
    if let Some(uri) = &m.initiate_login_uri {
        // Third-party initiated login must use https (OpenID Connect Core §4), even in development.
        secure_url("initiate_login_uri", uri, false)?;
    }
    Ok(())
}

fn check_logout_uris(m: &mut ClientMetadata, policy: &Policy) -> Result<(), OAuthError> {
    for (member, value) in
        [("frontchannel_logout_uri", &m.frontchannel_logout_uri), ("backchannel_logout_uri", &m.backchannel_logout_uri)]
    {
        if let Some(uri) = value
            && secure_url(member, uri, policy.allow_loopback_http)?.fragment().is_some()
        {
            return Err(invalid(format!("{member} must not have a fragment")));
        }
    }
    for (index, uri) in m.post_logout_redirect_uris.iter().enumerate() {
        let url = uris::absolute(uri)
            .ok_or_else(|| invalid(format!("post_logout_redirect_uris[{index}] is not an absolute URI")))?;
        if url.fragment().is_some() {
            return Err(invalid(format!("post_logout_redirect_uris[{index}] must not have a fragment")));
        }
        if !uris::is_redirect_target(&url, policy.allow_loopback_http, is_native(m)) {
            return Err(invalid(format!("post_logout_redirect_uris[{index}] must use https{}", loopback_hint(policy))));
        }
    }
    Ok(())
}

fn check_request_uris(m: &mut ClientMetadata, policy: &Policy) -> Result<(), OAuthError> {
    // A fragment is allowed here: it carries the hash of the request object (Core §6.2).
    for (index, uri) in m.request_uris.iter().enumerate() {
        secure_url(&format!("request_uris[{index}]"), uri, policy.allow_loopback_http)?;
    }
    Ok(())
}

fn check_sector_uri_shape(m: &mut ClientMetadata, _: &Policy) -> Result<(), OAuthError> {
    // Always https, even in development: anyone who may register makes us fetch this URL, and
    // plain http to loopback would let them probe the services beside us.
    if let Some(uri) = &m.sector_identifier_uri {
        secure_url("sector_identifier_uri", uri, false)?;
    }
    Ok(())
}

fn check_values(m: &mut ClientMetadata, _: &Policy) -> Result<(), OAuthError> {
    if m.default_max_age.is_some_and(|age| age < 0) {
        return Err(invalid("default_max_age must not be negative"));
    }
    if let Some(format) = &m.access_token_format
        && !matches!(format.as_str(), "jwt" | "opaque")
    {
        return Err(invalid("access_token_format must be jwt or opaque"));
    }
    Ok(())
}

/// The admin API's scope is for clients an operator configures, never for self-registered ones.
fn check_scope(m: &mut ClientMetadata, _: &Policy) -> Result<(), OAuthError> {
    if m.scope.as_deref().is_some_and(|scope| scope.split(' ').any(|s| s == crate::admin::SCOPE)) {
        return Err(invalid(format!("the scope {} is reserved for clients an operator configures", crate::admin::SCOPE)));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn policy_algs() -> Vec<String> {
        vec!["RS256".into(), "ES256".into()]
    }

    fn run(request: Value) -> Result<ClientMetadata, OAuthError> {
        let algs = policy_algs();
        let policy = Policy { allow_loopback_http: true, signing_algorithms: &algs };
        let mut metadata = parse(request.as_object().expect("an object"))?;
        check(&mut metadata, &policy)?;
        Ok(metadata)
    }

    fn code_of(request: Value) -> &'static str {
        run(request.clone()).map(|_| "ok").unwrap_or_else(|e| e.code.as_str())
    }

    #[test]
    fn defaults_are_filled_in() {
        let m = run(json!({ "redirect_uris": ["https://rp.example/cb"] })).unwrap();
        assert_eq!(m.response_types, ["code"]);
        assert_eq!(m.grant_types, ["authorization_code"]);
        assert_eq!(m.token_endpoint_auth_method.as_deref(), Some("client_secret_basic"));
        assert_eq!(m.application_type.as_deref(), Some("web"));
        assert_eq!(m.id_token_signed_response_alg.as_deref(), Some("RS256"));
        assert_eq!(m.subject_type.as_deref(), Some("public"));
    }

    #[test]
    fn poort_only_members_are_dropped_and_unknown_ones_ignored() {
        let m = run(json!({
            "redirect_uris": ["https://rp.example/cb"], "first_party": true, "allow_plain_pkce": true,
            "requires_terms": true,
            "client_name#nl": "x", "whatever": {"a": 1}, "logo_uri": null, "access_token_format": "opaque"
        }))
        .unwrap();
        assert!(!m.first_party && !m.allow_plain_pkce && !m.requires_terms);
        assert_eq!(m.access_token_format.as_deref(), Some("opaque"));
    }

    #[test]
    fn wrong_types_name_the_member() {
        let error =
            run(json!({ "redirect_uris": ["https://rp.example/cb"], "contacts": "me@example.com" })).unwrap_err();
        assert_eq!(error.code, ErrorCode::InvalidClientMetadata);
        assert!(error.description.contains("contacts"), "{error}");
    }

    #[test]
    fn redirect_uri_rules() {
        let cb = |uri: &str| json!({ "redirect_uris": [uri] });
        assert_eq!(code_of(cb("https://rp.example/cb?x=1")), "ok");
        assert_eq!(code_of(cb("http://127.0.0.1:9000/cb")), "ok");
        assert_eq!(code_of(cb("http://[::1]/cb")), "ok");
        assert_eq!(code_of(cb("http://localhost/cb")), "ok");
        for bad in
            ["https://rp.example/cb#foobar", "/cb", "http://rp.example/cb", "com.example.app:/cb", "javascript:x"]
        {
            assert_eq!(code_of(cb(bad)), "invalid_redirect_uri", "{bad}");
        }
        assert_eq!(code_of(json!({ "redirect_uris": ["com.example.app:/cb"], "application_type": "native" })), "ok");
        assert_eq!(code_of(json!({})), "invalid_redirect_uri");
        assert_eq!(code_of(json!({ "grant_types": ["client_credentials"], "response_types": ["none"] })), "ok");
        let algs = policy_algs();
        let strict = Policy { allow_loopback_http: false, signing_algorithms: &algs };
        let mut m = parse(cb("http://127.0.0.1/cb").as_object().unwrap()).unwrap();
        assert_eq!(check(&mut m, &strict).unwrap_err().code, ErrorCode::InvalidRedirectUri);
    }

    #[test]
    fn response_and_grant_types_must_agree() {
        let cb = "https://rp.example/cb";
        let with =
            |rt: Value, gt: Value| code_of(json!({ "redirect_uris": [cb], "response_types": rt, "grant_types": gt }));
        assert_eq!(with(json!(["code"]), json!(["authorization_code", "refresh_token"])), "ok");
        assert_eq!(with(json!(["id_token code"]), json!(["authorization_code", "implicit"])), "ok");
        assert_eq!(with(json!(["code id_token token", "id_token"]), json!(["authorization_code", "implicit"])), "ok");
        assert_eq!(with(json!(["code id_token"]), json!(["authorization_code"])), "invalid_client_metadata");
        assert_eq!(with(json!(["id_token"]), json!(["authorization_code"])), "invalid_client_metadata");
        assert_eq!(with(json!(["code"]), json!(["implicit"])), "invalid_client_metadata");
        assert_eq!(with(json!(["token"]), json!(["implicit"])), "invalid_client_metadata");
        assert_eq!(with(json!(["code code"]), json!(["authorization_code"])), "invalid_client_metadata");
        assert_eq!(with(json!(["code"]), json!(["authorization_code", "password"])), "invalid_client_metadata");
    }

    #[test]
    fn auth_methods_and_keys() {
        let cb = "https://rp.example/cb";
        let key = Value::Object(crate::keys::material::generate("RS256").unwrap().public_jwk.as_ref().clone());
        let jwks = json!({ "keys": [key] });
        let method = |m: &str, extra: Value| {
            let mut request = json!({ "redirect_uris": [cb], "token_endpoint_auth_method": m });
            for (k, v) in extra.as_object().unwrap() {
                request[k] = v.clone();
            }
            code_of(request)
        };
        for ok in ["client_secret_basic", "client_secret_post", "client_secret_jwt", "none"] {
            assert_eq!(method(ok, json!({})), "ok", "{ok}");
        }
        assert_eq!(method("private_key_jwt", json!({})), "invalid_client_metadata");
        assert_eq!(method("private_key_jwt", json!({ "jwks": jwks })), "ok");
        assert_eq!(method("private_key_jwt", json!({ "jwks_uri": "https://rp.example/jwks" })), "ok");
        assert_eq!(
            method("private_key_jwt", json!({ "jwks_uri": "http://rp.example/jwks" })),
            "invalid_client_metadata"
        );
        assert_eq!(
            method("private_key_jwt", json!({ "jwks": jwks, "jwks_uri": "https://rp.example/jwks" })),
            "invalid_client_metadata"
        );
        assert_eq!(method("tls_client_auth", json!({})), "invalid_client_metadata");
        assert_eq!(
            method("private_key_jwt", json!({ "jwks": jwks, "token_endpoint_auth_signing_alg": "HS256" })),
            "invalid_client_metadata"
        );
        assert_eq!(method("client_secret_jwt", json!({ "token_endpoint_auth_signing_alg": "HS256" })), "ok");
        assert_eq!(
            code_of(json!({ "grant_types": ["client_credentials"], "token_endpoint_auth_method": "none" })),
            "invalid_client_metadata"
        );
    }

    #[test]
    fn signing_algorithms() {
        let cb = "https://rp.example/cb";
        let alg = |member: &str, value: &str, rt: &str, gt: Value| {
            code_of(json!({ "redirect_uris": [cb], member: value, "response_types": [rt], "grant_types": gt }))
        };
        let code = json!(["authorization_code"]);
        let hybrid = json!(["authorization_code", "implicit"]);
        assert_eq!(alg("id_token_signed_response_alg", "ES256", "code", code.clone()), "ok");
        assert_eq!(alg("id_token_signed_response_alg", "none", "code", code.clone()), "ok");
        assert_eq!(alg("id_token_signed_response_alg", "none", "code token", hybrid.clone()), "ok");
        assert_eq!(
            alg("id_token_signed_response_alg", "none", "code id_token", hybrid.clone()),
            "invalid_client_metadata"
        );
        assert_eq!(alg("id_token_signed_response_alg", "PS256", "code", code.clone()), "invalid_client_metadata");
        assert_eq!(alg("access_token_signed_response_alg", "ES256", "code", code.clone()), "ok");
        assert_eq!(alg("access_token_signed_response_alg", "PS256", "code", code.clone()), "invalid_client_metadata");
        assert_eq!(alg("id_token_signed_response_alg", "HS256", "code", code.clone()), "invalid_client_metadata");
        assert_eq!(alg("userinfo_signed_response_alg", "RS256", "code", code.clone()), "ok");
        assert_eq!(alg("userinfo_signed_response_alg", "none", "code", code.clone()), "invalid_client_metadata");
        for ok in REQUEST_OBJECT_ALGS {
            assert_eq!(alg("request_object_signing_alg", ok, "code", code.clone()), "ok");
        }
        assert_eq!(alg("request_object_signing_alg", "HS256", "code", code.clone()), "invalid_client_metadata");
        assert_eq!(
            code_of(json!({ "redirect_uris": [cb], "id_token_encrypted_response_alg": "RSA-OAEP" })),
            "invalid_client_metadata"
        );
    }

    #[test]
    fn pairwise_needs_one_host_or_a_sector() {
        let pairwise = |uris: Value| code_of(json!({ "redirect_uris": uris, "subject_type": "pairwise" }));
        assert_eq!(pairwise(json!(["https://a.example/1", "https://A.example/2"])), "ok");
        assert_eq!(pairwise(json!(["https://a.example/1", "https://b.example/2"])), "invalid_client_metadata");
        assert_eq!(
            code_of(
                json!({ "redirect_uris": ["com.example.app:/cb"], "application_type": "native", "subject_type": "pairwise" })
            ),
            "invalid_client_metadata"
        );
        assert_eq!(
            code_of(json!({
                "redirect_uris": ["https://a.example/1", "https://b.example/2"], "subject_type": "pairwise",
                "sector_identifier_uri": "https://s.example/sector.json"
            })),
            "ok"
        );
        assert_eq!(
            code_of(json!({ "redirect_uris": ["https://a.example/1"], "subject_type": "secret" })),
            "invalid_client_metadata"
        );
        for http in ["http://s.example/x.json", "http://127.0.0.1/x.json"] {
            let request = json!({ "redirect_uris": ["https://a.example/1"], "sector_identifier_uri": http });
            assert_eq!(code_of(request), "invalid_client_metadata", "{http}");
        }
    }

    #[test]
    fn other_uris_and_values() {
        let with =
            |member: &str, value: Value| code_of(json!({ "redirect_uris": ["https://rp.example/cb"], member: value }));
        for member in ["logo_uri", "client_uri", "policy_uri", "tos_uri"] {
            assert_eq!(with(member, json!("https://rp.example/x")), "ok", "{member}");
            assert_eq!(with(member, json!("http://rp.example/x")), "ok", "{member}");
            assert_eq!(with(member, json!("javascript:alert(1)")), "invalid_client_metadata", "{member}");
            assert_eq!(with(member, json!("not a url")), "invalid_client_metadata", "{member}");
        }
        assert_eq!(with("initiate_login_uri", json!("https://rp.example/login")), "ok");
        assert_eq!(with("initiate_login_uri", json!("http://127.0.0.1/login")), "invalid_client_metadata");
        for member in ["backchannel_logout_uri", "frontchannel_logout_uri"] {
            assert_eq!(with(member, json!("https://rp.example/logout")), "ok");
            assert_eq!(with(member, json!("http://127.0.0.1/logout")), "ok");
            assert_eq!(with(member, json!("http://rp.example/logout")), "invalid_client_metadata");
            assert_eq!(with(member, json!("https://rp.example/logout#x")), "invalid_client_metadata");
        }
        assert_eq!(with("post_logout_redirect_uris", json!(["https://rp.example/bye"])), "ok");
        assert_eq!(with("post_logout_redirect_uris", json!(["https://rp.example/bye#x"])), "invalid_client_metadata");
        assert_eq!(with("post_logout_redirect_uris", json!(["bye"])), "invalid_client_metadata");
        assert_eq!(with("request_uris", json!(["https://rp.example/req#abc"])), "ok");
        assert_eq!(with("request_uris", json!(["http://rp.example/req"])), "invalid_client_metadata");
        assert_eq!(with("jwks_uri", json!("https://rp.example/jwks")), "ok");
        assert_eq!(with("default_max_age", json!(0)), "ok");
        assert_eq!(with("default_max_age", json!(-1)), "invalid_client_metadata");
        assert_eq!(with("default_max_age", json!("1")), "invalid_client_metadata");
        assert_eq!(with("contacts", json!(["a@rp.example"])), "ok");
        assert_eq!(with("contacts", json!([1])), "invalid_client_metadata");
        assert_eq!(with("access_token_format", json!("jwt")), "ok");
        assert_eq!(with("access_token_format", json!("paseto")), "invalid_client_metadata");
        assert_eq!(with("application_type", json!("desktop")), "invalid_client_metadata");
    }

    #[test]
    fn the_admin_scope_cannot_be_registered() {
        let uris = json!(["https://rp.example/cb"]);
        assert_eq!(code_of(json!({ "redirect_uris": uris, "scope": "openid poort.admin" })), "invalid_client_metadata");
        assert_eq!(code_of(json!({ "redirect_uris": uris, "scope": "openid poort.administer" })), "ok");
    }
}
