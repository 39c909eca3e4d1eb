//! The storage error: what a caller may need to tell apart, and the database's own errors.

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The database could not be opened or reached.
    #[error("{0}")]
    Unavailable(String),
    /// A row that must be unique already exists (an e-mail address, a client id, …).
    #[error("already exists: {0}")]
    Conflict(String),
    /// A stored value cannot be read back (a corrupted row).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sea_orm::DbErr),
}

impl StorageError {
    /// Turns a unique-constraint violation into [`StorageError::Conflict`], naming `what`.
    pub(crate) fn conflict_or(error: sea_orm::DbErr, what: impl Into<String>) -> Self {
        match error.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => StorageError::Conflict(what.into()),
            _ => StorageError::Database(error),
        }
    }
}
