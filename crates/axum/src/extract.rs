//! Extractors for what the session layer recognised. Each rejects with a coarse 401 when
//! absent; `Option<…>` of each never rejects.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use tessera::{AccessClaims, Session};

use crate::problem::Rejection;

/// The browser session of the request (from its cookie).
#[derive(Debug, Clone)]
pub struct BrowserSession(pub Session);

/// The verified claims of the request's bearer access token (revocation included).
#[derive(Debug, Clone)]
pub struct Bearer(pub AccessClaims);

/// A fresh CSRF token for the request's browser session, to put in forms and pages.
#[derive(Debug, Clone)]
pub struct CsrfToken(pub String);

macro_rules! from_extensions {
    ($($t:ty),*) => {$(
        impl<St: Send + Sync> FromRequestParts<St> for $t {
            type Rejection = Rejection;

            async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Self, Rejection> {
                parts.extensions.get::<Self>().cloned().ok_or(Rejection::Unauthenticated)
            }
        }

        impl<St: Send + Sync> OptionalFromRequestParts<St> for $t {
            type Rejection = Infallible;

            async fn from_request_parts(parts: &mut Parts, _: &St) -> Result<Option<Self>, Infallible> {
                Ok(parts.extensions.get::<Self>().cloned())
            }
        }
    )*};
}

from_extensions!(BrowserSession, Bearer, CsrfToken);
