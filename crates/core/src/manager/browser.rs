//! Browser sessions: the cookie that names a session, its rotation at privilege changes, the
//! CSRF token bound to it, and the accounts of the built-in sign-in.
//!
//! Password hashing is deliberately not done here: it is CPU- and memory-heavy, so callers run
//! [`PasswordHash::new`](crate::PasswordHash::new) and
//! [`PasswordHash::verify`](crate::PasswordHash::verify) off their async runtime.

use super::SessionManager;
use crate::store::{SessionUpdate, Store, User};
use crate::{
    AccountId, AuditKind, Clock, CookieToken, Csrf, Error, KnownDevices, LoginName, PasswordHash,
    RevokeReason, Session, SessionId,
};

impl<S: Store, C: Clock> SessionManager<S, C> {
    /// The live session `cookie` belongs to. The cookie's secret is compared in constant time
    /// with the session's current one, so a cookie never issued, or replaced at the last sign-in
    /// or privilege change, is refused; activity is recorded (throttled).
    ///
    /// # Errors
    /// [`Error::InvalidCookie`] for every kind of bad cookie; store errors.
    pub async fn authenticate_cookie(&self, cookie: &str) -> Result<Session, Error> {
        let cookie = CookieToken::parse(cookie).map_err(|_| Error::InvalidCookie)?;
        let session = self
            .store
            .get(&cookie.session_id())
            .await?
            .ok_or(Error::InvalidCookie)?;
        let genuine = session.cookie.is_some_and(|h| h.ct_eq(&cookie.hash()));
        if !genuine || !session.is_live(self.clock.now()) {
            return Err(Error::InvalidCookie);
        }
        match self.touch(&session).await {
            Ok(_) => Ok(session),
            Err(Error::SessionNotLive) => Err(Error::InvalidCookie),
            Err(e) => Err(e),
        }
    }

    /// Gives the session a new cookie secret (at a privilege change): the old cookie stops
    /// working at once.
    ///
    /// # Errors
    /// [`Error::Conflict`] if the session changed meanwhile; store errors.
    pub async fn rotate_cookie(&self, session: &Session) -> Result<CookieToken, Error> {
        let cookie = CookieToken::generate(session.sid)?;
        let update = SessionUpdate {
            cookie: Some(cookie.hash()),
            ..SessionUpdate::default()
        };
        self.update(&session.sid, session.version, update).await?;
        Ok(cookie)
    }

    /// Known-device cookies, keyed from the server secret.
    pub fn known_devices(&self) -> &KnownDevices {
        &self.devices
    }

    /// One-time password-reset links, keyed from the server secret.
    pub fn reset_links(&self) -> &crate::ResetLinks {
        &self.resets
    }

    /// CSRF tokens, keyed from the server secret.
    pub fn csrf(&self) -> &Csrf {
        &self.csrf
    }

    /// A synchronizer CSRF token for a browser session.
    ///
    /// # Errors
    /// [`Error::InvalidCookie`] for a session without a cookie; [`Error::Random`].
    pub fn csrf_token(&self, session: &Session) -> Result<String, Error> {
        self.csrf
            .session_token(session.cookie.as_ref().ok_or(Error::InvalidCookie)?)
    }

    /// Whether `token` is a CSRF token of this browser session.
    pub fn verify_csrf(&self, session: &Session, token: &str) -> bool {
        session
            .cookie
            .as_ref()
            .is_some_and(|c| self.csrf.verify_session_token(c, token))
    }

    /// Creates an account for `login` with a fresh, server-chosen id. Returns it, or `None`
    /// when the login name is taken.
    ///
    /// # Errors
    /// Store errors; [`Error::Random`].
    pub async fn create_user(
        &self,
        login: &LoginName,
        password: PasswordHash,
    ) -> Result<Option<User>, Error> {
        let user = User {
            id: AccountId::generate()?,
            login: login.clone(),
            password,
            created_at: self.clock.now(),
        };
        Ok(self.store.create_user(&user).await?.then_some(user))
    }

    /// The account with this id.
    ///
    /// # Errors
    /// Store errors.
    pub async fn user(&self, id: &AccountId) -> Result<Option<User>, Error> {
        Ok(self.store.get_user(id).await?)
    }

    /// Confirms the sign-in that made session `sid` for `account`, as read before its password
    /// was checked: whether the account still stands so (not deleted, its password unchanged).
    /// When it does not, or cannot be read, the session ends here: a change of password, a
    /// reset or a deletion that ran while the sign-in checked the password ended every
    /// session of the account it found, before this one existed (a change writes the account
    /// before it lists the sessions to end, and a deletion ends them again after removing the
    /// account). Call it once the session exists, before handing out its cookie or tokens.
    ///
    /// # Errors
    /// Store errors reading the account (the session is ended all the same, if the store
    /// lets it).
    pub async fn confirm_sign_in(&self, account: &User, sid: &SessionId) -> Result<bool, Error> {
        let unchanged = self
            .store
            .get_user(&account.id)
            .await
            .map(|now| now.is_some_and(|now| now.password == account.password));
        if matches!(unchanged, Ok(true)) {
            return Ok(true);
        }
        let _ = self.revoke(sid, RevokeReason::PasswordChanged).await;
        Ok(unchanged?)
    }

    /// The account with this login name.
    ///
    /// # Errors
    /// Store errors.
    pub async fn find_user(&self, login: &LoginName) -> Result<Option<User>, Error> {
        Ok(self.store.find_user(login).await?)
    }

    /// Replaces an account's password. Callers also revoke the user's other sessions and rotate
    /// the current one's cookie.
    ///
    /// # Errors
    /// [`Error::AccountNotFound`] when there is no such account; store errors.
    pub async fn set_password(&self, id: &AccountId, password: &PasswordHash) -> Result<(), Error> {
        if self.store.set_password(id, password).await? {
            Ok(())
        } else {
            Err(Error::AccountNotFound)
        }
    }

    /// Up to `limit` accounts in login-name order, after `after` (see
    /// [`AccountStore::list_users`](crate::store::AccountStore::list_users)).
    ///
    /// # Errors
    /// Store errors.
    pub async fn users(&self, after: Option<&LoginName>, limit: usize) -> Result<Vec<User>, Error> {
        Ok(self.store.list_users(after, limit).await?)
    }

    /// Deletes an account: ends every session of it (each on the revocation feed), then removes
    /// the account, freeing its login name, audits it, and ends any session a sign-in made in
    /// between (a sign-in reads the account again once its session exists, so one made after
    /// the removal ends itself). The sessions ended come back.
    ///
    /// # Errors
    /// [`Error::AccountNotFound`] when there is no such account; store errors.
    pub async fn delete_user(&self, id: &AccountId) -> Result<Vec<SessionId>, Error> {
        if self.store.get_user(id).await?.is_none() {
            return Err(Error::AccountNotFound);
        }
        let mut ended = self
            .revoke_user(id.as_str(), None, RevokeReason::Admin)
            .await?;
        if !self.store.delete_user(id).await? {
            return Err(Error::AccountNotFound);
        }
        let late = self
            .revoke_user(id.as_str(), None, RevokeReason::Admin)
            .await?;
        ended.extend(late);
        self.record(Some(id.as_str()), None, AuditKind::AccountDeleted)
            .await?;
        Ok(ended)
    }
}
