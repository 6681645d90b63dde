//! Rate limits at the edge: per client IP for every backend route class, per session for
//! verification, per user for sign-in. (Per-session refresh limits are the core's: they count
//! genuine tokens only.) Decisions go through the store, so nodes sharing a store share limits,
//! except for verification: it never touches the store, so its limits are counted per node.

use axum::http::Method;
use std::fmt::Display;
use std::time::Duration;

use tessera::store::RateLimitStore;
use tessera::{AuditKind, Clock, Quota, RateDecision, SessionId};

use tessera_axum::whole_seconds;

use super::error::ApiError;
use crate::config::{LimitBy, LimitClass};
use crate::state::AppState;

/// Who a limited request is about.
#[derive(Debug, Clone, Copy, Default)]
pub struct Subject<'a> {
    /// The user, if known.
    pub user: Option<&'a str>,
    /// The session, if known.
    pub sid: Option<SessionId>,
}

/// At most one stored audit event per limited key a minute: an attack that trips a limit
/// millions of times must not turn into millions of writes. Client-IP trips are logged only.
async fn record_trip(
    state: &AppState,
    class: LimitClass,
    by: LimitBy,
    key: &str,
    subject: Subject<'_>,
) {
    let kind = AuditKind::RateLimited {
        class: class.name().into(),
        by: by.name().into(),
    };
    // Verification never touches the store, not even to record that it was refused.
    let Some(user) = subject.user.filter(|_| class != LimitClass::Verify) else {
        tracing::info!(target: "tessera::audit", class = class.name(), by = by.name(), "rate limit tripped");
        return;
    };
    let Ok(once) = Quota::new(1, Duration::from_secs(60), 1) else {
        return;
    };
    let first = state
        .local_limits
        .decide(&format!("audit:{key}"), &once, state.manager.clock().now())
        .allowed();
    if first && let Err(e) = state.manager.record(Some(user), subject.sid, kind).await {
        tracing::warn!(error = %e, "could not record a rate-limit event");
    }
}

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
/// `subject` names who the request is about, for the audit trail. `id` is written out only
/// when the limit is on.
///
/// # Errors
/// [`ApiError::RateLimited`] over the limit; store failures.
pub async fn enforce(
    state: &AppState,
    class: LimitClass,
    by: LimitBy,
    id: impl Display,
    subject: Subject<'_>,
) -> Result<(), ApiError> {
    let Some(quota) = state.config.rate_limits.get(class, by) else {
        return Ok(());
    };
    let key = format!("{}:{}:{id}", class.name(), by.name());
    let now = state.manager.clock().now();
    let decision = if class == LimitClass::Verify {
        state.local_limits.decide(&key, quota, now)
    } else {
        state
            .manager
            .store()
            .rate_limit(&key, quota, now)
            .await
            .map_err(tessera::Error::from)?
    };
    match decision {
        RateDecision::Allowed { .. } => Ok(()),
        RateDecision::Limited {
            retry_after,
            reset_after,
        } => {
            state.metrics.rate_limited(class.name(), by.name());
            record_trip(state, class, by, &key, subject).await;
            Err(ApiError::RateLimited {
                retry_after: whole_seconds(retry_after),
                limit: quota.burst(),
                reset: whole_seconds(reset_after),
            })
        }
    }
}
