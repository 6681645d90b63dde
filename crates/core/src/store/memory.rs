//! An in-memory [`Store`]: for tests, examples and single-process embedding. Each method holds
//! one mutex for its whole step, which is what makes it atomic.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{
    CreateOutcome, FeedEntry, LimitCheck, Revocation, Revoked, RotateOutcome, Rotation,
    SessionUpdate, Store, StoredApiKey, StoredKeyset, UpdateOutcome, User,
};
use crate::{
    AccountId, AuditEvent, LoginName, OnLimit, PasswordHash, Quota, RateDecision, RateLimiter,
    RevokeReason, Session, SessionId, StoreError, StoredEvent, Timestamp, TokenHash,
};

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
    logins: HashMap<LoginName, AccountId>,
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

    fn apply_limit(&mut self, user_id: &str, check: LimitCheck) -> Result<Vec<SessionId>, ()> {
        let live: Vec<SessionId> = self
            .user_sessions(user_id)
            .into_iter()
            .filter(|sid| self.sessions.get(sid).is_some_and(|s| s.is_live(check.now)))
            .collect();
        if live.len() < check.limit.max {
            return Ok(Vec::new());
        }
        if check.limit.on_limit == OnLimit::Deny {
            return Err(());
        }
        let excess = live.len() + 1 - check.limit.max;
        let evicted: Vec<SessionId> = live.into_iter().take(excess).collect();
        let eviction = Revocation {
            reason: RevokeReason::Evicted,
            ..check.eviction
        };
        for sid in &evicted {
            self.revoke(sid, eviction);
        }
        Ok(evicted)
    }
}

impl Store for MemoryStore {
    async fn create(
        &self,
        session: &Session,
        limit: Option<LimitCheck>,
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
        let current = st.sessions.get(sid);
        let applicable = current.is_some_and(|s| {
            s.revoked_at.is_none() && s.refresh.generation == rotation.expected_generation
        });
        if !applicable {
            return Ok(RotateOutcome::Conflict(current.cloned().map(Box::new)));
        }
        st.modify(sid, |s| {
            s.refresh = rotation.next;
            s.last_seen_at = rotation.last_seen_at;
            s.idle_expires_at = rotation.idle_expires_at;
        });
        Ok(RotateOutcome::Rotated)
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
        let outcome = st.modify(sid, |s| {
            if s.revoked_at.is_some() {
                return UpdateOutcome::NotFound;
            }
            if s.version != expected_version {
                return UpdateOutcome::VersionMismatch(s.version);
            }
            if let Some(claims) = &update.claims {
                s.claims = claims.clone();
            }
            if let Some(data) = &update.data {
                s.data = data.clone();
            }
            if let Some(cookie) = update.cookie {
                s.cookie = Some(cookie);
            }
            s.version += 1;
            UpdateOutcome::Updated(s.version)
        });
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

    async fn get_setting(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().settings.get(name).cloned())
    }

    async fn put_setting(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        self.lock().settings.insert(name.to_owned(), value.to_vec());
        Ok(())
    }

    async fn init_setting(&self, name: &str, value: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut st = self.lock();
        Ok(st
            .settings
            .entry(name.to_owned())
            .or_insert_with(|| value.to_vec())
            .clone())
    }

    async fn rate_limit(
        &self,
        key: &str,
        quota: &Quota,
        now: Timestamp,
    ) -> Result<RateDecision, StoreError> {
        Ok(self.limits.decide(key, quota, now))
    }

    async fn append_audit(&self, event: &AuditEvent) -> Result<(), StoreError> {
        let mut st = self.lock();
        st.last_audit += 1;
        let id = st.last_audit;
        if let Some(user) = &event.user_id {
            st.audit_by_user.entry(user.clone()).or_default().insert(id);
        }
        st.audit.insert(id, event.clone());
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

    async fn reset_rate_limit(&self, key: &str) -> Result<(), StoreError> {
        self.limits.reset(key);
        Ok(())
    }

    async fn create_user(&self, user: &User) -> Result<bool, StoreError> {
        let mut st = self.lock();
        if st.logins.contains_key(&user.login) || st.users.contains_key(&user.id) {
            return Ok(false);
        }
        st.logins.insert(user.login.clone(), user.id.clone());
        st.users.insert(user.id.clone(), user.clone());
        Ok(true)
    }

    async fn get_user(&self, id: &AccountId) -> Result<Option<User>, StoreError> {
        Ok(self.lock().users.get(id).cloned())
    }

    async fn find_user(&self, login: &LoginName) -> Result<Option<User>, StoreError> {
        let st = self.lock();
        Ok(st
            .logins
            .get(login)
            .and_then(|id| st.users.get(id))
            .cloned())
    }

    async fn set_password(
        &self,
        id: &AccountId,
        password: &PasswordHash,
    ) -> Result<bool, StoreError> {
        let mut st = self.lock();
        let Some(user) = st.users.get_mut(id) else {
            return Ok(false);
        };
        user.password = password.clone();
        Ok(true)
    }

    async fn create_api_key(&self, key: &StoredApiKey) -> Result<bool, StoreError> {
        let mut st = self.lock();
        if st.api_keys.contains_key(&key.name) {
            return Ok(false);
        }
        st.api_keys.insert(key.name.clone(), key.clone());
        Ok(true)
    }

    async fn list_api_keys(&self) -> Result<Vec<StoredApiKey>, StoreError> {
        Ok(self.lock().api_keys.values().cloned().collect())
    }

    async fn revoke_api_key(
        &self,
        name: &str,
        until: Timestamp,
    ) -> Result<Option<TokenHash>, StoreError> {
        let mut st = self.lock();
        let Some(key) = st.api_keys.remove(name) else {
            return Ok(None);
        };
        st.append(Revoked::ApiKey(key.hash), until);
        Ok(Some(key.hash))
    }

    async fn record_api_key_use(
        &self,
        name: &str,
        hash: &TokenHash,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut st = self.lock();
        if let Some(key) = st.api_keys.get_mut(name).filter(|k| k.hash.ct_eq(hash)) {
            key.last_used_at = key.last_used_at.max(Some(at));
        }
        Ok(())
    }

    async fn load_keyset(&self) -> Result<Option<StoredKeyset>, StoreError> {
        Ok(self.lock().keyset.clone())
    }

    async fn save_keyset(
        &self,
        expected: Option<u64>,
        document: &[u8],
    ) -> Result<bool, StoreError> {
        let mut st = self.lock();
        if st.keyset.as_ref().map(|k| k.version) != expected {
            return Ok(false);
        }
        let version = expected.map_or(1, |v| v + 1);
        st.keyset = Some(StoredKeyset {
            version,
            document: document.to_vec(),
        });
        Ok(true)
    }
}
