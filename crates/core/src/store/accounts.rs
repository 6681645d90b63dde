//! Accounts of the built-in sign-in.

use std::future::Future;

use crate::{AccountId, LoginName, PasswordHash, StoreError, Timestamp};

/// An account of the built-in sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The identity tokens carry in `sub`: server-generated, never changes.
    pub id: AccountId,
    /// The name its owner signs in with (normalized; unique).
    pub login: LoginName,
    /// The password's Argon2id hash.
    pub password: PasswordHash,
    /// When the account was created.
    pub created_at: Timestamp,
}

/// Accounts, by id and by login name; both unique.
pub trait AccountStore: Send + Sync {
    /// Creates an account unless its login name (or id) is taken. Returns whether it was created.
    fn create_user(&self, user: &User) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// The account with this id.
    fn get_user(
        &self,
        id: &AccountId,
    ) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;

    /// The account with this login name. A store that kept accounts by name before account ids
    /// existed gives such an account a fresh id here, once, in the same step.
    fn find_user(
        &self,
        login: &LoginName,
    ) -> impl Future<Output = Result<Option<User>, StoreError>> + Send;

    /// Replaces an account's password hash. Returns whether the account exists.
    fn set_password(
        &self,
        id: &AccountId,
        password: &PasswordHash,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Up to `limit` accounts in login-name order (bytewise), starting after `after`: a page
    /// of the whole list, which stays consistent while accounts come and go.
    fn list_users(
        &self,
        after: Option<&LoginName>,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<User>, StoreError>> + Send;

    /// Deletes an account: its id and its login name, in one step (the name is free again at
    /// once). Returns whether it existed. Its sessions are the caller's to end first.
    fn delete_user(&self, id: &AccountId) -> impl Future<Output = Result<bool, StoreError>> + Send;
}
