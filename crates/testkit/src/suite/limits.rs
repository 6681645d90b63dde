//! Rate limits through the store: GCRA decisions, atomic under concurrency.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test suite"
)]

use std::sync::Arc;
use std::time::Duration;

use tessera::{Quota, RateDecision, Store, Timestamp};
use tokio::sync::Barrier;

/// A burst is allowed at once, then one request per interval; keys are independent.
pub async fn bursts_then_paces<S: Store + Clone + 'static>(store: S) {
    let quota = Quota::new(60, Duration::from_secs(60), 3).unwrap();
    let t0 = Timestamp::from_secs(1_700_000_000);
    for expected in [2, 1, 0] {
        match store.rate_limit("session:a", &quota, t0).await.unwrap() {
            RateDecision::Allowed {
                remaining,
                reset_after,
            } => {
                assert_eq!(remaining, expected);
                assert!(reset_after <= Duration::from_secs(3));
            }
            limited => panic!("within the burst: {limited:?}"),
        }
    }
    let limited = store.rate_limit("session:a", &quota, t0).await.unwrap();
    assert_eq!(limited.retry_after(), Some(Duration::from_secs(1)));
    assert!(
        store
            .rate_limit("session:b", &quota, t0)
            .await
            .unwrap()
            .allowed(),
        "other keys unaffected"
    );
    let later = t0.plus(Duration::from_secs(1));
    assert!(
        store
            .rate_limit("session:a", &quota, later)
            .await
            .unwrap()
            .allowed()
    );
    assert!(
        !store
            .rate_limit("session:a", &quota, later)
            .await
            .unwrap()
            .allowed()
    );
}

/// 64 callers at the same instant against a burst of 10: exactly 10 get through.
pub async fn concurrent_callers_never_exceed_the_limit<S: Store + Clone + 'static>(store: S) {
    const CALLERS: usize = 64;
    let quota = Quota::new(10, Duration::from_secs(3600), 10).unwrap();
    let now = Timestamp::from_secs(1_700_000_000);
    let barrier = Arc::new(Barrier::new(CALLERS));
    let mut tasks = Vec::new();
    for _ in 0..CALLERS {
        let (store, barrier) = (store.clone(), Arc::clone(&barrier));
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store
                .rate_limit("client:192.0.2.9", &quota, now)
                .await
                .unwrap()
                .allowed()
        }));
    }
    let mut allowed = 0;
    for t in tasks {
        allowed += usize::from(t.await.unwrap());
    }
    assert_eq!(allowed, 10);
}

/// Tabs refreshing one token at once all succeed with the same successor: together they are
/// one presentation, counted once, however many there are and however often a lost
/// compare-and-set is retried.
pub async fn concurrent_presentations_of_one_token_count_once<S: Store + Clone + 'static>(
    store: S,
) {
    let quota = Quota::new(2, Duration::from_secs(60), 2).unwrap();
    let f = crate::Fixture::with(store, |s| s.policy.refresh_rate = Some(quota)).await;
    let issued = f.login("alice").await;
    let token = issued.refresh_token.expose();
    let racers: Vec<_> = (0..16)
        .map(|_| {
            let (m, t) = (std::sync::Arc::clone(&f.manager), token.clone());
            tokio::spawn(async move { m.refresh(&t).await })
        })
        .collect();
    let mut successors = std::collections::HashSet::new();
    for racer in racers {
        let next = racer.await.unwrap().expect("every tab gets the new tokens");
        successors.insert(next.refresh_token.expose());
    }
    assert_eq!(successors.len(), 1, "one successor");
    let next = successors.into_iter().next().unwrap();
    assert!(
        f.manager.refresh(&next).await.is_ok(),
        "the second of two allowed"
    );
    let third = f
        .manager
        .refresh(&next)
        .await
        .unwrap()
        .refresh_token
        .expose();
    assert!(
        matches!(
            f.manager.refresh(&third).await,
            Err(tessera::Error::RateLimited { .. })
        ),
        "the limit still counts distinct tokens"
    );
}

/// A per-session refresh rate limits genuine refreshes only: forgeries for the (public) session
/// id do not use up its quota.
pub async fn refresh_rate_counts_genuine_tokens_only<S: Store + Clone + 'static>(store: S) {
    let quota = Quota::new(2, Duration::from_secs(60), 2).unwrap();
    let f = crate::Fixture::with(store, |s| s.policy.refresh_rate = Some(quota)).await;
    let issued = f.login("alice").await;
    for _ in 0..20 {
        let forged = tessera::RefreshToken::from_parts(issued.session.sid, 1, [9; 32]).expose();
        assert!(f.manager.refresh(&forged).await.is_err());
    }
    let second = f.refresh(&issued).await;
    let third = f.refresh(&second).await;
    let err = f
        .manager
        .refresh(&third.refresh_token.expose())
        .await
        .unwrap_err();
    match err {
        tessera::Error::RateLimited {
            retry_after, limit, ..
        } => {
            assert_eq!(limit, 2);
            assert_eq!(retry_after, Duration::from_secs(30));
        }
        other => panic!("expected a rate limit, got {other:?}"),
    }
    f.advance(30);
    assert!(
        f.manager
            .refresh(&third.refresh_token.expose())
            .await
            .is_ok(),
        "allowed again"
    );
}

/// Resetting a key (a successful sign-in) gives it its full burst back.
pub async fn a_reset_limit_starts_full<S: Store + Clone + 'static>(store: S) {
    let quota = Quota::new(3, Duration::from_secs(3600), 3).unwrap();
    let now = Timestamp::from_secs(1_700_000_000);
    for _ in 0..3 {
        assert!(
            store
                .rate_limit("login:user:alice", &quota, now)
                .await
                .unwrap()
                .allowed()
        );
    }
    assert!(
        !store
            .rate_limit("login:user:alice", &quota, now)
            .await
            .unwrap()
            .allowed()
    );
    store.reset_rate_limit("login:user:alice").await.unwrap();
    for _ in 0..3 {
        assert!(
            store
                .rate_limit("login:user:alice", &quota, now)
                .await
                .unwrap()
                .allowed()
        );
    }
    store.reset_rate_limit("never-used").await.unwrap();
}
