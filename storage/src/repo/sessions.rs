//! Browser sessions (found by a keyed hash of the cookie) and the clients each one has
//! signed in to, which logout must notify.
//!
//! A session is live while it has not ended and neither its idle nor its absolute expiry has
//! passed.

use crate::entity::accounts::{user, user_role};
use crate::entity::sessions::{session, session_client};
use crate::repo::UserRecord;
use crate::repo::{begin_write, new_id, strings_from_json, strings_to_json};
use crate::{StorageError, now};
use crate::repo::InsertCommitted as _;
use crate::repo::group_commit::{GroupCommit, Work};
use crate::in_place::{self, Reads};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DbBackend, Condition, ConnectionTrait, DatabaseConnection, DatabaseTransaction, EntityTrait,
    FromQueryResult, JoinType, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};

/// A session to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    pub cookie_hash: String,
    pub user_id: String,
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub acr: Option<String>,
    pub idle_expires_at: i64,
    pub expires_at: i64,
    /// The browser that signed in (its `User-Agent`, shortened), shown to the person.
    pub user_agent: Option<String>,
    /// The client address that signed in.
    pub ip: Option<String>,
}

/// A stored session. `id` is the `sid` claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: String,
    pub cookie_hash: String,
    pub user_id: String,
    pub auth_time: i64,
    pub amr: Vec<String>,
    pub acr: Option<String>,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub idle_expires_at: i64,
    pub expires_at: i64,
    pub ended_at: Option<i64>,
    pub user_agent: Option<String>,
    pub ip: Option<String>,
}

impl SessionRecord {
    pub fn is_live(&self, at: i64) -> bool {
        self.ended_at.is_none() && self.idle_expires_at > at && self.expires_at > at
    }
}

impl TryFrom<session::Model> for SessionRecord {
    type Error = StorageError;

    fn try_from(m: session::Model) -> Result<Self, StorageError> {
        Ok(Self {
            amr: strings_from_json(m.amr, "amr of a session")?,
            id: m.id,
            cookie_hash: m.cookie_hash,
            user_id: m.user_id,
            auth_time: m.auth_time,
            acr: m.acr,
            created_at: m.created_at,
            last_seen_at: m.last_seen_at,
            idle_expires_at: m.idle_expires_at,
            expires_at: m.expires_at,
            ended_at: m.ended_at,
            user_agent: m.user_agent,
            ip: m.ip,
        })
    }
}

/// The rows of live sessions at `at`.
fn live(at: i64) -> Condition {
    Condition::all()
        .add(session::Column::EndedAt.is_null())
        .add(session::Column::IdleExpiresAt.gt(at))
        .add(session::Column::ExpiresAt.gt(at))
}

/// The live session a cookie belongs to, with its user and the user's roles: one row per role
/// (or one without), the session's columns as `A_…`, the user's as `B_…`, the role as `role`.
fn session_with_user(cookie_hash: &str, now: i64) -> sea_orm::sea_query::SelectStatement {
    let of_session = session::Entity::belongs_to(user::Entity).from(session::Column::UserId).to(user::Column::Id).into();
    let holds = user_role::Entity::belongs_to(user::Entity).from(user_role::Column::UserId).to(user::Column::Id).into();
    session::Entity::find()
        .filter(session::Column::CookieHash.eq(cookie_hash))
        .filter(live(now))
        .join(JoinType::InnerJoin, of_session)
        .join_rev(JoinType::LeftJoin, holds)
        .select_also(user::Entity)
        .column_as(user_role::Column::RoleName, "role")
        .order_by_asc(user_role::Column::RoleName)
        .into_query()
}

/// [`session_with_user`] on the in-place connection: its kept text, with the cookie's hash and
/// `now` for the two ends of [`live`].
fn session_with_user_in_place(cookie_hash: &str, now: i64) -> sea_orm::Statement {
    static TEXT: in_place::KeptSql = in_place::KeptSql::new();
    TEXT.with(|| DbBackend::Sqlite.build(&session_with_user("", 0)), [cookie_hash.into(), now.into(), now.into()])
}

pub struct Sessions<'a> {
    db: &'a DatabaseConnection,
    reads: Reads<'a>,
    writes: &'a GroupCommit,
}

impl<'a> Sessions<'a> {
    pub(crate) fn new(db: &'a DatabaseConnection, reads: Reads<'a>, writes: &'a GroupCommit) -> Self {
        Self { db, reads, writes }
    }

    /// Starts a session with a new id.
    pub async fn create(&self, new: NewSession) -> Result<SessionRecord, StorageError> {
        let at = now();
        let row = session::ActiveModel {
            id: Set(new_id()),
            cookie_hash: Set(new.cookie_hash),
            user_id: Set(new.user_id),
            auth_time: Set(new.auth_time),
            amr: Set(strings_to_json(&new.amr)),
            acr: Set(new.acr),
            created_at: Set(at),
            last_seen_at: Set(at),
            idle_expires_at: Set(new.idle_expires_at),
            expires_at: Set(new.expires_at),
            ended_at: Set(None),
            user_agent: Set(new.user_agent),
            ip: Set(new.ip),
        }
        .insert_committed(self.db)
        .await
        .map_err(|e| StorageError::conflict_or(e, "session cookie"))?;
        row.try_into()
    }

    /// The session with this id, live or not.
    pub async fn get(&self, id: &str) -> Result<Option<SessionRecord>, StorageError> {
        let query = session::Entity::find_by_id(id.to_string());
        self.reads.one(query, self.db).await?.map(TryInto::try_into).transpose()
    }

    /// The live session a cookie belongs to.
    pub async fn find_by_cookie_hash(&self, cookie_hash: &str, now: i64) -> Result<Option<SessionRecord>, StorageError> {
        let query = session::Entity::find().filter(session::Column::CookieHash.eq(cookie_hash)).filter(live(now));
        self.reads.one(query, self.db).await?.map(TryInto::try_into).transpose()
    }

    /// The live session a cookie belongs to and its user with the user's roles, in one
    /// statement (every authorization needs both). `None` also when the user is gone.
    pub async fn find_by_cookie_hash_with_user(
        &self,
        cookie_hash: &str,
        now: i64,
    ) -> Result<Option<(SessionRecord, UserRecord)>, StorageError> {
        let fast = self.reads.in_place(|fast| {
            fast.rows(&session_with_user_in_place(cookie_hash, now), |row| {
                Ok((in_place::model::<session::Entity>(row, "A_")?, in_place::model::<user::Entity>(row, "B_")?, in_place::column(row, "role")?))
            })
        });
        let rows = match fast {
            Some(rows) => rows,
            None => {
                let mut rows = Vec::new();
                for row in self.db.query_all(&session_with_user(cookie_hash, now)).await? {
                    let session = session::Model::from_query_result(&row, "A_")?;
                    let user = user::Model::from_query_result(&row, "B_")?;
                    rows.push((session, user, row.try_get::<Option<String>>("", "role")?));
                }
                rows
            }
        };
        let mut rows = rows.into_iter();
        let Some((session, user, role)) = rows.next() else { return Ok(None) };
        let roles = role.into_iter().chain(rows.filter_map(|(_, _, role)| role)).collect();
        Ok(Some((session.try_into()?, UserRecord::from_row(user, roles)?)))
    }

    /// Records activity and moves the idle expiry. False when the session is no longer live
    /// (an expired session is never revived).
    pub async fn touch(&self, id: &str, now: i64, idle_expires_at: i64) -> Result<bool, StorageError> {
        let result = session::Entity::update_many()
            .col_expr(session::Column::LastSeenAt, Expr::val(now))
            .col_expr(session::Column::IdleExpiresAt, Expr::val(idle_expires_at))
            .filter(session::Column::Id.eq(id))
            .filter(live(now))
            .exec(self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// A new sign-in by the session's own user in the same browser: the session keeps its id
    /// (`sid`) and clients, and gets a new cookie (no fixation across the sign-in), a new
    /// `auth_time`, `amr` and `acr`. False when the session is no longer live.
    pub async fn reauthenticate(
        &self,
        id: &str,
        cookie_hash: &str,
        auth_time: i64,
        amr: &[String],
        acr: Option<&str>,
    ) -> Result<bool, StorageError> {
        let at = now();
        let result = session::Entity::update_many()
            .col_expr(session::Column::CookieHash, Expr::val(cookie_hash))
            .col_expr(session::Column::AuthTime, Expr::val(auth_time))
            .col_expr(session::Column::Amr, Expr::val(strings_to_json(amr)))
            .col_expr(session::Column::Acr, Expr::val(acr.map(str::to_string)))
            .col_expr(session::Column::LastSeenAt, Expr::val(at))
            .filter(session::Column::Id.eq(id))
            .filter(live(at))
            .exec(self.db)
            .await
            .map_err(|e| StorageError::conflict_or(e, "session cookie"))?;
        Ok(result.rows_affected == 1)
    }

    /// Ends one of `user_id`'s sessions (a person or an administrator signing out a device).
    /// True when it was live; false for another user's session, an unknown or an ended one.
    pub async fn end_for_user(&self, user_id: &str, id: &str, at: i64) -> Result<bool, StorageError> {
        let result = session::Entity::update_many()
            .col_expr(session::Column::EndedAt, Expr::val(at))
            .filter(session::Column::Id.eq(id))
            .filter(session::Column::UserId.eq(user_id))
            .filter(live(at))
            .exec(self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Ends a session (logout). True when it had not ended before.
    pub async fn end(&self, id: &str, at: i64) -> Result<bool, StorageError> {
        let result = session::Entity::update_many()
            .col_expr(session::Column::EndedAt, Expr::val(at))
            .filter(session::Column::Id.eq(id))
            .filter(session::Column::EndedAt.is_null())
            .exec(self.db)
            .await?;
        Ok(result.rows_affected == 1)
    }

    /// Ends every session of a user that has not ended yet, but `except` (the caller's own).
    /// Returns the ids ended, for logout notifications.
    pub async fn end_all_for_user(
        &self,
        user_id: &str,
        at: i64,
        except: Option<&str>,
    ) -> Result<Vec<String>, StorageError> {
        let txn = begin_write(self.db).await?;
        let mut query =
            session::Entity::find().filter(session::Column::UserId.eq(user_id)).filter(session::Column::EndedAt.is_null());
        if let Some(keep) = except {
            query = query.filter(session::Column::Id.ne(keep));
        }
        // Locked, so the ids returned are exactly the rows this call ends.
        let ids: Vec<String> = query.lock_exclusive().all(&txn).await?.into_iter().map(|s| s.id).collect();
        session::Entity::update_many()
            .col_expr(session::Column::EndedAt, Expr::val(at))
            .filter(session::Column::Id.is_in(ids.iter().cloned()))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(ids)
    }

    /// A user's live sessions, newest first.
    pub async fn list_for_user(&self, user_id: &str, now: i64) -> Result<Vec<SessionRecord>, StorageError> {
        let rows = session::Entity::find()
            .filter(session::Column::UserId.eq(user_id))
            .filter(live(now))
            .order_by_desc(session::Column::CreatedAt)
            .order_by_desc(session::Column::Id)
            .all(self.db)
            .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// Notes that `client_id` received tokens through this session (once per client).
    pub async fn add_client(&self, session_id: &str, client_id: &str) -> Result<(), StorageError> {
        let row = session_client_row(session_id, client_id);
        // Authorizations without a code do this once their grant is stored; with a code it is
        // part of `Grants::create_grant_with_code`'s write.
        let work: Work<()> = Box::new(move |txn| Box::pin(insert_session_clients(txn, vec![row.clone()])));
        self.writes.write(self.db, work).await
    }

    /// The clients a session has signed in to, in the order they first did.
    pub async fn clients_of(&self, session_id: &str) -> Result<Vec<String>, StorageError> {
        let rows = session_client::Entity::find()
            .filter(session_client::Column::SessionId.eq(session_id))
            .order_by_asc(session_client::Column::FirstSeenAt)
            .order_by_asc(session_client::Column::ClientId)
            .all(self.db)
            .await?;
        Ok(rows.into_iter().map(|r| r.client_id).collect())
    }

    /// Deletes sessions that are no longer live (ended or expired) with their client lists.
    /// Returns how many sessions went.
    pub async fn purge_expired(&self, now: i64) -> Result<u64, StorageError> {
        let dead = Condition::any()
            .add(session::Column::EndedAt.lte(now))
            .add(session::Column::IdleExpiresAt.lte(now))
            .add(session::Column::ExpiresAt.lte(now));
        let txn = begin_write(self.db).await?;
        let sessions = session::Entity::delete_many().filter(dead).exec(&txn).await?;
        // Then every client list left without its session, whenever that session went.
        let remaining = session::Entity::find().select_only().column(session::Column::Id).into_query();
        session_client::Entity::delete_many()
            .filter(session_client::Column::SessionId.not_in_subquery(remaining))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(sessions.rows_affected)
    }
}

/// The row that says `session_id` has signed in to `client_id`, from now.
pub(crate) fn session_client_row(session_id: &str, client_id: &str) -> session_client::ActiveModel {
    session_client::ActiveModel {
        session_id: Set(session_id.to_string()),
        client_id: Set(client_id.to_string()),
        first_seen_at: Set(now()),
    }
}

/// Stores `rows` inside `txn` with one statement; a pair already stored (or named twice) keeps
/// its first time.
pub(crate) async fn insert_session_clients(txn: &DatabaseTransaction, rows: Vec<session_client::ActiveModel>) -> Result<(), StorageError> {
    txn.execute(&insert_session_clients_statement(rows)).await?;
    Ok(())
}

/// Records that sessions signed in to clients; a pair already recorded stays as it was.
pub(crate) fn insert_session_clients_statement(rows: Vec<session_client::ActiveModel>) -> sea_orm::sea_query::InsertStatement {
    session_client::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([session_client::Column::SessionId, session_client::Column::ClientId])
                .do_nothing()
                .to_owned(),
        )
        .into_query()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_session_statement_is_the_one_sea_query_builds() {
        for (cookie_hash, now) in [("", 0), ("0190a1b2c3d4hash", 1_765_000_000), ("o'brien", -1)] {
            assert_eq!(session_with_user_in_place(cookie_hash, now), DbBackend::Sqlite.build(&session_with_user(cookie_hash, now)));
        }
    }
}
