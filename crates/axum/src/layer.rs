//! The session layer: recognises the cookie and bearer token, enforces CSRF on unsafe methods.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, header};
use tessera::{
    Clock, Error, OriginDecision, SessionManager, Store, StoreErrorKind, TokenRejection,
    check_origin, is_safe_method,
};
use tower::Layer;

use crate::cookie::{CookieSettings, cookie_values};
use crate::extract::{Bearer, BrowserSession, CsrfToken};
use crate::guard::{Admit, Guarded};
use crate::header::bearer_token;
use crate::problem::Rejection;
use crate::upkeep::Tasks;

/// Largest form body read to find a `_csrf` field.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// A handle on a session manager with the cookie profile and the origins it trusts.
pub struct Tessera<S, C> {
    inner: Arc<Inner<S, C>>,
}

struct Inner<S, C> {
    manager: Arc<SessionManager<S, C>>,
    cookie: CookieSettings,
    /// The cookie's full name, read on every request: worked out once.
    cookie_name: String,
    origins: Vec<String>,
    /// The background chores, when [`Tessera::builder`] started them; stopped on drop.
    _upkeep: Option<Tasks>,
}

impl<S, C> Clone for Tessera<S, C> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<S: Store + 'static, C: Clock + 'static> Tessera<S, C> {
    /// `trusted_origins` are the application's own origins (`https://app.example`) and those
    /// of the single-page apps it grants credentialed CORS to: an unsafe request from any
    /// other origin is refused (see [`tessera::check_origin`]).
    ///
    /// # Errors
    /// [`tessera::Error::InvalidConfig`] for a cookie name or domain that cannot be written
    /// into a `Set-Cookie` as it is (see [`CookieSettings::check`]).
    pub fn new(
        manager: Arc<SessionManager<S, C>>,
        cookie: CookieSettings,
        trusted_origins: Vec<String>,
    ) -> Result<Self, tessera::Error> {
        cookie.check()?;
        Ok(Self::with_upkeep(manager, cookie, trusted_origins, None))
    }

    /// [`Tessera::new`], owning the background tasks that keep `manager` current.
    pub(crate) fn with_upkeep(
        manager: Arc<SessionManager<S, C>>,
        cookie: CookieSettings,
        trusted_origins: Vec<String>,
        upkeep: Option<Tasks>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                manager,
                cookie_name: cookie.name(),
                cookie,
                origins: trusted_origins,
                _upkeep: upkeep,
            }),
        }
    }

    /// The session manager.
    pub fn manager(&self) -> &Arc<SessionManager<S, C>> {
        &self.inner.manager
    }

    /// The cookie profile.
    pub fn cookie_settings(&self) -> &CookieSettings {
        &self.inner.cookie
    }

    /// The layer to put around routes.
    pub fn layer(&self) -> SessionLayer<S, C> {
        SessionLayer {
            tessera: self.clone(),
        }
    }

    /// Authenticates and checks a request; the request to pass on, or why not.
    async fn check_request(&self, req: Request<Body>) -> Result<Request<Body>, Rejection> {
        let m = &self.inner.manager;
        let values: Vec<String> = cookie_values(req.headers(), &self.inner.cookie_name)
            .into_iter()
            .map(str::to_owned)
            .collect();
        let session = self.session_of(values).await?;
        let mut req = req;
        if !is_safe_method(req.method().as_str()) {
            if let OriginDecision::Reject(why) = self.origin_decision(&req) {
                tracing::info!(why, "cross-site request refused");
                return Err(Rejection::CrossOrigin);
            }
            if let Some(s) = &session {
                let (token, rebuilt) = csrf_token_of(req).await?;
                req = rebuilt;
                if !token.is_some_and(|t| m.verify_csrf(s, &t)) {
                    tracing::info!(sid = %s.sid, "missing or wrong CSRF token");
                    return Err(Rejection::Forbidden);
                }
            }
        }
        match bearer(&req).map(|t| m.verify(t)) {
            Some(Ok(token)) => {
                req.extensions_mut().insert(Bearer(token.claims().clone()));
            }
            // This node cannot tell whether the token was revoked: a store outage, not a bad
            // token, so "try again", never "sign out".
            Some(Err(Error::InvalidToken(TokenRejection::RevocationStale))) => {
                return Err(Rejection::Unavailable);
            }
            Some(Err(_)) | None => {}
        }
        if let Some(s) = session {
            if let Ok(token) = m.csrf_token(&s) {
                req.extensions_mut().insert(CsrfToken(token));
            }
            req.extensions_mut().insert(BrowserSession(s));
        }
        Ok(req)
    }

    fn origin_decision(&self, req: &Request<Body>) -> OriginDecision {
        let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
        let origins: Vec<&str> = self.inner.origins.iter().map(String::as_str).collect();
        check_origin(
            req.method().as_str(),
            header("sec-fetch-site"),
            header("origin"),
            &origins,
        )
    }

    /// The session named by the cookie: none, one, or a refusal when two are sent.
    async fn session_of(&self, values: Vec<String>) -> Result<Option<tessera::Session>, Rejection> {
        let [value] = values.as_slice() else {
            return if values.is_empty() {
                Ok(None)
            } else {
                Err(Rejection::AmbiguousCookie)
            };
        };
        match self.inner.manager.authenticate_cookie(value).await {
            Ok(session) => Ok(Some(session)),
            Err(Error::InvalidCookie) => {
                tracing::debug!("session cookie refused");
                Ok(None)
            }
            Err(Error::Store(e)) if e.kind() == StoreErrorKind::Unavailable => {
                Err(Rejection::Unavailable)
            }
            Err(e) => {
                tracing::warn!(error = %e, "cookie authentication failed");
                Ok(None)
            }
        }
    }
}

fn bearer(req: &Request<Body>) -> Option<&str> {
    bearer_token(req.headers().get(header::AUTHORIZATION)?.to_str().ok()?)
}

/// The CSRF token of a request: the `X-CSRF-Token` header, or a `_csrf` form field (the body is
/// read and put back).
async fn csrf_token_of(req: Request<Body>) -> Result<(Option<String>, Request<Body>), Rejection> {
    if let Some(v) = req
        .headers()
        .get("x-csrf-token")
        .and_then(|v| v.to_str().ok())
    {
        let token = v.to_owned();
        return Ok((Some(token), req));
    }
    let is_form = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Ok((None, req));
    }
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| Rejection::Forbidden)?;
    let token = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == "_csrf")
        .map(|(_, v)| v.into_owned());
    Ok((token, Request::from_parts(parts, Body::from(bytes))))
}

/// The tower layer from [`Tessera::layer`].
pub struct SessionLayer<S, C> {
    tessera: Tessera<S, C>,
}

impl<S, C> Clone for SessionLayer<S, C> {
    fn clone(&self) -> Self {
        Self {
            tessera: self.tessera.clone(),
        }
    }
}

impl<Svc, S, C> Layer<Svc> for SessionLayer<S, C> {
    type Service = SessionService<Svc, S, C>;

    fn layer(&self, inner: Svc) -> Self::Service {
        Guarded {
            inner,
            guard: self.tessera.clone(),
        }
    }
}

/// The service [`SessionLayer`] wraps around routes.
pub type SessionService<Svc, S, C> = Guarded<Svc, Tessera<S, C>>;

impl<S: Store + 'static, C: Clock + 'static> Admit for Tessera<S, C> {
    type Refusal = Rejection;

    async fn admit(&self, req: Request<Body>) -> Result<Request<Body>, Rejection> {
        self.check_request(req).await
    }
}
