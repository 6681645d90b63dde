//! The SQL of each store step. Write steps run inside the writer's transaction, so each is
//! atomic; read steps run on a read connection.

use rusqlite::{Connection, OptionalExtension, params};
use tessera::store::{
    CreateOutcome, FeedEntry, LimitCheck, Revocation, Revoked, RotateOutcome, Rotation,
    SessionUpdate, StoredKeyset, UpdateOutcome,
};
use tessera::{
    AuditEvent, OnLimit, RevokeReason, Session, SessionId, StoreError, StoreErrorKind, StoredEvent,
    Timestamp, TokenHash,
};

use crate::codec::{db_error, decode, encode, int, ms, purge_at, uint};

type Result<T> = std::result::Result<T, StoreError>;

// The statements whose cost must grow with their result, not with the table: each is checked
// against the query planner in the tests below.
const LIVE_BY_USER: &str =
    "SELECT record FROM sessions WHERE user_id = ?1 AND revoked = 0 AND purge_at > ?2
     ORDER BY created_at, sid";
const UNREVOKED_BY_USER: &str =
    "SELECT sid FROM sessions WHERE user_id = ?1 AND revoked = 0 ORDER BY created_at, sid";
const FEED_AFTER: &str = "SELECT cursor, kind, target, until FROM revocations WHERE cursor > ?1 ORDER BY cursor LIMIT ?2";
const PURGE_SESSIONS: &str = "DELETE FROM sessions WHERE sid IN
     (SELECT sid FROM sessions WHERE purge_at <= ?1 ORDER BY purge_at LIMIT ?2)";
const AUDIT_BY_USER: &str =
    "SELECT id, event FROM audit WHERE user_id = ?1 AND id < ?2 ORDER BY id DESC LIMIT ?3";
const PURGE_AUDIT: &str =
    "DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < ?1 ORDER BY at LIMIT ?2)";
const COUNT_LIVE: &str = "SELECT count(*) FROM sessions WHERE purge_at > ?1 AND revoked = 0";
const PURGE_FEED: &str = "DELETE FROM revocations WHERE cursor IN
     (SELECT cursor FROM revocations WHERE until <= ?1 ORDER BY until LIMIT ?2)";

pub(crate) fn get(conn: &Connection, sid: &SessionId) -> Result<Option<Session>> {
    let record: Option<String> = conn
        .prepare_cached("SELECT record FROM sessions WHERE sid = ?1")
        .and_then(|mut st| st.query_row([sid.as_bytes()], |r| r.get(0)).optional())
        .map_err(db_error)?;
    record.as_deref().map(decode).transpose()
}

/// Writes `session` (insert or replace), keeping the indexed columns in step with the record.
fn put(conn: &Connection, s: &Session) -> Result<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO sessions (sid, user_id, created_at, purge_at, revoked, record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )
    .and_then(|mut st| {
        st.execute(params![
            s.sid.as_bytes(),
            s.user_id,
            ms(s.created_at),
            purge_at(s),
            s.revoked_at.is_some(),
            encode(s).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?,
        ])
    })
    .map_err(db_error)?;
    Ok(())
}

pub(crate) fn live_sessions(
    conn: &Connection,
    user_id: &str,
    now: Timestamp,
) -> Result<Vec<Session>> {
    let mut st = conn.prepare_cached(LIVE_BY_USER).map_err(db_error)?;
    let rows = st
        .query_map(params![user_id, ms(now)], |r| r.get::<_, String>(0))
        .map_err(db_error)?;
    rows.map(|r| r.map_err(db_error).and_then(|rec| decode(&rec)))
        .collect()
}

pub(crate) fn create(
    conn: &Connection,
    session: &Session,
    limit: Option<LimitCheck>,
) -> Result<CreateOutcome> {
    if get(conn, &session.sid)?.is_some() {
        return Ok(CreateOutcome::AlreadyExists);
    }
    let mut evicted = Vec::new();
    if let Some(check) = limit {
        let live = live_sessions(conn, &session.user_id, check.now)?;
        if live.len() >= check.limit.max {
            if check.limit.on_limit == OnLimit::Deny {
                return Ok(CreateOutcome::LimitReached);
            }
            let eviction = Revocation {
                reason: RevokeReason::Evicted,
                ..check.eviction
            };
            for old in live.iter().take(live.len() + 1 - check.limit.max) {
                revoke(conn, &old.sid, eviction)?;
                evicted.push(old.sid);
            }
        }
    }
    put(conn, session)?;
    Ok(CreateOutcome::Created { evicted })
}

pub(crate) fn rotate(
    conn: &Connection,
    sid: &SessionId,
    rotation: &Rotation,
) -> Result<RotateOutcome> {
    let Some(mut s) = get(conn, sid)? else {
        return Ok(RotateOutcome::Conflict(None));
    };
    if s.revoked_at.is_some() || s.refresh.generation != rotation.expected_generation {
        return Ok(RotateOutcome::Conflict(Some(Box::new(s))));
    }
    s.refresh = rotation.next;
    s.last_seen_at = rotation.last_seen_at;
    s.idle_expires_at = rotation.idle_expires_at;
    put(conn, &s)?;
    Ok(RotateOutcome::Rotated)
}

pub(crate) fn touch(
    conn: &Connection,
    sid: &SessionId,
    seen: Timestamp,
    idle: Timestamp,
) -> Result<bool> {
    let Some(mut s) = get(conn, sid)? else {
        return Ok(false);
    };
    if s.revoked_at.is_some() {
        return Ok(false);
    }
    s.last_seen_at = seen;
    s.idle_expires_at = idle;
    put(conn, &s)?;
    Ok(true)
}

pub(crate) fn update(
    conn: &Connection,
    sid: &SessionId,
    expected: u64,
    u: &SessionUpdate,
) -> Result<UpdateOutcome> {
    let Some(mut s) = get(conn, sid)? else {
        return Ok(UpdateOutcome::NotFound);
    };
    if s.revoked_at.is_some() {
        return Ok(UpdateOutcome::NotFound);
    }
    if s.version != expected {
        return Ok(UpdateOutcome::VersionMismatch(s.version));
    }
    if let Some(claims) = &u.claims {
        s.claims = claims.clone();
    }
    if let Some(data) = &u.data {
        s.data = data.clone();
    }
    if let Some(cookie) = u.cookie {
        s.cookie = Some(cookie);
    }
    s.version += 1;
    put(conn, &s)?;
    Ok(UpdateOutcome::Updated(s.version))
}

pub(crate) fn revoke(conn: &Connection, sid: &SessionId, r: Revocation) -> Result<Option<String>> {
    let Some(mut s) = get(conn, sid)? else {
        return Ok(None);
    };
    if s.revoked_at.is_some() {
        return Ok(None);
    }
    s.revoked_at = Some(r.at);
    s.revoke_reason = Some(r.reason);
    put(conn, &s)?;
    append(conn, &Revoked::Session(*sid), r.until)?;
    Ok(Some(s.user_id))
}

pub(crate) fn append_audit(conn: &Connection, event: &AuditEvent) -> Result<()> {
    let json =
        serde_json::to_string(event).map_err(|e| StoreError::new(StoreErrorKind::Other, e))?;
    conn.prepare_cached("INSERT INTO audit (at, user_id, event) VALUES (?1, ?2, ?3)")
        .and_then(|mut st| st.execute(params![ms(event.at), event.user_id, json]))
        .map_err(db_error)?;
    Ok(())
}

pub(crate) fn audit_for_user(
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

pub(crate) fn purge_audit(conn: &Connection, cutoff: Timestamp, batch: usize) -> Result<usize> {
    conn.prepare_cached(PURGE_AUDIT)
        .and_then(|mut st| st.execute(params![ms(cutoff), int(batch as u64)]))
        .map_err(db_error)
}

pub(crate) fn revoke_user(
    conn: &Connection,
    user_id: &str,
    except: Option<SessionId>,
    r: Revocation,
) -> Result<Vec<SessionId>> {
    let mut st = conn.prepare_cached(UNREVOKED_BY_USER).map_err(db_error)?;
    let sids = st
        .query_map([user_id], |r| r.get::<_, Vec<u8>>(0))
        .map_err(db_error)?
        .map(|r| r.map_err(db_error).and_then(|b| sid_of(&b)))
        .collect::<Result<Vec<_>>>()?;
    let mut revoked = Vec::new();
    for sid in sids.into_iter().filter(|s| Some(*s) != except) {
        if revoke(conn, &sid, r)?.is_some() {
            revoked.push(sid);
        }
    }
    Ok(revoked)
}

fn sid_of(bytes: &[u8]) -> Result<SessionId> {
    <[u8; 16]>::try_from(bytes)
        .map(SessionId::from_bytes)
        .map_err(|_| StoreError::new(StoreErrorKind::Corrupt, "session id of the wrong length"))
}

pub(crate) fn append(conn: &Connection, revoked: &Revoked, until: Timestamp) -> Result<()> {
    let (kind, target) = match revoked {
        Revoked::Session(sid) => (0, sid.to_string()),
        Revoked::Token(jti) => (1, jti.clone()),
        Revoked::ApiKey(hash) => (2, hash.to_base64()),
    };
    conn.prepare_cached("INSERT INTO revocations (kind, target, until) VALUES (?1, ?2, ?3)")
        .and_then(|mut st| st.execute(params![kind, target, ms(until)]))
        .map_err(db_error)?;
    Ok(())
}

pub(crate) fn count_live(conn: &Connection, now: Timestamp) -> Result<u64> {
    conn.prepare_cached(COUNT_LIVE)
        .and_then(|mut st| st.query_row([ms(now)], |r| r.get::<_, i64>(0)))
        .map(uint)
        .map_err(db_error)
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
        let revoked = match kind {
            0 => Revoked::Session(
                target
                    .parse()
                    .map_err(|e| StoreError::new(StoreErrorKind::Corrupt, e))?,
            ),
            2 => Revoked::ApiKey(TokenHash::from_base64(&target).ok_or_else(|| {
                StoreError::new(StoreErrorKind::Corrupt, "API key hash in the feed")
            })?),
            _ => Revoked::Token(target),
        };
        Ok(FeedEntry {
            cursor: uint(cursor),
            revoked,
            until: Timestamp::from_millis(until),
        })
    })
    .collect()
}

pub(crate) fn purge(conn: &Connection, now: Timestamp, batch: usize) -> Result<usize> {
    let batch = int(batch as u64);
    let purged = conn
        .prepare_cached(PURGE_SESSIONS)
        .and_then(|mut st| st.execute(params![ms(now), batch]))
        .map_err(db_error)?;
    conn.prepare_cached(PURGE_FEED)
        .and_then(|mut st| st.execute(params![ms(now), batch]))
        .map_err(db_error)?;
    Ok(purged)
}

pub(crate) fn load_keyset(conn: &Connection) -> Result<Option<StoredKeyset>> {
    conn.prepare_cached("SELECT version, document FROM keyset WHERE id = 1")
        .and_then(|mut st| {
            st.query_row([], |r| {
                Ok(StoredKeyset {
                    version: uint(r.get(0)?),
                    document: r.get(1)?,
                })
            })
            .optional()
        })
        .map_err(db_error)
}

pub(crate) fn save_keyset(
    conn: &Connection,
    expected: Option<u64>,
    document: &[u8],
) -> Result<bool> {
    let changed = match expected {
        None => conn.execute(
            "INSERT OR IGNORE INTO keyset (id, version, document) VALUES (1, 1, ?1)",
            [document],
        ),
        Some(v) => conn.execute(
            "UPDATE keyset SET version = version + 1, document = ?1 WHERE id = 1 AND version = ?2",
            params![document, int(v)],
        ),
    }
    .map_err(db_error)?;
    Ok(changed == 1)
}

pub(crate) fn get_setting(conn: &Connection, name: &str) -> Result<Option<Vec<u8>>> {
    conn.prepare_cached("SELECT value FROM settings WHERE name = ?1")
        .and_then(|mut st| st.query_row([name], |r| r.get(0)).optional())
        .map_err(db_error)
}

pub(crate) fn put_setting(conn: &Connection, name: &str, value: &[u8]) -> Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO settings (name, value) VALUES (?1, ?2)",
        params![name, value],
    )
    .map_err(db_error)?;
    Ok(())
}

pub(crate) fn init_setting(conn: &Connection, name: &str, value: &[u8]) -> Result<Vec<u8>> {
    conn.execute(
        "INSERT OR IGNORE INTO settings (name, value) VALUES (?1, ?2)",
        params![name, value],
    )
    .map_err(db_error)?;
    get_setting(conn, name)?
        .ok_or_else(|| StoreError::new(StoreErrorKind::Other, "setting vanished"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(conn: &Connection, sql: &str) -> Vec<String> {
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let n = st.parameter_count();
        let params: Vec<i64> = vec![0; n];
        st.query_map(rusqlite::params_from_iter(params), |r| {
            r.get::<_, String>(3)
        })
        .unwrap()
        .map(|r| r.unwrap())
        .collect()
    }

    #[test]
    fn listing_feed_and_purge_never_scan_a_table() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::schema::migrate(&mut conn).unwrap();
        for sql in [
            LIVE_BY_USER,
            UNREVOKED_BY_USER,
            FEED_AFTER,
            PURGE_SESSIONS,
            AUDIT_BY_USER,
            PURGE_AUDIT,
            PURGE_FEED,
        ] {
            let steps = plan(&conn, sql);
            assert!(!steps.is_empty());
            for step in &steps {
                assert!(
                    !step.starts_with("SCAN"),
                    "{sql}\n uses a full scan: {steps:?}"
                );
            }
            assert!(
                steps.iter().all(|s| !s.contains("TEMP B-TREE")),
                "{sql}\n sorts: {steps:?}"
            );
        }
    }
}
