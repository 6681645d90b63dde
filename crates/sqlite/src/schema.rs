//! The schema, as numbered migrations applied at open (tracked in `PRAGMA user_version`).

use rusqlite::{Connection, Transaction};

/// One migration: SQL, then (for data that SQL alone cannot move) code, in one transaction.
type Step = (
    &'static str,
    Option<fn(&Transaction<'_>) -> rusqlite::Result<()>>,
);

/// Each entry upgrades the schema by one version. Never edit a released entry; append.
const MIGRATIONS: &[Step] = &[
    (
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
        None,
    ),
    // 2: the audit trail.
    (
        "CREATE TABLE audit (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        at      INTEGER NOT NULL,
        user_id TEXT,
        event   TEXT NOT NULL -- the event as JSON: ids and reasons, never a secret
     );
     CREATE INDEX audit_by_user ON audit (user_id, id);
          CREATE INDEX audit_by_time ON audit (at);",
        None,
    ),
    // 3: accounts of the built-in sign-in.
    (
        "CREATE TABLE users (
        user_id    TEXT PRIMARY KEY,
        password   TEXT NOT NULL, -- Argon2id PHC string
        created_at INTEGER NOT NULL
     ) WITHOUT ROWID;",
        None,
    ),
    // 4: accounts get server-chosen ids apart from their login names; named API keys.
    (
        "CREATE TABLE accounts (
        id         TEXT PRIMARY KEY,     -- usr_ + 128 random bits: what tokens carry in sub
        login      TEXT NOT NULL UNIQUE, -- the normalized name its owner signs in with
        password   TEXT NOT NULL,        -- Argon2id PHC string
        created_at INTEGER NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE api_keys (
        name         TEXT PRIMARY KEY,
        scope        TEXT NOT NULL,       -- verify, metrics, sessions or admin
        hash         BLOB NOT NULL,       -- SHA-256 of the key, never the key
        created_at   INTEGER NOT NULL,
        last_used_at INTEGER
     ) WITHOUT ROWID;",
        Some(crate::accounts::move_users_to_accounts),
    ),
    // 5: what every refresh and activity changes gets columns of its own, so a refresh writes
    // a few integers instead of re-encoding and rewriting the whole record.
    (
        "ALTER TABLE sessions ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE sessions ADD COLUMN refresh_current BLOB NOT NULL DEFAULT x'';
     ALTER TABLE sessions ADD COLUMN refresh_previous BLOB;
     ALTER TABLE sessions ADD COLUMN rotated_at INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE sessions ADD COLUMN last_seen_at INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE sessions ADD COLUMN idle_expires_at INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE sessions ADD COLUMN absolute_expires_at INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE sessions ADD COLUMN refreshes INTEGER NOT NULL DEFAULT 0;
     ALTER TABLE sessions ADD COLUMN refreshed_from TEXT;",
        Some(crate::rows::split_records),
    ),
    // 6: a user's sessions side by side. Rows were ordered by their random ids, so listing or
    // revoking a user's ten sessions read and wrote ten pages scattered over the table, and
    // a million sessions made both a quarter to half slower than ten thousand. Now the rows
    // are ordered by user (then creation), and found by id through an index. `revoked` holds
    // when the session was revoked (0: it was not), indexed only where set, so a revocation
    // writes the user's page and the end of that small index instead of moving the session
    // in the purge index (rows revoked before this keep 1: long ago, purged next).
    (
        "CREATE TABLE sessions_new (
        user_id             TEXT NOT NULL,
        created_at          INTEGER NOT NULL,
        sid                 BLOB NOT NULL,
        purge_at            INTEGER NOT NULL, -- when it ends, as last indexed (see REINDEX_DUE)
        revoked             INTEGER NOT NULL DEFAULT 0, -- when it was revoked, 0 if it was not
        record              TEXT NOT NULL,
        generation          INTEGER NOT NULL DEFAULT 0,
        refresh_current     BLOB NOT NULL DEFAULT x'',
        refresh_previous    BLOB,
        rotated_at          INTEGER NOT NULL DEFAULT 0,
        last_seen_at        INTEGER NOT NULL DEFAULT 0,
        idle_expires_at     INTEGER NOT NULL DEFAULT 0,
        absolute_expires_at INTEGER NOT NULL DEFAULT 0,
        refreshes           INTEGER NOT NULL DEFAULT 0,
        refreshed_from      TEXT,
        PRIMARY KEY (user_id, created_at, sid)
     ) WITHOUT ROWID;
     INSERT INTO sessions_new (user_id, created_at, sid, purge_at, revoked, record, generation,
        refresh_current, refresh_previous, rotated_at, last_seen_at, idle_expires_at,
        absolute_expires_at, refreshes, refreshed_from)
     SELECT user_id, created_at, sid, purge_at, revoked, record, generation, refresh_current,
        refresh_previous, rotated_at, last_seen_at, idle_expires_at, absolute_expires_at,
        refreshes, refreshed_from FROM sessions;
     DROP TABLE sessions;
     ALTER TABLE sessions_new RENAME TO sessions;
     CREATE UNIQUE INDEX sessions_by_sid ON sessions (sid);
     CREATE INDEX sessions_by_purge ON sessions (purge_at);
     CREATE INDEX sessions_revoked ON sessions (revoked) WHERE revoked > 0;",
        None,
    ),
];

/// Brings the database up to the latest schema, in one transaction per migration.
pub(crate) fn migrate(conn: &mut Connection) -> rusqlite::Result<()> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    for (i, (sql, code)) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(current).unwrap_or(usize::MAX))
    {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        if let Some(code) = code {
            code(&tx)?;
        }
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(i + 1).unwrap_or(i64::MAX),
        )?;
        tx.commit()?;
    }
    Ok(())
}

/// Reads B-tree pages straight from the OS's page cache (up to 1 GiB of the file mapped)
/// instead of copying each through a `pread`: what keeps listing and reading sessions as fast
/// with a million of them as with ten thousand. Writes still go through the WAL.
pub(crate) fn map_pages(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "mmap_size", 1_i64 << 30)
}

/// Connection settings: WAL, full durability, a busy timeout for the readers.
pub(crate) fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "busy_timeout", 5000)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // 64 MiB of pages (the default is 2 MiB): the B-tree pages a million sessions touch stay
    // in memory instead of being read back through the OS for every step.
    conn.pragma_update(None, "cache_size", -65536)?;
    map_pages(conn)?;
    // Freed cells are zeroed where that costs no extra I/O: replaced values (a keyset sealed
    // anew, a deleted API key) do not linger in the page they were on.
    conn.pragma_update(None, "secure_delete", "FAST")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use crate::accounts;
    use tessera::{AccountId, LoginName, PasswordHash};

    /// Accounts of a database written before account ids existed keep working: each gets a
    /// fresh `usr_` id, keeps its password, and is found by the name its owner types.
    /// A database as the first `version` migrations left it.
    fn database_at(version: usize) -> Connection {
        let mut conn = Connection::open_in_memory().unwrap();
        for (sql, code) in &MIGRATIONS[..version] {
            let tx = conn.transaction().unwrap();
            tx.execute_batch(sql).unwrap();
            if let Some(code) = code {
                code(&tx).unwrap();
            }
            tx.commit().unwrap();
        }
        conn.pragma_update(None, "user_version", i64::try_from(version).unwrap())
            .unwrap();
        conn
    }

    #[test]
    fn accounts_kept_by_name_move_to_random_ids() {
        let mut conn = database_at(3);
        let hash = PasswordHash::new("alice's password").unwrap();
        // "ａｌｉｃｅ" normalizes to "alice" too, but "alice" is what people type: it keeps it.
        for (name, created) in [("ａｌｉｃｅ", 1), ("alice", 2), ("bob smith", 3)] {
            conn.execute(
                "INSERT INTO users (user_id, password, created_at) VALUES (?1, ?2, ?3)",
                rusqlite::params![name, hash.as_str(), created],
            )
            .unwrap();
        }
        migrate(&mut conn).unwrap();
        let alice = accounts::find_user(&conn, &LoginName::parse("ALICE").unwrap())
            .unwrap()
            .unwrap();
        assert!(AccountId::is_reserved(alice.id.as_str()));
        assert!(alice.password.verify("alice's password"));
        assert_eq!(
            alice.created_at.as_millis(),
            2,
            "the account named alice, not the look-alike"
        );
        assert_eq!(
            accounts::get_user(&conn, &alice.id).unwrap().unwrap(),
            alice
        );
        let bob = accounts::find_user(&conn, &LoginName::from_stored("bob smith".into()))
            .unwrap()
            .unwrap();
        assert_ne!(
            bob.id, alice.id,
            "a name today's rules refuse is kept, not lost"
        );
        let wide = accounts::find_user(&conn, &LoginName::from_stored("ａｌｉｃｅ".into()))
            .unwrap()
            .unwrap();
        assert!(
            ![&alice.id, &bob.id].contains(&&wide.id),
            "the look-alike is kept apart"
        );
        let count: i64 = conn
            .query_row("SELECT count(*) FROM accounts", [], |r| r.get(0))
            .unwrap();
        assert_eq!(count, 3, "no account is dropped");
        let old: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_schema WHERE name = 'users'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(old, 0, "the table keyed by typed names is gone");
    }

    /// Sessions written before the hot fields had columns read back whole, and refresh.
    #[test]
    fn whole_session_records_move_to_columns() {
        let mut conn = database_at(4);
        let at = tessera::Timestamp::from_secs(1_700_000_000);
        let session = tessera::Session {
            sid: tessera::SessionId::generate().unwrap(),
            user_id: "alice".into(),
            claims: serde_json::json!({ "role": "admin" })
                .as_object()
                .unwrap()
                .clone(),
            data: serde_json::json!({ "cart": [1, 2] }),
            device: tessera::Device {
                user_agent: Some("curl".into()),
                ..tessera::Device::default()
            },
            created_at: at,
            last_seen_at: at.plus(std::time::Duration::from_secs(5)),
            idle_expires_at: at.plus(std::time::Duration::from_secs(60)),
            absolute_expires_at: at.plus(std::time::Duration::from_secs(600)),
            refresh: tessera::RefreshState {
                generation: 7,
                current: tessera::TokenHash::of(b"current"),
                previous: Some(tessera::TokenHash::of(b"previous")),
                rotated_at: at.plus(std::time::Duration::from_secs(4)),
            },
            cookie: Some(tessera::TokenHash::of(b"cookie")),
            version: 3,
            refreshes: 0,
            refreshed_from: None,
            revoked_at: None,
            revoke_reason: None,
        };
        // The record as migration 4 left it: the whole session as JSON.
        conn.execute(
            "INSERT INTO sessions (sid, user_id, created_at, purge_at, revoked, record)
             VALUES (?1, ?2, ?3, ?4, 0, ?5)",
            rusqlite::params![
                session.sid.as_bytes(),
                session.user_id,
                session.created_at.as_millis(),
                session.idle_expires_at.as_millis(),
                serde_json::to_string(&session).unwrap()
            ],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let read = crate::sessions::get(&conn, &session.sid).unwrap().unwrap();
        assert_eq!(read, session);
        let record: String = conn
            .query_row("SELECT record FROM sessions", [], |r| r.get(0))
            .unwrap();
        assert!(
            !record.contains("generation") && record.contains("cart"),
            "the record keeps only what is not a column: {record}"
        );
    }

    /// Sessions move to rows ordered by user whole: each reads back as it was, a user's list
    /// keeps its order, and one revoked before (flagged 1, not timed) is purged next.
    #[test]
    fn sessions_move_to_rows_ordered_by_user() {
        let mut conn = database_at(5);
        let at = tessera::Timestamp::from_secs(1_700_000_000);
        let session = |user: &str, created: u64| {
            let created = at.plus(std::time::Duration::from_secs(created));
            tessera::Session::started(
                tessera::SessionId::generate().unwrap(),
                user.into(),
                created,
                at.plus(std::time::Duration::from_secs(3600)),
                at.plus(std::time::Duration::from_secs(7200)),
                tessera::TokenHash::of(user.as_bytes()),
            )
        };
        let (first, revoked, second, other) = (
            session("alice", 1),
            session("alice", 2),
            session("alice", 3),
            session("bob", 0),
        );
        for s in [&first, &revoked, &second, &other] {
            crate::rows::insert(&conn, s).unwrap();
        }
        conn.execute(
            "UPDATE sessions SET revoked = 1 WHERE sid = ?1",
            [revoked.sid.as_bytes()],
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let now = at.plus(std::time::Duration::from_secs(10));
        assert_eq!(
            crate::sessions::live_sessions(&conn, "alice", now).unwrap(),
            vec![first.clone(), second.clone()]
        );
        assert_eq!(crate::sessions::purge(&conn, now, 10).unwrap(), 1);
        for (s, kept) in [
            (&first, true),
            (&revoked, false),
            (&second, true),
            (&other, true),
        ] {
            let read = crate::sessions::get(&conn, &s.sid).unwrap();
            assert_eq!(read.as_ref(), kept.then_some(s), "{}", s.user_id);
        }
    }
}
