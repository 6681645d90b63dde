//! Knowing that a shared store is down: after a failure to reach it, calls fail at once (the
//! caller answers 503 with `Retry-After`) instead of each waiting out the connect timeout, and
//! one call every [`Breaker::PROBE_EVERY`] goes through to find out whether it is back. The
//! first call that succeeds closes the breaker. Each store says which of its failures mean
//! "unreachable"; a store answering with an error is reachable.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crate::Clock;
#[allow(
    clippy::disallowed_types,
    reason = "times store outages for the breaker; no session rule depends on it"
)]
use crate::SystemClock;

/// Open (failing fast) or closed (calling through).
#[derive(Debug, Default)]
pub struct Breaker {
    /// When the last call was let through while down, in ms since the epoch; 0 when closed.
    down_probe_at: AtomicI64,
}

impl Breaker {
    /// How often, while the store is known to be down, one call is let through to probe it.
    pub const PROBE_EVERY: Duration = Duration::from_millis(250);

    /// Whether to make the call: always when closed; while open, once per
    /// [`Breaker::PROBE_EVERY`] (that call probes), never otherwise.
    pub fn admit(&self) -> bool {
        let last = self.down_probe_at.load(Ordering::Acquire);
        if last == 0 {
            return true;
        }
        let now = SystemClock.now().as_millis();
        let every = i64::try_from(Self::PROBE_EVERY.as_millis()).unwrap_or(0);
        now.saturating_sub(last) >= every
            && self
                .down_probe_at
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
    }

    /// A call reached the store: closes the breaker.
    pub fn reached(&self) {
        self.down_probe_at.store(0, Ordering::Release);
    }

    /// A call could not reach the store: opens the breaker (if it is not open already).
    pub fn unreachable(&self) {
        let now = SystemClock.now().as_millis().max(1);
        let _ = self
            .down_probe_at
            .compare_exchange(0, now, Ordering::AcqRel, Ordering::Acquire);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_when_unreachable_probes_and_closes_when_reached() {
        let b = Breaker::default();
        assert!(b.admit(), "closed at first");
        b.unreachable();
        assert!(!b.admit(), "known down: fail at once");
        assert!(!b.admit());
        std::thread::sleep(Breaker::PROBE_EVERY + Duration::from_millis(20));
        assert!(b.admit(), "one probe goes through");
        assert!(!b.admit(), "and only one");
        b.reached();
        assert!(b.admit(), "closed again");
    }
}
