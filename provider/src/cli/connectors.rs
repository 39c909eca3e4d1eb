//! `poort connector add|update|list|show|remove`: upstream sign-in connectors kept in the
//! database (those of the configuration file are listed too, but changed there). Secrets are read
//! from standard input, never from the command line.

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
    /// Change some settings or secrets of a connector added with the CLI or the admin API; the
    /// rest stay as they are (a secret too, unless given anew).
    Update(Box<UpdateArgs>),
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
    #[command(flatten)]
    options: ConnectorOptions,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct UpdateArgs {
    id: String,
    #[command(flatten)]
    options: ConnectorOptions,
    /// Drop a setting, so that its default applies (repeat for several), e.g. `--unset domains`.
    #[arg(long = "unset", value_name = "SETTING")]
    unset: Vec<String>,
    #[arg(long)]
    json: bool,
}

/// The settings `add` and `update` take. On `update` a list given replaces the stored one, and a
/// switch takes `true` or `false` (`--allow-password false`); alone it means `true`.
#[derive(Debug, Args)]
pub struct ConnectorOptions {
    #[arg(long)]
    name: Option<String>,
    /// An e-mail domain that signs in here (repeat for several).
    #[arg(long = "domain")]
    domains: Vec<String>,
    /// People of those domains may also use a password here.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    allow_password: Option<bool>,
    /// Create accounts for upstream people Poort does not know.
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    jit_provisioning: Option<bool>,
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
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    userinfo: Option<bool>,
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
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    starttls: Option<bool>,
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    allow_plain_ldap: Option<bool>,
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
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    no_user_names: Option<bool>,
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

/// Puts the options given into `s`; returns the private key read from `--private-key-file`.
fn apply(o: ConnectorOptions, s: &mut ConnectorSettings) -> Result<Option<String>, StartError> {
    if o.client_secret_stdin && o.bind_password_stdin {
        return Err(StartError::Usage("give one secret on standard input: --client-secret-stdin or --bind-password-stdin".into()));
    }
    fn set<T>(target: &mut T, given: Option<T>) {
        if let Some(value) = given {
            *target = value;
        }
    }
    fn some<T>(target: &mut Option<T>, given: Option<T>) {
        if given.is_some() {
            *target = given;
        }
    }
    fn list<T>(target: &mut Vec<T>, given: Vec<T>) {
        if !given.is_empty() {
            *target = given;
        }
    }
    some(&mut s.name, o.name);
    list(&mut s.domains, o.domains);
    set(&mut s.allow_password, o.allow_password);
    set(&mut s.jit_provisioning, o.jit_provisioning);
    some(&mut s.trust_email, o.trust_email);
    set(&mut s.timeout, o.timeout);
    some(&mut s.issuer, o.issuer);
    some(&mut s.client_id, o.client_id);
    if o.client_secret_stdin {
        s.client_secret = Some(read_stdin_secret("the client secret")?);
    }
    list(&mut s.scopes, o.scopes);
    if !o.claims.is_empty() {
        s.claims = o.claims.into_iter().collect();
    }
    set(&mut s.userinfo, o.userinfo);
    some(&mut s.tenant, o.tenant);
    some(&mut s.authority, o.authority);
    list(&mut s.allowed_tenants, o.allowed_tenants);
    list(&mut s.hosted_domains, o.hosted_domains);
    some(&mut s.url, o.url);
    set(&mut s.starttls, o.starttls);
    set(&mut s.allow_plain_ldap, o.allow_plain_ldap);
    some(&mut s.ca_file, o.ca_file);
    some(&mut s.bind_dn, o.bind_dn);
    if o.bind_password_stdin {
        s.bind_password = Some(read_stdin_secret("the bind password")?);
    }
    some(&mut s.base_dn, o.base_dn);
    some(&mut s.user_filter, o.user_filter);
    some(&mut s.id_attribute, o.id_attribute);
    some(&mut s.email_attribute, o.email_attribute);
    some(&mut s.name_attribute, o.name_attribute);
    some(&mut s.group_base_dn, o.group_base_dn);
    some(&mut s.group_filter, o.group_filter);
    if !o.group_roles.is_empty() {
        s.group_roles.clear();
        for (group, role) in o.group_roles {
            s.group_roles.entry(group).or_default().push(role);
        }
    }
    if let Some(no_user_names) = o.no_user_names {
        s.user_names = !no_user_names;
    }
    match &o.private_key_file {
        Some(file) => std::fs::read_to_string(file)
            .map(Some)
            .map_err(|e| StartError::Usage(format!("cannot read {}: {e}", file.display()))),
        None => Ok(None),
    }
}

/// The stored settings of `id` less the `unset` ones (their defaults apply), for `update`.
fn stored_settings(record: &poort_storage::repo::ConnectorRecord, unset: &[String]) -> Result<ConnectorSettings, StartError> {
    let mut settings = record.settings.clone();
    let Some(fields) = settings.as_object_mut() else {
        return Err(StartError::Storage(poort_storage::StorageError::Corrupt(format!("connector {}: settings are not an object", record.id))));
    };
    for name in unset {
        if name == "id" || name == "kind" {
            return Err(StartError::Usage(format!("a connector's {name} stays: add another connector instead")));
        }
        if fields.remove(name).is_none() {
            return Err(StartError::Usage(format!("connector `{}` has no setting `{name}` to unset", record.id)));
        }
    }
    serde_json::from_value(settings)
        .map_err(|e| StartError::Storage(poort_storage::StorageError::Corrupt(format!("connector {}: {e}", record.id))))
}

fn save_error(error: SaveError) -> StartError {
    match error {
        SaveError::Invalid(problem) => StartError::Usage(problem),
        SaveError::Storage(error) => StartError::Storage(error),
    }
}

pub async fn run(command: ConnectorCommand, settings: &Settings) -> Result<(), StartError> {
    let store = crate::open_store(settings).await?;
    match command {
        ConnectorCommand::Add(args) => {
            let AddArgs { id, kind, options, json } = *args;
            let kind = ConnectorKind::parse(&kind)
                .ok_or_else(|| StartError::Usage(format!("--kind `{kind}` is not oidc, entra, google or ldap")))?;
            let mut connector = ConnectorSettings::new(&id, kind);
            let private_key_pem = apply(options, &mut connector)?;
            if store.connectors().get(&connector.id).await?.is_some() {
                return Err(StartError::Usage(format!("connector `{}` exists: change it with `poort connector update`", connector.id)));
            }
            let key = crate::secrets::hash_key(&store).await?;
            let stored = connectors::save(&store, &key, connector, private_key_pem, ConnectorSource::Cli).await.map_err(save_error)?;
            if json {
                print_json(&describe(&stored));
            } else {
                println!("added connector {} ({})", stored.id, stored.kind);
            }
            Ok(())
        }
        ConnectorCommand::Update(args) => {
            let UpdateArgs { id, options, unset, json } = *args;
            let record = store.connectors().get(&id).await?.ok_or_else(|| StartError::Usage(format!("no connector `{id}`")))?;
            if record.source == ConnectorSource::Config {
                return Err(StartError::Usage(format!("connector `{id}` comes from the configuration file: change it there")));
            }
            let mut connector = stored_settings(&record, &unset)?;
            let private_key_pem = apply(options, &mut connector)?;
            let key = crate::secrets::hash_key(&store).await?;
            // Saved as who added it: the source says where to change it, and that stays.
            let stored = connectors::save(&store, &key, connector, private_key_pem, record.source).await.map_err(save_error)?;
            if json {
                print_json(&describe(&stored));
            } else {
                println!("updated connector {} ({})", stored.id, stored.kind);
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
            Err(error) => Err(save_error(error)),
        },
    }
}
