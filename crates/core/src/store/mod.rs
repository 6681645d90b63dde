//! Storage, split by concern: one small trait per kind of data, each method one atomic step.
//!
//! | trait | holds | atomicity |
//! |---|---|---|
//! | [`SessionStore`] | sessions and the revocation feed | each step changes one session (or one user's) and appends its feed entries together |
//! | [`RateLimitStore`] | rate-limit state | each decision is one read-decide-write |
//! | [`AuditStore`] | the audit trail | each append is one event |
//! | [`AccountStore`] | accounts of the built-in sign-in | each step one account |
//! | [`ApiKeyStore`] | named API keys | revoking deletes and appends to the feed together |
//! | [`KeyStore`] | the signing keyset and server-wide settings | compare-and-save; set-once |
//!
//! Each method is a single atomic step in the backend (one transaction, one Lua script, one
//! critical section). Methods that change a session take everything they need to decide in one
//! go, so no read-modify-write spans two calls. Time is passed in, never read by a store.
//! [`Store`] is every concern together: what [`crate::SessionManager`] needs. A new backend can
//! land one concern at a time and run the shared conformance suite (`tessera-testkit`) once
//! all are there.
//!
//! ```
//! use tessera::MemoryStore;
//! use tessera::store::KeyStore;
//! # async fn demo() -> Result<(), tessera::StoreError> {
//! let store = MemoryStore::new();
//! assert!(store.load_keyset().await?.is_none());
//! # Ok(()) }
//! ```

mod accounts;
mod api_keys;
mod audit;
mod breaker;
mod keys;
mod limits;
mod memory;
mod record;
mod sessions;

pub use accounts::{AccountStore, User};
pub use api_keys::{ApiKeyStore, StoredApiKey};
pub use audit::AuditStore;
pub use breaker::Breaker;
pub use keys::{KeyStore, StoredKeyset};
pub use limits::RateLimitStore;
pub use memory::MemoryStore;
pub use record::SessionRecord;
pub use sessions::{
    CreateOutcome, FeedEntry, LimitCheck, RateCharge, Revocation, Revoked, RotateOutcome, Rotation,
    SessionStore, SessionUpdate, UpdateOutcome,
};

/// Every concern together: what the session manager runs on.
pub trait Store:
    SessionStore + RateLimitStore + AuditStore + AccountStore + ApiKeyStore + KeyStore
{
}

impl<T> Store for T where
    T: SessionStore + RateLimitStore + AuditStore + AccountStore + ApiKeyStore + KeyStore
{
}
