//! Knowing that Redis is down: after a connection failure, calls fail at once (the caller
//! answers 503 with `Retry-After`) instead of each waiting out the connect timeout, and one
//! call every [`PROBE_EVERY`] goes through to find out whether Redis is back. The first call
//! that succeeds closes the breaker. Failures that are Redis answering (a script error, a
//! type error) say nothing about reachability and leave it as it is.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use redis::{ErrorKind, RedisError, RedisResult};
use tessera::Clock;
#[allow(
    clippy::disallowed_types,
    reason = "times Redis outages for the breaker; no session rule depends on it"
)]
use tessera::SystemClock;

/// How often, while Redis is known to be down, one call is let through to probe it.
pub(crate) const PROBE_EVERY: Duration = Duration::from_millis(250);

/// Open (failing fast) or closed (calling through).
#[derive(Debug, Default)]
pub(crate) struct Breaker {
    /// When the last call was let through while down, in ms since the epoch; 0 when closed.
    down_probe_at: AtomicI64,
}

impl Breaker {
    /// `Err` without calling Redis when it is known to be down and this is not a probe.
    pub(crate) fn admit(&self) -> RedisResult<()> {
        let last = self.down_probe_at.load(Ordering::Acquire);
        if last == 0 {
            return Ok(());
        }
        let now = SystemClock.now().as_millis();
        let due = now.saturating_sub(last) >= i64::try_from(PROBE_EVERY.as_millis()).unwrap_or(0);
        if due
            && self
                .down_probe_at
                .compare_exchange(last, now, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            return Ok(()); // this call probes
        }
        Err(RedisError::from((
            ErrorKind::IoError,
            "Redis is unreachable (failing fast until a probe gets through)",
        )))
    }

    /// Learns from a call's outcome.
    pub(crate) fn observe<T>(&self, result: &RedisResult<T>) {
        match result {
            Ok(_) => self.down_probe_at.store(0, Ordering::Release),
            Err(e) if unreachable(e) => {
                let now = SystemClock.now().as_millis().max(1);
                let _ = self.down_probe_at.compare_exchange(
                    0,
                    now,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
            }
            Err(_) => {}
        }
    }
}

fn unreachable(e: &RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down() -> RedisResult<()> {
        Err(RedisError::from((ErrorKind::IoError, "connection refused")))
    }

    #[test]
    fn opens_on_unreachability_probes_and_closes_on_success() {
        let b = Breaker::default();
        assert!(b.admit().is_ok(), "closed at first");
        b.observe(&down());
        assert!(b.admit().is_err(), "known down: fail at once");
        assert!(b.admit().is_err());
        std::thread::sleep(PROBE_EVERY + Duration::from_millis(20));
        assert!(b.admit().is_ok(), "one probe goes through");
        assert!(b.admit().is_err(), "and only one");
        b.observe(&Ok::<(), RedisError>(()));
        assert!(b.admit().is_ok(), "closed again");
        let script_error: RedisResult<()> = Err(RedisError::from((
            ErrorKind::ResponseError,
            "ERR in script",
        )));
        b.observe(&script_error);
        assert!(b.admit().is_ok(), "Redis answering is Redis reachable");
    }
}
