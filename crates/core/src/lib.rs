//! # Tessera
//!
//! Keeps users signed in, safely, across devices and services: short-lived signed access
//! tokens, opaque refresh tokens rotated on every use, server-side sessions with idle and
//! absolute timeouts, immediate revocation, and CSRF primitives for browsers.
//!
//! The core does no I/O of its own. Storage goes through the [`Store`] trait (an in-memory
//! [`MemoryStore`] is included; SQLite, Redis and PostgreSQL live in their own crates) and time
//! through a [`Clock`], so every rule here is testable without a network or a sleep.
//!
//! Start with [`SessionManager`]: see its module example.

#![deny(missing_docs)]

mod account;
mod audit;
mod chain;
#[allow(
    clippy::disallowed_types,
    reason = "the clock module defines the OS clock that callers may not name"
)]
mod clock;
mod cookie;
mod csrf;
mod device;
mod encoding;
mod error;
pub mod jwt;
mod manager;
mod password;
mod policy;
mod random;
mod rate_limit;
mod refresh_token;
mod reset;
mod revocation;
mod seal;
mod secret;
mod session;
mod session_id;
pub mod store;

pub use account::{AccountId, LoginName, MAX_LOGIN_BYTES, MIN_LOGIN_CHARS};
pub use audit::{AuditEvent, AuditHook, AuditKind, AuditOrigin, StoredEvent};
#[allow(
    clippy::disallowed_types,
    reason = "exported for the one place an application chooses its clock"
)]
pub use clock::SystemClock;
pub use clock::{Clock, ManualClock, Timestamp};
pub use cookie::CookieToken;
pub use csrf::{Csrf, LoginCsrf, OriginDecision, check_origin, is_safe_method};
pub use device::KnownDevices;
pub use error::{Error, RefreshRejection, StoreError, StoreErrorKind, TokenRejection};
pub use jwt::{AccessClaims, Algorithm, RotationPolicy, Validation};
pub use manager::{
    AccessToken, BOOTSTRAP_KEY_NAME, Hs256Secret, Issued, KeySummary, NewSession, SEALED_SETTING,
    SessionManager, Settings,
};
pub use password::{
    MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS, PasswordHash, check_length as check_password_length,
};
pub use policy::{OnLimit, SessionLimit, SessionPolicy};
pub use random::random_id;
pub use rate_limit::{Quota, RateDecision, RateLimiter, gcra};
pub use refresh_token::RefreshToken;
pub use reset::ResetLinks;
pub use revocation::RevokedView;
pub use seal::{KeyEncryptionKey, Sealer};
pub use secret::{ApiKey, ApiScope, ServerSecret, TokenHash};
pub use session::{Device, RefreshState, RevokeReason, Session};
pub use session_id::SessionId;
pub use store::{MemoryStore, Store};
