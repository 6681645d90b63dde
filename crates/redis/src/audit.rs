//! AuditStore on Redis.

use tessera::store::AuditStore;
use tessera::{AuditEvent, StoreError, StoredEvent, Timestamp};

use crate::codec::{corrupt, json, to_json};
use crate::scripts;
use crate::store::{RedisStore, ms};

/// An event as the `audit` Lua function takes it: JSON, time, user (`''` for none).
pub(crate) fn audit_args(
    inv: &mut redis::ScriptInvocation<'_>,
    event: &AuditEvent,
) -> Result<(), StoreError> {
    inv.arg(to_json(event)?)
        .arg(ms(event.at))
        .arg(event.user_id.as_deref().unwrap_or_default());
    Ok(())
}

impl AuditStore for RedisStore {
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut inv = self.run(&scripts::AUDIT);
        for event in events {
            audit_args(&mut inv, event)?;
        }
        self.call::<i64>(&inv).await.map(|_| ())
    }

    async fn audit_for_user(
        &self,
        user: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut inv = self.run(&scripts::AUDIT_FOR_USER);
        inv.arg(user)
            .arg(before.map_or_else(|| "+inf".to_owned(), |b| format!("({b}")))
            .arg(limit);
        let flat: Vec<String> = self.call(&inv).await?;
        flat.chunks(2)
            .map(|pair| match pair {
                [id, event] => Ok(StoredEvent {
                    id: id.parse().map_err(|_| corrupt("audit id"))?,
                    event: json(event)?,
                }),
                _ => Err(corrupt("audit reply")),
            })
            .collect()
    }

    async fn purge_audit(&self, cutoff: Timestamp, batch: usize) -> Result<usize, StoreError> {
        let mut inv = self.run(&scripts::PURGE_AUDIT);
        inv.arg(ms(cutoff)).arg(batch);
        self.call(&inv).await
    }
}
