//! `poort connector add|list|show|remove`: upstream sign-in connectors kept in the database (those
//! of the configuration file are listed too, but changed there). Secrets are read from standard
//! input, never from the command line.

use super::output::{print_json, print_table};
use crate::StartError;
use crate::federation::connectors::{self, SaveError, describe};
use clap::{Args, Subcommand};
use poort_config::{ConnectorKind, ConnectorSettings, Settings};
use poort_storage::repo::ConnectorSource;
use serde_json::Value;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Subcommand)]
pub enum ConnectorCommand {
    /// Add a connector (see `[[connectors]]` in poort.example.toml for what each setting means).
    Add(Box<AddArgs>),
    /// List connectors.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one connector (never its secrets).
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Remove a connector added with the CLI or the admin API. Linked accounts keep their links.
    Remove { id: String },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    #[arg(long)]
    id: String,
    /// oidc, entra, google or ldap.
    #[arg(long)]
    kind: String,
    #[arg(long)]
    name: Option<String>,
    /// An e-mail domain that signs in here (repeat for several).
    #[arg(long = "domain")]
    domains: Vec<String>,
    /// People of those domains may also use a password here.
    #[arg(long)]
    allow_password: bool,
    /// Create accounts for upstream people Poort does not know.
    #[arg(long)]
    jit_provisioning: bool,
    /// Whether upstream e-mail addresses may link accounts (default by kind).
    #[arg(long)]
    trust_email: Option<bool>,
    /// Per request to the upstream, e.g. 10s.
    #[arg(long, value_parser = seconds)]
    timeout: Option<Duration>,
    #[arg(long)]
    issuer: Option<url::Url>,
    #[arg(long)]
    client_id: Option<String>,
    /// Read the client secret from standard input.
    #[arg(long)]
    client_secret_stdin: bool,
    /// A PEM private key for private_key_jwt (read now, stored sealed).
    #[arg(long)]
    private_key_file: Option<PathBuf>,
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// OURS=THEIRS: a Poort profile claim from an upstream claim (repeat for several).
    #[arg(long = "claim", value_parser = pair)]
    claims: Vec<(String, String)>,
    #[arg(long)]
    userinfo: bool,
    #[arg(long)]
    tenant: Option<String>,
    #[arg(long)]
    authority: Option<url::Url>,
    #[arg(long = "allowed-tenant")]
    allowed_tenants: Vec<String>,
    #[arg(long = "hosted-domain")]
    hosted_domains: Vec<String>,
    #[arg(long)]
    url: Option<String>,
    #[arg(long)]
    starttls: bool,
    #[arg(long)]
    allow_plain_ldap: bool,
    #[arg(long)]
    ca_file: Option<PathBuf>,
    #[arg(long)]
    bind_dn: Option<String>,
    /// Read the service account's password from standard input.
    #[arg(long)]
    bind_password_stdin: bool,
    #[arg(long)]
    base_dn: Option<String>,
    #[arg(long)]
    user_filter: Option<String>,
    #[arg(long)]
    id_attribute: Option<String>,
    #[arg(long)]
    email_attribute: Option<String>,
    #[arg(long)]
    name_attribute: Option<String>,
    #[arg(long)]
    group_base_dn: Option<String>,
    #[arg(long)]
    group_filter: Option<String>,
    /// GROUP=ROLE: people in the directory group get the role (repeat for several).
    #[arg(long = "group-role", value_parser = group_pair)]
    group_roles: Vec<(String, String)>,
    /// People may not type bare directory user names.
    #[arg(long)]
    no_user_names: bool,
    #[arg(long)]
    json: bool,
}

fn pair(text: &str) -> Result<(String, String), String> {
    split_pair(text, text.split_once('='))
}

/// GROUP=ROLE, where the group is often a DN full of `=`: the role is after the last one.
fn group_pair(text: &str) -> Result<(String, String), String> {
    split_pair(text, text.rsplit_once('='))
}

fn split_pair(text: &str, split: Option<(&str, &str)>) -> Result<(String, String), String> {
    match split {
        Some((a, b)) if !a.trim().is_empty() && !b.trim().is_empty() => Ok((a.trim().to_string(), b.trim().to_string())),
        _ => Err(format!("`{text}` is not NAME=VALUE")),
    }
}

/// `10s` or `1m`, as the configuration writes the connector timeout.
fn seconds(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number.parse().map_err(|_| format!("`{text}` is not a duration such as 10s"))?;
    match unit {
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("`{text}` is not a duration such as 10s")),
    }
}

fn read_stdin_secret(what: &str) -> Result<String, StartError> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).map_err(|e| StartError::Usage(format!("cannot read {what}: {e}")))?;
    let secret = text.lines().next().unwrap_or("").to_string();
    if secret.is_empty() {
        return Err(StartError::Usage(format!("{what} on standard input is empty")));
    }
    Ok(secret)
}

fn settings_of(args: AddArgs) -> Result<(ConnectorSettings, Option<String>, bool), StartError> {
    let kind = ConnectorKind::parse(&args.kind)
        .ok_or_else(|| StartError::Usage(format!("--kind `{}` is not oidc, entra, google or ldap", args.kind)))?;
    if args.client_secret_stdin && args.bind_password_stdin {
        return Err(StartError::Usage("give one secret on standard input: --client-secret-stdin or --bind-password-stdin".into()));
    }
    let mut s = ConnectorSettings::new(&args.id, kind);
    s.name = args.name;
    s.domains = args.domains;
    s.allow_password = args.allow_password;
    s.jit_provisioning = args.jit_provisioning;
    s.trust_email = args.trust_email;
    if let Some(timeout) = args.timeout {
        s.timeout = timeout;
    }
    s.issuer = args.issuer;
    s.client_id = args.client_id;
    if args.client_secret_stdin {
        s.client_secret = Some(read_stdin_secret("the client secret")?);
    }
    s.scopes = args.scopes;
    s.claims = args.claims.into_iter().collect();
    s.userinfo = args.userinfo;
    s.tenant = args.tenant;
    s.authority = args.authority;
    s.allowed_tenants = args.allowed_tenants;
    s.hosted_domains = args.hosted_domains;
    s.url = args.url;
    s.starttls = args.starttls;
    s.allow_plain_ldap = args.allow_plain_ldap;
    s.ca_file = args.ca_file;
    s.bind_dn = args.bind_dn;
    if args.bind_password_stdin {
        s.bind_password = Some(read_stdin_secret("the bind password")?);
    }
    s.base_dn = args.base_dn;
    s.user_filter = args.user_filter;
    s.id_attribute = args.id_attribute;
    s.email_attribute = args.email_attribute;
    s.name_attribute = args.name_attribute;
    s.group_base_dn = args.group_base_dn;
    s.group_filter = args.group_filter;
    for (group, role) in args.group_roles {
        s.group_roles.entry(group).or_default().push(role);
    }
    s.user_names = !args.no_user_names;
    let private_key_pem = match &args.private_key_file {
        Some(file) => Some(
            std::fs::read_to_string(file).map_err(|e| StartError::Usage(format!("cannot read {}: {e}", file.display())))?,
        ),
        None => None,
    };
    Ok((s, private_key_pem, args.json))
}

pub async fn run(command: ConnectorCommand, settings: &Settings) -> Result<(), StartError> {
    let store = crate::open_store(settings).await?;
    match command {
        ConnectorCommand::Add(args) => {
            let (connector, private_key_pem, json) = settings_of(*args)?;
            if store.connectors().get(&connector.id).await?.is_some() {
                return Err(StartError::Usage(format!("connector `{}` exists: remove it first", connector.id)));
            }
            let key = crate::secrets::hash_key(&store).await?;
            let stored = connectors::save(&store, &key, connector, private_key_pem, ConnectorSource::Cli)
                .await
                .map_err(|error| match error {
                    SaveError::Invalid(problem) => StartError::Usage(problem),
                    SaveError::Storage(error) => StartError::Storage(error),
                })?;
            if json {
                print_json(&describe(&stored));
            } else {
                println!("added connector {} ({})", stored.id, stored.kind);
            }
            Ok(())
        }
        ConnectorCommand::List { json } => {
            let all = store.connectors().list().await?;
            if json {
                print_json(&Value::Array(all.iter().map(describe).collect()));
            } else {
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|c| {
                        let shown = describe(c);
                        vec![
                            c.id.clone(),
                            c.kind.clone(),
                            shown["name"].as_str().unwrap_or("-").to_string(),
                            c.source.as_str().into(),
                            if c.domains.is_empty() { "-".into() } else { c.domains.join(",") },
                        ]
                    })
                    .collect();
                print_table(&["ID", "KIND", "NAME", "SOURCE", "DOMAINS"], &rows);
            }
            Ok(())
        }
        ConnectorCommand::Show { id, json } => {
            let record = store.connectors().get(&id).await?.ok_or_else(|| StartError::Usage(format!("no connector `{id}`")))?;
            let shown = describe(&record);
            if json {
                print_json(&shown);
            } else {
                println!("id:       {}", record.id);
                println!("kind:     {}", record.kind);
                println!("name:     {}", shown["name"].as_str().unwrap_or("-"));
                println!("source:   {}", record.source.as_str());
                println!("domains:  {}", if record.domains.is_empty() { "-".into() } else { record.domains.join(", ") });
                println!("secrets:  {}", if record.secrets_sealed.is_some() { "set (sealed)" } else { "none" });
                println!("{}", serde_json::to_string_pretty(&record.settings).unwrap_or_default());
            }
            Ok(())
        }
        ConnectorCommand::Remove { id } => match connectors::remove(&store, &id).await {
            Ok(true) => {
                println!("removed connector {id}");
                Ok(())
            }
            Ok(false) => Err(StartError::Usage(format!("no connector `{id}`"))),
            Err(SaveError::Invalid(problem)) => Err(StartError::Usage(problem)),
            Err(SaveError::Storage(error)) => Err(StartError::Storage(error)),
        },
    }
}
