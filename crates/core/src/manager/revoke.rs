//! Revocation: one session, a user's sessions, single access tokens, and catching up the feed.

use std::time::Duration;

use super::SessionManager;
use crate::jwt::AccessClaims;
use crate::store::{Revocation, Revoked, Store};
use crate::{AuditKind, Clock, Error, RevokeReason, SessionId, Timestamp};

/// Feed entries read per store call while catching up.
const FEED_PAGE: usize = 1000;

impl<S: Store, C: Clock> SessionManager<S, C> {
    /// Feed entries must outlive every access token the session may have issued.
    pub(super) fn revocation_until(&self, now: Timestamp) -> Timestamp {
        let v = &self.settings.validation;
        now.plus(self.settings.policy.access_ttl + v.leeway() + Duration::from_secs(60))
    }

    pub(super) fn revocation(&self, reason: RevokeReason, at: Timestamp) -> Revocation {
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
        let user = self.revoke_unrecorded(sid, reason).await?;
        if let Some(user) = &user {
            self.note(Some(user), Some(*sid), AuditKind::SessionRevoked { reason })
                .await;
        }
        Ok(user.is_some())
    }

    /// Revokes one session (store and this node's view) and returns its user if it was live;
    /// the caller records why.
    pub(super) async fn revoke_unrecorded(
        &self,
        sid: &SessionId,
        reason: RevokeReason,
    ) -> Result<Option<String>, Error> {
        let r = self.revocation(reason, self.clock.now());
        let user = self.store.revoke(sid, r).await?;
        self.view.insert(Revoked::Session(*sid), r.until);
        Ok(user)
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
        let mut events = Vec::new();
        for sid in &revoked {
            self.view.insert(Revoked::Session(*sid), r.until);
            let revoked = AuditKind::SessionRevoked { reason };
            events.push(self.event(Some(user_id), Some(*sid), revoked));
        }
        self.note_all(events).await;
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

    /// Reads new entries of every feed into the revocation view. Returns how many were applied.
    ///
    /// # Errors
    /// Store errors (the view then turns stale after its bound and verification fails closed).
    pub async fn sync_revocations(&self) -> Result<usize, Error> {
        // Every feed at once: with a feed per shard, one round trip's time rather than 65.
        let synced =
            futures_util::future::join_all((0..self.store.feeds()).map(|f| self.sync_feed(f)))
                .await;
        synced.into_iter().sum()
    }

    /// Reads new entries of feed `feed` (one that announced a revocation) into the view.
    ///
    /// # Errors
    /// Store errors.
    pub async fn sync_feed(&self, feed: usize) -> Result<usize, Error> {
        let (mut applied, mut rewound) = (0, false);
        loop {
            let (after, expected) = self.view.resume(feed);
            let page = self.store.revocations_after(feed, after, FEED_PAGE).await?;
            let fresh = match (&expected, page.split_first()) {
                (Some(last), Some((first, rest))) if first == last => rest,
                // The entry this node stopped at is gone or changed: the feed went back, and
                // new revocations may carry numbers this node has passed. Read it all again
                // (once per sync: a purge racing the re-read must not loop).
                (Some(_), _) if !rewound => {
                    self.view.rewind(feed);
                    rewound = true;
                    continue;
                }
                _ => &page[..],
            };
            let now = self.clock.now();
            self.view.apply(feed, fresh, now);
            applied += fresh.len();
            if page.len() < FEED_PAGE {
                self.view.prune(now);
                return Ok(applied);
            }
        }
    }
}
