//! What every handler shares.

use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use crate::api_keys::ApiKeys;
use tessera::RateLimiter;
use tessera_axum::Tessera;

use crate::boot::{Manager, ServerClock};
use crate::config::Config;
use crate::http::RequestIds;
use crate::metrics::Metrics;
use crate::pages::{PasswordQueue, Views};
use crate::store::AnyStore;

/// Shared application state behind one `Arc`: every layer and handler clones it per request,
/// so a clone is one reference count, not one per part.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// Shares `parts`.
    pub fn new(parts: Shared) -> Self {
        Self(Arc::new(parts))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct Shared {
    /// Sessions, tokens and revocation.
    pub manager: Arc<Manager>,
    /// The API keys accepted: the bootstrap admin key and the named, scoped ones.
    pub api_keys: Arc<ApiKeys>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// The configuration in force.
    pub config: Arc<Config>,
    /// Set once the plain-HTTP-with-Secure-cookies warning has been logged.
    pub warned_plain_http: AtomicBool,
    /// The browser-session layer and cookie profile of the built-in pages.
    pub tessera: Tessera<AnyStore, ServerClock>,
    /// The bounded password-hashing queue.
    pub passwords: PasswordQueue,
    /// Rate limits counted on this node only: those of verification, which never touches the
    /// store, and the throttle on recording rate-limit events.
    pub local_limits: RateLimiter,
    /// Ids for requests that bring none.
    pub request_ids: RequestIds,
    /// The built-in pages' templates and assets.
    pub views: Views,
}
