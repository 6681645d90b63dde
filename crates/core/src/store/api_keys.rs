//! Named API keys.

use std::future::Future;

use crate::{ApiScope, StoreError, Timestamp, TokenHash};

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

/// Named API keys. Revoking one reaches every node through the revocation feed.
pub trait ApiKeyStore: Send + Sync {
    /// Stores a named API key unless the name is taken. Returns whether it was stored.
    fn create_api_key(
        &self,
        key: &StoredApiKey,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Every named API key, by name.
    fn list_api_keys(&self) -> impl Future<Output = Result<Vec<StoredApiKey>, StoreError>> + Send;

    /// Deletes the key named `name` and appends [`super::Revoked::ApiKey`] to the revocation
    /// feed (kept until `until`), in one step. Returns the deleted key's hash, `None` if no such
    /// key.
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
}
