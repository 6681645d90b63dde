//! The chores of a session manager, run in the background so an application does not schedule
//! them: key rotation (and picking up keys other nodes rotated), catching up the revocation
//! feed, and deleting expired sessions and old audit events.

use std::sync::Arc;
use std::time::Duration;

use tessera::{Clock, SessionManager, Store};
use tokio::task::JoinHandle;

/// How often the keyset is synced (rotating when due).
const KEYS: Duration = Duration::from_secs(30);
/// How often the revocation feed is caught up.
const FEED: Duration = Duration::from_secs(1);
/// How often expired sessions and old audit events are deleted.
const PURGE: Duration = Duration::from_secs(300);
/// Rows deleted per store call.
const BATCH: usize = 1000;
/// How long security events are kept.
const AUDIT_RETENTION: Duration = Duration::from_secs(90 * 86_400);

/// The background tasks of one manager; dropping it stops them.
#[derive(Debug)]
pub(crate) struct Upkeep(Vec<JoinHandle<()>>);

impl Upkeep {
    /// Starts the chores of `manager` on the current Tokio runtime.
    pub(crate) fn start<S: Store + 'static, C: Clock + 'static>(
        manager: &Arc<SessionManager<S, C>>,
    ) -> Self {
        Self(vec![
            every("keys", KEYS, manager, |m| async move {
                m.sync_keys().await.map(drop)
            }),
            every("revocations", FEED, manager, |m| async move {
                m.sync_revocations().await.map(drop)
            }),
            every("purge", PURGE, manager, |m| async move { purge(&m).await }),
        ])
    }
}

impl Drop for Upkeep {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

async fn purge<S: Store, C: Clock>(m: &SessionManager<S, C>) -> Result<(), tessera::Error> {
    while m.purge_expired(BATCH).await? == BATCH {}
    while m.purge_audit(AUDIT_RETENTION, BATCH).await? == BATCH {}
    Ok(())
}

fn every<S, C, F, Fut>(
    name: &'static str,
    period: Duration,
    manager: &Arc<SessionManager<S, C>>,
    work: F,
) -> JoinHandle<()>
where
    S: Store + 'static,
    C: Clock + 'static,
    F: Fn(Arc<SessionManager<S, C>>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), tessera::Error>> + Send,
{
    // A weak handle: the tasks never keep a manager alive that the application dropped.
    let manager = Arc::downgrade(manager);
    tokio::spawn(async move {
        // The manager was caught up when it started: the first round is one period away.
        let start = tokio::time::Instant::now() + period;
        let mut ticker = tokio::time::interval_at(start, period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let Some(m) = manager.upgrade() else { break };
            if let Err(e) = work(m).await {
                tracing::warn!(task = name, error = %e, "tessera upkeep failed; will retry");
            }
        }
    })
}
