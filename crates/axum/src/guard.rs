//! One tower service for every "check the request, then pass it on or refuse it" layer.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::Request;
use axum::response::{IntoResponse, Response};
use tower::Service;

/// A check run before the wrapped service: the (possibly enriched) request, or a refusal.
pub trait Admit: Clone + Send + Sync + 'static {
    /// What a refused request is answered with.
    type Refusal: IntoResponse + Send;

    /// Checks `req`.
    fn admit(
        &self,
        req: Request<Body>,
    ) -> impl Future<Output = Result<Request<Body>, Self::Refusal>> + Send;
}

/// The service a checking layer wraps around routes.
#[derive(Clone)]
pub struct Guarded<Svc, A> {
    pub(crate) inner: Svc,
    pub(crate) guard: A,
}

impl<Svc, A> Service<Request<Body>> for Guarded<Svc, A>
where
    Svc: Service<Request<Body>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    Svc::Future: Send + 'static,
    A: Admit,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        // The clone that was made ready is the one used; a fresh clone stays behind.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let guard = self.guard.clone();
        Box::pin(async move {
            match guard.admit(req).await {
                Ok(req) => inner.call(req).await,
                Err(rejection) => Ok(rejection.into_response()),
            }
        })
    }
}
