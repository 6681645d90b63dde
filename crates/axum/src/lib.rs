//! # tessera-axum
//!
//! Tessera for axum applications: one tower layer that recognises the browser session cookie
//! and bearer access tokens and enforces CSRF on unsafe methods, extractors that hand handlers
//! the authenticated session or claims (or a coarse 401), a guard that sends people to sign in,
//! sign-in and sign-out helpers, and a per-client rate-limit layer. Generic over the store: it
//! talks to a [`tessera::SessionManager`] only.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use tessera::{KeyEncryptionKey, MemoryStore};
//! use tessera_axum::{BrowserSession, RequireSignIn, Tessera};
//! # async fn demo(kek: KeyEncryptionKey) -> Result<(), tessera::Error> {
//! // The secret and signing keys live (sealed) in the store; keys rotate, revocations are
//! // followed and expired sessions deleted in the background.
//! let tessera = Tessera::builder(MemoryStore::new(), "https://app.example")
//!     .key_encryption_key(kek)
//!     .build()
//!     .await?;
//! let app: Router = Router::new()
//!     .route("/account", get(|BrowserSession(s): BrowserSession| async move { s.user_id }))
//!     .layer(RequireSignIn::redirecting_to("/login"))
//!     .layer(tessera.layer());
//! # Ok(()) }
//! ```
//!
//! A sign-in handler checks the password its own way, then calls [`Tessera::login`] (a new
//! session id every time, the browser's previous session ended, "remember me" as a persistent
//! cookie) and returns the result as a response part; [`Tessera::logout`] ends the session
//! everywhere at once and clears the cookie.
//!
//! A service with no store of its own (it only checks the access tokens a Tessera server
//! issues) uses remote mode instead, behind the `remote` feature: `Remote::connect` fetches
//! the server's JWKS and follows its revocation feed with a `verify` key, failing closed (503)
//! when it falls behind, and `Remote::layer` hands handlers the same [`Bearer`] claims.
//!
//! ## Compared with tower-sessions and axum-login
//!
//! | | tower-sessions + axum-login | tessera-axum |
//! | --- | --- | --- |
//! | session id at sign-in | `cycle_id` on login (axum-login) | always a new session and cookie; the previous one revoked, never adopted |
//! | cookie | configurable name, domain, expiry; `Secure` on by default | `__Host-` name by default (`__Secure-` only with a domain), `HttpOnly`, `Secure`, `SameSite`; "remember me" bounded by the session's absolute end |
//! | what is stored | the session's data map | session record with device, idle and absolute timeouts, refresh chain; the cookie stored only as a hash |
//! | CSRF | none: the application adds it | session-bound CSRF tokens checked on every unsafe method, plus `Sec-Fetch-Site`/`Origin` checks |
//! | logout everywhere, device list | not provided | [`tessera::SessionManager::revoke_user`], [`tessera::SessionManager::list`] |
//! | APIs and other services | cookies only | bearer access tokens (JWT with rotating keys, JWKS) from the same session, revoked with it; services without the store verify in remote mode |
//! | several processes | a shared store | a shared store plus a revocation feed each node follows, failing closed when it falls behind |
//! | upkeep | `ExpiredDeletion` task you spawn | started by [`Tessera::builder`]: keys, revocations, purge |
//! | guard | `login_required!` macro | [`RequireSignIn`] layer: 303 to sign-in with `return_to` for page loads, 401 problem otherwise |
//! | user model | `AuthUser`/`AuthnBackend` traits | any user id; Tessera's own accounts (Argon2id, throttled) optional |

#![deny(missing_docs)]

mod builder;
mod cidr;
mod client;
mod cookie;
mod extract;
mod guard;
mod header;
#[cfg(feature = "remote")]
mod http;
mod layer;
mod problem;
mod rate_limit;
#[cfg(feature = "remote")]
mod remote;
mod require;
mod sign_in;
mod upkeep;

#[allow(
    clippy::disallowed_types,
    reason = "exported for the one place an application names the clock the builder chose"
)]
pub use builder::{SystemClock, TesseraBuilder};
pub use cidr::Cidr;
pub use client::{Client, ForwardedHeader, TrustedProxies, is_loopback_host, resolve_client};
pub use cookie::{CookieSettings, SameSite, cookie_values};
pub use extract::{Bearer, BrowserSession, CsrfToken};
pub use guard::{Admit, Guarded};
pub use header::{bearer_token, whole_seconds};
pub use layer::{SessionLayer, SessionService, Tessera};
pub use problem::Rejection;
pub use rate_limit::{RateLimitLayer, RateLimitService};
#[cfg(feature = "remote")]
pub use remote::{Remote, RemoteLayer, RemoteOptions};
pub use require::RequireSignIn;
pub use sign_in::{SignedIn, SignedOut};
