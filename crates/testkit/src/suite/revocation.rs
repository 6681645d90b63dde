//! Revocation: logout, logout everywhere, the feed, other nodes, single tokens.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test suite"
)]

use std::time::Duration;

use tessera::store::{FeedEntry, Revocation, Revoked};
use tessera::{Error, RefreshRejection, RevokeReason, Store, TokenRejection};

use crate::Fixture;

fn revoked_token(err: Error) -> bool {
    matches!(err, Error::InvalidToken(TokenRejection::Revoked))
}

/// Logout takes effect at once: the access token stops verifying before it expires and the
/// refresh token stops working.
pub async fn logout_is_immediate<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let issued = f.login("alice").await;
    let other = f.login("alice").await;
    assert!(f.manager.verify(issued.access_token.expose()).is_ok());
    assert!(
        f.manager
            .revoke(&issued.session.sid, RevokeReason::Logout)
            .await
            .unwrap()
    );
    assert!(revoked_token(
        f.manager.verify(issued.access_token.expose()).unwrap_err()
    ));
    let err = f
        .manager
        .refresh(&issued.refresh_token.expose())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidRefresh(RefreshRejection::Revoked)
    ));
    let stored = f.manager.get(&issued.session.sid).await.unwrap().unwrap();
    assert_eq!(stored.revoke_reason, Some(RevokeReason::Logout));
    assert!(
        !f.manager
            .revoke(&issued.session.sid, RevokeReason::Admin)
            .await
            .unwrap(),
        "only once"
    );
    let stored = f.manager.get(&issued.session.sid).await.unwrap().unwrap();
    assert_eq!(
        stored.revoke_reason,
        Some(RevokeReason::Logout),
        "the first reason stays"
    );
    assert!(
        f.manager.verify(other.access_token.expose()).is_ok(),
        "other sessions unaffected"
    );
}

/// Revoking all of a user's sessions, or all but the current one, touches only that user.
pub async fn revoke_all_and_all_but_one<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let a: Vec<_> = [
        f.login("alice").await,
        f.login("alice").await,
        f.login("alice").await,
    ]
    .into();
    let bob = f.login("bob").await;
    let keep = a[1].session.sid;
    let mut revoked = f
        .manager
        .revoke_user("alice", Some(&keep), RevokeReason::LogoutAll)
        .await
        .unwrap();
    revoked.sort();
    let mut expected = vec![a[0].session.sid, a[2].session.sid];
    expected.sort();
    assert_eq!(revoked, expected);
    assert!(
        f.manager.verify(a[1].access_token.expose()).is_ok(),
        "the kept session works"
    );
    for i in [0, 2] {
        assert!(revoked_token(
            f.manager.verify(a[i].access_token.expose()).unwrap_err()
        ));
    }
    let listed: Vec<_> = f
        .manager
        .list("alice")
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.sid)
        .collect();
    assert_eq!(listed, vec![keep]);
    let all = f
        .manager
        .revoke_user("alice", None, RevokeReason::PasswordChanged)
        .await
        .unwrap();
    assert_eq!(
        all,
        vec![keep],
        "already-revoked sessions are not revoked twice"
    );
    assert!(f.manager.list("alice").await.unwrap().is_empty());
    assert!(
        f.manager.verify(bob.access_token.expose()).is_ok(),
        "bob is untouched"
    );
    assert!(
        f.manager
            .revoke_user("nobody", None, RevokeReason::Admin)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Every feed's entries after `after` (its cursor per feed; none: from the start).
async fn every_feed<S: Store>(store: &S, after: Option<&[u64]>) -> Vec<Vec<FeedEntry>> {
    let mut feeds = Vec::new();
    for feed in 0..store.feeds() {
        let from = after.map_or(0, |a| a[feed]);
        feeds.push(store.revocations_after(feed, from, 1000).await.unwrap());
    }
    feeds
}

/// Each feed's last cursor now (0 for an empty one).
async fn feed_heads<S: Store>(store: &S) -> Vec<u64> {
    every_feed(store, None)
        .await
        .iter()
        .map(|entries| entries.last().map_or(0, |e| e.cursor))
        .collect()
}

/// Each feed hands out entries in cursor order, after a cursor, at most `limit` at a time; one
/// user's revocations are in one feed, in the order they happened.
pub async fn feed_is_ordered_by_cursor<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let start = feed_heads(&f.store).await;
    let mut sids = Vec::new();
    for _ in 0..5 {
        let s = f.login("alice").await.session.sid;
        let until = f.clock_now().plus(Duration::from_secs(900));
        let r = Revocation {
            reason: RevokeReason::Admin,
            at: f.clock_now(),
            until,
        };
        assert_eq!(
            f.store.revoke(&s, r).await.unwrap().as_deref(),
            Some("alice")
        );
        sids.push(s);
    }
    f.store
        .revoke_token("jti-1", f.clock_now().plus(Duration::from_secs(600)))
        .await
        .unwrap();
    let feeds = every_feed(&f.store, Some(&start)).await;
    for entries in &feeds {
        assert!(
            entries.windows(2).all(|w| w[0].cursor < w[1].cursor),
            "strictly increasing"
        );
    }
    let mut revoked: Vec<_> = feeds.iter().flatten().map(|e| e.revoked.clone()).collect();
    revoked.sort_by_key(|r| format!("{r:?}"));
    let mut expected: Vec<_> = sids.iter().map(|s| Revoked::Session(*s)).collect();
    expected.push(Revoked::Token("jti-1".into()));
    expected.sort_by_key(|r| format!("{r:?}"));
    assert_eq!(revoked, expected, "every revocation, once");

    let (feed, all) = feeds
        .iter()
        .enumerate()
        .find(|(_, entries)| {
            entries
                .iter()
                .any(|e| e.revoked == Revoked::Session(sids[0]))
        })
        .unwrap();
    let alices: Vec<_> = all
        .iter()
        .filter(|e| matches!(e.revoked, Revoked::Session(_)))
        .map(|e| e.revoked.clone())
        .collect();
    assert_eq!(
        alices,
        sids.iter()
            .map(|s| Revoked::Session(*s))
            .collect::<Vec<_>>(),
        "one user's revocations share a feed, in order"
    );
    let page = f
        .store
        .revocations_after(feed, start[feed], 2)
        .await
        .unwrap();
    assert_eq!(page, all[..2].to_vec());
    let rest = f
        .store
        .revocations_after(feed, all[1].cursor, 1000)
        .await
        .unwrap();
    assert_eq!(rest, all[2..].to_vec());
    assert!(
        f.store
            .revocations_after(feed, all[all.len() - 1].cursor, 1000)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A revocation made on one node reaches another through the store's feed.
pub async fn other_nodes_see_revocations_after_sync<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let node_b = f.another_node().await;
    let issued = f.login("alice").await;
    assert!(
        node_b.verify(issued.access_token.expose()).is_ok(),
        "B trusts A's keys"
    );
    let refreshed = node_b
        .refresh(&issued.refresh_token.expose())
        .await
        .unwrap();
    f.manager
        .revoke(&issued.session.sid, RevokeReason::Logout)
        .await
        .unwrap();
    assert!(node_b.sync_revocations().await.unwrap() >= 1);
    for token in [&issued.access_token, &refreshed.access_token] {
        assert!(revoked_token(node_b.verify(token.expose()).unwrap_err()));
    }
    let before = node_b.revoked_view().cursor();
    assert_eq!(
        node_b.sync_revocations().await.unwrap(),
        0,
        "caught up: nothing new"
    );
    assert_eq!(node_b.revoked_view().cursor(), before);
}

/// One access token can be revoked by `jti` (RFC 7009) without ending its session.
pub async fn single_access_tokens_can_be_revoked<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let node_b = f.another_node().await;
    let issued = f.login("alice").await;
    let sibling = f.refresh(&issued).await;
    let claims = f.manager.verify(issued.access_token.expose()).unwrap();
    f.manager.revoke_access_token(&claims).await.unwrap();
    assert!(revoked_token(
        f.manager.verify(issued.access_token.expose()).unwrap_err()
    ));
    assert!(
        f.manager.verify(sibling.access_token.expose()).is_ok(),
        "the session lives on"
    );
    node_b.sync_revocations().await.unwrap();
    assert!(revoked_token(
        node_b.verify(issued.access_token.expose()).unwrap_err()
    ));
    assert!(node_b.verify(sibling.access_token.expose()).is_ok());
}

/// A revoked token comes back from the feed whole, whatever its `jti` holds: an imported
/// key's tokens carry ids Tessera did not make, with the separators and key syntax a store
/// might use itself. On Redis a `|` in one broke the entry, and every node then failed to
/// read that feed: a stale view, every token refused.
pub async fn token_ids_come_back_whole_from_the_feed<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let start = feed_heads(&f.store).await;
    let jtis = [
        "a|b",
        "1|2|3|4",
        "|",
        "{tessera}:feed",
        "%_*?[x]",
        "with space\ttab",
        "\u{e9}t\u{e9}|\u{1f511}",
    ];
    let until = f.clock_now().plus(Duration::from_secs(600));
    for jti in jtis {
        f.store.revoke_token(jti, until).await.unwrap();
    }
    let entries: Vec<FeedEntry> = every_feed(&f.store, Some(&start))
        .await
        .into_iter()
        .flatten()
        .collect();
    let mut got: Vec<String> = entries
        .iter()
        .map(|e| match &e.revoked {
            Revoked::Token(jti) => jti.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    got.sort();
    let mut want: Vec<String> = jtis.iter().map(|j| (*j).to_owned()).collect();
    want.sort();
    assert_eq!(got, want);
    assert!(entries.iter().all(|e| e.until == until), "{entries:?}");
    let node_b = f.another_node().await;
    node_b.sync_revocations().await.unwrap();
    assert!(node_b.revoked_view().is_current(f.clock_now()));
}
