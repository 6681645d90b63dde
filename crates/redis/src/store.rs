//! [`RedisStore`]: the connection every concern's implementation goes through, where each key
//! lives, and the revocation announcements.

use std::sync::Arc;
use std::time::Duration;

use redis::AsyncConnectionConfig;
use redis::aio::ConnectionManagerConfig;
use redis::{ProtocolVersion, PushKind, Script, ScriptInvocation, Value};
use tessera::{SessionId, StoreError, StoreErrorKind, Timestamp};

use crate::agents::Agents;
use crate::codec::{corrupt, redis_error};
use crate::conn::Conn;
use crate::layout::{Layout, MARK};
use crate::scripts;
use crate::tls::{Address, Nodes};

/// A Tessera store on Redis (one server or a Cluster). Clones share the connection, which
/// reconnects by itself.
#[derive(Clone)]
pub struct RedisStore {
    pub(crate) conn: Conn,
    /// What the writes that wait for replicas go over: a connection of their own when they
    /// wait (see [`RedisStore::wait_for_replicas`]), otherwise `conn`.
    writes: Conn,
    pub(crate) layout: Arc<Layout>,
    /// Replicas that must hold each write before it is acknowledged (`WAIT`); 0: none.
    replicas: u32,
    /// Where revocation announcements are heard, and the writes that wait go, each on a
    /// connection of their own.
    servers: Servers,
    /// The user agents read so far, by digest.
    pub(crate) agents: Arc<Agents>,
}

/// Where the store connects: what its other connections (announcements, writes that wait)
/// are opened to.
#[derive(Clone)]
enum Servers {
    Single(Address),
    Cluster(Nodes),
}

/// The connection a subscription to the revocation announcements lives on.
enum Subscribed {
    /// Held, not used again: the subscription lives as long as it.
    Single {
        _held: redis::aio::MultiplexedConnection,
    },
    Cluster(redis::cluster_async::ClusterConnection),
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("tag", &self.layout.global)
            .finish_non_exhaustive()
    }
}

pub(crate) fn ms(t: Timestamp) -> String {
    t.as_millis().to_string()
}

/// How long a write waits for its replicas (see [`RedisStore::wait_for_replicas`]).
const WAIT_TIMEOUT: Duration = Duration::from_secs(1);

/// The error code a script answers with when a session id names a shard that does not hold
/// the session (ids made before shards, or for another user): the detail is the shard that does.
const ELSEWHERE: &str = "TESSERA_ELSEWHERE";
/// The last part of the key no script writes, declared by each (see [`invocation`]).
const NEVER_WRITTEN: &str = "never-written";

/// Every command the store sends, or its scripts call: what a Redis user of its own needs
/// (see [`RedisStore::acl_rules`]).
const COMMANDS: &[&str] = &[
    // Connecting, on one server or a Cluster (`ASKING` follows a slot being moved).
    "hello",
    "auth",
    "ping",
    "select",
    "cluster|slots",
    "asking",
    // The store's own: scripts, feeds, keys and settings, the checks and waits.
    "evalsha",
    "eval",
    "script|load",
    "zrangebyscore",
    "hget",
    "hgetall",
    "get",
    "set",
    "info",
    "wait",
    "ssubscribe",
    // What the scripts call.
    "del",
    "exists",
    "hdel",
    "hincrby",
    "hmget",
    "hset",
    "hsetnx",
    "incr",
    "llen",
    "lpop",
    "pexpire",
    "pttl",
    "rpush",
    "scan",
    "spublish",
    "xadd",
    "xdel",
    "xrange",
    "xrevrange",
    "zadd",
    "zrange",
    "zrem",
    "zscore",
];

impl RedisStore {
    /// Connects to `url` (`redis://host:port[/db]`, or over TLS
    /// `rediss://host:port[/db][?tls_ca=PATH]`, trusting the system's certificate authorities
    /// or those in the PEM file `PATH`); every key goes under the hash tag `tag` (`{tessera}`)
    /// or one of its 64 shard tags, so several deployments can share a server with different
    /// tags.
    ///
    /// # Errors
    /// A [`StoreError`] if the URL is invalid or the server unreachable or not trusted, if it
    /// evicts keys when full, or if it holds data an older Tessera wrote with every key under
    /// one tag (see [`RedisStore::migrate`]).
    pub async fn connect(url: &str, tag: &str) -> Result<Self, StoreError> {
        Self::connect_to_migrate(url, tag).await?.current().await
    }

    /// [`RedisStore::connect`] whatever layout the data is in, for [`RedisStore::migrate`].
    ///
    /// # Errors
    /// A [`StoreError`] if the URL is invalid or the server unreachable.
    pub async fn connect_to_migrate(url: &str, tag: &str) -> Result<Self, StoreError> {
        let address = Address::parse(url)?;
        let conn = open_single(&address).await?;
        Ok(Self {
            writes: conn.clone(),
            conn,
            layout: Arc::new(Layout::new(tag)),
            replicas: 0,
            servers: Servers::Single(address),
            agents: Arc::default(),
        })
    }

    /// Connects to a Redis Cluster through any of `nodes` (`redis://host:port`, or
    /// `rediss://host:port[?tls_ca=PATH]`, as [`RedisStore::connect`]). Each user's
    /// data is under one of 64 shard tags, spread over the Cluster's slots, so each step runs
    /// on the one master that owns the user's shard.
    ///
    /// # Errors
    /// A [`StoreError`] if no node answers, or on data of an older layout (as
    /// [`RedisStore::connect`]).
    pub async fn connect_cluster(nodes: &[String], tag: &str) -> Result<Self, StoreError> {
        Self::connect_cluster_to_migrate(nodes, tag)
            .await?
            .current()
            .await
    }

    /// [`RedisStore::connect_cluster`] whatever layout the data is in, for
    /// [`RedisStore::migrate`].
    ///
    /// # Errors
    /// A [`StoreError`] if no node answers.
    pub async fn connect_cluster_to_migrate(
        nodes: &[String],
        tag: &str,
    ) -> Result<Self, StoreError> {
        let nodes = Nodes::parse(nodes)?;
        let conn = open_cluster(&nodes).await?;
        Ok(Self {
            writes: conn.clone(),
            conn,
            layout: Arc::new(Layout::new(tag)),
            replicas: 0,
            servers: Servers::Cluster(nodes),
            agents: Arc::default(),
        })
    }

    /// Follows the announcements of revocations made by any node, one sharded channel per feed
    /// (`SSUBSCRIBE`: on a Cluster each master announces only its own shards' revocations, to
    /// the nodes subscribed to them). Calls `heard(None)` once subscribed (to catch up on
    /// whatever was missed before), then `heard(Some(feed))` for each announcement. Returns
    /// when the subscription is lost; call again (after a pause) to resubscribe.
    ///
    /// # Errors
    /// A [`StoreError`] when Redis cannot be subscribed to, or the subscription breaks.
    pub async fn follow_revocations(
        &self,
        heard: impl Fn(Option<usize>) + Send,
    ) -> Result<(), StoreError> {
        let (tx, mut pushes) = tokio::sync::mpsc::unbounded_channel();
        let channels: Vec<String> = self
            .layout
            .feeds()
            .map(|tag| format!("{tag}:revocations"))
            .collect();
        let feed_of: std::collections::HashMap<Vec<u8>, usize> = channels
            .iter()
            .enumerate()
            .map(|(feed, channel)| (channel.as_bytes().to_vec(), feed))
            .collect();
        // The connection must live as long as the subscription; a Cluster's is used again
        // when a channel's slot moves.
        let mut subscribed = match &self.servers {
            Servers::Single(address) => {
                let client = address.client(ProtocolVersion::RESP3)?;
                let config = AsyncConnectionConfig::new()
                    .set_connection_timeout(Duration::from_millis(500))
                    .set_push_sender(tx);
                let mut conn = client
                    .get_multiplexed_async_connection_with_config(&config)
                    .await
                    .map_err(redis_error)?;
                redis::cmd("SSUBSCRIBE")
                    .arg(&channels)
                    .exec_async(&mut conn)
                    .await
                    .map_err(redis_error)?;
                Subscribed::Single { _held: conn }
            }
            Servers::Cluster(nodes) => {
                let client = nodes
                    .builder()
                    .use_protocol(ProtocolVersion::RESP3)
                    .push_sender(tx)
                    .build()
                    .map_err(redis_error)?;
                let mut conn = client.get_async_connection().await.map_err(redis_error)?;
                // Each channel lives in its own slot: one SSUBSCRIBE each, to its master.
                for channel in &channels {
                    conn.ssubscribe(channel).await.map_err(redis_error)?;
                }
                Subscribed::Cluster(conn)
            }
        };
        heard(None);
        while let Some(push) = pushes.recv().await {
            let feed = match push.data.first() {
                Some(Value::BulkString(channel)) => feed_of.get(channel).copied(),
                _ => None,
            };
            match push.kind {
                PushKind::SMessage => heard(feed),
                // A master that hands a slot to another drops the subscribers of its channels:
                // subscribe on the new one, and catch up on what was announced in between.
                PushKind::SUnsubscribe => {
                    if let (Subscribed::Cluster(conn), Some(feed)) = (&mut subscribed, feed) {
                        conn.ssubscribe(&channels[feed])
                            .await
                            .map_err(redis_error)?;
                        heard(Some(feed));
                    }
                }
                // A connection lost (a master failing over, say). The Cluster client would
                // subscribe again by itself, but to all channels in one `SSUBSCRIBE`, which
                // Redis refuses (they are in different slots): start over instead, each
                // channel subscribed to its own master once the Cluster has one for it.
                PushKind::Disconnection => break,
                _ => {}
            }
        }
        Err(StoreError::new(
            StoreErrorKind::Unavailable,
            "the revocation channels closed",
        ))
    }

    /// Acknowledges a write only once `replicas` replicas of its master hold it (Redis `WAIT`,
    /// up to a second), so a failover to one of them loses no acknowledged write.
    /// A write the replicas did not confirm in time fails as unavailable (it may or may not
    /// survive a failover; every step is safe to retry). Rate-limit steps do not wait.
    ///
    /// Redis answers nothing else on a connection while a `WAIT` on it waits, so the writes
    /// that wait get a connection of their own: while a replica lags or is down (each write
    /// then waits its second and fails), reads, rate limits and the revocation feeds, which
    /// verification depends on, are not queued behind them.
    ///
    /// # Errors
    /// A [`StoreError`] if that connection cannot be opened.
    pub async fn wait_for_replicas(mut self, replicas: u32) -> Result<Self, StoreError> {
        self.replicas = replicas;
        if replicas > 0 {
            self.writes = match &self.servers {
                Servers::Single(address) => open_single(address).await?,
                Servers::Cluster(nodes) => open_cluster(nodes).await?,
            };
        }
        Ok(self)
    }

    /// The connection for a step that writes (`true`) or not.
    pub(crate) fn connection(&self, writes: bool) -> Conn {
        if writes {
            self.writes.clone()
        } else {
            self.conn.clone()
        }
    }

    /// `self`, unless the deployment holds data in the layout before shards, or in one of a
    /// newer version: then an error that says what to run. An empty deployment, and one an
    /// older version of the sharded layout marked (read and rewritten here), is marked with
    /// this version's [`MARK`]: an older node, which would misread what this one writes, then
    /// refuses to start on it.
    async fn current(self) -> Result<Self, StoreError> {
        self.refuse_eviction().await?;
        if !self.legacy().await? {
            return Ok(self);
        }
        Err(StoreError::new(
            StoreErrorKind::Other,
            format!(
                "Redis holds the deployment {} in the layout of Tessera before shards (every key \
                 under one tag); stop every node and run `tessera migrate`, which moves it to the \
                 sharded layout and keeps every session valid",
                self.layout.global
            ),
        ))
    }

    /// Whether the deployment holds data in the layout before shards. Otherwise it is marked
    /// with this version's [`MARK`] (see `layout` in `misc.lua`), unless a newer version
    /// marked it: that is an error, and nothing is changed.
    pub(crate) async fn legacy(&self) -> Result<bool, StoreError> {
        let mut inv = self.run(&scripts::MISC);
        inv.arg("layout").arg(MARK);
        let layout: String = self.call(&inv).await?;
        match layout.as_str() {
            MARK => Ok(false),
            "legacy" => Ok(true),
            newer_mark => Err(newer(&self.layout.global, newer_mark)),
        }
    }

    /// Refuses a Redis that evicts keys when its memory is full (any `maxmemory-policy` but
    /// `noeviction`, on any master). It would drop, silently, whatever it picks: revocations (a
    /// node reading the feed afresh accepts a revoked token again), sign-in throttling and
    /// rate limits, sessions, API keys, the signing keys. With `noeviction` a full Redis refuses
    /// writes instead (Tessera answers 503) and loses nothing.
    async fn refuse_eviction(&self) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let masters = conn
            .info_of_masters("memory")
            .await
            .map_err(|e| match e.code() {
                Some("NOPERM") => StoreError::new(
                    StoreErrorKind::Other,
                    format!(
                        "Tessera reads INFO memory to check that Redis never evicts its keys, \
                         and Redis refused it (grant the user +info): {e}"
                    ),
                ),
                _ => redis_error(e),
            })?;
        for (node, info) in masters {
            let policy = info
                .lines()
                .find_map(|l| l.strip_prefix("maxmemory_policy:"))
                .map_or("", str::trim);
            if policy != "noeviction" {
                return Err(StoreError::new(
                    StoreErrorKind::Other,
                    format!(
                        "Redis ({node}) evicts keys when full (maxmemory-policy {policy:?}): it \
                         would drop revocations, rate limits and sessions without a word. Set \
                         `maxmemory-policy noeviction` on every master (a full Redis then \
                         refuses writes, and Tessera answers 503)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The rules of a Redis ACL user that serves the deployment under `tag` and can do
    /// nothing else: its own keys and announcement channels, and the commands the store runs
    /// (no `FLUSHALL`, `CONFIG`, `KEYS`, no other deployment's keys). Give them to
    /// `ACL SETUSER <name> on ><password>` on every master (and replica) of the deployment.
    #[must_use]
    pub fn acl_rules(tag: &str) -> String {
        // Redis's patterns are globs: characters special to them stand for themselves.
        let literal: String = crate::layout::name(tag)
            .chars()
            .flat_map(|c| {
                let escape = matches!(c, '*' | '?' | '[' | ']' | '\\').then_some('\\');
                escape.into_iter().chain([c])
            })
            .collect();
        // The global tag `{name}` and its keys, and the shard tags `{name:shard:n}` and theirs.
        let mut rules = format!(
            "resetkeys ~{{{literal}}}* ~{{{literal}:* resetchannels &{{{literal}}}* \
             &{{{literal}:* nocommands"
        );
        for command in COMMANDS {
            rules.push_str(" +");
            rules.push_str(command);
        }
        rules
    }

    /// The key of the revocation feed holding `user`'s revocations (a sorted set of
    /// `cursor|kind|target|until` by cursor), for operators and tests that look inside.
    pub fn feed_key(&self, user: &str) -> String {
        key_in(self.layout.shard(SessionId::shard_of(user)), &["feed"])
    }

    /// A key in the global slot.
    pub(crate) fn key(&self, parts: &[&str]) -> String {
        key_in(&self.layout.global, parts)
    }

    /// A script on the global slot.
    pub(crate) fn run<'a>(&self, script: &'a Script) -> Step<'a> {
        invocation(script, &self.layout.global)
    }

    /// A script on shard `shard`.
    pub(crate) fn run_in<'a>(&self, shard: u8, script: &'a Script) -> Step<'a> {
        invocation(script, self.layout.shard(shard))
    }

    /// Runs a step; a write waits for its replicas when asked to (see
    /// [`RedisStore::wait_for_replicas`]).
    pub(crate) async fn call<T: redis::FromRedisValue>(
        &self,
        step: &Step<'_>,
    ) -> Result<T, StoreError> {
        let mut conn = self.connection(step.writes);
        let reply = step
            .inv
            .invoke_async(&mut conn)
            .await
            .map_err(redis_error)?;
        if step.writes {
            self.replicated(&mut conn, step.slot).await?;
        }
        Ok(reply)
    }

    /// Waits until the replicas asked for hold every write made so far to the master of `slot`.
    pub(crate) async fn replicated(&self, conn: &mut Conn, slot: u16) -> Result<(), StoreError> {
        if self.replicas == 0 {
            return Ok(());
        }
        let held = conn
            .wait(slot, self.replicas, WAIT_TIMEOUT)
            .await
            .map_err(redis_error)?;
        if held >= self.replicas {
            return Ok(());
        }
        Err(StoreError::new(
            StoreErrorKind::Unavailable,
            format!(
                "{held} of the {} replicas asked for (redis_wait_replicas) confirmed the write \
                 within {WAIT_TIMEOUT:?}; a failover now could lose it",
                self.replicas
            ),
        ))
    }

    /// Runs a purge `script` on every slot with a feed, shard by shard, until `batch` are
    /// deleted or no slot has anything more due. Returns how many it deleted.
    ///
    /// The script (ARGV: time, budget) answers `{deleted, progress, more}`. What it takes off
    /// the index without deleting (a session still live, filed anew; an entry left behind by a
    /// move) does not count towards `batch`, so a slot full of those does not end the purge
    /// while others wait; and a slot is done once it has no more due (`more` 0) or made no
    /// progress (all it took were live sessions ending later this minute, put back).
    ///
    /// A slot that cannot be reached (its master failing over, the slot moving to another)
    /// does not hold back the others: they are purged, then its error is returned.
    pub(crate) async fn purge_every_slot(
        &self,
        script: &Script,
        at: Timestamp,
        batch: usize,
    ) -> Result<usize, StoreError> {
        let mut deleted = 0;
        let mut unreachable = None;
        for tag in self.layout.feeds() {
            loop {
                let budget = batch.saturating_sub(deleted).max(1);
                let mut step = invocation(script, tag);
                step.arg(ms(at)).arg(budget);
                let (gone, progress, more): (usize, usize, u8) = match self.call(&step).await {
                    Ok(answer) => answer,
                    Err(e) if e.kind() == StoreErrorKind::Unavailable => {
                        unreachable.get_or_insert(e);
                        break;
                    }
                    Err(e) => return Err(e),
                };
                deleted += gone;
                if deleted >= batch {
                    return Ok(deleted);
                }
                if more == 0 || progress == 0 {
                    break;
                }
            }
        }
        unreachable.map_or(Ok(deleted), Err)
    }

    /// Runs `script` on the shard holding session `sid`, with the arguments `args` adds: the
    /// shard its id carries, or, if that shard says the session lives elsewhere (see
    /// `elsewhere` in the Lua prelude), that one.
    pub(crate) async fn call_for<T: redis::FromRedisValue>(
        &self,
        sid: &SessionId,
        script: &Script,
        args: impl Fn(&mut ScriptInvocation<'_>),
    ) -> Result<T, StoreError> {
        let mut step = self.run_in(sid.shard(), script);
        args(&mut step.inv);
        let mut conn = self.connection(step.writes);
        let reply = match step.inv.invoke_async(&mut conn).await {
            Err(e) if e.code() == Some(ELSEWHERE) => {
                let shard = e
                    .detail()
                    .and_then(|d| d.trim().parse().ok())
                    .ok_or_else(|| corrupt("shard alias"))?;
                step = self.run_in(shard, script);
                args(&mut step.inv);
                step.inv.invoke_async(&mut conn).await
            }
            other => other,
        }
        .map_err(redis_error)?;
        if step.writes {
            self.replicated(&mut conn, step.slot).await?;
        }
        Ok(reply)
    }
}

/// A connection to one server that fails fast while it is away (callers answer 503 and
/// retry) and reconnects in the background.
async fn open_single(address: &Address) -> Result<Conn, StoreError> {
    let client = address.client(ProtocolVersion::RESP2)?;
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Duration::from_millis(500))
        .set_response_timeout(Duration::from_secs(2))
        .set_number_of_retries(1)
        .set_max_delay(1000);
    let conn = client
        .get_connection_manager_with_config(config)
        .await
        .map_err(redis_error)?;
    Ok(Conn::single(conn))
}

/// A connection to a Cluster through any of `nodes`.
async fn open_cluster(nodes: &Nodes) -> Result<Conn, StoreError> {
    let client = nodes.builder().build().map_err(redis_error)?;
    let conn = client.get_async_connection().await.map_err(redis_error)?;
    Ok(Conn::Cluster(conn))
}

pub(crate) fn key_in(tag: &str, parts: &[&str]) -> String {
    let mut key = tag.to_owned();
    for p in parts {
        key.push(':');
        key.push_str(p);
    }
    key
}

/// A script ready to run on the slot of one tag: add its arguments (it derefs to the
/// invocation), then [`RedisStore::call`] it.
pub(crate) struct Step<'a> {
    inv: ScriptInvocation<'a>,
    slot: u16,
    /// Whether it changes what must survive a failover (see [`RedisStore::wait_for_replicas`]).
    writes: bool,
}

impl<'a> std::ops::Deref for Step<'a> {
    type Target = ScriptInvocation<'a>;
    fn deref(&self) -> &Self::Target {
        &self.inv
    }
}

impl std::ops::DerefMut for Step<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inv
    }
}

/// `script` on the slot of `tag`.
///
/// A script reaches keys it does not declare (all under `tag`, in one slot). While a Cluster
/// moves that slot to another master, key by key, those keys are split between the two: a
/// script must then not run at all. It declares two keys that never exist: the old master
/// redirects a script whose declared keys it lacks to the new one (`ASK`), which refuses a
/// script declaring several keys it lacks until the move is done (`TRYAGAIN`, answered as
/// unavailable). With one such key the new master would run the script on half the data.
pub(crate) fn invocation<'a>(script: &'a Script, tag: &str) -> Step<'a> {
    let mut inv = script.prepare_invoke();
    inv.key(tag).key(format!("{tag}:{NEVER_WRITTEN}"));
    Step {
        inv,
        slot: crate::layout::slot(tag.as_bytes()),
        writes: scripts::writes(script),
    }
}

/// The error for a deployment whose layout a newer version of Tessera marked (`mark`), which
/// this version would misread.
pub(crate) fn newer(global: &str, mark: &str) -> StoreError {
    StoreError::new(
        StoreErrorKind::Other,
        format!(
            "Redis holds the deployment {global} in a layout this version of Tessera does not \
             know (marked `{mark}` by a newer version), which it would misread: run that \
             version, or a later one, on every node"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rules docs/capacity.md tells operators to give Tessera's Redis user are the ones
    /// the store needs (its conformance suite runs as a user with them).
    #[test]
    fn the_documented_acl_rules_are_the_stores() {
        let rules = RedisStore::acl_rules("{tessera}");
        let docs = include_str!("../../../docs/capacity.md");
        assert!(
            docs.contains(&format!("  {rules}\n")),
            "docs/capacity.md lacks:\n{rules}"
        );
        assert!(rules.starts_with("resetkeys ~{tessera}* ~{tessera:* resetchannels"));
        assert_eq!(
            RedisStore::acl_rules("{a*b}").split_whitespace().nth(1),
            Some("~{a\\*b}*"),
            "a glob character in the tag stands for itself"
        );
    }
}
