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

/// Revoked sessions and tokens, with the feed cursors they reflect.
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
    /// Where each of the store's feeds was read to (see `SessionStore::feeds`).
    feeds: Vec<FeedPosition>,
}

#[derive(Debug, Default, Clone)]
struct FeedPosition {
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

    fn feed(&mut self, feed: usize) -> &mut FeedPosition {
        if self.feeds.len() <= feed {
            self.feeds.resize(feed + 1, FeedPosition::default());
        }
        &mut self.feeds[feed]
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

    /// A view shared with other nodes through a store with `feeds` feeds: considered stale,
    /// and so refusing every token, when any feed has not been synced within `max_staleness`.
    pub fn shared(max_staleness: Duration, feeds: usize) -> Self {
        let state = ViewState {
            feeds: vec![FeedPosition::default(); feeds.max(1)],
            ..ViewState::default()
        };
        Self {
            state: RwLock::new(state),
            max_staleness: Some(max_staleness),
        }
    }

    /// Applies entries of feed `feed` (in cursor order) and records that this feed is current
    /// at `now`.
    pub fn apply(&self, feed: usize, entries: &[FeedEntry], now: Timestamp) {
        let mut st = self.state.write().unwrap_or_else(PoisonError::into_inner);
        for e in entries {
            st.add(e.revoked.clone(), e.until);
        }
        let position = st.feed(feed);
        if let Some(e) = entries.iter().max_by_key(|e| e.cursor) {
            position.cursor = position.cursor.max(e.cursor);
        }
        if let Some(e) = entries.last() {
            position.last = Some(e.clone());
        }
        position.synced_at = Some(now);
    }

    /// Where to resume feed `feed`: after this cursor, expecting first the last entry applied.
    /// If that entry is not there, the feed went back (a store restored from an older state, a
    /// failover that lost the newest writes, or that entry was purged), and numbers this view
    /// has passed may now name new revocations: see [`RevokedView::rewind`].
    pub fn resume(&self, feed: usize) -> (u64, Option<FeedEntry>) {
        let st = self.state.read().unwrap_or_else(PoisonError::into_inner);
        match st.feeds.get(feed) {
            Some(FeedPosition { last: Some(e), .. }) => {
                (e.cursor.saturating_sub(1), Some(e.clone()))
            }
            Some(p) => (p.cursor, None),
            None => (0, None),
        }
    }

    /// Reads feed `feed` again from its start. What the view holds stays: entries are
    /// idempotent, and the feed holds only live ones.
    pub fn rewind(&self, feed: usize) {
        let mut st = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let position = st.feed(feed);
        position.cursor = 0;
        position.last = None;
    }

    /// Records a revocation made by this node before the feed delivers it back.
    pub fn insert(&self, revoked: Revoked, until: Timestamp) {
        self.state
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .add(revoked, until);
    }

    /// How far the view has read: the sum of its feeds' cursors, which grows with every entry
    /// applied (a figure for metrics and tests; [`RevokedView::resume`] says where to go on).
    pub fn cursor(&self) -> u64 {
        let st = self.state.read().unwrap_or_else(PoisonError::into_inner);
        st.feeds.iter().map(|p| p.cursor).sum()
    }

    /// When the view was last brought up to date from every feed (the oldest feed's last sync),
    /// if ever.
    pub fn synced_at(&self) -> Option<Timestamp> {
        let st = self.state.read().unwrap_or_else(PoisonError::into_inner);
        st.feeds.iter().map(|p| p.synced_at).min().flatten()
    }

    /// Whether the view can vouch for itself at `now`: every feed synced within the bound.
    pub fn is_current(&self, now: Timestamp) -> bool {
        let Some(max) = self.max_staleness else {
            return true;
        };
        self.synced_at()
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
            0,
            &[
                entry(3, Revoked::Session(sid), 100),
                entry(4, Revoked::Token("j".into()), 50),
            ],
            Timestamp::from_secs(1),
        );
        assert_eq!(view.cursor(), 4);
        view.apply(
            1,
            &[entry(2, Revoked::Token("k".into()), 50)],
            Timestamp::from_secs(1),
        );
        assert_eq!(view.cursor(), 6, "the feeds' cursors add up");
        assert_eq!(view.resume(1).0, 1, "each feed resumes at its own entry");
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
        let view = RevokedView::shared(Duration::from_secs(5), 2);
        assert!(!view.is_current(Timestamp::from_secs(0)), "never synced");
        view.apply(0, &[], Timestamp::from_secs(10));
        assert!(
            !view.is_current(Timestamp::from_secs(10)),
            "feed 1 never synced"
        );
        view.apply(1, &[], Timestamp::from_secs(12));
        assert!(view.is_current(Timestamp::from_secs(15)));
        assert!(
            !view.is_current(Timestamp::from_secs(16)),
            "feed 0 is stale"
        );
        view.apply(0, &[], Timestamp::from_secs(16));
        assert!(view.is_current(Timestamp::from_secs(16)));
        assert!(RevokedView::local().is_current(Timestamp::from_secs(0)));
    }
}
