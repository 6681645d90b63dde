//! Named API keys on Redis: each step one script of `lua/accounts.lua` (or one read).

use redis::AsyncCommands;
use tessera::store::{ApiKeyStore, StoredApiKey};
use tessera::{StoreError, Timestamp, TokenHash};

use crate::codec::{api_key, corrupt, redis_error};
use crate::scripts;
use crate::store::{RedisStore, ms};

impl ApiKeyStore for RedisStore {
    async fn create_api_key(&self, key: &StoredApiKey) -> Result<bool, StoreError> {
        let packed = format!(
            "{}|{}|{}|",
            key.scope.as_str(),
            key.hash.to_base64(),
            key.created_at.as_millis()
        );
        let mut inv = self.run(&scripts::ACCOUNTS);
        inv.arg("create_key").arg(&key.name).arg(packed);
        Ok(self.call::<i64>(&inv).await? == 1)
    }

    async fn list_api_keys(&self) -> Result<Vec<StoredApiKey>, StoreError> {
        let mut conn = self.conn.clone();
        let all: Vec<(String, String)> = conn
            .hgetall(self.key(&["apikeys"]))
            .await
            .map_err(redis_error)?;
        let mut keys = all
            .into_iter()
            .map(|(name, packed)| api_key(name, &packed))
            .collect::<Result<Vec<_>, _>>()?;
        keys.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(keys)
    }

    async fn revoke_api_key(
        &self,
        name: &str,
        until: Timestamp,
    ) -> Result<Option<TokenHash>, StoreError> {
        let mut inv = self.run(&scripts::ACCOUNTS);
        inv.arg("revoke_key").arg(name).arg(ms(until));
        let hash: Option<String> = self.call(&inv).await?;
        hash.map(|h| TokenHash::from_base64(&h).ok_or_else(|| corrupt("API key hash")))
            .transpose()
    }

    async fn record_api_key_use(
        &self,
        name: &str,
        hash: &TokenHash,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let mut inv = self.run(&scripts::ACCOUNTS);
        inv.arg("key_used")
            .arg(name)
            .arg(hash.to_base64())
            .arg(ms(at));
        self.call::<()>(&inv).await
    }
}
