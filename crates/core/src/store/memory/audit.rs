//! AuditStore of the memory store.

use super::MemoryStore;
use crate::store::AuditStore;
use crate::{AuditEvent, StoreError, StoredEvent, Timestamp};

impl AuditStore for MemoryStore {
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let mut st = self.lock();
        for event in events {
            st.append_audit(event);
        }
        Ok(())
    }

    async fn audit_for_user(
        &self,
        user_id: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let st = self.lock();
        let Some(ids) = st.audit_by_user.get(user_id) else {
            return Ok(Vec::new());
        };
        let events = ids
            .range(..before.unwrap_or(u64::MAX))
            .rev()
            .take(limit)
            .filter_map(|id| {
                st.audit.get(id).map(|e| StoredEvent {
                    id: *id,
                    event: e.clone(),
                })
            })
            .collect();
        Ok(events)
    }

    async fn purge_audit(&self, cutoff: Timestamp, batch: usize) -> Result<usize, StoreError> {
        let mut st = self.lock();
        let due: Vec<(u64, Option<String>)> = st
            .audit
            .iter()
            .take_while(|(_, e)| e.at < cutoff)
            .take(batch)
            .map(|(id, e)| (*id, e.user_id.clone()))
            .collect();
        for (id, user) in &due {
            st.audit.remove(id);
            if let Some(ids) = user.as_ref().and_then(|u| st.audit_by_user.get_mut(u)) {
                ids.remove(id);
            }
        }
        Ok(due.len())
    }
}
