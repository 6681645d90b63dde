//! What several of the Redis store's test files share.

use std::time::Duration;

use tessera::store::Revocation;
use tessera::store::SessionStore;
use tessera::{RevokeReason, Session, SessionId};
use tessera_redis::RedisStore;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

/// A node's view of the revocation announcements of a store: what `follow_revocations` heard.
pub struct Announcements {
    heard: UnboundedReceiver<Option<usize>>,
    following: JoinHandle<()>,
}

impl Announcements {
    /// Follows `store`'s announcements, once subscribed; as the server does, again (after a
    /// pause) each time the subscription is lost.
    pub async fn follow(store: &RedisStore) -> Self {
        let (tx, mut heard) = tokio::sync::mpsc::unbounded_channel();
        let follower = store.clone();
        let following = tokio::spawn(async move {
            loop {
                let tx = tx.clone();
                let _lost = follower
                    .follow_revocations(move |feed| {
                        let _ = tx.send(feed);
                    })
                    .await;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        assert_eq!(heard.recv().await, Some(None), "subscribed");
        Self { heard, following }
    }

    /// Forgets what was heard so far: [`Announcements::heard`] then tells what is heard after.
    pub fn forget(&mut self) {
        while self.heard.try_recv().is_ok() {}
    }

    /// Whether, `within`, `feed` is announced, or the node is told to catch up on every feed
    /// (subscribed anew: what a node does after losing its subscription).
    pub async fn heard(&mut self, feed: usize, within: Duration) -> bool {
        let heard = &mut self.heard;
        let found = tokio::time::timeout(within, async {
            while let Some(announced) = heard.recv().await {
                if announced.is_none_or(|f| f == feed) {
                    return true;
                }
            }
            false
        });
        found.await.unwrap_or(false)
    }

    /// Signs `s` out on `store` and tells whether its shard's announcement is heard within
    /// two seconds (what was heard before does not count).
    pub async fn hear_logout_of(&mut self, store: &RedisStore, s: &Session) -> bool {
        self.forget();
        store.revoke(&s.sid, logout(s)).await.unwrap().unwrap();
        let shard = usize::from(SessionId::shard_of(&s.user_id));
        self.heard(shard, Duration::from_secs(2)).await
    }
}

impl Drop for Announcements {
    fn drop(&mut self) {
        self.following.abort();
    }
}

/// `s` signed out, when it started.
pub fn logout(s: &Session) -> Revocation {
    Revocation {
        reason: RevokeReason::Logout,
        at: s.created_at,
        until: s.absolute_expires_at,
    }
}
