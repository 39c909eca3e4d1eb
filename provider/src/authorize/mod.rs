//! The authorization endpoint (GET and POST). A request goes through three stages:
//!
//! 1. **Client and redirect URI** — until both are known good, every error is a page and never a
//!    redirect (an open redirector is worse than an unhelpful page).
//! 2. **The checks** in `request::CHECKS`, in order; a failure goes back to the client's
//!    redirect URI with its RFC error code.
//! 3. **The user**: is there a session that satisfies `prompt`, `max_age` and `id_token_hint`,
//!    may the user use this client (roles), has the user accepted the client's current terms of
//!    service, and is there consent for these scopes? If not, the user signs in, accepts the terms
//!    or consents (or, with `prompt=none`, the client hears why not); then what the response
//!    type asks for is issued: a code, an access token, an ID token (see [`issue`]).
//!
//! Interaction pages carry the request in a sealed ticket; finishing one runs the same pipeline
//! again with what the user just did, so every node can serve every step.

pub mod interaction;
pub mod pages;
pub mod params;
pub mod request;
pub mod request_object;
pub mod request_uri;
pub mod response;
pub mod ticket;

use crate::crypto::{ordered_token, token_key};
use crate::oauth::subject::subject_for;
use crate::oauth::{Client, ErrorCode, OAuthError};
use crate::session;
use crate::state::AppState;
use crate::web;
use poort_themes::Locale;
use axum::extract::{RawForm, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use params::RawParams;
use poort_storage::now;
use poort_storage::repo::{NewAuthorizationCode, NewGrant, SessionRecord, UserRecord, UserStatus};
use request::{AuthorizationRequest, Prompt};
use response::{RedirectTarget, ResponseMode};
use ticket::Ticket;

/// The browser's session as the request found it, with its user when the lookup brought it.
#[derive(Debug, Clone)]
pub struct Current {
    pub session: SessionRecord,
    pub user: Option<UserRecord>,
}

impl From<SessionRecord> for Current {
    fn from(session: SessionRecord) -> Self {
        Self { session, user: None }
    }
}

/// What the user has already done during this request (set when resuming from a page).
#[derive(Debug, Clone, Default)]
pub struct Progress {
    pub login_at: Option<i64>,
    pub session_id: Option<String>,
    pub consented: bool,
}

pub async fn authorize_get(State(state): State<AppState>, headers: HeaderMap, uri: axum::http::Uri) -> Response {
    // The raw query, not a map: a map would hide repeated parameters.
    let params = RawParams::parse(uri.query().unwrap_or(""));
    entry(&state, &headers, params).await
}

pub async fn authorize_post(State(state): State<AppState>, headers: HeaderMap, RawForm(body): RawForm) -> Response {
    let form_type = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let locale = web::pages::locale(&state, &headers, None);
    if !form_type.starts_with("application/x-www-form-urlencoded") {
        let detail = "the authorization request must be sent as a form";
        return pages::error(&state, locale, StatusCode::BAD_REQUEST, "error.invalid_request", Some(detail));
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        let detail = "the authorization request is not valid UTF-8";
        return pages::error(&state, locale, StatusCode::BAD_REQUEST, "error.invalid_request", Some(detail));
    };
    entry(&state, &headers, RawParams::parse(text)).await
}

async fn entry(state: &AppState, headers: &HeaderMap, params: RawParams) -> Response {
    let current = match session::current_with_user(state, headers).await {
        Ok(found) => found.map(|(session, user)| Current { session, user: Some(user) }),
        Err(error) => return server_error(state, web::pages::locale(state, headers, params.get("ui_locales")), error),
    };
    run(state, headers, params, current, Progress::default()).await
}

fn server_error(state: &AppState, locale: Locale, error: impl std::fmt::Display + 'static) -> Response {
    web::pages::server_error(state, locale, error)
}

/// The whole pipeline, for a fresh request and for one resumed after a page.
pub async fn run(
    state: &AppState,
    headers: &HeaderMap,
    params: RawParams,
    session: Option<Current>,
    progress: Progress,
) -> Response {
    let locale = web::pages::locale(state, headers, params.get("ui_locales"));
    // Stage 1: the client and where to answer it.
    let (client, params, target) = match client_and_target(state, locale, params).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    // Stage 2: the checks.
    let request = match request::validate(&params, &client) {
        Ok(request) => request,
        Err(error) => return target.error(&error),
    };
    let target = RedirectTarget {
        mode: request.response_mode.unwrap_or(ResponseMode::default_for(&request.response_type)),
        ..target
    };
    // Stage 3: the user.
    let user_label = session.as_ref().map(|s| s.session.user_id.clone());
    match decide(state, &client, &request, session, &progress).await {
        Ok(Decision::Issue { session, user }) => match issue(state, &client, &request, &params, &session, &user).await {
            Ok(response) => target.respond(response),
            Err(error) => target.error(&error),
        },
        Ok(Decision::Refuse) => {
            let ticket = Ticket {
                params: params.into_map(),
                login_at: progress.login_at,
                session_id: None,
                consented: false,
                expires_at: now() + state.settings.sessions.interaction_timeout.as_secs() as i64,
                return_to: None,
                terms_id: None,
            };
            match ticket::seal(state, &ticket) {
                Ok(sealed) => {
                    let user = match &user_label {
                        Some(id) => state.store.users().get(id).await.ok().flatten().map(|u| u.email).unwrap_or_default(),
                        None => String::new(),
                    };
                    pages::access_refused(state, locale, &client, &user, &format!("/refused?ticket={sealed}"))
                }
                Err(error) => target.error(&error),
            }
        }
        Ok(Decision::Interact { step, session_id }) => {
            let ticket = Ticket {
                params: params.into_map(),
                login_at: progress.login_at,
                session_id,
                consented: progress.consented,
                expires_at: now() + state.settings.sessions.interaction_timeout.as_secs() as i64,
                return_to: None,
                terms_id: None,
            };
            match ticket::seal(state, &ticket) {
                Ok(sealed) => interaction::redirect_to(step, &sealed),
                Err(error) => target.error(&error),
            }
        }
        Err(error) => target.error(&error),
    }
}

/// The user declined, or may not use the client: it hears `access_denied` (when the request is
/// still valid).
pub async fn deny(state: &AppState, headers: &HeaderMap, params: RawParams, why: &'static str) -> Response {
    let locale = web::pages::locale(state, headers, params.get("ui_locales"));
    let (client, params, target) = match client_and_target(state, locale, params).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let target = match request::validate(&params, &client) {
        Ok(request) => RedirectTarget { mode: request.response_mode.unwrap_or(ResponseMode::default_for(&request.response_type)), ..target },
        Err(error) => return target.error(&error),
    };
    target.error(&OAuthError::new(ErrorCode::AccessDenied, why))
}

/// Stage 1. Errors here are pages: the redirect URI is not (yet) trusted.
async fn client_and_target(
    state: &AppState,
    locale: Locale,
    params: RawParams,
) -> Result<(Client, RawParams, RedirectTarget), Response> {
    let bad = |key: &str, detail: &str| pages::error(state, locale, StatusCode::BAD_REQUEST, key, Some(detail));
    // Checked before anything else so no oversized value is ever echoed back.
    if params.oversized().is_some() {
        return Err(bad("error.invalid_request", "a parameter is too long"));
    }
    if params.repeated().iter().any(|p| matches!(p.as_str(), "client_id" | "redirect_uri" | "request" | "request_uri")) {
        return Err(bad("error.invalid_request", "client_id, redirect_uri, request or request_uri is repeated"));
    }
    let client_id = params.get("client_id").ok_or_else(|| bad("error.invalid_request", "client_id is missing"))?;
    let client = match Client::load(&state.store, client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => return Err(bad("error.unknown_client", "client_id is not registered")),
        Err(error) => return Err(server_error(state, locale, error)),
    };
    // The query's own redirect URI, for errors about the request object itself.
    let query_target = params.get("redirect_uri").filter(|uri| client.has_redirect_uri(uri)).map(str::to_string);
    let params = match with_request_object(state, &client, &params).await {
        Ok(None) => params,
        Ok(Some(merged)) if merged.oversized().is_some() => {
            return Err(bad("error.invalid_request", "the request object has a parameter that is too long"));
        }
        Ok(Some(merged)) => merged,
        Err(error) => {
            return Err(match query_target.or_else(|| single_redirect_uri(&client)) {
                Some(uri) => {
                    let target = RedirectTarget {
                        redirect_uri: uri,
                        mode: default_mode(&params),
                        state: params.get("state").map(str::to_string),
                        issuer: state.issuer.to_string(),
                    };
                    target.error(&error)
                }
                None => bad("error.invalid_request", "the request object is not valid"),
            });
        }
    };
    let redirect_uri = match params.get("redirect_uri") {
        Some(uri) if client.has_redirect_uri(uri) => uri.to_string(),
        Some(_) => return Err(bad("error.invalid_redirect_uri", "redirect_uri is not registered for this client")),
        None => single_redirect_uri(&client).ok_or_else(|| {
            bad("error.invalid_redirect_uri", "redirect_uri is required when several are registered")
        })?,
    };
    let target = RedirectTarget {
        redirect_uri,
        mode: default_mode(&params),
        state: params.get("state").map(str::to_string),
        issuer: state.issuer.to_string(),
    };
    Ok((client, params, target))
}

/// The request's parameters with its request object on top: the `request` parameter, or the
/// object fetched from `request_uri`; `None` when the request has neither.
async fn with_request_object(state: &AppState, client: &Client, params: &RawParams) -> Result<Option<RawParams>, OAuthError> {
    let jwt = match (params.get("request"), params.get("request_uri")) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => return Err(OAuthError::invalid_request("request and request_uri cannot be used together")),
        (Some(jwt), None) => jwt.to_string(),
        (None, Some(uri)) => request_uri::fetch(state, client, uri).await?,
    };
    let claims = request_object::verify(state, &jwt, client).await?;
    request_object::merge(params, claims).map(Some)
}

fn single_redirect_uri(client: &Client) -> Option<String> {
    match client.metadata.redirect_uris.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    }
}

/// The response mode for errors found before the checks settle it.
fn default_mode(params: &RawParams) -> ResponseMode {
    let response_type = params.get("response_type").unwrap_or("code");
    match params.get("response_mode").and_then(ResponseMode::parse) {
        Some(ResponseMode::Query) if ResponseMode::default_for(response_type) == ResponseMode::Fragment => ResponseMode::Fragment,
        Some(mode) => mode,
        None => ResponseMode::default_for(response_type),
    }
}

/// Made and matched once a request; boxing the records would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Decision {
    Issue { session: SessionRecord, user: UserRecord },
    /// The user is signed in but may not use this client (it requires a role they lack).
    Refuse,
    Interact { step: interaction::Step, session_id: Option<String> },
}

/// Stage 3: can a code be issued now, or must the user act first?
async fn decide(
    state: &AppState,
    client: &Client,
    request: &AuthorizationRequest,
    session: Option<Current>,
    progress: &Progress,
) -> Result<Decision, OAuthError> {
    let silent = request.prompt.contains(&Prompt::None);
    let hinted_subject = match &request.id_token_hint {
        Some(hint) => Some(interaction::subject_of_id_token_hint(state, hint)?),
        None => None,
    };
    // A session only counts when its user may still sign in.
    let mut current = None;
    if let Some(Current { session, user }) = session {
        let user = match user {
            Some(user) => Some(user),
            None => state.store.users().get(&session.user_id).await?,
        };
        if let Some(user) = user
            && user.status == UserStatus::Active
        {
            current = Some((session, user));
        }
    }
    let login_done = progress.login_at.is_some();
    let needs_login = match &current {
        None => true,
        Some((session, user)) => {
            let forced = request.prompt.contains(&Prompt::Login) || request.prompt.contains(&Prompt::SelectAccount);
            let too_old = request.max_age.is_some_and(|max| max == 0 || now() - session.auth_time > max);
            let other_user = hinted_subject
                .as_deref()
                .is_some_and(|sub| sub != subject_for(client, &user.id, &state.hash_key));
            !login_done && (forced || too_old || other_user)
        }
    };
    if needs_login {
        if silent {
            return Err(OAuthError::new(ErrorCode::LoginRequired, "the user must sign in"));
        }
        return Ok(Decision::Interact { step: interaction::Step::Login, session_id: None });
    }
    let Some((session, user)) = current else {
        return Err(OAuthError::new(ErrorCode::LoginRequired, "the user must sign in"));
    };
    if let Some(sub) = &hinted_subject
        && *sub != subject_for(client, &user.id, &state.hash_key)
    {
        return Err(OAuthError::new(ErrorCode::LoginRequired, "the signed-in user is not the one the hint names"));
    }
    if client.is_role_gated() && !may_use(state, client, &user).await? {
        if silent {
            return Err(OAuthError::new(ErrorCode::AccessDenied, "the user may not use this application"));
        }
        return Ok(Decision::Refuse);
    }
    if crate::terms::pending(state, client, &user).await?.is_some() {
        if silent {
            return Err(OAuthError::new(ErrorCode::InteractionRequired, "the user must accept the terms of service"));
        }
        return Ok(Decision::Interact { step: interaction::Step::Terms, session_id: Some(session.id) });
    }
    if needs_consent(state, client, request, &user, progress).await? {
        if silent {
            return Err(OAuthError::new(ErrorCode::ConsentRequired, "the user must consent"));
        }
        return Ok(Decision::Interact { step: interaction::Step::Consent, session_id: Some(session.id) });
    }
    Ok(Decision::Issue { session, user })
}

/// Whether `user` holds one of the client's required roles, or a role granting one of its
/// required permissions.
async fn may_use(state: &AppState, client: &Client, user: &UserRecord) -> Result<bool, OAuthError> {
    let required = &client.metadata;
    if user.roles.iter().any(|role| required.required_roles.contains(role)) {
        return Ok(true);
    }
    if required.required_permissions.is_empty() {
        return Ok(false);
    }
    for role in &user.roles {
        if let Some(role) = state.store.roles().get(role).await?
            && role.permissions.iter().any(|p| required.required_permissions.contains(p))
        {
            return Ok(true);
        }
    }
    Ok(false)
}

async fn needs_consent(
    state: &AppState,
    client: &Client,
    request: &AuthorizationRequest,
    user: &UserRecord,
    progress: &Progress,
) -> Result<bool, OAuthError> {
    if progress.consented || client.metadata.first_party {
        return Ok(false);
    }
    if request.prompt.contains(&Prompt::Consent) {
        return Ok(true);
    }
    let Some(consent) = state.store.consents().get(&user.id, &client.id).await? else {
        return Ok(true);
    };
    let granted: Vec<&str> = consent.scope.split(' ').collect();
    Ok(!request.scopes.iter().all(|s| granted.contains(&s.as_str())))
}

/// Issues what the response type asks for, under one grant for what was authorized: the code,
/// the access token (`token_type`, `expires_in`) and the ID token (`at_hash` and `c_hash` binding
/// it to the others), as the parameters of the authorization response. `none` issues nothing.
async fn issue(
    state: &AppState,
    client: &Client,
    request: &AuthorizationRequest,
    params: &RawParams,
    session: &SessionRecord,
    user: &UserRecord,
) -> Result<Vec<(&'static str, String)>, OAuthError> {
    let words: Vec<&str> = request.response_type.split(' ').collect();
    // Session Management: the state of this browser's session as the client's origin sees it.
    let redirect_uri = params.get("redirect_uri").or_else(|| client.metadata.redirect_uris.first().map(String::as_str));
    let session_state = redirect_uri
        .and_then(|uri| crate::check_session::session_state(state, &client.id, uri, &session.id))
        .map(|value| ("session_state", value));
    if words == ["none"] {
        state.store.sessions().add_client(&session.id, &client.id).await?;
        return Ok(session_state.into_iter().collect());
    }
    let at = now();
    let tokens = &state.settings.tokens;
    let scope = request.scope();
    let new_grant = NewGrant {
        client_id: client.id.clone(),
        user_id: Some(user.id.clone()),
        session_id: Some(session.id.clone()),
        scope: scope.clone(),
        claims: request.claims.clone(),
        auth_time: Some(session.auth_time),
        expires_at: at + tokens.refresh_token_ttl.as_secs() as i64,
    };
    let code = words.contains(&"code").then(ordered_token);
    let grants = state.store.grants();
    let grant = match &code {
        Some(code) => {
            let new_code = NewAuthorizationCode {
                code_hash: token_key(&state.hash_key, code),
                // The new grant's, given when both are stored.
                grant_id: String::new(),
                client_id: client.id.clone(),
                user_id: user.id.clone(),
                session_id: session.id.clone(),
                // What the request said, or "" when it named none (RFC 6749 §4.1.3).
                redirect_uri: params.get("redirect_uri").unwrap_or("").to_string(),
                scope: scope.clone(),
                nonce: request.nonce.clone(),
                code_challenge: request.code_challenge.clone(),
                code_challenge_method: request.code_challenge_method.clone(),
                claims: request.claims.clone(),
                auth_time: session.auth_time,
                acr: session.acr.clone(),
                amr: session.amr.clone(),
                expires_at: at + tokens.authorization_code_ttl.as_secs() as i64,
            };
            // Records the session's client with them: a failed authorization leaves the
            // session as it was.
            grants.create_grant_with_code(new_grant, new_code).await?.0
        }
        None => {
            let grant = grants.create_grant(new_grant).await?;
            // Only once the grant is stored, for the same reason.
            state.store.sessions().add_client(&session.id, &client.id).await?;
            grant
        }
    };
    let mut response = Vec::new();
    if let Some(code) = &code {
        response.push(("code", code.clone()));
    }
    // The tokens are the token endpoint's, under the same grant (revoked with it).
    let user_grant = crate::token::issue::UserGrant {
        client,
        grant_id: &grant.id,
        user,
        scope: &scope,
        auth_time: Some(session.auth_time),
        session_id: Some(&session.id),
        nonce: request.nonce.as_deref(),
        acr: session.acr.as_deref(),
        amr: &session.amr,
        claims_parameter: request.claims.as_ref(),
    };
    let access = if words.contains(&"token") {
        let access = crate::token::issue::access_token_for(state, &user_grant).await?;
        response.push(("access_token", access.token.clone()));
        response.push(("token_type", "Bearer".to_string()));
        response.push(("expires_in", access.expires_in.to_string()));
        Some(access.token)
    } else {
        None
    };
    if words.contains(&"id_token") {
        // With response_type=id_token alone no access token reaches userinfo: the scope's
        // claims go in the ID token (OpenID Connect Core §5.4).
        let scope_claims = words == ["id_token"];
        let id_token = crate::token::issue::id_token_for(state, &user_grant, access.as_deref(), code.as_deref(), scope_claims)?;
        response.push(("id_token", id_token));
    }
    response.extend(session_state);
    Ok(response)
}

/// What the authorization endpoint supports, for the discovery document (from the same
/// constants the checks use).
pub fn metadata() -> serde_json::Map<String, serde_json::Value> {
    use serde_json::json;
    let mut doc = serde_json::Map::new();
    doc.insert("response_types_supported".into(), json!(request::SUPPORTED_RESPONSE_TYPES));
    doc.insert("response_modes_supported".into(), json!(request::SUPPORTED_RESPONSE_MODES));
    // plain is accepted only from clients configured for it, so it is not advertised.
    doc.insert("code_challenge_methods_supported".into(), json!(["S256"]));
    doc.insert("display_values_supported".into(), json!(request::SUPPORTED_DISPLAY_VALUES));
    doc.insert("request_parameter_supported".into(), json!(true));
    doc.insert("request_uri_parameter_supported".into(), json!(true));
    // Only URIs a client registered are fetched (see `request_uri`).
    doc.insert("require_request_uri_registration".into(), json!(true));
    let mut request_object_algs = request_object::SIGNING_ALGORITHMS.to_vec();
    request_object_algs.push("none");
    doc.insert("request_object_signing_alg_values_supported".into(), json!(request_object_algs));
    doc.insert("authorization_response_iss_parameter_supported".into(), json!(true));
    doc.insert("acr_values_supported".into(), json!(crate::session::ACR_VALUES_SUPPORTED));
    doc
}

/// The route for the form-post script.
pub async fn form_post_script() -> impl IntoResponse {
    response::form_post_script().await
}
