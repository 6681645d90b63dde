//! Sessions and the revocation feed. A session row keeps what every refresh and activity
//! changes in columns of its own and the rest as one JSON record (core's [`SessionRecord`]),
//! rewritten only when that changes. Each step is one statement or one transaction; a step
//! that decides on what it read locks the row it read (`FOR UPDATE`) until it commits.

use deadpool_postgres::GenericClient;
use tessera::store::{
    CreateOutcome, FeedEntry, LimitCheck, Revocation, Revoked, RotateOutcome, Rotation,
    SessionRecord, SessionStore, SessionUpdate, UpdateOutcome,
};
use tessera::{
    AuditEvent, RateDecision, RefreshState, Session, SessionId, StoreError, Timestamp, TokenHash,
};
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use crate::PostgresStore;
use crate::feed::{append, revocations_after};
use crate::store::{corrupt, db_error, int, maybe_row, ms, row, rows, run, uint};

type Result<T> = std::result::Result<T, StoreError>;

const COLUMNS: &str = "sid, user_id, created_at, generation, refresh_current, refresh_previous,
     rotated_at, last_seen_at, idle_expires_at, absolute_expires_at, refreshes, refreshed_from,
     record, refresh_tat";

fn sid_of(bytes: &[u8]) -> Result<SessionId> {
    <[u8; 16]>::try_from(bytes)
        .map(SessionId::from_bytes)
        .map_err(|_| corrupt("session id of the wrong length"))
}

fn hash_of(bytes: &[u8]) -> Result<TokenHash> {
    <[u8; 32]>::try_from(bytes)
        .map(TokenHash::from_bytes)
        .map_err(|_| corrupt("a token hash of the wrong length"))
}

fn session_of(r: &Row) -> Result<Session> {
    let cold = SessionRecord::decode(r.get::<_, &str>(12))?;
    let previous: Option<&[u8]> = r.get(5);
    Ok(Session {
        sid: sid_of(r.get(0))?,
        user_id: r.get(1),
        claims: cold.claims,
        data: cold.data,
        device: cold.device,
        created_at: Timestamp::from_millis(r.get(2)),
        last_seen_at: Timestamp::from_millis(r.get(7)),
        idle_expires_at: Timestamp::from_millis(r.get(8)),
        absolute_expires_at: Timestamp::from_millis(r.get(9)),
        refresh: RefreshState {
            generation: uint(r.get(3)),
            current: hash_of(r.get(4))?,
            previous: previous.map(hash_of).transpose()?,
            rotated_at: Timestamp::from_millis(r.get(6)),
        },
        cookie: cold.cookie,
        version: cold.version,
        refreshes: uint(r.get(10)),
        refreshed_from: r.get(11),
        revoked_at: cold.revoked_at,
        revoke_reason: cold.revoke_reason,
    })
}

/// When a session stops being live (and may be purged).
fn purge_at(s: &Session) -> i64 {
    let expires = s.expires_at();
    s.revoked_at.map_or(expires, |r| r.min(expires)).as_millis()
}

/// The session, its row locked until the transaction ends when `lock`.
async fn get(c: &impl GenericClient, sid: &SessionId, lock: bool) -> Result<Option<Session>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM sessions WHERE sid = $1{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    maybe_row(c, &sql, &[&sid.as_bytes().as_slice()])
        .await?
        .as_ref()
        .map(session_of)
        .transpose()
}

async fn live_sessions(
    c: &impl GenericClient,
    user_id: &str,
    now: Timestamp,
) -> Result<Vec<Session>> {
    let sql = format!(
        "SELECT {COLUMNS} FROM sessions WHERE user_id = $1 AND NOT revoked
         AND idle_expires_at > $2 AND absolute_expires_at > $2 ORDER BY created_at, sid"
    );
    rows(c, &sql, &[&user_id, &ms(now)])
        .await?
        .iter()
        .map(session_of)
        .collect()
}

/// The columns a refresh writes, as values: one list for the insert and the refresh.
struct Hot {
    generation: i64,
    current: Vec<u8>,
    previous: Option<Vec<u8>>,
    rotated_at: i64,
    last_seen_at: i64,
    idle_expires_at: i64,
    refreshes: i64,
    refreshed_from: Option<String>,
}

impl Hot {
    fn of(s: &Session) -> Self {
        Self {
            generation: int(s.refresh.generation),
            current: s.refresh.current.as_bytes().to_vec(),
            previous: s.refresh.previous.as_ref().map(|p| p.as_bytes().to_vec()),
            rotated_at: ms(s.refresh.rotated_at),
            last_seen_at: ms(s.last_seen_at),
            idle_expires_at: ms(s.idle_expires_at),
            refreshes: int(s.refreshes),
            refreshed_from: s.refreshed_from.clone(),
        }
    }

    /// In the order `generation, refresh_current, refresh_previous, rotated_at, last_seen_at,
    /// idle_expires_at, refreshes, refreshed_from`.
    fn params(&self) -> [&(dyn ToSql + Sync); 8] {
        [
            &self.generation,
            &self.current,
            &self.previous,
            &self.rotated_at,
            &self.last_seen_at,
            &self.idle_expires_at,
            &self.refreshes,
            &self.refreshed_from,
        ]
    }
}

async fn insert(c: &impl GenericClient, s: &Session) -> Result<bool> {
    let (record, hot) = (SessionRecord::encode(s)?, Hot::of(s));
    let (sid, purge, absolute) = (
        s.sid.as_bytes().as_slice(),
        purge_at(s),
        ms(s.absolute_expires_at),
    );
    let (created, revoked) = (ms(s.created_at), s.revoked_at.is_some());
    let head: [&(dyn ToSql + Sync); 5] = [&sid, &s.user_id, &created, &purge, &revoked];
    let tail: [&(dyn ToSql + Sync); 2] = [&absolute, &record];
    let params: Vec<&(dyn ToSql + Sync)> =
        head.into_iter().chain(hot.params()).chain(tail).collect();
    let n = run(
        c,
        "INSERT INTO sessions (sid, user_id, created_at, purge_at, revoked, generation,
                 refresh_current, refresh_previous, rotated_at, last_seen_at, idle_expires_at,
                 refreshes, refreshed_from, absolute_expires_at, record)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
             ON CONFLICT (sid) DO NOTHING",
        &params,
    )
    .await?;
    Ok(n == 1)
}

/// Rewrites the record (claims, data, cookie, version, revocation) and what the indexes read.
async fn rewrite_record(c: &impl GenericClient, s: &Session) -> Result<()> {
    run(
        c,
        "UPDATE sessions SET record = $2, purge_at = $3, revoked = $4 WHERE sid = $1",
        &[
            &s.sid.as_bytes().as_slice(),
            &SessionRecord::encode(s)?,
            &purge_at(s),
            &s.revoked_at.is_some(),
        ],
    )
    .await?;
    Ok(())
}

/// Revokes `sid` in the caller's transaction: its row locked, its record rewritten, its feed
/// entry appended. The user id, if it was revoked now.
async fn revoke_in(
    c: &impl GenericClient,
    sid: &SessionId,
    r: Revocation,
) -> Result<Option<String>> {
    let Some(mut s) = get(c, sid, true).await? else {
        return Ok(None);
    };
    if s.revoked_at.is_some() {
        return Ok(None);
    }
    s.revoked_at = Some(r.at);
    s.revoke_reason = Some(r.reason);
    rewrite_record(c, &s).await?;
    append(c, &Revoked::Session(*sid), r.until).await?;
    Ok(Some(s.user_id))
}

/// Serializes the steps that count a user's sessions (creation under a limit) for one user,
/// until the transaction ends.
async fn lock_user(c: &impl GenericClient, user_id: &str) -> Result<()> {
    run(
        c,
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
        &[&format!("tessera-user:{user_id}")],
    )
    .await?;
    Ok(())
}

impl SessionStore for PostgresStore {
    fn is_shared(&self) -> bool {
        true
    }

    async fn create(
        &self,
        session: &Session,
        limit: Option<LimitCheck>,
        created: Option<&AuditEvent>,
    ) -> Result<CreateOutcome> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db_error)?;
        let mut evicted = Vec::new();
        if let Some(check) = limit {
            lock_user(&tx, &session.user_id).await?;
            let live = live_sessions(&tx, &session.user_id, check.now).await?;
            let Some(old) = check.evict(&live) else {
                return Ok(CreateOutcome::LimitReached);
            };
            for old in old {
                if revoke_in(&tx, &old.sid, check.eviction_revocation())
                    .await?
                    .is_some()
                {
                    evicted.push(old.sid);
                }
            }
        }
        if !insert(&tx, session).await? {
            return Ok(CreateOutcome::AlreadyExists);
        }
        if let Some(event) = created {
            crate::audit::append(&tx, event).await?;
        }
        tx.commit().await.map_err(db_error)?;
        Ok(CreateOutcome::Created { evicted })
    }

    async fn get(&self, sid: &SessionId) -> Result<Option<Session>> {
        get(&self.conn().await?, sid, false).await
    }

    /// The per-session refresh rate lives in the session's row (`refresh_tat`), like Redis's
    /// `rl` field: charging it costs no statement of its own.
    async fn rotate(&self, sid: &SessionId, rotation: &Rotation) -> Result<RotateOutcome> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db_error)?;
        let sql = format!("SELECT {COLUMNS} FROM sessions WHERE sid = $1 FOR UPDATE");
        let Some(found) = maybe_row(&tx, &sql, &[&sid.as_bytes().as_slice()]).await? else {
            return Ok(RotateOutcome::Refused(None));
        };
        let mut s = session_of(&found)?;
        if !rotation.applies_to(&s) {
            return Ok(RotateOutcome::Refused(Some(Box::new(s))));
        }
        let mut tat: i64 = found.get(13);
        if let Some(rate) = &rotation.rate {
            match tessera::gcra(Some(i128::from(tat)), &rate.quota, rotation.at) {
                (
                    RateDecision::Limited {
                        retry_after,
                        reset_after,
                    },
                    _,
                ) => {
                    return Ok(RotateOutcome::Limited {
                        retry_after,
                        reset_after,
                    });
                }
                (RateDecision::Allowed { .. }, next) => {
                    tat = i64::try_from(next).unwrap_or(i64::MAX);
                }
            }
        }
        rotation.apply(&mut s);
        let (hot, key) = (Hot::of(&s), sid.as_bytes().as_slice());
        let params: Vec<&(dyn ToSql + Sync)> = [&key as &(dyn ToSql + Sync)]
            .into_iter()
            .chain(hot.params())
            .chain([&tat as &(dyn ToSql + Sync)])
            .collect();
        run(
            &tx,
            "UPDATE sessions SET generation = $2, refresh_current = $3, refresh_previous = $4,
                 rotated_at = $5, last_seen_at = $6, idle_expires_at = $7, refreshes = $8,
                 refreshed_from = $9, refresh_tat = $10
             WHERE sid = $1",
            &params,
        )
        .await?;
        tx.commit().await.map_err(db_error)?;
        Ok(RotateOutcome::Rotated(Box::new(s)))
    }

    async fn touch(&self, sid: &SessionId, seen: Timestamp, idle: Timestamp) -> Result<bool> {
        // The purge time is not re-indexed here (see purge_expired).
        let n = run(
            &self.conn().await?,
            "UPDATE sessions SET last_seen_at = $2, idle_expires_at = $3
                 WHERE sid = $1 AND NOT revoked",
            &[&sid.as_bytes().as_slice(), &ms(seen), &ms(idle)],
        )
        .await?;
        Ok(n == 1)
    }

    async fn update(
        &self,
        sid: &SessionId,
        expected: u64,
        update: &SessionUpdate,
    ) -> Result<UpdateOutcome> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db_error)?;
        let Some(mut s) = get(&tx, sid, true).await? else {
            return Ok(UpdateOutcome::NotFound);
        };
        let outcome = update.apply_to(&mut s, expected);
        if let UpdateOutcome::Updated(_) = outcome {
            rewrite_record(&tx, &s).await?;
            tx.commit().await.map_err(db_error)?;
        }
        Ok(outcome)
    }

    async fn revoke(&self, sid: &SessionId, revocation: Revocation) -> Result<Option<String>> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db_error)?;
        let user = revoke_in(&tx, sid, revocation).await?;
        tx.commit().await.map_err(db_error)?;
        Ok(user)
    }

    async fn revoke_user(
        &self,
        user_id: &str,
        except: Option<&SessionId>,
        r: Revocation,
    ) -> Result<Vec<SessionId>> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db_error)?;
        let rows = rows(
            &tx,
            "SELECT sid FROM sessions WHERE user_id = $1 AND NOT revoked ORDER BY created_at, sid",
            &[&user_id],
        )
        .await?;
        let mut revoked = Vec::new();
        for row in &rows {
            let sid = sid_of(row.get(0))?;
            if Some(&sid) != except && revoke_in(&tx, &sid, r).await?.is_some() {
                revoked.push(sid);
            }
        }
        tx.commit().await.map_err(db_error)?;
        Ok(revoked)
    }

    async fn revoke_token(&self, jti: &str, until: Timestamp) -> Result<()> {
        let mut conn = self.conn().await?;
        let tx = conn.transaction().await.map_err(db_error)?;
        append(&tx, &Revoked::Token(jti.to_owned()), until).await?;
        tx.commit().await.map_err(db_error)
    }

    async fn list_user(&self, user_id: &str, now: Timestamp) -> Result<Vec<Session>> {
        live_sessions(&self.conn().await?, user_id, now).await
    }

    async fn count_live(&self, now: Timestamp) -> Result<u64> {
        let row = row(
            &self.conn().await?,
            "SELECT count(*) FROM sessions WHERE purge_at > $1 AND NOT revoked",
            &[&ms(now)],
        )
        .await?;
        Ok(uint(row.get(0)))
    }

    async fn revocations_after(
        &self,
        _feed: usize,
        after: u64,
        limit: usize,
    ) -> Result<Vec<FeedEntry>> {
        revocations_after(&self.conn().await?, after, limit).await
    }

    /// In bounded batches, each its own short statement: sessions whose indexed end has come
    /// are re-indexed if a refresh or activity moved their end later, deleted otherwise.
    async fn purge_expired(&self, now: Timestamp, batch: usize) -> Result<usize> {
        let conn = self.conn().await?;
        let (now, batch) = (ms(now), int(batch as u64));
        run(
            &conn,
            "UPDATE sessions SET purge_at = LEAST(idle_expires_at, absolute_expires_at)
             WHERE sid IN (SELECT sid FROM sessions WHERE purge_at <= $1 ORDER BY purge_at
                           LIMIT $2 FOR UPDATE SKIP LOCKED)
             AND NOT revoked AND LEAST(idle_expires_at, absolute_expires_at) > $1",
            &[&now, &batch],
        )
        .await?;
        let purged = run(
            &conn,
            "DELETE FROM sessions WHERE sid IN
                 (SELECT sid FROM sessions WHERE purge_at <= $1 ORDER BY purge_at
                  LIMIT $2 FOR UPDATE SKIP LOCKED)",
            &[&now, &batch],
        )
        .await?;
        crate::feed::purge(&conn, Timestamp::from_millis(now), batch).await?;
        run(
            &conn,
            "DELETE FROM rate_limits WHERE key IN (SELECT key FROM rate_limits WHERE tat < $1
             ORDER BY tat LIMIT $2 FOR UPDATE SKIP LOCKED)",
            &[&now.saturating_mul(1_000_000), &batch],
        )
        .await?;
        Ok(usize::try_from(purged).unwrap_or(usize::MAX))
    }
}
