//! SessionStore on Redis.

use std::time::Duration;

use redis::AsyncCommands;
use tessera::store::{
    CreateOutcome, FeedEntry, LimitCheck, Revocation, Revoked, RotateOutcome, Rotation,
    SessionStore, SessionUpdate, UpdateOutcome,
};
use tessera::{AuditEvent, OnLimit, Session, SessionId, StoreError, Timestamp, TokenHash};

use crate::audit::audit_args;
use crate::codec::{corrupt, pairs, redis_error, session, to_json};
use crate::layout::GLOBAL_FEED;
use crate::limits::{gcra_interval, micros};
use crate::scripts::{self, SLACK_MS};
use crate::store::{RedisStore, invocation, key_in, ms};

/// `current|previous|rotated_at`, the hashes in unpadded base64url (see `refresh_fields` in
/// the Lua prelude).
pub(crate) fn pack_refresh(r: &tessera::RefreshState) -> String {
    let previous = r
        .previous
        .as_ref()
        .map(TokenHash::to_base64)
        .unwrap_or_default();
    format!(
        "{}|{previous}|{}",
        r.current.to_base64(),
        r.rotated_at.as_millis()
    )
}

/// The device as stored: JSON of what it has but the user agent, which the store keeps apart
/// (see `remember_agent` in the Lua prelude); `''` for nothing. Short, so the session's hash
/// keeps Redis's compact encoding (values of at most 64 bytes).
fn device_without_agent(device: &tessera::Device) -> Result<String, StoreError> {
    let mut rest = serde_json::Map::new();
    for (name, value) in [("ip", &device.ip), ("label", &device.label)] {
        if let Some(value) = value {
            rest.insert(name.into(), value.clone().into());
        }
    }
    if rest.is_empty() {
        Ok(String::new())
    } else {
        to_json(&rest)
    }
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
                .arg(lives.max(1) + SLACK_MS);
            if self.call::<i64>(&inv).await? == 0 {
                return Ok(CreateOutcome::AlreadyExists);
            }
        }
        let mut inv = self.run_in(shard, &scripts::CREATE);
        inv.arg(s.sid.to_string())
            .arg(&s.user_id)
            .arg(ms(s.created_at))
            .arg(ms(s.last_seen_at))
            .arg(ms(s.idle_expires_at))
            .arg(ms(s.absolute_expires_at))
            .arg(s.refresh.generation)
            .arg(pack_refresh(&s.refresh))
            .arg(to_json(&s.claims)?)
            .arg(to_json(&s.data)?)
            .arg(device_without_agent(&s.device)?)
            .arg(
                s.cookie
                    .as_ref()
                    .map(to_json)
                    .transpose()?
                    .unwrap_or_default(),
            )
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
        inv.arg(s.device.user_agent.as_deref().unwrap_or_default());
        if let Some(event) = created {
            audit_args(&mut inv, event)?;
        }
        let reply: Vec<String> = self.call(&inv).await?;
        match reply.split_first() {
            Some((kind, _)) if kind == "exists" => Ok(CreateOutcome::AlreadyExists),
            Some((kind, _)) if kind == "limit" => Ok(CreateOutcome::LimitReached),
            Some((kind, evicted)) if kind == "created" => {
                let evicted = evicted
                    .iter()
                    .map(|e| e.parse().map_err(|_| corrupt("session id")))
                    .collect::<Result<_, _>>()?;
                Ok(CreateOutcome::Created { evicted })
            }
            _ => Err(corrupt("create reply")),
        }
    }

    async fn get(&self, sid: &SessionId) -> Result<Option<Session>, StoreError> {
        let flat: Vec<String> = self
            .call_for(sid, &scripts::GET, |inv| {
                inv.arg(sid.to_string());
            })
            .await?;
        if flat.is_empty() {
            return Ok(None);
        }
        session(*sid, &pairs(flat)).map(Some)
    }

    async fn rotate(&self, sid: &SessionId, r: &Rotation) -> Result<RotateOutcome, StoreError> {
        let (id, presented, next) = (
            sid.to_string(),
            r.presented.to_base64(),
            pack_refresh(&r.next),
        );
        let mut reply: Vec<String> = self
            .call_for(sid, &scripts::ROTATE, |inv| {
                inv.arg(&id)
                    .arg(r.expected_generation)
                    .arg(&presented)
                    .arg(r.next.generation)
                    .arg(&next)
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
        if reply.is_empty() {
            return Err(corrupt("rotate reply"));
        }
        let kind = reply.remove(0);
        match kind.as_str() {
            "gone" => Ok(RotateOutcome::Refused(None)),
            "limited" => match reply.as_slice() {
                [retry, reset] => Ok(RotateOutcome::Limited {
                    retry_after: Duration::from_micros(
                        retry.parse().map_err(|_| corrupt("rotate reply"))?,
                    ),
                    reset_after: Duration::from_micros(
                        reset.parse().map_err(|_| corrupt("rotate reply"))?,
                    ),
                }),
                _ => Err(corrupt("rotate reply")),
            },
            "found" => Ok(RotateOutcome::Refused(Some(Box::new(session(
                *sid,
                &pairs(reply),
            )?)))),
            // The session as the script read it: the rotation it applied is the caller's.
            "rotated" => {
                let mut rotated = session(*sid, &pairs(reply))?;
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
                inv.arg(sid.to_string()).arg(ms(seen)).arg(ms(idle));
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
        let cookie = u.cookie.as_ref().map(to_json).transpose()?;
        let (claims, data, cookie) = (
            claims.unwrap_or_default(),
            data.unwrap_or_default(),
            cookie.unwrap_or_default(),
        );
        let (kind, version): (String, u64) = self
            .call_for(sid, &scripts::UPDATE, |inv| {
                inv.arg(sid.to_string())
                    .arg(expected)
                    .arg(&claims)
                    .arg(&data)
                    .arg(&cookie);
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
            inv.arg(sid.to_string())
                .arg(&why)
                .arg(ms(r.at))
                .arg(ms(r.until));
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
            .arg(except.map(ToString::to_string).unwrap_or_default())
            .arg(reason(r.reason)?)
            .arg(ms(r.at))
            .arg(ms(r.until));
        let ids: Vec<String> = self.call(&inv).await?;
        ids.iter()
            .map(|s| s.parse().map_err(|_| corrupt("session id")))
            .collect()
    }

    async fn revoke_token(&self, jti: &str, until: Timestamp) -> Result<(), StoreError> {
        let mut inv = self.run_in(SessionId::shard_of(jti), &scripts::REVOKE_TOKEN);
        inv.arg(jti).arg(ms(until));
        self.call::<i64>(&inv).await.map(|_| ())
    }

    async fn list_user(&self, user: &str, now: Timestamp) -> Result<Vec<Session>, StoreError> {
        let mut inv = self.run_in(SessionId::shard_of(user), &scripts::LIST_USER);
        inv.arg(user).arg(ms(now));
        let rows: Vec<Vec<String>> = self.call(&inv).await?;
        rows.into_iter()
            .map(|mut row| {
                let sid = if row.is_empty() {
                    String::new()
                } else {
                    row.remove(0)
                };
                session(sid.parse().map_err(|_| corrupt("session id"))?, &pairs(row))
            })
            .collect()
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
