//! Session records: creation, listing, timeouts, activity, updates, limits, purge.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test suite"
)]

use std::time::Duration;

use serde_json::json;
use tessera::store::{CreateOutcome, SessionUpdate};
use tessera::{
    Device, Error, NewSession, OnLimit, RefreshRejection, SessionLimit, Store, TokenRejection,
};

use crate::Fixture;

const HOUR: u64 = 3600;

/// A created session reads back exactly as created.
pub async fn create_then_get<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let mut new = NewSession::for_user("alice");
    new.claims.insert("role".into(), json!("admin"));
    new.data = json!({"cart": [1, 2, 3]});
    new.device = Device {
        user_agent: Some("Firefox".into()),
        ip: Some("192.0.2.7".into()),
        label: Some("laptop".into()),
    };
    let issued = f.manager.create(new.clone()).await.unwrap();
    let got = f
        .manager
        .get(&issued.session.sid)
        .await
        .unwrap()
        .expect("stored");
    assert_eq!(got, issued.session);
    assert_eq!(got.user_id, "alice");
    assert_eq!(got.claims, new.claims);
    assert_eq!(got.data, new.data);
    assert_eq!(got.device, new.device);
    assert_eq!(got.refresh.generation, 1);
    assert!(got.is_live(crate::START));
    assert!(
        f.manager
            .get(&tessera::SessionId::generate().unwrap())
            .await
            .unwrap()
            .is_none()
    );
}

/// Creating a session with an existing id never overwrites it.
pub async fn create_never_overwrites<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let issued = f.login("alice").await;
    let mut impostor = issued.session.clone();
    impostor.user_id = "mallory".into();
    impostor.data = json!("overwritten");
    assert_eq!(
        f.store.create(&impostor, None, None).await.unwrap(),
        CreateOutcome::AlreadyExists
    );
    let got = f.manager.get(&issued.session.sid).await.unwrap().unwrap();
    assert_eq!(got, issued.session);
    assert!(f.manager.list("mallory").await.unwrap().is_empty());
}

/// Listing returns the user's live sessions, oldest first, and never another user's.
pub async fn list_returns_only_that_users_live_sessions<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let mut alice = Vec::new();
    for _ in 0..3 {
        alice.push(f.login("alice").await.session.sid);
        f.advance(1);
    }
    let bob: Vec<_> = [f.login("bob").await, f.login("bob").await]
        .map(|i| i.session.sid)
        .into();
    f.login("alice2").await;
    f.manager
        .revoke(&alice[1], tessera::RevokeReason::Logout)
        .await
        .unwrap();
    let listed: Vec<_> = f
        .manager
        .list("alice")
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.sid)
        .collect();
    assert_eq!(listed, vec![alice[0], alice[2]]);
    assert_eq!(
        f.store.count_live(f.clock_now()).await.unwrap(),
        5,
        "2 alice + 2 bob + alice2"
    );
    let listed_bob = f.manager.list("bob").await.unwrap();
    assert_eq!(listed_bob.len(), 2);
    assert!(
        listed_bob
            .iter()
            .all(|s| s.user_id == "bob" && bob.contains(&s.sid))
    );
    assert!(f.manager.list("carol").await.unwrap().is_empty());
    assert!(
        f.manager.list("alic").await.unwrap().is_empty(),
        "no prefix matching"
    );
}

/// Each refresh slides the idle expiry; the absolute expiry never moves and ends the session.
pub async fn idle_timeout_slides_and_absolute_never_moves<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::with(store, |s| {
        s.policy.idle_timeout = Duration::from_secs(HOUR);
        s.policy.absolute_timeout = Duration::from_secs(3 * HOUR);
    })
    .await;
    let mut issued = f.login("alice").await;
    let absolute = issued.session.absolute_expires_at;
    for _ in 0..3 {
        f.advance(50 * 60); // under the idle timeout each time: the session stays alive
        issued = f.refresh(&issued).await;
        let now = f.clock_now();
        let stored = f.manager.get(&issued.session.sid).await.unwrap().unwrap();
        assert_eq!(
            stored.absolute_expires_at, absolute,
            "absolute expiry never moves"
        );
        assert_eq!(
            stored.idle_expires_at,
            now.plus(Duration::from_secs(HOUR)).min(absolute)
        );
    }
    f.advance(50 * 60); // 200 minutes: past the absolute timeout, though active all along
    let err = f
        .manager
        .refresh(&issued.refresh_token.expose())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidRefresh(RefreshRejection::Expired)),
        "{err:?}"
    );
    assert!(f.manager.list("alice").await.unwrap().is_empty());
}

/// A session unused for the idle timeout is over.
pub async fn idle_expiry_ends_an_unused_session<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::with(store, |s| s.policy.idle_timeout = Duration::from_secs(HOUR)).await;
    let issued = f.login("alice").await;
    f.advance(HOUR - 1);
    assert_eq!(f.manager.list("alice").await.unwrap().len(), 1);
    f.advance(1);
    assert!(f.manager.list("alice").await.unwrap().is_empty());
    let err = f
        .manager
        .refresh(&issued.refresh_token.expose())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidRefresh(RefreshRejection::Expired)
    ));
    assert!(matches!(
        f.manager.touch(&issued.session).await,
        Err(Error::SessionNotLive)
    ));
}

/// Activity is written at most once per touch interval, and slides the idle expiry.
pub async fn touch_is_throttled<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let issued = f.login("alice").await;
    f.advance(30);
    assert!(
        !f.manager.touch(&issued.session).await.unwrap(),
        "too soon: no write"
    );
    let stored = f.manager.get(&issued.session.sid).await.unwrap().unwrap();
    assert_eq!(stored.last_seen_at, crate::START);
    f.advance(31);
    assert!(f.manager.touch(&stored).await.unwrap());
    let touched = f.manager.get(&issued.session.sid).await.unwrap().unwrap();
    assert_eq!(touched.last_seen_at, f.clock_now());
    assert!(touched.idle_expires_at > stored.idle_expires_at);
    assert_eq!(
        touched.refresh, stored.refresh,
        "touch leaves refresh state alone"
    );
}

/// Updates are a compare-and-set on the version: a stale writer is refused, nothing is lost.
pub async fn update_is_compare_and_set<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let issued = f.login("alice").await;
    let sid = issued.session.sid;
    let v1 = issued.session.version;
    let first = SessionUpdate {
        data: Some(json!({"theme": "dark"})),
        claims: None,
        cookie: None,
    };
    let second = SessionUpdate {
        data: Some(json!({"theme": "light"})),
        claims: None,
        cookie: None,
    };
    let v2 = f.manager.update(&sid, v1, first).await.unwrap();
    assert!(v2 > v1);
    assert!(matches!(
        f.manager.update(&sid, v1, second).await,
        Err(Error::Conflict)
    ));
    let stored = f.manager.get(&sid).await.unwrap().unwrap();
    assert_eq!(
        stored.data,
        json!({"theme": "dark"}),
        "the first writer's update survives"
    );
    let mut claims = serde_json::Map::new();
    claims.insert("role".into(), json!("editor"));
    let update = SessionUpdate {
        claims: Some(claims),
        data: None,
        cookie: None,
    };
    f.manager.update(&sid, v2, update).await.unwrap();
    let next = f.refresh(&issued).await;
    let verified = f.manager.verify(next.access_token.expose()).unwrap();
    assert_eq!(
        verified.extra["role"], "editor",
        "updated claims reach the next access token"
    );
    assert_eq!(
        f.manager.get(&sid).await.unwrap().unwrap().data,
        json!({"theme": "dark"})
    );
    let missing = tessera::SessionId::generate().unwrap();
    let err = f
        .manager
        .update(&missing, 1, SessionUpdate::default())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SessionNotFound));
}

/// Application claims set at creation are in every access token, refresh after refresh.
pub async fn claims_survive_every_refresh<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let mut new = NewSession::for_user("alice");
    new.claims.insert("role".into(), json!("admin"));
    new.claims.insert("tenant".into(), json!({"id": 7}));
    let mut issued = f.manager.create(new).await.unwrap();
    for _ in 0..5 {
        let claims = f.manager.verify(issued.access_token.expose()).unwrap();
        assert_eq!(claims.extra["role"], "admin");
        assert_eq!(claims.extra["tenant"], json!({"id": 7}));
        assert_eq!(claims.sub, "alice");
        f.advance(60);
        issued = f.refresh(&issued).await;
    }
}

/// At the per-user cap with `Deny`, a new session is refused and nothing changes.
pub async fn limit_denies_new_sessions<S: Store + Clone + 'static>(store: S) {
    let limit = SessionLimit {
        max: 2,
        on_limit: OnLimit::Deny,
    };
    let f = Fixture::with(store, |s| s.policy.limit = Some(limit)).await;
    let a = f.login("alice").await;
    f.login("alice").await;
    let err = f
        .manager
        .create(NewSession::for_user("alice"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::SessionLimitReached));
    assert_eq!(f.manager.list("alice").await.unwrap().len(), 2);
    f.login("bob").await; // other users are unaffected
    f.manager
        .revoke(&a.session.sid, tessera::RevokeReason::Logout)
        .await
        .unwrap();
    f.login("alice").await; // a revoked session frees its slot
}

/// At the per-user cap with `EvictOldest`, the oldest session is revoked at once.
pub async fn limit_evicts_the_oldest<S: Store + Clone + 'static>(store: S) {
    let limit = SessionLimit {
        max: 2,
        on_limit: OnLimit::EvictOldest,
    };
    let f = Fixture::with(store, |s| s.policy.limit = Some(limit)).await;
    let oldest = f.login("alice").await;
    f.advance(1);
    let middle = f.login("alice").await;
    f.advance(1);
    let newest = f.login("alice").await;
    let live: Vec<_> = f
        .manager
        .list("alice")
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.sid)
        .collect();
    assert_eq!(live, vec![middle.session.sid, newest.session.sid]);
    let evicted = f.manager.get(&oldest.session.sid).await.unwrap().unwrap();
    assert_eq!(evicted.revoke_reason, Some(tessera::RevokeReason::Evicted));
    let err = f.manager.verify(oldest.access_token.expose()).unwrap_err();
    assert!(matches!(err, Error::InvalidToken(TokenRejection::Revoked)));
    let err = f
        .manager
        .refresh(&oldest.refresh_token.expose())
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::InvalidRefresh(RefreshRejection::Revoked)
    ));
}

/// Purging removes expired and revoked sessions in bounded batches, and nothing live.
pub async fn purge_is_bounded_and_spares_live_sessions<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::with(store, |s| s.policy.idle_timeout = Duration::from_secs(HOUR)).await;
    let mut doomed = Vec::new();
    for i in 0..24 {
        doomed.push(f.login(&format!("user-{}", i % 3)).await.session.sid);
    }
    let revoked = f.login("carol").await.session.sid;
    f.manager
        .revoke(&revoked, tessera::RevokeReason::Logout)
        .await
        .unwrap();
    f.advance(HOUR + 1);
    let live = f.login("dave").await.session.sid;
    let mut batches = Vec::new();
    loop {
        let n = f.manager.purge_expired(10).await.unwrap();
        batches.push(n);
        if n < 10 {
            break;
        }
    }
    assert_eq!(batches, vec![10, 10, 5]);
    for sid in doomed.iter().chain([&revoked]) {
        assert!(f.manager.get(sid).await.unwrap().is_none());
    }
    assert!(f.manager.get(&live).await.unwrap().is_some());
    assert_eq!(f.manager.purge_expired(10).await.unwrap(), 0);
}

/// A session kept alive by refreshes and activity outlives the end it had when it was created:
/// purging past that end spares it, and it is still listed, counted and refreshable.
pub async fn purge_spares_sessions_kept_alive<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::with(store, |s| s.policy.idle_timeout = Duration::from_secs(HOUR)).await;
    let mut issued = f.login("erin").await;
    let idle = f.login("erin").await.session.sid;
    for _ in 0..3 {
        f.advance(HOUR / 2);
        issued = f.refresh(&issued).await;
    }
    assert!(f.manager.purge_expired(10).await.unwrap() <= 1);
    assert!(f.manager.purge_expired(10).await.unwrap() <= 1);
    assert!(
        f.manager.get(&idle).await.unwrap().is_none(),
        "the unused one is gone"
    );
    let sid = issued.session.sid;
    assert!(f.manager.get(&sid).await.unwrap().is_some());
    assert_eq!(
        f.manager
            .list("erin")
            .await
            .unwrap()
            .iter()
            .map(|s| s.sid)
            .collect::<Vec<_>>(),
        [sid]
    );
    assert_eq!(f.store.count_live(f.clock_now()).await.unwrap(), 1);
    f.refresh(&issued).await;
}
