//! [`RedisStore`]: the [`Store`] implementation.

use std::time::Duration;

use redis::aio::ConnectionManagerConfig;
use redis::cluster::ClusterClientBuilder;
use redis::{AsyncCommands, Script, ScriptInvocation};
use tessera::store::{
    CreateOutcome, FeedEntry, LimitCheck, Revocation, Revoked, RotateOutcome, Rotation,
    SessionUpdate, StoredApiKey, StoredKeyset, UpdateOutcome, User,
};
use tessera::{
    AccountId, AuditEvent, LoginName, OnLimit, PasswordHash, Quota, RateDecision, Session,
    SessionId, Store, StoreError, StoredEvent, Timestamp, TokenHash,
};

use crate::codec::{corrupt, json, pairs, redis_error, session, to_json};
use crate::conn::{Conn, Link};
use crate::scripts;

/// A Tessera store on Redis (one server or a Cluster). Clones share the connection, which
/// reconnects by itself.
#[derive(Clone)]
pub struct RedisStore {
    pub(crate) conn: Conn,
    tag: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("tag", &self.tag)
            .finish_non_exhaustive()
    }
}

pub(crate) fn ms(t: Timestamp) -> String {
    t.as_millis().to_string()
}

/// `current|previous|rotated_at`, the hashes in unpadded base64url (see `refresh_fields` in
/// the Lua prelude).
fn pack_refresh(r: &tessera::RefreshState) -> Result<String, StoreError> {
    let hash = |h: &tessera::TokenHash| to_json(h).map(|j| j.trim_matches('"').to_owned());
    let previous = r
        .previous
        .as_ref()
        .map(hash)
        .transpose()?
        .unwrap_or_default();
    Ok(format!(
        "{}|{previous}|{}",
        hash(&r.current)?,
        r.rotated_at.as_millis()
    ))
}

fn reason(r: tessera::RevokeReason) -> Result<String, StoreError> {
    let quoted = to_json(&r)?;
    Ok(quoted.trim_matches('"').to_owned())
}

impl RedisStore {
    /// Connects to `url` (`redis://host:port[/db]`); every key goes under the hash tag `tag`
    /// (`{tessera}`), so several deployments can share a server with different tags.
    ///
    /// # Errors
    /// A [`StoreError`] if the URL is invalid or the server unreachable.
    pub async fn connect(url: &str, tag: &str) -> Result<Self, StoreError> {
        let client = redis::Client::open(url).map_err(redis_error)?;
        // Fail fast while Redis is away (callers answer 503 and retry), reconnect in the background.
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_millis(500))
            .set_response_timeout(Duration::from_secs(2))
            .set_number_of_retries(1)
            .set_max_delay(1000);
        let conn = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(redis_error)?;
        Ok(Self {
            conn: Conn::new(Link::Single(conn)),
            tag: tag.to_owned(),
        })
    }

    /// Connects to a Redis Cluster through any of `nodes` (`redis://host:port`). Every key is
    /// under `tag`, so each step runs on the one master that owns that slot.
    ///
    /// # Errors
    /// A [`StoreError`] if no node answers.
    pub async fn connect_cluster(nodes: &[String], tag: &str) -> Result<Self, StoreError> {
        let client = ClusterClientBuilder::new(nodes.to_vec())
            .connection_timeout(Duration::from_millis(500))
            .response_timeout(Duration::from_secs(2))
            .retries(1)
            .build()
            .map_err(redis_error)?;
        let conn = client.get_async_connection().await.map_err(redis_error)?;
        Ok(Self {
            conn: Conn::new(Link::Cluster(conn)),
            tag: tag.to_owned(),
        })
    }

    pub(crate) fn key(&self, parts: &[&str]) -> String {
        let mut key = self.tag.clone();
        for p in parts {
            key.push(':');
            key.push_str(p);
        }
        key
    }

    pub(crate) fn run<'a>(&self, script: &'a Script) -> ScriptInvocation<'a> {
        let mut inv = script.prepare_invoke();
        inv.key(&self.tag);
        inv
    }

    pub(crate) async fn call<T: redis::FromRedisValue>(
        &self,
        inv: &ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn.clone();
        inv.invoke_async(&mut conn).await.map_err(redis_error)
    }
}

impl Store for RedisStore {
    async fn create(
        &self,
        s: &Session,
        limit: Option<LimitCheck>,
    ) -> Result<CreateOutcome, StoreError> {
        let mut inv = self.run(&scripts::CREATE);
        inv.arg(s.sid.to_string())
            .arg(&s.user_id)
            .arg(ms(s.created_at))
            .arg(ms(s.last_seen_at))
            .arg(ms(s.idle_expires_at))
            .arg(ms(s.absolute_expires_at))
            .arg(s.refresh.generation)
            .arg(pack_refresh(&s.refresh)?)
            .arg(to_json(&s.claims)?)
            .arg(to_json(&s.data)?)
            .arg(if s.device == tessera::Device::default() {
                String::new()
            } else {
                to_json(&s.device)?
            })
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
        let mut conn = self.conn.clone();
        let flat: Vec<String> = conn
            .hgetall(self.key(&["s", &sid.to_string()]))
            .await
            .map_err(redis_error)?;
        if flat.is_empty() {
            return Ok(None);
        }
        session(*sid, &pairs(flat)).map(Some)
    }

    async fn rotate(&self, sid: &SessionId, r: &Rotation) -> Result<RotateOutcome, StoreError> {
        let mut inv = self.run(&scripts::ROTATE);
        inv.arg(sid.to_string())
            .arg(r.expected_generation)
            .arg(r.next.generation)
            .arg(pack_refresh(&r.next)?)
            .arg(ms(r.last_seen_at))
            .arg(ms(r.idle_expires_at));
        match self.call::<i64>(&inv).await? {
            2 => Ok(RotateOutcome::Rotated),
            0 => Ok(RotateOutcome::Conflict(None)),
            _ => Ok(RotateOutcome::Conflict(self.get(sid).await?.map(Box::new))),
        }
    }

    async fn touch(
        &self,
        sid: &SessionId,
        seen: Timestamp,
        idle: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut inv = self.run(&scripts::TOUCH);
        inv.arg(sid.to_string()).arg(ms(seen)).arg(ms(idle));
        Ok(self.call::<i64>(&inv).await? == 1)
    }

    async fn update(
        &self,
        sid: &SessionId,
        expected: u64,
        u: &SessionUpdate,
    ) -> Result<UpdateOutcome, StoreError> {
        let mut inv = self.run(&scripts::UPDATE);
        inv.arg(sid.to_string())
            .arg(expected)
            .arg(
                u.claims
                    .as_ref()
                    .map(to_json)
                    .transpose()?
                    .unwrap_or_default(),
            )
            .arg(
                u.data
                    .as_ref()
                    .map(to_json)
                    .transpose()?
                    .unwrap_or_default(),
            )
            .arg(
                u.cookie
                    .as_ref()
                    .map(to_json)
                    .transpose()?
                    .unwrap_or_default(),
            );
        let (kind, version): (String, u64) = self.call(&inv).await?;
        Ok(match kind.as_str() {
            "updated" => UpdateOutcome::Updated(version),
            "mismatch" => UpdateOutcome::VersionMismatch(version),
            _ => UpdateOutcome::NotFound,
        })
    }

    async fn revoke(&self, sid: &SessionId, r: Revocation) -> Result<Option<String>, StoreError> {
        let mut inv = self.run(&scripts::REVOKE);
        inv.arg(sid.to_string())
            .arg(reason(r.reason)?)
            .arg(ms(r.at))
            .arg(ms(r.until));
        self.call(&inv).await
    }

    async fn revoke_user(
        &self,
        user: &str,
        except: Option<&SessionId>,
        r: Revocation,
    ) -> Result<Vec<SessionId>, StoreError> {
        let mut inv = self.run(&scripts::REVOKE_USER);
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
        let mut inv = self.run(&scripts::REVOKE_TOKEN);
        inv.arg(jti).arg(ms(until));
        self.call::<i64>(&inv).await.map(|_| ())
    }

    async fn list_user(&self, user: &str, now: Timestamp) -> Result<Vec<Session>, StoreError> {
        let mut inv = self.run(&scripts::LIST_USER);
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
        let mut conn = self.conn.clone();
        conn.zcount(
            self.key(&["purge"]),
            format!("({}", now.as_millis()),
            "+inf",
        )
        .await
        .map_err(redis_error)
    }

    async fn revocations_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        let mut conn = self.conn.clone();
        let entries: Vec<String> = conn
            .zrangebyscore_limit(
                self.key(&["feed"]),
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
        let mut inv = self.run(&scripts::PURGE);
        inv.arg(ms(now)).arg(batch);
        self.call(&inv).await
    }

    async fn get_setting(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut conn = self.conn.clone();
        conn.get(self.key(&["set", name]))
            .await
            .map_err(redis_error)
    }

    async fn put_setting(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        conn.set(self.key(&["set", name]), value)
            .await
            .map_err(redis_error)
    }

    async fn init_setting(&self, name: &str, value: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut inv = self.run(&scripts::MISC);
        inv.arg("init").arg(name).arg(value);
        self.call(&inv).await
    }

    async fn rate_limit(
        &self,
        key: &str,
        quota: &Quota,
        now: Timestamp,
    ) -> Result<RateDecision, StoreError> {
        let interval = (quota.period() / quota.rate()).as_micros().max(1);
        let mut inv = self.run(&scripts::RATE_LIMIT);
        inv.arg(key)
            .arg(interval.to_string())
            .arg(quota.burst())
            .arg((i128::from(now.as_millis()) * 1000).to_string());
        let (allowed, remaining, reset, retry): (i64, u32, u64, u64) = self.call(&inv).await?;
        let reset_after = Duration::from_micros(reset);
        Ok(if allowed == 1 {
            RateDecision::Allowed {
                remaining,
                reset_after,
            }
        } else {
            RateDecision::Limited {
                retry_after: Duration::from_micros(retry),
                reset_after,
            }
        })
    }

    async fn reset_rate_limit(&self, key: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        conn.del::<_, ()>(self.key(&["rl", key]))
            .await
            .map_err(redis_error)
    }

    async fn append_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let mut inv = self.run(&scripts::AUDIT);
        inv.arg(to_json(event)?)
            .arg(ms(event.at))
            .arg(event.user_id.clone().unwrap_or_default());
        self.call::<i64>(&inv).await.map(|_| ())
    }

    async fn audit_for_user(
        &self,
        user: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut inv = self.run(&scripts::AUDIT_FOR_USER);
        inv.arg(user)
            .arg(before.map_or_else(|| "+inf".to_owned(), |b| format!("({b}")))
            .arg(limit);
        let flat: Vec<String> = self.call(&inv).await?;
        flat.chunks(2)
            .map(|pair| match pair {
                [id, event] => Ok(StoredEvent {
                    id: id.parse().map_err(|_| corrupt("audit id"))?,
                    event: json(event)?,
                }),
                _ => Err(corrupt("audit reply")),
            })
            .collect()
    }

    async fn purge_audit(&self, cutoff: Timestamp, batch: usize) -> Result<usize, StoreError> {
        let mut inv = self.run(&scripts::PURGE_AUDIT);
        inv.arg(ms(cutoff)).arg(batch);
        self.call(&inv).await
    }

    async fn create_user(&self, user: &User) -> Result<bool, StoreError> {
        self.create_user_step(user).await
    }

    async fn get_user(&self, id: &AccountId) -> Result<Option<User>, StoreError> {
        self.get_user_step(id).await
    }

    async fn find_user(&self, login: &LoginName) -> Result<Option<User>, StoreError> {
        self.find_user_step(login).await
    }

    async fn set_password(
        &self,
        id: &AccountId,
        password: &PasswordHash,
    ) -> Result<bool, StoreError> {
        self.set_password_step(id, password).await
    }

    async fn create_api_key(&self, key: &StoredApiKey) -> Result<bool, StoreError> {
        self.create_api_key_step(key).await
    }

    async fn list_api_keys(&self) -> Result<Vec<StoredApiKey>, StoreError> {
        self.list_api_keys_step().await
    }

    async fn revoke_api_key(
        &self,
        name: &str,
        until: Timestamp,
    ) -> Result<Option<TokenHash>, StoreError> {
        self.revoke_api_key_step(name, until).await
    }

    async fn record_api_key_use(
        &self,
        name: &str,
        hash: &TokenHash,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.record_api_key_use_step(name, hash, at).await
    }

    async fn load_keyset(&self) -> Result<Option<StoredKeyset>, StoreError> {
        let mut conn = self.conn.clone();
        let (version, document): (Option<u64>, Option<Vec<u8>>) = conn
            .hget(self.key(&["keyset"]), &["version", "document"])
            .await
            .map_err(redis_error)?;
        Ok(version
            .zip(document)
            .map(|(version, document)| StoredKeyset { version, document }))
    }

    async fn save_keyset(
        &self,
        expected: Option<u64>,
        document: &[u8],
    ) -> Result<bool, StoreError> {
        let mut inv = self.run(&scripts::MISC);
        inv.arg("save_keyset")
            .arg(expected.map(|v| v.to_string()).unwrap_or_default())
            .arg(document);
        Ok(self.call::<i64>(&inv).await? == 1)
    }
}

/// `cursor|kind|target|until` (kind 0 session, 1 access token, 2 API key hash).
fn feed_entry(text: &str) -> Result<FeedEntry, StoreError> {
    let mut parts = text.splitn(4, '|');
    let (Some(cursor), Some(kind), Some(target), Some(until)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(corrupt("feed entry"));
    };
    let revoked = match kind {
        "0" => Revoked::Session(target.parse().map_err(|_| corrupt("feed entry"))?),
        "2" => {
            Revoked::ApiKey(TokenHash::from_base64(target).ok_or_else(|| corrupt("feed entry"))?)
        }
        _ => Revoked::Token(target.to_owned()),
    };
    Ok(FeedEntry {
        cursor: cursor.parse().map_err(|_| corrupt("feed entry"))?,
        revoked,
        until: Timestamp::from_millis(until.parse().map_err(|_| corrupt("feed entry"))?),
    })
}
