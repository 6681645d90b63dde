//! Conversions between core types and SQLite values, and error mapping.

use rusqlite::ErrorCode;
use tessera::{Session, StoreError, StoreErrorKind, Timestamp, TokenHash};

/// Maps a SQLite error to a store error: busy, locked and I/O trouble are `Unavailable`.
pub(crate) fn db_error(e: rusqlite::Error) -> StoreError {
    let kind = match &e {
        rusqlite::Error::SqliteFailure(f, _) => match f.code {
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::CannotOpen
            | ErrorCode::DiskFull
            | ErrorCode::SystemIoFailure
            | ErrorCode::OutOfMemory => StoreErrorKind::Unavailable,
            ErrorCode::DatabaseCorrupt | ErrorCode::NotADatabase => StoreErrorKind::Corrupt,
            _ => StoreErrorKind::Other,
        },
        rusqlite::Error::FromSqlConversionFailure(..) | rusqlite::Error::InvalidColumnType(..) => {
            StoreErrorKind::Corrupt
        }
        _ => StoreErrorKind::Other,
    };
    StoreError::new(kind, e)
}

/// A token hash from its 32-byte column.
pub(crate) fn hash_of(bytes: Vec<u8>) -> Result<TokenHash, StoreError> {
    <[u8; 32]>::try_from(bytes)
        .map(TokenHash::from_bytes)
        .map_err(|_| StoreError::new(StoreErrorKind::Corrupt, "a token hash of the wrong length"))
}

/// When a session stops being live (and may be purged).
pub(crate) fn purge_at(s: &Session) -> i64 {
    let expires = s.expires_at();
    s.revoked_at.map_or(expires, |r| r.min(expires)).as_millis()
}

/// Milliseconds for a timestamp column.
pub(crate) fn ms(t: Timestamp) -> i64 {
    t.as_millis()
}

/// A `u64` for an INTEGER column; SQLite integers are signed 64-bit.
pub(crate) fn int(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// A `u64` back from an INTEGER column.
pub(crate) fn uint(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}
