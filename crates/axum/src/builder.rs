//! A [`Tessera`] without chores: the server secret kept (sealed) in the store, keys generated
//! and rotated, the revocation feed followed and expired sessions deleted in the background.
//!
//! ```no_run
//! use tessera::{KeyEncryptionKey, MemoryStore};
//! use tessera_axum::Tessera;
//! # async fn demo() -> Result<(), tessera::Error> {
//! // The key-encryption key comes from the application's secrets (`tessera keys new-kek`).
//! let kek = KeyEncryptionKey::parse(&std::env::var("KEK").unwrap_or_default())?;
//! let tessera = Tessera::builder(MemoryStore::new(), "https://app.example")
//!     .audience("app")
//!     .key_encryption_key(kek)
//!     .build()
//!     .await?;
//! # Ok(()) }
//! ```

#![allow(
    clippy::disallowed_types,
    reason = "the builder is where an application that does not choose a clock gets the OS one"
)]

use std::sync::Arc;
use std::time::Duration;

use tessera::{
    Error, KeyEncryptionKey, Sealer, ServerSecret, SessionManager, SessionPolicy, Settings, Store,
    Validation,
};

use crate::cookie::CookieSettings;
use crate::layer::Tessera;
use crate::upkeep;

/// The OS clock: an application that does not choose one gets it here.
pub type SystemClock = tessera::SystemClock;

/// How long a node of a shared store may go without catching up the revocation feed before
/// it refuses to vouch for tokens (as the server's default `feed_staleness`).
const FEED_STALENESS: Duration = Duration::from_secs(5);

/// Builds a [`Tessera`] on a store; see [`Tessera::builder`].
#[must_use]
pub struct TesseraBuilder<S> {
    store: S,
    origin: String,
    audience: String,
    trusted: Vec<String>,
    cookie: CookieSettings,
    policy: SessionPolicy,
    kek: Option<KeyEncryptionKey>,
}

impl<S: Store + 'static> Tessera<S, SystemClock> {
    /// A builder for an application served at `origin` (`https://app.example`): the issuer of
    /// its access tokens and the first origin it trusts with unsafe requests.
    pub fn builder(store: S, origin: &str) -> TesseraBuilder<S> {
        TesseraBuilder {
            store,
            origin: origin.to_owned(),
            audience: "tessera".into(),
            trusted: vec![origin.to_owned()],
            cookie: CookieSettings::default(),
            policy: SessionPolicy::default(),
            kek: None,
        }
    }
}

impl<S: Store + 'static> TesseraBuilder<S> {
    /// The `aud` of access tokens (default `tessera`).
    pub fn audience(mut self, audience: &str) -> Self {
        audience.clone_into(&mut self.audience);
        self
    }

    /// Also trust `origin` with unsafe requests (another origin of the application).
    pub fn trust_origin(mut self, origin: &str) -> Self {
        self.trusted.push(origin.to_owned());
        self
    }

    /// The session cookie's name, domain, `SameSite` and "remember me" lifetime.
    pub fn cookie(mut self, cookie: CookieSettings) -> Self {
        self.cookie = cookie;
        self
    }

    /// Timeouts and the per-user cap.
    pub fn policy(mut self, policy: SessionPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The key that seals the server secret and the signing keys in the store (required):
    /// every process sharing the store needs the same one.
    pub fn key_encryption_key(mut self, kek: KeyEncryptionKey) -> Self {
        self.kek = Some(kek);
        self
    }

    /// Opens the store's server secret (made and sealed on first use), starts the manager
    /// (generating signing keys on an empty store) and its background chores on the current
    /// Tokio runtime; they stop when the last clone of the returned [`Tessera`] is dropped.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] without a key-encryption key or with a bad cookie name or
    /// domain; a store whose secret this key cannot open; store errors.
    pub async fn build(self) -> Result<Tessera<S, SystemClock>, Error> {
        self.cookie.check()?;
        let kek = self.kek.ok_or_else(|| {
            Error::InvalidConfig(
                "a key-encryption key is required: make one with `tessera keys new-kek` \
                 (or KeyEncryptionKey::generate) and keep it with the application's secrets"
                    .into(),
            )
        })?;
        let sealer = Sealer::new(kek, Vec::new());
        let secret = ServerSecret::load_or_create(&self.store, &sealer, false).await?;
        let mut settings = Settings::new(Validation::new(&self.origin, &self.audience), secret);
        settings.sealer = Some(sealer);
        settings.policy = self.policy;
        if self.store.is_shared() {
            settings.max_feed_staleness = Some(FEED_STALENESS);
        }
        let manager = SessionManager::start(self.store, SystemClock::default(), settings).await?;
        let manager = Arc::new(manager);
        let upkeep = upkeep::chores(&manager);
        Ok(Tessera::with_upkeep(
            manager,
            self.cookie,
            self.trusted,
            Some(upkeep),
        ))
    }
}
