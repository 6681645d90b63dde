//! # tessera-postgres
//!
//! Tessera's store for teams that already run PostgreSQL: durable, shared by every node.
//!
//! Every step is one statement or one transaction, with the promises of the other stores: a
//! refresh is a compare-and-set under the session's row lock with its rate charged in the same
//! transaction; a revocation commits with its feed entry; a creation counts the user's live
//! sessions under a per-user lock. Feed cursors are handed out by one counter row, locked until
//! commit, so they are in commit order and a follower never passes an entry still in flight.
//! New entries are announced with `NOTIFY`; nodes `LISTEN` and still poll, and fail closed
//! when they fall behind. Migrations are embedded, versioned, and applied at start under an
//! advisory lock, so several nodes may start at once.
//!
//! ```no_run
//! # async fn demo() -> Result<(), tessera::StoreError> {
//! use tessera::store::KeyStore;
//! let store = tessera_postgres::PostgresStore::connect(
//!     "postgres://tessera:secret@db.internal/tessera?sslmode=require&sslrootcert=/etc/tessera/db-ca.pem",
//! ).await?;
//! assert!(store.get_setting("server-secret").await.is_ok());
//! # Ok(()) }
//! ```

#![deny(missing_docs)]

mod accounts;
mod api_keys;
mod audit;
mod feed;
mod keys;
mod schema;
mod sessions;
mod store;

pub use store::PostgresStore;
