//! KeyStore of the memory store.

use super::MemoryStore;
use crate::StoreError;
use crate::store::{KeyStore, StoredKeyset};

impl KeyStore for MemoryStore {
    async fn load_keyset(&self) -> Result<Option<StoredKeyset>, StoreError> {
        Ok(self.lock().keyset.clone())
    }

    async fn save_keyset(
        &self,
        expected: Option<u64>,
        document: &[u8],
    ) -> Result<bool, StoreError> {
        let mut st = self.lock();
        if st.keyset.as_ref().map(|k| k.version) != expected {
            return Ok(false);
        }
        let version = expected.map_or(1, |v| v + 1);
        st.keyset = Some(StoredKeyset {
            version,
            document: document.to_vec(),
        });
        Ok(true)
    }

    async fn get_setting(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().settings.get(name).cloned())
    }

    async fn put_setting(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        self.lock().settings.insert(name.to_owned(), value.to_vec());
        Ok(())
    }

    async fn init_setting(&self, name: &str, value: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut st = self.lock();
        Ok(st
            .settings
            .entry(name.to_owned())
            .or_insert_with(|| value.to_vec())
            .clone())
    }
}
