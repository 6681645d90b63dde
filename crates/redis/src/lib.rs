//! # tessera-redis
//!
//! A Tessera store on Redis, for several `tessera` nodes sharing sessions. Every atomic step is
//! one Lua script; every key lives under one hash tag (by default `{tessera}`), so every script
//! touches a single Cluster slot. Sessions are hashes whose native expiry follows their own
//! idle and absolute timeouts; a user's sessions are indexed in a sorted set, so listing them
//! never scans. Revocations go to a feed (a sorted set by cursor) and are announced on a
//! channel for nodes to catch up at once.
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
mod api_keys;
mod audit;
mod breaker;
mod codec;
mod conn;
mod keys;
mod limits;
mod scripts;
mod sessions;
mod store;

pub use store::RedisStore;
