//! Grants, the authorization codes that start them and the tokens issued under them.
//!
//! A grant is one user's authorization of one client. Codes and tokens are stored by a keyed
//! hash and point at their grant; revoking the grant revokes everything under it. A grant's
//! expiry bounds its tokens: nothing new is issued under an expired or revoked grant.
//!
//! Lock order on PostgreSQL, kept by every method here: the grant row, then code or token rows.

use crate::entity::grants::{authorization_code, grant, token};
use crate::repo::sessions::session_client_row;
use crate::in_place::{self, Reads};
use crate::repo::group_commit::{FirstRows, GroupCommit, InPlaceWork, Work};
use crate::repo::{begin_write, new_id, parse_stored, strings_from_json, strings_to_json, text_enum};
use crate::{StorageError, now};
use sea_orm::TryIntoModel as _;
use std::sync::Arc;
use sea_orm::sea_query::{Expr, InsertStatement, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction,
    DbBackend, EntityTrait, Iterable as _, QueryFilter, QuerySelect, QueryTrait,
};

/// A grant to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGrant {
    pub client_id: String,
    /// None for grants without a user (client credentials).
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    pub scope: String,
    /// The `claims` request parameter, when there was one.
    pub claims: Option<serde_json::Value>,
    pub auth_time: Option<i64>,
    pub expires_at: i64,
}

/// A stored grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantRecord {
    pub id: String,
    pub client_id: String,
    pub user_id: Option<String>,
    pub session_id: Option<String>,
    pub scope: String,
    pub claims: Option<serde_json::Value>,
    pub auth_time: Option<i64>,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

impl GrantRecord {
    /// Whether tokens may still be issued under this grant.
    pub fn is_active(&self, at: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at > at
    }
}

impl From<grant::Model> for GrantRecord {
    fn from(m: grant::Model) -> Self {
        Self {
            id: m.id,
            client_id: m.client_id,
            user_id: m.user_id,
            session_id: m.session_id,
            scope: m.scope,
            claims: m.claims,
            auth_time: m.auth_time,
            created_at: m.created_at,
            expires_at: m.expires_at,
            revoked_at: m.revoked_at,
        }
    }
}

/// An authorization code to store, with everything the token endpoint needs to redeem it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuthorizationCode {
    pub code_hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub session_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub claims: Option<serde_json::Value>,
    pub auth_time: i64,
    pub acr: Option<String>,
    pub amr: Vec<String>,
    pub expires_at: i64,
}

/// A stored authorization code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCodeRecord {
    pub code_hash: String,
    pub grant_id: String,
    pub client_id: String,
    pub user_id: String,
    pub session_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub claims: Option<serde_json::Value>,
    pub auth_time: i64,
    pub acr: Option<String>,
    pub amr: Vec<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub consumed_at: Option<i64>,
}

impl TryFrom<authorization_code::Model> for AuthorizationCodeRecord {
    type Error = StorageError;

    fn try_from(m: authorization_code::Model) -> Result<Self, StorageError> {
        Ok(Self {
            amr: strings_from_json(m.amr, "amr of an authorization code")?,
            code_hash: m.code_hash,
            grant_id: m.grant_id,
            client_id: m.client_id,
            user_id: m.user_id,
            session_id: m.session_id,
            redirect_uri: m.redirect_uri,
            scope: m.scope,
            nonce: m.nonce,
            code_challenge: m.code_challenge,
            code_challenge_method: m.code_challenge_method,
            claims: m.claims,
            auth_time: m.auth_time,
            acr: m.acr,
            created_at: m.created_at,
            expires_at: m.expires_at,
            consumed_at: m.consumed_at,
        })
    }
}

/// What redeeming an authorization code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsumeOutcome {
    /// This call spent the code; it is the only one that ever will.
    Consumed(AuthorizationCodeRecord),
    /// The code was spent before: the caller should revoke its grant.
    AlreadyUsed(AuthorizationCodeRecord),
    NotFound,
    Expired,
    /// The caller's check refused the code (another client's, another redirect URI, a wrong
    /// PKCE verifier): it is left as it was.
    Refused(AuthorizationCodeRecord),
}

/// A caller's verdict on a code before it is spent (see [`Grants::redeem_code`]).
pub type CodeCheck = Arc<dyn Fn(&AuthorizationCodeRecord) -> bool + Send + Sync>;

/// The tokens to store with a code as it is spent (see [`Grants::redeem_code_for_tokens`]),
/// made from the spent code. Called once per attempt of the write, so it must make the same
/// tokens each time.
pub type TokensForCode = Arc<dyn Fn(&AuthorizationCodeRecord) -> Vec<NewToken> + Send + Sync>;

text_enum! {
    /// What a stored token is.
    pub enum TokenKind as "token kind" {
        Access = "access",
        Refresh = "refresh",
    }
}

/// A token to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub token_hash: String,
    pub kind: TokenKind,
    pub grant_id: String,
    pub client_id: String,
    pub user_id: Option<String>,
    pub scope: String,
    /// The rotation family of a refresh token; a refresh token stored without one starts a new
    /// family. Access tokens have none.
    pub family_id: Option<String>,
    pub expires_at: i64,
}

/// The successor of a rotated refresh token. Grant, client, user, scope and family are the
/// old token's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefreshToken {
    pub token_hash: String,
    pub expires_at: i64,
}

/// A stored token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub token_hash: String,
    pub kind: TokenKind,
    pub grant_id: String,
    pub client_id: String,
    pub user_id: Option<String>,
    pub scope: String,
    pub family_id: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    /// When a refresh token was exchanged for its successor.
    pub rotated_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

impl TokenRecord {
    /// Whether the token is still good: not revoked, not rotated, not expired.
    pub fn is_active(&self, at: i64) -> bool {
        self.revoked_at.is_none() && self.rotated_at.is_none() && self.expires_at > at
    }
}

impl TryFrom<token::Model> for TokenRecord {
    type Error = StorageError;

    fn try_from(m: token::Model) -> Result<Self, StorageError> {
        Ok(Self {
            kind: parse_stored(&m.kind)?,
            token_hash: m.token_hash,
            grant_id: m.grant_id,
            client_id: m.client_id,
            user_id: m.user_id,
            scope: m.scope,
            family_id: m.family_id,
            created_at: m.created_at,
            expires_at: m.expires_at,
            rotated_at: m.rotated_at,
            revoked_at: m.revoked_at,
        })
    }
}

/// What rotating a refresh token found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// This call rotated `old` (now marked rotated) into `new`; it is the only one that ever will.
    Rotated { old: TokenRecord, new: TokenRecord },
    /// The token was rotated before: someone replayed it. The caller should revoke its family.
    Reused(TokenRecord),
    /// The token, or its grant, was revoked.
    Revoked(TokenRecord),
    /// The token, or its grant, has expired.
    Expired,
    /// No refresh token has this hash.
    NotFound,
}

pub struct Grants<'a> {
    db: &'a DatabaseConnection,
    reads: Reads<'a>,
    writes: &'a GroupCommit,
}

impl<'a> Grants<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection, reads: Reads<'a>, writes: &'a GroupCommit) -> Self {
        Self { db, reads, writes }
    }

    /// Creates a grant with a new id.
    pub async fn create_grant(&self, new: NewGrant) -> Result<GrantRecord, StorageError> {
        let row = grant_row(new_id(), new);
        let work: Work<GrantRecord> = Box::new(move |txn| {
            let row = row.clone();
            Box::pin(async move { Ok(row.insert(txn).await?.into()) })
        });
        self.writes.write(self.db, work).await
    }

    pub async fn get_grant(&self, id: &str) -> Result<Option<GrantRecord>, StorageError> {
        Ok(grant::Entity::find_by_id(id.to_string()).one(self.db).await?.map(Into::into))
    }

    /// Moves a live grant's expiry (a sliding refresh lifetime). False when the grant is gone,
    /// revoked or expired.
    pub async fn extend_grant(&self, id: &str, expires_at: i64) -> Result<bool, StorageError> {
        let result = grant::Entity::update_many()
            .col_expr(grant::Column::ExpiresAt, Expr::val(expires_at))
            .filter(grant::Column::Id.eq(id))
            .filter(grant::Column::RevokedAt.is_null())
            .filter(grant::Column::ExpiresAt.gt(now()))
            .exec(self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Revokes the grant and every token under it, and spends its unredeemed codes (a late
    /// redemption then reports `AlreadyUsed`). True when the grant had not been revoked before.
    pub async fn revoke_grant(&self, grant_id: &str, at: i64) -> Result<bool, StorageError> {
        let txn = begin_write(self.db).await?;
        let revoked = grant::Entity::update_many()
            .col_expr(grant::Column::RevokedAt, Expr::val(at))
            .filter(grant::Column::Id.eq(grant_id))
            .filter(grant::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?
            .rows_affected;
        token::Entity::update_many()
            .col_expr(token::Column::RevokedAt, Expr::val(at))
            .filter(token::Column::GrantId.eq(grant_id))
            .filter(token::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
        authorization_code::Entity::update_many()
            .col_expr(authorization_code::Column::ConsumedAt, Expr::val(at))
            .filter(authorization_code::Column::GrantId.eq(grant_id))
            .filter(authorization_code::Column::ConsumedAt.is_null())
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(revoked == 1)
    }

    /// Revokes every live grant (and its tokens) `user_id` gave, to one client or to all.
    /// Returns the ids of the grants revoked.
    pub async fn revoke_user_grants(
        &self,
        user_id: &str,
        client_id: Option<&str>,
        at: i64,
    ) -> Result<Vec<String>, StorageError> {
        let mut query = grant::Entity::find()
            .filter(grant::Column::UserId.eq(user_id))
            .filter(grant::Column::RevokedAt.is_null());
        if let Some(client_id) = client_id {
            query = query.filter(grant::Column::ClientId.eq(client_id));
        }
        let ids: Vec<String> = query.all(self.db).await?.into_iter().map(|g| g.id).collect();
        let mut revoked = Vec::new();
        for id in ids {
            if self.revoke_grant(&id, at).await? {
                revoked.push(id);
            }
        }
        Ok(revoked)
    }

    /// Revokes the live grants made through a browser session (which has ended), with their
    /// tokens; grants whose scope holds `keep_scope` (`offline_access`, when offline access is
    /// meant to outlive the session) are left alone. Returns the revoked grant ids.
    pub async fn revoke_session_grants(
        &self,
        session_id: &str,
        keep_scope: Option<&str>,
        at: i64,
    ) -> Result<Vec<String>, StorageError> {
        let grants = grant::Entity::find()
            .filter(grant::Column::SessionId.eq(session_id))
            .filter(grant::Column::RevokedAt.is_null())
            .all(self.db)
            .await?;
        let mut revoked = Vec::new();
        for grant in grants {
            if keep_scope.is_some_and(|kept| grant.scope.split(' ').any(|s| s == kept)) {
                continue;
            }
            if self.revoke_grant(&grant.id, at).await? {
                revoked.push(grant.id);
            }
        }
        Ok(revoked)
    }

    /// Revokes every live grant of a client (and so every token issued under them), for a client
    /// that is being removed. Returns the revoked grant ids.
    pub async fn revoke_client_grants(&self, client_id: &str, at: i64) -> Result<Vec<String>, StorageError> {
        let ids: Vec<String> = grant::Entity::find()
            .filter(grant::Column::ClientId.eq(client_id))
            .filter(grant::Column::RevokedAt.is_null())
            .all(self.db)
            .await?
            .into_iter()
            .map(|g| g.id)
            .collect();
        let mut revoked = Vec::new();
        for id in ids {
            if self.revoke_grant(&id, at).await? {
                revoked.push(id);
            }
        }
        Ok(revoked)
    }

    /// Stores a code; `Conflict` if the hash exists (a collision of 256-bit values: a bug).
    pub async fn store_code(&self, new: NewAuthorizationCode) -> Result<AuthorizationCodeRecord, StorageError> {
        let row = code_row(new);
        let work: Work<authorization_code::Model> = Box::new(move |txn| {
            let row = row.clone();
            Box::pin(async move { row.insert(txn).await.map_err(|e| StorageError::conflict_or(e, "authorization code")) })
        });
        self.writes.write(self.db, work).await?.try_into()
    }

    /// Creates a grant and its authorization code in one transaction (an authorization
    /// response), and records that the code's session has signed in to its client (as
    /// `Sessions::add_client` does): all of it is stored or none. The code's `grant_id` is the
    /// new grant's. Many requests' grants share a commit on SQLite (see [`GroupCommit`]).
    pub async fn create_grant_with_code(
        &self,
        grant: NewGrant,
        code: NewAuthorizationCode,
    ) -> Result<(GrantRecord, AuthorizationCodeRecord), StorageError> {
        let grant_id = new_id();
        let signed_in = session_client_row(&code.session_id, &code.client_id);
        let code = code_row(NewAuthorizationCode { grant_id: grant_id.clone(), ..code });
        let grant = grant_row(grant_id, grant);
        let stored_grant: grant::Model = grant.clone().try_into_model()?;
        let stored_code: authorization_code::Model = code.clone().try_into_model()?;
        let records = (GrantRecord::from(stored_grant), stored_code.try_into()?);
        self.writes.insert_new_grant(self.db, grant, FirstRows::Code { code, signed_in }).await?;
        Ok(records)
    }

    /// Spends a code if `accept` passes it, in one write: the code is read, a used one is
    /// `AlreadyUsed` and a refused one `Refused` (both left as they were), then an expired one
    /// `Expired`; only then is it spent. Exactly one of any number of concurrent calls gets
    /// `Consumed`. One write instead of a read and then a write: a code flow's token request
    /// waits for the database once fewer.
    pub async fn redeem_code(&self, code_hash: &str, now: i64, accept: CodeCheck) -> Result<ConsumeOutcome, StorageError> {
        self.redeem(code_hash, now, accept, None).await
    }

    /// [`Grants::redeem_code`], and in the same write the tokens `tokens` makes of the spent code
    /// are stored under its grant: the code is spent and its tokens stored together, or nothing
    /// changes. Should the grant have ended (expired, or purged) the code is left as it was and
    /// the outcome is `Expired`. A token request waits for one commit instead of two.
    pub async fn redeem_code_for_tokens(
        &self,
        code_hash: &str,
        now: i64,
        accept: CodeCheck,
        tokens: TokensForCode,
    ) -> Result<ConsumeOutcome, StorageError> {
        self.redeem(code_hash, now, accept, Some(tokens)).await
    }

    async fn redeem(
        &self,
        code_hash: &str,
        now: i64,
        accept: CodeCheck,
        tokens: Option<TokensForCode>,
    ) -> Result<ConsumeOutcome, StorageError> {
        let hash = code_hash.to_string();
        let work: Work<ConsumeOutcome> = {
            let (hash, accept, tokens) = (hash.clone(), accept.clone(), tokens.clone());
            Box::new(move |txn| {
                let (hash, accept, tokens) = (hash.clone(), accept.clone(), tokens.clone());
                Box::pin(async move {
                    if tokens.is_some() {
                        // The tokens' insert locks the grant's row: take it before the code's, in
                        // the order `revoke_grant` takes them, or the two could deadlock.
                        lock_grant_of_code(txn, &hash).await?;
                    }
                    // Spent first and checked after, so that a good code costs one statement; a
                    // code the check refuses, or finds expired, is put back as it was in the same
                    // transaction. On PostgreSQL a concurrent redemption waits for this row's
                    // lock, then finds `consumed_at` set.
                    let Some(row) = spend_code(&hash, now).exec_with_returning(txn).await?.pop() else {
                        return not_spent(authorization_code::Entity::find_by_id(hash.as_str()).one(txn).await?);
                    };
                    let (mut outcome, mut put_back) = judge_spent_code(row, now, &accept)?;
                    if let (ConsumeOutcome::Consumed(code), Some(tokens)) = (&outcome, &tokens) {
                        for new in tokens(code) {
                            if !insert_under_live_grant(txn, token_row(new)).await? {
                                (outcome, put_back) = (ConsumeOutcome::Expired, true);
                                break;
                            }
                        }
                    }
                    if put_back {
                        restore_code(&hash).exec(txn).await?;
                    }
                    Ok(outcome)
                })
            })
        };
        let in_place: InPlaceWork<ConsumeOutcome> = Box::new(move |fast| {
            let spent = fast.rows(&spend_code_in_place(&hash, now), |row| in_place::model::<authorization_code::Entity>(row, ""))?;
            let Some(row) = spent.into_iter().next() else {
                return not_spent(fast.one(&authorization_code::Entity::find_by_id(hash.as_str()))?);
            };
            let (mut outcome, mut put_back) = judge_spent_code(row, now, &accept)?;
            if let (ConsumeOutcome::Consumed(code), Some(tokens)) = (&outcome, &tokens) {
                for new in tokens(code) {
                    if fast.execute(&insert_under_live_grant_in_place(&token_row(new), crate::now())?)? != 1 {
                        (outcome, put_back) = (ConsumeOutcome::Expired, true);
                        break;
                    }
                }
            }
            if put_back {
                fast.execute(&restore_code(&hash).build(DbBackend::Sqlite))?;
            }
            Ok(outcome)
        });
        self.writes.write_in_place_first(self.db, work, in_place).await
    }

    /// Spends a code, whoever presents it. Exactly one of any number of concurrent calls gets
    /// `Consumed`.
    pub async fn consume_code(&self, code_hash: &str, now: i64) -> Result<ConsumeOutcome, StorageError> {
        self.redeem_code(code_hash, now, Arc::new(|_| true)).await
    }

    /// Stores a token under its grant. `None` (and nothing stored) when the grant is missing,
    /// revoked or expired, so a token cannot outlive a revocation that raced with its issue.
    pub async fn store_token(&self, new: NewToken) -> Result<Option<TokenRecord>, StorageError> {
        let row = token_row(new);
        let stored: token::Model = row.clone().try_into_model()?;
        let work: Work<bool> = {
            let row = row.clone();
            Box::new(move |txn| Box::pin(insert_under_live_grant(txn, row.clone())))
        };
        let in_place: InPlaceWork<bool> = Box::new(move |fast| {
            let insert = insert_under_live_grant_statement(&row, now())?;
            Ok(fast.execute(&DbBackend::Sqlite.build(&insert))? == 1)
        });
        if self.writes.write_in_place_first(self.db, work, in_place).await? { stored.try_into().map(Some) } else { Ok(None) }
    }

    /// Creates a grant and its first token in one transaction (a client's own access token):
    /// both are stored or neither. The token's `grant_id` is the new grant's. Many requests'
    /// grants share a commit on SQLite (see [`GroupCommit`]).
    pub async fn create_grant_with_token(
        &self,
        grant: NewGrant,
        token: NewToken,
    ) -> Result<(GrantRecord, TokenRecord), StorageError> {
        let grant_id = new_id();
        let token = token_row(NewToken { grant_id: grant_id.clone(), ..token });
        let grant = grant_row(grant_id, grant);
        let stored_grant: grant::Model = grant.clone().try_into_model()?;
        let stored_token: token::Model = token.clone().try_into_model()?;
        let records = (GrantRecord::from(stored_grant), stored_token.try_into()?);
        self.writes.insert_new_grant(self.db, grant, FirstRows::Token(token)).await?;
        Ok(records)
    }

    /// The token with this hash, in whatever state it is (see [`TokenRecord::is_active`]).
    pub async fn find_token(&self, token_hash: &str) -> Result<Option<TokenRecord>, StorageError> {
        let query = token::Entity::find_by_id(token_hash.to_string());
        self.reads.one(query, self.db).await?.map(TryInto::try_into).transpose()
    }

    /// Exchanges a refresh token for its successor. Exactly one of any number of concurrent
    /// calls with the same token gets `Rotated`; the others, and every later call, get `Reused`.
    pub async fn rotate_refresh(&self, old_hash: &str, new: NewRefreshToken) -> Result<RotateOutcome, StorageError> {
        let at = now();
        let txn = begin_write(self.db).await?;
        let Some(old) = find_refresh(&txn, old_hash).await? else {
            txn.rollback().await?;
            return Ok(RotateOutcome::NotFound);
        };
        // Lock the grant before the token, as `revoke_grant` does, so a revocation either sees the
        // successor or makes this rotation fail. Under a dead grant nothing is marked.
        let rotated = lock_live_grant(&txn, &old.grant_id).await?
            && token::Entity::update_many()
                .col_expr(token::Column::RotatedAt, Expr::val(at))
                .filter(token::Column::TokenHash.eq(old_hash))
                .filter(token::Column::RotatedAt.is_null())
                .filter(token::Column::RevokedAt.is_null())
                .filter(token::Column::ExpiresAt.gt(at))
                .exec(&txn)
                .await?
                .rows_affected
                == 1;
        if !rotated {
            // Read again: a rotation or a revocation may have committed since the first read.
            let current = find_refresh(&txn, old_hash).await?;
            let grant = grant::Entity::find_by_id(old.grant_id.clone()).one(&txn).await?;
            txn.rollback().await?;
            return Ok(refusal(current, grant));
        }
        let successor = token::ActiveModel {
            token_hash: Set(new.token_hash),
            kind: Set(TokenKind::Refresh.as_str().to_string()),
            grant_id: Set(old.grant_id.clone()),
            client_id: Set(old.client_id.clone()),
            user_id: Set(old.user_id.clone()),
            scope: Set(old.scope.clone()),
            // `store_token` gives every refresh token a family; a row without one names it after itself.
            family_id: Set(Some(old.family_id.clone().unwrap_or_else(|| old.token_hash.clone()))),
            created_at: Set(at),
            expires_at: Set(new.expires_at),
            rotated_at: Set(None),
            revoked_at: Set(None),
        }
        .insert(&txn)
        .await
        .map_err(|e| StorageError::conflict_or(e, "token"))?;
        txn.commit().await?;
        Ok(RotateOutcome::Rotated {
            old: TokenRecord { rotated_at: Some(at), ..old },
            new: successor.try_into()?,
        })
    }

    /// Revokes one token. True when it was not revoked before.
    pub async fn revoke_token(&self, token_hash: &str) -> Result<bool, StorageError> {
        let result = token::Entity::update_many()
            .col_expr(token::Column::RevokedAt, Expr::val(now()))
            .filter(token::Column::TokenHash.eq(token_hash))
            .filter(token::Column::RevokedAt.is_null())
            .exec(self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Revokes every token of a refresh family (after a reuse). Returns how many were revoked.
    pub async fn revoke_family(&self, family_id: &str) -> Result<u64, StorageError> {
        let result = token::Entity::update_many()
            .col_expr(token::Column::RevokedAt, Expr::val(now()))
            .filter(token::Column::FamilyId.eq(family_id))
            .filter(token::Column::RevokedAt.is_null())
            .exec(self.db)
            .await?;
        Ok(result.rows_affected)
    }

    /// Deletes codes, tokens and grants past their expiry. Returns how many rows went.
    pub async fn purge_expired(&self, now: i64) -> Result<u64, StorageError> {
        let txn = begin_write(self.db).await?;
        let codes = authorization_code::Entity::delete_many()
            .filter(authorization_code::Column::ExpiresAt.lte(now))
            .exec(&txn)
            .await?;
        let tokens = token::Entity::delete_many().filter(token::Column::ExpiresAt.lte(now)).exec(&txn).await?;
        let grants = grant::Entity::delete_many().filter(grant::Column::ExpiresAt.lte(now)).exec(&txn).await?;
        txn.commit().await?;
        Ok(codes.rows_affected + tokens.rows_affected + grants.rows_affected)
    }
}

/// Locks the grant row (`FOR UPDATE` on PostgreSQL; SQLite's write transaction already excludes
/// every other writer) and answers whether tokens may be issued under it.
fn grant_row(id: String, new: NewGrant) -> grant::ActiveModel {
    grant::ActiveModel {
        id: Set(id),
        client_id: Set(new.client_id),
        user_id: Set(new.user_id),
        session_id: Set(new.session_id),
        scope: Set(new.scope),
        claims: Set(new.claims),
        auth_time: Set(new.auth_time),
        created_at: Set(now()),
        expires_at: Set(new.expires_at),
        revoked_at: Set(None),
    }
}

fn code_row(new: NewAuthorizationCode) -> authorization_code::ActiveModel {
    authorization_code::ActiveModel {
        code_hash: Set(new.code_hash),
        grant_id: Set(new.grant_id),
        client_id: Set(new.client_id),
        user_id: Set(new.user_id),
        session_id: Set(new.session_id),
        redirect_uri: Set(new.redirect_uri),
        scope: Set(new.scope),
        nonce: Set(new.nonce),
        code_challenge: Set(new.code_challenge),
        code_challenge_method: Set(new.code_challenge_method),
        claims: Set(new.claims),
        auth_time: Set(new.auth_time),
        acr: Set(new.acr),
        amr: Set(strings_to_json(&new.amr)),
        created_at: Set(now()),
        expires_at: Set(new.expires_at),
        consumed_at: Set(None),
    }
}

/// A refresh token stored without a family starts a new one; access tokens have none.
fn token_row(new: NewToken) -> token::ActiveModel {
    let family_id = match new.kind {
        TokenKind::Refresh => Some(new.family_id.unwrap_or_else(new_id)),
        TokenKind::Access => new.family_id,
    };
    token::ActiveModel {
        token_hash: Set(new.token_hash),
        kind: Set(new.kind.as_str().to_string()),
        grant_id: Set(new.grant_id),
        client_id: Set(new.client_id),
        user_id: Set(new.user_id),
        scope: Set(new.scope),
        family_id: Set(family_id),
        created_at: Set(now()),
        expires_at: Set(new.expires_at),
        rotated_at: Set(None),
        revoked_at: Set(None),
    }
}

/// Inserts `row` if its grant is live, with one statement that locks the grant's row as
/// [`lock_live_grant`] does. False when the grant has been revoked or has expired: nothing is
/// stored then.
async fn insert_under_live_grant(txn: &DatabaseTransaction, row: token::ActiveModel) -> Result<bool, StorageError> {
    let insert = insert_under_live_grant_statement(&row, now())?;
    let inserted = txn.execute(&insert).await.map_err(|e| StorageError::conflict_or(e, "token"))?;
    Ok(inserted.rows_affected() == 1)
}

/// Marks the unspent code with this hash spent at `now`.
fn spend_code(hash: &str, now: i64) -> sea_orm::UpdateMany<authorization_code::Entity> {
    authorization_code::Entity::update_many()
        .col_expr(authorization_code::Column::ConsumedAt, Expr::val(now))
        .filter(authorization_code::Column::CodeHash.eq(hash))
        .filter(authorization_code::Column::ConsumedAt.is_null())
}

/// [`spend_code`], returning the code's row, on the in-place connection: its kept text.
fn spend_code_in_place(hash: &str, now: i64) -> sea_orm::Statement {
    static TEXT: in_place::KeptSql = in_place::KeptSql::new();
    TEXT.with(|| DbBackend::Sqlite.build(&spend_code("", 0).into_query().returning_all().to_owned()), [now.into(), hash.into()])
}

/// Puts a code that was spent and then refused back as it was.
fn restore_code(hash: &str) -> sea_orm::UpdateMany<authorization_code::Entity> {
    authorization_code::Entity::update_many()
        .col_expr(authorization_code::Column::ConsumedAt, Expr::value(Option::<i64>::None))
        .filter(authorization_code::Column::CodeHash.eq(hash))
}

/// A code that could not be spent: spent before, or never issued.
fn not_spent(row: Option<authorization_code::Model>) -> Result<ConsumeOutcome, StorageError> {
    match row {
        Some(row) => Ok(ConsumeOutcome::AlreadyUsed(row.try_into()?)),
        None => Ok(ConsumeOutcome::NotFound),
    }
}

/// What becomes of a code just spent: the outcome, and whether it must be put back (refused by
/// the request's checks, or expired).
fn judge_spent_code(row: authorization_code::Model, now: i64, accept: &CodeCheck) -> Result<(ConsumeOutcome, bool), StorageError> {
    let code = AuthorizationCodeRecord { consumed_at: None, ..AuthorizationCodeRecord::try_from(row)? };
    let refused = !accept(&code);
    Ok(if refused {
        (ConsumeOutcome::Refused(code), true)
    } else if code.expires_at <= now {
        (ConsumeOutcome::Expired, true)
    } else {
        (ConsumeOutcome::Consumed(AuthorizationCodeRecord { consumed_at: Some(now), ..code }), false)
    })
}

/// `INSERT INTO tokens (…) SELECT <the row's values> FROM grants WHERE <live> FOR UPDATE`.
fn insert_under_live_grant_statement(row: &token::ActiveModel, at: i64) -> Result<InsertStatement, StorageError> {
    let ActiveValue::Set(grant_id) = row.grant_id.clone() else {
        return Err(StorageError::Corrupt("a token without its grant".into()));
    };
    let (mut columns, mut values) = (Vec::new(), Vec::new());
    for column in <token::Entity as EntityTrait>::Column::iter() {
        if let ActiveValue::Set(value) = row.get(column) {
            columns.push(column);
            values.push(Expr::val(value));
        }
    }
    let live_grant = Query::select()
        .exprs(values)
        .from(grant::Entity)
        .and_where(grant::Column::Id.eq(grant_id))
        .and_where(grant::Column::RevokedAt.is_null())
        .and_where(grant::Column::ExpiresAt.gt(at))
        .lock_exclusive()
        .to_owned();
    let mut insert = Query::insert();
    insert.into_table(token::Entity).columns(columns);
    insert.select_from(live_grant).map_err(|e| StorageError::Corrupt(format!("the token insert: {e}")))?;
    Ok(insert)
}

/// [`insert_under_live_grant_statement`] on the in-place connection: its kept text, for a row
/// with every column set (as [`token_row`] makes them); any other row's statement is built.
fn insert_under_live_grant_in_place(row: &token::ActiveModel, at: i64) -> Result<sea_orm::Statement, StorageError> {
    static TEXT: in_place::KeptSql = in_place::KeptSql::new();
    let mut values = Vec::new();
    for column in <token::Entity as EntityTrait>::Column::iter() {
        match row.get(column) {
            ActiveValue::Set(value) => values.push(value),
            _ => return Ok(DbBackend::Sqlite.build(&insert_under_live_grant_statement(row, at)?)),
        }
    }
    // The grant it goes under, and the time it must be live at.
    let ActiveValue::Set(grant_id) = row.get(token::Column::GrantId) else {
        return Err(StorageError::Corrupt("a token without its grant".into()));
    };
    values.extend([grant_id, at.into()]);
    TEXT.try_with(|| Ok(DbBackend::Sqlite.build(&insert_under_live_grant_statement(row, at)?)), values)
}

/// Locks the row of the grant a code belongs to (`FOR UPDATE` on PostgreSQL; on SQLite the
/// write transaction already excludes every other writer).
async fn lock_grant_of_code(txn: &DatabaseTransaction, code_hash: &str) -> Result<(), StorageError> {
    let grant_of_code = Query::select()
        .column(authorization_code::Column::GrantId)
        .from(authorization_code::Entity)
        .and_where(authorization_code::Column::CodeHash.eq(code_hash))
        .to_owned();
    grant::Entity::find().filter(grant::Column::Id.in_subquery(grant_of_code)).lock_exclusive().all(txn).await?;
    Ok(())
}

async fn lock_live_grant(txn: &DatabaseTransaction, grant_id: &str) -> Result<bool, StorageError> {
    let grant = grant::Entity::find_by_id(grant_id.to_string()).lock_exclusive().one(txn).await?;
    Ok(grant.is_some_and(|g| g.revoked_at.is_none() && g.expires_at > now()))
}

/// Why a rotation did not happen. A replay wins over every other reason, so the caller
/// always learns of one.
fn refusal(current: Option<TokenRecord>, grant: Option<grant::Model>) -> RotateOutcome {
    let Some(current) = current else { return RotateOutcome::NotFound };
    if current.rotated_at.is_some() {
        RotateOutcome::Reused(current)
    } else if current.revoked_at.is_some() || grant.is_some_and(|g| g.revoked_at.is_some()) {
        RotateOutcome::Revoked(current)
    } else {
        // Live and unrotated, yet not rotatable: the token or its grant has expired (or the
        // grant was purged).
        RotateOutcome::Expired
    }
}

async fn find_refresh<C: ConnectionTrait>(db: &C, token_hash: &str) -> Result<Option<TokenRecord>, StorageError> {
    let row = token::Entity::find_by_id(token_hash.to_string())
        .filter(token::Column::Kind.eq(TokenKind::Refresh.as_str()))
        .one(db)
        .await?;
    row.map(TryInto::try_into).transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};

    #[test]
    fn the_kept_redemption_statements_are_the_ones_sea_query_builds() {
        for (hash, now) in [("", 0), ("0190a1b2c3d4code", 1_765_000_000)] {
            let spend = DbBackend::Sqlite.build(&spend_code(hash, now).into_query().returning_all().to_owned());
            assert_eq!(spend_code_in_place(hash, now), spend);
        }
        for (kind, family_id, user_id) in [(TokenKind::Access, None, Some("u".to_string())), (TokenKind::Refresh, Some("f".to_string()), None)] {
            let row = token_row(NewToken {
                token_hash: format!("{kind:?}"),
                kind,
                grant_id: "g-1".into(),
                client_id: "c".into(),
                user_id,
                scope: "openid".into(),
                family_id,
                expires_at: 20,
            });
            let built = DbBackend::Sqlite.build(&insert_under_live_grant_statement(&row, 10).unwrap());
            assert_eq!(insert_under_live_grant_in_place(&row, 10).unwrap(), built);
            // A row with a column left unset has another shape: its statement is built.
            let mut partial = row.clone();
            partial.revoked_at = ActiveValue::NotSet;
            let built = DbBackend::Sqlite.build(&insert_under_live_grant_statement(&partial, 10).unwrap());
            assert_eq!(insert_under_live_grant_in_place(&partial, 10).unwrap(), built);
        }
    }

    #[test]
    fn a_token_is_inserted_only_under_its_live_grant_which_it_locks() {
        let row = token_row(NewToken {
            token_hash: "t".into(),
            kind: TokenKind::Access,
            grant_id: "g-1".into(),
            client_id: "c".into(),
            user_id: None,
            scope: "openid".into(),
            family_id: None,
            expires_at: 20,
        });
        let insert = insert_under_live_grant_statement(&row, 10).unwrap();
        let postgres = insert.to_string(PostgresQueryBuilder);
        assert!(postgres.starts_with(r#"INSERT INTO "tokens" ("token_hash", "kind", "grant_id""#), "{postgres}");
        assert!(postgres.contains(r#"FROM "grants" WHERE "grants"."id" = 'g-1' AND "grants"."revoked_at" IS NULL AND "grants"."expires_at" > 10"#), "{postgres}");
        assert!(postgres.ends_with("FOR UPDATE"), "the grant's row is locked, as revoking it does: {postgres}");
        // SQLite has one writer at a time, and no FOR UPDATE.
        assert!(!insert.to_string(SqliteQueryBuilder).contains("FOR UPDATE"));
    }
}
