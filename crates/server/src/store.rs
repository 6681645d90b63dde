//! The one place that knows which storage backends exist and picks one at run time.

use tessera::store::{
    AccountStore, ApiKeyStore, AuditStore, CreateOutcome, FeedEntry, KeyStore, LimitCheck,
    RateLimitStore, Revocation, RotateOutcome, Rotation, SessionStore, SessionUpdate, StoredApiKey,
    StoredKeyset, UpdateOutcome, User,
};
use tessera::{
    AccountId, AuditEvent, LoginName, PasswordHash, Quota, RateDecision, Session, SessionId,
    StoreError, StoredEvent, Timestamp, TokenHash,
};
use tessera_postgres::PostgresStore;
use tessera_redis::RedisStore;
use tessera_sqlite::SqliteStore;

/// The store in use.
#[derive(Debug, Clone)]
pub enum AnyStore {
    /// The embedded default.
    Sqlite(SqliteStore),
    /// Redis, shared by several nodes.
    Redis(RedisStore),
    /// PostgreSQL, shared by several nodes.
    Postgres(PostgresStore),
}

impl AnyStore {
    /// Follows the announcements of revocations made elsewhere, calling `heard` with the feed
    /// that announced (`None`: catch up on every feed) for each (see
    /// [`RedisStore::follow_revocations`], [`PostgresStore::follow_revocations`]). A store
    /// without announcements never returns.
    ///
    /// # Errors
    /// When the subscription is lost; call again after a pause.
    pub async fn follow_revocations(
        &self,
        heard: impl Fn(Option<usize>) + Send,
    ) -> Result<(), StoreError> {
        match self {
            AnyStore::Sqlite(_) => std::future::pending().await,
            AnyStore::Redis(s) => s.follow_revocations(heard).await,
            AnyStore::Postgres(s) => s.follow_revocations(move || heard(Some(0))).await,
        }
    }
}

/// Forwards a call to whichever store is in use.
macro_rules! forward {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match $self {
            AnyStore::Sqlite(s) => s.$method($($arg),*).await,
            AnyStore::Redis(s) => s.$method($($arg),*).await,
            AnyStore::Postgres(s) => s.$method($($arg),*).await,
        }
    };
}

impl SessionStore for AnyStore {
    fn is_shared(&self) -> bool {
        match self {
            AnyStore::Sqlite(s) => s.is_shared(),
            AnyStore::Redis(s) => s.is_shared(),
            AnyStore::Postgres(s) => s.is_shared(),
        }
    }

    async fn create(
        &self,
        session: &Session,
        limit: Option<LimitCheck>,
        created: Option<&AuditEvent>,
    ) -> Result<CreateOutcome, StoreError> {
        forward!(self.create(session, limit, created))
    }

    async fn get(&self, sid: &SessionId) -> Result<Option<Session>, StoreError> {
        forward!(self.get(sid))
    }

    async fn rotate(
        &self,
        sid: &SessionId,
        rotation: &Rotation,
    ) -> Result<RotateOutcome, StoreError> {
        forward!(self.rotate(sid, rotation))
    }

    async fn touch(
        &self,
        sid: &SessionId,
        seen: Timestamp,
        idle: Timestamp,
    ) -> Result<bool, StoreError> {
        forward!(self.touch(sid, seen, idle))
    }

    async fn update(
        &self,
        sid: &SessionId,
        v: u64,
        u: &SessionUpdate,
    ) -> Result<UpdateOutcome, StoreError> {
        forward!(self.update(sid, v, u))
    }

    async fn revoke(&self, sid: &SessionId, r: Revocation) -> Result<Option<String>, StoreError> {
        forward!(self.revoke(sid, r))
    }

    async fn revoke_user(
        &self,
        user: &str,
        except: Option<&SessionId>,
        r: Revocation,
    ) -> Result<Vec<SessionId>, StoreError> {
        forward!(self.revoke_user(user, except, r))
    }

    async fn revoke_token(&self, jti: &str, until: Timestamp) -> Result<(), StoreError> {
        forward!(self.revoke_token(jti, until))
    }

    async fn list_user(&self, user: &str, now: Timestamp) -> Result<Vec<Session>, StoreError> {
        forward!(self.list_user(user, now))
    }

    async fn count_live(&self, now: Timestamp) -> Result<u64, StoreError> {
        forward!(self.count_live(now))
    }

    fn feeds(&self) -> usize {
        match self {
            AnyStore::Sqlite(s) => s.feeds(),
            AnyStore::Redis(s) => s.feeds(),
            AnyStore::Postgres(s) => s.feeds(),
        }
    }

    async fn revocations_after(
        &self,
        feed: usize,
        after: u64,
        limit: usize,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        forward!(self.revocations_after(feed, after, limit))
    }

    async fn purge_expired(&self, now: Timestamp, batch: usize) -> Result<usize, StoreError> {
        forward!(self.purge_expired(now, batch))
    }
}

impl RateLimitStore for AnyStore {
    async fn rate_limit(
        &self,
        key: &str,
        quota: &Quota,
        now: Timestamp,
    ) -> Result<RateDecision, StoreError> {
        forward!(self.rate_limit(key, quota, now))
    }

    async fn reset_rate_limit(&self, key: &str) -> Result<(), StoreError> {
        forward!(self.reset_rate_limit(key))
    }
}

impl AuditStore for AnyStore {
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        forward!(self.append_audit(events))
    }

    async fn audit_for_user(
        &self,
        user: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        forward!(self.audit_for_user(user, before, limit))
    }

    async fn purge_audit(&self, cutoff: Timestamp, batch: usize) -> Result<usize, StoreError> {
        forward!(self.purge_audit(cutoff, batch))
    }
}

impl AccountStore for AnyStore {
    async fn create_user(&self, user: &User) -> Result<bool, StoreError> {
        forward!(self.create_user(user))
    }

    async fn get_user(&self, id: &AccountId) -> Result<Option<User>, StoreError> {
        forward!(self.get_user(id))
    }

    async fn find_user(&self, login: &LoginName) -> Result<Option<User>, StoreError> {
        forward!(self.find_user(login))
    }

    async fn set_password(
        &self,
        id: &AccountId,
        password: &PasswordHash,
    ) -> Result<bool, StoreError> {
        forward!(self.set_password(id, password))
    }

    async fn list_users(
        &self,
        after: Option<&LoginName>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        forward!(self.list_users(after, limit))
    }

    async fn delete_user(&self, id: &AccountId) -> Result<bool, StoreError> {
        forward!(self.delete_user(id))
    }
}

impl ApiKeyStore for AnyStore {
    async fn create_api_key(&self, key: &StoredApiKey) -> Result<bool, StoreError> {
        forward!(self.create_api_key(key))
    }

    async fn list_api_keys(&self) -> Result<Vec<StoredApiKey>, StoreError> {
        forward!(self.list_api_keys())
    }

    async fn revoke_api_key(
        &self,
        name: &str,
        until: Timestamp,
    ) -> Result<Option<TokenHash>, StoreError> {
        forward!(self.revoke_api_key(name, until))
    }

    async fn record_api_key_use(
        &self,
        name: &str,
        hash: &TokenHash,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        forward!(self.record_api_key_use(name, hash, at))
    }
}

impl KeyStore for AnyStore {
    async fn load_keyset(&self) -> Result<Option<StoredKeyset>, StoreError> {
        forward!(self.load_keyset())
    }

    async fn save_keyset(
        &self,
        expected: Option<u64>,
        document: &[u8],
    ) -> Result<bool, StoreError> {
        forward!(self.save_keyset(expected, document))
    }

    async fn get_setting(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        forward!(self.get_setting(name))
    }

    async fn put_setting(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        forward!(self.put_setting(name, value))
    }

    async fn init_setting(&self, name: &str, value: &[u8]) -> Result<Vec<u8>, StoreError> {
        forward!(self.init_setting(name, value))
    }
}
