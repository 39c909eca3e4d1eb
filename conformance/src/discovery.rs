//! The OP's metadata and keys: the setup every authorization-flow module runs (discovery, the
//! required endpoints, the JWKS checks), and the Config plan's
//! `oidcc-discovery-endpoint-verification`.

use crate::browser::Response;
use crate::report::{Abort, Log, Severity, Step};
use josekit::jwk::Jwk;
use serde_json::{Map, Value};
use std::collections::HashSet;
use url::Url;

pub const DISCOVERY_SUFFIX: &str = "/.well-known/openid-configuration";

/// What a module needs to know about the OP, read from discovery and the JWKS.
#[derive(Clone, Debug)]
pub struct ServerInfo {
    pub discovery_url: Url,
    pub metadata: Map<String, Value>,
    pub issuer: String,
    pub authorization_endpoint: Url,
    pub token_endpoint: Url,
    pub userinfo_endpoint: Url,
    pub registration_endpoint: Option<Url>,
    pub jwks_uri: Url,
    /// The JWKS `keys` (empty when the document did not parse).
    pub keys: Vec<Value>,
}

impl ServerInfo {
    /// A metadata member that is an array of strings.
    pub fn list(&self, name: &str) -> Option<Vec<String>> {
        string_list(&self.metadata, name)
    }

    /// Whether the metadata array `name` lists `value`.
    pub fn lists(&self, name: &str, value: &str) -> bool {
        self.list(name)
            .is_some_and(|l| l.iter().any(|v| v == value))
    }
}

fn string_list(metadata: &Map<String, Value>, name: &str) -> Option<Vec<String>> {
    metadata.get(name)?.as_array().map(|a| {
        a.iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    })
}

/// The discovery URL of an issuer.
pub fn discovery_url(issuer: &str) -> Result<Url, String> {
    Url::parse(&format!(
        "{}{DISCOVERY_SUFFIX}",
        issuer.trim_end_matches('/')
    ))
    .map_err(|e| format!("`{issuer}` is not a URL: {e}"))
}

async fn get(http: &reqwest::Client, url: &Url) -> Step<Response> {
    let response = http
        .get(url.clone())
        .header("accept", "application/json")
        .send()
        .await;
    let response = response
        .map_err(|e| Abort::Stop(format!("GET {url}: {}", crate::browser::error_chain(&e))))?;
    Response::read(response).await
}

/// The §2 setup: discovery [STOP], the required members [STOP], the JWKS [STOP] and its checks.
pub async fn setup(log: &mut Log, http: &reqwest::Client, issuer: &str) -> Step<ServerInfo> {
    let discovery_url = discovery_url(issuer).map_err(Abort::Stop)?;
    let response = get(http, &discovery_url).await?;
    if response.status != 200 {
        return Err(Abort::Stop(format!(
            "discovery answered {}",
            response.describe()
        )));
    }
    let metadata = response
        .json_object()
        .ok_or_else(|| Abort::Stop("the discovery document is not a JSON object".into()))?;
    let url_member = |name: &str| -> Step<Url> {
        let value = metadata
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| Abort::Stop(format!("discovery has no {name}")))?;
        Url::parse(value)
            .map_err(|e| Abort::Stop(format!("discovery {name} `{value}` is not a URL: {e}")))
    };
    let issuer_value = url_member("issuer")?;
    let _ = issuer_value;
    let issuer = metadata["issuer"].as_str().unwrap_or_default().to_string();
    let authorization_endpoint = url_member("authorization_endpoint")?;
    let token_endpoint = url_member("token_endpoint")?;
    let userinfo_endpoint = url_member("userinfo_endpoint").map_err(|e| match e {
        Abort::Stop(m) => Abort::Stop(format!("{m} (mandatory for certification)")),
        other => other,
    })?;
    let jwks_uri = url_member("jwks_uri")?;
    let registration_endpoint = metadata
        .get("registration_endpoint")
        .and_then(Value::as_str)
        .and_then(|u| Url::parse(u).ok());
    let keys = fetch_jwks(log, http, &jwks_uri).await?;
    Ok(ServerInfo {
        discovery_url,
        metadata,
        issuer,
        authorization_endpoint,
        token_endpoint,
        userinfo_endpoint,
        registration_endpoint,
        jwks_uri,
        keys,
    })
}

/// Fetches the JWKS [STOP] and runs every JWKS check on it; returns its keys.
pub async fn fetch_jwks(log: &mut Log, http: &reqwest::Client, jwks_uri: &Url) -> Step<Vec<Value>> {
    let response = get(http, jwks_uri).await?;
    if response.status != 200 {
        return Err(Abort::Stop(format!(
            "the JWKS answered {}",
            response.describe()
        )));
    }
    let keys = match response
        .json_object()
        .and_then(|jwks| jwks.get("keys").and_then(Value::as_array).cloned())
    {
        Some(keys) => keys,
        None => {
            log.warn("the JWKS is not a JSON object with a `keys` array");
            Vec::new()
        }
    };
    check_jwks(log, &keys);
    Ok(keys)
}

const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
const KNOWN_CURVES: &[&str] = &[
    "P-256",
    "P-384",
    "P-521",
    "secp256k1",
    "Ed25519",
    "Ed448",
    "X25519",
    "X448",
];
const KNOWN_ALGS: &[&str] = &[
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "ES256K",
    "EdDSA",
    "Ed25519",
    "Ed448",
    "RSA-OAEP",
    "RSA-OAEP-256",
    "RSA-OAEP-384",
    "RSA-OAEP-512",
    "RSA1_5",
    "ECDH-ES",
    "ECDH-ES+A128KW",
    "ECDH-ES+A192KW",
    "ECDH-ES+A256KW",
];

/// The JWKS checks: no private or symmetric material, structurally valid and parseable keys,
/// known kty/crv/alg (warnings), and a non-blank, distinct `kid` on every key.
pub fn check_jwks(log: &mut Log, keys: &[Value]) {
    let mut kids = HashSet::new();
    for (index, key) in keys.iter().enumerate() {
        let Some(key) = key.as_object() else {
            log.fail(format!("JWKS key {index} is not an object"));
            continue;
        };
        let kty = key.get("kty").and_then(Value::as_str).unwrap_or("");
        let name = key
            .get("kid")
            .and_then(Value::as_str)
            .map(|k| format!("`{k}`"))
            .unwrap_or_else(|| format!("#{index}"));
        let private: Vec<&str> = PRIVATE_MEMBERS
            .iter()
            .copied()
            .filter(|m| key.contains_key(*m))
            .collect();
        log.check(
            kty != "oct" && private.is_empty(),
            Severity::Failure,
            format!("JWKS key {name} has private or symmetric material {private:?}"),
        );
        let required: &[&str] = match kty {
            "RSA" => &["n", "e"],
            "EC" => &["crv", "x", "y"],
            "OKP" => &["crv", "x"],
            "oct" => &["k"],
            "" => {
                log.fail(format!("JWKS key {name} has no kty"));
                &[]
            }
            other => {
                log.warn(format!("JWKS key {name} has an unknown kty `{other}`"));
                &[]
            }
        };
        let missing: Vec<&&str> = required
            .iter()
            .filter(|m| key.get(**m).and_then(Value::as_str).is_none())
            .collect();
        log.check(
            missing.is_empty(),
            Severity::Failure,
            format!("JWKS key {name} lacks {missing:?}"),
        );
        if let Some(crv) = key.get("crv").and_then(Value::as_str) {
            log.check(
                KNOWN_CURVES.contains(&crv),
                Severity::Warning,
                format!("JWKS key {name} has an unknown crv `{crv}`"),
            );
        }
        let alg = key.get("alg").and_then(Value::as_str);
        if let Some(alg) = alg {
            log.check(
                KNOWN_ALGS.contains(&alg),
                Severity::Warning,
                format!("JWKS key {name} has an unknown alg `{alg}`"),
            );
        }
        if matches!(kty, "RSA" | "EC" | "OKP") && missing.is_empty() {
            match Jwk::from_map(key.clone()) {
                Ok(jwk) => {
                    let usable_alg = alg.map(str::to_string).or_else(|| {
                        match (kty, key.get("crv").and_then(Value::as_str)) {
                            ("RSA", _) => Some("RS256".into()),
                            ("EC", Some("P-256")) => Some("ES256".into()),
                            ("EC", Some("P-384")) => Some("ES384".into()),
                            ("EC", Some("P-521")) => Some("ES512".into()),
                            ("OKP", Some("Ed25519" | "Ed448")) => Some("EdDSA".into()),
                            _ => None,
                        }
                    });
                    let signing = key
                        .get("use")
                        .and_then(Value::as_str)
                        .is_none_or(|u| u == "sig");
                    if let (Some(alg), true) = (usable_alg, signing)
                        && KNOWN_ALGS.contains(&alg.as_str())
                        && !alg.starts_with("RSA")
                        && !alg.starts_with("ECDH")
                        && let Err(e) = parse_verifier(&alg, &jwk)
                    {
                        log.fail(format!("JWKS key {name} is not usable for {alg}: {e}"));
                    }
                }
                Err(e) => log.fail(format!("JWKS key {name} does not parse: {e}")),
            }
        }
        match key.get("kid").and_then(Value::as_str) {
            Some(kid) if !kid.trim().is_empty() => {
                log.check(
                    kids.insert(kid.to_string()),
                    Severity::Failure,
                    format!("the JWKS has kid `{kid}` more than once"),
                );
            }
            _ => log.fail(format!("JWKS key {name} has no (or a blank) kid")),
        }
    }
}

fn parse_verifier(alg: &str, jwk: &Jwk) -> Result<(), String> {
    use josekit::jws;
    let result = match alg {
        "RS256" => jws::RS256.verifier_from_jwk(jwk).map(drop),
        "RS384" => jws::RS384.verifier_from_jwk(jwk).map(drop),
        "RS512" => jws::RS512.verifier_from_jwk(jwk).map(drop),
        "PS256" => jws::PS256.verifier_from_jwk(jwk).map(drop),
        "PS384" => jws::PS384.verifier_from_jwk(jwk).map(drop),
        "PS512" => jws::PS512.verifier_from_jwk(jwk).map(drop),
        "ES256" => jws::ES256.verifier_from_jwk(jwk).map(drop),
        "ES384" => jws::ES384.verifier_from_jwk(jwk).map(drop),
        "ES512" => jws::ES512.verifier_from_jwk(jwk).map(drop),
        "EdDSA" => jws::EdDSA.verifier_from_jwk(jwk).map(drop),
        _ => Ok(()),
    };
    result.map_err(|e| e.to_string())
}

/// The metadata members the verification knows, with their JSON types (an RFC 8414 and OpenID
/// superset); anything else is a warning.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Url,
    Text,
    Bool,
    Strings,
    Object,
}

const SCHEMA: &[(&str, Kind)] = &[
    ("issuer", Kind::Url),
    ("authorization_endpoint", Kind::Url),
    ("token_endpoint", Kind::Url),
    ("userinfo_endpoint", Kind::Url),
    ("jwks_uri", Kind::Url),
    ("registration_endpoint", Kind::Url),
    ("scopes_supported", Kind::Strings),
    ("response_types_supported", Kind::Strings),
    ("response_modes_supported", Kind::Strings),
    ("grant_types_supported", Kind::Strings),
    ("acr_values_supported", Kind::Strings),
    ("subject_types_supported", Kind::Strings),
    ("id_token_signing_alg_values_supported", Kind::Strings),
    ("id_token_encryption_alg_values_supported", Kind::Strings),
    ("id_token_encryption_enc_values_supported", Kind::Strings),
    ("userinfo_signing_alg_values_supported", Kind::Strings),
    ("userinfo_encryption_alg_values_supported", Kind::Strings),
    ("userinfo_encryption_enc_values_supported", Kind::Strings),
    ("request_object_signing_alg_values_supported", Kind::Strings),
    (
        "request_object_encryption_alg_values_supported",
        Kind::Strings,
    ),
    (
        "request_object_encryption_enc_values_supported",
        Kind::Strings,
    ),
    ("token_endpoint_auth_methods_supported", Kind::Strings),
    (
        "token_endpoint_auth_signing_alg_values_supported",
        Kind::Strings,
    ),
    ("display_values_supported", Kind::Strings),
    ("claim_types_supported", Kind::Strings),
    ("claims_supported", Kind::Strings),
    ("service_documentation", Kind::Url),
    ("claims_locales_supported", Kind::Strings),
    ("ui_locales_supported", Kind::Strings),
    ("claims_parameter_supported", Kind::Bool),
    ("request_parameter_supported", Kind::Bool),
    ("request_uri_parameter_supported", Kind::Bool),
    ("require_request_uri_registration", Kind::Bool),
    ("op_policy_uri", Kind::Url),
    ("op_tos_uri", Kind::Url),
    ("revocation_endpoint", Kind::Url),
    ("revocation_endpoint_auth_methods_supported", Kind::Strings),
    (
        "revocation_endpoint_auth_signing_alg_values_supported",
        Kind::Strings,
    ),
    ("introspection_endpoint", Kind::Url),
    (
        "introspection_endpoint_auth_methods_supported",
        Kind::Strings,
    ),
    (
        "introspection_endpoint_auth_signing_alg_values_supported",
        Kind::Strings,
    ),
    ("code_challenge_methods_supported", Kind::Strings),
    ("end_session_endpoint", Kind::Url),
    ("check_session_iframe", Kind::Url),
    ("frontchannel_logout_supported", Kind::Bool),
    ("frontchannel_logout_session_supported", Kind::Bool),
    ("backchannel_logout_supported", Kind::Bool),
    ("backchannel_logout_session_supported", Kind::Bool),
    ("authorization_response_iss_parameter_supported", Kind::Bool),
    ("pushed_authorization_request_endpoint", Kind::Url),
    ("require_pushed_authorization_requests", Kind::Bool),
    ("require_signed_request_object", Kind::Bool),
    ("tls_client_certificate_bound_access_tokens", Kind::Bool),
    ("mtls_endpoint_aliases", Kind::Object),
    ("dpop_signing_alg_values_supported", Kind::Strings),
    ("authorization_signing_alg_values_supported", Kind::Strings),
    (
        "authorization_encryption_alg_values_supported",
        Kind::Strings,
    ),
    (
        "authorization_encryption_enc_values_supported",
        Kind::Strings,
    ),
    ("introspection_signing_alg_values_supported", Kind::Strings),
    ("device_authorization_endpoint", Kind::Url),
    ("prompt_values_supported", Kind::Strings),
    ("signed_metadata", Kind::Text),
];

fn is_https_url(value: &str) -> bool {
    Url::parse(value)
        .is_ok_and(|u| u.scheme() == "https" && u.host_str().is_some_and(|h| !h.is_empty()))
}

/// A BCP 47 language tag, loosely: subtags of 1–8 letters or digits, the first 2–3 or 4–8
/// letters (or the private-use `x`/grandfathered `i`).
fn bcp47(tag: &str) -> bool {
    let subtags: Vec<&str> = tag.split('-').collect();
    let first = subtags[0];
    let first_ok =
        (first.len() >= 2 && first.len() <= 8 && first.bytes().all(|b| b.is_ascii_alphabetic()))
            || first.eq_ignore_ascii_case("x")
            || first.eq_ignore_ascii_case("i");
    first_ok
        && subtags[1..]
            .iter()
            .all(|s| !s.is_empty() && s.len() <= 8 && s.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// Canonical casing: language lower case, a 4-letter script title case, a 2-letter region upper
/// case.
fn bcp47_canonical(tag: &str) -> bool {
    tag.split('-').enumerate().all(|(i, s)| {
        if i == 0 {
            s == s.to_ascii_lowercase()
        } else if s.len() == 4 && s.bytes().all(|b| b.is_ascii_alphabetic()) {
            s[..1] == s[..1].to_ascii_uppercase() && s[1..] == s[1..].to_ascii_lowercase()
        } else if s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic()) {
            s == s.to_ascii_uppercase()
        } else {
            s == s.to_ascii_lowercase()
        }
    })
}

fn response_type_set(value: &str) -> Vec<&str> {
    let mut parts: Vec<&str> = value.split_whitespace().collect();
    parts.sort_unstable();
    parts
}

/// `oidcc-discovery-endpoint-verification`, with the static or the dynamic rules.
pub async fn verify_discovery(
    log: &mut Log,
    http: &reqwest::Client,
    issuer: &str,
    dynamic: bool,
) -> Step {
    let discovery_url = discovery_url(issuer).map_err(Abort::Stop)?;
    let response = get(http, &discovery_url).await?;
    log.check(
        response.status == 200,
        Severity::Failure,
        format!("discovery answered {}", response.describe()),
    );
    log.check(
        response.media_type().as_deref() == Some("application/json"),
        Severity::Failure,
        format!(
            "discovery Content-Type is {:?}, not application/json",
            response.header("content-type")
        ),
    );
    let metadata = response
        .json_object()
        .ok_or_else(|| Abort::Stop("the discovery document is not a JSON object".into()))?;

    // The discovery URL and the issuer.
    log.check(
        discovery_url.scheme() == "https",
        Severity::Failure,
        format!("the discovery URL {discovery_url} is not https"),
    );
    let doc_issuer = metadata.get("issuer").and_then(Value::as_str).unwrap_or("");
    let expected = discovery_url
        .as_str()
        .strip_suffix(DISCOVERY_SUFFIX)
        .unwrap_or("");
    log.check(
        doc_issuer == expected || doc_issuer.trim_end_matches('/') == expected,
        Severity::Failure,
        format!(
            "issuer `{doc_issuer}` is not the discovery URL minus {DISCOVERY_SUFFIX} (`{expected}`)"
        ),
    );
    match Url::parse(doc_issuer) {
        Ok(url) => {
            log.check(
                url.scheme() == "https",
                Severity::Failure,
                "the issuer is not https",
            );
            log.check(
                url.host_str().is_some_and(|h| !h.is_empty()),
                Severity::Failure,
                "the issuer has no host",
            );
            log.check(
                url.query().is_none() && url.fragment().is_none(),
                Severity::Failure,
                "the issuer has a query or a fragment",
            );
            log.check(
                url.username().is_empty() && url.password().is_none(),
                Severity::Failure,
                "the issuer has user information",
            );
        }
        Err(e) => log.fail(format!("the issuer `{doc_issuer}` is not a URL: {e}")),
    }

    // Member types, and unknown members.
    for (name, value) in &metadata {
        match SCHEMA.iter().find(|(n, _)| n == name) {
            Some((_, kind)) => {
                let ok = match kind {
                    Kind::Url => value.as_str().is_some_and(|s| Url::parse(s).is_ok()),
                    Kind::Text => value.is_string(),
                    Kind::Bool => value.is_boolean(),
                    Kind::Strings => value
                        .as_array()
                        .is_some_and(|a| a.iter().all(Value::is_string)),
                    Kind::Object => value.is_object(),
                };
                log.check(
                    ok,
                    Severity::Failure,
                    format!("discovery {name} has the wrong type: {value}"),
                );
            }
            None => log.warn(format!(
                "discovery has a member the schema does not know: {name}"
            )),
        }
    }

    // response_types_supported.
    let response_types = string_list(&metadata, "response_types_supported").unwrap_or_default();
    let sets: Vec<Vec<&str>> = response_types
        .iter()
        .map(|t| response_type_set(t))
        .collect();
    let has = |t: &str| sets.contains(&response_type_set(t));
    if dynamic {
        for t in ["code", "id_token", "id_token token"] {
            log.check(
                has(t),
                Severity::Failure,
                format!("response_types_supported lacks `{t}` (dynamic registration needs it)"),
            );
        }
    } else {
        let oidc = [
            "code",
            "id_token",
            "id_token token",
            "code id_token",
            "code token",
            "code id_token token",
        ];
        log.check(
            oidc.iter().any(|t| has(t)),
            Severity::Failure,
            "response_types_supported lists no OpenID Connect response type",
        );
    }

    // Subjects and algorithms.
    let subject_types = string_list(&metadata, "subject_types_supported").unwrap_or_default();
    log.check(
        subject_types
            .iter()
            .any(|s| s == "public" || s == "pairwise"),
        Severity::Failure,
        "subject_types_supported lists neither public nor pairwise",
    );
    log.check(
        string_list(&metadata, "id_token_signing_alg_values_supported")
            .is_some_and(|l| l.iter().any(|a| a == "RS256")),
        Severity::Failure,
        "id_token_signing_alg_values_supported does not list RS256",
    );
    if let Some(value) = metadata.get("userinfo_signing_alg_values_supported") {
        log.check(
            value.is_array(),
            Severity::Failure,
            "userinfo_signing_alg_values_supported is not an array",
        );
    }

    // Endpoints.
    let https = |name: &str| {
        metadata
            .get(name)
            .and_then(Value::as_str)
            .is_some_and(is_https_url)
    };
    log.check(
        https("authorization_endpoint"),
        Severity::Failure,
        "authorization_endpoint is missing or not https",
    );
    log.check(
        https("token_endpoint"),
        Severity::Failure,
        "token_endpoint is missing or not https",
    );
    if metadata.contains_key("userinfo_endpoint") {
        log.check(
            https("userinfo_endpoint"),
            Severity::Failure,
            "userinfo_endpoint is not https",
        );
    } else {
        log.warn("discovery has no userinfo_endpoint");
    }
    if metadata.contains_key("registration_endpoint") {
        log.check(
            https("registration_endpoint"),
            Severity::Failure,
            "registration_endpoint is not https",
        );
    }
    for (name, value) in &metadata {
        if name.ends_with("_endpoint") {
            log.check(
                value.as_str().is_some_and(is_https_url),
                Severity::Failure,
                format!("{name} is not an https URL"),
            );
        }
    }

    // Request objects, claims.
    if metadata.get("request_parameter_supported") != Some(&Value::Bool(true)) {
        log.info("request_parameter_supported is not true");
    }
    if metadata.get("request_uri_parameter_supported") == Some(&Value::Bool(false)) {
        log.info("request_uri_parameter_supported is false");
    }
    if let Some(algs) = string_list(&metadata, "request_object_signing_alg_values_supported") {
        log.check(
            algs.iter().any(|a| a == "RS256"),
            Severity::Warning,
            "request_object_signing_alg_values_supported does not list RS256",
        );
    }
    if metadata.get("claims_parameter_supported") != Some(&Value::Bool(true)) {
        log.info("claims_parameter_supported is not true");
    }
    log.check(
        metadata
            .get("claims_supported")
            .is_some_and(Value::is_array),
        Severity::Warning,
        "claims_supported is missing or not an array",
    );

    // Grant types.
    if let Some(value) = metadata.get("grant_types_supported") {
        let grants = string_list(&metadata, "grant_types_supported").unwrap_or_default();
        if dynamic {
            for g in ["authorization_code", "implicit"] {
                log.check(
                    grants.iter().any(|x| x == g),
                    Severity::Failure,
                    format!("grant_types_supported lacks {g}"),
                );
            }
        } else {
            log.check(
                value.as_array().is_some_and(|a| !a.is_empty()),
                Severity::Failure,
                "grant_types_supported is an empty array",
            );
        }
    }

    // Scopes.
    match string_list(&metadata, "scopes_supported") {
        None => log.warn("discovery has no scopes_supported"),
        Some(scopes) => {
            log.check(
                scopes.iter().any(|s| s == "openid"),
                Severity::Failure,
                "scopes_supported does not list openid",
            );
            for scope in &scopes {
                let ok = !scope.is_empty()
                    && scope
                        .bytes()
                        .all(|b| matches!(b, 0x21 | 0x23..=0x5b | 0x5d..=0x7e));
                log.check(
                    ok,
                    Severity::Failure,
                    format!("scopes_supported has an illegal scope {scope:?}"),
                );
            }
        }
    }

    // Locales.
    for name in ["ui_locales_supported", "claims_locales_supported"] {
        for tag in string_list(&metadata, name).unwrap_or_default() {
            if log.check(
                bcp47(&tag),
                Severity::Failure,
                format!("{name} has an invalid BCP 47 tag `{tag}`"),
            ) {
                log.check(
                    bcp47_canonical(&tag),
                    Severity::Warning,
                    format!("{name} tag `{tag}` is not in canonical case"),
                );
            }
        }
    }

    // PKCE.
    if let Some(methods) = string_list(&metadata, "code_challenge_methods_supported")
        && !methods.is_empty()
    {
        log.check(
            methods.iter().any(|m| m == "S256" || m == "plain"),
            Severity::Failure,
            "code_challenge_methods_supported lists neither S256 nor plain",
        );
    }

    // The JWKS.
    match metadata.get("jwks_uri").and_then(Value::as_str) {
        Some(uri) => {
            log.check(
                is_https_url(uri),
                Severity::Failure,
                "jwks_uri is not https",
            );
            let url = Url::parse(uri)
                .map_err(|e| Abort::Stop(format!("jwks_uri `{uri}` is not a URL: {e}")))?;
            fetch_jwks(log, http, &url).await?;
        }
        None => return Err(Abort::Stop("discovery has no jwks_uri".into())),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_tags() {
        assert!(bcp47("en") && bcp47("en-US") && bcp47("zh-Hant-TW") && bcp47("se"));
        assert!(!bcp47("en_US") && !bcp47("") && !bcp47("e"));
        assert!(
            bcp47_canonical("zh-Hant-TW") && !bcp47_canonical("en-us") && !bcp47_canonical("EN")
        );
    }

    #[test]
    fn jwks_without_kids_or_with_private_parts_fails() {
        let mut log = Log::default();
        let keys: Vec<Value> = serde_json::from_str(r#"[{"kty":"oct","k":"AAAA","kid":"a"},{"kty":"EC","crv":"P-256","x":"a","y":"b","kid":"a"},{"kty":"RSA","n":"x","e":"AQAB"}]"#).unwrap();
        check_jwks(&mut log, &keys);
        let failures = log
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Failure)
            .count();
        assert!(failures >= 4, "{:?}", log.findings);
    }

    #[test]
    fn response_types_compare_as_sets() {
        assert_eq!(
            response_type_set("token id_token"),
            response_type_set("id_token token")
        );
    }
}
