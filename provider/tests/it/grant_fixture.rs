//! What the token, userinfo and revocation tests share: a provider in process, clients of every
//! authentication method, a signed-in user with every standard claim, grants and codes stored
//! exactly as the authorization endpoint stores them, and helpers to call the router and check
//! what it signs.

use crate::support::sqlite_settings;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use base64::Engine as _;
use http_body_util::BodyExt;
use josekit::jwk::Jwk;
use josekit::jws::{JwsHeader, JwsSigner};
use josekit::jwt::JwtPayload;
use poort::app;
use poort::crypto::{b64url, keyed_hash, ordered_token, random_token, sha256, token_key};
use poort::state::AppState;
use poort_storage::now;
use poort_storage::repo::{ClientSource, NewAuthorizationCode, NewClient, NewGrant, NewSession, NewUser, UserStatus};
use serde_json::{Map, Value, json};
use tower::ServiceExt;

pub const ISSUER: &str = "https://op.example";
pub const TOKEN_URL: &str = "https://op.example/token";
pub const CB: &str = "https://rp.example/cb";
/// 43 characters, like the secrets Poort issues (long enough for HS256).
pub const SECRET: &str = "s3cret-s3cret-s3cret-s3cret-s3cret-s3cret-1";
pub const FORM: &str = "application/x-www-form-urlencoded";

/// A provider with one user signed in.
pub struct Op {
    pub state: AppState,
    pub router: axum::Router,
    pub user_id: String,
    pub session_id: String,
    pub auth_time: i64,
    _dir: tempfile::TempDir,
}

/// An HTTP answer, read whole.
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }

    /// Asserts an OAuth JSON error with `status` and `code`, never cached.
    #[track_caller]
    pub fn assert_error(&self, status: StatusCode, code: &str) {
        assert_eq!(
            (self.status, self.json()["error"].as_str()),
            (status, Some(code)),
            "{}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.header(header::CACHE_CONTROL), Some("no-store"));
    }

    /// Asserts a token response and returns its JSON.
    #[track_caller]
    pub fn tokens(&self) -> Value {
        assert_eq!(self.status, StatusCode::OK, "{}", String::from_utf8_lossy(&self.body));
        assert_eq!(self.header(header::CACHE_CONTROL), Some("no-store"));
        assert_eq!(self.header(header::PRAGMA), Some("no-cache"));
        let body = self.json();
        assert_eq!(body["token_type"], "Bearer");
        assert!(body["expires_in"].as_i64().is_some_and(|e| e > 0));
        assert!(!body["access_token"].as_str().unwrap().is_empty());
        body
    }
}

/// What the authorization endpoint would store with a code.
#[derive(Clone)]
pub struct CodeSpec {
    pub scope: &'static str,
    pub nonce: Option<&'static str>,
    /// As sent in the authorization request; "" when it named none.
    pub redirect_uri: &'static str,
    pub challenge: Option<(String, &'static str)>,
    pub claims: Option<Value>,
    pub lifetime: i64,
}

impl Default for CodeSpec {
    fn default() -> Self {
        Self { scope: "openid", nonce: None, redirect_uri: CB, challenge: None, claims: None, lifetime: 60 }
    }
}

impl Op {
    pub async fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = sqlite_settings(dir.path());
        settings.server.issuer = Some(ISSUER.parse().unwrap());
        let store = poort::open_store(&settings).await.unwrap();
        let state = app::state(settings, store).await.unwrap();
        let user = state
            .store
            .users()
            .create(NewUser {
                email: "alice@example.com".into(),
                username: Some("alice".into()),
                display_name: Some("Alice Example".into()),
                email_verified: true,
                claims: json!({
                    "given_name": "Alice", "family_name": "Example", "middle_name": "Q", "nickname": "Al",
                    "profile": "https://alice.example", "picture": "https://alice.example/me.png",
                    "website": "https://alice.example/blog", "gender": "female", "birthdate": "1990-04-01",
                    "zoneinfo": "Europe/Amsterdam", "locale": "nl-NL", "phone_number": "+31 20 123 4567",
                    "phone_number_verified": true,
                    "address": { "street_address": "Main St 1", "locality": "Utrecht", "postal_code": "3511", "country": "NL" }
                }),
                status: UserStatus::Active,
                auth_method: "password".into(),
                password_hash: None,
            })
            .await
            .unwrap();
        let auth_time = now() - 30;
        let session = state
            .store
            .sessions()
            .create(NewSession {
                cookie_hash: keyed_hash(&state.hash_key, &random_token()),
                user_id: user.id.clone(),
                auth_time,
                amr: vec!["pwd".into()],
                acr: Some("urn:poort:acr:password".into()),
                idle_expires_at: now() + 3600,
                expires_at: now() + 36000,
                user_agent: None,
                ip: None,
            })
            .await
            .unwrap();
        let router = app::app(state.clone());
        Self { state, router, user_id: user.id, session_id: session.id, auth_time, _dir: dir }
    }

    /// Registers a client with the secret [`SECRET`] (sealed too, for `client_secret_jwt`).
    pub async fn client(&self, id: &str, metadata: Value) {
        let public = metadata["token_endpoint_auth_method"] == "none";
        let sealed = (metadata["token_endpoint_auth_method"] == "client_secret_jwt")
            .then(|| poort::oauth::client_auth::seal_secret(&self.state.hash_key, SECRET).unwrap());
        self.insert_client(id, metadata, (!public).then(|| keyed_hash(&self.state.hash_key, SECRET)), sealed, 0).await;
    }

    pub async fn insert_client(
        &self,
        id: &str,
        mut metadata: Value,
        secret_hash: Option<String>,
        secret_sealed: Option<String>,
        secret_expires_at: i64,
    ) {
        if metadata.get("redirect_uris").is_none() {
            metadata["redirect_uris"] = json!([CB]);
        }
        self.state
            .store
            .clients()
            .insert(NewClient {
                client_id: id.into(),
                secret_hash,
                secret_sealed,
                secret_expires_at,
                metadata,
                source: ClientSource::Dynamic,
                registration_token_hash: None,
            })
            .await
            .unwrap();
    }

    /// A grant and a code for `client_id`, as the authorization endpoint stores them.
    pub async fn code(&self, client_id: &str, spec: CodeSpec) -> String {
        let tokens = &self.state.settings.tokens;
        let grant = self
            .state
            .store
            .grants()
            .create_grant(NewGrant {
                client_id: client_id.into(),
                user_id: Some(self.user_id.clone()),
                session_id: Some(self.session_id.clone()),
                scope: spec.scope.into(),
                claims: spec.claims.clone(),
                auth_time: Some(self.auth_time),
                expires_at: now() + tokens.refresh_token_ttl.as_secs() as i64,
            })
            .await
            .unwrap();
        let code = ordered_token();
        self.state
            .store
            .grants()
            .store_code(NewAuthorizationCode {
                code_hash: token_key(&self.state.hash_key, &code),
                grant_id: grant.id,
                client_id: client_id.into(),
                user_id: self.user_id.clone(),
                session_id: self.session_id.clone(),
                redirect_uri: spec.redirect_uri.into(),
                scope: spec.scope.into(),
                nonce: spec.nonce.map(str::to_string),
                code_challenge: spec.challenge.as_ref().map(|c| c.0.clone()),
                code_challenge_method: spec.challenge.as_ref().map(|c| c.1.to_string()),
                claims: spec.claims,
                auth_time: self.auth_time,
                acr: Some("urn:poort:acr:password".into()),
                amr: vec!["pwd".into()],
                expires_at: now() + spec.lifetime,
            })
            .await
            .unwrap();
        code
    }

    pub async fn send(&self, request: Request<Body>) -> Reply {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes().to_vec();
        Reply { status, headers, body }
    }

    /// POSTs a form to `path`, with HTTP Basic credentials when given.
    pub async fn post(&self, path: &str, form: &[(&str, &str)], basic: Option<(&str, &str)>) -> Reply {
        let mut request = Request::post(path).header(header::CONTENT_TYPE, FORM);
        if let Some((id, secret)) = basic {
            request = request.header(header::AUTHORIZATION, basic_header(id, secret));
        }
        self.send(request.body(Body::from(encode(form))).unwrap()).await
    }

    /// Redeems `code` with client_secret_basic.
    pub async fn redeem(&self, client_id: &str, code: &str) -> Reply {
        self.post(
            "/token",
            &[("grant_type", "authorization_code"), ("code", code), ("redirect_uri", CB)],
            Some((client_id, SECRET)),
        )
        .await
    }

    pub async fn refresh(&self, client_id: &str, refresh_token: &str, scope: Option<&str>) -> Reply {
        let mut form = vec![("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
        form.extend(scope.map(|s| ("scope", s)));
        self.post("/token", &form, Some((client_id, SECRET))).await
    }

    pub async fn userinfo(&self, access_token: &str) -> Reply {
        let request = Request::get("/userinfo").header(header::AUTHORIZATION, format!("Bearer {access_token}"));
        self.send(request.body(Body::empty()).unwrap()).await
    }

    /// Verifies a JWT we signed against the published `/jwks` (by `kid`) and returns its header
    /// and claims.
    pub async fn verify_signed(&self, jwt: &str) -> (Map<String, Value>, Map<String, Value>) {
        let jwks = self.send(Request::get("/jwks").body(Body::empty()).unwrap()).await.json();
        let header = part(jwt, 0);
        let kid = header["kid"].as_str().expect("a kid in the header");
        let alg = header["alg"].as_str().unwrap();
        let key = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == kid).expect("the kid is published");
        assert_eq!(key["alg"], alg);
        let jwk = Jwk::from_map(key.as_object().unwrap().clone()).unwrap();
        let payload = match alg {
            "RS256" => josekit::jwt::decode_with_verifier(jwt, &josekit::jws::RS256.verifier_from_jwk(&jwk).unwrap()),
            "ES256" => josekit::jwt::decode_with_verifier(jwt, &josekit::jws::ES256.verifier_from_jwk(&jwk).unwrap()),
            other => panic!("unexpected alg {other}"),
        }
        .expect("the signature verifies")
        .0;
        (header, payload.claims_set().clone())
    }
}

/// A decoded part (0 header, 1 claims) of a compact JWT, unverified.
pub fn part(jwt: &str, index: usize) -> Map<String, Value> {
    let segment = jwt.split('.').nth(index).unwrap();
    serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

pub fn encode(form: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish()
}

/// RFC 6749 §2.3.1: form-URL-encode id and secret, then base64.
pub fn basic_header(id: &str, secret: &str) -> String {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{}:{}", encode(id), encode(secret))))
}

/// An S256 PKCE pair: (verifier, challenge).
pub fn pkce() -> (String, String) {
    let verifier = format!("{}-{}", random_token(), "x".repeat(10));
    let challenge = b64url(&sha256(verifier.as_bytes()));
    (verifier, challenge)
}

/// The claims of a client assertion, valid now.
pub fn assertion_claims(client_id: &str, aud: Value) -> Map<String, Value> {
    let at = now();
    json!({ "iss": client_id, "sub": client_id, "aud": aud, "jti": random_token(), "iat": at, "nbf": at, "exp": at + 60 })
        .as_object()
        .unwrap()
        .clone()
}

/// Signs `claims` with `signer`, `kid` in the header when given.
pub fn sign(signer: &dyn JwsSigner, kid: Option<&str>, claims: Map<String, Value>) -> String {
    let mut header = JwsHeader::new();
    if let Some(kid) = kid {
        header.set_key_id(kid);
    }
    josekit::jwt::encode_with_signer(&JwtPayload::from_map(claims).unwrap(), &header, signer).unwrap()
}

/// An ES256 key pair for a client: the signer, and its public JWK with `kid`.
pub fn client_key(kid: &str) -> (Box<dyn JwsSigner>, Value) {
    let pair = josekit::jws::ES256.generate_key_pair().unwrap();
    let signer = josekit::jws::ES256.signer_from_jwk(&pair.to_jwk_private_key()).unwrap();
    let mut public = pair.to_jwk_public_key();
    public.set_key_id(kid);
    (Box::new(signer), Value::Object(public.as_ref().clone()))
}
