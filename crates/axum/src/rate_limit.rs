//! A per-client rate limit (an IPv4 address, an IPv6 /64) as a tower layer, decided through the store (so nodes sharing a
//! store share the limit). The client is resolved as the Tessera server resolves it: the
//! connection's peer (`ConnectInfo<SocketAddr>`), or the address a trusted proxy names (see
//! [`resolve_client`](crate::resolve_client)). A request without the peer's address is refused
//! (the app was not served with connect info): counting all of them in one shared bucket
//! would let one client starve every other.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use tessera::{Clock, Quota, RateDecision, SessionManager, Store};
use tower::Layer;

use crate::guard::{Admit, Guarded};
use crate::header::whole_seconds;
use crate::problem::Rejection;
use crate::{TrustedProxies, resolve_client};

/// Limits each client IP to `quota` on the wrapped routes.
pub struct RateLimitLayer<S, C> {
    manager: Arc<SessionManager<S, C>>,
    quota: Quota,
    name: &'static str,
    trusted: TrustedProxies,
}

impl<S, C> Clone for RateLimitLayer<S, C> {
    fn clone(&self) -> Self {
        Self {
            manager: Arc::clone(&self.manager),
            quota: self.quota,
            name: self.name,
            trusted: self.trusted.clone(),
        }
    }
}

impl<S, C> RateLimitLayer<S, C> {
    /// A limit named `name` (it keys the store: different names are different limits), per
    /// connection peer.
    pub fn new(manager: Arc<SessionManager<S, C>>, quota: Quota, name: &'static str) -> Self {
        Self {
            manager,
            quota,
            name,
            trusted: TrustedProxies::default(),
        }
    }

    /// Believes the client address these proxies write, so each client behind them has its
    /// own budget instead of sharing the proxy's.
    pub fn trusting(mut self, proxies: TrustedProxies) -> Self {
        self.trusted = proxies;
        self
    }
}

impl<Svc, S, C> Layer<Svc> for RateLimitLayer<S, C> {
    type Service = RateLimitService<Svc, S, C>;

    fn layer(&self, inner: Svc) -> Self::Service {
        Guarded {
            inner,
            guard: self.clone(),
        }
    }
}

/// The service [`RateLimitLayer`] wraps around routes.
pub type RateLimitService<Svc, S, C> = Guarded<Svc, RateLimitLayer<S, C>>;

impl<S: Store + 'static, C: Clock + 'static> Admit for RateLimitLayer<S, C> {
    type Refusal = Rejection;

    async fn admit(&self, req: Request<Body>) -> Result<Request<Body>, Rejection> {
        let Some(ConnectInfo(peer)) = req.extensions().get::<ConnectInfo<SocketAddr>>() else {
            tracing::error!(
                "RateLimitLayer needs the peer address: serve with into_make_service_with_connect_info::<SocketAddr>()"
            );
            return Err(Rejection::Unavailable);
        };
        let client = resolve_client(peer.ip(), false, req.headers(), &self.trusted);
        let key = format!("{}:client:{}", self.name, client.rate_key());
        match self
            .manager
            .store()
            .rate_limit(&key, &self.quota, self.manager.clock().now())
            .await
        {
            Ok(RateDecision::Allowed { .. }) => Ok(req),
            Ok(RateDecision::Limited { retry_after, .. }) => {
                let retry_after = whole_seconds(retry_after);
                Err(Rejection::RateLimited {
                    retry_after,
                    limit: self.quota.burst(),
                })
            }
            Err(e) => {
                tracing::warn!(error = %e, "rate limit unavailable");
                Err(Rejection::Unavailable)
            }
        }
    }
}
