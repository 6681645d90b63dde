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
}
