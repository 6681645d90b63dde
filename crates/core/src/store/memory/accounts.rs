//! AccountStore of the memory store.

use super::MemoryStore;
use crate::store::{AccountStore, User};
use crate::{AccountId, LoginName, PasswordHash, StoreError};

impl AccountStore for MemoryStore {
    async fn create_user(&self, user: &User) -> Result<bool, StoreError> {
        let mut st = self.lock();
        if st.logins.contains_key(&user.login) || st.users.contains_key(&user.id) {
            return Ok(false);
        }
        st.logins.insert(user.login.clone(), user.id.clone());
        st.users.insert(user.id.clone(), user.clone());
        Ok(true)
    }

    async fn get_user(&self, id: &AccountId) -> Result<Option<User>, StoreError> {
        Ok(self.lock().users.get(id).cloned())
    }

    async fn find_user(&self, login: &LoginName) -> Result<Option<User>, StoreError> {
        let st = self.lock();
        Ok(st
            .logins
            .get(login)
            .and_then(|id| st.users.get(id))
            .cloned())
    }

    async fn set_password(
        &self,
        id: &AccountId,
        password: &PasswordHash,
    ) -> Result<bool, StoreError> {
        let mut st = self.lock();
        let Some(user) = st.users.get_mut(id) else {
            return Ok(false);
        };
        user.password = password.clone();
        Ok(true)
    }

    async fn list_users(
        &self,
        after: Option<&LoginName>,
        limit: usize,
    ) -> Result<Vec<User>, StoreError> {
        let st = self.lock();
        let from = match after {
            Some(a) => std::ops::Bound::Excluded(a.clone()),
            None => std::ops::Bound::Unbounded,
        };
        Ok(st
            .logins
            .range((from, std::ops::Bound::Unbounded))
            .filter_map(|(_, id)| st.users.get(id).cloned())
            .take(limit)
            .collect())
    }

    async fn delete_user(&self, id: &AccountId) -> Result<bool, StoreError> {
        let mut st = self.lock();
        let Some(user) = st.users.remove(id) else {
            return Ok(false);
        };
        st.logins.remove(&user.login);
        Ok(true)
    }
}
