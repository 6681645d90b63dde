//! AuditStore on Redis.

use std::collections::BTreeMap;
use tessera::store::AuditStore;

use tessera::{AuditEvent, SessionId, StoreError, StoredEvent, Timestamp};

use crate::codec::{corrupt, json, to_json};
use crate::scripts;
use crate::store::{RedisStore, invocation, ms};

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
        // A user's events go to the user's shard (where the user's sessions append theirs), the
        // others to the global slot: one script per slot.
        let mut by_slot: BTreeMap<&str, Vec<&AuditEvent>> = BTreeMap::new();
        for event in events {
            let tag = match &event.user_id {
                Some(user) => self.layout.shard(SessionId::shard_of(user)),
                None => &self.layout.global,
            };
            by_slot.entry(tag).or_default().push(event);
        }
        for (tag, events) in by_slot {
            let mut inv = invocation(&scripts::AUDIT, tag);
            for event in events {
                audit_args(&mut inv, event)?;
            }
            self.call::<i64>(&inv).await?;
        }
        Ok(())
    }

    async fn audit_for_user(
        &self,
        user: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut inv = self.run_in(SessionId::shard_of(user), &scripts::AUDIT_FOR_USER);
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
        let mut purged = 0;
        for tag in self.layout.feeds() {
            let mut inv = invocation(&scripts::PURGE_AUDIT, tag);
            inv.arg(ms(cutoff)).arg(batch.saturating_sub(purged).max(1));
            purged += self.call::<usize>(&inv).await?;
            if purged >= batch {
                break;
            }
        }
        Ok(purged)
    }
}
