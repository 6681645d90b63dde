//! The in-memory view of the revocation feed that every verification consults.
//!
//! Logout must take effect at once, not at token expiry, and without a store round trip per
//! request. Each node keeps the live part of the feed in memory, applies new entries by cursor,
//! and refuses every token while it cannot show the view is current (fail closed).

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use crate::store::{FeedEntry, Revoked};
use crate::{SessionId, Timestamp, TokenHash};

/// Revoked sessions and tokens, with the feed cursor they reflect.
#[derive(Debug)]
pub struct RevokedView {
    state: RwLock<ViewState>,
    max_staleness: Option<Duration>,
}

#[derive(Debug, Default)]
struct ViewState {
    sessions: HashMap<SessionId, Timestamp>,
    tokens: HashMap<String, Timestamp>,
    api_keys: HashMap<TokenHash, Timestamp>,
    cursor: u64,
    /// The last entry applied: finding it again where it was proves the feed did not go back.
    last: Option<FeedEntry>,
    synced_at: Option<Timestamp>,
}

impl ViewState {
    fn add(&mut self, revoked: Revoked, until: Timestamp) {
        match revoked {
            Revoked::Session(sid) => self.sessions.insert(sid, until),
            Revoked::Token(jti) => self.tokens.insert(jti, until),
            Revoked::ApiKey(hash) => self.api_keys.insert(hash, until),
        };
    }
}

impl RevokedView {
    /// A view for a single process whose own revocations are applied directly: never stale.
    pub fn local() -> Self {
        Self {
            state: RwLock::default(),
            max_staleness: None,
        }
    }

    /// A view shared with other nodes through a store: considered stale, and so refusing every
    /// token, when it has not been synced within `max_staleness`.
    pub fn shared(max_staleness: Duration) -> Self {
        Self {
            state: RwLock::default(),
            max_staleness: Some(max_staleness),
        }
    }

    /// Applies feed entries (in cursor order) and records that the view is current at `now`.
    pub fn apply(&self, entries: &[FeedEntry], now: Timestamp) {
        let mut st = self.state.write().unwrap_or_else(PoisonError::into_inner);
        for e in entries {
            st.add(e.revoked.clone(), e.until);
            st.cursor = st.cursor.max(e.cursor);
        }
        if let Some(e) = entries.last() {
            st.last = Some(e.clone());
        }
        st.synced_at = Some(now);
    }

    /// Where to resume the feed: after this cursor, expecting first the last entry applied. If
    /// that entry is not there, the feed went back (a store restored from an older state, a
    /// failover that lost the newest writes, or that entry was purged), and numbers this view
    /// has passed may now name new revocations: see [`RevokedView::rewind`].
    pub fn resume(&self) -> (u64, Option<FeedEntry>) {
        let st = self.state.read().unwrap_or_else(PoisonError::into_inner);
        match &st.last {
            Some(e) => (e.cursor.saturating_sub(1), Some(e.clone())),
            None => (st.cursor, None),
        }
    }

    /// Reads the feed again from its start. What the view holds stays: entries are
    /// idempotent, and the feed holds only live ones.
    pub fn rewind(&self) {
        let mut st = self.state.write().unwrap_or_else(PoisonError::into_inner);
        st.cursor = 0;
        st.last = None;
    }

    /// Records a revocation made by this node before the feed delivers it back.
    pub fn insert(&self, revoked: Revoked, until: Timestamp) {
        self.state
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .add(revoked, until);
    }

    /// The cursor to resume the feed from.
    pub fn cursor(&self) -> u64 {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .cursor
    }

    /// When the view was last brought up to date from the feed, if ever.
    pub fn synced_at(&self) -> Option<Timestamp> {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .synced_at
    }

    /// Whether the view can vouch for itself at `now`.
    pub fn is_current(&self, now: Timestamp) -> bool {
        let Some(max) = self.max_staleness else {
            return true;
        };
        let st = self.state.read().unwrap_or_else(PoisonError::into_inner);
        st.synced_at
            .is_some_and(|at| now.since(at) <= max && at <= now.plus(max))
    }

    /// Whether a token of session `sid` with id `jti` is revoked.
    pub fn is_revoked(&self, sid: &SessionId, jti: &str) -> bool {
        let st = self.state.read().unwrap_or_else(PoisonError::into_inner);
        st.sessions.contains_key(sid) || st.tokens.contains_key(jti)
    }

    /// Whether the API key with this hash has been revoked (on any node).
    pub fn is_api_key_revoked(&self, hash: &TokenHash) -> bool {
        self.state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .api_keys
            .contains_key(hash)
    }

    /// Forgets entries whose tokens have all expired by `now`.
    pub fn prune(&self, now: Timestamp) {
        let mut st = self.state.write().unwrap_or_else(PoisonError::into_inner);
        st.sessions.retain(|_, until| *until > now);
        st.tokens.retain(|_, until| *until > now);
        st.api_keys.retain(|_, until| *until > now);
    }

    /// How many entries are held.
    pub fn len(&self) -> usize {
        let st = self.state.read().unwrap_or_else(PoisonError::into_inner);
        st.sessions.len() + st.tokens.len()
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(cursor: u64, revoked: Revoked, until: i64) -> FeedEntry {
        FeedEntry {
            cursor,
            revoked,
            until: Timestamp::from_secs(until),
        }
    }

    #[test]
    fn applies_entries_and_tracks_cursor() {
        let view = RevokedView::local();
        let sid = SessionId::generate().unwrap();
        let other = SessionId::generate().unwrap();
        view.apply(
            &[
                entry(3, Revoked::Session(sid), 100),
                entry(4, Revoked::Token("j".into()), 50),
            ],
            Timestamp::from_secs(1),
        );
        assert_eq!(view.cursor(), 4);
        assert!(view.is_revoked(&sid, "x"));
        assert!(view.is_revoked(&other, "j"));
        assert!(!view.is_revoked(&other, "x"));
        view.prune(Timestamp::from_secs(60));
        assert!(!view.is_revoked(&other, "j"), "token entry expired");
        assert!(view.is_revoked(&sid, "x"));
        assert_eq!(view.len(), 1);
    }

    #[test]
    fn shared_view_fails_closed_when_stale() {
        let view = RevokedView::shared(Duration::from_secs(5));
        assert!(!view.is_current(Timestamp::from_secs(0)), "never synced");
        view.apply(&[], Timestamp::from_secs(10));
        assert!(view.is_current(Timestamp::from_secs(15)));
        assert!(!view.is_current(Timestamp::from_secs(16)));
        assert!(RevokedView::local().is_current(Timestamp::from_secs(0)));
    }
}
