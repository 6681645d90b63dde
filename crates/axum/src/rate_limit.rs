//! A per-client-IP rate limit as a tower layer, decided through the store (so nodes sharing a
//! store share the limit). The client is the connection's peer (`ConnectInfo<SocketAddr>`).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use tessera::{Clock, Quota, RateDecision, SessionManager, Store, SystemClock};
use tower::{Layer, Service};

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
        RateLimitService {
            inner,
            limit: self.clone(),
        }
    }
}

/// The service [`RateLimitLayer`] wraps around routes.
pub struct RateLimitService<Svc, S, C> {
    inner: Svc,
    limit: RateLimitLayer<S, C>,
}

impl<Svc: Clone, S, C> Clone for RateLimitService<Svc, S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            limit: self.limit.clone(),
        }
    }
}

impl<Svc, S, C> Service<Request<Body>> for RateLimitService<Svc, S, C>
where
    Svc: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    Svc::Future: Send + 'static,
    S: Store + 'static,
    C: Clock + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let limit = self.limit.clone();
        Box::pin(async move {
            let ip = req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string());
            let key = format!("{}:client:{ip}", limit.name);
            match limit
                .manager
                .store()
                .rate_limit(&key, &limit.quota, SystemClock.now())
                .await
            {
                Ok(RateDecision::Allowed { .. }) => inner.call(req).await,
                Ok(RateDecision::Limited { retry_after, .. }) => {
                    let retry_after =
                        retry_after.as_secs() + u64::from(retry_after.subsec_nanos() > 0);
                    Ok(Rejection::RateLimited {
                        retry_after,
                        limit: limit.quota.burst(),
                    }
                    .into_response())
                }
                Err(e) => {
                    tracing::warn!(error = %e, "rate limit unavailable");
                    Ok(Rejection::Unavailable.into_response())
                }
            }
        })
    }
}
