//! The provider's signing keys: the key set every node serves and signs with.

use crate::entity::keys::signing_key;
use crate::repo::instance::insert_if_absent;
use crate::{StorageError, now};
use sea_orm::sea_query::ExprTrait;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};

pub struct SigningKeys<'a> {
    db: &'a DatabaseConnection,
}

/// A key to store. `private_jwk` is whatever the caller wants kept (plain or encrypted JWK).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSigningKey {
    pub kid: String,
    pub alg: String,
    pub private_jwk: String,
    pub public_jwk: serde_json::Value,
    /// When the key starts signing (later than now for a pre-published key).
    pub active_from: i64,
}

/// A stored key with its life cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub alg: String,
    pub private_jwk: String,
    pub public_jwk: serde_json::Value,
    pub created_at: i64,
    pub active_from: i64,
    /// When it stopped (or will stop) signing.
    pub retired_at: Option<i64>,
    /// When it leaves the published JWKS.
    pub unpublish_at: Option<i64>,
}

impl SigningKeyRecord {
    pub fn is_published(&self, at: i64) -> bool {
        self.unpublish_at.is_none_or(|t| t > at)
    }

    pub fn signs_at(&self, at: i64) -> bool {
        self.active_from <= at && self.retired_at.is_none_or(|t| t > at)
    }
}

impl From<signing_key::Model> for SigningKeyRecord {
    fn from(m: signing_key::Model) -> Self {
        Self {
            kid: m.kid,
            alg: m.alg,
            private_jwk: m.private_jwk,
            public_jwk: m.public_jwk,
            created_at: m.created_at,
            active_from: m.active_from,
            retired_at: m.retired_at,
            unpublish_at: m.unpublish_at,
        }
    }
}

/// What happens to the keys a new key replaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Supersede {
    /// Stop signing with the older keys of the same algorithm at this time.
    pub retire_at: i64,
    /// Remove them from the JWKS at this time.
    pub unpublish_at: i64,
}

impl<'a> SigningKeys<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        Self { db }
    }

    /// Every key still published (or still to be), oldest first.
    pub async fn published(&self) -> Result<Vec<SigningKeyRecord>, StorageError> {
        let at = now();
        let rows = signing_key::Entity::find()
            .filter(signing_key::Column::UnpublishAt.is_null().or(signing_key::Column::UnpublishAt.gt(at)))
            .order_by_asc(signing_key::Column::CreatedAt)
            .order_by_asc(signing_key::Column::Kid)
            .all(self.db)
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Every key ever stored, oldest first (for `poort keys list`).
    pub async fn all(&self) -> Result<Vec<SigningKeyRecord>, StorageError> {
        let rows = signing_key::Entity::find()
            .order_by_asc(signing_key::Column::CreatedAt)
            .order_by_asc(signing_key::Column::Kid)
            .all(self.db)
            .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// Stores `key` unless another writer already claimed `generation` (a name such as
    /// `RS256#3`): of several nodes racing to create the same generation, exactly one key is
    /// stored. With `supersede`, older published keys of the same algorithm that are not yet
    /// retired get their retirement and unpublish times, in the same transaction. Returns
    /// whether `key` was stored.
    pub async fn insert_generation(
        &self,
        generation: &str,
        key: NewSigningKey,
        supersede: Option<Supersede>,
    ) -> Result<bool, StorageError> {
        let txn = self.db.begin().await?;
        if !insert_if_absent(&txn, &format!("signing-key:{generation}"), &key.kid).await? {
            txn.rollback().await?;
            return Ok(false);
        }
        if let Some(plan) = supersede {
            let older = signing_key::Entity::find()
                .filter(signing_key::Column::Alg.eq(key.alg.clone()))
                .filter(signing_key::Column::RetiredAt.is_null())
                .all(&txn)
                .await?;
            for row in older {
                let mut row: signing_key::ActiveModel = row.into();
                row.retired_at = Set(Some(plan.retire_at));
                row.unpublish_at = Set(Some(plan.unpublish_at));
                row.update(&txn).await?;
            }
        }
        let kid = key.kid.clone();
        signing_key::ActiveModel {
            kid: Set(key.kid),
            alg: Set(key.alg),
            private_jwk: Set(key.private_jwk),
            public_jwk: Set(key.public_jwk),
            created_at: Set(now()),
            active_from: Set(key.active_from),
            retired_at: Set(None),
            unpublish_at: Set(None),
        }
        .insert(&txn)
        .await
        .map_err(|e| StorageError::conflict_or(e, format!("signing key {kid}")))?;
        txn.commit().await?;
        Ok(true)
    }
}
