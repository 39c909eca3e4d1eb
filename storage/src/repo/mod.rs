//! One repository per aggregate. Each borrows the connection and owns its queries; values
//! cross the boundary as plain structs, never as entities.
//!
//! Single-use values (codes, refresh tokens, activation and reset tokens) are spent with one
//! conditional `UPDATE … WHERE <still unused>` whose row count decides the winner, so two nodes
//! racing for the same value cannot both succeed on either engine.

pub mod audit;
pub mod client_cache;
pub mod clients;
pub mod connectors;
pub mod consents;
pub mod federation;
pub mod flows;
pub mod grants;
pub mod group_commit;
pub mod instance;
pub mod keys;
pub mod logout;
pub mod one_time;
pub mod replay;
pub mod roles;
pub mod sessions;
pub mod terms;
pub mod throttle;
pub mod users;

pub use audit::{AuditEvent, AuditLog, AuditRecord};
pub use clients::{ClientRecord, ClientSource, Clients, NewClient};
pub use connectors::{ConnectorRecord, ConnectorSource, Connectors, NewConnector};
pub use consents::{ConsentRecord, Consents};
pub use federation::{FederatedIdentities, FederatedIdentityRecord};
pub use flows::{FlowRecord, Flows, NewFlow, SpendOutcome};
pub use grants::{
    AuthorizationCodeRecord, CodeCheck, ConsumeOutcome, GrantRecord, Grants, NewAuthorizationCode, NewGrant, NewRefreshToken,
    NewToken, RotateOutcome, TokenKind, TokenRecord, TokensForCode,
};
pub use instance::InstanceValues;
pub use keys::{NewSigningKey, SigningKeyRecord, SigningKeys, Supersede};
pub use logout::{AttemptOutcome, DeliveryStatus, LogoutDeliveries, LogoutDeliveryRecord, NewLogoutDelivery};
pub use one_time::{NewOneTimeToken, OneTimePurpose, OneTimeTokenRecord, OneTimeTokens, RedeemOutcome};
pub use replay::ReplayGuard;
pub use roles::{RoleRecord, Roles};
pub use sessions::{NewSession, SessionRecord, Sessions};
pub use terms::{Terms, TermsVersion};
pub use throttle::{ThrottleCounters, ThrottleLimits, ThrottleState};
pub use users::{NewUser, UserRecord, UserStatus, Users};

use crate::StorageError;
use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbErr, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

/// A stored or typed-in text that names none of an enum's variants.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`")]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
}

/// An enum stored as text: `as_str`, `FromStr` (failing with [`UnknownValue`]) and `Display`.
macro_rules! text_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident as $kind:literal {
            $($(#[$variant_meta:meta])* $variant:ident = $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)+
        }

        impl $name {
            pub fn as_str(&self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = $crate::repo::UnknownValue;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    _ => Err($crate::repo::UnknownValue { kind: $kind, value: s.to_string() }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use text_enum;

/// Starts a transaction that will write. On SQLite it takes the write lock at `BEGIN`
/// (`IMMEDIATE`): a deferred transaction that reads before it writes fails with `SQLITE_BUSY`
/// when another writer got there first, instead of waiting its turn. On PostgreSQL it is an
/// ordinary READ COMMITTED transaction; repositories lock the rows they depend on.
pub(crate) async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    db.begin_with_options(TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// `insert_committed`: inserts one row and returns it as stored, inside an explicit
/// transaction. SQLite reports a failed commit of an autocommitted statement with `RETURNING`
/// (a full disk, a read-only file) only when the statement is reset, which the driver does not
/// check, so a plain `insert` could hand back a row that was never stored; here the commit
/// fails loudly instead.
pub(crate) trait InsertCommitted: sea_orm::ActiveModelTrait + sea_orm::ActiveModelBehavior + Send
where
    <Self::Entity as sea_orm::EntityTrait>::Model: sea_orm::IntoActiveModel<Self>,
{
    async fn insert_committed(self, db: &DatabaseConnection) -> Result<<Self::Entity as sea_orm::EntityTrait>::Model, DbErr> {
        let txn = db.begin().await?;
        let stored = self.insert(&txn).await?;
        txn.commit().await?;
        Ok(stored)
    }
}

impl<A> InsertCommitted for A
where
    A: sea_orm::ActiveModelTrait + sea_orm::ActiveModelBehavior + Send,
    <A::Entity as sea_orm::EntityTrait>::Model: sea_orm::IntoActiveModel<A>,
{
}

/// A new row id: a UUID v7, so ids sort roughly by creation time.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Reads back a stored enum, treating an unknown value as corruption.
pub(crate) fn parse_stored<T: std::str::FromStr<Err = UnknownValue>>(text: &str) -> Result<T, StorageError> {
    text.parse().map_err(|e: UnknownValue| StorageError::Corrupt(e.to_string()))
}

/// Reads back a JSON array of strings (`amr`, permissions).
pub(crate) fn strings_from_json(value: serde_json::Value, what: &str) -> Result<Vec<String>, StorageError> {
    serde_json::from_value(value).map_err(|e| StorageError::Corrupt(format!("{what}: {e}")))
}

pub(crate) fn strings_to_json(values: &[String]) -> serde_json::Value {
    serde_json::Value::from(values.to_vec())
}
