//! [`SqliteStore`]: the handle every concern's implementation hangs off, and its rate limits.

use std::path::Path;
use std::sync::Arc;

use tessera::store::RateLimitStore;
use tessera::{Quota, RateDecision, RateLimiter, StoreError, Timestamp};

use crate::worker::{Readers, Writer};

/// A Tessera store in one SQLite file. Clones share the writer thread and read pool.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pub(crate) writer: Writer,
    pub(crate) readers: Readers,
    /// Rate limits live in the process, not the file: they need no durability, an fsync per
    /// request would cost more than the limit protects, and a SQLite store serves one node.
    pub(crate) limits: Arc<RateLimiter>,
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

impl RateLimitStore for SqliteStore {
    async fn rate_limit(
        &self,
        key: &str,
        quota: &Quota,
        now: Timestamp,
    ) -> Result<RateDecision, StoreError> {
        Ok(self.limits.decide(key, quota, now))
    }

    async fn reset_rate_limit(&self, key: &str) -> Result<(), StoreError> {
        self.limits.reset(key);
        Ok(())
    }
}
