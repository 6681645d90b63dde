//! The schema: migrations embedded in order, applied at start in one transaction each under an
//! advisory lock, so nodes starting together migrate once and the others wait.

use deadpool_postgres::Object;
use tessera::StoreError;

use crate::store::{db_error, maybe_row, run};

/// Any number, as long as it is ours: the key of the migration lock.
const MIGRATION_LOCK: i64 = 0x7465_7373_6572_6101; // "tessera" + 1

/// Times are milliseconds since the epoch (BIGINT); ids and hashes are bytes; no secret is
/// ever stored, only hashes.
const MIGRATIONS: &[&str] = &[
    "
CREATE TABLE sessions (
    sid                 BYTEA PRIMARY KEY,
    user_id             TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    purge_at            BIGINT NOT NULL, -- when it stopped being live, as last indexed
    revoked             BOOLEAN NOT NULL DEFAULT false,
    generation          BIGINT NOT NULL,
    refresh_current     BYTEA NOT NULL,
    refresh_previous    BYTEA,
    rotated_at          BIGINT NOT NULL,
    last_seen_at        BIGINT NOT NULL,
    idle_expires_at     BIGINT NOT NULL,
    absolute_expires_at BIGINT NOT NULL,
    refreshes           BIGINT NOT NULL DEFAULT 0,
    refreshed_from      TEXT,
    record              TEXT NOT NULL    -- claims, data, device, cookie hash, version, revocation
);
CREATE INDEX sessions_by_user ON sessions (user_id, created_at, sid);
CREATE INDEX sessions_by_purge ON sessions (purge_at);
-- One row handing out feed cursors: locked by each appending transaction until it commits,
-- so cursors are in commit order.
CREATE TABLE feed_head (id INT PRIMARY KEY CHECK (id = 1), cursor BIGINT NOT NULL);
INSERT INTO feed_head VALUES (1, 0);
CREATE TABLE revocations (
    cursor BIGINT PRIMARY KEY,
    kind   SMALLINT NOT NULL, -- 0 session, 1 access token, 2 API key
    target TEXT NOT NULL,
    until  BIGINT NOT NULL
);
CREATE INDEX revocations_by_until ON revocations (until);
CREATE TABLE keyset (
    id       INT PRIMARY KEY CHECK (id = 1),
    version  BIGINT NOT NULL,
    document BYTEA NOT NULL -- sealed private keys
);
CREATE TABLE settings (name TEXT PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE audit (
    id      BIGSERIAL PRIMARY KEY,
    at      BIGINT NOT NULL,
    user_id TEXT,
    event   TEXT NOT NULL -- ids and reasons, never a secret
);
CREATE INDEX audit_by_user ON audit (user_id, id);
CREATE INDEX audit_by_time ON audit (at);
CREATE TABLE accounts (
    id         TEXT PRIMARY KEY,               -- usr_…: what tokens carry in sub
    login      TEXT COLLATE \"C\" NOT NULL UNIQUE, -- normalized; bytewise order for listing
    password   TEXT NOT NULL,                  -- Argon2id PHC string
    created_at BIGINT NOT NULL
);
CREATE TABLE api_keys (
    name         TEXT PRIMARY KEY,
    scope        TEXT NOT NULL,
    hash         BYTEA NOT NULL, -- SHA-256 of the key, never the key
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE TABLE rate_limits (key TEXT PRIMARY KEY, tat BIGINT NOT NULL); -- GCRA, nanoseconds
",
    "
-- The per-session refresh rate (GCRA, ns) in the session's row: charged by the refresh itself.
ALTER TABLE sessions ADD COLUMN refresh_tat BIGINT NOT NULL DEFAULT 0;
-- A rate whose TAT has passed is a full bucket, the same as no row: purged in batches.
CREATE INDEX rate_limits_by_tat ON rate_limits (tat);
",
    "
-- A user's sessions as listing and revoking read them: the unrevoked ones only (a partial
-- index), so revoked sessions awaiting purge cost those steps nothing.
CREATE INDEX sessions_unrevoked_by_user ON sessions (user_id, created_at, sid) WHERE NOT revoked;
DROP INDEX sessions_by_user;
",
];

/// Applies the migrations this database has not had.
///
/// # Errors
/// Database errors; a database migrated by a newer Tessera than this one.
pub(crate) async fn migrate(conn: &mut Object) -> Result<(), StoreError> {
    let tx = conn.transaction().await.map_err(db_error)?;
    run(&tx, "SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS tessera_schema (version INT NOT NULL)")
        .await
        .map_err(db_error)?;
    let version: i32 = maybe_row(&tx, "SELECT version FROM tessera_schema", &[])
        .await?
        .map_or(0, |r| r.get(0));
    let known = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
    if version > known {
        return Err(StoreError::new(
            tessera::StoreErrorKind::Other,
            format!(
                "the database is at schema version {version}, newer than this Tessera ({known}): \
                 run the newer version"
            ),
        ));
    }
    for sql in MIGRATIONS
        .iter()
        .skip(usize::try_from(version).unwrap_or(usize::MAX))
    {
        tx.batch_execute(sql).await.map_err(db_error)?;
    }
    if version < known {
        run(&tx, "DELETE FROM tessera_schema", &[]).await?;
        run(&tx, "INSERT INTO tessera_schema VALUES ($1)", &[&known]).await?;
    }
    tx.commit().await.map_err(db_error)
}
