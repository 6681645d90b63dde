//! Storage: one trait method per atomic operation the core needs.
//!
//! Each method is a single atomic step in the backend (one transaction, one Lua script, one
//! critical section). Methods that change a session take everything they need to decide in
//! one go, so no read-modify-write spans two calls. Time is passed in, never read by a store.
//!
//! ```
//! use tessera::{MemoryStore, Store};
//! # async fn demo() -> Result<(), tessera::StoreError> {
//! let store = MemoryStore::new();
//! assert!(store.load_keyset().await?.is_none());
//! # Ok(()) }
//! ```

mod memory;

use std::future::Future;

use serde_json::{Map, Value};

pub use memory::MemoryStore;

use crate::{
    AccountId, ApiScope, AuditEvent, LoginName, PasswordHash, Quota, RateDecision, RefreshState,
    RevokeReason, Session, SessionId, SessionLimit, StoreError, StoredEvent, Timestamp, TokenHash,
};

/// A compare-and-set rotation of a session's refresh state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The generation the caller saw; the rotation happens only if it is still current.
    pub expected_generation: u64,
    /// The new refresh state (generation `expected_generation + 1`).
    pub next: RefreshState,
    /// Activity to record with it.
    pub last_seen_at: Timestamp,
    /// The slid idle expiry.
    pub idle_expires_at: Timestamp,
}

/// What [`Store::rotate`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum RotateOutcome {
    /// The rotation was applied.
    Rotated,
    /// It was not: the session is gone, revoked, or its generation moved. The current record (if
    /// any) is returned so the caller can decide without another read.
    Conflict(Option<Box<Session>>),
}

/// What [`Store::create`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    /// Created; these sessions of the same user were evicted to respect the limit.
    Created {
        /// Evicted sessions, oldest first (revoked with [`RevokeReason::Evicted`]).
        evicted: Vec<SessionId>,
    },
    /// A session with this id exists; nothing was written.
    AlreadyExists,
    /// The user is at the limit and the policy is to deny; nothing was written.
    LimitReached,
}

/// A change of a session's application claims, data and/or browser cookie.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionUpdate {
    /// New application claims, if changing.
    pub claims: Option<Map<String, Value>>,
    /// New application data, if changing.
    pub data: Option<Value>,
    /// A new browser cookie hash, if changing (sign-in, privilege change).
    pub cookie: Option<TokenHash>,
}

/// An account of the built-in sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The identity tokens carry in `sub`: server-generated, never changes.
    pub id: AccountId,
    /// The name its owner signs in with (normalized; unique).
    pub login: LoginName,
    /// The password's Argon2id hash.
    pub password: PasswordHash,
    /// When the account was created.
    pub created_at: Timestamp,
}

/// What [`Store::update`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// Applied; the session now has this version.
    Updated(u64),
    /// Not applied: the session's version is not the expected one (this is the current one).
    VersionMismatch(u64),
    /// No live session with that id.
    NotFound,
}

/// How to revoke: why, when, and until when the revocation feed must remember it (the expiry
/// of the longest-lived access token the session may have issued).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revocation {
    /// Why.
    pub reason: RevokeReason,
    /// When.
    pub at: Timestamp,
    /// Feed entries may be dropped after this instant.
    pub until: Timestamp,
}

/// What a revocation feed entry revokes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Revoked {
    /// Every access token of a session.
    Session(SessionId),
    /// One access token, by `jti`.
    Token(String),
    /// An API key, by its hash: every node stops accepting it. Not shown to outside followers.
    ApiKey(TokenHash),
}

/// A named, scoped API key as stored: its hash, never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredApiKey {
    /// Unique name (also the client id of RFC 7009 / 7662 Basic authentication).
    pub name: String,
    /// What it may do.
    pub scope: ApiScope,
    /// SHA-256 of the key.
    pub hash: TokenHash,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it was last used, as last recorded (recorded in batches, not per request).
    pub last_used_at: Option<Timestamp>,
}

/// One entry of the revocation feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    /// Position in the feed; strictly increasing.
    pub cursor: u64,
    /// What is revoked.
    pub revoked: Revoked,
    /// The entry matters until then (afterwards every affected token has expired).
    pub until: Timestamp,
}

/// A persisted keyset document with its version, for compare-and-save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKeyset {
    /// Incremented by every save.
    pub version: u64,
    /// The document (see `Keyset::to_document`). Holds private keys.
    pub document: Vec<u8>,
}

/// A session limit applied atomically at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitCheck {
    /// The limit.
    pub limit: SessionLimit,
    /// The current time, to tell live sessions from dead ones.
    pub now: Timestamp,
    /// The revocation recorded on evicted sessions.
    pub eviction: Revocation,
}

/// Session storage. Every method is one atomic step; see the module docs.
pub trait Store: Send + Sync {
    /// Inserts `session` unless its id exists (never overwrites). With `limit`, counts the user's
    /// live sessions in the same step and denies or evicts the oldest as the limit says.
    fn create(
        &self,
        session: &Session,
        limit: Option<LimitCheck>,
    ) -> impl Future<Output = Result<CreateOutcome, StoreError>> + Send;

    /// The session with this id, live or not.
    fn get(
        &self,
        sid: &SessionId,
    ) -> impl Future<Output = Result<Option<Session>, StoreError>> + Send;

    /// Compare-and-set of the refresh state: applies `rotation` only if the session exists, is
    /// not revoked, and its generation equals `rotation.expected_generation`.
    fn rotate(
        &self,
        sid: &SessionId,
        rotation: &Rotation,
    ) -> impl Future<Output = Result<RotateOutcome, StoreError>> + Send;

    /// Records activity on a non-revoked session. Returns whether it exists and was updated.
    fn touch(
        &self,
        sid: &SessionId,
        last_seen_at: Timestamp,
        idle_expires_at: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Compare-and-set of claims/data on the session's `version`; bumps the version.
    fn update(
        &self,
        sid: &SessionId,
        expected_version: u64,
        update: &SessionUpdate,
    ) -> impl Future<Output = Result<UpdateOutcome, StoreError>> + Send;

    /// Revokes one session and appends it to the revocation feed, in one step. Returns the
    /// session's user id if it was revoked now; `None` if it does not exist or was already
    /// revoked (and then appends nothing).
    fn revoke(
        &self,
        sid: &SessionId,
        revocation: Revocation,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Revokes every non-revoked session of `user_id` except `except`, appending each to the
    /// feed. Returns the revoked ids.
    fn revoke_user(
        &self,
        user_id: &str,
        except: Option<&SessionId>,
        revocation: Revocation,
    ) -> impl Future<Output = Result<Vec<SessionId>, StoreError>> + Send;

    /// Appends a single access token (by `jti`) to the revocation feed until its expiry.
    fn revoke_token(
        &self,
        jti: &str,
        until: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The user's live sessions at `now`, oldest first. Cost grows with that user's sessions only.
    fn list_user(
        &self,
        user_id: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<Session>, StoreError>> + Send;

    /// How many sessions are live at `now` (for a gauge; may scan the live-session index).
    fn count_live(&self, now: Timestamp) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// Feed entries with a cursor greater than `after`, in cursor order, at most `limit`.
    fn revocations_after(
        &self,
        after: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<FeedEntry>, StoreError>> + Send;

    /// Deletes up to `batch` sessions that are expired or revoked at `now`, and feed entries past
    /// their `until`. Returns how many sessions were deleted; call again while it returns `batch`.
    fn purge_expired(
        &self,
        now: Timestamp,
        batch: usize,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// One atomic rate-limit decision for `key` at `now` (GCRA; see [`crate::gcra`]). Every
    /// caller sharing the store shares the limit; concurrent callers never exceed it.
    fn rate_limit(
        &self,
        key: &str,
        quota: &Quota,
        now: Timestamp,
    ) -> impl Future<Output = Result<RateDecision, StoreError>> + Send;

    /// Appends an event to the audit trail.
    fn append_audit(
        &self,
        event: &AuditEvent,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// A user's audit events, newest first: those with an id below `before` (all when `None`),
    /// at most `limit`. Cost grows with that user's events only.
    fn audit_for_user(
        &self,
        user_id: &str,
        before: Option<u64>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<StoredEvent>, StoreError>> + Send;

    /// Deletes up to `batch` audit events recorded before `cutoff`; returns how many.
    fn purge_audit(
        &self,
        cutoff: Timestamp,
        batch: usize,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// Forgets the state of a rate limit (a successful sign-in clears its failures).
    fn reset_rate_limit(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Creates an account unless its login name (or id) is taken. Returns whether it was created.
    fn create_user(&self, user: &User) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The account with this id.
    fn get_user(
        &self,
        id: &AccountId,
    ) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;

    /// The account with this login name. A store that kept accounts by name before account ids
    /// existed gives such an account a fresh id here, once, in the same step.
    fn find_user(
        &self,
        login: &LoginName,
    ) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;

    /// Replaces an account's password hash. Returns whether the account exists.
    fn set_password(
        &self,
        id: &AccountId,
        password: &PasswordHash,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Stores a named API key unless the name is taken. Returns whether it was stored.
    fn create_api_key(
        &self,
        key: &StoredApiKey,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Every named API key, by name.
    fn list_api_keys(&self) -> impl Future<Output = Result<Vec<StoredApiKey>, StoreError>> + Send;

    /// Deletes the key named `name` and appends [`Revoked::ApiKey`] to the revocation feed
    /// (kept until `until`), in one step. Returns the deleted key's hash, `None` if no such key.
    fn revoke_api_key(
        &self,
        name: &str,
        until: Timestamp,
    ) -> impl Future<Output = Result<Option<TokenHash>, StoreError>> + Send;

    /// Records that the key `name` with this hash was used at `at` (only moves forward; a
    /// replaced or deleted key is left alone).
    fn record_api_key_use(
        &self,
        name: &str,
        hash: &TokenHash,
        at: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The stored keyset, if any.
    fn load_keyset(&self) -> impl Future<Output = Result<Option<StoredKeyset>, StoreError>> + Send;

    /// A named server-wide value (e.g. the server secret, the admin API key's hash), if set.
    fn get_setting(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;

    /// Sets a named server-wide value, replacing any previous one.
    fn put_setting(
        &self,
        name: &str,
        value: &[u8],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores `value` under `name` unless a value is already there, and returns the value that
    /// is stored afterwards: nodes racing to initialise a secret all end up with the same one.
    fn init_setting(
        &self,
        name: &str,
        value: &[u8],
    ) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;

    /// Saves `document` if the stored version is `expected` (`None`: nothing stored yet).
    /// Returns whether it was saved; on success the version is `expected + 1` (or 1).
    fn save_keyset(
        &self,
        expected: Option<u64>,
        document: &[u8],
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
