//! A store wrapper that counts calls, to prove some requests never reach the store.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use tessera::store::{
    AccountStore, ApiKeyStore, AuditStore, CreateOutcome, FeedEntry, KeyStore, LimitCheck,
    RateLimitStore, Revocation, RotateOutcome, Rotation, SessionStore, SessionUpdate, StoredApiKey,
    StoredKeyset, UpdateOutcome, User,
};
use tessera::{
    AccountId, AuditEvent, LoginName, PasswordHash, Quota, RateDecision, Session, SessionId,
    StoreError, StoredEvent, Timestamp, TokenHash,
};

/// Wraps a store and counts every call made through it.
#[derive(Debug, Clone)]
pub struct CountingStore<S> {
    inner: S,
    calls: Arc<AtomicUsize>,
    fail_audit: Arc<AtomicBool>,
}

impl<S> CountingStore<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        Self {
            inner,
            calls: Arc::default(),
            fail_audit: Arc::default(),
        }
    }

    /// From now on every audit write fails (or succeeds again): what a store does when its
    /// audit table is full or its connection drops between two steps.
    pub fn fail_audit_writes(&self, fail: bool) {
        self.fail_audit.store(fail, Ordering::SeqCst);
    }

    /// Calls so far.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn count(&self) -> &S {
        self.calls.fetch_add(1, Ordering::SeqCst);
        &self.inner
    }
}

impl<S: SessionStore> SessionStore for CountingStore<S> {
    fn is_shared(&self) -> bool {
        self.inner.is_shared()
    }

    async fn create(
        &self,
        session: &Session,
        limit: Option<LimitCheck>,
        created: Option<&AuditEvent>,
    ) -> Result<CreateOutcome, StoreError> {
        self.count().create(session, limit, created).await
    }

    async fn get(&self, sid: &SessionId) -> Result<Option<Session>, StoreError> {
        self.count().get(sid).await
    }

    async fn rotate(
        &self,
        sid: &SessionId,
        rotation: &Rotation,
    ) -> Result<RotateOutcome, StoreError> {
        self.count().rotate(sid, rotation).await
    }

    async fn touch(
        &self,
        sid: &SessionId,
        seen: Timestamp,
        idle: Timestamp,
    ) -> Result<bool, StoreError> {
        self.count().touch(sid, seen, idle).await
    }

    async fn update(
        &self,
        sid: &SessionId,
        v: u64,
        u: &SessionUpdate,
    ) -> Result<UpdateOutcome, StoreError> {
        self.count().update(sid, v, u).await
    }

    async fn revoke(&self, sid: &SessionId, r: Revocation) -> Result<Option<String>, StoreError> {
        self.count().revoke(sid, r).await
    }

    async fn revoke_user(
        &self,
        user: &str,
        except: Option<&SessionId>,
        r: Revocation,
    ) -> Result<Vec<SessionId>, StoreError> {
        self.count().revoke_user(user, except, r).await
    }

    async fn revoke_token(&self, jti: &str, until: Timestamp) -> Result<(), StoreError> {
        self.count().revoke_token(jti, until).await
    }

    async fn list_user(&self, user: &str, now: Timestamp) -> Result<Vec<Session>, StoreError> {
        self.count().list_user(user, now).await
    }

    async fn count_live(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.count().count_live(now).await
    }

    fn feeds(&self) -> usize {
        self.inner.feeds()
    }

    async fn revocations_after(
        &self,
        feed: usize,
        after: u64,
        limit: usize,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        self.count().revocations_after(feed, after, limit).await
    }

    async fn purge_expired(&self, now: Timestamp, batch: usize) -> Result<usize, StoreError> {
        self.count().purge_expired(now, batch).await
    }
}

impl<S: RateLimitStore> RateLimitStore for CountingStore<S> {
    async fn rate_limit(
        &self,
        key: &str,
        quota: &Quota,
        now: Timestamp,
    ) -> Result<RateDecision, StoreError> {
        self.count().rate_limit(key, quota, now).await
    }

    async fn reset_rate_limit(&self, key: &str) -> Result<(), StoreError> {
        self.count().reset_rate_limit(key).await
    }
}

impl<S: AuditStore> AuditStore for CountingStore<S> {
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        if self.fail_audit.load(Ordering::SeqCst) {
            self.count();
            return Err(StoreError::new(
                tessera::StoreErrorKind::Unavailable,
                "audit writes fail (test switch)",
            ));
        }
        self.count().append_audit(events).await
    }

    async fn audit_for_user(
        &self,
        user: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        self.count().audit_for_user(user, before, limit).await
    }

    async fn purge_audit(&self, cutoff: Timestamp, batch: usize) -> Result<usize, StoreError> {
        self.count().purge_audit(cutoff, batch).await
    }
}

impl<S: AccountStore> AccountStore for CountingStore<S> {
    async fn create_user(&self, user: &User) -> Result<bool, StoreError> {
        self.count().create_user(user).await
    }

    async fn get_user(&self, id: &AccountId) -> Result<Option<User>, StoreError> {
        self.count().get_user(id).await
    }

    async fn find_user(&self, login: &LoginName) -> Result<Option<User>, StoreError> {
        self.count().find_user(login).await
    }

    async fn set_password(
        &self,
        id: &AccountId,
        password: &PasswordHash,
    ) -> Result<bool, StoreError> {
        self.count().set_password(id, password).await
    }

    async fn list_users(
        &self,
        after: Option<&LoginName>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        self.count().list_users(after, limit).await
    }

    async fn delete_user(&self, id: &AccountId) -> Result<bool, StoreError> {
        self.count().delete_user(id).await
    }
}

impl<S: ApiKeyStore> ApiKeyStore for CountingStore<S> {
    async fn create_api_key(&self, key: &StoredApiKey) -> Result<bool, StoreError> {
        self.count().create_api_key(key).await
    }

    async fn list_api_keys(&self) -> Result<Vec<StoredApiKey>, StoreError> {
        self.count().list_api_keys().await
    }

    async fn revoke_api_key(
        &self,
        name: &str,
        until: Timestamp,
    ) -> Result<Option<TokenHash>, StoreError> {
        self.count().revoke_api_key(name, until).await
    }

    async fn record_api_key_use(
        &self,
        name: &str,
        hash: &TokenHash,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        self.count().record_api_key_use(name, hash, at).await
    }
}

impl<S: KeyStore> KeyStore for CountingStore<S> {
    async fn load_keyset(&self) -> Result<Option<StoredKeyset>, StoreError> {
        self.count().load_keyset().await
    }

    async fn save_keyset(
        &self,
        expected: Option<u64>,
        document: &[u8],
    ) -> Result<bool, StoreError> {
        self.count().save_keyset(expected, document).await
    }

    async fn get_setting(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.count().get_setting(name).await
    }

    async fn put_setting(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        self.count().put_setting(name, value).await
    }

    async fn init_setting(&self, name: &str, value: &[u8]) -> Result<Vec<u8>, StoreError> {
        self.count().init_setting(name, value).await
    }
}
