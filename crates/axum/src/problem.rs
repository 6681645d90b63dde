//! Coarse rejections as RFC 9457 problem documents; the reason goes to the log only.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why a request was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// No valid session or token (401).
    Unauthenticated,
    /// A missing or wrong CSRF token (403).
    Forbidden,
    /// An unsafe request from an origin the application does not trust (403).
    CrossOrigin,
    /// Two session cookies of the same name (400).
    AmbiguousCookie,
    /// Over a rate limit (429), with seconds to wait and the limit.
    RateLimited {
        /// Seconds until a retry may succeed.
        retry_after: u64,
        /// The burst the limit allows.
        limit: u32,
    },
    /// The store is unavailable (503).
    Unavailable,
}

impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let (status, slug, title) = match self {
            Self::Unauthenticated => (
                StatusCode::UNAUTHORIZED,
                "unauthenticated",
                "Sign-in required",
            ),
            Self::Forbidden | Self::CrossOrigin => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "The request was refused",
            ),
            Self::AmbiguousCookie => (
                StatusCode::BAD_REQUEST,
                "ambiguous-cookie",
                "Conflicting session cookies",
            ),
            Self::RateLimited { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many requests",
            ),
            Self::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Temporarily unavailable",
            ),
        };
        let mut body = json!({ "type": format!("urn:tessera:problem:{slug}"), "title": title, "status": status.as_u16() });
        // Which of the two refusals it was, so a client knows whether fetching a fresh CSRF
        // token can help. Neither says anything an attacker does not know already.
        let detail = match self {
            Self::Forbidden => Some(
                "missing or wrong CSRF token: send the session's token in X-CSRF-Token (or a _csrf form field)",
            ),
            Self::CrossOrigin => Some(
                "this origin may not make this request; a single-page app on another origin must be in the server's cors_origins",
            ),
            _ => None,
        };
        if let Some(detail) = detail {
            body["detail"] = detail.into();
        }
        let mut response = (status, axum::Json(body)).into_response();
        let h = response.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        match self {
            Self::Unauthenticated => {
                h.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer error=\"invalid_token\""),
                );
            }
            Self::RateLimited { retry_after, limit } => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
                h.insert("ratelimit-limit", HeaderValue::from(limit));
                h.insert("ratelimit-remaining", HeaderValue::from(0));
                h.insert("ratelimit-reset", HeaderValue::from(retry_after.max(1)));
            }
            Self::Unavailable => {
                h.insert(header::RETRY_AFTER, HeaderValue::from(1));
            }
            _ => {}
        }
        response
    }
}
