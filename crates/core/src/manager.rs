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

mod keys;
mod refresh;

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use serde_json::{Map, Value};

use crate::chain::Chain;
use crate::jwt::{AccessClaims, JwkSet, RotationPolicy, Validation, sign_compact};
use crate::store::{
    CreateOutcome, LimitCheck, Revocation, Revoked, SessionUpdate, Store, UpdateOutcome,
};
use crate::{
    AuditEvent, AuditHook, AuditKind, Clock, Device, Error, RefreshState, RefreshToken,
    RevokeReason, RevokedView, ServerSecret, Session, SessionId, SessionPolicy, StoredEvent,
    Timestamp, TokenRejection, random,
};

use keys::KeyRing;
pub use keys::KeySummary;

/// Longest accepted user id, in bytes.
const MAX_USER_ID: usize = 256;
/// Largest accepted application claims, serialised (they ride in every access token).
const MAX_CLAIMS_BYTES: usize = 2048;
/// Largest accepted application data, serialised.
const MAX_DATA_BYTES: usize = 64 * 1024;
/// Feed entries read per store call while catching up.
const FEED_PAGE: usize = 1000;

/// Everything a [`SessionManager`] needs besides its store and clock.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Issuer, audience, leeway and token size cap.
    pub validation: Validation,
    /// Session lifetimes and limits.
    pub policy: SessionPolicy,
    /// Signing-key rotation schedule and algorithm.
    pub rotation: RotationPolicy,
    /// The root secret for refresh chains and CSRF (shared by all nodes).
    pub secret: ServerSecret,
    /// An operator-supplied HS256 secret (at least 32 bytes) to sign with instead of rotating,
    /// generated keys. All nodes and verifiers must share it. Requires `rotation.algorithm`
    /// to be HS256.
    pub hs256_secret: Option<Hs256Secret>,
    /// Called with every audit event after it is stored (the server logs them).
    pub audit_hook: Option<AuditHook>,
    /// `Some(bound)` when several nodes share the store: verification fails closed when the
    /// revocation view has not synced within the bound. `None` for a single process.
    pub max_feed_staleness: Option<Duration>,
}

impl Settings {
    /// Defaults everywhere but the two choices that cannot have one.
    pub fn new(validation: Validation, secret: ServerSecret) -> Self {
        Self {
            validation,
            policy: SessionPolicy::default(),
            rotation: RotationPolicy::default(),
            secret,
            hs256_secret: None,
            audit_hook: None,
            max_feed_staleness: None,
        }
    }
}

/// An operator-supplied HS256 secret. `Debug` does not print it.
#[derive(Clone)]
pub struct Hs256Secret(Vec<u8>);

impl Hs256Secret {
    /// Wraps `secret`, refusing anything under 256 bits.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for a secret under 32 bytes.
    pub fn new(secret: impl Into<Vec<u8>>) -> Result<Self, Error> {
        let secret = secret.into();
        if secret.len() < crate::jwt::MIN_HMAC_SECRET {
            return Err(Error::InvalidKey("HS256 secret must be at least 32 bytes"));
        }
        Ok(Self(secret))
    }

    pub(crate) fn key(&self) -> Result<crate::jwt::SigningKey, Error> {
        // The kid is derived from the secret, so every node configured alike agrees on it.
        let kid = crate::encoding::b64_encode(
            crate::TokenHash::of(&self.0)
                .as_bytes()
                .get(..9)
                .unwrap_or_default(),
        );
        crate::jwt::SigningKey::hs256(kid, &self.0)
    }
}

impl std::fmt::Debug for Hs256Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hs256Secret(..)")
    }
}

/// What a new session starts with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewSession {
    /// The authenticated user.
    pub user_id: String,
    /// Application claims copied into every access token (e.g. `role`).
    pub claims: Map<String, Value>,
    /// Application data kept server-side.
    pub data: Value,
    /// Device metadata.
    pub device: Device,
}

impl NewSession {
    /// A session for `user_id` with no claims, data or device details.
    pub fn for_user(user_id: impl Into<String>) -> Self {
        Self {
            user_id: user_id.into(),
            ..Self::default()
        }
    }
}

/// A signed access token. `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken {
    token: String,
    /// When it expires.
    pub expires_at: Timestamp,
    /// Its unique id.
    pub jti: String,
}

impl AccessToken {
    /// The compact JWS to hand to the client. Never log it.
    pub fn expose(&self) -> &str {
        &self.token
    }
}

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessToken")
            .field("jti", &self.jti)
            .finish_non_exhaustive()
    }
}

/// Tokens issued at session creation or refresh.
#[derive(Debug, Clone)]
pub struct Issued {
    /// The session as it stands after the operation.
    pub session: Session,
    /// A fresh access token.
    pub access_token: AccessToken,
    /// The refresh token to use next.
    pub refresh_token: RefreshToken,
}

/// Sessions, tokens and revocation over a store.
pub struct SessionManager<S, C> {
    store: S,
    clock: C,
    settings: Settings,
    chain: Chain,
    keys: RwLock<Arc<KeyRing>>,
    view: RevokedView,
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
            Some(bound) => RevokedView::shared(bound),
            None => RevokedView::local(),
        };
        let keys = RwLock::new(Arc::new(KeyRing::empty(&settings.validation)));
        let chain = Chain::new(&settings.secret);
        Ok(Self {
            store,
            clock,
            settings,
            chain,
            keys,
            view,
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
    /// [`Error::InvalidInput`] for a bad user id, reserved or oversized claims or data;
    /// [`Error::SessionLimitReached`] when the user's cap denies it; store errors.
    pub async fn create(&self, new: NewSession) -> Result<Issued, Error> {
        validate_new(&new)?;
        let now = self.clock.now();
        let sid = SessionId::generate()?;
        let secret: [u8; 32] = random::bytes()?;
        let p = &self.settings.policy;
        let absolute = now.plus(p.absolute_timeout);
        let session = Session {
            sid,
            user_id: new.user_id,
            claims: new.claims,
            data: new.data,
            device: new.device,
            created_at: now,
            last_seen_at: now,
            idle_expires_at: now.plus(p.idle_timeout).min(absolute),
            absolute_expires_at: absolute,
            refresh: RefreshState {
                generation: 1,
                current: crate::TokenHash::of(&secret),
                previous: None,
                rotated_at: now,
            },
            version: 1,
            revoked_at: None,
            revoke_reason: None,
        };
        let limit = p.limit.map(|limit| LimitCheck {
            limit,
            now,
            eviction: self.revocation(RevokeReason::Evicted, now),
        });
        match self.store.create(&session, limit).await? {
            CreateOutcome::Created { evicted } => {
                for old in evicted {
                    self.view
                        .insert(Revoked::Session(old), self.revocation_until(now));
                    let evicted = AuditKind::SessionRevoked {
                        reason: RevokeReason::Evicted,
                    };
                    self.record(Some(&session.user_id), Some(old), evicted)
                        .await?;
                }
                self.record(Some(&session.user_id), Some(sid), AuditKind::SessionCreated)
                    .await?;
            }
            CreateOutcome::AlreadyExists => return Err(Error::AlreadyExists),
            CreateOutcome::LimitReached => return Err(Error::SessionLimitReached),
        }
        let refresh_token = RefreshToken::new(sid, 1, secret);
        self.issue(session, refresh_token, now)
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
    /// verified, until its `exp`), then revocation in memory, every time. No store call.
    ///
    /// # Errors
    /// [`Error::InvalidToken`] with the reason (for logs; clients get a coarse answer).
    pub fn verify(&self, token: &str) -> Result<AccessClaims, Error> {
        let now = self.clock.now();
        if !self.view.is_current(now) {
            return Err(Error::InvalidToken(TokenRejection::RevocationStale));
        }
        let ring = self.ring();
        let leeway = self.settings.validation.leeway();
        let claims = match ring.cache.get(token, now, leeway) {
            Some(claims) => claims,
            None => {
                let claims = Arc::new(ring.verifier.verify(token, now)?);
                ring.cache.insert(token, Arc::clone(&claims), now);
                claims
            }
        };
        if self.view.is_revoked(&claims.sid, &claims.jti) {
            return Err(Error::InvalidToken(TokenRejection::Revoked));
        }
        Ok((*claims).clone())
    }

    /// Feed entries must outlive every access token the session may have issued.
    fn revocation_until(&self, now: Timestamp) -> Timestamp {
        let v = &self.settings.validation;
        now.plus(self.settings.policy.access_ttl + v.leeway() + Duration::from_secs(60))
    }

    fn revocation(&self, reason: RevokeReason, at: Timestamp) -> Revocation {
        Revocation {
            reason,
            at,
            until: self.revocation_until(at),
        }
    }

    /// Revokes one session: its refresh token stops working and its access tokens stop verifying
    /// at once. Returns whether it was live before.
    ///
    /// # Errors
    /// Store errors.
    pub async fn revoke(&self, sid: &SessionId, reason: RevokeReason) -> Result<bool, Error> {
        let now = self.clock.now();
        let r = self.revocation(reason, now);
        let user = self.store.revoke(sid, r).await?;
        self.view.insert(Revoked::Session(*sid), r.until);
        if let Some(user) = &user {
            self.record(Some(user), Some(*sid), AuditKind::SessionRevoked { reason })
                .await?;
        }
        Ok(user.is_some())
    }

    /// Records an audit event: stored, then handed to the hook (if any).
    ///
    /// # Errors
    /// Store errors.
    pub async fn record(
        &self,
        user_id: Option<&str>,
        sid: Option<SessionId>,
        kind: AuditKind,
    ) -> Result<(), Error> {
        let event = AuditEvent {
            at: self.clock.now(),
            user_id: user_id.map(str::to_owned),
            sid,
            kind,
        };
        self.store.append_audit(&event).await?;
        if let Some(hook) = &self.settings.audit_hook {
            hook.call(&event);
        }
        Ok(())
    }

    /// A user's audit events, newest first (ids below `before`, at most `limit`).
    ///
    /// # Errors
    /// Store errors.
    pub async fn events(
        &self,
        user_id: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, Error> {
        Ok(self.store.audit_for_user(user_id, before, limit).await?)
    }

    /// Deletes up to `batch` audit events older than `retention`. Returns how many.
    ///
    /// # Errors
    /// Store errors.
    pub async fn purge_audit(&self, retention: Duration, batch: usize) -> Result<usize, Error> {
        Ok(self
            .store
            .purge_audit(self.clock.now().minus(retention), batch)
            .await?)
    }

    /// Revokes all of a user's sessions, or all but `except` ("sign out everywhere else").
    ///
    /// # Errors
    /// Store errors.
    pub async fn revoke_user(
        &self,
        user_id: &str,
        except: Option<&SessionId>,
        reason: RevokeReason,
    ) -> Result<Vec<SessionId>, Error> {
        let now = self.clock.now();
        let r = self.revocation(reason, now);
        let revoked = self.store.revoke_user(user_id, except, r).await?;
        for sid in &revoked {
            self.view.insert(Revoked::Session(*sid), r.until);
            self.record(
                Some(user_id),
                Some(*sid),
                AuditKind::SessionRevoked { reason },
            )
            .await?;
        }
        Ok(revoked)
    }

    /// Revokes one access token by its claims (RFC 7009), until it expires.
    ///
    /// # Errors
    /// Store errors.
    pub async fn revoke_access_token(&self, claims: &AccessClaims) -> Result<(), Error> {
        let until = Timestamp::from_secs(claims.exp).plus(self.settings.validation.leeway());
        self.store.revoke_token(&claims.jti, until).await?;
        self.view.insert(Revoked::Token(claims.jti.clone()), until);
        Ok(())
    }

    /// Reads new feed entries into the revocation view. Returns how many were applied.
    ///
    /// # Errors
    /// Store errors (the view then turns stale after its bound and verification fails closed).
    pub async fn sync_revocations(&self) -> Result<usize, Error> {
        let mut applied = 0;
        loop {
            let page = self
                .store
                .revocations_after(self.view.cursor(), FEED_PAGE)
                .await?;
            let now = self.clock.now();
            self.view.apply(&page, now);
            applied += page.len();
            if page.len() < FEED_PAGE {
                self.view.prune(now);
                return Ok(applied);
            }
        }
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

fn validate_new(new: &NewSession) -> Result<(), Error> {
    if new.user_id.is_empty()
        || new.user_id.len() > MAX_USER_ID
        || new.user_id.chars().any(char::is_control)
    {
        return Err(Error::InvalidInput(
            "user_id must be 1 to 256 bytes without control characters",
        ));
    }
    validate_claims(&new.claims)?;
    validate_data(&new.data)
}

fn validate_claims(claims: &Map<String, Value>) -> Result<(), Error> {
    if claims
        .keys()
        .any(|k| crate::jwt::REGISTERED_CLAIMS.contains(&k.as_str()))
    {
        return Err(Error::InvalidInput(
            "claims may not use registered claim names",
        ));
    }
    if serde_json::to_vec(claims).map_or(usize::MAX, |v| v.len()) > MAX_CLAIMS_BYTES {
        return Err(Error::InvalidInput("claims exceed 2 KiB"));
    }
    Ok(())
}

fn validate_data(data: &Value) -> Result<(), Error> {
    if serde_json::to_vec(data).map_or(usize::MAX, |v| v.len()) > MAX_DATA_BYTES {
        return Err(Error::InvalidInput("data exceeds 64 KiB"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
