//! What an administrator sees of an account, shared by `poort user show|list --json` and the
//! admin API so that both answer with the same JSON: the account, its roles and claims, whether
//! (and why not) the person can sign in, and where their activation link stands.

use crate::cli::output::{optional_time, time};
use poort_storage::repo::{OneTimePurpose, OneTimeTokenRecord, RoleRecord, UserRecord, UserStatus};
use poort_storage::{StorageError, Store};
use serde_json::{Value, json};

/// Finds a user by id, e-mail address or user name.
pub async fn find(store: &Store, key: &str) -> Result<Option<UserRecord>, StorageError> {
    if let Some(user) = store.users().get(key).await? {
        return Ok(Some(user));
    }
    store.users().find_by_login(key).await
}

/// Why a user can or cannot sign in, in words an administrator can act on.
pub fn sign_in_state(user: &UserRecord) -> String {
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

/// One account as JSON (`poort user list --json`, `GET /admin/users`).
pub fn describe(user: &UserRecord) -> Value {
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

/// Where the activation link of `user` stands: `none`, `valid`, `used` or `expired`.
pub fn activation_link(user: &UserRecord, link: Option<&OneTimeTokenRecord>) -> Value {
    let now = poort_storage::now();
    let state = match link {
        None if user.activation_sent_at.is_some() => "expired",
        None => "none",
        Some(link) if link.used_at.is_some() => "used",
        Some(link) if link.expires_at <= now => "expired",
        Some(_) => "valid",
    };
    json!({
        "state": state,
        "sent_at": link.map(|l| time(l.created_at)).or(user.activation_sent_at.map(time)),
        "expires_at": link.map(|l| time(l.expires_at)),
    })
}

/// One account in full, with its activation link and its upstream identities (`poort user
/// show --json`, `GET /admin/users/{user}`).
pub async fn show(store: &Store, user: &UserRecord) -> Result<Value, StorageError> {
    let link = store.one_time_tokens().latest_for_user(&user.id, OneTimePurpose::Activation).await?;
    let mut shown = describe(user);
    shown["activation_link"] = activation_link(user, link.as_ref());
    let method = sign_in_method(store, &user.auth_method).await?;
    if user.status == UserStatus::Active && user.auth_method != "password" && !shown["sign_in"].as_str().unwrap_or("").starts_with("no") {
        shown["sign_in"] = json!(format!("yes, {method}"));
    }
    shown["sign_in_method"] = json!(method);
    let mut linked = Vec::new();
    for identity in store.federated_identities().for_user(&user.id).await? {
        linked.push(json!({
            "connector": identity.connector,
            "through": sign_in_method(store, &identity.connector).await?,
            "subject": identity.subject,
            "email": identity.email,
            "linked_at": time(identity.linked_at),
            "last_sign_in_at": identity.last_login_at.map(time),
        }));
    }
    shown["federated_identities"] = Value::Array(linked);
    Ok(shown)
}

/// How an account with `auth_method` signs in, in plain words: "with a password here", or
/// "through Contoso (Microsoft Entra ID connector `contoso`)".
pub async fn sign_in_method(store: &Store, auth_method: &str) -> Result<String, StorageError> {
    if auth_method == "password" {
        return Ok("with a password here".into());
    }
    let Some(connector) = store.connectors().get(auth_method).await? else {
        return Ok(format!("through connector `{auth_method}`, which no longer exists"));
    };
    let kind = match connector.kind.as_str() {
        "entra" => "Microsoft Entra ID",
        "google" => "Google Workspace",
        "ldap" => "Active Directory / LDAP",
        _ => "OpenID Connect",
    };
    let name = connector.settings.get("name").and_then(Value::as_str).unwrap_or(&connector.id).to_string();
    Ok(format!("through {name} ({kind} connector `{}`)", connector.id))
}

/// One role as JSON (`poort role list --json`, `GET /admin/roles`).
pub fn describe_role(role: &RoleRecord) -> Value {
    json!({ "name": role.name, "description": role.description, "permissions": role.permissions })
}
