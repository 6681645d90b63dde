//! The connection every store step goes through: one server behind a [`Breaker`] that fails
//! calls at once while it is known to be down, or a Cluster.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{
    MultipleNodeRoutingInfo, Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr,
};
use redis::{RedisFuture, RedisResult};

use tessera::store::Breaker;

use crate::breaker::{admit, observe};

/// One server, or a Cluster (each command routed to the master of its slot).
#[derive(Clone)]
pub(crate) enum Conn {
    /// One server; its breaker fails calls at once while it is known to be down.
    Single(ConnectionManager, Arc<Breaker>),
    /// A Cluster has no breaker: one master down leaves the others' shards serving, and the
    /// client finds a promoted replica by itself.
    Cluster(ClusterConnection),
}

impl Conn {
    pub(crate) fn single(conn: ConnectionManager) -> Self {
        Self::Single(conn, Arc::default())
    }

    /// `WAIT replicas timeout` on the master owning `slot`: how many replicas hold every write
    /// this connection made to it so far.
    pub(crate) async fn wait(
        &mut self,
        slot: u16,
        replicas: u32,
        timeout: Duration,
    ) -> RedisResult<u32> {
        let mut cmd = redis::cmd("WAIT");
        cmd.arg(replicas)
            .arg(u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX));
        match self {
            Self::Single(..) => cmd.query_async(self).await,
            Self::Cluster(c) => {
                let route = Route::new(slot, SlotAddr::Master);
                let to = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route));
                redis::from_redis_value(&c.route_command(&cmd, to).await?)
            }
        }
    }

    /// `INFO section` of the server, or of every master of a Cluster: (node, text) each.
    pub(crate) async fn info_of_masters(
        &mut self,
        section: &str,
    ) -> RedisResult<Vec<(String, String)>> {
        let mut cmd = redis::cmd("INFO");
        cmd.arg(section);
        match self {
            Self::Single(..) => {
                let text: String = cmd.query_async(self).await?;
                Ok(vec![("the server".to_owned(), text)])
            }
            Self::Cluster(c) => {
                let every = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
                let by_node: HashMap<String, String> =
                    redis::from_redis_value(&c.route_command(&cmd, every).await?)?;
                Ok(by_node.into_iter().collect())
            }
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> RedisFuture<'a, redis::Value> {
        Box::pin(async move {
            match self {
                Self::Single(c, breaker) => {
                    admit(breaker)?;
                    let result = c.req_packed_command(cmd).await;
                    observe(breaker, &result);
                    result
                }
                Self::Cluster(c) => c.req_packed_command(cmd).await,
            }
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<redis::Value>> {
        Box::pin(async move {
            match self {
                Self::Single(c, breaker) => {
                    admit(breaker)?;
                    let result = c.req_packed_commands(pipeline, offset, count).await;
                    observe(breaker, &result);
                    result
                }
                Self::Cluster(c) => c.req_packed_commands(pipeline, offset, count).await,
            }
        })
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c, _) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}
