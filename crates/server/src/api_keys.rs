//! The API keys this node accepts: the bootstrap admin key, and the named, scoped keys of the
//! store, held in memory so that checking a key never waits on the store.
//!
//! A key made on another node is picked up by the periodic reload, or at once by the first
//! request that presents it (a reload on a miss, at most once a second, so a flood of wrong
//! keys costs the store one read a second). A revoked key stops working as soon as this node
//! reads the revocation entry from the feed. Last-use times are gathered here, in an atomic
//! beside each key (no lock on the request path), and written by a background task, never per
//! request.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use tessera::store::{KeyStore, StoredApiKey};
use tessera::{ApiKey, ApiScope, AuditKind, BOOTSTRAP_KEY_NAME, Clock, Timestamp, TokenHash};

use crate::boot::{ADMIN_KEY_SETTING, Manager};

/// The bootstrap admin keys revoked so far, by hash (32 bytes each, end to end): no node
/// accepts one, and no start takes one again.
const REVOKED_ADMIN_SETTING: &str = "admin-api-key-revoked";

/// The bootstrap admin key hashes revoked so far.
///
/// # Errors
/// Store errors.
pub async fn revoked_bootstrap_keys(
    store: &impl KeyStore,
) -> Result<Vec<TokenHash>, tessera::Error> {
    let stored = store
        .get_setting(REVOKED_ADMIN_SETTING)
        .await?
        .unwrap_or_default();
    Ok(stored
        .chunks_exact(32)
        .filter_map(|c| <[u8; 32]>::try_from(c).ok())
        .map(TokenHash::from_bytes)
        .collect())
}

/// The hash of the bootstrap admin key in force, as the store holds it (set by the first
/// start, or by `admin_api_key`).
///
/// # Errors
/// Store errors; a stored value that is not a hash.
pub async fn stored_bootstrap_key(
    store: &impl KeyStore,
) -> Result<Option<TokenHash>, tessera::Error> {
    let Some(stored) = store.get_setting(ADMIN_KEY_SETTING).await? else {
        return Ok(None);
    };
    let bytes = <[u8; 32]>::try_from(stored.as_slice()).map_err(|_| {
        tessera::StoreError::new(
            tessera::StoreErrorKind::Corrupt,
            "the stored admin key hash is not 32 bytes",
        )
    })?;
    Ok(Some(TokenHash::from_bytes(bytes)))
}

/// Whether `hash` is among `revoked` (each compared in constant time).
pub fn is_revoked_bootstrap(revoked: &[TokenHash], hash: &TokenHash) -> bool {
    revoked.iter().fold(false, |any, r| any | r.ct_eq(hash))
}

/// Revokes the bootstrap admin key in force (a leaked `admin-api-key` file, say): this
/// process stops accepting it now, running servers at their next key reload (within 15 s),
/// and no start takes it again. A named admin key keeps working; a new bootstrap key comes
/// from `admin_api_key` (`tessera api-key new`), or, without it, from the next start.
/// Audited. Returns whether there was one in force to revoke.
///
/// # Errors
/// Store errors.
pub async fn revoke_bootstrap(manager: &Manager) -> Result<bool, tessera::Error> {
    let store = manager.store();
    let Some(hash) = stored_bootstrap_key(store).await? else {
        return Ok(false);
    };
    let mut revoked = revoked_bootstrap_keys(store).await?;
    if is_revoked_bootstrap(&revoked, &hash) {
        return Ok(false);
    }
    revoked.push(hash);
    let list: Vec<u8> = revoked.iter().flat_map(|h| *h.as_bytes()).collect();
    store.put_setting(REVOKED_ADMIN_SETTING, &list).await?;
    let kind = AuditKind::ApiKeyRevoked {
        name: BOOTSTRAP_KEY_NAME.to_owned(),
    };
    manager.record(None, None, kind).await?;
    Ok(true)
}

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
    /// The bootstrap admin key, accepted until `bootstrap_revoked`.
    bootstrap: TokenHash,
    bootstrap_revoked: AtomicBool,
    named: RwLock<Arc<Vec<NamedKey>>>,
    last_miss_reload: Mutex<Option<Timestamp>>,
}

/// A named key and its last use not yet written.
#[derive(Debug)]
struct NamedKey {
    key: StoredApiKey,
    /// Milliseconds since the epoch of the latest use not yet written; 0 for none.
    unwritten_use: AtomicI64,
}

impl NamedKey {
    fn new(key: StoredApiKey) -> Self {
        Self {
            key,
            unwritten_use: AtomicI64::new(0),
        }
    }

    fn used(&self, at: Timestamp) {
        self.unwritten_use
            .fetch_max(at.as_millis(), Ordering::Relaxed);
    }

    fn take_use(&self) -> Option<Timestamp> {
        let at = self.unwritten_use.swap(0, Ordering::Relaxed);
        (at != 0).then(|| Timestamp::from_millis(at))
    }
}

/// A key that matched: who called, and the named key to mark as used.
struct Found {
    caller: Caller,
    named: Option<(Arc<Vec<NamedKey>>, usize)>,
}

impl ApiKeys {
    /// The bootstrap admin key (by hash) and the named keys as loaded.
    pub fn new(bootstrap: TokenHash, named: Vec<StoredApiKey>) -> Self {
        Self {
            bootstrap,
            bootstrap_revoked: AtomicBool::new(false),
            named: RwLock::new(Arc::new(named.into_iter().map(NamedKey::new).collect())),
            last_miss_reload: Mutex::default(),
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
        let now = manager.clock().now();
        let mut found = self.find(&hash);
        if found.is_none() && self.may_reload_on_miss(now) {
            if let Err(e) = self.reload(manager).await {
                tracing::warn!(error = %e, "cannot reload API keys");
            }
            found = self.find(&hash);
        }
        let Some(found) = found.filter(|_| !manager.is_api_key_revoked(&hash)) else {
            return Ok(None);
        };
        if client_id.is_some_and(|id| id != found.caller.name) {
            return Ok(None);
        }
        if let Some((named, i)) = &found.named {
            if !manager.revoked_view().is_current(now) {
                return Err(Stale);
            }
            named[*i].used(now);
        }
        Ok(Some(found.caller))
    }

    /// Compares `hash` with every key, without stopping at a match, in constant time each.
    fn find(&self, hash: &TokenHash) -> Option<Found> {
        let named = Arc::clone(&self.named.read().unwrap_or_else(PoisonError::into_inner));
        let mut found = None;
        let bootstrap = self.bootstrap.ct_eq(hash);
        if bootstrap && !self.bootstrap_revoked.load(Ordering::Relaxed) {
            found = Some(None);
        }
        for (i, named) in named.iter().enumerate() {
            if named.key.hash.ct_eq(hash) {
                found = Some(Some(i));
            }
        }
        Some(match found? {
            None => Found {
                caller: Caller {
                    name: BOOTSTRAP_KEY_NAME.to_owned(),
                    scope: ApiScope::Admin,
                },
                named: None,
            },
            Some(i) => Found {
                caller: Caller {
                    name: named[i].key.name.clone(),
                    scope: named[i].key.scope,
                },
                named: Some((named, i)),
            },
        })
    }

    fn may_reload_on_miss(&self, now: Timestamp) -> bool {
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

    /// Reads the named keys from the store again, carrying over the uses not yet written, and
    /// drops the bootstrap key if it was revoked. (A use marked on the old list while this
    /// swaps it is lost; the key's next use marks it again.)
    ///
    /// # Errors
    /// Store errors.
    pub async fn reload(&self, manager: &Manager) -> Result<(), tessera::Error> {
        let revoked = revoked_bootstrap_keys(manager.store()).await?;
        if is_revoked_bootstrap(&revoked, &self.bootstrap)
            && !self.bootstrap_revoked.swap(true, Ordering::Relaxed)
        {
            tracing::warn!("the bootstrap admin API key was revoked: no longer accepted");
        }
        let keys: Vec<NamedKey> = manager
            .api_keys()
            .await?
            .into_iter()
            .map(NamedKey::new)
            .collect();
        let mut named = self.named.write().unwrap_or_else(PoisonError::into_inner);
        for old in named.iter() {
            if let Some(at) = old.take_use()
                && let Some(new) = keys.iter().find(|k| k.key.hash == old.key.hash)
            {
                new.used(at);
            }
        }
        *named = Arc::new(keys);
        Ok(())
    }

    /// Writes the last-use times gathered since the previous call.
    ///
    /// # Errors
    /// Store errors (the times not written are kept for the next call).
    pub async fn flush_use(&self, manager: &Manager) -> Result<(), tessera::Error> {
        let named = Arc::clone(&self.named.read().unwrap_or_else(PoisonError::into_inner));
        let used: Vec<_> = named
            .iter()
            .filter_map(|k| Some((k, k.take_use()?)))
            .collect();
        for (i, (key, at)) in used.iter().enumerate() {
            let (name, hash) = (&key.key.name, &key.key.hash);
            if let Err(e) = manager.record_api_key_use(name, hash, *at).await {
                for (key, at) in &used[i..] {
                    key.used(*at);
                }
                return Err(e);
            }
        }
        Ok(())
    }
}
