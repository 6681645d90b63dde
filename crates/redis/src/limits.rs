//! RateLimitStore on Redis.

use std::time::Duration;

use redis::AsyncCommands;
use tessera::store::RateLimitStore;
use tessera::{Quota, RateDecision, SessionId, StoreError, Timestamp};

use crate::codec::redis_error;
use crate::scripts;
use crate::store::{RedisStore, key_in};

/// A quota's emission interval in microseconds, as the `gcra` Lua function takes it.
pub(crate) fn gcra_interval(quota: &Quota) -> String {
    (quota.period() / quota.rate())
        .as_micros()
        .max(1)
        .to_string()
}

/// An instant in microseconds, as the `gcra` Lua function takes it.
pub(crate) fn micros(at: Timestamp) -> String {
    (i128::from(at.as_millis()) * 1000).to_string()
}

impl RateLimitStore for RedisStore {
    async fn rate_limit(
        &self,
        key: &str,
        quota: &Quota,
        now: Timestamp,
    ) -> Result<RateDecision, StoreError> {
        // Each subject's limit lives in its own shard: limits spread like users.
        let mut inv = self.run_in(SessionId::shard_of(key), &scripts::RATE_LIMIT);
        inv.arg(key)
            .arg(gcra_interval(quota))
            .arg(quota.burst())
            .arg(micros(now));
        let (allowed, remaining, reset, retry): (i64, u32, u64, u64) = self.call(&inv).await?;
        let reset_after = Duration::from_micros(reset);
        Ok(if allowed == 1 {
            RateDecision::Allowed {
                remaining,
                reset_after,
            }
        } else {
            RateDecision::Limited {
                retry_after: Duration::from_micros(retry),
                reset_after,
            }
        })
    }

    async fn reset_rate_limit(&self, key: &str) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        conn.del::<_, ()>(key_in(
            self.layout.shard(SessionId::shard_of(key)),
            &["rl", key],
        ))
        .await
        .map_err(redis_error)
    }
}
