//! Background work, so an application does not schedule it: the chores of a session manager
//! (key rotation and picking up keys other nodes rotated, catching up the revocation feed,
//! deleting expired sessions and old audit events), and those of a remote verifier.

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

/// Background tasks; dropping the value stops them.
#[derive(Debug)]
pub(crate) struct Tasks(pub(crate) Vec<JoinHandle<()>>);

impl Drop for Tasks {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Starts the chores of `manager` on the current Tokio runtime.
pub(crate) fn chores<S: Store + 'static, C: Clock + 'static>(
    manager: &Arc<SessionManager<S, C>>,
) -> Tasks {
    Tasks(vec![
        every("keys", KEYS, manager, |m| async move {
            m.sync_keys().await.map(drop)
        }),
        every("revocations", FEED, manager, |m| async move {
            m.sync_revocations().await.map(drop)
        }),
        every("purge", PURGE, manager, |m| async move { purge(&m).await }),
    ])
}

async fn purge<S: Store, C: Clock>(m: &SessionManager<S, C>) -> Result<(), tessera::Error> {
    while m.purge_expired(BATCH).await? == BATCH {}
    while m.purge_audit(AUDIT_RETENTION, BATCH).await? == BATCH {}
    Ok(())
}

/// Runs `work` on `target` every `period`, the first time one period from now (the target was
/// brought up to date as it started), logging failures and retrying at the next round.
pub(crate) fn every<T, F, Fut>(
    name: &'static str,
    period: Duration,
    target: &Arc<T>,
    work: F,
) -> JoinHandle<()>
where
    T: Send + Sync + 'static,
    F: Fn(Arc<T>) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), tessera::Error>> + Send,
{
    // A weak handle: the task never keeps alive what the application dropped.
    let target = Arc::downgrade(target);
    tokio::spawn(async move {
        let start = tokio::time::Instant::now() + period;
        let mut ticker = tokio::time::interval_at(start, period);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let Some(t) = target.upgrade() else { break };
            if let Err(e) = work(t).await {
                tracing::warn!(task = name, error = %e, "tessera background work failed; will retry");
            }
        }
    })
}
