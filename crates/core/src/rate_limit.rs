//! Rate limiting with GCRA (the generic cell rate algorithm): the whole state of a limit is one
//! instant, the *theoretical arrival time* (TAT). A decision is one read-modify-write of it, with
//! no timers and no counters to reset, which a store can do atomically (a lock, a transaction,
//! one Lua step) so that every node shares the limit.
//!
//! ```
//! use std::time::Duration;
//! use tessera::{Quota, RateLimiter, Timestamp};
//! let quota = Quota::new(10, Duration::from_secs(60), 3).unwrap(); // 10 a minute, bursts of 3
//! let limiter = RateLimiter::default();
//! let now = Timestamp::from_secs(0);
//! for _ in 0..3 {
//!     assert!(limiter.decide("client:192.0.2.1", &quota, now).allowed());
//! }
//! let denied = limiter.decide("client:192.0.2.1", &quota, now);
//! assert_eq!(denied.retry_after(), Some(Duration::from_secs(6)));
//! ```

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::{Error, Timestamp};

/// How much a key may do: `rate` requests per `period`, at most `burst` at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    rate: u32,
    period: Duration,
    burst: u32,
}

impl Quota {
    /// `rate` requests per `period`, with bursts of up to `burst`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when any of them is zero.
    pub fn new(rate: u32, period: Duration, burst: u32) -> Result<Self, Error> {
        if rate == 0 || burst == 0 || period.is_zero() {
            return Err(Error::InvalidConfig(
                "a rate limit needs a rate, a period and a burst above zero".into(),
            ));
        }
        Ok(Self {
            rate,
            period,
            burst,
        })
    }

    /// Requests per period.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// The period.
    pub fn period(&self) -> Duration {
        self.period
    }

    /// The largest burst.
    pub fn burst(&self) -> u32 {
        self.burst
    }

    /// The time one request "costs": the period divided by the rate.
    fn interval(&self) -> Duration {
        self.period / self.rate
    }
}

/// The outcome of one rate-limit decision, with what `RateLimit-*` headers need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// Go ahead.
    Allowed {
        /// Requests still allowed right now.
        remaining: u32,
        /// Until the limit is fully replenished.
        reset_after: Duration,
    },
    /// Over the limit.
    Limited {
        /// Until one more request will be allowed.
        retry_after: Duration,
        /// Until the limit is fully replenished.
        reset_after: Duration,
    },
}

impl RateDecision {
    /// Whether the request may go ahead.
    pub fn allowed(&self) -> bool {
        matches!(self, Self::Allowed { .. })
    }

    /// How long to wait before retrying, when limited.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Limited { retry_after, .. } => Some(*retry_after),
            Self::Allowed { .. } => None,
        }
    }
}

/// One GCRA step: the decision for a request at `now` given the stored theoretical arrival
/// time (nanoseconds since the Unix epoch, so intervals far below a millisecond, as in limits
/// of thousands per second, keep their exact length), and the TAT to store (unchanged when
/// limited).
pub fn gcra(tat: Option<i128>, quota: &Quota, now: Timestamp) -> (RateDecision, i128) {
    let now = i128::from(now.as_millis()) * 1_000_000;
    let interval = i128::try_from(quota.interval().as_nanos()).unwrap_or(i128::MAX);
    let tolerance = interval.saturating_mul(i128::from(quota.burst - 1));
    let start = tat.map_or(now, |t| t.max(now));
    let backlog = start - now; // how far ahead of real time this key already is
    if backlog > tolerance {
        return (
            RateDecision::Limited {
                retry_after: nanos(backlog - tolerance),
                reset_after: nanos(backlog),
            },
            start,
        );
    }
    let next = start.saturating_add(interval);
    let reset_after = next - now;
    let room = interval
        .saturating_mul(i128::from(quota.burst))
        .saturating_sub(reset_after)
        .max(0);
    let remaining = u32::try_from(room / interval.max(1)).unwrap_or(u32::MAX);
    (
        RateDecision::Allowed {
            remaining,
            reset_after: nanos(reset_after),
        },
        next,
    )
}

fn nanos(n: i128) -> Duration {
    Duration::from_nanos(u64::try_from(n).unwrap_or(u64::MAX))
}

/// Most keys a [`RateLimiter`] keeps before dropping the ones already replenished.
const MAX_KEYS: usize = 100_000;

/// GCRA state for many keys in one process, one lock per decision: what the memory and SQLite
/// stores use (limits need no durability, and a single-node store shares them by sharing the
/// process).
#[derive(Debug, Default)]
pub struct RateLimiter {
    tats: Mutex<HashMap<String, i128>>,
}

impl RateLimiter {
    /// Forgets `key`: its next request starts with a full burst.
    pub fn reset(&self, key: &str) {
        self.tats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }

    /// Decides for `key` at `now`, atomically.
    pub fn decide(&self, key: &str, quota: &Quota, now: Timestamp) -> RateDecision {
        let mut tats = self.tats.lock().unwrap_or_else(PoisonError::into_inner);
        if tats.len() >= MAX_KEYS && !tats.contains_key(key) {
            let now = i128::from(now.as_millis()) * 1_000_000;
            tats.retain(|_, tat| *tat > now); // a TAT in the past is a full bucket: forget it
        }
        let (decision, tat) = gcra(tats.get(key).copied(), quota, now);
        if decision.allowed() {
            tats.insert(key.to_owned(), tat);
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(rate: u32, secs: u64, burst: u32) -> Quota {
        Quota::new(rate, Duration::from_secs(secs), burst).unwrap()
    }

    #[test]
    fn limits_of_thousands_per_second_still_limit() {
        let l = RateLimiter::default();
        let t0 = Timestamp::from_secs(1_000);
        for rate in [1_500, 10_000, 1_000_000] {
            let q = Quota::new(rate, Duration::from_secs(1), 10).unwrap();
            let key = format!("k{rate}");
            let allowed = (0..50).filter(|_| l.decide(&key, &q, t0).allowed()).count();
            assert_eq!(allowed, 10, "{rate}/s: a burst of 10 at one instant");
            let later = t0.plus(Duration::from_millis(1));
            let refilled = (0..50)
                .filter(|_| l.decide(&key, &q, later).allowed())
                .count();
            let expected = (rate / 1000).min(10) as usize;
            assert_eq!(
                refilled, expected,
                "{rate}/s: one millisecond refills rate/1000"
            );
        }
    }

    #[test]
    fn bursts_then_paces() {
        let q = quota(60, 60, 5); // one a second, bursts of five
        let l = RateLimiter::default();
        let t0 = Timestamp::from_secs(1_000);
        let remaining: Vec<u32> = (0..5)
            .map(|_| match l.decide("k", &q, t0) {
                RateDecision::Allowed { remaining, .. } => remaining,
                RateDecision::Limited { .. } => panic!("within the burst"),
            })
            .collect();
        assert_eq!(remaining, vec![4, 3, 2, 1, 0]);
        let limited = l.decide("k", &q, t0);
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(1)));
        assert!(
            !l.decide("k", &q, t0.plus(Duration::from_millis(999)))
                .allowed()
        );
        assert!(l.decide("k", &q, t0.plus(Duration::from_secs(1))).allowed());
        assert!(
            !l.decide("k", &q, t0.plus(Duration::from_secs(1))).allowed(),
            "one per second after the burst"
        );
        assert!(l.decide("other", &q, t0).allowed(), "keys are independent");
    }

    #[test]
    fn a_quiet_key_refills_to_the_burst_and_no_more() {
        let q = quota(10, 10, 3);
        let l = RateLimiter::default();
        let t0 = Timestamp::from_secs(0);
        for _ in 0..3 {
            assert!(l.decide("k", &q, t0).allowed());
        }
        let later = t0.plus(Duration::from_secs(3600));
        let allowed = (0..10)
            .filter(|_| l.decide("k", &q, later).allowed())
            .count();
        assert_eq!(allowed, 3);
    }

    #[test]
    fn limited_requests_do_not_push_the_window() {
        let q = quota(1, 10, 1);
        let l = RateLimiter::default();
        let t0 = Timestamp::from_secs(0);
        assert!(l.decide("k", &q, t0).allowed());
        for s in 1..10 {
            assert!(!l.decide("k", &q, t0.plus(Duration::from_secs(s))).allowed());
        }
        assert!(
            l.decide("k", &q, t0.plus(Duration::from_secs(10)))
                .allowed()
        );
    }

    #[test]
    fn zero_quotas_are_refused() {
        assert!(Quota::new(0, Duration::from_secs(1), 1).is_err());
        assert!(Quota::new(1, Duration::ZERO, 1).is_err());
        assert!(Quota::new(1, Duration::from_secs(1), 0).is_err());
    }
}
