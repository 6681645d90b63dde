//! Refresh rotation: one compare-and-set per step, with the four properties of the design:
//! no fork under concurrency, theft detection, no denial by forgery, nothing usable at rest.

use super::{Issued, SessionManager};
use crate::chain::Link;
use crate::store::{RotateOutcome, Rotation};
use std::time::Duration;

use crate::{
    AuditKind, Clock, Error, Quota, RefreshRejection, RefreshState, RefreshToken, RevokeReason,
    Session, Store, Timestamp, TokenHash,
};

/// Lost compare-and-sets tolerated in one refresh before reporting a conflict.
const CAS_ATTEMPTS: usize = 3;

fn reject(why: RefreshRejection) -> Error {
    Error::InvalidRefresh(why)
}

impl<S: Store, C: Clock> SessionManager<S, C> {
    /// Exchanges a refresh token for new tokens.
    ///
    /// - The current token rotates the session one generation (one compare-and-set).
    /// - Requests racing with it, and the just-superseded token within the grace window, get the
    ///   *same* successor: no fork, no extra generation.
    /// - A genuine superseded token after the grace window revokes the session
    ///   ([`RefreshRejection::Reused`]).
    /// - Anything else for a known `sid` is a forgery and changes nothing.
    ///
    /// # Errors
    /// [`Error::InvalidRefresh`] with the reason (clients should only see `invalid_grant`);
    /// store errors.
    pub async fn refresh(&self, presented: &str) -> Result<Issued, Error> {
        let token = RefreshToken::parse(presented)?;
        let now = self.clock.now();
        let session = self.store.get(&token.session_id()).await?;
        let mut session = session.ok_or(reject(RefreshRejection::UnknownSession))?;
        let mut counted = false;
        for _ in 0..CAS_ATTEMPTS {
            match self
                .refresh_step(&token, session, now, &mut counted)
                .await?
            {
                Step::Done(issued) => return Ok(*issued),
                // A retry after a lost compare-and-set is the same presentation: not counted again.
                Step::Retry(current) => session = *current,
            }
        }
        Err(Error::Conflict)
    }

    /// Checks a refresh token without using it (RFC 7662 introspection): the session when the
    /// token is its current one and the session is live. Never rotates or revokes anything.
    ///
    /// # Errors
    /// [`Error::InvalidRefresh`] with the reason; store errors.
    pub async fn inspect_refresh(&self, presented: &str) -> Result<Session, Error> {
        let token = RefreshToken::parse(presented)?;
        let now = self.clock.now();
        let session = self.store.get(&token.session_id()).await?;
        let session = session.ok_or(reject(RefreshRejection::UnknownSession))?;
        if session.revoked_at.is_some() {
            return Err(reject(RefreshRejection::Revoked));
        }
        if !session.is_live(now) {
            return Err(reject(RefreshRejection::Expired));
        }
        match self.chain.classify(
            &token,
            &session.refresh,
            self.settings.policy.max_chain_walk,
        ) {
            Link::Current => Ok(session),
            Link::Previous | Link::Older => Err(reject(RefreshRejection::Superseded)),
            Link::Forged => Err(reject(RefreshRejection::Forged)),
        }
    }

    async fn refresh_step(
        &self,
        token: &RefreshToken,
        session: Session,
        now: Timestamp,
        counted: &mut bool,
    ) -> Result<Step, Error> {
        if session.revoked_at.is_some() {
            return Err(reject(RefreshRejection::Revoked));
        }
        if !session.is_live(now) {
            return Err(reject(RefreshRejection::Expired));
        }
        let p = &self.settings.policy;
        let link = self
            .chain
            .classify(token, &session.refresh, p.max_chain_walk);
        if matches!(link, Link::Current | Link::Previous) && !*counted {
            self.check_refresh_rate(&session, token, now).await?;
            *counted = true;
        }
        match link {
            Link::Forged => Err(reject(RefreshRejection::Forged)),
            Link::Current => self.rotate(token, session, now).await,
            Link::Previous if now.since(session.refresh.rotated_at) <= p.refresh_grace => {
                // A racing request won the rotation: hand out the same successor it got.
                let next = self.successor_of(token);
                let issued = self.issue(session, next, now)?;
                Ok(Step::Done(Box::new(issued)))
            }
            Link::Previous | Link::Older => {
                let class = if link == Link::Previous {
                    "previous"
                } else {
                    "older"
                };
                let detected = AuditKind::RefreshReuseDetected {
                    class: class.into(),
                };
                // The stolen session ends first; the record of why cannot hold that up.
                let reason = RevokeReason::RefreshReuse;
                let ended = self.revoke_unrecorded(&session.sid, reason).await?;
                let (user, sid) = (Some(session.user_id.as_str()), Some(session.sid));
                self.note(user, sid, detected).await;
                if ended.is_some() {
                    self.note(user, sid, AuditKind::SessionRevoked { reason })
                        .await;
                }
                Err(reject(RefreshRejection::Reused))
            }
        }
    }

    /// Counts a refresh of a genuine token against the per-session rate, if one is set. Every
    /// presentation of one token within the grace window (tabs refreshing at once, a retry)
    /// gets the same successor, so together they count once: only the first of them, as an
    /// atomic per-generation marker in the store decides.
    async fn check_refresh_rate(
        &self,
        session: &Session,
        token: &RefreshToken,
        now: Timestamp,
    ) -> Result<(), Error> {
        let Some(quota) = &self.settings.policy.refresh_rate else {
            return Ok(());
        };
        let grace = self
            .settings
            .policy
            .refresh_grace
            .max(Duration::from_secs(1));
        let once = Quota::new(1, grace, 1)?;
        let marker = format!("refresh:token:{}:{}", session.sid, token.generation());
        if let crate::RateDecision::Limited { .. } =
            self.store.rate_limit(&marker, &once, now).await?
        {
            return Ok(()); // a presentation of this token already counted
        }
        let key = format!("refresh:session:{}", session.sid);
        match self.store.rate_limit(&key, quota, now).await? {
            crate::RateDecision::Allowed { .. } => Ok(()),
            crate::RateDecision::Limited {
                retry_after,
                reset_after,
            } => Err(Error::RateLimited {
                retry_after,
                reset_after,
                limit: quota.burst(),
            }),
        }
    }

    fn successor_of(&self, token: &RefreshToken) -> RefreshToken {
        let sid = token.session_id();
        let secret = self
            .chain
            .successor(&sid, token.generation(), token.secret());
        RefreshToken::new(sid, token.generation() + 1, secret)
    }

    async fn rotate(
        &self,
        token: &RefreshToken,
        mut session: Session,
        now: Timestamp,
    ) -> Result<Step, Error> {
        let next = self.successor_of(token);
        let rotation = Rotation {
            expected_generation: token.generation(),
            next: RefreshState {
                generation: next.generation(),
                current: TokenHash::of(next.secret()),
                previous: Some(session.refresh.current),
                rotated_at: now,
            },
            last_seen_at: now,
            idle_expires_at: now
                .plus(self.settings.policy.idle_timeout)
                .min(session.absolute_expires_at),
        };
        match self.store.rotate(&session.sid, &rotation).await? {
            RotateOutcome::Rotated => {
                // Committed: the client gets its tokens whatever becomes of the audit write.
                let refreshed = AuditKind::SessionRefreshed;
                self.note(Some(&session.user_id), Some(session.sid), refreshed)
                    .await;
                session.refresh = rotation.next;
                session.last_seen_at = rotation.last_seen_at;
                session.idle_expires_at = rotation.idle_expires_at;
                Ok(Step::Done(Box::new(self.issue(session, next, now)?)))
            }
            RotateOutcome::Conflict(Some(current)) => Ok(Step::Retry(current)),
            RotateOutcome::Conflict(None) => Err(reject(RefreshRejection::UnknownSession)),
        }
    }
}

enum Step {
    Done(Box<Issued>),
    Retry(Box<Session>),
}
