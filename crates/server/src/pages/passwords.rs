//! Password work off the async runtime, through a bounded queue, and brute-force throttling.
//!
//! Argon2id costs ~19 MiB and tens of milliseconds per attempt by design. Hashing runs on
//! blocking threads, at most a few at once; when the queue is full a sign-in gets 503 at once,
//! so a flood of logins can never stall token verification.

use std::sync::Arc;
use std::time::Duration;

use tessera::{Clock, PasswordHash, Quota, RateDecision, Store, SystemClock};
use tokio::sync::Semaphore;

use crate::boot::Manager;

/// Hashing jobs running or waiting, at most.
const QUEUE: usize = 8;
/// Longest a sign-in waits for a hashing slot before giving up with 503.
const QUEUE_WAIT: Duration = Duration::from_secs(2);

/// The bounded password-hashing queue.
#[derive(Clone)]
pub struct PasswordQueue {
    slots: Arc<Semaphore>,
    wait: Duration,
}

/// The queue is full.
#[derive(Debug)]
pub struct Busy;

impl Default for PasswordQueue {
    fn default() -> Self {
        Self::new(QUEUE, QUEUE_WAIT)
    }
}

impl PasswordQueue {
    /// At most `slots` jobs at once; a job waits at most `wait` for a slot.
    pub fn new(slots: usize, wait: Duration) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(slots)),
            wait,
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let permit = tokio::time::timeout(self.wait, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| Busy)?
            .map_err(|_| Busy)?;
        let out = tokio::task::spawn_blocking(work).await.map_err(|_| Busy);
        drop(permit);
        out
    }

    /// Hashes a new password.
    pub async fn hash(
        &self,
        password: String,
    ) -> Result<Result<PasswordHash, tessera::Error>, Busy> {
        self.run(move || PasswordHash::new(&password)).await
    }

    /// Checks a password against an account's hash, or spends the same effort for an unknown
    /// account, so neither the answer nor its timing tells whether the account exists.
    pub async fn verify(
        &self,
        stored: Option<PasswordHash>,
        password: String,
    ) -> Result<bool, Busy> {
        self.run(move || match stored {
            Some(hash) => hash.verify(&password),
            None => {
                PasswordHash::verify_nothing(&password);
                false
            }
        })
        .await
    }
}

/// Sign-in attempts per account: a burst of 5, then one every 3 minutes (a lockout that ends).
fn per_account() -> Option<Quota> {
    Quota::new(20, Duration::from_secs(3600), 5).ok()
}

/// Sign-in attempts per client IP: a burst of 30, then 100 an hour.
fn per_client() -> Option<Quota> {
    Quota::new(100, Duration::from_secs(3600), 30).ok()
}

/// What throttling says about one sign-in attempt.
pub enum Attempt {
    /// Go on; wait this long first (grows with recent failures).
    Proceed(Duration),
    /// Locked out for this long.
    Locked(Duration),
}

/// Counts an attempt for `user` from `ip`. Unknown accounts are throttled exactly like real
/// ones, so lockouts reveal nothing.
pub async fn attempt(manager: &Manager, user: &str, ip: &str) -> Result<Attempt, tessera::Error> {
    let now = SystemClock.now();
    let store = manager.store();
    let mut delay = Duration::ZERO;
    for (key, quota) in [
        (format!("signin:user:{user}"), per_account()),
        (format!("signin:ip:{ip}"), per_client()),
    ] {
        let Some(quota) = quota else { continue };
        match store.rate_limit(&key, &quota, now).await? {
            RateDecision::Limited { retry_after, .. } => return Ok(Attempt::Locked(retry_after)),
            RateDecision::Allowed { remaining, .. } => {
                let used = quota.burst().saturating_sub(remaining + 1);
                delay = delay.max(growing_delay(used));
            }
        }
    }
    Ok(Attempt::Proceed(delay))
}

/// Nothing for the first two attempts, then 250 ms doubling up to 4 s.
fn growing_delay(previous_attempts: u32) -> Duration {
    match previous_attempts {
        0 | 1 => Duration::ZERO,
        n => Duration::from_millis(250u64 << (n - 2).min(4)),
    }
}

/// A successful sign-in clears the account's count.
pub async fn succeeded(manager: &Manager, user: &str) -> Result<(), tessera::Error> {
    Ok(manager
        .store()
        .reset_rate_limit(&format!("signin:user:{user}"))
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_queue_answers_busy_at_once_instead_of_piling_up() {
        let queue = PasswordQueue::new(1, Duration::from_millis(50));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let busy = queue.clone();
        let holder = tokio::spawn(async move { busy.run(move || hold.recv()).await });
        tokio::time::sleep(Duration::from_millis(20)).await; // the one slot is now taken
        assert!(
            queue
                .verify(None, "whatever-password".into())
                .await
                .is_err(),
            "Busy, not a stall"
        );
        release.send(()).unwrap();
        assert!(holder.await.unwrap().is_ok());
        assert_eq!(
            queue.verify(None, "whatever-password".into()).await.ok(),
            Some(false),
            "free again"
        );
    }

    #[test]
    fn delays_grow_and_are_capped() {
        let d: Vec<u64> = (0..9)
            .map(|n| growing_delay(n).as_millis() as u64)
            .collect();
        assert_eq!(d, [0, 0, 250, 500, 1000, 2000, 4000, 4000, 4000]);
    }
}
