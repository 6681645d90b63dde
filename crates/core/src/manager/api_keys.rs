//! Named, scoped API keys: created with their secret shown once, kept as hashes, revoked on
//! every node through the revocation feed.

use std::time::Duration;

use super::SessionManager;
use crate::store::{Revoked, Store, StoredApiKey};
use crate::{ApiKey, ApiScope, AuditKind, Clock, Error, Timestamp, TokenHash};

/// Longest API key name, in bytes.
const MAX_NAME: usize = 64;
/// How long the feed carries a key's revocation: nodes re-read the key list far more often.
const REVOCATION_KEPT: Duration = Duration::from_secs(600);

impl<S: Store, C: Clock> SessionManager<S, C> {
    /// Creates a key named `name` with `scope`. Returns the key (to show once) with its
    /// record, or `None` when the name is taken.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a bad name; [`Error::Random`]; store errors.
    pub async fn create_api_key(
        &self,
        name: &str,
        scope: ApiScope,
    ) -> Result<Option<(ApiKey, StoredApiKey)>, Error> {
        validate_name(name)?;
        let key = ApiKey::generate()?;
        let record = StoredApiKey {
            name: name.to_owned(),
            scope,
            hash: key.hash(),
            created_at: self.clock.now(),
            last_used_at: None,
        };
        if !self.store.create_api_key(&record).await? {
            return Ok(None);
        }
        let kind = AuditKind::ApiKeyCreated {
            name: name.to_owned(),
            scope,
        };
        self.note(None, None, kind).await;
        Ok(Some((key, record)))
    }

    /// Every named key, by name (hashes only).
    ///
    /// # Errors
    /// Store errors.
    pub async fn api_keys(&self) -> Result<Vec<StoredApiKey>, Error> {
        Ok(self.store.list_api_keys().await?)
    }

    /// Revokes the key named `name`: it stops working here at once, and on other nodes as
    /// soon as they read the feed (which they must, or fail closed). Returns whether it existed.
    ///
    /// # Errors
    /// Store errors.
    pub async fn revoke_api_key(&self, name: &str) -> Result<bool, Error> {
        let until = self.clock.now().plus(REVOCATION_KEPT);
        let Some(hash) = self.store.revoke_api_key(name, until).await? else {
            return Ok(false);
        };
        self.view.insert(Revoked::ApiKey(hash), until);
        let kind = AuditKind::ApiKeyRevoked {
            name: name.to_owned(),
        };
        self.note(None, None, kind).await;
        Ok(true)
    }

    /// Records when keys were last used (callers batch this; it is not done per request).
    ///
    /// # Errors
    /// Store errors.
    pub async fn record_api_key_use(
        &self,
        name: &str,
        hash: &TokenHash,
        at: Timestamp,
    ) -> Result<(), Error> {
        Ok(self.store.record_api_key_use(name, hash, at).await?)
    }

    /// Whether the key with this hash was revoked (here or, per the feed, on another node).
    pub fn is_api_key_revoked(&self, hash: &TokenHash) -> bool {
        self.view.is_api_key_revoked(hash)
    }
}

/// The name of the bootstrap admin key (its HTTP Basic client id): no named key may take it.
pub const BOOTSTRAP_KEY_NAME: &str = "admin";

/// Names are identifiers people type and scripts pass around: letters, digits, `.`, `_`, `-`.
fn validate_name(name: &str) -> Result<(), Error> {
    if name == BOOTSTRAP_KEY_NAME {
        return Err(Error::InvalidInput(
            "the name admin belongs to the bootstrap admin key",
        ));
    }
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput(
            "an API key name has 1 to 64 letters, digits, '.', '_' or '-'",
        ))
    }
}
