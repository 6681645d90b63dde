//! The schema, as numbered migrations applied at open (tracked in `PRAGMA user_version`).

use rusqlite::Connection;

/// Each entry upgrades the schema by one version. Never edit a released entry; append.
const MIGRATIONS: &[&str] = &[
    // 1: sessions, the revocation feed, the keyset and settings.
    "CREATE TABLE sessions (
        sid        BLOB PRIMARY KEY,
        user_id    TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        purge_at   INTEGER NOT NULL, -- when it stops being live: min(idle, absolute, revoked)
        revoked    INTEGER NOT NULL DEFAULT 0,
        record     TEXT NOT NULL     -- the session as JSON: hashes only, never a secret
     ) WITHOUT ROWID;
     CREATE INDEX sessions_by_user ON sessions (user_id, created_at, sid);
     CREATE INDEX sessions_by_purge ON sessions (purge_at);
     CREATE TABLE revocations (
        cursor  INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused, even after purges
        kind    INTEGER NOT NULL,                  -- 0 session, 1 access token
        target  TEXT NOT NULL,
        until   INTEGER NOT NULL
     );
     CREATE INDEX revocations_by_until ON revocations (until);
     CREATE TABLE keyset (
        id       INTEGER PRIMARY KEY CHECK (id = 1),
        version  INTEGER NOT NULL,
        document BLOB NOT NULL
     );
          CREATE TABLE settings (name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;",
    // 2: the audit trail.
    "CREATE TABLE audit (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        at      INTEGER NOT NULL,
        user_id TEXT,
        event   TEXT NOT NULL -- the event as JSON: ids and reasons, never a secret
     );
     CREATE INDEX audit_by_user ON audit (user_id, id);
          CREATE INDEX audit_by_time ON audit (at);",
    // 3: accounts of the built-in sign-in.
    "CREATE TABLE users (
        user_id    TEXT PRIMARY KEY,
        password   TEXT NOT NULL, -- Argon2id PHC string
        created_at INTEGER NOT NULL
     ) WITHOUT ROWID;",
];

/// Brings the database up to the latest schema, in one transaction per migration.
pub(crate) fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, sql) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(usize::MAX))
    {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(i + 1).unwrap_or(i64::MAX),
        )?;
        tx.commit()?;
    }
    Ok(())
}

/// Connection settings: WAL, full durability, a busy timeout for the readers.
pub(crate) fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "busy_timeout", 5000)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}
