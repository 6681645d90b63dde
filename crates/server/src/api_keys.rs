//! The API keys this node accepts: the bootstrap admin key, and the named, scoped keys of the
//! store, held in memory so that checking a key never waits on the store.
//!
//! A key made on another node is picked up by the periodic reload, or at once by the first
//! request that presents it (a reload on a miss, at most once a second, so a flood of wrong
//! keys costs the store one read a second). A revoked key stops working as soon as this node
//! reads the revocation entry from the feed. Last-use times are gathered here and written by a
//! background task, never per request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use subtle::ConstantTimeEq;
use tessera::store::StoredApiKey;
use tessera::{ApiKey, ApiScope, BOOTSTRAP_KEY_NAME, Clock, SystemClock, Timestamp, TokenHash};

use crate::boot::Manager;

/// Longest gap between reloads forced by unknown keys.
const MISS_RELOAD_EVERY: Duration = Duration::from_secs(1);

/// A named key cannot be vouched for: this node has not read the revocation feed recently
/// enough to know it was not revoked elsewhere (the store is out of reach).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stale;

/// Who called: the key's name and scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The key's name (`admin` for the bootstrap key).
    pub name: String,
    /// What it may do.
    pub scope: ApiScope,
}

/// The keys in force on this node.
#[derive(Debug)]
pub struct ApiKeys {
    bootstrap: TokenHash,
    named: RwLock<Arc<Vec<StoredApiKey>>>,
    last_miss_reload: Mutex<Option<Timestamp>>,
    used: Mutex<HashMap<String, (TokenHash, Timestamp)>>,
}

impl ApiKeys {
    /// The bootstrap admin key (by hash) and the named keys as loaded.
    pub fn new(bootstrap: TokenHash, named: Vec<StoredApiKey>) -> Self {
        Self {
            bootstrap,
            named: RwLock::new(Arc::new(named)),
            last_miss_reload: Mutex::default(),
            used: Mutex::default(),
        }
    }

    /// The caller presenting `key` (and, with HTTP Basic, claiming the name `client_id`), or
    /// `None`. A wrong key, a wrong name and a revoked key are one answer.
    ///
    /// # Errors
    /// [`Stale`] for a named key while this node's revocation view is stale: like tokens,
    /// keys fail closed when a revocation could have been missed.
    pub async fn authenticate(
        &self,
        manager: &Manager,
        key: &ApiKey,
        client_id: Option<&str>,
    ) -> Result<Option<Caller>, Stale> {
        let hash = key.hash();
        let mut found = self.find(&hash);
        if found.is_none() && self.may_reload_on_miss() {
            if let Err(e) = self.reload(manager).await {
                tracing::warn!(error = %e, "cannot reload API keys");
            }
            found = self.find(&hash);
        }
        let Some(caller) = found.filter(|_| !manager.is_api_key_revoked(&hash)) else {
            return Ok(None);
        };
        if client_id.is_some_and(|id| id != caller.name) {
            return Ok(None);
        }
        if caller.name != BOOTSTRAP_KEY_NAME {
            let now = SystemClock.now();
            if !manager.revoked_view().is_current(now) {
                return Err(Stale);
            }
            self.used
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(caller.name.clone(), (hash, now));
        }
        Ok(Some(caller))
    }

    /// Compares `hash` with every key, without stopping at a match, in constant time each.
    fn find(&self, hash: &TokenHash) -> Option<Caller> {
        let named = Arc::clone(&self.named.read().unwrap_or_else(PoisonError::into_inner));
        let mut found = None;
        if bool::from(self.bootstrap.as_bytes().ct_eq(hash.as_bytes())) {
            found = Some(Caller {
                name: BOOTSTRAP_KEY_NAME.to_owned(),
                scope: ApiScope::Admin,
            });
        }
        for key in named.iter() {
            if bool::from(key.hash.as_bytes().ct_eq(hash.as_bytes())) {
                found = Some(Caller {
                    name: key.name.clone(),
                    scope: key.scope,
                });
            }
        }
        found
    }

    fn may_reload_on_miss(&self) -> bool {
        let now = SystemClock.now();
        let mut last = self
            .last_miss_reload
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if last.is_some_and(|at| now.since(at) < MISS_RELOAD_EVERY) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// Reads the named keys from the store again.
    ///
    /// # Errors
    /// Store errors.
    pub async fn reload(&self, manager: &Manager) -> Result<(), tessera::Error> {
        let keys = manager.api_keys().await?;
        *self.named.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(keys);
        Ok(())
    }

    /// Writes the last-use times gathered since the previous call.
    ///
    /// # Errors
    /// Store errors (the times not written are kept for the next call).
    pub async fn flush_use(&self, manager: &Manager) -> Result<(), tessera::Error> {
        let used: Vec<_> = self
            .used
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .drain()
            .collect();
        for (i, (name, (hash, at))) in used.iter().enumerate() {
            if let Err(e) = manager.record_api_key_use(name, hash, *at).await {
                let mut pending = self.used.lock().unwrap_or_else(PoisonError::into_inner);
                for (name, value) in &used[i..] {
                    pending.entry(name.clone()).or_insert(*value);
                }
                return Err(e);
            }
        }
        Ok(())
    }
}
