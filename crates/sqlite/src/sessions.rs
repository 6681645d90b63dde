//! Sessions and the revocation feed: the SQL of each session step and [`SessionStore`] (a
//! row's shape is in `rows.rs`, the feed's statements in `feed.rs`).
//!
//! A session row keeps what every refresh and activity changes in columns of its own (the
//! refresh state, last activity, expiries, refresh count and origin), and the rest (claims,
//! data, device, cookie, version, revocation) as one JSON `record`, rewritten only when one of
//! those changes. A refresh is one read and one narrow `UPDATE` in the
//! writer's transaction.

use rusqlite::{Connection, OptionalExtension, params};
use tessera::store::{
    CreateOutcome, FeedEntry, LimitCheck, Revocation, Revoked, RotateOutcome, Rotation,
    SessionStore, SessionUpdate, UpdateOutcome,
};
use tessera::{AuditEvent, Session, SessionId, StoreError, Timestamp};

use crate::SqliteStore;
use crate::codec::{db_error, int, ms, uint};
use crate::feed::{append, revocations_after};
use crate::rows::{columns, insert, raw, rewrite_record, session_of, write_columns};

type Result<T> = std::result::Result<T, StoreError>;

// The statements whose cost must grow with their result, not with the table: each is checked
// against the query planner in the tests below.
const LIVE_BY_USER: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM sessions WHERE user_id = ?1 AND revoked = 0
     AND idle_expires_at > ?2 AND absolute_expires_at > ?2 ORDER BY created_at, sid"
);
const UNREVOKED_BY_USER: &str = concat!(
    "SELECT ",
    columns!(),
    " FROM sessions WHERE user_id = ?1 AND revoked = 0 ORDER BY created_at, sid"
);
// `purge_at` is when a session ended as last indexed: a refresh or activity moves the end
// later without re-indexing (one B-tree page less to write per refresh), so purging first
// re-indexes the due sessions that are still live, then deletes the rest. A revocation is not
// indexed here either: PURGE_REVOKED finds it by `revoked`.
const REINDEX_DUE: &str = "UPDATE sessions SET purge_at = min(idle_expires_at, absolute_expires_at)
     WHERE sid IN (SELECT sid FROM sessions WHERE purge_at <= ?1 ORDER BY purge_at LIMIT ?2)
     AND revoked = 0 AND min(idle_expires_at, absolute_expires_at) > ?1";
const PURGE_SESSIONS: &str = "DELETE FROM sessions WHERE sid IN
     (SELECT sid FROM sessions WHERE purge_at <= ?1 ORDER BY purge_at LIMIT ?2)";
// A revocation does not move the session in the purge index (see migration 6): revoked
// sessions are found by when they were revoked.
const PURGE_REVOKED: &str = "DELETE FROM sessions WHERE sid IN
     (SELECT sid FROM sessions WHERE revoked > 0 AND revoked <= ?1 ORDER BY revoked LIMIT ?2)";
const COUNT_LIVE: &str = "SELECT count(*) FROM sessions WHERE purge_at > ?1 AND revoked = 0";
pub(crate) fn get(conn: &Connection, sid: &SessionId) -> Result<Option<Session>> {
    conn.prepare_cached(concat!(
        "SELECT ",
        columns!(),
        " FROM sessions WHERE sid = ?1"
    ))
    .and_then(|mut st| st.query_row([sid.as_bytes()], raw).optional())
    .map_err(db_error)?
    .map(session_of)
    .transpose()
}

pub(crate) fn live_sessions(
    conn: &Connection,
    user_id: &str,
    now: Timestamp,
) -> Result<Vec<Session>> {
    let mut st = conn.prepare_cached(LIVE_BY_USER).map_err(db_error)?;
    let rows = st
        .query_map(params![user_id, ms(now)], raw)
        .map_err(db_error)?;
    rows.map(|r| r.map_err(db_error).and_then(session_of))
        .collect()
}

fn create(
    conn: &Connection,
    session: &Session,
    limit: Option<LimitCheck>,
    created: Option<&AuditEvent>,
) -> Result<CreateOutcome> {
    let exists = conn
        .prepare_cached("SELECT 1 FROM sessions WHERE sid = ?1")
        .and_then(|mut st| st.exists([session.sid.as_bytes()]))
        .map_err(db_error)?;
    if exists {
        return Ok(CreateOutcome::AlreadyExists);
    }
    let mut evicted = Vec::new();
    if let Some(check) = limit {
        let live = live_sessions(conn, &session.user_id, check.now)?;
        let Some(old) = check.evict(&live) else {
            return Ok(CreateOutcome::LimitReached);
        };
        for old in old {
            revoke(conn, &old.sid, check.eviction_revocation())?;
            evicted.push(old.sid);
        }
    }
    insert(conn, session)?;
    if let Some(event) = created {
        crate::audit::append_audit(conn, event)?;
    }
    Ok(CreateOutcome::Created { evicted })
}

fn rotate(
    conn: &Connection,
    limits: &tessera::RateLimiter,
    sid: &SessionId,
    rotation: &Rotation,
) -> Result<RotateOutcome> {
    let Some(mut s) = get(conn, sid)? else {
        return Ok(RotateOutcome::Refused(None));
    };
    if !rotation.applies_to(&s) {
        return Ok(RotateOutcome::Refused(Some(Box::new(s))));
    }
    if let Some(limited) = rotation.charge(limits) {
        return Ok(limited);
    }
    rotation.apply(&mut s);
    write_columns(conn, &s).map_err(db_error)?;
    Ok(RotateOutcome::Rotated(Box::new(s)))
}

fn touch(conn: &Connection, sid: &SessionId, seen: Timestamp, idle: Timestamp) -> Result<bool> {
    // Only an unrevoked row's activity moves; the record is not read, the purge time not
    // re-indexed (see REINDEX_DUE).
    let n = conn
        .prepare_cached(
            "UPDATE sessions SET last_seen_at = ?2, idle_expires_at = ?3
             WHERE sid = ?1 AND revoked = 0",
        )
        .and_then(|mut st| st.execute(params![sid.as_bytes(), ms(seen), ms(idle)]))
        .map_err(db_error)?;
    Ok(n == 1)
}

fn update(
    conn: &Connection,
    sid: &SessionId,
    expected: u64,
    u: &SessionUpdate,
) -> Result<UpdateOutcome> {
    let Some(mut s) = get(conn, sid)? else {
        return Ok(UpdateOutcome::NotFound);
    };
    let outcome = u.apply_to(&mut s, expected);
    if let UpdateOutcome::Updated(_) = outcome {
        rewrite_record(conn, &s)?;
    }
    Ok(outcome)
}

fn revoke(conn: &Connection, sid: &SessionId, r: Revocation) -> Result<Option<String>> {
    let Some(s) = get(conn, sid)? else {
        return Ok(None);
    };
    if s.revoked_at.is_some() {
        return Ok(None);
    }
    revoke_found(conn, s, r).map(Some)
}

/// Revokes `s`, read unrevoked in this transaction; its user.
fn revoke_found(conn: &Connection, mut s: Session, r: Revocation) -> Result<String> {
    s.revoked_at = Some(r.at);
    s.revoke_reason = Some(r.reason);
    rewrite_record(conn, &s)?;
    append(conn, &Revoked::Session(s.sid), r.until)?;
    Ok(s.user_id)
}

fn revoke_user(
    conn: &Connection,
    user_id: &str,
    except: Option<SessionId>,
    r: Revocation,
) -> Result<Vec<SessionId>> {
    let mut st = conn.prepare_cached(UNREVOKED_BY_USER).map_err(db_error)?;
    let sessions = st
        .query_map([user_id], raw)
        .map_err(db_error)?
        .map(|r| r.map_err(db_error).and_then(session_of))
        .collect::<Result<Vec<_>>>()?;
    let mut revoked = Vec::new();
    for s in sessions.into_iter().filter(|s| Some(s.sid) != except) {
        revoked.push(s.sid);
        revoke_found(conn, s, r)?;
    }
    Ok(revoked)
}

fn count_live(conn: &Connection, now: Timestamp) -> Result<u64> {
    conn.prepare_cached(COUNT_LIVE)
        .and_then(|mut st| st.query_row([ms(now)], |r| r.get::<_, i64>(0)))
        .map(uint)
        .map_err(db_error)
}

pub(crate) fn purge(conn: &Connection, now: Timestamp, batch: usize) -> Result<usize> {
    let batch = int(batch as u64);
    conn.prepare_cached(REINDEX_DUE)
        .and_then(|mut st| st.execute(params![ms(now), batch]))
        .map_err(db_error)?;
    let mut purged = 0;
    for sql in [PURGE_REVOKED, PURGE_SESSIONS] {
        let left = batch - int(purged as u64);
        if left > 0 {
            purged += conn
                .prepare_cached(sql)
                .and_then(|mut st| st.execute(params![ms(now), left]))
                .map_err(db_error)?;
        }
    }
    crate::feed::purge(conn, now, batch)?;
    Ok(purged)
}

impl SessionStore for SqliteStore {
    fn is_shared(&self) -> bool {
        false // one file, one node (the CLI's changes reach the server through the feed)
    }

    async fn create(
        &self,
        session: &Session,
        limit: Option<LimitCheck>,
        created: Option<&AuditEvent>,
    ) -> Result<CreateOutcome> {
        let (session, created) = (session.clone(), created.cloned());
        self.writer
            .write(move |c| create(c, &session, limit, created.as_ref()))
            .await
    }

    async fn get(&self, sid: &SessionId) -> Result<Option<Session>> {
        let sid = *sid;
        self.readers.read(move |c| get(c, &sid)).await
    }

    async fn rotate(&self, sid: &SessionId, rotation: &Rotation) -> Result<RotateOutcome> {
        let (sid, rotation, limits) = (*sid, rotation.clone(), self.limits.clone());
        self.writer
            .write(move |c| rotate(c, &limits, &sid, &rotation))
            .await
    }

    async fn touch(&self, sid: &SessionId, seen: Timestamp, idle: Timestamp) -> Result<bool> {
        let sid = *sid;
        self.writer.write(move |c| touch(c, &sid, seen, idle)).await
    }

    async fn update(
        &self,
        sid: &SessionId,
        expected: u64,
        update_: &SessionUpdate,
    ) -> Result<UpdateOutcome> {
        let (sid, u) = (*sid, update_.clone());
        self.writer
            .write(move |c| update(c, &sid, expected, &u))
            .await
    }

    async fn revoke(&self, sid: &SessionId, revocation: Revocation) -> Result<Option<String>> {
        let sid = *sid;
        self.writer
            .write(move |c| revoke(c, &sid, revocation))
            .await
    }

    async fn revoke_user(
        &self,
        user_id: &str,
        except: Option<&SessionId>,
        r: Revocation,
    ) -> Result<Vec<SessionId>> {
        let (user_id, except) = (user_id.to_owned(), except.copied());
        self.writer
            .write(move |c| revoke_user(c, &user_id, except, r))
            .await
    }

    async fn revoke_token(&self, jti: &str, until: Timestamp) -> Result<()> {
        let target = Revoked::Token(jti.to_owned());
        self.writer.write(move |c| append(c, &target, until)).await
    }

    async fn list_user(&self, user_id: &str, now: Timestamp) -> Result<Vec<Session>> {
        let user_id = user_id.to_owned();
        self.readers
            .read(move |c| live_sessions(c, &user_id, now))
            .await
    }

    async fn count_live(&self, now: Timestamp) -> Result<u64> {
        self.readers.read(move |c| count_live(c, now)).await
    }

    async fn revocations_after(
        &self,
        _feed: usize,
        after: u64,
        limit: usize,
    ) -> Result<Vec<FeedEntry>> {
        self.readers
            .read(move |c| revocations_after(c, after, limit))
            .await
    }

    async fn purge_expired(&self, now: Timestamp, batch: usize) -> Result<usize> {
        self.writer.write(move |c| purge(c, now, batch)).await
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn plan(conn: &Connection, sql: &str) -> Vec<String> {
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

    /// Fails when `sql` scans a table or sorts in a temporary tree.
    pub(crate) fn assert_indexed(conn: &Connection, sql: &str) {
        let steps = plan(conn, sql);
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

    #[test]
    fn listing_feed_and_purge_never_scan_a_table() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::schema::migrate(&mut conn).unwrap();
        for sql in [
            LIVE_BY_USER,
            UNREVOKED_BY_USER,
            crate::feed::FEED_AFTER,
            REINDEX_DUE,
            PURGE_SESSIONS,
            PURGE_REVOKED,
            crate::feed::PURGE_FEED,
        ] {
            assert_indexed(&conn, sql);
        }
    }
}
