//! Sessions and the revocation feed.

use std::future::Future;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::{
    AuditEvent, Quota, RateDecision, RateLimiter, RefreshState, RevokeReason, Session, SessionId,
    SessionLimit, StoreError, Timestamp, TokenHash,
};

/// A rate charged in the same step as a change, and only if the change applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateCharge {
    /// The limit's key (a store may instead keep the state with the record it limits, as
    /// the Redis store keeps a session's refresh rate in the session).
    pub key: String,
    /// The limit.
    pub quota: Quota,
}

/// A whole refresh as one compare-and-set: applied only if the session exists, is live at `at`,
/// and its current generation and secret are the presented ones. Then, in the same step: the
/// rate (if any) is charged, the refresh state replaced, the activity and the refresh recorded
/// on the session (count, time, client: routine refreshes are not audit events).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The presented token's generation.
    pub expected_generation: u64,
    /// The hash of the presented token's secret.
    pub presented: TokenHash,
    /// The new refresh state (generation `expected_generation + 1`).
    pub next: RefreshState,
    /// Now: the session must be live at this instant; recorded as its last activity.
    pub at: Timestamp,
    /// The slid idle expiry; the store keeps it within the session's absolute expiry.
    pub idle_expires_at: Timestamp,
    /// The per-session refresh rate, charged only when the rotation applies.
    pub rate: Option<RateCharge>,
    /// Where the refresh came from (the client address), recorded on the session.
    pub client: Option<String>,
}

impl Rotation {
    /// Whether it applies to `session` as found: live at `at`, with the presented generation
    /// and secret current (the hashes compared in constant time).
    pub fn applies_to(&self, session: &Session) -> bool {
        session.is_live(self.at)
            && session.refresh.generation == self.expected_generation
            && session.refresh.current.ct_eq(&self.presented)
    }

    /// Applies it to `session` (one that [`Rotation::applies_to`]): the refresh fields only.
    pub fn apply(&self, session: &mut Session) {
        session.refresh = self.next;
        session.last_seen_at = self.at;
        session.idle_expires_at = self.idle_expires_at.min(session.absolute_expires_at);
        session.refreshes += 1;
        session.refreshed_from.clone_from(&self.client);
    }

    /// Charges the rate on an in-process limiter: the outcome to answer when it is spent.
    pub fn charge(&self, limiter: &RateLimiter) -> Option<RotateOutcome> {
        let charge = self.rate.as_ref()?;
        match limiter.decide(&charge.key, &charge.quota, self.at) {
            RateDecision::Allowed { .. } => None,
            RateDecision::Limited {
                retry_after,
                reset_after,
            } => Some(RotateOutcome::Limited {
                retry_after,
                reset_after,
            }),
        }
    }
}

/// What [`SessionStore::rotate`] did.
#[derive(Debug, Clone, PartialEq)]
pub enum RotateOutcome {
    /// Applied: the session as it is now.
    Rotated(Box<Session>),
    /// It would have applied, but the rate is spent; nothing was written.
    Limited {
        /// When the next refresh would be allowed.
        retry_after: Duration,
        /// When the rate is whole again.
        reset_after: Duration,
    },
    /// Not applied: no such session (`None`), or the session as found (revoked, expired, or
    /// its current generation is not the presented one), so the caller decides without
    /// another read.
    Refused(Option<Box<Session>>),
}

/// What [`SessionStore::create`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    /// Created; these sessions of the same user were evicted to respect the limit.
    Created {
        /// Evicted sessions, oldest first (revoked with [`RevokeReason::Evicted`]).
        evicted: Vec<SessionId>,
    },
    /// A session with this id exists; nothing was written.
    AlreadyExists,
    /// The user is at the limit and the policy is to deny; nothing was written.
    LimitReached,
}

/// A change of a session's application claims, data and/or browser cookie.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionUpdate {
    /// New application claims, if changing.
    pub claims: Option<Map<String, Value>>,
    /// New application data, if changing.
    pub data: Option<Value>,
    /// A new browser cookie hash, if changing (sign-in, privilege change).
    pub cookie: Option<TokenHash>,
}

impl SessionUpdate {
    /// The compare-and-set on `session` as found: a revoked session is not found, another
    /// version is refused; otherwise the change is applied and the version bumped.
    pub fn apply_to(&self, session: &mut Session, expected_version: u64) -> UpdateOutcome {
        if session.revoked_at.is_some() {
            return UpdateOutcome::NotFound;
        }
        if session.version != expected_version {
            return UpdateOutcome::VersionMismatch(session.version);
        }
        if let Some(claims) = &self.claims {
            session.claims = claims.clone();
        }
        if let Some(data) = &self.data {
            session.data = data.clone();
        }
        if let Some(cookie) = self.cookie {
            session.cookie = Some(cookie);
        }
        session.version += 1;
        UpdateOutcome::Updated(session.version)
    }
}

/// What [`SessionStore::update`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateOutcome {
    /// Applied; the session now has this version.
    Updated(u64),
    /// Not applied: the session's version is not the expected one (this is the current one).
    VersionMismatch(u64),
    /// No live session with that id.
    NotFound,
}

/// How to revoke: why, when, and until when the revocation feed must remember it (the expiry
/// of the longest-lived access token the session may have issued).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revocation {
    /// Why.
    pub reason: RevokeReason,
    /// When.
    pub at: Timestamp,
    /// Feed entries may be dropped after this instant.
    pub until: Timestamp,
}

/// What a revocation feed entry revokes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Revoked {
    /// Every access token of a session.
    Session(SessionId),
    /// One access token, by `jti`.
    Token(String),
    /// An API key, by its hash: every node stops accepting it. Not shown to outside followers.
    ApiKey(TokenHash),
}

impl Revoked {
    /// How every store keeps it: a kind (0 a session, 1 an access token, 2 an API key) and a
    /// text (the session id, the `jti`, the key hash in base64url).
    pub fn to_stored(&self) -> (u8, String) {
        match self {
            Self::Session(sid) => (0, sid.to_string()),
            Self::Token(jti) => (1, jti.clone()),
            Self::ApiKey(hash) => (2, hash.to_base64()),
        }
    }

    /// Read back from [`Revoked::to_stored`]'s form.
    ///
    /// # Errors
    /// [`StoreErrorKind::Corrupt`](crate::StoreErrorKind::Corrupt) for a target of the wrong form.
    pub fn from_stored(kind: u8, target: &str) -> Result<Self, StoreError> {
        let corrupt = |what| StoreError::new(crate::StoreErrorKind::Corrupt, what);
        Ok(match kind {
            0 => Self::Session(
                target
                    .parse()
                    .map_err(|_| corrupt("a session id in the feed"))?,
            ),
            2 => Self::ApiKey(
                TokenHash::from_base64(target).ok_or_else(|| corrupt("a key hash in the feed"))?,
            ),
            _ => Self::Token(target.to_owned()),
        })
    }
}

/// One entry of the revocation feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedEntry {
    /// Position in the feed; strictly increasing.
    pub cursor: u64,
    /// What is revoked.
    pub revoked: Revoked,
    /// The entry matters until then (afterwards every affected token has expired).
    pub until: Timestamp,
}

impl FeedEntry {
    /// A short fingerprint of the whole entry, for outside followers to check that the entry
    /// they stopped at is still the one at that cursor (a feed that went back renumbers).
    pub fn fingerprint(&self) -> String {
        let (kind, target) = match &self.revoked {
            Revoked::Session(sid) => ("s", sid.to_string()),
            Revoked::Token(jti) => ("t", jti.clone()),
            Revoked::ApiKey(hash) => ("k", crate::encoding::b64_encode(hash.as_bytes())),
        };
        let text = format!("{}|{kind}|{target}|{}", self.cursor, self.until.as_secs());
        let digest = TokenHash::of(text.as_bytes());
        crate::encoding::b64_encode(digest.as_bytes().get(..12).unwrap_or_default())
    }
}

/// A session limit applied atomically at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitCheck {
    /// The limit.
    pub limit: SessionLimit,
    /// The current time, to tell live sessions from dead ones.
    pub now: Timestamp,
    /// The revocation recorded on evicted sessions.
    pub eviction: Revocation,
}

impl LimitCheck {
    /// What the limit asks of a creation, given the user's live sessions oldest first: the
    /// ones to revoke (with [`LimitCheck::eviction_revocation`]) to make room, or `None` when
    /// the user is at the limit and the policy is to deny. The store does the revoking, in the
    /// creation's step.
    pub fn evict<'a, T>(&self, live: &'a [T]) -> Option<&'a [T]> {
        if live.len() < self.limit.max {
            return Some(&[]);
        }
        if self.limit.on_limit == crate::OnLimit::Deny {
            return None;
        }
        live.get(..live.len() + 1 - self.limit.max)
    }

    /// The revocation recorded on the sessions [`LimitCheck::evict`] names.
    pub fn eviction_revocation(&self) -> Revocation {
        Revocation {
            reason: RevokeReason::Evicted,
            ..self.eviction
        }
    }
}

/// Sessions and the revocation feed. Every step that revokes appends its feed entries in the
/// same atomic step, so a node following the feed never misses a revocation that happened.
pub trait SessionStore: Send + Sync {
    /// Whether several nodes may share this store: then each node learns of the others'
    /// revocations only through the feed, and must refuse to serve on a stale copy of it.
    fn is_shared(&self) -> bool;

    /// Inserts `session` unless its id exists (never overwrites). With `limit`, counts the user's
    /// live sessions in the same step and denies or evicts the oldest as the limit says. When
    /// the session is created, `created` (its audit event) is appended to the audit trail in
    /// the same step: a sign-in costs one write.
    fn create(
        &self,
        session: &Session,
        limit: Option<LimitCheck>,
        created: Option<&AuditEvent>,
    ) -> impl Future<Output = Result<CreateOutcome, StoreError>> + Send;

    /// The session with this id, live or not.
    fn get(
        &self,
        sid: &SessionId,
    ) -> impl Future<Output = Result<Option<Session>, StoreError>> + Send;

    /// A whole refresh in one step (see [`Rotation`]): the store compares, charges the rate,
    /// writes only the refresh fields, and answers with the session it found or made.
    fn rotate(
        &self,
        sid: &SessionId,
        rotation: &Rotation,
    ) -> impl Future<Output = Result<RotateOutcome, StoreError>> + Send;

    /// Records activity on a non-revoked session. Returns whether it exists and was updated.
    fn touch(
        &self,
        sid: &SessionId,
        last_seen_at: Timestamp,
        idle_expires_at: Timestamp,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;

    /// Compare-and-set of claims/data on the session's `version`; bumps the version.
    fn update(
        &self,
        sid: &SessionId,
        expected_version: u64,
        update: &SessionUpdate,
    ) -> impl Future<Output = Result<UpdateOutcome, StoreError>> + Send;

    /// Revokes one session and appends it to the revocation feed, in one step. Returns the
    /// session's user id if it was revoked now; `None` if it does not exist or was already
    /// revoked (and then appends nothing).
    fn revoke(
        &self,
        sid: &SessionId,
        revocation: Revocation,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// Revokes every non-revoked session of `user_id` except `except`, appending each to the
    /// feed. Returns the revoked ids.
    fn revoke_user(
        &self,
        user_id: &str,
        except: Option<&SessionId>,
        revocation: Revocation,
    ) -> impl Future<Output = Result<Vec<SessionId>, StoreError>> + Send;

    /// Appends a single access token (by `jti`) to the revocation feed until its expiry.
    fn revoke_token(
        &self,
        jti: &str,
        until: Timestamp,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// The user's live sessions at `now`, oldest first. Cost grows with that user's sessions only.
    fn list_user(
        &self,
        user_id: &str,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<Session>, StoreError>> + Send;

    /// How many sessions are live at `now` (for a gauge; may scan the live-session index).
    fn count_live(&self, now: Timestamp) -> impl Future<Output = Result<u64, StoreError>> + Send;

    /// How many revocation feeds the store keeps, each numbered by its own cursors: one, unless
    /// the store is sharded (a feed per shard, so a revocation and its entry are one step on
    /// the shard that holds the session). A follower reads every feed.
    fn feeds(&self) -> usize {
        1
    }

    /// Entries of feed `feed` (below [`SessionStore::feeds`]; stores with one feed ignore it)
    /// with a cursor greater than `after`, in cursor order, at most `limit`.
    fn revocations_after(
        &self,
        feed: usize,
        after: u64,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<FeedEntry>, StoreError>> + Send;

    /// Deletes up to `batch` sessions that are expired or revoked at `now`, and feed entries past
    /// their `until`. Returns how many sessions were deleted; call again while it returns `batch`.
    fn purge_expired(
        &self,
        now: Timestamp,
        batch: usize,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;
}
