//! The crate's one error type.
//!
//! Variants are detailed so logs and audit can say exactly what happened; an HTTP edge maps
//! them to coarse responses (a client never learns *which* token check failed).

use std::error::Error as StdError;
use std::fmt;

/// Why an access token was rejected. For logs only: clients get a coarse `invalid_token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenRejection {
    /// Longer than the configured size cap.
    TooLarge,
    /// Not three base64url segments of canonical, unpadded base64url holding JSON objects.
    Malformed,
    /// A JSON object in the header or payload repeats a member name.
    DuplicateMember,
    /// `alg` is `none` (in any casing).
    AlgNone,
    /// The header `alg` differs from the algorithm pinned to the key named by `kid`.
    AlgMismatch,
    /// No `kid`, or a `kid` that names no key in the keyset.
    UnknownKey,
    /// The header carries a parameter we never accept (`jku`, `x5u`, `jwk`, `x5c`, `crit`, …).
    ForbiddenHeader,
    /// `typ` is missing or is not `at+jwt`.
    WrongType,
    /// The signature does not verify.
    BadSignature,
    /// `iss` is not the expected issuer.
    WrongIssuer,
    /// `aud` does not contain the expected audience.
    WrongAudience,
    /// `exp` has passed (beyond the leeway).
    Expired,
    /// `nbf` is in the future (beyond the leeway).
    NotYetValid,
    /// `iat` is in the future (beyond the leeway).
    IssuedInFuture,
    /// A registered claim is missing, of the wrong JSON type or out of range.
    BadClaim(&'static str),
    /// The session or the token itself has been revoked.
    Revoked,
    /// The revocation view is not known to be current, so no token is accepted (fail closed).
    RevocationStale,
}

/// Why a refresh token was rejected. For logs and audit; clients get `invalid_grant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RefreshRejection {
    /// Not a well-formed `tsr_` token (prefix, encoding, length or checksum).
    Malformed,
    /// No session with that `sid`.
    UnknownSession,
    /// The secret is not part of this session's chain: a forgery, which revokes nothing.
    Forged,
    /// A genuine, superseded token was replayed after the grace window: the session has been
    /// revoked as stolen.
    Reused,
    /// The session had already been revoked.
    Revoked,
    /// The session's idle or absolute lifetime has ended.
    Expired,
    /// A genuine token that has since been rotated away, seen by an inspection (which, having
    /// no side effects, revokes nothing).
    Superseded,
}

/// Everything that can go wrong in the core.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An access token failed verification.
    #[error("access token rejected: {0:?}")]
    InvalidToken(TokenRejection),
    /// A refresh token was refused.
    #[error("refresh token rejected: {0:?}")]
    InvalidRefresh(RefreshRejection),
    /// A cookie token, API key, session id or CSRF token is not in its format.
    #[error("malformed {0}")]
    Malformed(&'static str),
    /// A browser cookie that is malformed, unknown, not this session's current one, or whose
    /// session is over (one coarse answer for all).
    #[error("invalid session cookie")]
    InvalidCookie,
    /// No such session.
    #[error("session not found")]
    SessionNotFound,
    /// No such account of the built-in sign-in.
    #[error("account not found")]
    AccountNotFound,
    /// The session exists but is revoked or expired.
    #[error("session is no longer live")]
    SessionNotLive,
    /// A new session would exceed the per-user cap and the policy is to deny.
    #[error("the user already has the maximum number of live sessions")]
    SessionLimitReached,
    /// A compare-and-set lost: the record changed since it was read.
    #[error("the record was changed by someone else; re-read and retry")]
    Conflict,
    /// A session with the same id already exists (never overwritten).
    #[error("a session with this id already exists")]
    AlreadyExists,
    /// A caller-supplied value is out of bounds (user id, claims, data).
    #[error("invalid input: {0}")]
    InvalidInput(&'static str),
    /// A policy or configuration value is out of range.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
    /// A key is unusable: too short an HMAC secret, unparsable key material, wrong algorithm.
    #[error("invalid key: {0}")]
    InvalidKey(&'static str),
    /// The keyset has no active signing key.
    #[error("the keyset has no active signing key")]
    NoActiveKey,
    /// The operating system CSPRNG failed.
    #[error("the operating system random number generator failed")]
    Random,
    /// A cryptographic operation failed unexpectedly.
    #[error("cryptographic operation failed")]
    Crypto,
    /// Over a rate limit.
    #[error("rate limited; retry in {retry_after:?}")]
    RateLimited {
        /// Until one more request will be allowed.
        retry_after: std::time::Duration,
        /// Until the limit is fully replenished.
        reset_after: std::time::Duration,
        /// The burst the limit allows.
        limit: u32,
    },
    /// The store failed; see the source.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What kind of store failure happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The backend is unreachable or timed out; retrying later may succeed.
    Unavailable,
    /// The backend returned data that does not decode: a bug or tampering.
    Corrupt,
    /// Anything else the backend reported.
    Other,
}

/// A failure inside a [`Store`](crate::Store) implementation, with its cause kept.
#[derive(Debug)]
pub struct StoreError {
    kind: StoreErrorKind,
    source: Box<dyn StdError + Send + Sync>,
}

impl StoreError {
    /// A store error of `kind` caused by `source`.
    pub fn new(kind: StoreErrorKind, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        Self {
            kind,
            source: source.into(),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store {:?}: {}", self.kind, self.source)
    }
}

impl StdError for StoreError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(self.source.as_ref())
    }
}
