//! Refresh rotation: the four properties, each with its own case.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test suite"
)]

use std::sync::Arc;
use std::time::Duration;

use tessera::{Error, RefreshRejection, RefreshToken, RevokeReason, Store, TokenRejection};
use tokio::sync::Barrier;

use crate::{CountingStore, Fixture};

fn rejection(err: Error) -> RefreshRejection {
    match err {
        Error::InvalidRefresh(r) => r,
        other => panic!("expected a refresh rejection, got {other:?}"),
    }
}

/// A refresh returns a new generation's token and a working access token; the old access token
/// keeps working until it expires.
pub async fn rotation_issues_a_new_generation<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let first = f.login("alice").await;
    f.advance(5);
    let second = f.refresh(&first).await;
    assert_eq!(second.refresh_token.generation(), 2);
    assert_eq!(second.refresh_token.session_id(), first.session.sid);
    assert_ne!(second.refresh_token.expose(), first.refresh_token.expose());
    assert_ne!(second.access_token.jti, first.access_token.jti);
    assert!(f.manager.verify(second.access_token.expose()).is_ok());
    assert!(f.manager.verify(first.access_token.expose()).is_ok());
    let stored = f.manager.get(&first.session.sid).await.unwrap().unwrap();
    assert_eq!(stored.refresh.generation, 2);
    assert_eq!(stored.last_seen_at, f.clock_now());
    f.advance(5);
    let third = f.refresh(&second).await;
    assert_eq!(third.refresh_token.generation(), 3);
}

/// 32 concurrent refreshes of one token all succeed with the identical next token, and the
/// session moves exactly one generation.
pub async fn concurrent_refreshes_do_not_fork<S: Store + Clone + 'static>(store: S) {
    const N: usize = 32;
    let f = Fixture::new(store).await;
    let token = f.login("alice").await.refresh_token.expose();
    let barrier = Arc::new(Barrier::new(N));
    let mut tasks = Vec::new();
    for _ in 0..N {
        let (manager, barrier, token) =
            (Arc::clone(&f.manager), Arc::clone(&barrier), token.clone());
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            manager.refresh(&token).await
        }));
    }
    let mut next = Vec::new();
    for t in tasks {
        let issued = t.await.unwrap().expect("every racing refresh succeeds");
        assert!(f.manager.verify(issued.access_token.expose()).is_ok());
        next.push(issued.refresh_token.expose());
    }
    assert!(
        next.iter().all(|t| *t == next[0]),
        "all racers receive the same next token"
    );
    let sid = RefreshToken::parse(&token).unwrap().session_id();
    assert_eq!(
        f.manager
            .get(&sid)
            .await
            .unwrap()
            .unwrap()
            .refresh
            .generation,
        2
    );
    assert!(
        f.manager.refresh(&next[0]).await.is_ok(),
        "the shared successor works"
    );
}

/// A genuine superseded token replayed after the grace window revokes the whole session, says
/// why, and kills the thief's and the victim's tokens alike.
pub async fn reuse_after_grace_revokes_the_session<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let stolen = f.login("alice").await;
    let rotated = f.refresh(&stolen).await;
    f.advance(5);
    let again = f.refresh(&stolen).await;
    assert_eq!(
        again.refresh_token, rotated.refresh_token,
        "within the grace window: same successor"
    );
    f.advance(6); // 11 s after the rotation: beyond the 10 s grace
    let err = f
        .manager
        .refresh(&stolen.refresh_token.expose())
        .await
        .unwrap_err();
    assert_eq!(rejection(err), RefreshRejection::Reused);
    let session = f.manager.get(&stolen.session.sid).await.unwrap().unwrap();
    assert!(session.revoked_at.is_some());
    assert_eq!(session.revoke_reason, Some(RevokeReason::RefreshReuse));
    let err = f
        .manager
        .refresh(&rotated.refresh_token.expose())
        .await
        .unwrap_err();
    assert_eq!(rejection(err), RefreshRejection::Revoked);
    for token in [&stolen.access_token, &rotated.access_token] {
        let err = f.manager.verify(token.expose()).unwrap_err();
        assert!(matches!(err, Error::InvalidToken(TokenRejection::Revoked)));
    }
}

/// A genuine token several generations old is proven genuine by walking the chain, and its
/// replay revokes the session.
pub async fn older_generation_reuse_revokes_the_session<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let first = f.login("alice").await;
    let mut current = first.clone();
    for _ in 0..5 {
        f.advance(60);
        current = f.refresh(&current).await;
    }
    assert_eq!(current.refresh_token.generation(), 6);
    let err = f
        .manager
        .refresh(&first.refresh_token.expose())
        .await
        .unwrap_err();
    assert_eq!(rejection(err), RefreshRejection::Reused);
    let session = f.manager.get(&first.session.sid).await.unwrap().unwrap();
    assert_eq!(session.revoke_reason, Some(RevokeReason::RefreshReuse));
}

/// Knowing a session id (public) is not enough to hurt it: forged secrets for any generation
/// are rejected and revoke nothing.
pub async fn forged_secrets_revoke_nothing<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let issued = f.login("alice").await;
    f.advance(60);
    let current = f.refresh(&issued).await;
    f.advance(60);
    let sid = issued.session.sid;
    for generation in [0, 1, 2, 3, 1000, u64::MAX] {
        let forged = RefreshToken::from_parts(sid, generation, [0x42; 32]).expose();
        let err = f.manager.refresh(&forged).await.unwrap_err();
        assert_eq!(
            rejection(err),
            RefreshRejection::Forged,
            "generation {generation}"
        );
    }
    let session = f.manager.get(&sid).await.unwrap().unwrap();
    assert!(session.revoked_at.is_none(), "a forgery revokes nothing");
    assert_eq!(session.refresh.generation, 2);
    assert!(f.manager.verify(current.access_token.expose()).is_ok());
    assert!(
        f.manager
            .refresh(&current.refresh_token.expose())
            .await
            .is_ok()
    );
    let unknown = RefreshToken::from_parts(tessera::SessionId::generate().unwrap(), 1, [1; 32]);
    let err = f.manager.refresh(&unknown.expose()).await.unwrap_err();
    assert_eq!(rejection(err), RefreshRejection::UnknownSession);
}

/// Refreshes racing a revoke: once the revoke has returned, no refresh succeeds, and no access
/// token minted by a racing refresh verifies, on this node or another.
pub async fn refresh_racing_revoke_mints_nothing_usable<S: Store + Clone + 'static>(store: S) {
    const RACERS: usize = 16;
    let f = Fixture::new(store).await;
    let node_b = f.another_node().await;
    for round in 0..4 {
        let issued = f.login(&format!("racer-{round}")).await;
        let token = issued.refresh_token.expose();
        let barrier = Arc::new(Barrier::new(RACERS + 1));
        let mut racers = Vec::new();
        for _ in 0..RACERS {
            let (m, b, t) = (Arc::clone(&f.manager), Arc::clone(&barrier), token.clone());
            racers.push(tokio::spawn(async move {
                b.wait().await;
                m.refresh(&t).await
            }));
        }
        let (m, b, sid) = (
            Arc::clone(&f.manager),
            Arc::clone(&barrier),
            issued.session.sid,
        );
        let revoker = tokio::spawn(async move {
            b.wait().await;
            m.revoke(&sid, RevokeReason::Logout).await
        });
        revoker.await.unwrap().unwrap();
        // The revoke has returned: from here on nothing about this session may work.
        let minted: Vec<_> = futures_results(racers).await;
        node_b.sync_revocations().await.unwrap();
        for issued in minted.iter().flatten() {
            for node in [&*f.manager, &node_b] {
                assert!(
                    node.verify(issued.access_token.expose()).is_err(),
                    "racing access token verifies"
                );
            }
            assert!(
                f.manager
                    .refresh(&issued.refresh_token.expose())
                    .await
                    .is_err()
            );
        }
        assert!(f.manager.refresh(&token).await.is_err());
        assert!(f.manager.verify(issued.access_token.expose()).is_err());
    }
}

async fn futures_results<T>(
    tasks: Vec<tokio::task::JoinHandle<Result<T, Error>>>,
) -> Vec<Result<T, Error>> {
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Garbage (wrong prefix, bad checksum, truncated) is rejected without any store call.
pub async fn garbage_never_reaches_the_store<S: Store + Clone + 'static>(store: S) {
    let counting = CountingStore::new(store);
    let f = Fixture::new(counting.clone()).await;
    let real = f.login("alice").await.refresh_token.expose();
    let mut flipped: Vec<char> = real.chars().collect();
    let i = flipped.len() / 2;
    flipped[i] = if flipped[i] == 'a' { 'b' } else { 'a' };
    let flipped: String = flipped.into_iter().collect();
    let garbage = [
        String::new(),
        "tsr_".into(),
        "hello".into(),
        real.replacen("tsr_", "tsk_", 1),
        real[..real.len() - 1].to_owned(),
        format!("{real}A"),
        flipped,
        "x".repeat(10_000),
    ];
    let before = counting.calls();
    for g in &garbage {
        let err = f.manager.refresh(g).await.unwrap_err();
        assert_eq!(rejection(err), RefreshRejection::Malformed, "{:.20}", g);
    }
    assert_eq!(counting.calls(), before, "no store call for garbage");
}

/// A sign-in, a refresh (with the per-session rate charged), and a racing tab's refresh are each
/// one store step: no read before the write, no separate rate or audit call.
pub async fn sign_in_and_refresh_are_one_store_step_each<S: Store + Clone + 'static>(store: S) {
    let counting = CountingStore::new(store);
    let f = Fixture::with(counting.clone(), |s| {
        s.policy.refresh_rate = Some(tessera::Quota::new(10, Duration::from_secs(60), 10).unwrap());
    })
    .await;
    let before = counting.calls();
    let issued = f.login("alice").await;
    assert_eq!(counting.calls() - before, 1, "sign-in");
    let before = counting.calls();
    let next = f.refresh(&issued).await;
    assert_eq!(counting.calls() - before, 1, "refresh");
    let before = counting.calls();
    let racer = f.refresh(&issued).await;
    assert_eq!(counting.calls() - before, 1, "the racing tab's refresh");
    assert_eq!(
        racer.refresh_token.expose(),
        next.refresh_token.expose(),
        "same successor"
    );
}

/// The store holds hashes only: the record and the feed carry no refresh secret.
pub async fn nothing_usable_at_rest<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let issued = f.login("alice").await;
    f.advance(60);
    let next = f.refresh(&issued).await;
    let stored = f.manager.get(&issued.session.sid).await.unwrap().unwrap();
    let dump = format!("{stored:?} {}", serde_json::to_string(&stored).unwrap());
    for token in [issued.refresh_token.expose(), next.refresh_token.expose()] {
        // Characters 36.. of a `tsr_` token encode its secret: no run of them may be stored.
        let secret_part = &token[36..76];
        for window in secret_part.as_bytes().windows(12) {
            let w = std::str::from_utf8(window).unwrap();
            assert!(!dump.contains(w), "a piece of a refresh secret is stored");
        }
    }
    // And the stored hashes cannot be presented as tokens.
    let as_token = RefreshToken::from_parts(stored.sid, 2, *stored.refresh.current.as_bytes());
    assert!(f.manager.refresh(&as_token.expose()).await.is_err());
    assert!(
        f.manager
            .get(&stored.sid)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
}

/// Inspection (introspection) reports on a token without using it or revoking anything.
pub async fn inspection_has_no_side_effects<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let first = f.login("alice").await;
    let inspected = f
        .manager
        .inspect_refresh(&first.refresh_token.expose())
        .await
        .unwrap();
    assert_eq!(
        inspected.refresh.generation, 1,
        "inspection does not rotate"
    );
    f.advance(60);
    let second = f.refresh(&first).await;
    f.advance(60);
    let err = f
        .manager
        .inspect_refresh(&first.refresh_token.expose())
        .await
        .unwrap_err();
    assert_eq!(rejection(err), RefreshRejection::Superseded);
    let forged = RefreshToken::from_parts(first.session.sid, 2, [3; 32]).expose();
    assert_eq!(
        rejection(f.manager.inspect_refresh(&forged).await.unwrap_err()),
        RefreshRejection::Forged
    );
    assert!(
        f.manager
            .get(&first.session.sid)
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_none()
    );
    assert!(
        f.manager
            .refresh(&second.refresh_token.expose())
            .await
            .is_ok()
    );
}

/// The hash the store-level rotations below give the secret after `generation`.
fn next_hash(generation: u64) -> tessera::TokenHash {
    tessera::TokenHash::of(&generation.to_be_bytes())
}

/// A store-level rotation from `generation` (whose secret hashed to `presented`) at `at`, to a
/// next secret hashing to `next_hash(generation)`; no rate, no client, the idle end unchanged.
fn store_rotation(
    generation: u64,
    presented: tessera::TokenHash,
    at: tessera::Timestamp,
) -> tessera::store::Rotation {
    tessera::store::Rotation {
        expected_generation: generation,
        presented,
        next: tessera::RefreshState {
            generation: generation + 1,
            current: next_hash(generation),
            previous: Some(presented),
            rotated_at: at,
        },
        at,
        idle_expires_at: at,
        rate: None,
        client: None,
    }
}

/// The client address a refresh records reads back exactly as given: the session's own
/// address, none, another, and ones a compact store might mistake for a marker of its own.
pub async fn a_refresh_keeps_its_client_as_given<S: Store + Clone + 'static>(store: S) {
    use tessera::store::RotateOutcome;
    let f = Fixture::new(store).await;
    let own = "203.0.113.5";
    let mut new = tessera::NewSession::for_user("alice");
    new.device.ip = Some(own.into());
    let issued = f.manager.create(new).await.unwrap();
    let sid = issued.session.sid;
    let mut presented = issued.session.refresh.current;
    let clients = [
        Some(own),
        None,
        Some("="),
        Some("=="),
        Some("=203.0.113.5"),
        Some("::1"),
    ];
    for (generation, client) in (1..).zip(clients) {
        let rotation = tessera::store::Rotation {
            idle_expires_at: issued.session.idle_expires_at,
            client: client.map(Into::into),
            ..store_rotation(generation, presented, f.clock_now())
        };
        let RotateOutcome::Rotated(s) = f.store.rotate(&sid, &rotation).await.unwrap() else {
            panic!("generation {generation} not rotated");
        };
        assert_eq!(s.refreshed_from.as_deref(), client, "answered");
        let stored = f.store.get(&sid).await.unwrap().unwrap();
        assert_eq!(stored.refreshed_from.as_deref(), client, "stored");
        assert_eq!(stored.device.ip.as_deref(), Some(own));
        presented = next_hash(generation);
    }
}

/// The store's rotation is one compare-and-set on the generation and the secret: a stale
/// rotation (a slow racer) or a forged one is refused with the session as found and changes
/// nothing; an applied one writes the refresh fields, counts the refresh on the session, keeps
/// the idle expiry within the absolute one, and answers with the session as it now stands.
pub async fn rotation_is_compare_and_set<S: Store + Clone + 'static>(store: S) {
    use tessera::store::{RotateOutcome, Rotation};
    let f = Fixture::new(store).await;
    let issued = f.login("alice").await;
    let sid = issued.session.sid;
    let hash = next_hash;
    let first = issued.session.refresh.current;
    let step = |generation: u64, presented: tessera::TokenHash| Rotation {
        idle_expires_at: issued
            .session
            .absolute_expires_at
            .plus(Duration::from_secs(60)),
        client: Some(format!("198.51.100.{generation}")),
        ..store_rotation(generation, presented, f.clock_now())
    };
    match f.store.rotate(&sid, &step(1, first)).await.unwrap() {
        RotateOutcome::Rotated(s) => {
            assert_eq!(s.refresh.generation, 2);
            assert_eq!(s.refreshes, 1);
            assert_eq!(s.refreshed_from.as_deref(), Some("198.51.100.1"));
            assert_eq!(
                s.idle_expires_at, issued.session.absolute_expires_at,
                "idle never past absolute"
            );
            assert_eq!(s.claims, issued.session.claims, "untouched fields kept");
            let stored = f.store.get(&sid).await.unwrap();
            assert_eq!(stored.as_ref(), Some(&*s), "answered as stored");
        }
        other => panic!("not applied: {other:?}"),
    }
    assert!(matches!(
        f.store.rotate(&sid, &step(2, hash(1))).await.unwrap(),
        RotateOutcome::Rotated(_)
    ));
    match f.store.rotate(&sid, &step(1, first)).await.unwrap() {
        RotateOutcome::Refused(Some(current)) => assert_eq!(current.refresh.generation, 3),
        other => panic!("a stale rotation was applied: {other:?}"),
    }
    match f.store.rotate(&sid, &step(3, hash(1))).await.unwrap() {
        RotateOutcome::Refused(Some(current)) => assert_eq!(current.refresh.generation, 3),
        other => panic!("a rotation with another secret was applied: {other:?}"),
    }
    let stored = f.manager.get(&sid).await.unwrap().unwrap();
    assert_eq!(
        (stored.refresh.generation, stored.refreshes),
        (3, 2),
        "no roll-back, refused rotations not counted"
    );
    assert_eq!(stored.refresh.current, hash(2));
    let missing = tessera::SessionId::generate().unwrap();
    assert_eq!(
        f.store.rotate(&missing, &step(1, first)).await.unwrap(),
        RotateOutcome::Refused(None)
    );
    let mut late = step(3, hash(2));
    late.at = issued.session.absolute_expires_at;
    assert!(
        matches!(
            f.store.rotate(&sid, &late).await.unwrap(),
            RotateOutcome::Refused(Some(_))
        ),
        "expired"
    );
    f.manager.revoke(&sid, RevokeReason::Logout).await.unwrap();
    assert!(
        matches!(
            f.store.rotate(&sid, &step(3, hash(2))).await.unwrap(),
            RotateOutcome::Refused(Some(_))
        ),
        "revoked"
    );
}

/// The rate a rotation carries is charged in the same step, only when the rotation applies: a
/// spent rate refuses it with nothing written, and refused rotations (forgeries) charge nothing.
pub async fn rotation_charges_its_rate_only_when_applied<S: Store + Clone + 'static>(store: S) {
    use tessera::store::{RateCharge, RotateOutcome, Rotation};
    let f = Fixture::new(store).await;
    let issued = f.login("alice").await;
    let sid = issued.session.sid;
    let hash = next_hash;
    let quota = tessera::Quota::new(1, Duration::from_secs(3600), 2).unwrap();
    let step = |generation: u64, presented: tessera::TokenHash| Rotation {
        idle_expires_at: issued.session.idle_expires_at,
        rate: Some(RateCharge {
            key: format!("refresh:session:{sid}"),
            quota,
        }),
        ..store_rotation(generation, presented, f.clock_now())
    };
    for _ in 0..5 {
        assert!(matches!(
            f.store.rotate(&sid, &step(1, hash(99))).await.unwrap(),
            RotateOutcome::Refused(Some(_))
        ));
    }
    let first = issued.session.refresh.current;
    assert!(matches!(
        f.store.rotate(&sid, &step(1, first)).await.unwrap(),
        RotateOutcome::Rotated(_)
    ));
    assert!(matches!(
        f.store.rotate(&sid, &step(2, hash(1))).await.unwrap(),
        RotateOutcome::Rotated(_)
    ));
    match f.store.rotate(&sid, &step(3, hash(2))).await.unwrap() {
        RotateOutcome::Limited { retry_after, .. } => {
            assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(3600));
        }
        other => panic!("the spent rate was not enforced: {other:?}"),
    }
    let stored = f.manager.get(&sid).await.unwrap().unwrap();
    assert_eq!(
        (stored.refresh.generation, stored.refreshes),
        (3, 2),
        "nothing written when limited"
    );
}

/// Revoking by refresh token (RFC 7009) judges the token as a refresh would: the current one,
/// or one superseded within the grace window (a tab that lost a race, now signing out), ends
/// the session as a logout; a superseded one after it ends the session as stolen; a forgery
/// or a token of an ended session changes nothing. Before, any superseded token was ignored
/// (200, the session live, nothing audited).
pub async fn revoking_by_refresh_token_judges_it_as_a_refresh_would<S: Store + Clone + 'static>(
    store: S,
) {
    let f = Fixture::new(store).await;
    let reason = |issued: &tessera::Issued| {
        let f = &f;
        let sid = issued.session.sid;
        async move {
            let s = f.manager.get(&sid).await.unwrap().unwrap();
            s.revoke_reason
        }
    };
    let current = f.login("alice").await;
    assert!(
        f.manager
            .revoke_refresh(&current.refresh_token.expose())
            .await
            .unwrap()
    );
    assert_eq!(reason(&current).await, Some(RevokeReason::Logout));
    assert!(
        !f.manager
            .revoke_refresh(&current.refresh_token.expose())
            .await
            .unwrap()
    );

    let lost_race = f.login("alice").await;
    f.refresh(&lost_race).await;
    f.advance(5);
    assert!(
        f.manager
            .revoke_refresh(&lost_race.refresh_token.expose())
            .await
            .unwrap()
    );
    assert_eq!(reason(&lost_race).await, Some(RevokeReason::Logout));

    let stolen = f.login("alice").await;
    let mut latest = f.refresh(&stolen).await;
    for _ in 0..3 {
        f.advance(60);
        latest = f.refresh(&latest).await;
    }
    let forged = RefreshToken::from_parts(stolen.session.sid, 1, [7u8; 32]).expose();
    assert!(!f.manager.revoke_refresh(&forged).await.unwrap());
    assert!(!f.manager.revoke_refresh("tsr_garbage").await.unwrap());
    assert_eq!(reason(&stolen).await, None, "a forgery changes nothing");
    assert!(
        f.manager
            .revoke_refresh(&stolen.refresh_token.expose())
            .await
            .unwrap()
    );
    assert_eq!(reason(&stolen).await, Some(RevokeReason::RefreshReuse));
    let err = f
        .manager
        .refresh(&latest.refresh_token.expose())
        .await
        .unwrap_err();
    assert_eq!(rejection(err), RefreshRejection::Revoked);
}
