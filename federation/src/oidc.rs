//! The relying-party side of an upstream sign-in, with the `openidconnect` crate: the
//! authorization request (code flow, PKCE S256, a fresh `state` and `nonce`) and the callback
//! (the code exchanged with the client secret or a `private_key_jwt` assertion, the ID token's
//! signature, issuer, audience, expiry and nonce checked, userinfo when configured).
//!
//! [`Pending`] is what the caller must keep, bound to the browser and single use, between the
//! two: the provider seals it into a database row.

use crate::connector::Connector;
use crate::discovery::Upstreams;
use crate::error::{Failure, Reason, from_http};
use crate::profile::{self, UpstreamIdentity};
use josekit::jws::{ES256, JwsHeader, RS256};
use josekit::jwt::{self, JwtPayload};
use openidconnect::core::{CoreAuthPrompt, CoreAuthenticationFlow, CoreClient, CoreUserInfoClaims};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, SignatureVerificationError,
    TokenResponse, UserInfoError,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// What the callback needs from the authorization request.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub connector: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending").field("connector", &self.connector).finish_non_exhaustive()
    }
}

/// An authorization request to send the browser to.
#[derive(Debug)]
pub struct Started {
    pub url: url::Url,
    /// The `state` in `url`; the callback must bring it back.
    pub state: String,
    pub pending: Pending,
}

/// Optional parts of the authorization request.
#[derive(Debug, Default, Clone)]
pub struct Hints<'a> {
    pub login_hint: Option<&'a str>,
    /// Ask the upstream to authenticate again (only when the relying party asked Poort to).
    pub force_login: bool,
    pub ui_locales: Option<&'a str>,
}

fn client(connector: &Connector, metadata: &openidconnect::core::CoreProviderMetadata, redirect_uri: &str) -> Result<RpClient, Failure> {
    let client_id = ClientId::new(connector.settings.client_id.clone().unwrap_or_default());
    let secret = connector.secrets.client_secret.clone().map(ClientSecret::new);
    let redirect = RedirectUrl::new(redirect_uri.to_string())
        .map_err(|e| Failure::new(Reason::InvalidAnswer, format!("redirect URI {redirect_uri}: {e}")))?;
    let mut client = CoreClient::from_provider_metadata(metadata.clone(), client_id, secret).set_redirect_uri(redirect);
    if connector.secrets.client_secret.is_none() {
        // private_key_jwt: the client id goes in the body beside the assertion.
        client = client.set_auth_type(openidconnect::AuthType::RequestBody);
    }
    Ok(client)
}

type RpClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// Builds the authorization request for `connector`, answering at `redirect_uri`.
pub async fn start(upstreams: &Upstreams, connector: &Connector, redirect_uri: &str, hints: Hints<'_>) -> Result<Started, Failure> {
    let metadata = upstreams.metadata(connector, false).await?;
    let client = client(connector, &metadata, redirect_uri)?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge);
    for scope in connector.scopes().into_iter().filter(|s| s != "openid") {
        request = request.add_scope(Scope::new(scope));
    }
    if let Some(hint) = hints.login_hint.filter(|h| !h.is_empty()) {
        request = request.add_extra_param("login_hint", hint.to_string());
    }
    if let Some(locales) = hints.ui_locales.filter(|l| !l.is_empty()) {
        request = request.add_extra_param("ui_locales", locales.to_string());
    }
    if let [domain] = connector.settings.hosted_domains.as_slice() {
        // Google shows only that Workspace's accounts.
        request = request.add_extra_param("hd", domain.clone());
    }
    if hints.force_login {
        request = request.add_prompt(CoreAuthPrompt::Login);
    }
    let (url, state, nonce) = request.url();
    let pending = Pending {
        connector: connector.id().to_string(),
        nonce: nonce.secret().clone(),
        pkce_verifier: verifier.secret().clone(),
    };
    Ok(Started { url, state: state.secret().clone(), pending })
}

/// What came back to the redirect URI (the caller has matched `state` to `Pending`).
#[derive(Debug, Default, Clone)]
pub struct Callback {
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    /// The authorization response's `iss` (RFC 9207), when the upstream sends one.
    pub iss: Option<String>,
}

/// Finishes the sign-in: exchanges the code and checks everything the answer says.
pub async fn finish(
    upstreams: &Upstreams,
    connector: &Connector,
    redirect_uri: &str,
    callback: Callback,
    pending: &Pending,
) -> Result<UpstreamIdentity, Failure> {
    if let Some(error) = callback.error {
        let description = callback.error_description.unwrap_or_default();
        return Err(Failure::new(Reason::UpstreamRefused, format!("the upstream answered {error}: {description}").trim_end_matches([':', ' ']).to_string()));
    }
    let code = callback.code.filter(|c| !c.is_empty()).ok_or_else(|| Failure::new(Reason::InvalidAnswer, "the callback has neither a code nor an error"))?;
    let metadata = upstreams.metadata(connector, false).await?;
    // RFC 9207: an answer naming another issuer is another provider's (a mix-up attack).
    if let Some(iss) = &callback.iss
        && !issuer_matches(metadata.issuer().as_str(), iss)
    {
        return Err(Failure::new(Reason::WrongIssuer, format!("the authorization response names the issuer {iss}")));
    }
    let client = client(connector, &metadata, redirect_uri)?;
    let http = upstreams.http(connector);
    let mut exchange = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| Failure::new(Reason::InvalidAnswer, format!("the upstream has no token endpoint: {e}")))?
        .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()));
    if let Some(pem) = &connector.secrets.private_key_pem {
        let token_endpoint = metadata.token_endpoint().map(|u| u.to_string()).unwrap_or_default();
        let assertion = client_assertion(connector, pem, &token_endpoint)?;
        exchange = exchange
            .add_extra_param("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
            .add_extra_param("client_assertion", assertion);
    }
    let tokens = exchange.request_async(&http).await.map_err(token_failure)?;
    let id_token = tokens.id_token().ok_or_else(|| Failure::new(Reason::InvalidAnswer, "the token response has no ID token"))?;
    let nonce = Nonce::new(pending.nonce.clone());
    let verify = |client: &RpClient| {
        let verifier = client.id_token_verifier().require_issuer_match(!connector.settings.is_multi_tenant());
        id_token.claims(&verifier, &nonce).map(|_| ())
    };
    match verify(&client) {
        Ok(()) => {}
        Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
            // Perhaps the upstream rotated its keys since they were fetched: fetch once more.
            let fresh = upstreams.metadata(connector, true).await?;
            verify(&self::client(connector, &fresh, redirect_uri)?).map_err(claims_failure)?;
        }
        Err(error) => return Err(claims_failure(error)),
    }
    let mut claims = payload(&id_token.to_string())?;
    if connector.settings.userinfo {
        let subject = id_token.claims(&client.id_token_verifier().insecure_disable_signature_check().require_issuer_match(false), |_: Option<&Nonce>| Ok(()))
            .map(|c| c.subject().clone())
            .map_err(claims_failure)?;
        let request = client
            .user_info(tokens.access_token().clone(), Some(subject))
            .map_err(|e| Failure::new(Reason::InvalidAnswer, format!("userinfo is configured but the upstream has no userinfo endpoint: {e}")))?;
        let userinfo: CoreUserInfoClaims = request.request_async(&http).await.map_err(userinfo_failure)?;
        if let Ok(Value::Object(more)) = serde_json::to_value(&userinfo) {
            for (name, value) in more {
                if !value.is_null() && !matches!(name.as_str(), "iss" | "aud" | "sub") {
                    claims.insert(name, value);
                }
            }
        }
    }
    profile::identity(connector, &claims, metadata.issuer().as_str())
}

/// Whether `iss` is the issuer `expected` names; Entra's multi-tenant template stands for any
/// tenant (`{tenantid}`: one path segment), whose own issuer the ID token is checked against.
fn issuer_matches(expected: &str, iss: &str) -> bool {
    let trim = |s: &str| s.trim_end_matches('/').to_string();
    match expected.split_once("{tenantid}") {
        None => trim(expected) == trim(iss),
        Some((before, after)) => iss
            .strip_prefix(before)
            .and_then(|rest| rest.strip_suffix(after))
            .is_some_and(|tenant| !tenant.is_empty() && !tenant.contains('/')),
    }
}

/// The verified ID token's payload as JSON, for the claims the crate's types do not name
/// (`tid`, `oid`, `hd`, `amr`, mapped claims).
fn payload(jwt: &str) -> Result<Map<String, Value>, Failure> {
    use base64::Engine as _;
    let part = jwt.split('.').nth(1).unwrap_or("");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|e| Failure::new(Reason::InvalidAnswer, format!("the ID token payload is not base64url: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| Failure::new(Reason::InvalidAnswer, format!("the ID token payload is not a JSON object: {e}")))
}

/// A `private_key_jwt` client assertion (RFC 7523), signed with josekit: RS256 for an RSA key,
/// ES256 for a P-256 key.
fn client_assertion(connector: &Connector, pem: &str, audience: &str) -> Result<String, Failure> {
    let client_id = connector.settings.client_id.clone().unwrap_or_default();
    let mut payload = JwtPayload::new();
    payload.set_issuer(&client_id);
    payload.set_subject(&client_id);
    payload.set_audience(vec![audience]);
    payload.set_jwt_id(uuid::Uuid::new_v4().to_string());
    let now = std::time::SystemTime::now();
    payload.set_issued_at(&now);
    payload.set_expires_at(&(now + std::time::Duration::from_secs(60)));
    let bad_key = |e: josekit::JoseError| Failure::new(Reason::InvalidAnswer, format!("connector {}'s private key cannot sign: {e}", connector.id()));
    let mut header = JwsHeader::new();
    header.set_token_type("JWT");
    if let Ok(signer) = RS256.signer_from_pem(pem) {
        header.set_algorithm("RS256");
        return jwt::encode_with_signer(&payload, &header, &signer).map_err(bad_key);
    }
    let signer = ES256.signer_from_pem(pem).map_err(bad_key)?;
    header.set_algorithm("ES256");
    jwt::encode_with_signer(&payload, &header, &signer).map_err(bad_key)
}

fn token_failure<RE: std::error::Error + 'static>(
    error: RequestTokenError<openidconnect::HttpClientError<RE>, openidconnect::StandardErrorResponse<openidconnect::core::CoreErrorResponseType>>,
) -> Failure {
    match error {
        RequestTokenError::ServerResponse(response) => Failure::new(
            Reason::UpstreamRefused,
            format!("the token endpoint answered {}{}", response.error().as_ref(), response.error_description().map(|d| format!(": {d}")).unwrap_or_default()),
        ),
        RequestTokenError::Request(error) => http_failure("the token request", &error),
        RequestTokenError::Parse(error, _) => Failure::new(Reason::InvalidAnswer, format!("the token response is not a valid JSON token response: {error}")),
        RequestTokenError::Other(text) => Failure::new(Reason::InvalidAnswer, format!("the token response: {text}")),
    }
}

fn http_failure<RE: std::error::Error + 'static>(what: &str, error: &openidconnect::HttpClientError<RE>) -> Failure {
    if let openidconnect::HttpClientError::Reqwest(inner) = error
        && let Some(reqwest) = (inner.as_ref() as &dyn std::error::Error).downcast_ref::<reqwest::Error>()
    {
        return from_http(what, reqwest);
    }
    Failure::new(Reason::Unavailable, format!("{what} failed: {error}"))
}

fn claims_failure(error: ClaimsVerificationError) -> Failure {
    let (reason, what) = match &error {
        ClaimsVerificationError::SignatureVerification(_) => (Reason::BadSignature, "signature"),
        ClaimsVerificationError::InvalidIssuer(_) => (Reason::WrongIssuer, "issuer"),
        ClaimsVerificationError::InvalidAudience(_) => (Reason::WrongAudience, "audience"),
        ClaimsVerificationError::Expired(_) => (Reason::TokenExpired, "expiry"),
        ClaimsVerificationError::InvalidNonce(_) => (Reason::WrongNonce, "nonce"),
        _ => (Reason::InvalidAnswer, "claims"),
    };
    Failure::new(reason, format!("the ID token's {what} is not valid: {error}"))
}

fn userinfo_failure<RE: std::error::Error + 'static>(error: UserInfoError<openidconnect::HttpClientError<RE>>) -> Failure {
    match error {
        UserInfoError::Request(error) => http_failure("the userinfo request", &error),
        UserInfoError::ClaimsVerification(error) => {
            Failure::new(Reason::InvalidAnswer, format!("the userinfo answer does not match the ID token: {error}"))
        }
        UserInfoError::Response(status, _, text) => Failure::new(Reason::UpstreamRefused, format!("the userinfo endpoint answered HTTP {status}: {text}")),
        other => Failure::new(Reason::InvalidAnswer, format!("the userinfo answer: {other}")),
    }
}

#[cfg(test)]
mod tests {
    use super::issuer_matches;

    #[test]
    fn response_issuers_match_exactly_or_per_tenant() {
        assert!(issuer_matches("https://idp.example", "https://idp.example/"));
        assert!(!issuer_matches("https://idp.example", "https://evil.example"));
        let template = "https://login.microsoftonline.com/{tenantid}/v2.0";
        assert!(issuer_matches(template, "https://login.microsoftonline.com/72f988bf/v2.0"));
        for bad in ["https://login.microsoftonline.com//v2.0", "https://login.microsoftonline.com/a/b/v2.0", "https://evil.example/a/v2.0"] {
            assert!(!issuer_matches(template, bad), "{bad}");
        }
    }
}
