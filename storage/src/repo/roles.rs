//! Roles: named sets of permissions that users hold.

use crate::entity::accounts::{role, user, user_role};
use crate::repo::{begin_write, strings_from_json, strings_to_json};
use crate::{StorageError, now};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait};

/// A stored role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRecord {
    pub name: String,
    pub description: Option<String>,
    pub permissions: Vec<String>,
    pub created_at: i64,
}

impl TryFrom<role::Model> for RoleRecord {
    type Error = StorageError;

    fn try_from(m: role::Model) -> Result<Self, StorageError> {
        Ok(Self {
            permissions: strings_from_json(m.permissions, &format!("permissions of role {}", m.name))?,
            name: m.name,
            description: m.description,
            created_at: m.created_at,
        })
    }
}

pub struct Roles<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> Roles<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        Self { db }
    }

    /// Creates the role, or replaces its description and permissions (keeping `created_at`).
    pub async fn upsert(
        &self,
        name: &str,
        description: Option<&str>,
        permissions: &[String],
    ) -> Result<RoleRecord, StorageError> {
        let row = role::ActiveModel {
            name: Set(name.to_string()),
            description: Set(description.map(str::to_string)),
            permissions: Set(strings_to_json(permissions)),
            created_at: Set(now()),
        };
        role::Entity::insert(row)
            .on_conflict(
                OnConflict::column(role::Column::Name)
                    .update_columns([role::Column::Description, role::Column::Permissions])
                    .to_owned(),
            )
            .exec_without_returning(self.db)
            .await?;
        self.get(name).await?.ok_or_else(|| StorageError::Corrupt(format!("role {name} vanished")))
    }

    pub async fn get(&self, name: &str) -> Result<Option<RoleRecord>, StorageError> {
        role::Entity::find_by_id(name.to_string()).one(self.db).await?.map(TryInto::try_into).transpose()
    }

    /// Every role, by name.
    pub async fn list(&self) -> Result<Vec<RoleRecord>, StorageError> {
        let rows = role::Entity::find().order_by_asc(role::Column::Name).all(self.db).await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// Deletes the role and takes it away from everyone who held it. True when there was
    /// anything to delete (the role, or users holding a role of that name).
    pub async fn delete(&self, name: &str) -> Result<bool, StorageError> {
        let txn = begin_write(self.db).await?;
        // The holders' roles change, so their `updated_at` moves too. Touching the users first
        // keeps the lock order of the `Users` methods (user row, then role rows).
        let holders = user_role::Entity::find()
            .select_only()
            .column(user_role::Column::UserId)
            .filter(user_role::Column::RoleName.eq(name))
            .into_query();
        user::Entity::update_many()
            .col_expr(user::Column::UpdatedAt, Expr::val(now()))
            .filter(user::Column::Id.in_subquery(holders))
            .exec(&txn)
            .await?;
        let grants = user_role::Entity::delete_many().filter(user_role::Column::RoleName.eq(name)).exec(&txn).await?;
        let roles = role::Entity::delete_by_id(name.to_string()).exec(&txn).await?;
        txn.commit().await?;
        Ok(grants.rows_affected + roles.rows_affected > 0)
    }

    /// Ids of the users holding `role`, sorted.
    pub async fn users_with(&self, role: &str) -> Result<Vec<String>, StorageError> {
        let rows = user_role::Entity::find()
            .filter(user_role::Column::RoleName.eq(role))
            .order_by_asc(user_role::Column::UserId)
            .all(self.db)
            .await?;
        Ok(rows.into_iter().map(|r| r.user_id).collect())
    }
}
