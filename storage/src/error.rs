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
    /// Whether the database is out of reach or cannot take writes for now — the connection
    /// was refused or lost, the pool is exhausted, the server is shutting down, the disk is full,
    /// the file is read-only — so the same request may succeed later: the answer is "try again"
    /// (503), not a failure of ours (500). Nothing was stored by the failed call.
    pub fn is_unavailable(&self) -> bool {
        match self {
            StorageError::Unavailable(_) => true,
            StorageError::Database(error) => database_unavailable(error),
            _ => false,
        }
    }

    /// Turns a unique-constraint violation into [`StorageError::Conflict`], naming `what`.
    pub(crate) fn conflict_or(error: sea_orm::DbErr, what: impl Into<String>) -> Self {
        match error.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => StorageError::Conflict(what.into()),
            _ => StorageError::Database(error),
        }
    }
}

fn database_unavailable(error: &sea_orm::DbErr) -> bool {
    use sea_orm::sqlx::Error as Sqlx;
    use sea_orm::{DbErr, RuntimeErr};
    let runtime = match error {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Conn(runtime) | DbErr::Exec(runtime) | DbErr::Query(runtime) => runtime,
        _ => return false,
    };
    let RuntimeErr::SqlxError(sqlx) = runtime else {
        return matches!(error, DbErr::Conn(_));
    };
    match sqlx.as_ref() {
        Sqlx::Io(_)
        | Sqlx::Tls(_)
        | Sqlx::PoolTimedOut
        | Sqlx::PoolClosed
        | Sqlx::WorkerCrashed => true,
        Sqlx::Database(database) => database.code().is_some_and(|code| unavailable_code(&code)),
        _ => false,
    }
}

/// SQLite's primary result codes (the low byte of an extended code) for a full disk, a
/// read-only file, an I/O error and a file it cannot open; PostgreSQL's SQLSTATEs for a lost
/// connection (class 08), an administrator's or a crash's shutdown (57P01–57P03), a read-only
/// database or standby (25006) and insufficient resources (class 53, a full disk among them).
fn unavailable_code(code: &str) -> bool {
    const SQLITE_READONLY: i64 = 8;
    const SQLITE_IOERR: i64 = 10;
    const SQLITE_FULL: i64 = 13;
    const SQLITE_CANTOPEN: i64 = 14;
    match code.parse::<i64>() {
        // SQLite's codes are numbers below 10000; SQLSTATEs have five characters.
        Ok(number) if code.len() < 5 => {
            matches!(
                number & 0xff,
                SQLITE_READONLY | SQLITE_IOERR | SQLITE_FULL | SQLITE_CANTOPEN
            )
        }
        _ => {
            code.starts_with("08")
                || code.starts_with("53")
                || matches!(code, "57P01" | "57P02" | "57P03" | "25006")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_that_mean_try_again_later() {
        for code in [
            "13", "8", "1032", "10", "3338", "14", "08006", "57P01", "53100",
        ] {
            assert!(unavailable_code(code), "{code}");
        }
        for code in ["19", "2067", "1", "23505", "42P01", "40001"] {
            assert!(!unavailable_code(code), "{code}");
        }
        assert!(StorageError::Unavailable("down".into()).is_unavailable());
        assert!(!StorageError::Conflict("x".into()).is_unavailable());
    }
}
