//! What several of the Redis store's test files share.

use std::time::Duration;

use tessera::store::Revocation;
use tessera::{RevokeReason, Session};
use tessera_redis::RedisStore;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;

/// A node's view of the revocation announcements of a store: what `follow_revocations` heard.
pub struct Announcements {
    heard: UnboundedReceiver<Option<usize>>,
    following: JoinHandle<Result<(), tessera::StoreError>>,
}

impl Announcements {
    /// Follows `store`'s announcements, once subscribed.
    pub async fn follow(store: &RedisStore) -> Self {
        let (tx, mut heard) = tokio::sync::mpsc::unbounded_channel();
        let follower = store.clone();
        let following = tokio::spawn(async move {
            follower
                .follow_revocations(move |feed| {
                    let _ = tx.send(feed);
                })
                .await
        });
        assert_eq!(heard.recv().await, Some(None), "subscribed");
        Self { heard, following }
    }

    /// Whether a revocation in `feed` is announced within two seconds.
    pub async fn heard(&mut self, feed: usize) -> bool {
        let heard = &mut self.heard;
        let found = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(announced) = heard.recv().await {
                if announced == Some(feed) {
                    return true;
                }
            }
            false
        });
        found.await.unwrap_or(false)
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
