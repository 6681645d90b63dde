//! # tessera-sqlite
//!
//! Tessera's default store: a single SQLite file in WAL mode, nothing to install.
//!
//! Writes go through one dedicated writer thread that commits them in small groups (one
//! `fsync` for many requests, `synchronous = FULL`, so an acknowledged write survives a crash
//! of the process or the machine). Reads run on a small pool of read connections on Tokio's
//! blocking threads, so neither ever blocks the async runtime.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tessera::StoreError> {
//! use tessera::store::KeyStore;
//! let store = tessera_sqlite::SqliteStore::open("tessera-data/tessera.db")?;
//! assert!(store.get_setting("server-secret").await?.is_none());
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod accounts;
mod api_keys;
mod audit;
mod codec;
mod feed;
mod keys;
mod rows;
mod schema;
mod sessions;
mod store;
mod worker;

pub use store::SqliteStore;
