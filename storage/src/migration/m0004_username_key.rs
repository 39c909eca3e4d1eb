//! User names are unique regardless of case: a `username_key` column holds the name case-folded
//! in Rust (so non-ASCII letters fold the same on SQLite and PostgreSQL), under a unique index
//! that also settles concurrent creations on PostgreSQL.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, Statement};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m0004_username_key"
    }
}

/// How a user name is compared: trimmed and lower-cased.
pub fn username_key(name: &str) -> String {
    name.trim().to_lowercase()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("users").add_column(ColumnDef::new("username_key").string().null()).to_owned())
            .await?;
        // Fill it for existing rows; a case-insensitive duplicate stored before this migration
        // keeps a NULL key (it can still sign in by e-mail) rather than failing the upgrade.
        let db = m.get_connection();
        let backend = db.get_database_backend();
        let rows = db
            .query_all_raw(Statement::from_string(backend, "SELECT id, username FROM users WHERE username IS NOT NULL"))
            .await?;
        let mut taken = std::collections::HashSet::new();
        for row in rows {
            let id: String = row.try_get("", "id")?;
            let name: String = row.try_get("", "username")?;
            let key = username_key(&name);
            if taken.insert(key.clone()) {
                let update = Query::update().table("users").value("username_key", key).and_where(Expr::col("id").eq(id)).to_owned();
                db.execute(&update).await?;
            }
        }
        m.create_index(Index::create().name("users_username_key").table("users").col("username_key").unique().to_owned())
            .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(Index::drop().name("users_username_key").table("users").to_owned()).await?;
        m.alter_table(Table::alter().table("users").drop_column("username_key").to_owned()).await
    }
}
