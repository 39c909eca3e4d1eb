//! The validated authorization request, and the ordered table of small named checks that builds
//! it (as node-oidc-provider does). Each check reads the raw parameters and either fills its part
//! of the request or fails with the error the client will receive at its redirect URI.

use super::params::RawParams;
use super::response::ResponseMode;
use crate::oauth::{Client, ErrorCode, OAuthError};
use std::collections::BTreeSet;

/// Scopes Poort knows; others are ignored (OpenID Connect Core §3.1.2.1).
pub use crate::claims::SCOPES as SUPPORTED_SCOPES;
/// Response types this endpoint answers, each with its words in sorted order (the form
/// `check_response_type` normalizes to). Those beyond `code` and `none` are allowed only for
/// clients registered for them.
pub const SUPPORTED_RESPONSE_TYPES: &[&str] =
    &["code", "id_token", "code id_token", "code token", "id_token token", "code id_token token", "none"];
pub const SUPPORTED_RESPONSE_MODES: &[&str] = &["query", "fragment", "form_post"];
pub const SUPPORTED_DISPLAY_VALUES: &[&str] = &["page", "popup", "touch", "wap"];
pub const SUPPORTED_PKCE_METHODS: &[&str] = &["S256", "plain"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Prompt {
    None,
    Login,
    Consent,
    SelectAccount,
}

/// A request every check has passed.
#[derive(Debug, Clone, Default)]
pub struct AuthorizationRequest {
    pub response_type: String,
    pub response_mode: Option<ResponseMode>,
    /// Known scopes only, in the order sent.
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub prompt: BTreeSet<Prompt>,
    pub max_age: Option<i64>,
    pub claims: Option<serde_json::Value>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub login_hint: Option<String>,
    pub id_token_hint: Option<String>,
    pub acr_values: Vec<String>,
    pub ui_locales: Vec<String>,
}

impl AuthorizationRequest {
    pub fn scope(&self) -> String {
        self.scopes.join(" ")
    }

    pub fn is_openid(&self) -> bool {
        self.scopes.iter().any(|s| s == "openid")
    }
}

type Check = fn(&RawParams, &Client, &mut AuthorizationRequest) -> Result<(), OAuthError>;

/// The checks, in the order they run; the first failure is the client's answer.
pub const CHECKS: &[(&str, Check)] = &[
    ("check_repeated_parameters", check_repeated_parameters),
    ("check_response_type", check_response_type),
    ("check_response_mode", check_response_mode),
    ("check_scope", check_scope),
    ("check_pkce", check_pkce),
    ("check_nonce", check_nonce),
    ("check_prompt", check_prompt),
    ("check_max_age", check_max_age),
    ("check_claims", check_claims),
    ("check_display", check_display),
    ("check_hints_and_locales", check_hints_and_locales),
];

/// Runs every check in order.
pub fn validate(params: &RawParams, client: &Client) -> Result<AuthorizationRequest, OAuthError> {
    let mut request = AuthorizationRequest::default();
    for (name, check) in CHECKS {
        check(params, client, &mut request).inspect_err(|e| tracing::debug!(check = name, error = %e, "authorization request refused"))?;
    }
    Ok(request)
}

fn invalid(description: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::invalid_request(description)
}

fn check_repeated_parameters(params: &RawParams, _: &Client, _: &mut AuthorizationRequest) -> Result<(), OAuthError> {
    match params.repeated().first() {
        Some(name) => Err(invalid(format!("parameter {name} was sent more than once"))),
        None => Ok(()),
    }
}

fn check_response_type(params: &RawParams, client: &Client, request: &mut AuthorizationRequest) -> Result<(), OAuthError> {
    let raw = params.get("response_type").ok_or_else(|| invalid("response_type is missing"))?;
    let mut words: Vec<&str> = raw.split(' ').filter(|w| !w.is_empty()).collect();
    words.sort_unstable();
    words.dedup();
    let normalized = words.join(" ");
    if !SUPPORTED_RESPONSE_TYPES.contains(&normalized.as_str()) {
        return Err(OAuthError::new(ErrorCode::UnsupportedResponseType, "this response_type is not supported"));
    }
    if !client.allows_response_type(&normalized) {
        return Err(OAuthError::new(ErrorCode::UnauthorizedClient, "the client is not registered for this response_type"));
    }
    request.response_type = normalized;
    Ok(())
}

fn check_response_mode(params: &RawParams, _: &Client, request: &mut AuthorizationRequest) -> Result<(), OAuthError> {
    if let Some(mode) = params.get("response_mode") {
        let mode = ResponseMode::parse(mode).ok_or_else(|| invalid("response_mode is not supported"))?;
        // Tokens must never travel in a query string (OAuth 2.0 Multiple Response Types §5).
        if mode == ResponseMode::Query && ResponseMode::default_for(&request.response_type) == ResponseMode::Fragment {
            return Err(invalid("response_mode query cannot carry tokens"));
        }
        request.response_mode = Some(mode);
    }
    Ok(())
}

fn check_scope(params: &RawParams, client: &Client, request: &mut AuthorizationRequest) -> Result<(), OAuthError> {
    let mut scopes: Vec<String> = Vec::new();
    for scope in params.get("scope").unwrap_or("").split(' ').filter(|s| !s.is_empty()) {
        if SUPPORTED_SCOPES.contains(&scope) && !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_string());
        }
    }
    // Offline access needs a refresh token, which only a code and a client allowed refresh
    // tokens can lead to (OpenID Connect Core §11): otherwise the request is ignored.
    if !(client.allows_grant("refresh_token") && request.response_type.contains("code")) {
        scopes.retain(|s| s != "offline_access");
    }
    if scopes.is_empty() && params.get("scope").is_some() {
        return Err(OAuthError::new(ErrorCode::InvalidScope, "none of the requested scopes is supported"));
    }
    request.scopes = scopes;
    Ok(())
}

fn check_pkce(params: &RawParams, client: &Client, request: &mut AuthorizationRequest) -> Result<(), OAuthError> {
    let Some(challenge) = params.get("code_challenge") else {
        if params.get("code_challenge_method").is_some() {
            return Err(invalid("code_challenge_method without code_challenge"));
        }
        // PKCE protects the code; a response without one has nothing for it to protect.
        if client.is_public() && request.response_type.split(' ').any(|w| w == "code") {
            return Err(invalid("public clients must use PKCE (code_challenge with S256)"));
        }
        return Ok(());
    };
    // RFC 7636 §4.2: 43 to 128 characters of the unreserved set.
    let well_formed = (43..=128).contains(&challenge.len())
        && challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !well_formed {
        return Err(invalid("code_challenge is malformed"));
    }
    let method = params.get("code_challenge_method").unwrap_or("plain");
    match method {
        "S256" => {}
        "plain" if client.metadata.allow_plain_pkce => {}
        "plain" => return Err(invalid("PKCE method plain is not allowed; use S256")),
        _ => return Err(invalid("code_challenge_method is not supported")),
    }
    request.code_challenge = Some(challenge.to_string());
    request.code_challenge_method = Some(method.to_string());
    Ok(())
}

fn check_nonce(params: &RawParams, _: &Client, request: &mut AuthorizationRequest) -> Result<(), OAuthError> {
    request.nonce = params.get("nonce").map(str::to_string);
    if request.nonce.is_none() && request.response_type.split(' ').any(|w| w == "id_token") {
        return Err(invalid("nonce is required when an ID token comes from the authorization endpoint"));
    }
    Ok(())
}

fn check_prompt(params: &RawParams, _: &Client, request: &mut AuthorizationRequest) -> Result<(), OAuthError> {
    for value in params.get("prompt").unwrap_or("").split(' ').filter(|s| !s.is_empty()) {
        let prompt = match value {
            "none" => Prompt::None,
            "login" => Prompt::Login,
            "consent" => Prompt::Consent,
            "select_account" => Prompt::SelectAccount,
            _ => return Err(invalid("prompt has an unsupported value")),
        };
        request.prompt.insert(prompt);
    }
    if request.prompt.contains(&Prompt::None) && request.prompt.len() > 1 {
        return Err(invalid("prompt none cannot be combined with other values"));
    }
    Ok(())
}

fn check_max_age(params: &RawParams, _: &Client, request: &mut AuthorizationRequest) -> Result<(), OAuthError> {
    if let Some(value) = params.get("max_age") {
        let seconds: i64 = value.parse().ok().filter(|n| *n >= 0).ok_or_else(|| invalid("max_age must be a non-negative integer"))?;
        request.max_age = Some(seconds);
    }
    Ok(())
}

fn check_claims(params: &RawParams, _: &Client, request: &mut AuthorizationRequest) -> Result<(), OAuthError> {
    let Some(text) = params.get("claims") else { return Ok(()) };
    let value: serde_json::Value = serde_json::from_str(text).map_err(|_| invalid("claims is not valid JSON"))?;
    let object = value.as_object().ok_or_else(|| invalid("claims must be a JSON object"))?;
    for (member, requested) in object {
        let valid_member = member == "userinfo" || member == "id_token";
        let valid_shape = requested.as_object().is_some_and(|claims| claims.values().all(|c| c.is_null() || c.is_object()));
        if valid_member && !valid_shape {
            return Err(invalid(format!("claims.{member} must map claim names to null or an object")));
        }
    }
    // An essential `acr` with values none of ours can meet is a failed authentication
    // (OpenID Connect Core §5.5.1.1): refused now, before anyone signs in for nothing.
    for target in ["id_token", "userinfo"] {
        let acr = &value[target]["acr"];
        if acr["essential"] != serde_json::Value::Bool(true) {
            continue;
        }
        let mut wanted: Vec<&str> = acr["values"].as_array().into_iter().flatten().filter_map(|v| v.as_str()).collect();
        wanted.extend(acr["value"].as_str());
        if !wanted.is_empty() && !wanted.iter().any(|v| crate::session::ACR_VALUES_SUPPORTED.contains(v)) {
            return Err(OAuthError::new(
                ErrorCode::UnmetAuthenticationRequirements,
                "none of the essential acr values can be met",
            ));
        }
    }
    request.claims = Some(value);
    Ok(())
}

fn check_display(params: &RawParams, _: &Client, _: &mut AuthorizationRequest) -> Result<(), OAuthError> {
    match params.get("display") {
        Some(display) if !SUPPORTED_DISPLAY_VALUES.contains(&display) => Err(invalid("display has an unsupported value")),
        _ => Ok(()),
    }
}

fn check_hints_and_locales(params: &RawParams, _: &Client, request: &mut AuthorizationRequest) -> Result<(), OAuthError> {
    request.login_hint = params.get("login_hint").map(str::to_string);
    request.id_token_hint = params.get("id_token_hint").map(str::to_string);
    let words = |name: &str| params.get(name).unwrap_or("").split(' ').filter(|s| !s.is_empty()).map(str::to_string).collect();
    request.acr_values = words("acr_values");
    request.ui_locales = words("ui_locales");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::oauth::client::test_client as client;

    fn confidential() -> Client {
        client(serde_json::json!({ "redirect_uris": ["https://rp/cb"], "grant_types": ["authorization_code", "refresh_token"] }))
    }

    fn run(query: &str, client: &Client) -> Result<AuthorizationRequest, OAuthError> {
        validate(&RawParams::parse(query), client)
    }

    #[test]
    fn a_plain_code_request_passes_and_unknown_things_are_ignored() {
        let request = run("response_type=code&scope=email%20openid%20foo&state=x&extra=foobar", &confidential()).unwrap();
        assert_eq!(request.scopes, ["email", "openid"]);
        assert!(request.is_openid());
    }

    #[test]
    fn each_check_refuses_with_the_right_code() {
        let c = confidential();
        let code = |q: &str| run(q, &c).unwrap_err().code;
        assert_eq!(code("scope=openid"), ErrorCode::InvalidRequest);
        assert_eq!(code("response_type=token&scope=openid"), ErrorCode::UnsupportedResponseType);
        assert_eq!(code("response_type=code&response_type=code&scope=openid"), ErrorCode::InvalidRequest);
        assert_eq!(code("response_type=code&scope=foo"), ErrorCode::InvalidScope);
        assert_eq!(code("response_type=code&scope=openid&prompt=none%20login"), ErrorCode::InvalidRequest);
        assert_eq!(code("response_type=code&scope=openid&prompt=bogus"), ErrorCode::InvalidRequest);
        assert_eq!(code("response_type=code&scope=openid&max_age=-1"), ErrorCode::InvalidRequest);
        assert_eq!(code("response_type=code&scope=openid&claims=%7Bnot"), ErrorCode::InvalidRequest);
        assert_eq!(code("response_type=code&scope=openid&response_mode=bogus"), ErrorCode::InvalidRequest);
        let essential = |acr: &str| format!("response_type=code&scope=openid&claims={}", url::form_urlencoded::byte_serialize(acr.as_bytes()).collect::<String>());
        let unmet = essential(r#"{"id_token":{"acr":{"essential":true,"values":["urn:mace:incommon:iap:silver"]}}}"#);
        assert_eq!(code(&unmet), ErrorCode::UnmetAuthenticationRequirements);
        assert_eq!(code(&essential(r#"{"userinfo":{"acr":{"essential":true,"value":"3"}}}"#)), ErrorCode::UnmetAuthenticationRequirements);
        // One value we meet, a voluntary request, or no values: fine.
        for fine in [
            r#"{"id_token":{"acr":{"essential":true,"values":["3","1"]}}}"#,
            r#"{"id_token":{"acr":{"values":["3"]}}}"#,
            r#"{"id_token":{"acr":{"essential":true}}}"#,
        ] {
            assert!(run(&essential(fine), &c).is_ok(), "{fine}");
        }
    }

    #[test]
    fn pkce_is_s256_unless_plain_is_allowed_and_required_for_public_clients() {
        let verifier_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        let c = confidential();
        let ok = run(&format!("response_type=code&scope=openid&code_challenge={verifier_challenge}&code_challenge_method=S256"), &c).unwrap();
        assert_eq!(ok.code_challenge_method.as_deref(), Some("S256"));
        let plain = run(&format!("response_type=code&scope=openid&code_challenge={verifier_challenge}"), &c);
        assert_eq!(plain.unwrap_err().code, ErrorCode::InvalidRequest);
        let short = run("response_type=code&scope=openid&code_challenge=abc&code_challenge_method=S256", &c);
        assert_eq!(short.unwrap_err().code, ErrorCode::InvalidRequest);
        let public = client(serde_json::json!({ "redirect_uris": ["https://rp/cb"], "token_endpoint_auth_method": "none" }));
        assert_eq!(run("response_type=code&scope=openid", &public).unwrap_err().code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn implicit_and_hybrid_types_need_registration_and_a_nonce() {
        let every = ["code", "id_token", "id_token token", "code id_token", "code token", "code id_token token"];
        let c = client(serde_json::json!({ "redirect_uris": ["https://rp/cb"], "response_types": every, "grant_types": ["authorization_code", "implicit"] }));
        let ok = run("response_type=token%20id_token%20code&scope=openid&nonce=n", &c).unwrap();
        assert_eq!(ok.response_type, "code id_token token");
        assert_eq!(run("response_type=code%20token&scope=openid", &c).unwrap().response_type, "code token");
        let code = |q: &str, c: &Client| run(q, c).unwrap_err().code;
        assert_eq!(code("response_type=id_token&scope=openid", &c), ErrorCode::InvalidRequest, "nonce");
        assert_eq!(code("response_type=id_token&scope=openid&nonce=n&response_mode=query", &c), ErrorCode::InvalidRequest);
        assert_eq!(code("response_type=id_token&scope=openid&nonce=n", &confidential()), ErrorCode::UnauthorizedClient);
        // Public implicit clients have no code for PKCE to protect.
        let public = client(serde_json::json!({ "redirect_uris": ["https://rp/cb"], "token_endpoint_auth_method": "none", "response_types": ["id_token"] }));
        assert!(run("response_type=id_token&scope=openid&nonce=n", &public).is_ok());
        // offline_access needs a code.
        let refresh = client(serde_json::json!({ "redirect_uris": ["https://rp/cb"], "response_types": every, "grant_types": ["authorization_code", "implicit", "refresh_token"] }));
        assert_eq!(run("response_type=id_token&scope=openid%20offline_access&nonce=n", &refresh).unwrap().scopes, ["openid"]);
    }

    #[test]
    fn offline_access_needs_a_client_with_refresh_tokens() {
        let with = run("response_type=code&scope=openid%20offline_access", &confidential()).unwrap();
        assert!(with.scopes.contains(&"offline_access".to_string()));
        let without = client(serde_json::json!({ "redirect_uris": ["https://rp/cb"] }));
        let request = run("response_type=code&scope=openid%20offline_access", &without).unwrap();
        assert_eq!(request.scopes, ["openid"]);
    }
}
