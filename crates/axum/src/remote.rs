//! Remote mode: verify bearer access tokens against a running `tessera serve`, with no store of
//! the application's own. The public keys come from its JWKS (refetched on an unknown `kid`, at
//! most once per cooldown, and every few minutes), revocations from its feed
//! (`GET /v1/revocations`, with a `verify` API key) followed every second. Like Tessera's own
//! nodes, a remote verifier fails closed: when it has not caught up the feed for
//! `feed_staleness`, it answers 503, never "valid".
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use tessera::Validation;
//! use tessera_axum::{Bearer, Remote};
//! # async fn demo() -> Result<(), tessera::Error> {
//! let remote = Remote::connect(
//!     "https://auth.example",
//!     &std::env::var("TESSERA_VERIFY_KEY").unwrap_or_default(),
//!     Validation::new("https://auth.example", "tessera"),
//! )
//! .await?;
//! let app: Router = Router::new()
//!     .route("/orders", get(|Bearer(claims): Bearer| async move { claims.sub }))
//!     .layer(remote.layer());
//! # Ok(()) }
//! ```

#![allow(
    clippy::disallowed_types,
    reason = "remote mode has no manager to hand a clock to: it reads the OS clock here only"
)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde::Deserialize;
use tessera::jwt::{JwkSet, Verifier, VerifyingKey};
use tessera::store::{FeedEntry, Revoked};
use tessera::{
    AccessClaims, Clock, Error, RevokedView, StoreError, StoreErrorKind, Timestamp, TokenRejection,
    Validation,
};
use tower::Layer;

use crate::extract::Bearer;
use crate::guard::{Admit, Guarded};
use crate::header::bearer_token;
use crate::http::Client;
use crate::problem::Rejection;
use crate::upkeep::{Tasks, every};

/// How often the revocation feed is caught up.
const FEED_EVERY: Duration = Duration::from_secs(1);
/// How often the JWKS is fetched even when every `kid` is known: to drop retired keys, and a
/// withdrawn one (`tessera keys withdraw`) as soon as Tessera's own nodes do (they sync their
/// keys every 30 seconds). The JWKS is small; this is one request a verifier.
const KEYS_EVERY: Duration = Duration::from_secs(30);
/// Entries per feed page, and pages per catch-up.
const PAGE: usize = 1000;
const MAX_PAGES: usize = 100;

/// How a remote verifier reaches Tessera and how long it trusts what it knows.
#[derive(Debug, Clone)]
pub struct RemoteOptions {
    /// PEM certificates trusted for an `https` Tessera (default: Debian's system bundle).
    pub ca_file: PathBuf,
    /// Fail closed after this long without catching up the feed (default 5 s, as the server).
    pub feed_staleness: Duration,
    /// The least time between two JWKS fetches caused by unknown `kid`s (default 30 s).
    pub keys_cooldown: Duration,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        Self {
            ca_file: PathBuf::from("/etc/ssl/certs/ca-certificates.crt"),
            feed_staleness: Duration::from_secs(5),
            keys_cooldown: Duration::from_secs(30),
        }
    }
}

/// A verifier of Tessera's access tokens that follows a running Tessera; cheap to clone. Its
/// background work stops when the last clone is dropped.
#[derive(Clone)]
pub struct Remote {
    shared: Arc<Shared>,
    _tasks: Arc<Tasks>,
}

struct Shared {
    client: Client,
    key: String,
    validation: Validation,
    verifier: RwLock<Arc<Verifier>>,
    view: RevokedView,
    /// Where this verifier is in the feed: the cursor and the fingerprint of the entry there.
    position: Mutex<(FeedCursor, Option<String>)>,
    /// When unknown `kid`s last caused a JWKS fetch.
    fetched_for_kid: Mutex<Option<Timestamp>>,
    cooldown: Duration,
    clock: tessera::SystemClock,
}

impl Remote {
    /// [`Remote::connect_with`] the default options.
    ///
    /// # Errors
    /// As [`Remote::connect_with`].
    pub async fn connect(
        base: &str,
        verify_key: &str,
        validation: Validation,
    ) -> Result<Self, Error> {
        Self::connect_with(base, verify_key, validation, RemoteOptions::default()).await
    }

    /// Fetches Tessera's keys from `base` (`https://auth.example`), catches up its revocation
    /// feed with `verify_key` (a key of scope `verify`), and keeps both current in the
    /// background on the current Tokio runtime. Tokens must pass `validation` (issuer,
    /// audience, leeway).
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for a bad URL or CA file; a store-unavailable error when
    /// Tessera cannot be reached or refuses the key.
    pub async fn connect_with(
        base: &str,
        verify_key: &str,
        validation: Validation,
        options: RemoteOptions,
    ) -> Result<Self, Error> {
        let shared = Arc::new(Shared {
            client: Client::new(base, &options.ca_file)?,
            key: verify_key.to_owned(),
            verifier: RwLock::new(Arc::new(Verifier::new(validation.clone(), []))),
            validation,
            view: RevokedView::shared(options.feed_staleness, 1),
            position: Mutex::new((FeedCursor::START, None)),
            fetched_for_kid: Mutex::new(None),
            cooldown: options.keys_cooldown,
            clock: tessera::SystemClock,
        });
        shared.fetch_keys().await?;
        shared.sync_feed().await?;
        let tasks = Tasks(vec![
            every("remote-feed", FEED_EVERY, &shared, |s| async move {
                s.sync_feed().await
            }),
            every("remote-keys", KEYS_EVERY, &shared, |s| async move {
                s.fetch_keys().await
            }),
        ]);
        Ok(Self {
            shared,
            _tasks: Arc::new(tasks),
        })
    }

    /// Verifies `token`: signature by a key Tessera publishes (with that key's own algorithm),
    /// claims, and revocation.
    ///
    /// # Errors
    /// [`Error::InvalidToken`]; `RevocationStale` when this verifier cannot tell (fail closed).
    pub async fn verify(&self, token: &str) -> Result<AccessClaims, Error> {
        let s = &self.shared;
        let now = s.clock.now();
        if !s.view.is_current(now) {
            return Err(Error::InvalidToken(TokenRejection::RevocationStale));
        }
        let claims = match s.verifier().verify(token, now) {
            Err(Error::InvalidToken(TokenRejection::UnknownKey)) if s.may_fetch_for_kid(now) => {
                s.fetch_keys().await?;
                s.verifier().verify(token, now)?
            }
            other => other?,
        };
        if s.view.is_revoked(&claims.sid, &claims.jti) {
            return Err(Error::InvalidToken(TokenRejection::Revoked));
        }
        Ok(claims)
    }

    /// The layer that verifies each request's bearer token (see [`Bearer`]): valid claims go
    /// to the handler, an invalid or missing token leaves [`Bearer`] to answer 401, and a
    /// verifier that cannot tell answers 503.
    pub fn layer(&self) -> RemoteLayer {
        RemoteLayer(self.clone())
    }
}

impl Shared {
    fn verifier(&self) -> Arc<Verifier> {
        Arc::clone(&self.verifier.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Whether an unknown `kid` may cause a fetch now (at most once per cooldown).
    fn may_fetch_for_kid(&self, now: Timestamp) -> bool {
        let mut last = self
            .fetched_for_kid
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if last.is_some_and(|at| now.since(at) < self.cooldown) {
            return false;
        }
        *last = Some(now);
        true
    }

    async fn fetch_keys(&self) -> Result<(), Error> {
        let set: JwkSet = self.get_json("/.well-known/jwks.json").await?;
        let keys: Vec<VerifyingKey> = set
            .keys
            .iter()
            .filter_map(|jwk| match VerifyingKey::from_jwk(jwk) {
                Ok(key) => Some(key),
                Err(e) => {
                    tracing::warn!(kid = %jwk.kid, error = %e, "JWK skipped");
                    None
                }
            })
            .collect();
        if keys.is_empty() {
            return Err(unavailable("the JWKS has no usable key"));
        }
        let verifier = Arc::new(Verifier::new(self.validation.clone(), &keys));
        *self
            .verifier
            .write()
            .unwrap_or_else(PoisonError::into_inner) = verifier;
        Ok(())
    }

    /// Reads the feed past the cursor; the view counts as current from the start of a catch-up
    /// that reached the end.
    async fn sync_feed(&self) -> Result<(), Error> {
        let started = self.clock.now();
        let (mut cursor, mut at) = self
            .position
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let (mut entries, mut rewound) = (Vec::new(), false);
        for _ in 0..MAX_PAGES {
            let path = format!("/v1/revocations?after={cursor}&limit={PAGE}");
            let page: FeedPage = self.get_json(&path).await?;
            if cursor != FeedCursor::START && page.at != at && !rewound {
                // The entry this verifier stopped at is gone or changed: the feed went back
                // (new revocations may reuse numbers it has passed) or was purged. Read it all
                // again, once per sync.
                (cursor, at, rewound) = (FeedCursor::START, None, true);
                continue;
            }
            for item in &page.revocations {
                // An entry this verifier cannot read might be a revocation: fail closed.
                entries.push(item.entry().ok_or_else(|| {
                    Error::Store(StoreError::new(
                        StoreErrorKind::Corrupt,
                        "the revocation feed holds an entry this verifier cannot read",
                    ))
                })?);
            }
            if page.next_cursor.is_past(&cursor) {
                (cursor, at) = (page.next_cursor, page.next_at);
            }
            if !page.more {
                self.view.apply(0, &entries, started);
                self.view.prune(started);
                *self.position.lock().unwrap_or_else(PoisonError::into_inner) = (cursor, at);
                return Ok(());
            }
        }
        // Far behind: keep what was read, and stay stale until a catch-up reaches the end.
        for e in entries {
            self.view.insert(e.revoked, e.until);
        }
        *self.position.lock().unwrap_or_else(PoisonError::into_inner) = (cursor, at);
        Ok(())
    }

    async fn get_json<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<T, Error> {
        let (status, body) = self.client.get(path, &self.key).await?;
        if status != StatusCode::OK {
            return Err(unavailable(format!("GET {path} answered {status}")));
        }
        serde_json::from_slice(&body).map_err(|e| {
            Error::Store(StoreError::new(
                StoreErrorKind::Corrupt,
                format!("GET {path}: {e}"),
            ))
        })
    }
}

fn unavailable(why: impl Into<String>) -> Error {
    Error::Store(StoreError::new(StoreErrorKind::Unavailable, why.into()))
}

/// A position in the server's feed: a number for a store with one feed, the numbers of every
/// feed joined by dots for a sharded one. Handed back as it came.
#[derive(Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(untagged)]
enum FeedCursor {
    One(u64),
    Several(String),
}

impl FeedCursor {
    const START: Self = Self::One(0);

    /// Whether `self` is a step forward from `from` (a composite cursor only moves forward).
    fn is_past(&self, from: &Self) -> bool {
        match (self, from) {
            (Self::One(next), Self::One(from)) => next > from,
            _ => self != from,
        }
    }
}

impl std::fmt::Display for FeedCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::One(n) => write!(f, "{n}"),
            Self::Several(text) => f.write_str(text),
        }
    }
}

#[derive(Deserialize)]
struct FeedPage {
    revocations: Vec<FeedItem>,
    next_cursor: FeedCursor,
    more: bool,
    at: Option<String>,
    next_at: Option<String>,
}

#[derive(Deserialize)]
struct FeedItem {
    cursor: u64,
    session_id: Option<String>,
    token_id: Option<String>,
    until: i64,
}

impl FeedItem {
    fn entry(&self) -> Option<FeedEntry> {
        let revoked = match (&self.session_id, &self.token_id) {
            (Some(sid), _) => Revoked::Session(sid.parse().ok()?),
            (None, Some(jti)) => Revoked::Token(jti.clone()),
            (None, None) => return None,
        };
        Some(FeedEntry {
            cursor: self.cursor,
            revoked,
            until: Timestamp::from_secs(self.until),
        })
    }
}

/// The layer from [`Remote::layer`].
#[derive(Clone)]
pub struct RemoteLayer(Remote);

impl Admit for RemoteLayer {
    type Refusal = Rejection;

    async fn admit(&self, mut req: Request<Body>) -> Result<Request<Body>, Rejection> {
        let token = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(bearer_token)
            .map(str::to_owned);
        let Some(token) = token else { return Ok(req) };
        match self.0.verify(&token).await {
            Ok(claims) => {
                req.extensions_mut().insert(Bearer(claims));
                Ok(req)
            }
            Err(Error::InvalidToken(TokenRejection::RevocationStale) | Error::Store(_)) => {
                Err(Rejection::Unavailable)
            }
            Err(e) => {
                tracing::debug!(error = %e, "bearer token refused");
                Ok(req)
            }
        }
    }
}

impl<Svc> Layer<Svc> for RemoteLayer {
    type Service = Guarded<Svc, RemoteLayer>;

    fn layer(&self, inner: Svc) -> Self::Service {
        Guarded {
            inner,
            guard: self.clone(),
        }
    }
}
