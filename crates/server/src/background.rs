//! Background work: key rotation, revocation-feed catch-up and purging of expired sessions.
//! Each task runs on an interval, reports through metrics and the log, and stops at shutdown.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use tessera::{Clock, Store, SystemClock};

use crate::metrics::Metrics;
use crate::state::AppState;

/// How often the keyset is checked for due rotations (and other nodes' rotations picked up).
const KEY_INTERVAL: Duration = Duration::from_secs(30);
/// How often revocations made elsewhere (another node, the CLI) are read from the store.
const FEED_INTERVAL: Duration = Duration::from_secs(1);
/// How often slow-moving gauges (live sessions) are recounted.
const GAUGE_INTERVAL: Duration = Duration::from_secs(15);
/// Sessions deleted per purge statement.
const PURGE_BATCH: usize = 1000;

/// Starts every task; each ends when `shutdown` turns true.
pub fn spawn(state: &AppState, shutdown: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
    let purge_every = state.config.purge_interval;
    vec![
        every(
            "keys",
            KEY_INTERVAL,
            shutdown.clone(),
            state.clone(),
            sync_keys,
        ),
        every(
            "revocations",
            FEED_INTERVAL,
            shutdown.clone(),
            state.clone(),
            sync_revocations,
        ),
        every("purge", purge_every, shutdown.clone(), state.clone(), purge),
        every(
            "gauges",
            GAUGE_INTERVAL,
            shutdown.clone(),
            state.clone(),
            count_live,
        ),
    ]
}

fn every<F, Fut>(
    name: &'static str,
    period: Duration,
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
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = ticker.tick() => {
                    if let Err(e) = work(state.clone()).await {
                        state.metrics.background_error(name);
                        tracing::warn!(task = name, error = %e, "background task failed; will retry");
                    }
                }
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

async fn sync_revocations(state: AppState) -> Result<(), tessera::Error> {
    state.manager.sync_revocations().await?;
    state
        .metrics
        .feed_cursor
        .store(state.manager.revoked_view().cursor(), Ordering::Relaxed);
    Ok(())
}

async fn count_live(state: AppState) -> Result<(), tessera::Error> {
    let live = state.manager.store().count_live(SystemClock.now()).await?;
    state.metrics.live_sessions.store(live, Ordering::Relaxed);
    Ok(())
}

async fn purge(state: AppState) -> Result<(), tessera::Error> {
    let retention = state.config.audit_retention;
    while state.manager.purge_audit(retention, PURGE_BATCH).await? == PURGE_BATCH {
        tokio::task::yield_now().await;
    }
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
