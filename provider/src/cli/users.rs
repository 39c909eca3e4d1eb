//! `poort user add|list|show|disable|enable|set-role|set-password|resend-activation`.

use super::output::{optional_time, print_json, print_table, time};
use crate::accounts::activation::{self, Invitation, InviteError, ResendError};
use crate::accounts::links::{LinkError, LinkMailer};
use crate::accounts::overview::{self, describe, sign_in_state};
use crate::mail::Delivery;
use crate::{StartError, password};
use clap::Subcommand;
use poort_config::Settings;
use poort_storage::Store;
use poort_storage::repo::{NewUser, OneTimePurpose, OneTimeTokenRecord, UserRecord, UserStatus};
use serde_json::{Value, json};
use std::io::Read;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user. Without --password-stdin the account starts as invited (not yet activated)
    /// and gets an activation mail whose link lets them choose their password.
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
        /// Read a password from standard input and make the account active at once (no mail).
        #[arg(long)]
        password_stdin: bool,
        /// The client (relying party) that invites them: named in the activation mail, and where
        /// they land once activated.
        #[arg(long = "client", value_name = "CLIENT_ID")]
        client: Option<String>,
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
    /// Send an invited user a new activation mail; their older links stop working.
    ResendActivation { user: String },
}

/// The shortest password the CLI accepts; the full strength policy lives with the hosted pages.
const MIN_PASSWORD_CHARS: usize = 8;

pub async fn run(command: UserCommand, settings: &Settings) -> Result<(), StartError> {
    let store = crate::open_store(settings).await?;
    match command {
        UserCommand::Add { email, username, name, claims_json, email_verified, roles, password_stdin, client, json } => {
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
            if !password_stdin {
                let invitation =
                    Invitation { email, username, display_name: name, email_verified, claims, roles, client_id: client };
                return invite(settings, &store, invitation, json).await;
            }
            if client.is_some() {
                return Err(StartError::Usage("--client is for invitations; leave out --password-stdin".into()));
            }
            let password_hash = Some(hash_from_stdin()?);
            let status = UserStatus::Active;
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
                print_json(&overview::show(&store, &user).await?);
            } else {
                let link = store.one_time_tokens().latest_for_user(&user.id, OneTimePurpose::Activation).await?;
                println!("id:            {}", user.id);
                println!("e-mail:        {}", user.email);
                println!("user name:     {}", user.username.as_deref().unwrap_or("-"));
                println!("display name:  {}", user.display_name.as_deref().unwrap_or("-"));
                println!("status:        {}", user.status.as_str());
                println!("signs in:      {}", overview::sign_in_method(&store, &user.auth_method).await?);
                for identity in store.federated_identities().for_user(&user.id).await? {
                    println!(
                        "linked:        {} at {} (since {}, last sign-in {})",
                        identity.email.as_deref().unwrap_or(&identity.subject),
                        overview::sign_in_method(&store, &identity.connector).await?.trim_start_matches("through "),
                        time(identity.linked_at),
                        optional_time(identity.last_login_at),
                    );
                }
                println!("roles:         {}", if user.roles.is_empty() { "-".into() } else { user.roles.join(", ") });
                println!("created:       {}", time(user.created_at));
                println!("activated:     {}", optional_time(user.activated_at));
                println!("invitation:    {}", invitation_state(&user, link.as_ref()));
                let shown = overview::show(&store, &user).await?;
                println!("can sign in:   {}", shown["sign_in"].as_str().map_or_else(|| sign_in_state(&user), str::to_string));
            }
            Ok(())
        }
        UserCommand::Disable { user } => set_status(settings, &store, &user, UserStatus::Disabled).await,
        UserCommand::Enable { user } => set_status(settings, &store, &user, UserStatus::Active).await,
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
            // As after a reset: whoever knew the old password is out.
            let (sessions, grants) = crate::logout::ended::sign_out_everywhere(&store, settings, &user.id).await?;
            println!("password set for {} ({sessions} sessions ended, {grants} grants revoked)", user.email);
            Ok(())
        }
        UserCommand::ResendActivation { user } => {
            let user = find(&store, &user).await?;
            let mailer = LinkMailer::open(settings, store.clone()).await?;
            let delivery = activation::resend(&mailer, &user).await.map_err(|error| match error {
                ResendError::NotInvited(..) | ResendError::Federated(..) => StartError::Usage(error.to_string()),
                ResendError::Link(error) => link_error(error),
            })?;
            println!("a new activation link went to {} ({})", user.email, delivered(&delivery));
            Ok(())
        }
    }
}

/// `poort user add` without a password: the account is invited and mailed its activation link.
async fn invite(settings: &Settings, store: &Store, invitation: Invitation, json: bool) -> Result<(), StartError> {
    let mailer = LinkMailer::open(settings, store.clone()).await?;
    let invited = activation::invite(&mailer, invitation).await.map_err(|error| match error {
        InviteError::Storage(error) => StartError::Storage(error),
        other => StartError::Usage(other.to_string()),
    })?;
    let user = &invited.user;
    if json {
        let mut shown = describe(user);
        shown["activation_mail"] = match &invited.mail {
            Ok(delivery) => json!({ "sent": true, "delivery": delivered(delivery) }),
            Err(error) => json!({ "sent": false, "error": error.to_string() }),
        };
        print_json(&shown);
    } else {
        println!("added {} ({}), {}", user.email, user.id, user.status.as_str());
    }
    match invited.mail {
        Ok(delivery) => {
            if !json {
                println!("activation mail: {}", delivered(&delivery));
            }
            Ok(())
        }
        Err(error) => Err(StartError::Mail(format!(
            "{} was added, but the activation mail was not sent ({}); send it with `poort user resend-activation {}`",
            user.email,
            link_error(error),
            user.email
        ))),
    }
}

fn link_error(error: LinkError) -> StartError {
    match error {
        LinkError::Storage(error) => StartError::Storage(error),
        other => StartError::Mail(other.to_string()),
    }
}

fn delivered(delivery: &Delivery) -> String {
    match delivery {
        Delivery::File(path) => format!("written to {}", path.display()),
        Delivery::Smtp => "handed to the SMTP relay".into(),
    }
}

/// Where an invited user's activation stands, for an administrator.
fn invitation_state(user: &UserRecord, link: Option<&OneTimeTokenRecord>) -> String {
    let now = poort_storage::now();
    let resend = "send a new one with `poort user resend-activation`";
    match (user.status, link, user.activation_sent_at) {
        (UserStatus::Invited, None, None) => format!("no activation mail sent yet; {resend}"),
        // Expired links are purged after a while: the mail was sent, its link is gone.
        (UserStatus::Invited, None, Some(sent)) => format!("the link sent at {} has expired; {resend}", time(sent)),
        (UserStatus::Invited, Some(link), _) if link.used_at.is_some() => {
            format!("the link sent at {} is no longer valid; {resend}", time(link.created_at))
        }
        (UserStatus::Invited, Some(link), _) if link.expires_at <= now => {
            format!("the link sent at {} expired at {}; {resend}", time(link.created_at), time(link.expires_at))
        }
        (UserStatus::Invited, Some(link), _) => {
            format!("sent at {}, link valid until {}", time(link.created_at), time(link.expires_at))
        }
        (_, _, sent) => optional_time(sent),
    }
}

async fn set_status(settings: &Settings, store: &Store, user: &str, status: UserStatus) -> Result<(), StartError> {
    let user = find(store, user).await?;
    if status == UserStatus::Active && user.status == UserStatus::Invited {
        return Err(StartError::Usage(format!("{} has not activated their account yet", user.email)));
    }
    store.users().set_status(&user.id, status).await?;
    if status == UserStatus::Disabled {
        let (sessions, grants) = crate::logout::ended::sign_out_everywhere(store, settings, &user.id).await?;
        println!("{} is now {} ({sessions} sessions ended, {grants} grants revoked)", user.email, status.as_str());
    } else {
        println!("{} is now {}", user.email, status.as_str());
    }
    Ok(())
}

/// Finds a user by id, e-mail address or user name.
async fn find(store: &Store, key: &str) -> Result<UserRecord, StartError> {
    overview::find(store, key).await?.ok_or_else(|| StartError::Usage(format!("no user `{key}`")))
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
