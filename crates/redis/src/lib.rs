//! # tessera-redis
//!
//! A Tessera store on Redis, for several `tessera` nodes sharing sessions. Every atomic step is
//! one Lua script on one Cluster slot. A user's sessions, their index, rate limits, feed
//! entries and audit events live in one of 64 shards, named by hash tags whose slots spread
//! evenly over a Cluster's masters; a session id carries its shard, so no step needs a
//! directory. Keys, settings, accounts and API keys live in one small global slot (the
//! deployment's tag, by default `{tessera}`). A session is a packed record in a field of one of
//! its shard's hashes (no key of its own: about 350 bytes a refreshed session, indexes
//! included), filed in a purge index by the minute it ends and deleted then; a user's sessions
//! and the ids of their audit events are listed in one field of one of the shard's user hashes,
//! so listing either never scans.
//! Revocations go to a feed per shard (a sorted set by cursor), announced on the shard's
//! sharded channel for nodes to catch up at once.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tessera::StoreError> {
//! use tessera::store::KeyStore;
//! let store = tessera_redis::RedisStore::connect("redis://127.0.0.1:6379/", "{tessera}").await?;
//! assert!(store.get_setting("server-secret").await.is_ok());
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod accounts;
mod agents;
mod api_keys;
mod audit;
mod breaker;
mod codec;
mod conn;
mod keys;
mod layout;
mod limits;
mod migrate;
mod scripts;
mod sessions;
mod store;
mod tls;

pub use migrate::Migrated;
pub use store::RedisStore;
