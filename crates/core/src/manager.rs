//! The session manager: every rule of sessions, tokens and revocation in one place, over any
//! [`Store`] and any [`Clock`].
//!
//! ```
//! use tessera::{MemoryStore, NewSession, ServerSecret, SessionManager, Settings, SystemClock, Validation};
//! # async fn demo() -> Result<(), tessera::Error> {
//! let settings = Settings::new(Validation::new("https://auth.example", "api"), ServerSecret::generate()?);
//! let manager = SessionManager::start(MemoryStore::new(), SystemClock, settings).await?;
//! let issued = manager.create(NewSession::for_user("user-42")).await?;
//! let claims = manager.verify(issued.access_token.expose())?;
//! assert_eq!(claims.sub, "user-42");
//! let next = manager.refresh(&issued.refresh_token.expose()).await?;
//! manager.revoke(&next.session.sid, tessera::RevokeReason::Logout).await?;
//! assert!(manager.verify(next.access_token.expose()).is_err());
//! # Ok(()) }
//! ```

mod api_keys;
pub use api_keys::BOOTSTRAP_KEY_NAME;
mod audit;
mod browser;
mod issued;
mod keys;
mod refresh;
mod revoke;
mod server_secret;
mod settings;

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, PoisonError, RwLock};

use crate::chain::Chain;
use crate::jwt::{AccessClaims, JwkSet, sign_compact};
use crate::store::{CreateOutcome, LimitCheck, Revoked, SessionUpdate, Store, UpdateOutcome};
use crate::{
    AuditKind, Clock, CookieToken, Csrf, Error, KnownDevices, RefreshToken, ResetLinks,
    RevokeReason, RevokedView, Session, SessionId, Timestamp, TokenHash, TokenRejection, random,
};

use keys::KeyRing;
pub use keys::{KeySummary, SEALED_SETTING};

pub use issued::{AccessToken, Issued, NewSession};
use issued::{validate_claims, validate_data, validate_new};
pub use settings::{Hs256Secret, Settings};

const RESERVED: Error = Error::InvalidInput(
    "user ids starting with usr_ are reserved for accounts of the built-in sign-in",
);

/// Sessions, tokens and revocation over a store.
pub struct SessionManager<S, C> {
    store: S,
    clock: C,
    settings: Settings,
    chain: Chain,
    keys: RwLock<Arc<KeyRing>>,
    view: RevokedView,
    csrf: Csrf,
    devices: KnownDevices,
    resets: ResetLinks,
    audit_failures: AtomicU64,
}

impl<S: Store, C: Clock> SessionManager<S, C> {
    /// Validates `settings` and builds a manager whose keyset is still empty; call
    /// [`SessionManager::sync_keys`] before issuing tokens (or use [`SessionManager::start`]).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] when the policies are inconsistent.
    pub fn new(store: S, clock: C, settings: Settings) -> Result<Self, Error> {
        settings.policy.validate()?;
        settings.rotation.validate()?;
        let needed = settings.policy.access_ttl + settings.validation.leeway();
        if settings.rotation.retire_after < needed {
            return Err(Error::InvalidConfig(
                "rotation.retire_after must cover access_ttl plus leeway".into(),
            ));
        }
        if settings.hs256_secret.is_some() && settings.rotation.algorithm != crate::Algorithm::HS256
        {
            return Err(Error::InvalidConfig(
                "an HS256 secret requires the HS256 algorithm".into(),
            ));
        }
        let view = match settings.max_feed_staleness {
            Some(bound) => RevokedView::shared(bound, store.feeds()),
            None => RevokedView::local(),
        };
        let keys = RwLock::new(Arc::new(KeyRing::empty(&settings.validation)));
        let chain = Chain::new(&settings.secret);
        let csrf = Csrf::new(&settings.secret);
        let devices = KnownDevices::new(&settings.secret);
        let resets = ResetLinks::new(&settings.secret);
        Ok(Self {
            store,
            clock,
            settings,
            chain,
            keys,
            view,
            csrf,
            devices,
            resets,
            audit_failures: AtomicU64::new(0),
        })
    }

    /// [`SessionManager::new`], then loads (or creates) the keyset and catches up the feed.
    ///
    /// # Errors
    /// Configuration, key generation and store errors.
    pub async fn start(store: S, clock: C, settings: Settings) -> Result<Self, Error> {
        let manager = Self::new(store, clock, settings)?;
        manager.sync_keys().await?;
        manager.sync_revocations().await?;
        Ok(manager)
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The clock every rule reads.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The in-memory revocation view.
    pub fn revoked_view(&self) -> &RevokedView {
        &self.view
    }

    fn ring(&self) -> Arc<KeyRing> {
        Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The public keys to publish at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> JwkSet {
        self.ring().keyset.jwks()
    }

    /// Creates a session for an authenticated user and issues its first tokens.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a bad user id (or an account id, `usr_…`, of no account),
    /// reserved or oversized claims or data;
    /// [`Error::SessionLimitReached`] when the user's cap denies it; store errors.
    pub async fn create(&self, new: NewSession) -> Result<Issued, Error> {
        self.create_with(SessionId::for_user(&new.user_id)?, new, None)
            .await
    }

    /// [`SessionManager::create`] for a browser: also issues the session's cookie.
    ///
    /// # Errors
    /// As [`SessionManager::create`].
    pub async fn create_browser(&self, new: NewSession) -> Result<(Issued, CookieToken), Error> {
        let sid = SessionId::for_user(&new.user_id)?;
        let cookie = CookieToken::generate(sid)?;
        let issued = self.create_with(sid, new, Some(cookie.hash())).await?;
        Ok((issued, cookie))
    }

    async fn create_with(
        &self,
        sid: SessionId,
        new: NewSession,
        cookie: Option<TokenHash>,
    ) -> Result<Issued, Error> {
        validate_new(&new)?;
        self.check_reserved(&new.user_id).await?;
        let now = self.clock.now();
        let secret: [u8; 32] = random::bytes()?;
        let p = &self.settings.policy;
        let absolute = now.plus(p.absolute_timeout);
        let session = Session {
            claims: new.claims,
            data: new.data,
            device: new.device,
            cookie,
            ..Session::started(
                sid,
                new.user_id,
                now,
                now.plus(p.idle_timeout).min(absolute),
                absolute,
                TokenHash::of(&secret),
            )
        };
        let limit = p.limit.map(|limit| LimitCheck {
            limit,
            now,
            eviction: self.revocation(RevokeReason::Evicted, now),
        });
        // The creation's audit event is written in the creation's own step.
        let created = self.event(Some(&session.user_id), Some(sid), AuditKind::SessionCreated);
        match self.store.create(&session, limit, Some(&created)).await? {
            CreateOutcome::Created { evicted } => {
                let mut events = Vec::new();
                for old in evicted {
                    self.view
                        .insert(Revoked::Session(old), self.revocation_until(now));
                    let evicted = AuditKind::SessionRevoked {
                        reason: RevokeReason::Evicted,
                    };
                    events.push(self.event(Some(&session.user_id), Some(old), evicted));
                }
                self.note_all(events).await;
                self.hand_to_hook(&created);
            }
            CreateOutcome::AlreadyExists => return Err(Error::AlreadyExists),
            CreateOutcome::LimitReached => return Err(Error::SessionLimitReached),
        }
        let refresh_token = RefreshToken::new(sid, 1, secret);
        self.issue(session, refresh_token, now)
    }

    /// Account ids (`usr_…`) name built-in accounts only: a backend may create a session for
    /// one that exists, but never mint one, so its users and the accounts cannot collide.
    async fn check_reserved(&self, user_id: &str) -> Result<(), Error> {
        if !crate::AccountId::is_reserved(user_id) {
            return Ok(());
        }
        let id = user_id.parse().map_err(|_| RESERVED)?;
        match self.store.get_user(&id).await? {
            Some(_) => Ok(()),
            None => Err(RESERVED),
        }
    }

    /// Signs an access token for `session` and bundles it with `refresh_token`.
    fn issue(
        &self,
        session: Session,
        refresh_token: RefreshToken,
        now: Timestamp,
    ) -> Result<Issued, Error> {
        let access_token = self.mint(&session, now)?;
        Ok(Issued {
            session,
            access_token,
            refresh_token,
        })
    }

    /// A fresh access token for a live session, without touching its refresh chain: for a
    /// browser (cookie) session whose single-page app calls APIs with bearer tokens.
    ///
    /// # Errors
    /// [`Error::SessionNotLive`] for a revoked or expired session; key errors.
    pub fn access_token_for(&self, session: &Session) -> Result<AccessToken, Error> {
        let now = self.clock.now();
        if !session.is_live(now) {
            return Err(Error::SessionNotLive);
        }
        self.mint(session, now)
    }

    fn mint(&self, session: &Session, now: Timestamp) -> Result<AccessToken, Error> {
        let ring = self.ring();
        let key = ring.keyset.active().ok_or(Error::NoActiveKey)?;
        let p = &self.settings.policy;
        let jitter = random::up_to(p.access_ttl_jitter.as_secs())?;
        let ttl = i64::try_from(p.access_ttl.as_secs().saturating_sub(jitter)).unwrap_or(0);
        let exp = now
            .as_secs()
            .saturating_add(ttl)
            .min(session.absolute_expires_at.as_secs());
        let jti = crate::encoding::b64_encode(&random::bytes::<16>()?);
        let v = &self.settings.validation;
        let claims = AccessClaims {
            iss: v.issuer().to_owned(),
            aud: vec![v.audience().to_owned()],
            sub: session.user_id.clone(),
            sid: session.sid,
            jti: jti.clone(),
            iat: now.as_secs(),
            exp,
            nbf: None,
            extra: session.claims.clone(),
        };
        let token = sign_compact(key, &claims.to_json())?;
        Ok(AccessToken {
            token,
            expires_at: Timestamp::from_secs(exp),
            jti,
        })
    }

    /// Verifies an access token: signature and claims (skipped for a token this node already
    /// verified, until its `exp`), then revocation in memory, every time. No store call. The
    /// claims are shared with the cache and come with their payload JSON as signed.
    ///
    /// # Errors
    /// [`Error::InvalidToken`] with the reason (for logs; clients get a coarse answer).
    pub fn verify(&self, token: &str) -> Result<Arc<crate::jwt::VerifiedClaims>, Error> {
        let now = self.clock.now();
        if !self.view.is_current(now) {
            return Err(Error::InvalidToken(TokenRejection::RevocationStale));
        }
        let ring = self.ring();
        let leeway = self.settings.validation.leeway();
        let key = TokenHash::of(token.as_bytes());
        let claims = match ring.cache.get(&key, now, leeway) {
            Some(claims) => claims,
            None => {
                let claims = Arc::new(ring.verifier.verify_keeping_payload(token, now)?);
                ring.cache.insert(key, Arc::clone(&claims), now);
                claims
            }
        };
        if self.view.is_revoked(&claims.sid, &claims.jti) {
            return Err(Error::InvalidToken(TokenRejection::Revoked));
        }
        Ok(claims)
    }

    /// One session, live or not.
    ///
    /// # Errors
    /// Store errors.
    pub async fn get(&self, sid: &SessionId) -> Result<Option<Session>, Error> {
        Ok(self.store.get(sid).await?)
    }

    /// A user's live sessions, oldest first.
    ///
    /// # Errors
    /// Store errors.
    pub async fn list(&self, user_id: &str) -> Result<Vec<Session>, Error> {
        Ok(self.store.list_user(user_id, self.clock.now()).await?)
    }

    /// Records activity on `session`, sliding its idle expiry (never past the absolute one).
    /// Throttled: returns `false` without writing when the last write is recent.
    ///
    /// # Errors
    /// [`Error::SessionNotLive`] for a revoked or expired session; store errors.
    pub async fn touch(&self, session: &Session) -> Result<bool, Error> {
        let now = self.clock.now();
        if !session.is_live(now) {
            return Err(Error::SessionNotLive);
        }
        let p = &self.settings.policy;
        if now.since(session.last_seen_at) < p.touch_interval {
            return Ok(false);
        }
        let idle = now.plus(p.idle_timeout).min(session.absolute_expires_at);
        if self.store.touch(&session.sid, now, idle).await? {
            Ok(true)
        } else {
            Err(Error::SessionNotLive)
        }
    }

    /// Compare-and-set update of a session's claims and/or data at `expected_version`. New
    /// claims appear in access tokens from the next refresh on. Returns the new version.
    ///
    /// # Errors
    /// [`Error::Conflict`] when another writer got there first; [`Error::SessionNotFound`];
    /// [`Error::InvalidInput`] for reserved or oversized values; store errors.
    pub async fn update(
        &self,
        sid: &SessionId,
        expected_version: u64,
        update: SessionUpdate,
    ) -> Result<u64, Error> {
        if let Some(claims) = &update.claims {
            validate_claims(claims)?;
        }
        if let Some(data) = &update.data {
            validate_data(data)?;
        }
        match self.store.update(sid, expected_version, &update).await? {
            UpdateOutcome::Updated(v) => Ok(v),
            UpdateOutcome::VersionMismatch(_) => Err(Error::Conflict),
            UpdateOutcome::NotFound => Err(Error::SessionNotFound),
        }
    }

    /// Deletes up to `batch` expired or revoked sessions. Returns how many.
    ///
    /// # Errors
    /// Store errors.
    pub async fn purge_expired(&self, batch: usize) -> Result<usize, Error> {
        Ok(self.store.purge_expired(self.clock.now(), batch).await?)
    }
}

#[cfg(test)]
mod tests;
