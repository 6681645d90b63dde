//! The revocation feed: appended to by every revoking step, read by every node in order.

use rusqlite::{Connection, params};
use tessera::store::{FeedEntry, Revoked};
use tessera::{StoreError, Timestamp};

use crate::codec::{db_error, int, ms, uint};

type Result<T> = std::result::Result<T, StoreError>;

pub(crate) const FEED_AFTER: &str = "SELECT cursor, kind, target, until FROM revocations WHERE cursor > ?1 ORDER BY cursor LIMIT ?2";
pub(crate) const PURGE_FEED: &str = "DELETE FROM revocations WHERE cursor IN
     (SELECT cursor FROM revocations WHERE until <= ?1 ORDER BY until LIMIT ?2)";

pub(crate) fn append(conn: &Connection, revoked: &Revoked, until: Timestamp) -> Result<()> {
    let (kind, target) = revoked.to_stored();
    conn.prepare_cached("INSERT INTO revocations (kind, target, until) VALUES (?1, ?2, ?3)")
        .and_then(|mut st| st.execute(params![kind, target, ms(until)]))
        .map_err(db_error)?;
    Ok(())
}

pub(crate) fn revocations_after(
    conn: &Connection,
    after: u64,
    limit: usize,
) -> Result<Vec<FeedEntry>> {
    let mut st = conn.prepare_cached(FEED_AFTER).map_err(db_error)?;
    let rows = st
        .query_map(params![int(after), int(limit as u64)], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
            ))
        })
        .map_err(db_error)?;
    rows.map(|row| {
        let (cursor, kind, target, until) = row.map_err(db_error)?;
        Ok(FeedEntry {
            cursor: uint(cursor),
            revoked: Revoked::from_stored(u8::try_from(kind).unwrap_or(u8::MAX), &target)?,
            until: Timestamp::from_millis(until),
        })
    })
    .collect()
}

/// Deletes up to `batch` entries past their `until`.
pub(crate) fn purge(conn: &Connection, now: Timestamp, batch: i64) -> Result<()> {
    conn.prepare_cached(PURGE_FEED)
        .and_then(|mut st| st.execute(params![ms(now), batch]))
        .map_err(db_error)?;
    Ok(())
}
