//! `poort user add|list|show|disable|enable|set-role|set-password`.

use super::output::{optional_time, print_json, print_table, time};
use crate::{StartError, password};
use clap::Subcommand;
use poort_config::Settings;
use poort_storage::Store;
use poort_storage::repo::{NewUser, UserRecord, UserStatus};
use serde_json::{Value, json};
use std::io::Read;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. Without --password-stdin the account starts as invited (not yet activated).
    Add {
        #[arg(long)]
        email: String,
        /// A directory user name the user can sign in with besides the e-mail address.
        #[arg(long)]
        username: Option<String>,
        /// Display name (also the `name` claim).
        #[arg(long)]
        name: Option<String>,
        /// More OpenID Connect claims as a JSON object (`{"given_name":"Ann","locale":"nl"}`).
        #[arg(long, value_name = "JSON")]
        claims_json: Option<String>,
        /// Mark the e-mail address as verified (the `email_verified` claim).
        #[arg(long)]
        email_verified: bool,
        /// A role to grant; repeat for several.
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Read a password from standard input and make the account active at once.
        #[arg(long)]
        password_stdin: bool,
        #[arg(long)]
        json: bool,
    },
    /// List users.
    List {
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 0)]
        offset: u64,
        #[arg(long, default_value_t = 1000)]
        limit: u64,
    },
    /// Show one user (by id, e-mail address or user name) and why they can or cannot sign in.
    Show {
        user: String,
        #[arg(long)]
        json: bool,
    },
    /// Disable a user: they can no longer sign in.
    Disable { user: String },
    /// Re-enable a disabled user.
    Enable { user: String },
    /// Replace a user's roles (give --role once per role; none clears them).
    SetRole {
        user: String,
        #[arg(long = "role")]
        roles: Vec<String>,
    },
    /// Set a user's password, read from standard input, and make the account active.
    SetPassword { user: String },
}

/// The shortest password the CLI accepts; the full strength policy lives with the hosted pages.
const MIN_PASSWORD_CHARS: usize = 8;

pub async fn run(command: UserCommand, settings: &Settings) -> Result<(), StartError> {
    let store = crate::open_store(settings).await?;
    match command {
        UserCommand::Add { email, username, name, claims_json, email_verified, roles, password_stdin, json } => {
            let email = email.trim().to_string();
            if !looks_like_email(&email) {
                return Err(StartError::Usage(format!("`{email}` is not an e-mail address")));
            }
            let mut claims = match claims_json.as_deref().map(serde_json::from_str::<Value>) {
                None => serde_json::Map::new(),
                Some(Ok(Value::Object(claims))) => claims,
                Some(_) => return Err(StartError::Usage("--claims-json must be a JSON object".into())),
            };
            if let Some(name) = &name {
                claims.insert("name".into(), json!(name));
            }
            let claims = Value::Object(claims);
            let password_hash = if password_stdin { Some(hash_from_stdin()?) } else { None };
            let status = if password_hash.is_some() { UserStatus::Active } else { UserStatus::Invited };
            let user = store
                .users()
                .create(NewUser {
                    email,
                    username,
                    display_name: name,
                    email_verified,
                    claims,
                    status,
                    auth_method: "password".into(),
                    password_hash,
                })
                .await?;
            if !roles.is_empty() {
                store.users().set_roles(&user.id, &roles).await?;
            }
            let user = find(&store, &user.id).await?;
            if json {
                print_json(&describe(&user));
            } else {
                println!("added {} ({}), {}", user.email, user.id, user.status.as_str());
            }
            Ok(())
        }
        UserCommand::List { json, offset, limit } => {
            let users = store.users().list(offset, limit).await?;
            if json {
                print_json(&Value::Array(users.iter().map(describe).collect()));
            } else {
                let rows: Vec<Vec<String>> = users
                    .iter()
                    .map(|u| {
                        vec![
                            u.email.clone(),
                            u.username.clone().unwrap_or_else(|| "-".into()),
                            u.status.as_str().into(),
                            u.auth_method.clone(),
                            if u.roles.is_empty() { "-".into() } else { u.roles.join(",") },
                            u.id.clone(),
                        ]
                    })
                    .collect();
                print_table(&["EMAIL", "USERNAME", "STATUS", "METHOD", "ROLES", "ID"], &rows);
            }
            Ok(())
        }
        UserCommand::Show { user, json } => {
            let user = find(&store, &user).await?;
            if json {
                print_json(&describe(&user));
            } else {
                println!("id:            {}", user.id);
                println!("e-mail:        {}", user.email);
                println!("user name:     {}", user.username.as_deref().unwrap_or("-"));
                println!("display name:  {}", user.display_name.as_deref().unwrap_or("-"));
                println!("status:        {}", user.status.as_str());
                println!("method:        {}", user.auth_method);
                println!("roles:         {}", if user.roles.is_empty() { "-".into() } else { user.roles.join(", ") });
                println!("created:       {}", time(user.created_at));
                println!("activated:     {}", optional_time(user.activated_at));
                println!("invitation:    {}", optional_time(user.activation_sent_at));
                println!("can sign in:   {}", sign_in_state(&user));
            }
            Ok(())
        }
        UserCommand::Disable { user } => set_status(&store, &user, UserStatus::Disabled).await,
        UserCommand::Enable { user } => set_status(&store, &user, UserStatus::Active).await,
        UserCommand::SetRole { user, roles } => {
            let user = find(&store, &user).await?;
            store.users().set_roles(&user.id, &roles).await?;
            println!("{} now has roles: {}", user.email, if roles.is_empty() { "-".into() } else { roles.join(", ") });
            Ok(())
        }
        UserCommand::SetPassword { user } => {
            let user = find(&store, &user).await?;
            let hash = hash_from_stdin()?;
            store.users().set_password_hash(&user.id, Some(hash)).await?;
            if user.status == UserStatus::Invited {
                store.users().set_status(&user.id, UserStatus::Active).await?;
            }
            println!("password set for {}", user.email);
            Ok(())
        }
    }
}

async fn set_status(store: &Store, user: &str, status: UserStatus) -> Result<(), StartError> {
    let user = find(store, user).await?;
    if status == UserStatus::Active && user.status == UserStatus::Invited {
        return Err(StartError::Usage(format!("{} has not activated their account yet", user.email)));
    }
    store.users().set_status(&user.id, status).await?;
    println!("{} is now {}", user.email, status.as_str());
    Ok(())
}

/// Finds a user by id, e-mail address or user name.
async fn find(store: &Store, key: &str) -> Result<UserRecord, StartError> {
    if let Some(user) = store.users().get(key).await? {
        return Ok(user);
    }
    store.users().find_by_login(key).await?.ok_or_else(|| StartError::Usage(format!("no user `{key}`")))
}

/// Why a user can or cannot sign in, in words an administrator can act on.
fn sign_in_state(user: &UserRecord) -> String {
    let now = poort_storage::now();
    match user.status {
        UserStatus::Disabled => "no: the account is disabled".into(),
        UserStatus::Invited => "no: the account is not activated yet".into(),
        UserStatus::Active if user.locked_until.is_some_and(|t| t > now) => {
            format!("no: locked after failed sign-ins until {}", optional_time(user.locked_until))
        }
        UserStatus::Active if user.auth_method != "password" => format!("yes, through {}", user.auth_method),
        UserStatus::Active if user.password_hash.is_none() => "no: no password is set".into(),
        UserStatus::Active => "yes, with a password".into(),
    }
}

fn describe(user: &UserRecord) -> Value {
    json!({
        "id": user.id,
        "email": user.email,
        "email_verified": user.email_verified,
        "username": user.username,
        "display_name": user.display_name,
        "status": user.status.as_str(),
        "auth_method": user.auth_method,
        "has_password": user.password_hash.is_some(),
        "roles": user.roles,
        "claims": user.claims,
        "created_at": time(user.created_at),
        "activated_at": user.activated_at.map(time),
        "activation_sent_at": user.activation_sent_at.map(time),
        "locked_until": user.locked_until.map(time),
        "sign_in": sign_in_state(user),
    })
}

fn looks_like_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => !local.is_empty() && domain.contains('.') && !text.contains(char::is_whitespace),
        None => false,
    }
}

fn hash_from_stdin() -> Result<String, StartError> {
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|e| StartError::Usage(format!("cannot read the password from standard input: {e}")))?;
    let password = input.trim_end_matches(['\r', '\n']);
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(StartError::Usage(format!("the password must have at least {MIN_PASSWORD_CHARS} characters")));
    }
    Ok(password::hash(password))
}
