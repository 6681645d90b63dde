//! The signing keyset and server-wide settings.

use std::future::Future;

use crate::StoreError;

/// A persisted keyset document with its version, for compare-and-save.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKeyset {
    /// Incremented by every save.
    pub version: u64,
    /// The document (see `Keyset::to_document`). Holds private keys (sealed when configured).
    pub document: Vec<u8>,
}

/// The keyset (one versioned document) and named server-wide values.
pub trait KeyStore: Send + Sync {
    /// The stored keyset, if any.
    fn load_keyset(&self) -> impl Future<Output = Result<Option<StoredKeyset>, StoreError>> + Send;

    /// Saves `document` if the stored version is `expected` (`None`: nothing stored yet).
    /// Returns whether it was saved; on success the version is `expected + 1` (or 1).
    fn save_keyset(
        &self,
        expected: Option<u64>,
        document: &[u8],
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// A named server-wide value (e.g. the server secret, the admin API key's hash), if set.
    fn get_setting(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Option<Vec<u8>>, StoreError>> + Send;

    /// Sets a named server-wide value, replacing any previous one.
    fn put_setting(
        &self,
        name: &str,
        value: &[u8],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Stores `value` under `name` unless a value is already there, and returns the value that
    /// is stored afterwards: nodes racing to initialise a secret all end up with the same one.
    fn init_setting(
        &self,
        name: &str,
        value: &[u8],
    ) -> impl Future<Output = Result<Vec<u8>, StoreError>> + Send;
}
