//! RateLimitStore of the memory store.

use super::MemoryStore;
use crate::store::RateLimitStore;
use crate::{Quota, RateDecision, StoreError, Timestamp};

impl RateLimitStore for MemoryStore {
    async fn rate_limit(
        &self,
        key: &str,
        quota: &Quota,
        now: Timestamp,
    ) -> Result<RateDecision, StoreError> {
        Ok(self.limits.decide(key, quota, now))
    }

    async fn reset_rate_limit(&self, key: &str) -> Result<(), StoreError> {
        self.limits.reset(key);
        Ok(())
    }
}
