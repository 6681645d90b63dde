//! SessionStore on Redis.

use std::time::Duration;

use redis::AsyncCommands;
use tessera::store::{
    CreateOutcome, FeedEntry, LimitCheck, Revocation, Revoked, RotateOutcome, Rotation,
    SessionStore, SessionUpdate, UpdateOutcome,
};
use tessera::{AuditEvent, OnLimit, Session, SessionId, StoreError, Timestamp, TokenHash};

use crate::agents::hex;
use crate::audit::audit_args;
use crate::codec::{corrupt, redis_error, session, to_json};
use crate::layout::GLOBAL_FEED;
use crate::limits::{gcra_interval, micros};
use crate::scripts::{self, SLACK_MS};
use crate::store::{RedisStore, invocation, key_in, ms};

/// A token hash as a session record keeps it: its 32 bytes, none for none.
fn hash_bytes(hash: Option<&TokenHash>) -> &[u8] {
    hash.map_or(&[], |h| h.as_bytes())
}

impl RedisStore {
    /// Sessions as get, rotate and list answer them (each its id, and its record and user
    /// agent as `readable` in the prelude gives them), with the agents their records name by
    /// digest: those known here, the others read from the user's shard in one step and kept.
    /// Only a malformed answer fails: an agent that cannot be read now is left out (it is
    /// shown, never checked), so a refresh the store has made is never answered as a failure.
    async fn read(&self, rows: &[(SessionId, &[Vec<u8>])]) -> Result<Vec<Session>, StoreError> {
        let mut sessions = Vec::with_capacity(rows.len());
        let mut unknown = Vec::new();
        for (sid, reply) in rows {
            let [record, agent] = reply else {
                return Err(corrupt("session reply"));
            };
            let agent = std::str::from_utf8(agent).map_err(|_| corrupt("user agent"))?;
            let (mut s, digest) = session(*sid, record, agent)?;
            if !digest.is_empty() {
                match self.agents.get(digest) {
                    Some(text) => s.device.user_agent = Some(text),
                    None => unknown.push((sessions.len(), SessionId::shard_of(&s.user_id), digest)),
                }
            }
            sessions.push(s);
        }
        // A user's sessions share a shard: one step for all, in all but odd cases.
        while let Some(&(_, shard, _)) = unknown.first() {
            let (here, rest): (Vec<_>, Vec<_>) = unknown.into_iter().partition(|u| u.1 == shard);
            unknown = rest;
            let mut inv = self.run_in(shard, &scripts::AGENTS);
            for (_, _, digest) in &here {
                inv.arg(hex(digest));
            }
            let Ok(texts) = self.call::<Vec<String>>(&inv).await else {
                continue;
            };
            for ((at, _, digest), text) in here.into_iter().zip(texts) {
                // '': forgotten, which no live session's agent is; kept unknown.
                if !text.is_empty() {
                    self.agents.keep(digest, &text);
                    sessions[at].device.user_agent = Some(text);
                }
            }
        }
        Ok(sessions)
    }

    /// [`RedisStore::read`] of one session.
    async fn read_one(&self, sid: SessionId, reply: &[Vec<u8>]) -> Result<Session, StoreError> {
        let mut read = self.read(&[(sid, reply)]).await?;
        read.pop().ok_or_else(|| corrupt("session reply"))
    }
}

/// A session id as the scripts answer it: its 16 bytes.
fn id_of(bytes: &[u8]) -> Result<SessionId, StoreError> {
    bytes
        .try_into()
        .map(SessionId::from_bytes)
        .map_err(|_| corrupt("session id"))
}

fn ids(replied: &[Vec<u8>]) -> Result<Vec<SessionId>, StoreError> {
    replied.iter().map(|id| id_of(id)).collect()
}

fn reason(r: tessera::RevokeReason) -> Result<String, StoreError> {
    let quoted = to_json(&r)?;
    Ok(quoted.trim_matches('"').to_owned())
}

impl SessionStore for RedisStore {
    fn is_shared(&self) -> bool {
        true
    }

    fn feeds(&self) -> usize {
        GLOBAL_FEED + 1
    }

    async fn create(
        &self,
        s: &Session,
        limit: Option<LimitCheck>,
        created: Option<&AuditEvent>,
    ) -> Result<CreateOutcome, StoreError> {
        let shard = SessionId::shard_of(&s.user_id);
        if s.sid.shard() != shard {
            // An id that names another shard (made before shards, or by a caller that chose
            // it): that shard keeps a pointer to the user's, as long as the session can live.
            let lives = s.absolute_expires_at.as_millis() - s.last_seen_at.as_millis();
            let mut inv = self.run_in(s.sid.shard(), &scripts::MISC);
            inv.arg("point")
                .arg(s.sid.to_string())
                .arg(shard)
                .arg(lives.max(1) + SLACK_MS)
                .arg(s.sid.as_bytes());
            if self.call::<i64>(&inv).await? == 0 {
                return Ok(CreateOutcome::AlreadyExists);
            }
        }
        let mut inv = self.run_in(shard, &scripts::CREATE);
        let data = match &s.data {
            serde_json::Value::Null => String::new(),
            data => to_json(data)?,
        };
        inv.arg(s.sid.as_bytes())
            .arg(&s.user_id)
            .arg(ms(s.created_at))
            .arg(ms(s.last_seen_at))
            .arg(ms(s.idle_expires_at))
            .arg(ms(s.absolute_expires_at))
            .arg(s.refresh.generation)
            .arg(s.refresh.current.as_bytes())
            .arg(hash_bytes(s.refresh.previous.as_ref()))
            .arg(ms(s.refresh.rotated_at))
            .arg(to_json(&s.claims)?)
            .arg(data)
            .arg(s.device.ip.as_deref().unwrap_or_default())
            .arg(s.device.label.as_deref().unwrap_or_default())
            .arg(hash_bytes(s.cookie.as_ref()))
            .arg(s.version);
        match limit {
            Some(l) => {
                let mode = if l.limit.on_limit == OnLimit::Deny {
                    "deny"
                } else {
                    "evict"
                };
                inv.arg(l.limit.max)
                    .arg(mode)
                    .arg(ms(l.now))
                    .arg(ms(l.eviction.at))
                    .arg(ms(l.eviction.until))
            }
            None => inv.arg(0).arg("").arg(0).arg(0).arg(0),
        };
        inv.arg(s.device.user_agent.as_deref().unwrap_or_default())
            .arg(s.sid.to_string());
        if let Some(event) = created {
            audit_args(&mut inv, event)?;
        }
        let reply: Vec<Vec<u8>> = self.call(&inv).await?;
        match reply.split_first() {
            Some((kind, _)) if kind == b"exists" => Ok(CreateOutcome::AlreadyExists),
            Some((kind, _)) if kind == b"limit" => Ok(CreateOutcome::LimitReached),
            Some((kind, evicted)) if kind == b"created" => Ok(CreateOutcome::Created {
                evicted: ids(evicted)?,
            }),
            _ => Err(corrupt("create reply")),
        }
    }

    async fn get(&self, sid: &SessionId) -> Result<Option<Session>, StoreError> {
        let reply: Vec<Vec<u8>> = self
            .call_for(sid, &scripts::GET, |inv| {
                inv.arg(sid.as_bytes());
            })
            .await?;
        if reply.is_empty() {
            return Ok(None);
        }
        self.read_one(*sid, &reply).await.map(Some)
    }

    async fn rotate(&self, sid: &SessionId, r: &Rotation) -> Result<RotateOutcome, StoreError> {
        let reply: Vec<Vec<u8>> = self
            .call_for(sid, &scripts::ROTATE, |inv| {
                inv.arg(sid.as_bytes())
                    .arg(r.expected_generation)
                    .arg(r.presented.as_bytes())
                    .arg(r.next.generation)
                    .arg(r.next.current.as_bytes())
                    .arg(hash_bytes(r.next.previous.as_ref()))
                    .arg(ms(r.next.rotated_at))
                    .arg(ms(r.at))
                    .arg(ms(r.idle_expires_at))
                    .arg(r.client.as_deref().unwrap_or_default());
                // The rate's state is kept in the session itself (see rotate.lua): no key of
                // its own.
                match &r.rate {
                    Some(charge) => inv
                        .arg(gcra_interval(&charge.quota))
                        .arg(charge.quota.burst())
                        .arg(micros(r.at)),
                    None => inv.arg("").arg(0).arg(0),
                };
            })
            .await?;
        let Some((kind, rest)) = reply.split_first() else {
            return Err(corrupt("rotate reply"));
        };
        let number = |bytes: &[u8]| -> Result<u64, StoreError> {
            std::str::from_utf8(bytes)
                .ok()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| corrupt("rotate reply"))
        };
        match kind.as_slice() {
            b"gone" => Ok(RotateOutcome::Refused(None)),
            b"limited" => match rest {
                [retry, reset] => Ok(RotateOutcome::Limited {
                    retry_after: Duration::from_micros(number(retry)?),
                    reset_after: Duration::from_micros(number(reset)?),
                }),
                _ => Err(corrupt("rotate reply")),
            },
            b"found" => Ok(RotateOutcome::Refused(Some(Box::new(
                self.read_one(*sid, rest).await?,
            )))),
            // The session as the script read it: the rotation it applied is the caller's.
            b"rotated" => {
                let mut rotated = self.read_one(*sid, rest).await?;
                r.apply(&mut rotated);
                Ok(RotateOutcome::Rotated(Box::new(rotated)))
            }
            _ => Err(corrupt("rotate reply")),
        }
    }

    async fn touch(
        &self,
        sid: &SessionId,
        seen: Timestamp,
        idle: Timestamp,
    ) -> Result<bool, StoreError> {
        let touched: i64 = self
            .call_for(sid, &scripts::TOUCH, |inv| {
                inv.arg(sid.as_bytes()).arg(ms(seen)).arg(ms(idle));
            })
            .await?;
        Ok(touched == 1)
    }

    async fn update(
        &self,
        sid: &SessionId,
        expected: u64,
        u: &SessionUpdate,
    ) -> Result<UpdateOutcome, StoreError> {
        let claims = u.claims.as_ref().map(to_json).transpose()?;
        let data = u.data.as_ref().map(to_json).transpose()?;
        let (claims, data, cookie) = (
            claims.unwrap_or_default(),
            data.unwrap_or_default(),
            hash_bytes(u.cookie.as_ref()),
        );
        let (kind, version): (String, u64) = self
            .call_for(sid, &scripts::UPDATE, |inv| {
                inv.arg(sid.as_bytes())
                    .arg(expected)
                    .arg(&claims)
                    .arg(&data)
                    .arg(cookie);
            })
            .await?;
        Ok(match kind.as_str() {
            "updated" => UpdateOutcome::Updated(version),
            "mismatch" => UpdateOutcome::VersionMismatch(version),
            _ => UpdateOutcome::NotFound,
        })
    }

    async fn revoke(&self, sid: &SessionId, r: Revocation) -> Result<Option<String>, StoreError> {
        let why = reason(r.reason)?;
        self.call_for(sid, &scripts::REVOKE, |inv| {
            inv.arg(sid.as_bytes())
                .arg(&why)
                .arg(ms(r.at))
                .arg(ms(r.until))
                .arg(sid.to_string());
        })
        .await
    }

    async fn revoke_user(
        &self,
        user: &str,
        except: Option<&SessionId>,
        r: Revocation,
    ) -> Result<Vec<SessionId>, StoreError> {
        let mut inv = self.run_in(SessionId::shard_of(user), &scripts::REVOKE_USER);
        inv.arg(user)
            .arg(except.map_or(&[][..], |e| e.as_bytes()))
            .arg(reason(r.reason)?)
            .arg(ms(r.at))
            .arg(ms(r.until));
        let revoked: Vec<Vec<u8>> = self.call(&inv).await?;
        ids(&revoked)
    }

    async fn revoke_token(&self, jti: &str, until: Timestamp) -> Result<(), StoreError> {
        let mut inv = self.run_in(SessionId::shard_of(jti), &scripts::REVOKE_TOKEN);
        inv.arg(jti).arg(ms(until));
        self.call::<i64>(&inv).await.map(|_| ())
    }

    async fn list_user(&self, user: &str, now: Timestamp) -> Result<Vec<Session>, StoreError> {
        let mut inv = self.run_in(SessionId::shard_of(user), &scripts::LIST_USER);
        inv.arg(user).arg(ms(now));
        let rows: Vec<Vec<Vec<u8>>> = self.call(&inv).await?;
        let rows = rows
            .iter()
            .map(|row| match row.split_first() {
                Some((id, rest)) => Ok((id_of(id)?, rest)),
                None => Err(corrupt("session list")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        self.read(&rows).await
    }

    async fn count_live(&self, now: Timestamp) -> Result<u64, StoreError> {
        let mut live = 0;
        for shard in self.layout.shards() {
            let mut inv = invocation(&scripts::COUNT, shard);
            inv.arg(ms(now));
            live += self.call::<u64>(&inv).await?;
        }
        Ok(live)
    }

    async fn revocations_after(
        &self,
        feed: usize,
        after: u64,
        limit: usize,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        let mut conn = self.conn.clone();
        let entries: Vec<String> = conn
            .zrangebyscore_limit(
                key_in(self.layout.feed(feed), &["feed"]),
                format!("({after}"),
                "+inf",
                0,
                isize::try_from(limit).unwrap_or(isize::MAX),
            )
            .await
            .map_err(redis_error)?;
        entries.iter().map(|e| feed_entry(e)).collect()
    }

    async fn purge_expired(&self, now: Timestamp, batch: usize) -> Result<usize, StoreError> {
        // The global slot holds only feed entries.
        self.purge_every_slot(&scripts::PURGE, now, batch).await
    }
}

/// `cursor|kind|target|until` (kind 0 session, 1 access token, 2 API key hash). The target
/// may hold `|` (an access token's `jti` is whatever its issuer made it): it runs from the
/// second separator to the last, as purge.lua reads `until` after the last.
fn feed_entry(text: &str) -> Result<FeedEntry, StoreError> {
    let Some((head, until)) = text.rsplit_once('|') else {
        return Err(corrupt("feed entry"));
    };
    let mut parts = head.splitn(3, '|');
    let (Some(cursor), Some(kind), Some(target)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(corrupt("feed entry"));
    };
    let kind = kind.parse().map_err(|_| corrupt("feed entry"))?;
    Ok(FeedEntry {
        cursor: cursor.parse().map_err(|_| corrupt("feed entry"))?,
        revoked: Revoked::from_stored(kind, target)?,
        until: Timestamp::from_millis(until.parse().map_err(|_| corrupt("feed entry"))?),
    })
}
