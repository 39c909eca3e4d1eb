//! `poort client add|list|show|remove`.

use super::output::{print_json, print_table, time};
use crate::StartError;
use crate::clients::{metadata_of, new_secret};
use crate::crypto::keyed_hash;
use crate::secrets;
use clap::Subcommand;
use poort_config::{Settings, StaticClient};
use poort_storage::repo::{ClientRecord, ClientSource, NewClient};
use serde_json::{Value, json};

// Parsed once per run: the size of `Add` does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum ClientCommand {
    /// Register a client. A confidential client gets a generated secret, shown once.
    Add {
        /// Defaults to a random identifier.
        #[arg(long)]
        client_id: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// Repeat for several; matched exactly, query included. Needed for authorization_code.
        #[arg(long = "redirect-uri")]
        redirect_uris: Vec<String>,
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        #[arg(long = "grant-type", default_values_t = vec!["authorization_code".to_string()])]
        grant_types: Vec<String>,
        #[arg(long = "response-type", default_values_t = vec!["code".to_string()])]
        response_types: Vec<String>,
        /// client_secret_basic, client_secret_post, client_secret_jwt, private_key_jwt or none.
        #[arg(long, default_value = "client_secret_basic")]
        auth_method: String,
        /// Skip the consent page for this client.
        #[arg(long)]
        first_party: bool,
        /// Only users with this role may sign in (repeat for several; any one suffices).
        #[arg(long = "required-role")]
        required_roles: Vec<String>,
        /// Or a role granting this permission (repeat for several).
        #[arg(long = "required-permission")]
        required_permissions: Vec<String>,
        /// Users must accept the terms of service (`poort terms publish`) before signing in.
        #[arg(long)]
        requires_terms: bool,
        /// The scopes it may have for itself with client_credentials, space-separated
        /// (`poort.admin`: the admin API).
        #[arg(long)]
        scope: Option<String>,
        /// Framed, with `iss` and `sid`, on the "signed out" page when a session ends.
        #[arg(long = "frontchannel-logout-uri")]
        frontchannel_logout_uri: Option<String>,
        /// POSTed a signed logout token when a session ends (queued and retried).
        #[arg(long = "backchannel-logout-uri")]
        backchannel_logout_uri: Option<String>,
        /// People always sign in to this client through this connector (federation).
        #[arg(long)]
        connector: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// List clients.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one client's registration.
    Show {
        client_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a client.
    Remove { client_id: String },
}

pub async fn run(command: ClientCommand, settings: &Settings) -> Result<(), StartError> {
    let store = crate::open_store(settings).await?;
    match command {
        ClientCommand::Add {
            client_id,
            name,
            redirect_uris,
            post_logout_redirect_uris,
            grant_types,
            response_types,
            auth_method,
            first_party,
            required_roles,
            required_permissions,
            requires_terms,
            scope,
            frontchannel_logout_uri,
            backchannel_logout_uri,
            connector,
            json,
        } => {
            let secret = match auth_method.as_str() {
                "none" | "private_key_jwt" => None,
                _ => Some(new_secret()),
            };
            let client = StaticClient {
                client_id: client_id.unwrap_or_else(|| crate::crypto::random_token()[..22].to_string()),
                client_secret: secret.clone(),
                client_name: name,
                redirect_uris,
                post_logout_redirect_uris,
                grant_types,
                response_types,
                token_endpoint_auth_method: auth_method,
                first_party,
                required_roles,
                required_permissions,
                requires_terms,
                scope,
                frontchannel_logout_uri,
                backchannel_logout_uri,
                connector,
                id_token_signed_response_alg: None,
                access_token_format: None,
                access_token_signed_response_alg: None,
            };
            client.validate("client").map_err(|e| StartError::Usage(e.to_string()))?;
            let key = secrets::hash_key(&store).await?;
            store
                .clients()
                .insert(NewClient {
                    client_id: client.client_id.clone(),
                    secret_hash: secret.as_deref().map(|s| keyed_hash(&key, s)),
                    secret_sealed: None,
                    secret_expires_at: 0,
                    metadata: metadata_of(&client),
                    source: ClientSource::Cli,
                    registration_token_hash: None,
                })
                .await?;
            if json {
                print_json(&json!({ "client_id": client.client_id, "client_secret": secret }));
            } else {
                println!("client_id:     {}", client.client_id);
                if let Some(secret) = secret {
                    println!("client_secret: {secret}");
                    println!("(the secret is stored only as a hash: keep it now, it cannot be shown again)");
                }
            }
            Ok(())
        }
        ClientCommand::List { json } => {
            let clients = store.clients().list().await?;
            if json {
                print_json(&Value::Array(clients.iter().map(describe).collect()));
            } else {
                let rows: Vec<Vec<String>> = clients
                    .iter()
                    .map(|c| {
                        vec![
                            c.client_id.clone(),
                            c.metadata["client_name"].as_str().unwrap_or("-").to_string(),
                            c.source.as_str().into(),
                            c.metadata["token_endpoint_auth_method"].as_str().unwrap_or("-").to_string(),
                        ]
                    })
                    .collect();
                print_table(&["CLIENT ID", "NAME", "SOURCE", "AUTH METHOD"], &rows);
            }
            Ok(())
        }
        ClientCommand::Show { client_id, json } => {
            let client =
                store.clients().get(&client_id).await?.ok_or_else(|| StartError::Usage(format!("no client `{client_id}`")))?;
            if json {
                print_json(&describe(&client));
            } else {
                println!("client_id: {}", client.client_id);
                println!("source:    {}", client.source.as_str());
                println!("secret:    {}", if client.secret_hash.is_some() { "set (hashed)" } else { "none" });
                println!("created:   {}", time(client.created_at));
                println!("{}", serde_json::to_string_pretty(&client.metadata).unwrap_or_default());
            }
            Ok(())
        }
        ClientCommand::Remove { client_id } => {
            let client =
                store.clients().get(&client_id).await?.ok_or_else(|| StartError::Usage(format!("no client `{client_id}`")))?;
            if client.source == ClientSource::Config {
                return Err(StartError::Usage(format!(
                    "`{client_id}` comes from the configuration file: remove it there"
                )));
            }
            crate::clients::remove(&store, &client_id).await?;
            println!("removed {client_id}");
            Ok(())
        }
    }
}

fn describe(client: &ClientRecord) -> Value {
    json!({
        "client_id": client.client_id,
        "source": client.source.as_str(),
        "has_secret": client.secret_hash.is_some(),
        "created_at": time(client.created_at),
        "updated_at": time(client.updated_at),
        "metadata": client.metadata,
    })
}
