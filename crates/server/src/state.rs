//! What every handler shares.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::api_keys::ApiKeys;
use tessera::{RateLimiter, SystemClock};
use tessera_axum::Tessera;

use crate::boot::Manager;
use crate::config::Config;
use crate::metrics::Metrics;
use crate::pages::PasswordQueue;
use crate::store::AnyStore;

/// Shared, cheaply cloned application state.
#[derive(Clone)]
pub struct AppState {
    /// Sessions, tokens and revocation.
    pub manager: Arc<Manager>,
    /// The API keys accepted: the bootstrap admin key and the named, scoped ones.
    pub api_keys: Arc<ApiKeys>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The configuration in force.
    pub config: Arc<Config>,
    /// Set once the plain-HTTP-with-Secure-cookies warning has been logged.
    pub warned_plain_http: Arc<AtomicBool>,
    /// The browser-session layer and cookie profile of the built-in pages.
    pub tessera: Tessera<AnyStore, SystemClock>,
    /// The bounded password-hashing queue.
    pub passwords: PasswordQueue,
    /// Rate limits counted on this node only: those of verification, which never touches the
    /// store, and the throttle on recording rate-limit events.
    pub local_limits: Arc<RateLimiter>,
}
