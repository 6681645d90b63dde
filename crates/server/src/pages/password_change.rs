//! Changing a signed-in account's password: one flow behind the account page's form and the
//! JSON route of single-page apps.
//!
//! The current password is checked on the same guessing budget as a sign-in, and a wrong one is
//! audited, so a stolen cookie is no faster way to guess the password than the sign-in form.
//! A change stores the new hash, signs out every other session, and gives this one a new cookie
//! (a privilege change) and this browser a new device mark (the old marks were bound to the old
//! password).

use axum::Extension;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use tessera::store::User;
use tessera::{AuditKind, RevokeReason, Session};
use tessera_axum::Client;

use super::devices;
use super::passwords::{self, Attempt};
use super::view::Message;
use crate::state::AppState;

/// Why a change was not made.
pub(super) enum Refused {
    /// The new password is too short, too long, common or easy to guess.
    Weak(crate::strength::Weak),
    /// Too many wrong guesses: locked out for a while.
    Locked(Attempt),
    /// The current password is wrong.
    Wrong,
    /// The store or the password queue is busy.
    Unavailable,
}

impl Refused {
    /// What the person is told, and the form field it is about (`None`: the whole form).
    pub(super) fn message(&self) -> (Option<&'static str>, Message) {
        match self {
            Self::Weak(weak) => (Some("new"), Message::new(weak.code(), weak.to_string())),
            Self::Locked(lock) => (None, Message::new("too-many-attempts", lock.message())),
            Self::Wrong => (
                Some("current"),
                Message::new("wrong-password", "The current password is wrong."),
            ),
            Self::Unavailable => (
                None,
                Message::new("unavailable", "The service is busy; try again in a moment."),
            ),
        }
    }

    /// `response` as a 429 when locked out, unchanged otherwise.
    pub(super) fn lock_out(&self, response: Response) -> Response {
        match self {
            Self::Locked(lock) => lock.lock_out(response),
            _ => response,
        }
    }
}

/// Changes `account`'s password from `current` to `new` for the session `s`; the
/// `Set-Cookie` values to send on success.
pub(super) async fn change(
    state: &AppState,
    s: &Session,
    account: User,
    headers: &HeaderMap,
    client: Option<Extension<Client>>,
    (current, new): (String, String),
) -> Result<Vec<HeaderValue>, Refused> {
    let min = state.config.password_min_strength;
    crate::strength::check(&new, account.login.as_str(), min).map_err(Refused::Weak)?;
    let device = devices::recognise(state, headers, &account);
    let key = super::auth::client_key(client.as_ref());
    let limits = &state.config.sign_in;
    let m = &state.manager;
    match passwords::attempt(m, limits, &account.login, device.as_deref(), &key).await {
        Ok(lock @ Attempt::Locked { .. }) => return Err(Refused::Locked(lock)),
        Ok(Attempt::Proceed(delay)) => tokio::time::sleep(delay).await,
        Err(_) => return Err(Refused::Unavailable),
    }
    let stored = Some(account.password.clone());
    match state.passwords.verify(stored, current).await {
        Ok(true) => {}
        Ok(false) => {
            let failed = AuditKind::PasswordChangeFailed;
            let _ = m.record(Some(&s.user_id), Some(s.sid), failed).await;
            return Err(Refused::Wrong);
        }
        Err(_) => return Err(Refused::Unavailable),
    }
    let _ = passwords::succeeded(m, limits, &account.login, device.as_deref()).await;
    let Ok(Ok(hash)) = state.passwords.hash(new).await else {
        return Err(Refused::Unavailable);
    };
    let done = async {
        m.set_password(&account.id, &hash).await?;
        m.revoke_user(&s.user_id, Some(&s.sid), RevokeReason::PasswordChanged)
            .await?;
        m.record(Some(&s.user_id), Some(s.sid), AuditKind::PasswordChanged)
            .await?;
        m.rotate_cookie(s).await
    };
    let Ok(cookie) = done.await else {
        return Err(Refused::Unavailable);
    };
    let mut cookies = vec![state.tessera.cookie_settings().set(&cookie)];
    let changed = User {
        password: hash,
        ..account
    };
    cookies.extend(devices::remember(state, headers, &changed));
    Ok(cookies)
}

/// `response` with each of `cookies` appended as a `Set-Cookie`.
pub(super) fn with_cookies(mut response: Response, cookies: Vec<HeaderValue>) -> Response {
    for cookie in cookies {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}
