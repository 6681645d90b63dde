//! AuditStore on Redis.

use std::collections::BTreeMap;
use tessera::store::AuditStore;

use tessera::{AuditEvent, SessionId, StoreError, StoredEvent, Timestamp};

use crate::codec::{self, corrupt, from_value, to_json, to_value};
use crate::scripts;
use crate::store::{RedisStore, invocation, ms};

/// An event as the `audit` Lua function takes it: JSON without its time and user (the stream
/// entry's id and field hold them), time, user (`''` for none).
pub(crate) fn audit_args(
    inv: &mut redis::ScriptInvocation<'_>,
    event: &AuditEvent,
) -> Result<(), StoreError> {
    let mut json = to_value(event)?;
    if let Some(fields) = json.as_object_mut() {
        fields.remove("at");
        fields.remove("user_id");
    }
    inv.arg(to_json(&json)?)
        .arg(ms(event.at))
        .arg(event.user_id.as_deref().unwrap_or_default());
    Ok(())
}

/// An audit id as a `u64` (newer is larger): the stream entry `ms-seq`'s time, then its number.
fn audit_id(entry: &str) -> Result<u64, StoreError> {
    let (at, seq) = entry.split_once('-').ok_or_else(|| corrupt("audit id"))?;
    let at: u64 = at.parse().map_err(|_| corrupt("audit id"))?;
    let seq: u64 = seq.parse().map_err(|_| corrupt("audit id"))?;
    if at >= 1 << 48 || seq >= 1 << 16 {
        return Err(corrupt("audit id"));
    }
    Ok(at << 16 | seq)
}

/// A stored event from its stream entry's id and JSON (and its user, the index it came from).
fn stored_event(entry: &str, json: &str, user: &str) -> Result<StoredEvent, StoreError> {
    let id = audit_id(entry)?;
    let mut event: serde_json::Value = codec::json(json)?;
    let fields = event
        .as_object_mut()
        .ok_or_else(|| corrupt("audit event"))?;
    let at = i64::try_from(id >> 16).map_err(|_| corrupt("audit id"))?;
    fields.insert("at".into(), to_value(&Timestamp::from_millis(at))?);
    fields.insert("user_id".into(), user.into());
    Ok(StoredEvent {
        id,
        event: from_value(event)?,
    })
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
            .arg(before.map_or_else(String::new, |b| format!("{}-{}", b >> 16, b & 0xffff)))
            .arg(limit);
        let flat: Vec<String> = self.call(&inv).await?;
        flat.chunks(2)
            .map(|pair| match pair {
                [id, event] => stored_event(id, event, user),
                _ => Err(corrupt("audit reply")),
            })
            .collect()
    }

    async fn purge_audit(&self, cutoff: Timestamp, batch: usize) -> Result<usize, StoreError> {
        self.purge_every_slot(&scripts::PURGE_AUDIT, cutoff, batch)
            .await
    }
}
