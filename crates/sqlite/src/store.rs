//! [`SqliteStore`]: the [`Store`] implementation.

use std::path::Path;

use std::sync::Arc;
use tessera::store::{
    CreateOutcome, FeedEntry, LimitCheck, Revocation, RotateOutcome, Rotation, SessionUpdate,
    StoredApiKey, StoredKeyset, UpdateOutcome, User,
};

use tessera::{
    AccountId, AuditEvent, LoginName, PasswordHash, Quota, RateDecision, RateLimiter, Session,
    SessionId, Store, StoreError, StoredEvent, Timestamp, TokenHash,
};

use crate::worker::{Readers, Writer};
use crate::{accounts, ops};

/// A Tessera store in one SQLite file. Clones share the writer thread and read pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: Writer,
    readers: Readers,
    /// Rate limits live in the process, not the file: they need no durability, an fsync per
    /// request would cost more than the limit protects, and a SQLite store serves one node.
    limits: Arc<RateLimiter>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`, applying migrations.
    ///
    /// # Errors
    /// A [`StoreError`] if the file cannot be opened or migrated.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let writer = Writer::start(path)?;
        Ok(Self {
            writer,
            readers: Readers::new(path),
            limits: Arc::default(),
        })
    }
}

impl Store for SqliteStore {
    async fn create(
        &self,
        session: &Session,
        limit: Option<LimitCheck>,
    ) -> Result<CreateOutcome, StoreError> {
        let session = session.clone();
        self.writer
            .write(move |c| ops::create(c, &session, limit))
            .await
    }

    async fn get(&self, sid: &SessionId) -> Result<Option<Session>, StoreError> {
        let sid = *sid;
        self.readers.read(move |c| ops::get(c, &sid)).await
    }

    async fn rotate(
        &self,
        sid: &SessionId,
        rotation: &Rotation,
    ) -> Result<RotateOutcome, StoreError> {
        let (sid, rotation) = (*sid, rotation.clone());
        self.writer
            .write(move |c| ops::rotate(c, &sid, &rotation))
            .await
    }

    async fn touch(
        &self,
        sid: &SessionId,
        seen: Timestamp,
        idle: Timestamp,
    ) -> Result<bool, StoreError> {
        let sid = *sid;
        self.writer
            .write(move |c| ops::touch(c, &sid, seen, idle))
            .await
    }

    async fn update(
        &self,
        sid: &SessionId,
        expected: u64,
        update: &SessionUpdate,
    ) -> Result<UpdateOutcome, StoreError> {
        let (sid, update) = (*sid, update.clone());
        self.writer
            .write(move |c| ops::update(c, &sid, expected, &update))
            .await
    }

    async fn revoke(
        &self,
        sid: &SessionId,
        revocation: Revocation,
    ) -> Result<Option<String>, StoreError> {
        let sid = *sid;
        self.writer
            .write(move |c| ops::revoke(c, &sid, revocation))
            .await
    }

    async fn revoke_user(
        &self,
        user_id: &str,
        except: Option<&SessionId>,
        r: Revocation,
    ) -> Result<Vec<SessionId>, StoreError> {
        let (user_id, except) = (user_id.to_owned(), except.copied());
        self.writer
            .write(move |c| ops::revoke_user(c, &user_id, except, r))
            .await
    }

    async fn revoke_token(&self, jti: &str, until: Timestamp) -> Result<(), StoreError> {
        let target = tessera::store::Revoked::Token(jti.to_owned());
        self.writer
            .write(move |c| ops::append(c, &target, until))
            .await
    }

    async fn list_user(&self, user_id: &str, now: Timestamp) -> Result<Vec<Session>, StoreError> {
        let user_id = user_id.to_owned();
        self.readers
            .read(move |c| ops::live_sessions(c, &user_id, now))
            .await
    }

    async fn count_live(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.readers.read(move |c| ops::count_live(c, now)).await
    }

    async fn revocations_after(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<FeedEntry>, StoreError> {
        self.readers
            .read(move |c| ops::revocations_after(c, after, limit))
            .await
    }

    async fn purge_expired(&self, now: Timestamp, batch: usize) -> Result<usize, StoreError> {
        self.writer.write(move |c| ops::purge(c, now, batch)).await
    }

    async fn get_setting(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let name = name.to_owned();
        self.readers.read(move |c| ops::get_setting(c, &name)).await
    }

    async fn put_setting(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        let (name, value) = (name.to_owned(), value.to_vec());
        self.writer
            .write(move |c| ops::put_setting(c, &name, &value))
            .await
    }

    async fn init_setting(&self, name: &str, value: &[u8]) -> Result<Vec<u8>, StoreError> {
        let (name, value) = (name.to_owned(), value.to_vec());
        self.writer
            .write(move |c| ops::init_setting(c, &name, &value))
            .await
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
        let event = event.clone();
        self.writer
            .write(move |c| ops::append_audit(c, &event))
            .await
    }

    async fn audit_for_user(
        &self,
        user_id: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let user_id = user_id.to_owned();
        self.readers
            .read(move |c| ops::audit_for_user(c, &user_id, before, limit))
            .await
    }

    async fn purge_audit(&self, cutoff: Timestamp, batch: usize) -> Result<usize, StoreError> {
        self.writer
            .write(move |c| ops::purge_audit(c, cutoff, batch))
            .await
    }

    async fn reset_rate_limit(&self, key: &str) -> Result<(), StoreError> {
        self.limits.reset(key);
        Ok(())
    }

    async fn create_user(&self, user: &User) -> Result<bool, StoreError> {
        let user = user.clone();
        self.writer
            .write(move |c| accounts::create_user(c, &user))
            .await
    }

    async fn get_user(&self, id: &AccountId) -> Result<Option<User>, StoreError> {
        let id = id.clone();
        self.readers.read(move |c| accounts::get_user(c, &id)).await
    }

    async fn find_user(&self, login: &LoginName) -> Result<Option<User>, StoreError> {
        let login = login.clone();
        self.readers
            .read(move |c| accounts::find_user(c, &login))
            .await
    }

    async fn set_password(
        &self,
        id: &AccountId,
        password: &PasswordHash,
    ) -> Result<bool, StoreError> {
        let (id, password) = (id.clone(), password.clone());
        self.writer
            .write(move |c| accounts::set_password(c, &id, &password))
            .await
    }

    async fn create_api_key(&self, key: &StoredApiKey) -> Result<bool, StoreError> {
        let key = key.clone();
        self.writer
            .write(move |c| accounts::create_api_key(c, &key))
            .await
    }

    async fn list_api_keys(&self) -> Result<Vec<StoredApiKey>, StoreError> {
        self.readers.read(accounts::list_api_keys).await
    }

    async fn revoke_api_key(
        &self,
        name: &str,
        until: Timestamp,
    ) -> Result<Option<TokenHash>, StoreError> {
        let name = name.to_owned();
        self.writer
            .write(move |c| accounts::revoke_api_key(c, &name, until))
            .await
    }

    async fn record_api_key_use(
        &self,
        name: &str,
        hash: &TokenHash,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let (name, hash) = (name.to_owned(), *hash);
        self.writer
            .write(move |c| accounts::record_api_key_use(c, &name, &hash, at))
            .await
    }

    async fn load_keyset(&self) -> Result<Option<StoredKeyset>, StoreError> {
        self.readers.read(ops::load_keyset).await
    }

    async fn save_keyset(
        &self,
        expected: Option<u64>,
        document: &[u8],
    ) -> Result<bool, StoreError> {
        let document = document.to_vec();
        self.writer
            .write(move |c| ops::save_keyset(c, expected, &document))
            .await
    }
}
