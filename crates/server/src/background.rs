//! Background work: key rotation, revocation-feed catch-up and purging of expired sessions.
//! Each task runs on an interval, reports through metrics and the log, and stops at shutdown.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

use std::sync::Arc;

use tokio::sync::{Notify, watch};

use tokio::task::JoinHandle;

use tessera::Clock;
use tessera::store::SessionStore;

use crate::metrics::Metrics;
use crate::state::AppState;

/// How often the keyset is checked for due rotations (and other nodes' rotations picked up).
const KEY_INTERVAL: Duration = Duration::from_secs(30);
/// How often revocations made elsewhere (another node, the CLI) are read from the store.
const FEED_INTERVAL: Duration = Duration::from_secs(1);
/// How often the named API keys are re-read and their last use written.
const API_KEY_INTERVAL: Duration = Duration::from_secs(15);
/// How often slow-moving gauges (live sessions) are recounted.
const GAUGE_INTERVAL: Duration = Duration::from_secs(15);
/// Sessions deleted per purge statement.
const PURGE_BATCH: usize = 1000;

/// Starts every task; each ends when `shutdown` turns true.
pub fn spawn(state: &AppState, shutdown: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let purge_every = state.config.purge_interval;
    let pushed = Arc::new(Notify::new());
    let heard = Arc::new(Heard::default());
    let mut tasks = Vec::new();
    if state.manager.store().is_shared() {
        tasks.push(listen(
            state.clone(),
            Arc::clone(&pushed),
            Arc::clone(&heard),
            shutdown.clone(),
        ));
    }
    tasks.extend([
        every(
            "keys",
            KEY_INTERVAL,
            shutdown.clone(),
            state.clone(),
            sync_keys,
        ),
        every_or_pushed(
            "revocations",
            FEED_INTERVAL,
            Some(pushed),
            shutdown.clone(),
            state.clone(),
            move |state| sync_revocations(state, Arc::clone(&heard)),
        ),
        every("purge", purge_every, shutdown.clone(), state.clone(), purge),
        every(
            "api-keys",
            API_KEY_INTERVAL,
            shutdown.clone(),
            state.clone(),
            sync_api_keys,
        ),
        every(
            "gauges",
            GAUGE_INTERVAL,
            shutdown.clone(),
            state.clone(),
            count_live,
        ),
    ]);
    tasks
}

/// The feeds announced since the catch-up last ran, and when every feed was last read.
#[derive(Default)]
struct Heard {
    feeds: std::sync::Mutex<std::collections::BTreeSet<usize>>,
    everything: std::sync::atomic::AtomicBool,
    full_sync: std::sync::Mutex<Option<tessera::Timestamp>>,
}

impl Heard {
    fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
        m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Wakes the revocation catch-up whenever another node announces a revocation, so logout
/// reaches this node in milliseconds rather than at the next tick. Reconnects by itself.
fn listen(
    state: AppState,
    pushed: Arc<Notify>,
    feeds: Arc<Heard>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let heard = |feed: Option<usize>| {
            match feed {
                Some(feed) => {
                    Heard::lock(&feeds.feeds).insert(feed);
                }
                None => feeds.everything.store(true, Ordering::Relaxed),
            }
            pushed.notify_one();
        };
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                result = state.manager.store().follow_revocations(heard) => {
                    if let Err(e) = result {
                        tracing::warn!(error = %e, "revocation channel lost; catching up by polling until it is back");
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    })
}

fn every<F, Fut>(
    name: &'static str,
    period: Duration,
    shutdown: watch::Receiver<bool>,
    state: AppState,
    work: F,
) -> JoinHandle<()>
where
    F: Fn(AppState) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), tessera::Error>> + Send,
{
    every_or_pushed(name, period, None, shutdown, state, work)
}

fn every_or_pushed<F, Fut>(
    name: &'static str,
    period: Duration,
    pushed: Option<Arc<Notify>>,
    mut shutdown: watch::Receiver<bool>,
    state: AppState,
    work: F,
) -> JoinHandle<()>
where
    F: Fn(AppState) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), tessera::Error>> + Send,
{
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let push = async {
                match &pushed {
                    Some(n) => n.notified().await,
                    None => std::future::pending().await,
                }
            };
            // Run on every tick, and at once when pushed.
            tokio::select! {
                _ = shutdown.changed() => break,
                () = push => {}
                _ = ticker.tick() => {}
            }
            if let Err(e) = work(state.clone()).await {
                state.metrics.background_error(name);
                tracing::warn!(task = name, error = %e, "background task failed; will retry");
            }
        }
        tracing::debug!(task = name, "background task stopped");
    })
}

async fn sync_keys(state: AppState) -> Result<(), tessera::Error> {
    if state.manager.sync_keys().await? {
        Metrics::inc(&state.metrics.key_rotations, 1); // the core records the audit event
    }
    Ok(())
}

/// Reads the feeds that announced something; every feed on the tick (at least once per
/// `FEED_INTERVAL` however busy one feed is, so none turns stale), or after a resubscription.
async fn sync_revocations(state: AppState, heard: Arc<Heard>) -> Result<(), tessera::Error> {
    let announced = std::mem::take(&mut *Heard::lock(&heard.feeds));
    let everything = heard.everything.swap(false, Ordering::Relaxed);
    let started = state.manager.clock().now();
    let due = Heard::lock(&heard.full_sync).is_none_or(|at| started.since(at) >= FEED_INTERVAL);
    if everything || due || announced.is_empty() {
        state.manager.sync_revocations().await?;
        *Heard::lock(&heard.full_sync) = Some(started);
    } else {
        for feed in announced {
            state.manager.sync_feed(feed).await?;
        }
    }
    state
        .metrics
        .feed_cursor
        .store(state.manager.revoked_view().cursor(), Ordering::Relaxed);
    Ok(())
}

/// Named API keys made or revoked elsewhere, and this node's record of when keys were used.
async fn sync_api_keys(state: AppState) -> Result<(), tessera::Error> {
    state.api_keys.reload(&state.manager).await?;
    state.api_keys.flush_use(&state.manager).await
}

async fn count_live(state: AppState) -> Result<(), tessera::Error> {
    let live = state
        .manager
        .store()
        .count_live(state.manager.clock().now())
        .await?;
    state.metrics.live_sessions.store(live, Ordering::Relaxed);
    Ok(())
}

/// Purges the audit trail, then ended sessions, each whatever became of the other: a shard
/// of a Cluster that cannot be reached fails one run of each (the store purges the shards it
/// reaches first) but holds back neither.
async fn purge(state: AppState) -> Result<(), tessera::Error> {
    let audit = purge_audit(&state).await;
    purge_sessions(&state).await.and(audit)
}

async fn purge_audit(state: &AppState) -> Result<(), tessera::Error> {
    let retention = state.config.audit_retention;
    while state.manager.purge_audit(retention, PURGE_BATCH).await? == PURGE_BATCH {
        tokio::task::yield_now().await;
    }
    Ok(())
}

async fn purge_sessions(state: &AppState) -> Result<(), tessera::Error> {
    loop {
        let n = state.manager.purge_expired(PURGE_BATCH).await?;
        Metrics::inc(&state.metrics.purged_sessions, n as u64);
        if n < PURGE_BATCH {
            Metrics::inc(&state.metrics.purge_runs, 1);
            return Ok(());
        }
        tokio::task::yield_now().await; // let requests in between batches
    }
}
