//! Single-use tokens sent by mail: account activation and password reset. Stored by a keyed
//! hash; spent by one conditional update, so a token works once however many tabs submit it.

use crate::entity::one_time::one_time_token;
use crate::repo::{begin_write, parse_stored, text_enum};
use crate::{StorageError, now};
use crate::repo::InsertCommitted as _;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, Order, QueryFilter, QueryOrder,
};

text_enum! {
    /// What a one-time token lets its bearer do.
    pub enum OneTimePurpose as "one-time token purpose" {
        /// Activate an invited account (and choose a password).
        Activation = "activation",
        /// Choose a new password.
        Reset = "reset",
    }
}

/// A token to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOneTimeToken {
    pub token_hash: String,
    pub purpose: OneTimePurpose,
    pub user_id: String,
    /// The client the user came from, to return to afterwards.
    pub client_id: Option<String>,
    pub return_to: Option<String>,
    pub expires_at: i64,
}

/// A stored token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneTimeTokenRecord {
    pub token_hash: String,
    pub purpose: OneTimePurpose,
    pub user_id: String,
    pub client_id: Option<String>,
    pub return_to: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

impl TryFrom<one_time_token::Model> for OneTimeTokenRecord {
    type Error = StorageError;

    fn try_from(m: one_time_token::Model) -> Result<Self, StorageError> {
        Ok(Self {
            purpose: parse_stored(&m.purpose)?,
            token_hash: m.token_hash,
            user_id: m.user_id,
            client_id: m.client_id,
            return_to: m.return_to,
            created_at: m.created_at,
            expires_at: m.expires_at,
            used_at: m.used_at,
        })
    }
}

/// What redeeming a one-time token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedeemOutcome {
    /// This call spent the token; it is the only one that ever will.
    Redeemed(OneTimeTokenRecord),
    /// Spent before, or invalidated by a newer token.
    Used,
    Expired,
    /// No token with this hash and purpose.
    NotFound,
}

pub struct OneTimeTokens<'a> {
    db: &'a DatabaseConnection,
}

impl<'a> OneTimeTokens<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection) -> Self {
        Self { db }
    }

    pub async fn create(&self, new: NewOneTimeToken) -> Result<OneTimeTokenRecord, StorageError> {
        let row = one_time_token::ActiveModel {
            token_hash: Set(new.token_hash),
            purpose: Set(new.purpose.as_str().to_string()),
            user_id: Set(new.user_id),
            client_id: Set(new.client_id),
            return_to: Set(new.return_to),
            created_at: Set(now()),
            expires_at: Set(new.expires_at),
            used_at: Set(None),
        }
        .insert_committed(self.db)
        .await
        .map_err(|e| StorageError::conflict_or(e, "one-time token"))?;
        row.try_into()
    }

    /// Spends a token meant for `purpose`. Exactly one of any number of concurrent calls gets
    /// `Redeemed`.
    pub async fn redeem(&self, token_hash: &str, purpose: OneTimePurpose, now: i64) -> Result<RedeemOutcome, StorageError> {
        let txn = begin_write(self.db).await?;
        let spent = one_time_token::Entity::update_many()
            .col_expr(one_time_token::Column::UsedAt, Expr::val(now))
            .filter(one_time_token::Column::TokenHash.eq(token_hash))
            .filter(one_time_token::Column::Purpose.eq(purpose.as_str()))
            .filter(one_time_token::Column::UsedAt.is_null())
            .filter(one_time_token::Column::ExpiresAt.gt(now))
            .exec(&txn)
            .await?
            .rows_affected
            == 1;
        let row = one_time_token::Entity::find_by_id(token_hash.to_string())
            .filter(one_time_token::Column::Purpose.eq(purpose.as_str()))
            .one(&txn)
            .await?;
        txn.commit().await?;
        let Some(row) = row else { return Ok(RedeemOutcome::NotFound) };
        Ok(if spent {
            RedeemOutcome::Redeemed(row.try_into()?)
        } else if row.used_at.is_some() {
            RedeemOutcome::Used
        } else {
            RedeemOutcome::Expired
        })
    }

    /// The token with this hash and purpose, in whatever state, without spending it (to show
    /// the page a link opens before the form on it is sent).
    pub async fn find(&self, token_hash: &str, purpose: OneTimePurpose) -> Result<Option<OneTimeTokenRecord>, StorageError> {
        let row = one_time_token::Entity::find_by_id(token_hash.to_string())
            .filter(one_time_token::Column::Purpose.eq(purpose.as_str()))
            .one(self.db)
            .await?;
        row.map(TryInto::try_into).transpose()
    }

    /// The newest token of `purpose` for a user, in whatever state (to throttle re-sending).
    pub async fn latest_for_user(
        &self,
        user_id: &str,
        purpose: OneTimePurpose,
    ) -> Result<Option<OneTimeTokenRecord>, StorageError> {
        let row = one_time_token::Entity::find()
            .filter(one_time_token::Column::UserId.eq(user_id))
            .filter(one_time_token::Column::Purpose.eq(purpose.as_str()))
            .order_by_desc(one_time_token::Column::CreatedAt)
            // Within one second, a newer token has spent the older ones: prefer an unspent one.
            .order_by(Expr::col(one_time_token::Column::UsedAt).is_null(), Order::Desc)
            .order_by_desc(one_time_token::Column::ExpiresAt)
            .one(self.db)
            .await?;
        row.map(TryInto::try_into).transpose()
    }

    /// Spends every unused token of `purpose` for a user (before sending a new one, or after a
    /// password change). Returns how many there were.
    pub async fn invalidate_for_user(&self, user_id: &str, purpose: OneTimePurpose) -> Result<u64, StorageError> {
        let result = one_time_token::Entity::update_many()
            .col_expr(one_time_token::Column::UsedAt, Expr::val(now()))
            .filter(one_time_token::Column::UserId.eq(user_id))
            .filter(one_time_token::Column::Purpose.eq(purpose.as_str()))
            .filter(one_time_token::Column::UsedAt.is_null())
            .exec(self.db)
            .await?;
        Ok(result.rows_affected)
    }

    /// Deletes tokens past their expiry, used or not. Returns how many went.
    pub async fn purge_expired(&self, now: i64) -> Result<u64, StorageError> {
        let result =
            one_time_token::Entity::delete_many().filter(one_time_token::Column::ExpiresAt.lte(now)).exec(self.db).await?;
        Ok(result.rows_affected)
    }
}
