//! Upstream identities (a connector and the subject it asserts) linked to local users.

use crate::entity::federation::federated_identity;
use crate::{StorageError, now};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

/// A stored link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederatedIdentityRecord {
    pub connector: String,
    /// The upstream `sub` (or the directory's stable id).
    pub subject: String,
    pub user_id: String,
    /// The e-mail address upstream reported when the link was made, as reported.
    pub email: Option<String>,
    pub linked_at: i64,
    pub last_login_at: Option<i64>,
}

impl From<federated_identity::Model> for FederatedIdentityRecord {
    fn from(m: federated_identity::Model) -> Self {
        Self {
            connector: m.connector,
            subject: m.subject,
            user_id: m.user_id,
            email: m.email,
            linked_at: m.linked_at,
            last_login_at: m.last_login_at,
        }
    }
}

fn key(connector: &str, subject: &str) -> (String, String) {
    (connector.to_string(), subject.to_string())
}

pub struct FederatedIdentities<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> FederatedIdentities<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        Self { db }
    }

    /// Links an upstream identity to a user. Linking it again to the same user returns the
    /// existing link unchanged; `Conflict` when it is linked to someone else.
    pub async fn link(
        &self,
        connector: &str,
        subject: &str,
        user_id: &str,
        email: Option<&str>,
    ) -> Result<FederatedIdentityRecord, StorageError> {
        let row = federated_identity::ActiveModel {
            connector: Set(connector.to_string()),
            subject: Set(subject.to_string()),
            user_id: Set(user_id.to_string()),
            email: Set(email.map(str::to_string)),
            linked_at: Set(now()),
            last_login_at: Set(None),
        };
        // Insert-or-nothing, then read what is there: whoever linked first keeps the identity.
        federated_identity::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([federated_identity::Column::Connector, federated_identity::Column::Subject])
                    .do_nothing()
                    .to_owned(),
            )
            .exec_without_returning(self.db)
            .await?;
        match self.find(connector, subject).await? {
            Some(link) if link.user_id == user_id => Ok(link),
            Some(_) => Err(StorageError::Conflict(format!("identity {subject} at {connector} is linked to another user"))),
            None => Err(StorageError::Corrupt(format!("identity {subject} at {connector} vanished"))),
        }
    }

    pub async fn find(&self, connector: &str, subject: &str) -> Result<Option<FederatedIdentityRecord>, StorageError> {
        Ok(federated_identity::Entity::find_by_id(key(connector, subject)).one(self.db).await?.map(Into::into))
    }

    /// A user's links, by connector and subject.
    pub async fn for_user(&self, user_id: &str) -> Result<Vec<FederatedIdentityRecord>, StorageError> {
        let rows = federated_identity::Entity::find()
            .filter(federated_identity::Column::UserId.eq(user_id))
            .order_by_asc(federated_identity::Column::Connector)
            .order_by_asc(federated_identity::Column::Subject)
            .all(self.db)
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Removes a link. True when there was one.
    pub async fn unlink(&self, connector: &str, subject: &str) -> Result<bool, StorageError> {
        let result = federated_identity::Entity::delete_by_id(key(connector, subject)).exec(self.db).await?;
        Ok(result.rows_affected == 1)
    }

    /// Records a sign-in through this identity. False when it is not linked.
    pub async fn touch_login(&self, connector: &str, subject: &str, at: i64) -> Result<bool, StorageError> {
        let result = federated_identity::Entity::update_many()
            .col_expr(federated_identity::Column::LastLoginAt, Expr::val(at))
            .filter(federated_identity::Column::Connector.eq(connector))
            .filter(federated_identity::Column::Subject.eq(subject))
            .exec(self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }
}
