//! Knowing that Redis is down (core's [`Breaker`]): an I/O failure, a dropped or refused
//! connection or a timeout opens it; Redis answering, even with an error (a script error, a
//! type error), says it is reachable.

use redis::{ErrorKind, RedisError, RedisResult};
use tessera::store::Breaker;

/// `Err` without calling Redis when it is known to be down and this call is not a probe.
pub(crate) fn admit(breaker: &Breaker) -> RedisResult<()> {
    if breaker.admit() {
        return Ok(());
    }
    Err(RedisError::from((
        ErrorKind::IoError,
        "Redis is unreachable (failing fast until a probe gets through)",
    )))
}

/// Learns from a call's outcome.
pub(crate) fn observe<T>(breaker: &Breaker, result: &RedisResult<T>) {
    match result {
        Err(e) if unreachable(e) => breaker.unreachable(),
        _ => breaker.reached(),
    }
}

fn unreachable(e: &RedisError) -> bool {
    e.is_io_error() || e.is_connection_dropped() || e.is_connection_refusal() || e.is_timeout()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_unreachability_opens_it() {
        let b = Breaker::default();
        let script_error: RedisResult<()> = Err(RedisError::from((
            ErrorKind::ResponseError,
            "ERR in script",
        )));
        observe(&b, &script_error);
        assert!(admit(&b).is_ok(), "Redis answering is Redis reachable");
        let refused: RedisResult<()> =
            Err(RedisError::from((ErrorKind::IoError, "connection refused")));
        observe(&b, &refused);
        assert!(admit(&b).is_err(), "known down: fail at once");
        observe(&b, &Ok::<(), RedisError>(()));
        assert!(admit(&b).is_ok(), "closed again");
    }
}
