//! SessionStore of the memory store.

use super::MemoryStore;
use crate::store::{
    CreateOutcome, FeedEntry, LimitCheck, Revocation, Revoked, RotateOutcome, Rotation,
    SessionStore, SessionUpdate, UpdateOutcome,
};
use crate::{AuditEvent, Session, SessionId, StoreError, Timestamp};

impl SessionStore for MemoryStore {
    fn is_shared(&self) -> bool {
        false
    }

    async fn create(
        &self,
        session: &Session,
        limit: Option<LimitCheck>,
        created: Option<&AuditEvent>,
    ) -> Result<CreateOutcome, StoreError> {
        let mut st = self.lock();
        if st.sessions.contains_key(&session.sid) {
            return Ok(CreateOutcome::AlreadyExists);
        }
        let evicted = match limit.map(|l| st.apply_limit(&session.user_id, l)) {
            Some(Err(())) => return Ok(CreateOutcome::LimitReached),
            Some(Ok(evicted)) => evicted,
            None => Vec::new(),
        };
        st.insert(session.clone());
        if let Some(event) = created {
            st.append_audit(event);
        }
        Ok(CreateOutcome::Created { evicted })
    }

    async fn get(&self, sid: &SessionId) -> Result<Option<Session>, StoreError> {
        Ok(self.lock().sessions.get(sid).cloned())
    }

    async fn rotate(
        &self,
        sid: &SessionId,
        rotation: &Rotation,
    ) -> Result<RotateOutcome, StoreError> {
        let mut st = self.lock();
        let Some(current) = st.sessions.get(sid) else {
            return Ok(RotateOutcome::Refused(None));
        };
        if !rotation.applies_to(current) {
            return Ok(RotateOutcome::Refused(Some(Box::new(current.clone()))));
        }
        if let Some(limited) = rotation.charge(&self.limits) {
            return Ok(limited);
        }
        let rotated = st.modify(sid, |s| {
            rotation.apply(s);
            s.clone()
        });
        Ok(rotated.map_or(RotateOutcome::Refused(None), |s| {
            RotateOutcome::Rotated(Box::new(s))
        }))
    }

    async fn touch(
        &self,
        sid: &SessionId,
        last_seen_at: Timestamp,
        idle_expires_at: Timestamp,
    ) -> Result<bool, StoreError> {
        let mut st = self.lock();
        let touched = st.modify(sid, |s| {
            if s.revoked_at.is_some() {
                return false;
            }
            s.last_seen_at = last_seen_at;
            s.idle_expires_at = idle_expires_at;
            true
        });
        Ok(touched == Some(true))
    }

    async fn update(
        &self,
        sid: &SessionId,
        expected_version: u64,
        update: &SessionUpdate,
    ) -> Result<UpdateOutcome, StoreError> {
        let mut st = self.lock();
        let outcome = st.modify(sid, |s| update.apply_to(s, expected_version));
        Ok(outcome.unwrap_or(UpdateOutcome::NotFound))
    }

    async fn revoke(
        &self,
        sid: &SessionId,
        revocation: Revocation,
    ) -> Result<Option<String>, StoreError> {
        Ok(self.lock().revoke(sid, revocation))
    }

    async fn revoke_user(
        &self,
        user_id: &str,
        except: Option<&SessionId>,
        revocation: Revocation,
    ) -> Result<Vec<SessionId>, StoreError> {
        let mut st = self.lock();
        let targets = st.user_sessions(user_id);
        let revoked = targets
            .into_iter()
            .filter(|sid| Some(sid) != except)
            .filter(|sid| st.revoke(sid, revocation).is_some())
            .collect();
        Ok(revoked)
    }

    async fn revoke_token(&self, jti: &str, until: Timestamp) -> Result<(), StoreError> {
        self.lock().append(Revoked::Token(jti.to_owned()), until);
        Ok(())
    }

    async fn list_user(&self, user_id: &str, now: Timestamp) -> Result<Vec<Session>, StoreError> {
        let st = self.lock();
        let sessions = st
            .user_sessions(user_id)
            .iter()
            .filter_map(|sid| st.sessions.get(sid))
            .filter(|s| s.is_live(now))
            .cloned()
            .collect();
        Ok(sessions)
    }

    async fn count_live(&self, now: Timestamp) -> Result<u64, StoreError> {
        let st = self.lock();
        Ok(st.sessions.values().filter(|s| s.is_live(now)).count() as u64)
    }

    async fn revocations_after(
        &self,
        _feed: usize,
        after: u64,
        limit: usize,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        let st = self.lock();
        let start = st.feed.partition_point(|e| e.cursor <= after);
        Ok(st.feed.iter().skip(start).take(limit).cloned().collect())
    }

    async fn purge_expired(&self, now: Timestamp, batch: usize) -> Result<usize, StoreError> {
        let mut st = self.lock();
        let due: Vec<SessionId> = st
            .by_expiry
            .iter()
            .take_while(|(at, _)| *at <= now)
            .take(batch)
            .map(|(_, sid)| *sid)
            .collect();
        for sid in &due {
            st.remove(sid);
        }
        // Feed entries are appended with roughly increasing `until`; drop the expired front.
        while st.feed.front().is_some_and(|e| e.until <= now) {
            st.feed.pop_front();
        }
        Ok(due.len())
    }
}
