//! The module's clients: the static ones from the configuration, or — with dynamic
//! registration — clients the module registers itself the way the suite does (client_name,
//! grant_types, an RS256 `jwks` (or the module's `jwks_uri`), the auth method, response_types,
//! redirect_uris, contacts), with the suite's checks on the registration response, and deleted
//! again when the module ends. A private_key_jwt client signs its assertions with the harness's
//! key (the one in the registered `jwks`).

use crate::browser::Response;
use crate::report::{Abort, Severity, Step};
use crate::{AuthMethod, ClientCreds, Ctx};
use reqwest::header;
use serde_json::{Map, Value, json};

/// Which of the module's clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// The main client (client_secret_basic, or the run's client authentication).
    Main,
    /// A second, distinct client (refresh-token).
    Second,
    /// The client_secret_post client.
    Post,
}

/// A client this module registered, to delete at the end.
#[derive(Clone, Debug)]
pub struct Registered {
    pub client_id: String,
    pub uri: Option<String>,
    pub token: Option<String>,
}

impl Ctx {
    /// The module's client: static from the configuration, or freshly registered.
    pub async fn client(&mut self, which: Which) -> Step<ClientCreds> {
        self.client_with(which, Map::new()).await
    }

    /// As [`Ctx::client`], with extra registration metadata for a dynamic client.
    pub async fn client_with(
        &mut self,
        which: Which,
        extra: Map<String, Value>,
    ) -> Step<ClientCreds> {
        let auth = if which == Which::Post {
            AuthMethod::ClientSecretPost
        } else {
            self.auth
        };
        if self.cfg().dynamic {
            return self.register(auth, extra).await;
        }
        if auth == AuthMethod::PrivateKeyJwt {
            return Err(Abort::Stop("private_key_jwt needs dynamic registration".into()));
        }
        let cfg = self.cfg();
        match which {
            Which::Main => cfg
                .client
                .clone()
                .ok_or_else(|| Abort::Stop("no client is configured (--client-id)".into())),
            Which::Second => cfg.client2.clone().ok_or_else(|| {
                Abort::Stop("this module needs a second client (--client2-id)".into())
            }),
            Which::Post => match cfg.post_client.clone() {
                Some(client) => Ok(client),
                None => {
                    let main = cfg.client.clone().ok_or_else(|| {
                        Abort::Stop("no client is configured (--client-id)".into())
                    })?;
                    self.log.info("no client_secret_post client is configured: using the main client with client_secret_post");
                    Ok(ClientCreds {
                        auth: AuthMethod::ClientSecretPost,
                        ..main
                    })
                }
            },
        }
    }

    /// Sends the suite's registration request (with `extra` on top) and returns the answer
    /// unchecked. A `jwks_uri` in `extra` replaces the `jwks`.
    pub async fn register_raw(
        &mut self,
        auth: AuthMethod,
        extra: Map<String, Value>,
    ) -> Step<Response> {
        let op = self.op();
        let endpoint = op.registration_endpoint.clone().ok_or_else(|| {
            Abort::Stop("dynamic registration needs a registration_endpoint in discovery".into())
        })?;
        let (_, public) = self.shared.client_key().await?;
        // The suite registers the grants its response type needs.
        let response_type = self.cfg().response_type.clone();
        let mut grant_types = Vec::new();
        if response_type.split(' ').any(|w| w == "code") {
            grant_types.push("authorization_code");
        }
        if response_type.split(' ').any(|w| w == "token" || w == "id_token") {
            grant_types.push("implicit");
        }
        let mut body = json!({
            "client_name": format!("poort-conformance {}", self.module),
            "grant_types": grant_types,
            "jwks": { "keys": [public.as_ref()] },
            "token_endpoint_auth_method": auth.as_str(),
            "response_types": [response_type],
            "redirect_uris": [self.cfg().redirect_uri],
            "contacts": ["certification@oidf.org"],
        });
        let fields = body.as_object_mut().expect("an object");
        if extra.contains_key("jwks_uri") {
            fields.remove("jwks");
        }
        for (name, value) in extra {
            fields.insert(name, value);
        }
        let mut request = self
            .http
            .post(endpoint.clone())
            .header(header::ACCEPT, "application/json")
            .json(&body);
        if let Some(token) = &self.cfg().registration_token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(|e| {
            Abort::Stop(format!(
                "POST {endpoint}: {}",
                crate::browser::error_chain(&e)
            ))
        })?;
        Response::read(response).await
    }

    /// Registers a client at the registration endpoint and runs the suite's checks on the answer.
    pub async fn register(
        &mut self,
        auth: AuthMethod,
        extra: Map<String, Value>,
    ) -> Step<ClientCreds> {
        let response = self.register_raw(auth, extra).await?;
        self.log.check(
            response.status == 201,
            Severity::Failure,
            format!("registration answered {}", response.describe()),
        );
        let Some(client) = response.json_object() else {
            self.log
                .fail("the registration response is not a JSON object");
            return Err(Abort::Stop(format!(
                "registration failed: {}",
                response.describe()
            )));
        };
        if let Some(error) = client.get("error") {
            self.log.fail(format!(
                "the registration response is an error: {error} {}",
                client.get("error_description").unwrap_or(&Value::Null)
            ));
            return Err(Abort::Stop("registration failed".into()));
        }
        let text = |name: &str| client.get(name).and_then(Value::as_str).map(str::to_string);
        let client_id = text("client_id")
            .ok_or_else(|| Abort::Stop("the registration response has no client_id".into()))?;
        let uri = text("registration_client_uri");
        let token = text("registration_access_token");
        self.log.check(
            uri.is_some() == token.is_some(),
            Severity::Failure,
            "registration_client_uri and registration_access_token must come together",
        );
        if let Some(uri) = &uri {
            self.log.check(
                uri.starts_with("https://"),
                Severity::Failure,
                format!("registration_client_uri {uri} is not https"),
            );
        }
        let secret = text("client_secret");
        if secret.is_some() {
            self.log.check(
                client.contains_key("client_secret_expires_at"),
                Severity::Failure,
                "the registration response has a client_secret but no client_secret_expires_at",
            );
        }
        self.registered.push(Registered {
            client_id: client_id.clone(),
            uri,
            token,
        });
        if auth == AuthMethod::PrivateKeyJwt {
            let (private, _) = self.shared.client_key().await?;
            return Ok(ClientCreds {
                key: Some(private.clone()),
                ..ClientCreds::new(client_id, secret.unwrap_or_default(), auth)
            });
        }
        let secret = secret
            .ok_or_else(|| Abort::Stop("the registration response has no client_secret".into()))?;
        Ok(ClientCreds::new(client_id, secret, auth))
    }
}

/// Deletes the clients the module registered (DELETE → 204, else a warning).
pub async fn cleanup(ctx: &mut Ctx) {
    for client in std::mem::take(&mut ctx.registered) {
        let (Some(uri), Some(token)) = (client.uri, client.token) else {
            continue;
        };
        let result = ctx.http.delete(&uri).bearer_auth(token).send().await;
        match result {
            Ok(response) if response.status().as_u16() == 204 => {}
            Ok(response) => ctx.log.warn(format!(
                "deleting client {} answered HTTP {}",
                client.client_id,
                response.status().as_u16()
            )),
            Err(e) => ctx.log.warn(format!(
                "deleting client {}: {}",
                client.client_id,
                crate::browser::error_chain(&e)
            )),
        }
    }
}
