//! An in-memory [`super::Store`]: for tests, examples and single-process embedding. Each method holds
//! one mutex for its whole step, which is what makes it atomic.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

mod accounts;
mod api_keys;
mod audit;
mod keys;
mod limits;
mod sessions;

use super::{FeedEntry, LimitCheck, Revocation, Revoked, StoredApiKey, StoredKeyset, User};
use crate::{AccountId, AuditEvent, LoginName, RateLimiter, Session, SessionId, Timestamp};

/// The in-memory store. Clones share the same data.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    state: Arc<Mutex<State>>,
    limits: Arc<RateLimiter>,
}

#[derive(Debug, Default)]
struct State {
    sessions: HashMap<SessionId, Session>,
    /// Per user: (created_at, sid), so listing is ordered and touches only that user.
    by_user: HashMap<String, BTreeSet<(Timestamp, SessionId)>>,
    /// (instant the session becomes purgeable, sid), so purging reads only what is due.
    by_expiry: BTreeSet<(Timestamp, SessionId)>,
    feed: VecDeque<FeedEntry>,
    last_cursor: u64,
    keyset: Option<StoredKeyset>,
    /// Accounts by id, and their ids by login name.
    users: HashMap<AccountId, User>,
    logins: BTreeMap<LoginName, AccountId>,
    api_keys: BTreeMap<String, StoredApiKey>,
    audit: BTreeMap<u64, AuditEvent>,
    audit_by_user: HashMap<String, BTreeSet<u64>>,
    last_audit: u64,
    settings: HashMap<String, Vec<u8>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere cannot leave a half-applied step: every step mutates after checking.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn purge_at(s: &Session) -> Timestamp {
    s.revoked_at
        .map_or(s.expires_at(), |r| r.min(s.expires_at()))
}

impl State {
    fn insert(&mut self, session: Session) {
        self.by_user
            .entry(session.user_id.clone())
            .or_default()
            .insert((session.created_at, session.sid));
        self.by_expiry.insert((purge_at(&session), session.sid));
        self.sessions.insert(session.sid, session);
    }

    fn remove(&mut self, sid: &SessionId) {
        if let Some(s) = self.sessions.remove(sid) {
            self.by_expiry.remove(&(purge_at(&s), s.sid));
            if let Some(set) = self.by_user.get_mut(&s.user_id) {
                set.remove(&(s.created_at, s.sid));
                if set.is_empty() {
                    self.by_user.remove(&s.user_id);
                }
            }
        }
    }

    /// Applies `change` to a session, keeping the expiry index right.
    fn modify<R>(&mut self, sid: &SessionId, change: impl FnOnce(&mut Session) -> R) -> Option<R> {
        let session = self.sessions.get_mut(sid)?;
        let before = purge_at(session);
        let out = change(session);
        let after = purge_at(session);
        if before != after {
            self.by_expiry.remove(&(before, *sid));
            self.by_expiry.insert((after, *sid));
        }
        Some(out)
    }

    fn user_sessions(&self, user_id: &str) -> Vec<SessionId> {
        self.by_user
            .get(user_id)
            .map(|set| set.iter().map(|(_, sid)| *sid).collect())
            .unwrap_or_default()
    }

    fn append(&mut self, revoked: Revoked, until: Timestamp) {
        self.last_cursor += 1;
        self.feed.push_back(FeedEntry {
            cursor: self.last_cursor,
            revoked,
            until,
        });
    }

    fn revoke(&mut self, sid: &SessionId, r: Revocation) -> Option<String> {
        let user = self.modify(sid, |s| {
            if s.revoked_at.is_some() {
                return None;
            }
            s.revoked_at = Some(r.at);
            s.revoke_reason = Some(r.reason);
            Some(s.user_id.clone())
        })??;
        self.append(Revoked::Session(*sid), r.until);
        Some(user)
    }

    fn append_audit(&mut self, event: &AuditEvent) {
        self.last_audit += 1;
        let id = self.last_audit;
        if let Some(user) = &event.user_id {
            self.audit_by_user
                .entry(user.clone())
                .or_default()
                .insert(id);
        }
        self.audit.insert(id, event.clone());
    }

    fn apply_limit(&mut self, user_id: &str, check: LimitCheck) -> Result<Vec<SessionId>, ()> {
        let live: Vec<SessionId> = self
            .user_sessions(user_id)
            .into_iter()
            .filter(|sid| self.sessions.get(sid).is_some_and(|s| s.is_live(check.now)))
            .collect();
        let evicted = check.evict(&live).ok_or(())?.to_vec();
        for sid in &evicted {
            self.revoke(sid, check.eviction_revocation());
        }
        Ok(evicted)
    }
}
