//! Rate limits at the edge: per client IP for every backend route class, per session for
//! verification, per user for sign-in. (Per-session refresh limits are the core's: they count
//! genuine tokens only.) Decisions go through the store, so nodes sharing a store share limits.

use axum::http::Method;
use tessera::{Clock, RateDecision, Store, SystemClock};

use super::error::{ApiError, ceil_secs};
use crate::config::{LimitBy, LimitClass};
use crate::state::AppState;

/// The class of a route, by its template and method; `None` for unlimited public routes.
pub fn class_of(method: &Method, route: &str) -> Option<LimitClass> {
    match (method, route) {
        (&Method::POST, "/v1/sessions/verify") => Some(LimitClass::Verify),
        (&Method::POST, "/v1/sessions/refresh") => Some(LimitClass::Refresh),
        (&Method::POST, "/v1/sessions") => Some(LimitClass::Login),
        (_, r) if r.starts_with("/v1/") || r.starts_with("/oauth2/") => Some(LimitClass::Admin),
        _ => None,
    }
}

/// Counts one request of `class` for `id` (a session id, user id or IP) against its limit.
///
/// # Errors
/// [`ApiError::RateLimited`] over the limit; store failures.
pub async fn enforce(
    state: &AppState,
    class: LimitClass,
    by: LimitBy,
    id: &str,
) -> Result<(), ApiError> {
    let Some(quota) = state.config.rate_limits.get(class, by) else {
        return Ok(());
    };
    let key = format!("{}:{}:{id}", class.name(), by.name());
    let decision = state
        .manager
        .store()
        .rate_limit(&key, quota, SystemClock.now())
        .await
        .map_err(tessera::Error::from)?;
    match decision {
        RateDecision::Allowed { .. } => Ok(()),
        RateDecision::Limited {
            retry_after,
            reset_after,
        } => {
            state.metrics.rate_limited(class.name(), by.name());
            tracing::info!(target: "tessera::audit", class = class.name(), by = by.name(), "rate limit tripped");
            Err(ApiError::RateLimited {
                retry_after: ceil_secs(retry_after),
                limit: quota.burst(),
                reset: ceil_secs(reset_after),
            })
        }
    }
}
