//! The `authorization_code` grant (RFC 6749 §4.1.3, OpenID Connect Core §3.1.3): the code is
//! spent atomically; a second use revokes everything issued from the first; the redirect URI
//! and the PKCE verifier (RFC 7636) are checked.

use super::TokenResponse;
use super::issue::{self, PlannedRefreshToken, UserGrant};
use crate::crypto::{b64url, constant_time_eq, sha256, token_key};
use crate::oauth::form::FormParams;
use crate::oauth::{Client, OAuthError};
use crate::state::AppState;
use poort_storage::now;
use crate::tokens::access_token::PlannedAccessToken;
use poort_storage::repo::{AuthorizationCodeRecord, CodeCheck, ConsumeOutcome, TokensForCode};
use std::sync::Arc;

/// A token request for this grant, its parameters checked for shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    code: String,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
}

impl Request {
    pub fn from_params(params: &FormParams) -> Result<Self, OAuthError> {
        let code_verifier = params.get("code_verifier");
        if code_verifier.is_some_and(|v| !is_verifier(v)) {
            return Err(OAuthError::invalid_request("code_verifier must be 43 to 128 unreserved characters"));
        }
        Ok(Self {
            code: params.require("code")?.to_string(),
            redirect_uri: params.get("redirect_uri").map(str::to_string),
            code_verifier: code_verifier.map(str::to_string),
        })
    }
}

/// RFC 7636 §4.1: 43 to 128 characters of `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`.
fn is_verifier(value: &str) -> bool {
    (43..=128).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Redeems the code for the authenticated `client`. The checks the request can fail run on
/// the stored code inside the write that spends it, so a failed request changes nothing; a
/// code already spent means a copy is in other hands, and everything issued from it is revoked.
/// The same write stores the tokens issued for the code: the exchange happens whole or not at
/// all, and waits for one commit.
pub async fn exchange(state: &AppState, client: &Client, request: Request) -> Result<TokenResponse, OAuthError> {
    let at = now();
    let hash = token_key(&state.hash_key, &request.code);
    let not_valid = || OAuthError::invalid_grant("the authorization code is not valid");
    let accept: CodeCheck = {
        let (client, request) = (client.clone(), request.clone());
        Arc::new(move |code| check_code(&client, code, &request).is_ok())
    };
    let access = PlannedAccessToken::new(state, client);
    let refresh = client.allows_grant("refresh_token").then(|| PlannedRefreshToken::new(state));
    let tokens: TokensForCode = {
        let (access, refresh, client_id) = (access.clone(), refresh.clone(), client.id.clone());
        Arc::new(move |code| {
            let mut rows = vec![access.row(&client_id, &code.grant_id, Some(&code.user_id), &code.scope)];
            if let Some(refresh) = refresh.as_ref().filter(|_| issue::has_scope(&code.scope, "offline_access")) {
                rows.push(refresh.row(&client_id, &code.grant_id, &code.user_id, &code.scope));
            }
            rows
        })
    };
    let code = match state.store.grants().redeem_code_for_tokens(&hash, at, accept, tokens).await? {
        ConsumeOutcome::Consumed(code) => code,
        ConsumeOutcome::Refused(code) => return Err(check_code(client, &code, &request).err().unwrap_or_else(not_valid)),
        ConsumeOutcome::AlreadyUsed(code) => {
            // Someone holds a copy of the code: end everything issued from it.
            state.store.grants().revoke_grant(&code.grant_id, at).await?;
            tracing::warn!(grant_id = %code.grant_id, client_id = %client.id, "an authorization code was used again; its grant is revoked");
            return Err(OAuthError::invalid_grant("the authorization code has already been used"));
        }
        ConsumeOutcome::Expired => return Err(OAuthError::invalid_grant("the authorization code has expired")),
        ConsumeOutcome::NotFound => return Err(not_valid()),
    };
    let user = match issue::active_user(state, &code.user_id).await {
        Ok(user) => user,
        Err(refused) => {
            // The tokens stored with the code must not outlive the refusal.
            state.store.grants().revoke_grant(&code.grant_id, at).await?;
            return Err(refused);
        }
    };
    let grant = UserGrant {
        client,
        grant_id: &code.grant_id,
        user: &user,
        scope: &code.scope,
        auth_time: Some(code.auth_time),
        session_id: Some(&code.session_id),
        nonce: code.nonce.as_deref(),
        acr: code.acr.as_deref(),
        amr: &code.amr,
        claims_parameter: code.claims.as_ref(),
    };
    let access = issue::finish_access_token(state, &grant, access)?;
    let id_token = if issue::has_scope(&code.scope, "openid") {
        Some(issue::id_token_for(state, &grant, Some(&access.token), None, false)?)
    } else {
        None
    };
    let refresh_token = refresh.filter(|_| issue::wants_refresh_token(client, &code.scope)).map(|r| r.token);
    Ok(TokenResponse {
        refresh_token,
        id_token,
        scope: Some(code.scope.clone()),
        ..TokenResponse::bearer(access.token, access.expires_in)
    })
}

/// What the request must match in the stored code before it is spent: the client it was
/// issued to, the redirect URI and the PKCE verifier.
fn check_code(client: &Client, code: &AuthorizationCodeRecord, request: &Request) -> Result<(), OAuthError> {
    if code.client_id != client.id {
        return Err(OAuthError::invalid_grant("the authorization code is not valid"));
    }
    check_redirect_uri(client, code, request.redirect_uri.as_deref())?;
    check_pkce(client, code, request.code_verifier.as_deref())
}

/// RFC 6749 §4.1.3: the `redirect_uri` of the authorization request, identical; when that
/// request had none (one URI registered), a value sent now must still be a registered one.
fn check_redirect_uri(client: &Client, code: &AuthorizationCodeRecord, sent: Option<&str>) -> Result<(), OAuthError> {
    let matches = match (code.redirect_uri.as_str(), sent) {
        ("", None) => true,
        ("", Some(sent)) => client.has_redirect_uri(sent),
        (stored, Some(sent)) => stored == sent,
        (_, None) => false,
    };
    if matches {
        Ok(())
    } else {
        Err(OAuthError::invalid_grant("redirect_uri does not match the authorization request"))
    }
}

/// RFC 7636 §4.6. A verifier without a challenge is refused too (it cannot be what the client
/// meant), and public clients must have used PKCE.
fn check_pkce(client: &Client, code: &AuthorizationCodeRecord, verifier: Option<&str>) -> Result<(), OAuthError> {
    let failed = |why: &'static str| Err(OAuthError::invalid_grant(why));
    let Some(challenge) = code.code_challenge.as_deref() else {
        return match verifier {
            Some(_) => failed("code_verifier was sent but the authorization request had no code_challenge"),
            None if client.is_public() => failed("public clients must use PKCE"),
            None => Ok(()),
        };
    };
    let Some(verifier) = verifier else { return failed("code_verifier is required") };
    let computed = match code.code_challenge_method.as_deref().unwrap_or("plain") {
        "S256" => b64url(&sha256(verifier.as_bytes())),
        "plain" if client.metadata.allow_plain_pkce => verifier.to_string(),
        _ => return failed("the code_challenge_method is not accepted"),
    };
    if constant_time_eq(computed.as_bytes(), challenge.as_bytes()) {
        Ok(())
    } else {
        failed("code_verifier does not match")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::client::test_client as client;

    fn code(redirect_uri: &str, challenge: Option<(&str, &str)>) -> AuthorizationCodeRecord {
        AuthorizationCodeRecord {
            code_hash: "h".into(),
            grant_id: "g".into(),
            client_id: "c1".into(),
            user_id: "u".into(),
            session_id: "s".into(),
            redirect_uri: redirect_uri.into(),
            scope: "openid".into(),
            nonce: None,
            code_challenge: challenge.map(|c| c.0.to_string()),
            code_challenge_method: challenge.map(|c| c.1.to_string()),
            claims: None,
            auth_time: 1,
            acr: None,
            amr: vec![],
            created_at: 1,
            expires_at: 2,
            consumed_at: Some(1),
        }
    }

    #[test]
    fn redirect_uris_must_be_identical_or_registered() {
        let c = client(serde_json::json!({ "redirect_uris": ["https://rp.example/cb", "https://rp.example/cb2"] }));
        assert!(check_redirect_uri(&c, &code("https://rp.example/cb", None), Some("https://rp.example/cb")).is_ok());
        assert!(check_redirect_uri(&c, &code("https://rp.example/cb", None), Some("https://rp.example/cb2")).is_err());
        assert!(check_redirect_uri(&c, &code("https://rp.example/cb", None), None).is_err());
        assert!(check_redirect_uri(&c, &code("", None), None).is_ok());
        assert!(check_redirect_uri(&c, &code("", None), Some("https://rp.example/cb2")).is_ok());
        assert!(check_redirect_uri(&c, &code("", None), Some("https://evil.example/cb")).is_err());
    }

    #[test]
    fn pkce_follows_rfc_7636() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let s256 = ("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "S256");
        let confidential = client(serde_json::json!({}));
        let public = client(serde_json::json!({ "token_endpoint_auth_method": "none" }));
        assert!(check_pkce(&confidential, &code("", Some(s256)), Some(verifier)).is_ok());
        assert!(check_pkce(&public, &code("", Some(s256)), Some(verifier)).is_ok());
        assert!(check_pkce(&confidential, &code("", Some(s256)), Some(&verifier.replace('d', "e"))).is_err());
        assert!(check_pkce(&confidential, &code("", Some(s256)), None).is_err());
        assert!(check_pkce(&confidential, &code("", None), Some(verifier)).is_err());
        assert!(check_pkce(&confidential, &code("", None), None).is_ok());
        assert!(check_pkce(&public, &code("", None), None).is_err(), "public clients need PKCE");
        let plain = (verifier, "plain");
        assert!(check_pkce(&confidential, &code("", Some(plain)), Some(verifier)).is_err(), "plain only when allowed");
        let lenient = client(serde_json::json!({ "allow_plain_pkce": true }));
        assert!(check_pkce(&lenient, &code("", Some(plain)), Some(verifier)).is_ok());
    }

    #[test]
    fn verifiers_have_the_rfc_shape() {
        assert!(is_verifier(&"a".repeat(43)) && is_verifier(&"~._-".repeat(32)));
        assert!(!is_verifier(&"a".repeat(42)) && !is_verifier(&"a".repeat(129)) && !is_verifier(&"+".repeat(50)));
    }
}
