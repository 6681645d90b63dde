//! The connection every store step goes through: one server or a Cluster, behind a
//! [`Breaker`] that fails calls at once while Redis is known to be down.

use std::sync::Arc;

use redis::RedisFuture;
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;

use tessera::store::Breaker;

use crate::breaker::{admit, observe};

/// One server, or a Cluster (commands are routed by key slot; every key shares one slot),
/// behind a [`Breaker`] that fails calls at once while Redis is known to be down.
#[derive(Clone)]
pub(crate) struct Conn {
    link: Link,
    breaker: Arc<Breaker>,
}

#[derive(Clone)]
pub(crate) enum Link {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Conn {
    pub(crate) fn new(link: Link) -> Self {
        Self {
            link,
            breaker: Arc::default(),
        }
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a redis::Cmd) -> RedisFuture<'a, redis::Value> {
        Box::pin(async move {
            admit(&self.breaker)?;
            let result = match &mut self.link {
                Link::Single(c) => c.req_packed_command(cmd).await,
                Link::Cluster(c) => c.req_packed_command(cmd).await,
            };
            observe(&self.breaker, &result);
            result
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<redis::Value>> {
        Box::pin(async move {
            admit(&self.breaker)?;
            let result = match &mut self.link {
                Link::Single(c) => c.req_packed_commands(pipeline, offset, count).await,
                Link::Cluster(c) => c.req_packed_commands(pipeline, offset, count).await,
            };
            observe(&self.breaker, &result);
            result
        })
    }

    fn get_db(&self) -> i64 {
        match &self.link {
            Link::Single(c) => c.get_db(),
            Link::Cluster(c) => c.get_db(),
        }
    }
}
