//! A session's row: its columns (what a refresh changes) and its JSON record (the rest), read
//! and written whole; and migration 5, which split whole-session records into that shape.

use rusqlite::types::Value;
use rusqlite::{Connection, Row, params_from_iter};
use tessera::{Session, SessionId, StoreError, StoreErrorKind, Timestamp};

use tessera::store::SessionRecord;

use crate::codec::{db_error, hash_of, int, ms, purge_at, uint};

type Result<T> = std::result::Result<T, StoreError>;

/// Every column a [`Session`] is read from, in the order [`session_of`] expects (a literal, so
/// statements can be `concat!`ed from it).
macro_rules! columns {
    () => {
        "sid, user_id, created_at, generation, refresh_current, refresh_previous, rotated_at,
         last_seen_at, idle_expires_at, absolute_expires_at, refreshes, refreshed_from, record"
    };
}
pub(crate) use columns;

pub(crate) fn corrupt(what: &'static str) -> StoreError {
    StoreError::new(StoreErrorKind::Corrupt, what)
}

pub(crate) fn sid_of(bytes: &[u8]) -> Result<SessionId> {
    <[u8; 16]>::try_from(bytes)
        .map(SessionId::from_bytes)
        .map_err(|_| corrupt("session id of the wrong length"))
}

/// The raw values of one row, read without decoding (decoding errors are not SQLite errors).
pub(crate) struct RawRow {
    sid: Vec<u8>,
    user_id: String,
    created_at: i64,
    generation: i64,
    current: Vec<u8>,
    previous: Option<Vec<u8>>,
    rotated_at: i64,
    last_seen_at: i64,
    idle_expires_at: i64,
    absolute_expires_at: i64,
    refreshes: i64,
    refreshed_from: Option<String>,
    record: String,
}

pub(crate) fn raw(r: &Row<'_>) -> rusqlite::Result<RawRow> {
    Ok(RawRow {
        sid: r.get(0)?,
        user_id: r.get(1)?,
        created_at: r.get(2)?,
        generation: r.get(3)?,
        current: r.get(4)?,
        previous: r.get(5)?,
        rotated_at: r.get(6)?,
        last_seen_at: r.get(7)?,
        idle_expires_at: r.get(8)?,
        absolute_expires_at: r.get(9)?,
        refreshes: r.get(10)?,
        refreshed_from: r.get(11)?,
        record: r.get(12)?,
    })
}

pub(crate) fn session_of(row: RawRow) -> Result<Session> {
    let cold = SessionRecord::decode(&row.record)?;
    Ok(Session {
        sid: sid_of(&row.sid)?,
        user_id: row.user_id,
        claims: cold.claims,
        data: cold.data,
        device: cold.device,
        created_at: Timestamp::from_millis(row.created_at),
        last_seen_at: Timestamp::from_millis(row.last_seen_at),
        idle_expires_at: Timestamp::from_millis(row.idle_expires_at),
        absolute_expires_at: Timestamp::from_millis(row.absolute_expires_at),
        refresh: tessera::RefreshState {
            generation: uint(row.generation),
            current: hash_of(row.current)?,
            previous: row.previous.map(hash_of).transpose()?,
            rotated_at: Timestamp::from_millis(row.rotated_at),
        },
        cookie: cold.cookie,
        version: cold.version,
        refreshes: uint(row.refreshes),
        refreshed_from: row.refreshed_from,
        revoked_at: cold.revoked_at,
        revoke_reason: cold.revoke_reason,
    })
}

/// The hot columns of `s` (what a refresh or activity changes, and the absolute end), in the
/// order the insert and the update below name them: one list of values for both.
fn hot_values(s: &Session) -> [Value; 9] {
    [
        Value::Integer(int(s.refresh.generation)),
        Value::Blob(s.refresh.current.as_bytes().to_vec()),
        s.refresh
            .previous
            .as_ref()
            .map_or(Value::Null, |p| Value::Blob(p.as_bytes().to_vec())),
        Value::Integer(ms(s.refresh.rotated_at)),
        Value::Integer(ms(s.last_seen_at)),
        Value::Integer(ms(s.idle_expires_at)),
        Value::Integer(ms(s.absolute_expires_at)),
        Value::Integer(int(s.refreshes)),
        s.refreshed_from.clone().map_or(Value::Null, Value::Text),
    ]
}

/// Inserts `session` (whose id is new).
pub(crate) fn insert(conn: &Connection, s: &Session) -> Result<()> {
    let record = SessionRecord::encode(s)?;
    let head = [
        Value::Blob(s.sid.as_bytes().to_vec()),
        Value::Text(s.user_id.clone()),
        Value::Integer(ms(s.created_at)),
        Value::Integer(purge_at(s)),
        Value::Integer(revoked(s)),
    ];
    let values = head
        .into_iter()
        .chain(hot_values(s))
        .chain([Value::Text(record)]);
    conn.prepare_cached(
        "INSERT INTO sessions (sid, user_id, created_at, purge_at, revoked, generation,
             refresh_current, refresh_previous, rotated_at, last_seen_at, idle_expires_at,
             absolute_expires_at, refreshes, refreshed_from, record)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
    )
    .and_then(|mut st| st.execute(params_from_iter(values)))
    .map_err(db_error)?;
    Ok(())
}

/// The `revoked` column: when `s` was revoked (at least 1), 0 if it was not.
fn revoked(s: &Session) -> i64 {
    s.revoked_at.map_or(0, |at| ms(at).max(1))
}

/// Rewrites the record (claims, data, cookie, version, revocation) and the revocation time.
/// The purge time stays as indexed: a revoked session is found for purging by `revoked`.
pub(crate) fn rewrite_record(conn: &Connection, s: &Session) -> Result<()> {
    let record = SessionRecord::encode(s)?;
    conn.prepare_cached(&format!(
        "UPDATE sessions SET record = ?4, revoked = ?5 WHERE {BY_KEY}"
    ))
    .and_then(|mut st| {
        st.execute(params_from_iter(
            key(s)
                .into_iter()
                .chain([Value::Text(record), Value::Integer(revoked(s))]),
        ))
    })
    .map_err(db_error)?;
    Ok(())
}

/// A row by its primary key (user, creation, id), as [`key`] gives it: a write to a session
/// already read goes straight to its row, without a second look-up through the id's index.
const BY_KEY: &str = "user_id = ?1 AND created_at = ?2 AND sid = ?3";

fn key(s: &Session) -> [Value; 3] {
    [
        Value::Text(s.user_id.clone()),
        Value::Integer(ms(s.created_at)),
        Value::Blob(s.sid.as_bytes().to_vec()),
    ]
}

/// Migration 5: moves the hot fields of each whole-session record (as written before) into
/// their columns, leaving the rest as the record.
pub(crate) fn split_records(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    let bad = |e: StoreError| rusqlite::Error::ToSqlConversionFailure(Box::new(e));
    let records: Vec<String> = tx
        .prepare("SELECT record FROM sessions")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    for record in records {
        let s: Session = serde_json::from_str(&record)
            .map_err(|e| bad(StoreError::new(StoreErrorKind::Corrupt, e)))?;
        write_columns(tx, &s)?;
        rewrite_record(tx, &s).map_err(bad)?;
    }
    Ok(())
}

/// Writes the columns of the fields a refresh or activity changes (and the absolute end) from
/// `s`, leaving the record alone.
pub(crate) fn write_columns(conn: &Connection, s: &Session) -> rusqlite::Result<()> {
    conn.prepare_cached(&format!(
        "UPDATE sessions SET generation = ?4, refresh_current = ?5, refresh_previous = ?6,
             rotated_at = ?7, last_seen_at = ?8, idle_expires_at = ?9, absolute_expires_at = ?10,
             refreshes = ?11, refreshed_from = ?12
         WHERE {BY_KEY}"
    ))?
    .execute(params_from_iter(key(s).into_iter().chain(hot_values(s))))?;
    Ok(())
}
