//! A manager over the store under test, with a manual clock.

use std::sync::Arc;
use std::time::Duration;

use tessera::{
    Issued, ManualClock, NewSession, Sealer, ServerSecret, SessionManager, Settings, Store,
    Timestamp, Validation,
};

/// Where every fixture's clock starts (2023-11-14T22:13:20Z).
pub const START: Timestamp = Timestamp::from_secs(1_700_000_000);

/// A manager over the store under test, its clock and settings.
pub struct Fixture<S: Store> {
    /// The manager ("node A").
    pub manager: Arc<SessionManager<S, ManualClock>>,
    /// The shared manual clock.
    pub clock: ManualClock,
    /// The store under test.
    pub store: S,
    settings: Settings,
}

#[allow(clippy::expect_used, reason = "test support")]
impl<S: Store + Clone + 'static> Fixture<S> {
    /// Default settings.
    pub async fn new(store: S) -> Self {
        Self::with(store, |_| {}).await
    }

    /// Settings adjusted by `adjust`.
    pub async fn with(store: S, adjust: impl FnOnce(&mut Settings)) -> Self {
        let secret = ServerSecret::generate().expect("secret");
        let mut settings = Settings::new(Validation::new("https://tessera.test", "api"), secret);
        // Every node of a deployment shares one key-encryption key.
        settings.sealer = Some(Sealer::ephemeral().expect("sealer"));
        adjust(&mut settings);
        let clock = ManualClock::new(START);
        let manager = SessionManager::start(store.clone(), clock.clone(), settings.clone())
            .await
            .expect("manager starts");
        Self {
            manager: Arc::new(manager),
            clock,
            store,
            settings,
        }
    }

    /// A second node on the same store, secret and clock.
    pub async fn another_node(&self) -> SessionManager<S, ManualClock> {
        SessionManager::start(
            self.store.clone(),
            self.clock.clone(),
            self.settings.clone(),
        )
        .await
        .expect("second node starts")
    }

    /// Another node on the same store and clock, with settings adjusted by `adjust` (for
    /// example another key-encryption key).
    ///
    /// # Errors
    /// Whatever starting that node fails with.
    pub async fn node_with(
        &self,
        adjust: impl FnOnce(&mut Settings),
    ) -> Result<SessionManager<S, ManualClock>, tessera::Error> {
        let mut settings = self.settings.clone();
        adjust(&mut settings);
        SessionManager::start(self.store.clone(), self.clock.clone(), settings).await
    }

    /// Creates a session for `user`.
    pub async fn login(&self, user: &str) -> Issued {
        self.manager
            .create(NewSession::for_user(user))
            .await
            .expect("create session")
    }

    /// Refreshes with `issued`'s refresh token, expecting success.
    pub async fn refresh(&self, issued: &Issued) -> Issued {
        self.manager
            .refresh(&issued.refresh_token.expose())
            .await
            .expect("refresh")
    }

    /// Moves the clock forward by `secs` seconds.
    pub fn advance(&self, secs: u64) {
        self.clock.advance(Duration::from_secs(secs));
    }
}

impl<S: Store> Fixture<S> {
    /// The fixture clock's current time.
    pub fn clock_now(&self) -> Timestamp {
        use tessera::Clock;
        self.clock.now()
    }
}
