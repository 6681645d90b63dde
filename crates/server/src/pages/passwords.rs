//! Password work off the async runtime, through a bounded queue, and brute-force throttling.
//!
//! Argon2id costs ~19 MiB and tens of milliseconds per attempt by design. Hashing runs on
//! blocking threads, at most one per core at once: more would not hash faster, only make the
//! runtime's threads (token verification among them) wait for a core behind them. The queue
//! bounds the jobs running or waiting; a sign-in that cannot start in time gets 503.

use std::num::NonZero;
use std::sync::Arc;
use std::time::Duration;

use tessera::store::RateLimitStore;
use tessera::{Clock, LoginName, PasswordHash, Quota, RateDecision};
use tokio::sync::Semaphore;

use crate::boot::Manager;
use crate::config::SignIn;

/// The bounded password-hashing queue.
#[derive(Clone)]
pub struct PasswordQueue {
    /// Jobs running or waiting.
    slots: Arc<Semaphore>,
    /// Jobs running: one per core.
    running: Arc<Semaphore>,
    wait: Duration,
}

/// The queue is full.
#[derive(Debug)]
pub struct Busy;

impl PasswordQueue {
    /// At most `slots` jobs running or waiting, one per core of them running; a job waits at
    /// most `wait` to start.
    pub fn new(slots: usize, wait: Duration) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, NonZero::get);
        Self::with_running(slots, cores.min(slots), wait)
    }

    fn with_running(slots: usize, running: usize, wait: Duration) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(slots)),
            running: Arc::new(Semaphore::new(running)),
            wait,
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        let permits = async {
            let queued = self.slots.clone().acquire_owned().await?;
            let running = self.running.clone().acquire_owned().await?;
            Ok::<_, tokio::sync::AcquireError>((queued, running))
        };
        let permits = tokio::time::timeout(self.wait, permits)
            .await
            .map_err(|_| Busy)?
            .map_err(|_| Busy)?;
        // The permits live as long as the work, not the request: a cancelled request cannot
        // free its slot while its Argon2 job still runs.
        tokio::task::spawn_blocking(move || {
            let _permits = permits;
            work()
        })
        .await
        .map_err(|_| Busy)
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
        self.run(move || PasswordHash::check(stored.as_ref(), &password))
            .await
    }
}

/// What throttling says about one password attempt.
pub enum Attempt {
    /// Go on; wait this long first (grows with recent failures).
    Proceed(Duration),
    /// Locked out: one more attempt after `retry_after`, the whole `limit` back after
    /// `reset_after`.
    Locked {
        /// Until one more attempt is allowed.
        retry_after: Duration,
        /// Until the budget is full again.
        reset_after: Duration,
        /// The budget's burst.
        limit: u32,
    },
}

/// The budget an attempt spends: a known device's own, or the one every unknown device shares
/// for this login name (unknown accounts alike, so lockouts reveal nothing), kept under a
/// keyed hash of the name.
fn budget(
    manager: &Manager,
    config: &SignIn,
    login: &LoginName,
    device: Option<&str>,
) -> (String, Option<Quota>) {
    match device {
        Some(id) => (format!("signin:device:{id}"), config.per_device),
        None => {
            let tag = manager.known_devices().budget_tag(login.as_str());
            (format!("signin:user:{tag}"), config.per_account)
        }
    }
}

/// Every budget an attempt spends. A known device spends only its own: neither strangers
/// guessing at the account nor neighbours behind the same address (a NAT, a proxy) can lock
/// its owner out.
fn budgets(
    manager: &Manager,
    config: &SignIn,
    login: &LoginName,
    device: Option<&str>,
    client: &str,
) -> Vec<(String, Option<Quota>)> {
    let own = budget(manager, config, login, device);
    match device {
        Some(_) => vec![own],
        None => vec![own, (format!("signin:ip:{client}"), config.per_client)],
    }
}

/// Counts a password attempt (sign-in or change of password) for `login` from `client` (its
/// rate key: an address, or an IPv6 /64), on a known device's budget when `device` names one.
pub async fn attempt(
    manager: &Manager,
    config: &SignIn,
    login: &LoginName,
    device: Option<&str>,
    client: &str,
) -> Result<Attempt, tessera::Error> {
    let now = manager.clock().now();
    let store = manager.store();
    let mut delay = Duration::ZERO;
    for (key, quota) in budgets(manager, config, login, device, client) {
        let Some(quota) = quota else { continue };
        match store.rate_limit(&key, &quota, now).await? {
            RateDecision::Limited {
                retry_after,
                reset_after,
            } => {
                let limit = quota.burst();
                return Ok(Attempt::Locked {
                    retry_after,
                    reset_after,
                    limit,
                });
            }
            RateDecision::Allowed { remaining, .. } => {
                let used = quota.burst().saturating_sub(remaining + 1);
                delay = delay.max(growing_delay(used));
            }
        }
    }
    Ok(Attempt::Proceed(delay))
}

impl Attempt {
    /// What a locked-out person is told.
    pub fn message(&self) -> String {
        let Attempt::Locked { retry_after, .. } = self else {
            return String::new();
        };
        let wait = super::errors::wait(tessera_axum::whole_seconds(*retry_after));
        format!("Too many attempts. Try again in {wait}.")
    }

    /// Makes `response` a 429 with `Retry-After` and `RateLimit-*`, as the API's are.
    pub fn lock_out(&self, mut response: axum::response::Response) -> axum::response::Response {
        if let Attempt::Locked {
            retry_after,
            reset_after,
            limit,
        } = *self
        {
            *response.status_mut() = axum::http::StatusCode::TOO_MANY_REQUESTS;
            crate::http::limited_headers(
                response.headers_mut(),
                tessera_axum::whole_seconds(retry_after),
                limit,
                tessera_axum::whole_seconds(reset_after),
            );
        }
        response
    }
}

/// Nothing for the first two attempts, then 250 ms doubling up to 4 s.
fn growing_delay(previous_attempts: u32) -> Duration {
    match previous_attempts {
        0 | 1 => Duration::ZERO,
        n => Duration::from_millis(250u64 << (n - 2).min(4)),
    }
}

/// A right password clears the count of the budget it spent.
pub async fn succeeded(
    manager: &Manager,
    config: &SignIn,
    login: &LoginName,
    device: Option<&str>,
) -> Result<(), tessera::Error> {
    let (key, _) = budget(manager, config, login, device);
    Ok(manager.store().reset_rate_limit(&key).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_beyond_the_cores_wait_instead_of_sharing_them() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let queue = PasswordQueue::with_running(4, 1, Duration::from_secs(5));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let first = queue.clone();
        let first = tokio::spawn(async move { first.run(move || hold.recv()).await });
        tokio::time::sleep(Duration::from_millis(20)).await; // the one core is taken
        let started = Arc::new(AtomicBool::new(false));
        let (second, flag) = (queue.clone(), Arc::clone(&started));
        let second =
            tokio::spawn(
                async move { second.run(move || flag.store(true, Ordering::SeqCst)).await },
            );
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            !started.load(Ordering::SeqCst),
            "queued, not running beside the first"
        );
        release.send(()).unwrap();
        assert!(first.await.unwrap().is_ok());
        assert!(second.await.unwrap().is_ok());
        assert!(started.load(Ordering::SeqCst));
    }

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

    #[tokio::test]
    async fn a_cancelled_request_keeps_its_slot_until_its_work_ends() {
        let queue = PasswordQueue::new(1, Duration::from_millis(50));
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let busy = queue.clone();
        let request = tokio::spawn(async move { busy.run(move || hold.recv()).await });
        tokio::time::sleep(Duration::from_millis(20)).await; // its job is running now
        request.abort(); // the client went away; the Argon2 job cannot be stopped
        let _ = request.await;
        assert!(
            queue
                .verify(None, "whatever-password".into())
                .await
                .is_err(),
            "the slot is held until the job ends, so the bound holds"
        );
        release.send(()).unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(queue.verify(None, "whatever-password".into()).await.is_ok());
    }

    #[test]
    fn delays_grow_and_are_capped() {
        let d: Vec<u64> = (0..9)
            .map(|n| growing_delay(n).as_millis() as u64)
            .collect();
        assert_eq!(d, [0, 0, 250, 500, 1000, 2000, 4000, 4000, 4000]);
    }
}
