//! Signing a browser in and out: the session, its cookie, and the CSRF token for its pages,
//! in one call each.
//!
//! ```no_run
//! use axum::response::{IntoResponse, Redirect, Response};
//! use tessera::NewSession;
//! use tessera_axum::{BrowserSession, Tessera};
//! # type App = Tessera<tessera::MemoryStore, tessera::ManualClock>;
//! async fn signed_in(t: &App, user_id: &str, before: Option<BrowserSession>, remember: bool) -> Response {
//!     // … after the application checked the password:
//!     let previous = before.as_ref().map(|BrowserSession(s)| s);
//!     match t.login(NewSession::for_user(user_id), previous, remember).await {
//!         Ok(signed_in) => (signed_in, Redirect::to("/")).into_response(),
//!         Err(_) => axum::http::StatusCode::SERVICE_UNAVAILABLE.into_response(),
//!     }
//! }
//! ```

use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponseParts, ResponseParts};
use std::convert::Infallible;
use tessera::{Clock, Error, NewSession, RevokeReason, Session, Store};

use crate::layer::Tessera;

/// A browser just signed in: its session, a CSRF token for the page it lands on, and (as a
/// response part) the `Set-Cookie` that carries its new session cookie.
#[derive(Debug)]
pub struct SignedIn {
    /// The new session.
    pub session: Session,
    /// A CSRF token of the new session.
    pub csrf_token: String,
    cookie: HeaderValue,
}

/// A browser just signed out: (as a response part) the `Set-Cookie` that deletes its cookie.
#[derive(Debug)]
pub struct SignedOut {
    cookie: HeaderValue,
}

impl<S: Store + 'static, C: Clock + 'static> Tessera<S, C> {
    /// Signs a browser in as `new.user_id`, whom the application has just authenticated. The
    /// session is always a new one with a new id and cookie: `previous` (the session this
    /// browser had, perhaps one an attacker planted in it) is ended, never adopted. With
    /// `remember`, the cookie outlives the browser (until the session's absolute end, at most
    /// [`crate::CookieSettings::remember_for`]); without, it ends when the browser closes.
    ///
    /// # Errors
    /// As [`tessera::SessionManager::create`] (invalid input, the per-user cap, the store).
    pub async fn login(
        &self,
        new: NewSession,
        previous: Option<&Session>,
        remember: bool,
    ) -> Result<SignedIn, Error> {
        let m = self.manager();
        if let Some(old) = previous {
            m.revoke(&old.sid, RevokeReason::Logout).await?;
        }
        let (issued, cookie) = m.create_browser(new).await?;
        let session = issued.session;
        let csrf_token = m.csrf().session_token(&cookie.hash())?;
        let settings = self.cookie_settings();
        let cookie = if remember {
            let left = session.absolute_expires_at.as_secs() - m.clock().now().as_secs();
            let left = std::time::Duration::from_secs(u64::try_from(left).unwrap_or(0));
            settings.set_persistent(&cookie, left)
        } else {
            settings.set(&cookie)
        };
        Ok(SignedIn {
            session,
            csrf_token,
            cookie,
        })
    }

    /// Signs the browser of `session` out: the session ends at once on every node, and the
    /// answer deletes its cookie.
    ///
    /// # Errors
    /// Store errors.
    pub async fn logout(&self, session: &Session) -> Result<SignedOut, Error> {
        self.manager()
            .revoke(&session.sid, RevokeReason::Logout)
            .await?;
        Ok(SignedOut {
            cookie: self.cookie_settings().clear(),
        })
    }
}

fn set_cookie(mut res: ResponseParts, cookie: HeaderValue) -> ResponseParts {
    let headers: &mut HeaderMap = res.headers_mut();
    headers.append(SET_COOKIE, cookie);
    res
}

impl IntoResponseParts for SignedIn {
    type Error = Infallible;

    fn into_response_parts(self, res: ResponseParts) -> Result<ResponseParts, Infallible> {
        Ok(set_cookie(res, self.cookie))
    }
}

impl IntoResponseParts for SignedOut {
    type Error = Infallible;

    fn into_response_parts(self, res: ResponseParts) -> Result<ResponseParts, Infallible> {
        Ok(set_cookie(res, self.cookie))
    }
}
