//! ApiKeyStore of the memory store.

use super::MemoryStore;
use crate::store::{ApiKeyStore, Revoked, StoredApiKey};
use crate::{StoreError, Timestamp, TokenHash};

impl ApiKeyStore for MemoryStore {
    async fn create_api_key(&self, key: &StoredApiKey) -> Result<bool, StoreError> {
        let mut st = self.lock();
        if st.api_keys.contains_key(&key.name) {
            return Ok(false);
        }
        st.api_keys.insert(key.name.clone(), key.clone());
        Ok(true)
    }

    async fn list_api_keys(&self) -> Result<Vec<StoredApiKey>, StoreError> {
        Ok(self.lock().api_keys.values().cloned().collect())
    }

    async fn revoke_api_key(
        &self,
        name: &str,
        until: Timestamp,
    ) -> Result<Option<TokenHash>, StoreError> {
        let mut st = self.lock();
        let Some(key) = st.api_keys.remove(name) else {
            return Ok(None);
        };
        st.append(Revoked::ApiKey(key.hash), until);
        Ok(Some(key.hash))
    }

    async fn record_api_key_use(
        &self,
        name: &str,
        hash: &TokenHash,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut st = self.lock();
        if let Some(key) = st.api_keys.get_mut(name).filter(|k| k.hash.ct_eq(hash)) {
            key.last_used_at = key.last_used_at.max(Some(at));
        }
        Ok(())
    }
}
