//! The audit trail: the SQL of each step and [`AuditStore`].

use rusqlite::{Connection, params};
use tessera::store::AuditStore;
use tessera::{AuditEvent, StoreError, StoreErrorKind, StoredEvent, Timestamp};

use crate::SqliteStore;
use crate::codec::{db_error, int, ms, uint};

type Result<T> = std::result::Result<T, StoreError>;

const AUDIT_BY_USER: &str =
    "SELECT id, event FROM audit WHERE user_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3";
const PURGE_AUDIT: &str =
    "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ?1 ORDER BY at LIMIT ?2)";

pub(crate) fn append_audit(conn: &Connection, event: &AuditEvent) -> Result<()> {
    let json =
        serde_json::to_string(event).map_err(|e| StoreError::new(StoreErrorKind::Other, e))?;
    conn.prepare_cached("INSERT INTO audit (at, user_id, event) VALUES (?1, ?2, ?3)")
        .and_then(|mut st| st.execute(params![ms(event.at), event.user_id, json]))
        .map_err(db_error)?;
    Ok(())
}

fn audit_for_user(
    conn: &Connection,
    user_id: &str,
    before: Option<u64>,
    limit: usize,
) -> Result<Vec<StoredEvent>> {
    let mut st = conn.prepare_cached(AUDIT_BY_USER).map_err(db_error)?;
    let before = before.map_or(i64::MAX, int);
    let rows = st
        .query_map(params![user_id, before, int(limit as u64)], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
        })
        .map_err(db_error)?;
    rows.map(|row| {
        let (id, json) = row.map_err(db_error)?;
        let event =
            serde_json::from_str(&json).map_err(|e| StoreError::new(StoreErrorKind::Corrupt, e))?;
        Ok(StoredEvent {
            id: uint(id),
            event,
        })
    })
    .collect()
}

fn purge_audit(conn: &Connection, cutoff: Timestamp, batch: usize) -> Result<usize> {
    conn.prepare_cached(PURGE_AUDIT)
        .and_then(|mut st| st.execute(params![ms(cutoff), int(batch as u64)]))
        .map_err(db_error)
}

impl AuditStore for SqliteStore {
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<()> {
        let events = events.to_vec();
        self.writer
            .write(move |c| events.iter().try_for_each(|e| append_audit(c, e)))
            .await
    }

    async fn audit_for_user(
        &self,
        user_id: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>> {
        let user_id = user_id.to_owned();
        self.readers
            .read(move |c| audit_for_user(c, &user_id, before, limit))
            .await
    }

    async fn purge_audit(&self, cutoff: Timestamp, batch: usize) -> Result<usize> {
        self.writer
            .write(move |c| purge_audit(c, cutoff, batch))
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_events_and_the_purge_never_scan_the_trail() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::schema::migrate(&mut conn).unwrap();
        for sql in [AUDIT_BY_USER, PURGE_AUDIT] {
            crate::sessions::tests::assert_indexed(&conn, sql);
        }
    }
}
