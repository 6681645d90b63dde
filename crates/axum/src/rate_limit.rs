//! A per-client-IP rate limit as a tower layer, decided through the store (so nodes sharing a
//! store share the limit). The client is the connection's peer (`ConnectInfo<SocketAddr>`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use tessera::{Clock, Quota, RateDecision, SessionManager, Store, SystemClock};
use tower::Layer;

use crate::guard::{Admit, Guarded};
use crate::header::whole_seconds;
use crate::problem::Rejection;

/// Limits each client IP to `quota` on the wrapped routes.
pub struct RateLimitLayer<S, C> {
    manager: Arc<SessionManager<S, C>>,
    quota: Quota,
    name: &'static str,
}

impl<S, C> Clone for RateLimitLayer<S, C> {
    fn clone(&self) -> Self {
        Self {
            manager: Arc::clone(&self.manager),
            quota: self.quota,
            name: self.name,
        }
    }
}

impl<S, C> RateLimitLayer<S, C> {
    /// A limit named `name` (it keys the store: different names are different limits).
    pub fn new(manager: Arc<SessionManager<S, C>>, quota: Quota, name: &'static str) -> Self {
        Self {
            manager,
            quota,
            name,
        }
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
    async fn admit(&self, req: Request<Body>) -> Result<Request<Body>, Rejection> {
        let ip = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string());
        let key = format!("{}:client:{ip}", self.name);
        match self
            .manager
            .store()
            .rate_limit(&key, &self.quota, SystemClock.now())
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
