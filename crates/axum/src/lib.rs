//! # tessera-axum
//!
//! Tessera for axum applications: one tower layer that recognises the browser session cookie
//! and bearer access tokens and enforces CSRF on unsafe methods, extractors that hand handlers
//! the authenticated session or claims (or a coarse 401), and a per-client rate-limit layer.
//! Generic over the store: it talks to a [`tessera::SessionManager`] only.
//!
//! ```no_run
//! use std::sync::Arc;
//! use axum::{Router, routing::get};
//! use tessera_axum::{BrowserSession, CookieSettings, Tessera};
//! # async fn demo(manager: tessera::SessionManager<tessera::MemoryStore, tessera::SystemClock>) {
//! let tessera = Tessera::new(Arc::new(manager), CookieSettings::default(), vec!["https://app.example".into()]);
//! let app: Router = Router::new()
//!     .route("/account", get(|BrowserSession(s): BrowserSession| async move { s.user_id }))
//!     .layer(tessera.layer());
//! # }
//! ```

#![deny(missing_docs)]

mod cidr;
mod client;
mod cookie;
mod extract;
mod guard;
mod header;
mod layer;
mod problem;
mod rate_limit;

pub use cidr::Cidr;
pub use client::{Client, resolve_client};
pub use cookie::{CookieSettings, SameSite, cookie_values};
pub use extract::{Bearer, BrowserSession, CsrfToken};
pub use guard::{Admit, Guarded};
pub use header::{bearer_token, whole_seconds};
pub use layer::{SessionLayer, SessionService, Tessera};
pub use problem::Rejection;
pub use rate_limit::{RateLimitLayer, RateLimitService};
