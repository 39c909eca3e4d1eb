//! Instance-wide values (secrets and markers) that every node must agree on.

use crate::entity::instance::instance_value;
use crate::{StorageError, now};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DatabaseConnection, EntityTrait};

pub struct InstanceValues<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> InstanceValues<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        Self { db }
    }

    pub async fn get(&self, name: &str) -> Result<Option<String>, StorageError> {
        Ok(instance_value::Entity::find_by_id(name.to_string()).one(self.db).await?.map(|m| m.value))
    }

    /// Returns the stored value, storing `candidate` first if there is none. When several nodes
    /// race, all of them get the one value that was stored first.
    pub async fn get_or_insert(&self, name: &str, candidate: &str) -> Result<String, StorageError> {
        insert_if_absent(self.db, name, candidate).await?;
        self.get(name).await?.ok_or_else(|| StorageError::Corrupt(format!("instance value `{name}` vanished")))
    }
}

/// Inserts `name` unless it exists; true when this call stored it. Used as a claim ticket:
/// of several racing writers exactly one gets `true`.
pub(crate) async fn insert_if_absent<C: ConnectionTrait>(db: &C, name: &str, value: &str) -> Result<bool, StorageError> {
    let row = instance_value::ActiveModel {
        name: Set(name.to_string()),
        value: Set(value.to_string()),
        created_at: Set(now()),
    };
    let inserted = instance_value::Entity::insert(row)
        .on_conflict(OnConflict::column(instance_value::Column::Name).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(inserted == 1)
}
