//! Accounts of the built-in sign-in and named API keys: each step one script of
//! `lua/accounts.lua` (or one read), under the deployment's hash tag.

use redis::AsyncCommands;
use tessera::store::{StoredApiKey, User};
use tessera::{
    AccountId, LoginName, PasswordHash, StoreError, StoreErrorKind, Timestamp, TokenHash,
};

use crate::codec::{account, api_key, corrupt, redis_error};
use crate::scripts;
use crate::store::{RedisStore, ms};

impl RedisStore {
    pub(crate) async fn create_user_step(&self, user: &User) -> Result<bool, StoreError> {
        let mut inv = self.run(&scripts::ACCOUNTS);
        inv.arg("create_user")
            .arg(user.id.as_str())
            .arg(user.login.as_str())
            .arg(user.password.as_str())
            .arg(ms(user.created_at));
        Ok(self.call::<i64>(&inv).await? == 1)
    }

    pub(crate) async fn get_user_step(&self, id: &AccountId) -> Result<Option<User>, StoreError> {
        let mut inv = self.run(&scripts::ACCOUNTS);
        inv.arg("get_user").arg(id.as_str());
        let found: Option<(String, String, i64)> = self.call(&inv).await?;
        found
            .map(|(login, password, created)| account(id.clone(), login, password, created))
            .transpose()
    }

    pub(crate) async fn find_user_step(
        &self,
        login: &LoginName,
    ) -> Result<Option<User>, StoreError> {
        // Used only if an account kept under its name before account ids existed moves now.
        let fresh = AccountId::generate().map_err(|e| StoreError::new(StoreErrorKind::Other, e))?;
        let mut inv = self.run(&scripts::ACCOUNTS);
        inv.arg("find_user").arg(login.as_str()).arg(fresh.as_str());
        let found: Option<(String, String, i64)> = self.call(&inv).await?;
        found
            .map(|(id, password, created)| {
                let id = id.parse().map_err(|_| corrupt("account id"))?;
                account(id, login.to_string(), password, created)
            })
            .transpose()
    }

    pub(crate) async fn set_password_step(
        &self,
        id: &AccountId,
        password: &PasswordHash,
    ) -> Result<bool, StoreError> {
        let mut inv = self.run(&scripts::ACCOUNTS);
        inv.arg("set_password")
            .arg(id.as_str())
            .arg(password.as_str());
        Ok(self.call::<i64>(&inv).await? == 1)
    }

    pub(crate) async fn create_api_key_step(&self, key: &StoredApiKey) -> Result<bool, StoreError> {
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

    pub(crate) async fn list_api_keys_step(&self) -> Result<Vec<StoredApiKey>, StoreError> {
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

    pub(crate) async fn revoke_api_key_step(
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

    pub(crate) async fn record_api_key_use_step(
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
