//! The authorization code flow as the suite runs it: the authorization request (parameters
//! sorted, random state and nonce), the checks on the authorization response, the token request
//! (client_secret_basic, _post, or a private_key_jwt assertion) with its checks and the standard
//! ID-token checks, and the userinfo call.

use crate::browser::{Callback, End, Interact, Landing, Response, ResponseMode, Start};
use crate::checks::{self, IdTokenRules};
use crate::jose::{self, Jwt};
use crate::report::{Abort, Severity, Step};
use crate::{AuthMethod, ClientCreds, Ctx, random};
use base64::Engine;
use reqwest::header;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use url::Url;

/// One authorization request, with what its response must echo.
#[derive(Clone, Debug)]
pub struct AuthRequest {
    pub client: ClientCreds,
    /// The redirect URI sent (and expected back).
    pub redirect_uri: String,
    pub response_type: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// Other parameters (prompt, max_age, display, claims, code_challenge, …).
    pub extra: Vec<(String, String)>,
    /// The PKCE verifier, when a challenge was sent.
    pub code_verifier: Option<String>,
    /// Send the parameters as a form POST instead of a query.
    pub post: bool,
    /// Put the query parameters in reverse alphabetical order.
    pub reverse: bool,
    /// What the browser may do on the way.
    pub interact: Interact,
}

impl AuthRequest {
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.extra.push((name.to_string(), value.into()));
        self
    }

    /// Adds an S256 PKCE challenge (and keeps the verifier for the token request).
    pub fn with_pkce(mut self) -> Self {
        let verifier = jose::b64(random::bytes(32));
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(Sha256::digest(verifier.as_bytes()));
        self.extra.push(("code_challenge".into(), challenge));
        self.extra
            .push(("code_challenge_method".into(), "S256".into()));
        self.code_verifier = Some(verifier);
        self
    }

    /// Every parameter as (name, value), sorted by name (reversed when asked).
    pub fn params(&self) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = vec![
            ("client_id".into(), self.client.id.clone()),
            ("redirect_uri".into(), self.redirect_uri.clone()),
        ];
        let optional = [
            ("response_type", &self.response_type),
            ("scope", &self.scope),
            ("state", &self.state),
            ("nonce", &self.nonce),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                params.push((name.into(), value.clone()));
            }
        }
        params.extend(self.extra.iter().cloned());
        params.sort_by(|a, b| a.0.cmp(&b.0));
        if self.reverse {
            params.reverse();
        }
        params
    }

    /// The parameters as JWT claims of a request object (with iss = client id, aud = issuer).
    pub fn object_claims(&self, issuer: &str) -> Map<String, Value> {
        let mut claims = Map::new();
        for (name, value) in self.params() {
            let value = match name.as_str() {
                "max_age" => value
                    .parse::<i64>()
                    .map(Value::from)
                    .unwrap_or(Value::String(value)),
                "claims" => serde_json::from_str(&value).unwrap_or(Value::String(value)),
                _ => Value::String(value),
            };
            claims.insert(name, value);
        }
        claims.insert("iss".into(), self.client.id.clone().into());
        claims.insert("aud".into(), issuer.into());
        claims
    }

    /// The query of a request-object request: only response_type, client_id, scope and
    /// redirect_uri are repeated beside `name` (`request` or `request_uri`).
    pub fn object_query(&self, name: &str, value: &str) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = self
            .params()
            .into_iter()
            .filter(|(n, _)| {
                matches!(
                    n.as_str(),
                    "response_type" | "client_id" | "scope" | "redirect_uri"
                )
            })
            .collect();
        params.push((name.into(), value.into()));
        params.sort_by(|a, b| a.0.cmp(&b.0));
        params
    }
}

/// A successful authorization response.
#[derive(Clone, Debug)]
pub struct AuthResponse {
    /// Empty for response types without `code`.
    pub code: String,
    pub params: Map<String, Value>,
    pub callback: Callback,
}

/// A successful token response.
#[derive(Clone, Debug)]
pub struct Tokens {
    pub response: Response,
    pub body: Map<String, Value>,
    pub access_token: String,
    pub token_type: String,
    pub refresh_token: Option<String>,
    /// Always there after a code exchange; a refresh may come without one.
    pub id_token: Option<Jwt>,
}

impl Tokens {
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.id_token.as_ref()?.claims.get(name)
    }

    pub fn sub(&self) -> Option<&str> {
        self.claim("sub").and_then(Value::as_str)
    }

    pub fn auth_time(&self) -> Option<i64> {
        self.claim("auth_time").and_then(Value::as_i64)
    }
}

/// The three ways of calling userinfo.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserinfoCall {
    /// GET with the Authorization header.
    Get,
    /// POST with the Authorization header, a form content type and an empty body.
    PostHeader,
    /// POST with `access_token` in the form body and no header.
    PostBody,
}

/// A whole code flow's results.
#[derive(Clone, Debug)]
pub struct Flow {
    pub landing: Landing,
    pub auth: AuthResponse,
    pub tokens: Tokens,
    pub userinfo: Option<Map<String, Value>>,
}

impl Ctx {
    /// The default request for `client`: response_type code, scope openid, 10-character state
    /// and nonce, the configured redirect URI, a browser that signs in and consents.
    pub fn auth_request(&self, client: &ClientCreds) -> AuthRequest {
        AuthRequest {
            client: client.clone(),
            redirect_uri: self.cfg().redirect_uri.clone(),
            response_type: Some(self.cfg().response_type.clone()),
            scope: Some("openid".into()),
            state: Some(random::alphanumeric(10)),
            nonce: Some(random::alphanumeric(10)),
            extra: if self.cfg().form_post {
                vec![("response_mode".into(), "form_post".into())]
            } else {
                Vec::new()
            },
            code_verifier: None,
            post: false,
            reverse: false,
            interact: Interact::USER,
        }
    }

    /// The registered redirect URI without query and fragment: every URL that starts with it is
    /// the client.
    pub fn client_prefix(&self) -> String {
        let url =
            Url::parse(&self.cfg().redirect_uri).map(|u| crate::browser::base_of(&u).to_string());
        url.unwrap_or_else(|_| self.cfg().redirect_uri.clone())
    }

    /// Sends `params` to the authorization endpoint (a GET with a query, or a form POST) and
    /// drives the browser to the end.
    pub async fn authorize_params(
        &mut self,
        params: Vec<(String, String)>,
        post: bool,
        interact: Interact,
    ) -> Step<Landing> {
        let mut url = self.op().authorization_endpoint.clone();
        let start = if post {
            Start::Post(url, params)
        } else {
            url.query_pairs_mut().extend_pairs(&params);
            Start::Get(url)
        };
        let prefix = self.client_prefix();
        let landing = self.browser.authorize(start, &prefix, interact).await?;
        let ending = match &landing.end {
            End::Callback(callback) => format!("back at the client ({:?})", callback.mode),
            End::Page(page) => format!("at a page: {}", page.describe()),
        };
        self.log.info(format!(
            "authorization: {} login form(s), {} consent page(s), {}; {}",
            landing.login_forms,
            landing.consents,
            ending,
            landing.trail.join(" → ")
        ));
        Ok(landing)
    }

    /// Sends the authorization request.
    pub async fn authorize(&mut self, request: &AuthRequest) -> Step<Landing> {
        self.authorize_params(request.params(), request.post, request.interact)
            .await
    }

    /// The checks on a successful authorization response: a code when the response type has
    /// `code`, an access token and token type with `token`, an ID token with `id_token`; the
    /// query for `code` alone, the fragment otherwise (unless form_post).
    pub fn expect_code(&mut self, request: &AuthRequest, landing: &Landing) -> Step<AuthResponse> {
        let callback = match &landing.end {
            End::Callback(callback) => callback.clone(),
            End::Page(page) => {
                if self.is_login_page(page) && request.interact.login {
                    let user = &self.cfg().user.username;
                    return Err(Abort::Stop(format!(
                        "signing in as `{user}` failed: the login form came back ({})",
                        page.describe()
                    )));
                }
                let what = if self.is_login_page(page) {
                    "a login page".to_string()
                } else {
                    page.describe()
                };
                return Err(Abort::Stop(format!(
                    "expected a redirect to the client with a code; the OP answered {what}"
                )));
            }
        };
        let issuer = self.op().issuer.clone();
        let form_post = request
            .extra
            .iter()
            .any(|(n, v)| n == "response_mode" && v == "form_post");
        if form_post && !matches!(callback.mode, ResponseMode::FormPost { .. }) {
            self.log.fail(format!(
                "response_mode=form_post was requested, the response came in the {:?}",
                callback.mode
            ));
        }
        let words = response_words(request);
        let front_tokens = words.iter().any(|w| *w == "token" || *w == "id_token");
        match &callback.mode {
            ResponseMode::Query if front_tokens => {
                self.log.fail("the authorization response is in the query; response types with tokens answer in the fragment");
            }
            ResponseMode::Query => {}
            ResponseMode::Fragment if !front_tokens => {
                self.log.fail("the authorization response is in the fragment; response_type=code answers in the query");
            }
            ResponseMode::Fragment => {}
            ResponseMode::FormPost { method, enctype } => {
                self.log.check(
                    method == "post",
                    Severity::Failure,
                    format!("the form_post form's method is `{method}`, not POST"),
                );
                self.log.check(
                    enctype.as_deref().is_none_or(|e| {
                        e.eq_ignore_ascii_case("application/x-www-form-urlencoded")
                    }),
                    Severity::Failure,
                    "the form_post form is not sent as application/x-www-form-urlencoded",
                );
                let query = callback.query_map();
                self.log.check(
                    !query.contains_key("code") && !query.contains_key("error"),
                    Severity::Failure,
                    "form_post: code or error in the query",
                );
            }
        }
        let params = callback.params();
        if let Some(iss) = params.get("iss") {
            self.log.check(
                iss.as_str() == Some(issuer.as_str()),
                Severity::Failure,
                format!("the authorization response's iss {iss} is not the issuer"),
            );
        }
        if let Some(error) = params.get("error") {
            let description = params
                .get("error_description")
                .and_then(Value::as_str)
                .unwrap_or("");
            return Err(Abort::Stop(format!(
                "the authorization response is an error: {error} {description}"
            )));
        }
        let state = params.get("state").and_then(Value::as_str);
        match &request.state {
            Some(sent) => {
                self.log.check(
                    state == Some(sent.as_str()),
                    Severity::Failure,
                    format!("state {state:?} is not the one sent"),
                );
            }
            None => {
                self.log.check(
                    state.is_none(),
                    Severity::Failure,
                    "the response carries a state although none was sent",
                );
            }
        }
        let code = params
            .get("code")
            .and_then(Value::as_str)
            .map(str::to_string);
        let code = match code {
            Some(code) => code,
            None if !words.contains(&"code") => String::new(),
            None => {
                return Err(Abort::Stop(format!(
                    "the authorization response has no code: {params:?}"
                )));
            }
        };
        if words.contains(&"token") {
            for name in ["access_token", "token_type"] {
                if params.get(name).and_then(Value::as_str).is_none_or(str::is_empty) {
                    return Err(Abort::Stop(format!(
                        "the authorization response has no {name} although the response type has token"
                    )));
                }
            }
        }
        if words.contains(&"id_token") && params.get("id_token").and_then(Value::as_str).is_none() {
            return Err(Abort::Stop(
                "the authorization response has no id_token although the response type has id_token".into(),
            ));
        }
        self.check_redirect_query_kept(&request.redirect_uri, &callback);
        Ok(AuthResponse {
            code,
            params,
            callback,
        })
    }

    /// The redirect URI's own query parameters must come back unchanged.
    pub fn check_redirect_query_kept(&mut self, redirect_uri: &str, callback: &Callback) {
        if let Ok(sent) = Url::parse(redirect_uri) {
            for (name, value) in sent.query_pairs() {
                let kept = callback
                    .query
                    .iter()
                    .any(|(n, v)| *n == name && *v == value);
                self.log.check(
                    kept,
                    Severity::Failure,
                    format!("the redirect URI's query parameter {name}={value} was not preserved"),
                );
            }
        }
    }

    /// A token-endpoint request authenticated as `client`.
    pub async fn token_request(
        &mut self,
        client: &ClientCreds,
        mut form: Vec<(String, String)>,
    ) -> Step<Response> {
        let endpoint = self.op().token_endpoint.clone();
        let mut request = self
            .http
            .post(endpoint.clone())
            .header(header::ACCEPT, "application/json");
        match client.auth {
            AuthMethod::ClientSecretBasic => {
                let encode = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                let credentials = format!("{}:{}", encode(&client.id), encode(&client.secret));
                let basic = base64::engine::general_purpose::STANDARD.encode(credentials);
                request = request.header(header::AUTHORIZATION, format!("Basic {basic}"));
            }
            AuthMethod::ClientSecretPost => {
                form.push(("client_id".into(), client.id.clone()));
                form.push(("client_secret".into(), client.secret.clone()));
            }
            AuthMethod::PrivateKeyJwt => {
                let audience = client
                    .assertion_audience
                    .clone()
                    .unwrap_or_else(|| endpoint.to_string());
                let assertion = client_assertion(client, &audience)?;
                form.push((
                    "client_assertion_type".into(),
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".into(),
                ));
                form.push(("client_assertion".into(), assertion));
            }
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&form)
            .finish();
        let response = request
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                Abort::Stop(format!(
                    "POST {endpoint}: {}",
                    crate::browser::error_chain(&e)
                ))
            })?;
        Response::read(response).await
    }

    /// Redeems `code` and runs the token-response and ID-token checks.
    pub async fn exchange(&mut self, request: &AuthRequest, code: &str) -> Step<Tokens> {
        let mut form = vec![
            ("grant_type".to_string(), "authorization_code".to_string()),
            ("code".into(), code.to_string()),
            ("redirect_uri".into(), request.redirect_uri.clone()),
        ];
        if let Some(verifier) = &request.code_verifier {
            form.push(("code_verifier".into(), verifier.clone()));
        }
        let response = self.token_request(&request.client, form).await?;
        self.check_token_response(
            response,
            &request.client,
            request.nonce.as_deref(),
            Some(code),
            false,
        )
    }

    /// The token-response checks (code or refresh grant), the ID token's included. With
    /// `refresh`, the ID token is optional and its nonce is not checked.
    pub fn check_token_response(
        &mut self,
        response: Response,
        client: &ClientCreds,
        nonce: Option<&str>,
        code: Option<&str>,
        refresh: bool,
    ) -> Step<Tokens> {
        if response.status != 200 {
            return Err(Abort::Stop(format!(
                "the token endpoint answered {}",
                response.describe()
            )));
        }
        let body = response
            .json_object()
            .ok_or_else(|| Abort::Stop("the token response is not a JSON object".into()))?;
        if let Some(error) = body.get("error") {
            return Err(Abort::Stop(format!(
                "the token response is an error: {error}"
            )));
        }
        let text = |name: &str| {
            body.get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let access_token = text("access_token")
            .ok_or_else(|| Abort::Stop("the token response has no access_token".into()))?;
        let token_type = text("token_type")
            .ok_or_else(|| Abort::Stop("the token response has no token_type".into()))?;
        match body.get("expires_in") {
            None => self.log.info("the token response has no expires_in"),
            Some(value) => {
                let ok = value
                    .as_f64()
                    .is_some_and(|n| (1.0..=31_536_000.0).contains(&n));
                self.log.check(
                    ok,
                    Severity::Failure,
                    format!("expires_in {value} is not a number from 1 to 31536000"),
                );
            }
        }
        let refresh_token = text("refresh_token");
        let op = self.op();
        let id_token = match text("id_token") {
            Some(token) => token,
            None if refresh => {
                return Ok(Tokens {
                    response,
                    body,
                    access_token,
                    token_type,
                    refresh_token,
                    id_token: None,
                });
            }
            None => return Err(Abort::Stop("the token response has no id_token".into())),
        };
        let rules = IdTokenRules {
            issuer: &op.issuer,
            client_id: &client.id,
            nonce,
            ignore_nonce: refresh,
            requested_acrs: None,
            keys: &op.keys,
        };
        let jwt = checks::check_id_token(&mut self.log, &id_token, &rules)?;
        self.log.info(format!(
            "id_token: alg {:?}, kid {:?}, claims {:?}",
            jwt.alg(),
            jwt.kid(),
            jwt.claims.keys().collect::<Vec<_>>()
        ));
        checks::check_half_hash(&mut self.log, &jwt, "at_hash", Some(&access_token), false);
        checks::check_half_hash(&mut self.log, &jwt, "c_hash", code, false);
        Ok(Tokens {
            response,
            body,
            access_token,
            token_type,
            refresh_token,
            id_token: Some(jwt),
        })
    }

    /// Calls userinfo the given way with `tokens`' access token.
    pub async fn userinfo_raw(
        &mut self,
        call: UserinfoCall,
        token_type: &str,
        access_token: &str,
    ) -> Step<Response> {
        let endpoint = self.op().userinfo_endpoint.clone();
        let authorization = format!("{token_type} {access_token}");
        let request = match call {
            UserinfoCall::Get => self
                .http
                .get(endpoint.clone())
                .header(header::AUTHORIZATION, authorization),
            UserinfoCall::PostHeader => self
                .http
                .post(endpoint.clone())
                .header(header::AUTHORIZATION, authorization)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(""),
            UserinfoCall::PostBody => {
                let body = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("access_token", access_token)
                    .finish();
                self.http
                    .post(endpoint.clone())
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .body(body)
            }
        };
        let response = request
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| {
                Abort::Stop(format!(
                    "userinfo {endpoint}: {}",
                    crate::browser::error_chain(&e)
                ))
            })?;
        Response::read(response).await
    }

    /// Calls userinfo and runs the userinfo checks; returns the claims when it answered JSON.
    pub async fn userinfo(
        &mut self,
        call: UserinfoCall,
        tokens: &Tokens,
    ) -> Step<Option<Map<String, Value>>> {
        let response = self
            .userinfo_raw(call, &tokens.token_type, &tokens.access_token)
            .await?;
        let ok = (200..300).contains(&response.status);
        if call == UserinfoCall::PostBody && !ok {
            self.log.warn(format!(
                "userinfo with the token in a POST body answered {}",
                response.describe()
            ));
            return Ok(None);
        }
        if !self.log.check(
            response.status == 200,
            Severity::Failure,
            format!("userinfo answered {}", response.describe()),
        ) {
            return Ok(None);
        }
        self.log.check(
            response.media_type().as_deref() == Some("application/json"),
            Severity::Failure,
            format!(
                "the userinfo Content-Type is {:?}, not application/json",
                response.header("content-type")
            ),
        );
        let Some(claims) = response.json_object() else {
            self.log.fail("the userinfo response is not a JSON object");
            return Ok(None);
        };
        checks::check_userinfo_claims(&mut self.log, &claims, tokens.sub());
        Ok(Some(claims))
    }

    /// The whole baseline: authorize, check the response, redeem the code, check the tokens,
    /// and call userinfo (when `userinfo` is given).
    pub async fn code_flow(
        &mut self,
        request: &AuthRequest,
        userinfo: Option<UserinfoCall>,
    ) -> Step<Flow> {
        let landing = self.authorize(request).await?;
        let auth = self.expect_code(request, &landing)?;
        let tokens = self.finish(request, &auth).await?;
        let userinfo = match userinfo {
            // response_type=id_token has no access token to call userinfo with.
            Some(call) if !tokens.access_token.is_empty() => self.userinfo(call, &tokens).await?,
            _ => None,
        };
        Ok(Flow {
            landing,
            auth,
            tokens,
            userinfo,
        })
    }

    /// After a successful authorization response: the checks on the authorization endpoint's ID
    /// token (`at_hash` required with `token`, `c_hash` with `code`), then the code exchange when
    /// there is a code (the same `sub` in both ID tokens), or else the tokens of the response
    /// itself.
    pub async fn finish(&mut self, request: &AuthRequest, auth: &AuthResponse) -> Step<Tokens> {
        let front_id = self.check_front_id_token(request, auth)?;
        if !auth.code.is_empty() {
            let tokens = self.exchange(request, &auth.code).await?;
            self.check_same_sub(front_id.as_ref(), &tokens);
            return Ok(tokens);
        }
        let text = |name: &str| auth.params.get(name).and_then(Value::as_str).map(str::to_string);
        let front_access = text("access_token");
        if let Some(expires_in) = auth.params.get("expires_in") {
            let ok = expires_in
                .as_str()
                .and_then(|s| s.parse::<f64>().ok())
                .is_some_and(|n| (1.0..=31_536_000.0).contains(&n));
            self.log.check(
                ok,
                Severity::Failure,
                format!("expires_in {expires_in} is not a number from 1 to 31536000"),
            );
        }
        Ok(Tokens {
            // No token endpoint was called: the callback stands in for its response.
            response: Response {
                status: 200,
                url: auth.callback.url.clone(),
                headers: Default::default(),
                body: String::new(),
            },
            body: auth.params.clone(),
            access_token: front_access.unwrap_or_default(),
            token_type: text("token_type").unwrap_or_default(),
            refresh_token: None,
            id_token: front_id,
        })
    }

    /// The checks on the authorization endpoint's ID token, when the response has one:
    /// `at_hash` required with an access token, `c_hash` with a code.
    pub fn check_front_id_token(&mut self, request: &AuthRequest, auth: &AuthResponse) -> Step<Option<Jwt>> {
        let text = |name: &str| auth.params.get(name).and_then(Value::as_str).map(str::to_string);
        let Some(id_token) = text("id_token") else { return Ok(None) };
        let front_access = text("access_token");
        let op = self.op();
        let rules = IdTokenRules {
            issuer: &op.issuer,
            client_id: &request.client.id,
            nonce: request.nonce.as_deref(),
            ignore_nonce: false,
            requested_acrs: None,
            keys: &op.keys,
        };
        let jwt = checks::check_id_token(&mut self.log, &id_token, &rules)?;
        let code = (!auth.code.is_empty()).then_some(auth.code.as_str());
        checks::check_half_hash(&mut self.log, &jwt, "at_hash", front_access.as_deref(), front_access.is_some());
        checks::check_half_hash(&mut self.log, &jwt, "c_hash", code, code.is_some());
        Ok(Some(jwt))
    }

    /// Hybrid flows: the authorization endpoint's ID token and the token endpoint's name the
    /// same subject.
    pub fn check_same_sub(&mut self, front: Option<&Jwt>, tokens: &Tokens) {
        if let (Some(front), Some(back)) = (front, &tokens.id_token) {
            let (a, b) = (front.claims.get("sub"), back.claims.get("sub"));
            self.log.check(
                a == b,
                Severity::Failure,
                format!("the sub of the authorization endpoint's id_token ({a:?}) differs from the token endpoint's ({b:?})"),
            );
        }
    }

    /// A refresh-token grant as `client`, with `scope` when given.
    pub async fn refresh(
        &mut self,
        client: &ClientCreds,
        refresh_token: &str,
        scope: Option<&str>,
    ) -> Step<Response> {
        let mut form = vec![
            ("grant_type".to_string(), "refresh_token".to_string()),
            ("refresh_token".into(), refresh_token.to_string()),
        ];
        if let Some(scope) = scope {
            form.push(("scope".into(), scope.to_string()));
        }
        self.token_request(client, form).await
    }

    /// An authorization whose response must be an error redirect; returns the error parameters
    /// after the generic error checks (`allowed`: the acceptable `error` codes).
    pub fn expect_error(
        &mut self,
        request_state: Option<&str>,
        landing: &Landing,
        allowed: &[&str],
    ) -> Step<Map<String, Value>> {
        let callback = match &landing.end {
            End::Callback(callback) => callback,
            End::Page(page) => {
                let what = if landing.login_forms > 0 {
                    "a login page".to_string()
                } else {
                    page.describe()
                };
                return Err(Abort::Stop(format!(
                    "expected an error redirect to the client; the OP answered {what}"
                )));
            }
        };
        let params = callback.params();
        let issuer = self.op().issuer.clone();
        checks::check_authorization_error(&mut self.log, &params, request_state, &issuer);
        let error = params.get("error").and_then(Value::as_str).unwrap_or("");
        self.log.check(
            allowed.contains(&error),
            Severity::Failure,
            format!("the error is `{error}`, expected one of {allowed:?}"),
        );
        Ok(params)
    }

    /// Whether `page` is the OP's login form.
    pub fn is_login_page(&self, page: &Response) -> bool {
        let field = &self.cfg().user.form.password_field;
        page.is_html()
            && crate::html::forms(&page.body)
                .iter()
                .any(|f| f.has_input(field))
    }

    /// For modules that need an error page: the OP must not redirect to the client. Returns
    /// whether a page was shown.
    pub fn expect_error_page(&mut self, landing: &Landing, situation: &str) -> bool {
        match &landing.end {
            End::Callback(callback) => {
                self.log.fail(format!("{situation}: the OP redirected to the client ({}) instead of showing an error page", crate::browser::base_of(&callback.url)));
                false
            }
            End::Page(page) => {
                if page.status >= 500 {
                    self.log.fail(format!(
                        "{situation}: the OP failed with {}",
                        page.describe()
                    ));
                } else if self.is_login_page(page) {
                    self.log.fail(format!("{situation}: the OP asked the user to sign in instead of showing an error page"));
                } else if !page.is_html() {
                    self.log.warn(format!(
                        "{situation}: the OP answered {} rather than an HTML error page",
                        page.describe()
                    ));
                } else {
                    self.log
                        .info(format!("{situation}: the OP showed {}", page.describe()));
                }
                true
            }
        }
    }
}

/// The suite's client assertion: iss = sub = the client, `aud`, a fresh jti, iat and nbf now,
/// exp a minute ahead; RS256 with the client's key (its `kid` in the header).
fn client_assertion(client: &ClientCreds, audience: &str) -> Step<String> {
    let key = client.key.as_ref().ok_or_else(|| {
        Abort::Stop(format!("client {} has no key for private_key_jwt", client.id))
    })?;
    let now = checks::now();
    let mut claims = Map::new();
    claims.insert("iss".into(), client.id.clone().into());
    claims.insert("sub".into(), client.id.clone().into());
    claims.insert("aud".into(), audience.into());
    claims.insert("jti".into(), random::alphanumeric(20).into());
    claims.insert("iat".into(), now.into());
    claims.insert("nbf".into(), now.into());
    claims.insert("exp".into(), (now + 60).into());
    jose::sign_rs256(&claims, key)
        .map_err(|e| Abort::Stop(format!("cannot sign the client assertion: {e}")))
}

/// The words of the request's response type (`code` when it sent none).
fn response_words(request: &AuthRequest) -> Vec<&str> {
    request
        .response_type
        .as_deref()
        .unwrap_or("code")
        .split(' ')
        .filter(|w| !w.is_empty())
        .collect()
}
