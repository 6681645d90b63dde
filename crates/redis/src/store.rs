//! [`RedisStore`]: the connection every concern's implementation goes through, and the
//! revocation announcements.

use std::time::Duration;

use std::sync::Arc;

use futures_util::StreamExt;
use redis::aio::ConnectionManagerConfig;
use redis::cluster::ClusterClientBuilder;
use redis::{Script, ScriptInvocation};
use tessera::{StoreError, StoreErrorKind, Timestamp};

use crate::codec::redis_error;
use crate::conn::{Conn, Link};

/// A Tessera store on Redis (one server or a Cluster). Clones share the connection, which
/// reconnects by itself.
#[derive(Clone)]
pub struct RedisStore {
    pub(crate) conn: Conn,
    tag: String,
    /// Where revocation announcements are heard, on a connection of their own (a subscribed
    /// connection takes no commands). A Cluster relays every message to every node, so any
    /// one node will do: they are tried in turn.
    announcers: Arc<[redis::Client]>,
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
            announcers: Arc::new([client]),
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
        let announcers = nodes
            .iter()
            .map(|node| redis::Client::open(node.as_str()))
            .collect::<Result<Arc<[_]>, _>>()
            .map_err(redis_error)?;
        Ok(Self {
            conn: Conn::new(Link::Cluster(conn)),
            tag: tag.to_owned(),
            announcers,
        })
    }

    /// Follows the announcements of revocations made by any node: calls `heard` once subscribed
    /// (to catch up on whatever was missed before) and then for each announcement. Returns
    /// when the subscription is lost; call again (after a pause) to resubscribe.
    ///
    /// # Errors
    /// A [`StoreError`] when no node can be subscribed to, or the subscription breaks.
    pub async fn follow_revocations(&self, heard: impl Fn() + Send) -> Result<(), StoreError> {
        let channel = self.key(&["revocations"]);
        let mut last = StoreError::new(StoreErrorKind::Unavailable, "no Redis node to follow");
        for client in self.announcers.iter() {
            let mut pubsub = match client.get_async_pubsub().await {
                Ok(pubsub) => pubsub,
                Err(e) => {
                    last = redis_error(e);
                    continue;
                }
            };
            pubsub.subscribe(&channel).await.map_err(redis_error)?;
            heard();
            let mut messages = pubsub.on_message();
            while messages.next().await.is_some() {
                heard();
            }
            return Err(StoreError::new(
                StoreErrorKind::Unavailable,
                "the revocation channel closed",
            ));
        }
        Err(last)
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
