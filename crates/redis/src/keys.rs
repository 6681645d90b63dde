//! KeyStore on Redis.

use redis::AsyncCommands;
use tessera::StoreError;
use tessera::store::{KeyStore, StoredKeyset};

use crate::codec::redis_error;
use crate::scripts;
use crate::store::RedisStore;

impl KeyStore for RedisStore {
    async fn load_keyset(&self) -> Result<Option<StoredKeyset>, StoreError> {
        let mut conn = self.conn.clone();
        let (version, document): (Option<u64>, Option<Vec<u8>>) = conn
            .hget(self.key(&["keyset"]), &["version", "document"])
            .await
            .map_err(redis_error)?;
        Ok(version
            .zip(document)
            .map(|(version, document)| StoredKeyset { version, document }))
    }

    async fn save_keyset(
        &self,
        expected: Option<u64>,
        document: &[u8],
    ) -> Result<bool, StoreError> {
        let mut inv = self.run(&scripts::MISC);
        inv.arg("save_keyset")
            .arg(expected.map(|v| v.to_string()).unwrap_or_default())
            .arg(document);
        Ok(self.call::<i64>(&inv).await? == 1)
    }

    async fn get_setting(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut conn = self.conn.clone();
        conn.get(self.key(&["set", name]))
            .await
            .map_err(redis_error)
    }

    async fn put_setting(&self, name: &str, value: &[u8]) -> Result<(), StoreError> {
        let mut conn = self.connection(true);
        conn.set::<_, _, ()>(self.key(&["set", name]), value)
            .await
            .map_err(redis_error)?;
        let slot = crate::layout::slot(self.layout.global.as_bytes());
        self.replicated(&mut conn, slot).await
    }

    async fn init_setting(&self, name: &str, value: &[u8]) -> Result<Vec<u8>, StoreError> {
        let mut inv = self.run(&scripts::MISC);
        inv.arg("init").arg(name).arg(value);
        self.call(&inv).await
    }
}
