//! `poort role set|list|remove`: roles and the permissions they grant (a client can require a
//! role, or a permission that one of the user's roles grants).

use super::output::{print_json, print_table};
use crate::StartError;
use clap::Subcommand;
use poort_config::Settings;
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    /// Create a role or replace its description and permissions.
    Set {
        name: String,
        #[arg(long)]
        description: Option<String>,
        /// A permission the role grants, such as `settings.login`; repeat for several.
        #[arg(long = "permission")]
        permissions: Vec<String>,
    },
    /// List roles.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Remove a role (users holding it lose it).
    Remove { name: String },
}

pub async fn run(command: RoleCommand, settings: &Settings) -> Result<(), StartError> {
    let store = crate::open_store(settings).await?;
    match command {
        RoleCommand::Set { name, description, permissions } => {
            if name.trim().is_empty() {
                return Err(StartError::Usage("a role needs a name".into()));
            }
            let role = store.roles().upsert(&name, description.as_deref(), &permissions).await?;
            println!("role {} grants: {}", role.name, if role.permissions.is_empty() { "-".into() } else { role.permissions.join(", ") });
            Ok(())
        }
        RoleCommand::List { json } => {
            let roles = store.roles().list().await?;
            if json {
                let rows: Vec<_> = roles.iter().map(crate::accounts::overview::describe_role).collect();
                print_json(&json!(rows));
            } else {
                let rows: Vec<Vec<String>> = roles
                    .iter()
                    .map(|r| vec![r.name.clone(), r.permissions.join(","), r.description.clone().unwrap_or_default()])
                    .collect();
                print_table(&["ROLE", "PERMISSIONS", "DESCRIPTION"], &rows);
            }
            Ok(())
        }
        RoleCommand::Remove { name } => {
            if !store.roles().delete(&name).await? {
                return Err(StartError::Usage(format!("no role `{name}`")));
            }
            println!("removed role {name}");
            Ok(())
        }
    }
}
