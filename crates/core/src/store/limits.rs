//! Rate-limit state.

use std::future::Future;

use crate::{Quota, RateDecision, StoreError, Timestamp};

/// Rate limits (GCRA; see [`crate::gcra`]). Every caller sharing the store shares each limit.
pub trait RateLimitStore: Send + Sync {
    /// One atomic rate-limit decision for `key` at `now`; concurrent callers never exceed it.
    fn rate_limit(
        &self,
        key: &str,
        quota: &Quota,
        now: Timestamp,
    ) -> impl Future<Output = Result<RateDecision, StoreError>> + Send;

    /// Forgets the state of a rate limit (a successful sign-in clears its failures).
    fn reset_rate_limit(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}
