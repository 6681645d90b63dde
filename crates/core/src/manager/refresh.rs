//! Refresh rotation: one store step per refresh, with the four properties of the design: no
//! fork under concurrency, theft detection, no denial by forgery, nothing usable at rest. The
//! chain walk and the classification stay here; the store compares, charges the rate and
//! writes in one step, and answers with the session it found.

use super::{Issued, SessionManager};
use crate::chain::Link;
use crate::store::{RateCharge, RotateOutcome, Rotation};

use crate::{
    AuditKind, Clock, Error, Quota, RefreshRejection, RefreshState, RefreshToken, RevokeReason,
    Session, Store, Timestamp, TokenHash,
};

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
        let sid = token.session_id();
        let p = &self.settings.policy;
        // No genuine token is that far down its chain.
        let next = self
            .successor_of(&token)
            .ok_or(reject(RefreshRejection::Forged))?;
        let presented = TokenHash::of(token.secret());
        let rate = p.refresh_rate.as_ref();
        let rotation = Rotation {
            expected_generation: token.generation(),
            presented,
            next: RefreshState {
                generation: next.generation(),
                current: TokenHash::of(next.secret()),
                previous: Some(presented),
                rotated_at: now,
            },
            at: now,
            idle_expires_at: now.plus(p.idle_timeout),
            // Charged only by the rotation itself: presentations of the superseded token within
            // the grace window (tabs refreshing at once, a retry) share its successor and its
            // charge, and a forgery charges nothing.
            rate: rate.map(|quota| RateCharge {
                key: format!("refresh:session:{sid}"),
                quota: *quota,
            }),
            client: self.client_ip(),
        };
        match self.store.rotate(&sid, &rotation).await? {
            RotateOutcome::Rotated(session) => {
                let user = Some(session.user_id.as_str());
                self.announce(user, Some(sid), AuditKind::SessionRefreshed);
                self.issue(*session, next, now)
            }
            RotateOutcome::Limited {
                retry_after,
                reset_after,
            } => Err(Error::RateLimited {
                retry_after,
                reset_after,
                limit: rate.map_or(0, Quota::burst),
            }),
            RotateOutcome::Refused(None) => Err(reject(RefreshRejection::UnknownSession)),
            RotateOutcome::Refused(Some(session)) => {
                self.refused(&token, *session, next, now).await
            }
        }
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

    /// Why the store refused to rotate `session` for `token`, and what follows: the same
    /// successor for a racing or retried presentation within the grace window, the end of the
    /// session for a replay after it, nothing at all for a forgery.
    async fn refused(
        &self,
        token: &RefreshToken,
        session: Session,
        next: RefreshToken,
        now: Timestamp,
    ) -> Result<Issued, Error> {
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
        match link {
            Link::Forged => Err(reject(RefreshRejection::Forged)),
            // The store saw another state than this one: it changed in between. Retryable.
            Link::Current => Err(Error::Conflict),
            Link::Previous if now.since(session.refresh.rotated_at) <= p.refresh_grace => {
                // A racing request won the rotation: hand out the same successor it got.
                self.issue(session, next, now)
            }
            Link::Previous | Link::Older => {
                self.end_for_reuse(&session, link).await?;
                Err(reject(RefreshRejection::Reused))
            }
        }
    }

    /// Ends `session`, presented a superseded token (`link`) after the grace window: a replay,
    /// so the session is taken as stolen. It ends first; the record of why cannot hold that
    /// up. Returns whether it was live.
    async fn end_for_reuse(&self, session: &Session, link: Link) -> Result<bool, Error> {
        let class = if link == Link::Previous {
            "previous"
        } else {
            "older"
        };
        let detected = AuditKind::RefreshReuseDetected {
            class: class.into(),
        };
        let reason = RevokeReason::RefreshReuse;
        let ended = self.revoke_unrecorded(&session.sid, reason).await?;
        let (user, sid) = (Some(session.user_id.as_str()), Some(session.sid));
        self.note(user, sid, detected).await;
        if ended.is_some() {
            self.note(user, sid, AuditKind::SessionRevoked { reason })
                .await;
        }
        Ok(ended.is_some())
    }

    /// Ends the session a refresh token belongs to (RFC 7009 revocation), as refreshing with
    /// the token would judge it: the current token, or one superseded within the grace window
    /// (a tab that lost a race, now signing out), ends it as a logout; a superseded one after
    /// that is a replay, and ends it as stolen (audited as reuse). A forgery, or a token of no
    /// live session, changes nothing. Returns whether a session ended.
    ///
    /// # Errors
    /// Store errors.
    pub async fn revoke_refresh(&self, presented: &str) -> Result<bool, Error> {
        let Ok(token) = RefreshToken::parse(presented) else {
            return Ok(false);
        };
        let now = self.clock.now();
        let Some(session) = self.store.get(&token.session_id()).await? else {
            return Ok(false);
        };
        if session.revoked_at.is_some() || !session.is_live(now) {
            return Ok(false);
        }
        let p = &self.settings.policy;
        match self
            .chain
            .classify(&token, &session.refresh, p.max_chain_walk)
        {
            Link::Forged => Ok(false),
            Link::Current => self.revoke(&session.sid, RevokeReason::Logout).await,
            Link::Previous if now.since(session.refresh.rotated_at) <= p.refresh_grace => {
                self.revoke(&session.sid, RevokeReason::Logout).await
            }
            link @ (Link::Previous | Link::Older) => self.end_for_reuse(&session, link).await,
        }
    }

    fn successor_of(&self, token: &RefreshToken) -> Option<RefreshToken> {
        let sid = token.session_id();
        let generation = token.generation().checked_add(1)?;
        let secret = self
            .chain
            .successor(&sid, token.generation(), token.secret());
        Some(RefreshToken::new(sid, generation, secret))
    }
}
