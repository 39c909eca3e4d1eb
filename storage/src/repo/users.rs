//! Accounts: who may sign in, how, and which roles they hold.
//!
//! E-mail addresses are stored trimmed and lowercased, so the unique index and every lookup
//! ignore case. User names are stored as given and compared lowercased.

use crate::entity::accounts::{user, user_role};
use crate::in_place::{self, Reads};
use crate::repo::{begin_write, new_id, parse_stored, text_enum};
use crate::{StorageError, now};
use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, DbBackend, JoinType, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, SqlErr, UpdateMany,
};
use std::collections::HashMap;

text_enum! {
    /// Where an account stands.
    pub enum UserStatus as "user status" {
        /// Created (by an administrator or an invitation) but not yet activated.
        Invited = "invited",
        Active = "active",
        /// May not sign in; sessions and tokens are the caller's to end.
        Disabled = "disabled",
    }
}

/// An account to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub email: String,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub email_verified: bool,
    /// Extra OIDC claims (`given_name`, `locale`, …) as a JSON object.
    pub claims: serde_json::Value,
    pub status: UserStatus,
    /// How the account signs in (`password`, or a connector name).
    pub auth_method: String,
    pub password_hash: Option<String>,
}

/// A stored account with the roles it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    /// Lowercased.
    pub email: String,
    pub email_verified: bool,
    pub username: Option<String>,
    pub display_name: Option<String>,
    pub claims: serde_json::Value,
    pub status: UserStatus,
    pub auth_method: String,
    pub password_hash: Option<String>,
    /// Failed sign-ins since the last successful one.
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
    /// When the account first became active.
    pub activated_at: Option<i64>,
    pub activation_sent_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Sorted by name.
    pub roles: Vec<String>,
}

impl UserRecord {
    pub(crate) fn from_row(m: user::Model, roles: Vec<String>) -> Result<Self, StorageError> {
        Ok(Self {
            status: parse_stored(&m.status)?,
            id: m.id,
            email: m.email,
            email_verified: m.email_verified,
            username: m.username,
            display_name: m.display_name,
            claims: m.claims,
            auth_method: m.auth_method,
            password_hash: m.password_hash,
            failed_logins: m.failed_logins,
            locked_until: m.locked_until,
            activated_at: m.activated_at,
            activation_sent_at: m.activation_sent_at,
            created_at: m.created_at,
            updated_at: m.updated_at,
            roles,
        })
    }
}

/// The form every stored e-mail address takes.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

pub struct Users<'a> {
    db: &'a DatabaseConnection,
    reads: Reads<'a>,
}

impl<'a> Users<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection, reads: Reads<'a>) -> Self {
        Self { db, reads }
    }

    /// Creates an account with a new id. Fails with `Conflict` naming the e-mail address or the
    /// user name when either is taken (user names regardless of case).
    pub async fn create(&self, new: NewUser) -> Result<UserRecord, StorageError> {
        let email = normalize_email(&new.email);
        let txn = begin_write(self.db).await?;
        // The unique indexes catch exact duplicates; checking first lets the error name the value,
        // and refuses a user name that differs only in case (which the index cannot see).
        if find_email(&txn, &email).await?.is_some() {
            return Err(StorageError::Conflict(format!("e-mail address {email}")));
        }
        if let Some(name) = &new.username
            && !find_username(&txn, name).await?.is_empty()
        {
            return Err(StorageError::Conflict(format!("user name {name}")));
        }
        let at = now();
        let row = user::ActiveModel {
            id: Set(new_id()),
            email: Set(email.clone()),
            email_verified: Set(new.email_verified),
            username: Set(new.username.clone()),
            username_key: Set(new.username.as_deref().map(crate::migration::username_key)),
            display_name: Set(new.display_name),
            claims: Set(new.claims),
            status: Set(new.status.as_str().to_string()),
            auth_method: Set(new.auth_method),
            password_hash: Set(new.password_hash),
            failed_logins: Set(0),
            locked_until: Set(None),
            activated_at: Set((new.status == UserStatus::Active).then_some(at)),
            activation_sent_at: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
        }
        .insert(&txn)
        .await
        .map_err(|e| {
            // Lost a race with a concurrent insert (PostgreSQL): the violated index tells which.
            let what = match (e.sql_err(), &new.username) {
                (Some(SqlErr::UniqueConstraintViolation(m)), Some(name)) if m.contains("username") => {
                    format!("user name {name}")
                }
                _ => format!("e-mail address {email}"),
            };
            StorageError::conflict_or(e, what)
        })?;
        txn.commit().await?;
        UserRecord::from_row(row, Vec::new())
    }

    /// The account with this id and its roles, in one statement (every token and every
    /// authorization reads the user).
    pub async fn get(&self, id: &str) -> Result<Option<UserRecord>, StorageError> {
        let fast = self.reads.in_place(|fast| {
            fast.rows(&user_with_roles_in_place(id), |row| {
                Ok((in_place::model::<user::Entity>(row, "A_")?, in_place::column::<Option<String>>(row, "B_role_name")?))
            })
        });
        let rows = match fast {
            Some(rows) => rows,
            None => user_with_roles(id).all(self.db).await?.into_iter().map(|(user, role)| (user, role.map(|r| r.role_name))).collect(),
        };
        let mut rows = rows.into_iter();
        let Some((row, role)) = rows.next() else { return Ok(None) };
        let roles = role.into_iter().chain(rows.filter_map(|(_, role)| role)).collect();
        UserRecord::from_row(row, roles).map(Some)
    }

    /// Finds the account with this e-mail address, ignoring case and surrounding space.
    pub async fn find_by_email(&self, email: &str) -> Result<Option<UserRecord>, StorageError> {
        let row = find_email(self.db, &normalize_email(email)).await?;
        self.with_roles(row).await
    }

    /// Finds the account a sign-in form names: an e-mail address first, else a user name
    /// (ignoring case).
    pub async fn find_by_login(&self, login: &str) -> Result<Option<UserRecord>, StorageError> {
        let login = login.trim();
        if let Some(found) = self.find_by_email(login).await? {
            return Ok(Some(found));
        }
        // The case-folded key is unique, so there is at most one.
        let row = find_username(self.db, login).await?.pop();
        self.with_roles(row).await
    }

    /// A page of accounts ordered by e-mail address.
    pub async fn list(&self, offset: u64, limit: u64) -> Result<Vec<UserRecord>, StorageError> {
        let rows = user::Entity::find()
            .order_by_asc(user::Column::Email)
            .offset(offset)
            .limit(limit)
            .all(self.db)
            .await?;
        let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
        let mut roles = roles_of(self.db, &ids).await?;
        rows.into_iter()
            .map(|row| {
                let held = roles.remove(&row.id).unwrap_or_default();
                UserRecord::from_row(row, held)
            })
            .collect()
    }

    /// Sets the status; the first time an account becomes active also records when.
    pub async fn set_status(&self, id: &str, status: UserStatus) -> Result<bool, StorageError> {
        let at = now();
        let mut update = changing(id, at).col_expr(user::Column::Status, Expr::val(status.as_str()));
        if status == UserStatus::Active {
            let first = Func::coalesce([Expr::col(user::Column::ActivatedAt), Expr::val(at)]);
            update = update.col_expr(user::Column::ActivatedAt, first.into());
        }
        Ok(update.exec(self.db).await?.rows_affected == 1)
    }

    pub async fn set_password_hash(&self, id: &str, hash: Option<String>) -> Result<bool, StorageError> {
        let update = changing(id, now()).col_expr(user::Column::PasswordHash, Expr::val(hash));
        Ok(update.exec(self.db).await?.rows_affected == 1)
    }

    /// How the account signs in from now on: `password` or a connector id.
    pub async fn set_auth_method(&self, id: &str, auth_method: &str) -> Result<bool, StorageError> {
        let update = changing(id, now()).col_expr(user::Column::AuthMethod, Expr::val(auth_method));
        Ok(update.exec(self.db).await?.rows_affected == 1)
    }

    pub async fn set_email_verified(&self, id: &str, verified: bool) -> Result<bool, StorageError> {
        let update = changing(id, now()).col_expr(user::Column::EmailVerified, Expr::val(verified));
        Ok(update.exec(self.db).await?.rows_affected == 1)
    }

    pub async fn update_profile(
        &self,
        id: &str,
        display_name: Option<String>,
        claims: serde_json::Value,
    ) -> Result<bool, StorageError> {
        let update = changing(id, now())
            .col_expr(user::Column::DisplayName, Expr::val(display_name))
            .col_expr(user::Column::Claims, Expr::val(claims));
        Ok(update.exec(self.db).await?.rows_affected == 1)
    }

    /// Counts a failed sign-in and returns the new count (0 when there is no such account).
    /// `locked_until` sets a lock; `None` leaves any current lock as it is.
    pub async fn record_failed_login(&self, id: &str, locked_until: Option<i64>) -> Result<i64, StorageError> {
        let txn = begin_write(self.db).await?;
        // Incremented in SQL, so concurrent failures are all counted.
        let mut update = changing(id, now())
            .col_expr(user::Column::FailedLogins, Expr::col(user::Column::FailedLogins).add(1));
        if let Some(until) = locked_until {
            update = update.col_expr(user::Column::LockedUntil, Expr::val(until));
        }
        if update.exec(&txn).await?.rows_affected == 0 {
            txn.rollback().await?;
            return Ok(0);
        }
        let count = user::Entity::find_by_id(id.to_string()).one(&txn).await?.map_or(0, |u| u.failed_logins);
        txn.commit().await?;
        Ok(count)
    }

    /// Clears the failure count and any lock (after a successful sign-in or by an administrator).
    pub async fn reset_failed_logins(&self, id: &str) -> Result<bool, StorageError> {
        let update = changing(id, now())
            .col_expr(user::Column::FailedLogins, Expr::val(0i64))
            .col_expr(user::Column::LockedUntil, Expr::val(None::<i64>));
        Ok(update.exec(self.db).await?.rows_affected == 1)
    }

    pub async fn mark_activation_sent(&self, id: &str, at: i64) -> Result<bool, StorageError> {
        let update = changing(id, now()).col_expr(user::Column::ActivationSentAt, Expr::val(at));
        Ok(update.exec(self.db).await?.rows_affected == 1)
    }

    /// Replaces every role the account holds. False (and nothing changed) when there is no
    /// such account.
    pub async fn set_roles(&self, id: &str, roles: &[String]) -> Result<bool, StorageError> {
        let txn = begin_write(self.db).await?;
        // Touching the account first checks it exists and, on PostgreSQL, locks its row, so
        // concurrent role changes for one account take turns.
        if changing(id, now()).exec(&txn).await?.rows_affected == 0 {
            txn.rollback().await?;
            return Ok(false);
        }
        user_role::Entity::delete_many().filter(user_role::Column::UserId.eq(id)).exec(&txn).await?;
        let mut names = roles.to_vec();
        names.sort();
        names.dedup();
        let rows = names.into_iter().map(|name| user_role::ActiveModel { user_id: Set(id.to_string()), role_name: Set(name) });
        user_role::Entity::insert_many(rows).exec_without_returning(&txn).await?;
        txn.commit().await?;
        Ok(true)
    }

    /// Adds one role. True when the account exists and did not hold it yet.
    pub async fn grant_role(&self, id: &str, role: &str) -> Result<bool, StorageError> {
        let txn = begin_write(self.db).await?;
        if changing(id, now()).exec(&txn).await?.rows_affected == 0 {
            txn.rollback().await?;
            return Ok(false);
        }
        let row = user_role::ActiveModel { user_id: Set(id.to_string()), role_name: Set(role.to_string()) };
        let inserted = user_role::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([user_role::Column::UserId, user_role::Column::RoleName]).do_nothing().to_owned(),
            )
            .exec_without_returning(&txn)
            .await?;
        // Nothing new: undo the touch, so `updated_at` only moves when something changed.
        if inserted == 0 {
            txn.rollback().await?;
            return Ok(false);
        }
        txn.commit().await?;
        Ok(true)
    }

    /// Removes one role. True when the account held it.
    pub async fn revoke_role(&self, id: &str, role: &str) -> Result<bool, StorageError> {
        let txn = begin_write(self.db).await?;
        if changing(id, now()).exec(&txn).await?.rows_affected == 0 {
            txn.rollback().await?;
            return Ok(false);
        }
        let deleted = user_role::Entity::delete_many()
            .filter(user_role::Column::UserId.eq(id))
            .filter(user_role::Column::RoleName.eq(role))
            .exec(&txn)
            .await?
            .rows_affected;
        if deleted == 0 {
            txn.rollback().await?;
            return Ok(false);
        }
        txn.commit().await?;
        Ok(true)
    }

    async fn with_roles(&self, row: Option<user::Model>) -> Result<Option<UserRecord>, StorageError> {
        let Some(row) = row else { return Ok(None) };
        let roles = roles_of(self.db, std::slice::from_ref(&row.id)).await?.remove(&row.id).unwrap_or_default();
        UserRecord::from_row(row, roles).map(Some)
    }
}

/// An update of one account that bumps `updated_at`; every change to a user goes through here.
fn changing(id: &str, at: i64) -> UpdateMany<user::Entity> {
    user::Entity::update_many().col_expr(user::Column::UpdatedAt, Expr::val(at)).filter(user::Column::Id.eq(id))
}

async fn find_email<C: ConnectionTrait>(db: &C, normalized: &str) -> Result<Option<user::Model>, StorageError> {
    Ok(user::Entity::find().filter(user::Column::Email.eq(normalized)).one(db).await?)
}

/// The account whose user name equals `name` ignoring case (through the unique, case-folded
/// `username_key`, so there is at most one).
async fn find_username<C: ConnectionTrait>(db: &C, name: &str) -> Result<Vec<user::Model>, StorageError> {
    let key = crate::migration::username_key(name);
    Ok(user::Entity::find().filter(user::Column::UsernameKey.eq(key)).all(db).await?)
}

/// The roles each of `ids` holds, sorted by name.
async fn roles_of<C: ConnectionTrait>(db: &C, ids: &[String]) -> Result<HashMap<String, Vec<String>>, StorageError> {
    let rows = user_role::Entity::find()
        .filter(user_role::Column::UserId.is_in(ids.iter().cloned()))
        .order_by_asc(user_role::Column::RoleName)
        .all(db)
        .await?;
    let mut held: HashMap<String, Vec<String>> = HashMap::new();
    for row in rows {
        held.entry(row.user_id).or_default().push(row.role_name);
    }
    Ok(held)
}

/// The account `id` with its roles, one row per role (or one without): the account's columns
/// as `A_…`, the role's as `B_…`.
fn user_with_roles(id: &str) -> sea_orm::SelectTwo<user::Entity, user_role::Entity> {
    let holds = user_role::Entity::belongs_to(user::Entity).from(user_role::Column::UserId).to(user::Column::Id).into();
    user::Entity::find_by_id(id.to_string())
        .join_rev(JoinType::LeftJoin, holds)
        .select_also(user_role::Entity)
        .order_by_asc(user_role::Column::RoleName)
}

/// [`user_with_roles`] on the in-place connection: its kept text, with `id`.
fn user_with_roles_in_place(id: &str) -> sea_orm::Statement {
    static TEXT: in_place::KeptSql = in_place::KeptSql::new();
    TEXT.with(|| user_with_roles("").build(DbBackend::Sqlite), [id.into()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_user_statement_is_the_one_sea_query_builds() {
        for id in ["", "0190a1b2-user", "o'brien"] {
            assert_eq!(user_with_roles_in_place(id), user_with_roles(id).build(DbBackend::Sqlite));
        }
    }
}
