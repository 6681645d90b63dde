//! Accounts of the built-in sign-in on Redis: each step one script of `lua/accounts.lua`, under
//! the deployment's hash tag.

use tessera::store::{AccountStore, User};
use tessera::{AccountId, LoginName, PasswordHash, StoreError, StoreErrorKind};

use crate::codec::{account, corrupt};
use crate::scripts;
use crate::store::{RedisStore, ms};

impl AccountStore for RedisStore {
    async fn create_user(&self, user: &User) -> Result<bool, StoreError> {
        let mut inv = self.run(&scripts::ACCOUNTS);
        inv.arg("create_user")
            .arg(user.id.as_str())
            .arg(user.login.as_str())
            .arg(user.password.as_str())
            .arg(ms(user.created_at));
        Ok(self.call::<i64>(&inv).await? == 1)
    }

    async fn get_user(&self, id: &AccountId) -> Result<Option<User>, StoreError> {
        let mut inv = self.run(&scripts::ACCOUNTS);
        inv.arg("get_user").arg(id.as_str());
        let found: Option<(String, String, i64)> = self.call(&inv).await?;
        found
            .map(|(login, password, created)| account(id.clone(), login, password, created))
            .transpose()
    }

    async fn find_user(&self, login: &LoginName) -> Result<Option<User>, StoreError> {
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

    async fn set_password(
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

    async fn list_users(
        &self,
        after: Option<&LoginName>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        let mut inv = self.run(&scripts::ACCOUNTS);
        inv.arg("list_users")
            .arg(after.map_or("", LoginName::as_str))
            .arg(limit);
        let page = match self.call::<Listed>(&inv).await? {
            Listed::Page(page) => page,
            Listed::Unindexed => {
                self.index_logins().await?;
                match self.call::<Listed>(&inv).await? {
                    Listed::Page(page) => page,
                    Listed::Unindexed => return Err(corrupt("the login index")),
                }
            }
        };
        let mut users = Vec::with_capacity(page.len());
        for (login, id, password, created) in page {
            if id.is_empty() {
                // Kept by name before account ids: moved to one now, as sign-in would.
                users.extend(self.find_user(&LoginName::from_stored(login)).await?);
                continue;
            }
            let id = id.parse().map_err(|_| corrupt("account id"))?;
            users.push(account(id, login, password, created)?);
        }
        Ok(users)
    }

    async fn delete_user(&self, id: &AccountId) -> Result<bool, StoreError> {
        let mut inv = self.run(&scripts::ACCOUNTS);
        inv.arg("delete_user").arg(id.as_str());
        Ok(self.call::<i64>(&inv).await? == 1)
    }
}

/// A page of `list_users`, or word that the login index is still to be built.
enum Listed {
    Page(Vec<(String, String, String, i64)>),
    Unindexed,
}

impl redis::FromRedisValue for Listed {
    fn from_redis_value(v: &redis::Value) -> redis::RedisResult<Self> {
        match v {
            redis::Value::SimpleString(_) | redis::Value::BulkString(_) => Ok(Self::Unindexed),
            other => {
                let flat: Vec<redis::Value> = redis::FromRedisValue::from_redis_value(other)?;
                let mut page = Vec::with_capacity(flat.len() / 4);
                for row in flat.chunks(4) {
                    let [login, id, password, created] = row else {
                        return Err(redis::RedisError::from((
                            redis::ErrorKind::TypeError,
                            "list_users answers in fours",
                        )));
                    };
                    page.push((
                        redis::from_redis_value(login)?,
                        redis::from_redis_value(id)?,
                        redis::from_redis_value(password)?,
                        redis::from_redis_value(created)?,
                    ));
                }
                Ok(Self::Page(page))
            }
        }
    }
}

impl RedisStore {
    /// Adds accounts made before the `logins` index to it, a bounded SCAN batch per step,
    /// then marks it complete. Accounts made meanwhile index themselves.
    async fn index_logins(&self) -> Result<(), StoreError> {
        let mut cursor = "0".to_owned();
        loop {
            let mut inv = self.run(&scripts::ACCOUNTS);
            inv.arg("index_logins").arg(&cursor);
            cursor = self.call::<String>(&inv).await?;
            if cursor == "0" {
                return Ok(());
            }
        }
    }
}
