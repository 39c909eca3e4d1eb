//! Consents: the scopes and claims a user has allowed a client, remembered so the consent
//! page is shown only for something new.

use crate::entity::consents::consent;
use crate::{StorageError, now};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

/// A stored consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    pub user_id: String,
    pub client_id: String,
    /// Space-separated scope values.
    pub scope: String,
    /// Individually requested claims, when there were any.
    pub claims: Option<serde_json::Value>,
    pub granted_at: i64,
}

impl From<consent::Model> for ConsentRecord {
    fn from(m: consent::Model) -> Self {
        Self { user_id: m.user_id, client_id: m.client_id, scope: m.scope, claims: m.claims, granted_at: m.granted_at }
    }
}

pub struct Consents<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> Consents<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        Self { db }
    }

    pub async fn get(&self, user_id: &str, client_id: &str) -> Result<Option<ConsentRecord>, StorageError> {
        let row = consent::Entity::find_by_id((user_id.to_string(), client_id.to_string())).one(self.db).await?;
        Ok(row.map(Into::into))
    }

    /// Records the consent, replacing any earlier one for this user and client (the caller
    /// merges scopes when it means to widen).
    pub async fn grant(
        &self,
        user_id: &str,
        client_id: &str,
        scope: &str,
        claims: Option<serde_json::Value>,
    ) -> Result<ConsentRecord, StorageError> {
        let row = consent::ActiveModel {
            user_id: Set(user_id.to_string()),
            client_id: Set(client_id.to_string()),
            scope: Set(scope.to_string()),
            claims: Set(claims),
            granted_at: Set(now()),
        };
        consent::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([consent::Column::UserId, consent::Column::ClientId])
                    .update_columns([consent::Column::Scope, consent::Column::Claims, consent::Column::GrantedAt])
                    .to_owned(),
            )
            .exec_without_returning(self.db)
            .await?;
        self.get(user_id, client_id)
            .await?
            .ok_or_else(|| StorageError::Corrupt(format!("consent of {user_id} for {client_id} vanished")))
    }

    /// Forgets the consent. True when there was one. Grants already issued are the caller's
    /// to revoke (`grants().revoke_user_grants`).
    pub async fn revoke(&self, user_id: &str, client_id: &str) -> Result<bool, StorageError> {
        let result = consent::Entity::delete_by_id((user_id.to_string(), client_id.to_string())).exec(self.db).await?;
        Ok(result.rows_affected == 1)
    }

    /// A user's consents, by client id.
    pub async fn list_for_user(&self, user_id: &str) -> Result<Vec<ConsentRecord>, StorageError> {
        let rows = consent::Entity::find()
            .filter(consent::Column::UserId.eq(user_id))
            .order_by_asc(consent::Column::ClientId)
            .all(self.db)
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }
}
