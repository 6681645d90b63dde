//! The one place where errors become HTTP: RFC 9457 problem documents with stable `type`s.
//! Clients get coarse answers (never which token check failed); details go to the log.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tessera::{ApiScope, Error, StoreErrorKind, TokenRejection};
use tessera_axum::whole_seconds;

/// Prefix of every problem `type`.
pub const PROBLEM_TYPE_PREFIX: &str = "urn:tessera:problem:";

/// An API failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The request is malformed; the message says how.
    BadRequest(String),
    /// Missing or wrong API key.
    Unauthorized,
    /// A valid API key whose scope does not allow the route; the scope the route needs.
    InsufficientScope(ApiScope),
    /// The access token did not verify.
    InvalidToken,
    /// The refresh token was refused (why is logged, never told).
    InvalidGrant,
    /// No such resource.
    NotFound,
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// `If-Match` names an outdated version.
    PreconditionFailed,
    /// A conditional update without `If-Match`.
    PreconditionRequired,
    /// The body is larger than allowed.
    PayloadTooLarge,
    /// The body is not `application/json`.
    UnsupportedMediaType,
    /// The user already has the maximum number of sessions.
    SessionLimit,
    /// A resource with this name exists already.
    Conflict,
    /// The request headers are too large.
    HeadersTooLarge,
    /// Over a rate limit: seconds until a retry may succeed, the limit, seconds until full.
    RateLimited {
        /// `Retry-After`, in whole seconds (rounded up).
        retry_after: u64,
        /// `RateLimit-Limit`: the burst the limit allows.
        limit: u32,
        /// `RateLimit-Reset`, in whole seconds (rounded up).
        reset: u64,
    },
    /// The store is unreachable; retry later.
    Unavailable,
    /// The request took too long.
    Timeout,
    /// A bug or an unexpected failure (logged, not echoed).
    Internal,
}

impl ApiError {
    /// The status code.
    pub fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::InvalidToken | Self::InvalidGrant => {
                StatusCode::UNAUTHORIZED
            }
            Self::InsufficientScope(_) => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            Self::PreconditionRequired => StatusCode::PRECONDITION_REQUIRED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::SessionLimit | Self::Conflict => StatusCode::CONFLICT,
            Self::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable | Self::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable slug of the problem `type`.
    pub fn slug(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "invalid-request",
            Self::Unauthorized => "unauthorized",
            Self::InsufficientScope(_) => "insufficient-scope",
            Self::InvalidToken => "invalid-token",
            Self::InvalidGrant => "invalid-grant",
            Self::NotFound => "not-found",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::PreconditionFailed => "version-mismatch",
            Self::PreconditionRequired => "precondition-required",
            Self::PayloadTooLarge => "payload-too-large",
            Self::UnsupportedMediaType => "unsupported-media-type",
            Self::SessionLimit => "session-limit",
            Self::Conflict => "conflict",
            Self::HeadersTooLarge => "headers-too-large",
            Self::RateLimited { .. } => "rate-limited",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::Internal => "internal",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::BadRequest(_) => "The request is not valid",
            Self::Unauthorized => "A valid API key is required",
            Self::InsufficientScope(_) => "The API key's scope does not allow this",
            Self::InvalidToken => "The access token is not valid",
            Self::InvalidGrant => "The refresh token is not valid",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::PreconditionFailed => "The session changed since it was read",
            Self::PreconditionRequired => "If-Match is required",
            Self::PayloadTooLarge => "The request body is too large",
            Self::UnsupportedMediaType => "The request body must be application/json",
            Self::SessionLimit => "The user has too many sessions",
            Self::Conflict => "The name is taken",
            Self::HeadersTooLarge => "The request headers are too large",
            Self::RateLimited { .. } => "Too many requests",
            Self::Unavailable => "Temporarily unavailable",
            Self::Timeout => "The request took too long",
            Self::Internal => "Internal error",
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut problem = Problem::new(self.status_code(), self.slug(), self.title());
        if let Self::BadRequest(detail) = &self {
            problem = problem.detail(detail.clone());
        }
        if self == Self::InvalidGrant {
            problem = problem.with("error", "invalid_grant");
        }
        if let Self::InsufficientScope(needed) = self {
            let detail = format!("this needs an API key of scope {}", needed.as_str());
            problem = problem.detail(detail).with("scope", needed.as_str());
        }
        let mut response = problem.into_response();
        if let Self::InsufficientScope(needed) = self {
            // RFC 6750 §3.1.
            let challenge = format!(
                "Bearer error=\"insufficient_scope\", scope=\"{}\"",
                needed.as_str()
            );
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, value);
            }
        }
        if let Self::RateLimited {
            retry_after,
            limit,
            reset,
        } = self
        {
            limited_headers(response.headers_mut(), retry_after, limit, reset);
        }
        response
    }
}

/// An RFC 9457 problem document: `type` (`urn:tessera:problem:<slug>`), `title`, `status`,
/// `detail` where it helps, and extension members. As a response it carries the headers
/// every error does (see [`with_error_headers`]).
#[derive(Debug, Clone)]
pub struct Problem {
    status: StatusCode,
    body: Value,
}

impl Problem {
    /// A problem of type `slug`.
    pub fn new(status: StatusCode, slug: &str, title: &str) -> Self {
        Self {
            status,
            body: json!({
                "type": format!("{PROBLEM_TYPE_PREFIX}{slug}"),
                "title": title,
                "status": status.as_u16(),
            }),
        }
    }

    /// With a human-readable explanation of this occurrence.
    pub fn detail(self, detail: impl Into<String>) -> Self {
        self.with("detail", detail.into())
    }

    /// With an extension member.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.body[name] = value.into();
        self
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        with_error_headers(response)
    }
}

/// RFC 9110 `Retry-After`, and the `RateLimit-*` fields of draft-ietf-httpapi-ratelimit-headers,
/// on a 429 (whole seconds, at least one).
pub(crate) fn limited_headers(headers: &mut HeaderMap, retry_after: u64, limit: u32, reset: u64) {
    for (name, value) in [
        (header::RETRY_AFTER, retry_after.max(1)),
        (HeaderName::from_static("ratelimit-limit"), u64::from(limit)),
        (HeaderName::from_static("ratelimit-remaining"), 0),
        (HeaderName::from_static("ratelimit-reset"), reset.max(1)),
    ] {
        headers.insert(name, HeaderValue::from(value));
    }
}

/// Headers every error carries: never cached; a 401 names the scheme (and no hint of which
/// check failed); a 503 says when to retry.
fn with_error_headers(mut response: Response) -> Response {
    let status = response.status();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
    }
    if status == StatusCode::SERVICE_UNAVAILABLE {
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        match e {
            // This node cannot tell whether the token was revoked (its revocation view is
            // stale: the store is out of reach). Fail closed, but as an outage: a 401 would
            // tell every backend to sign its users out.
            Error::InvalidToken(TokenRejection::RevocationStale) => {
                tracing::warn!("verification refused: the revocation view is stale");
                Self::Unavailable
            }
            Error::InvalidToken(reason) => {
                tracing::debug!(?reason, "access token rejected");
                Self::InvalidToken
            }
            Error::InvalidRefresh(reason) => {
                tracing::info!(?reason, "refresh token rejected");
                Self::InvalidGrant
            }
            Error::Malformed(what) => Self::BadRequest(format!("malformed {what}")),
            Error::InvalidInput(what) => Self::BadRequest(what.to_owned()),
            Error::SessionNotFound | Error::SessionNotLive | Error::AccountNotFound => {
                Self::NotFound
            }
            Error::SessionLimitReached => Self::SessionLimit,
            Error::Conflict => Self::PreconditionFailed,
            Error::RateLimited {
                retry_after,
                reset_after,
                limit,
            } => Self::RateLimited {
                retry_after: whole_seconds(retry_after),
                limit,
                reset: whole_seconds(reset_after),
            },
            Error::Store(ref s) if s.kind() == StoreErrorKind::Unavailable => {
                tracing::warn!(error = %e, "store unavailable");
                Self::Unavailable
            }
            other => {
                tracing::error!(error = %other, "internal error");
                Self::Internal
            }
        }
    }
}

/// An OAuth endpoint failure, with an RFC 6749 §5.2 body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthError {
    /// A required parameter is missing or the body is not a form.
    InvalidRequest,
    /// Client (API key) authentication failed.
    InvalidClient,
    /// The store is unavailable.
    Unavailable,
    /// An unexpected failure (logged).
    ServerError,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let (status, code) = match self {
            Self::InvalidRequest => (StatusCode::BAD_REQUEST, "invalid_request"),
            Self::InvalidClient => (StatusCode::UNAUTHORIZED, "invalid_client"),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"),
            Self::ServerError => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        };
        let mut response =
            with_error_headers((status, axum::Json(json!({ "error": code }))).into_response());
        if self == Self::InvalidClient {
            // RFC 6749 §5.2: name the client authentication scheme; both are accepted.
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"tessera\", Bearer"),
            );
        }
        response
    }
}
