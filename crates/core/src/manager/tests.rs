//! Manager rules that do not depend on a store; the store-facing behaviour is covered by the
//! conformance suite in `tessera-testkit`, run here on the memory store.

use std::time::Duration;

use serde_json::json;

use super::*;
use crate::store::KeyStore;
use crate::{ManualClock, MemoryStore};
use crate::{ServerSecret, Validation};

fn settings() -> Settings {
    Settings::new(
        Validation::new("https://issuer", "api"),
        ServerSecret::generate().unwrap(),
    )
}

/// A manager on a fresh memory store with default settings, on `clock`.
fn started(clock: &ManualClock) -> SessionManager<MemoryStore, ManualClock> {
    block(SessionManager::start(
        MemoryStore::new(),
        clock.clone(),
        settings(),
    ))
    .unwrap()
}

fn block<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn manager() -> SessionManager<MemoryStore, ManualClock> {
    let clock = ManualClock::new(Timestamp::from_secs(1_700_000_000));
    block(SessionManager::start(MemoryStore::new(), clock, settings())).unwrap()
}

#[test]
fn rejects_bad_new_sessions() {
    let m = manager();
    let mut reserved = NewSession::for_user("u");
    reserved.claims.insert("sub".into(), json!("admin"));
    let mut big = NewSession::for_user("u");
    big.claims.insert("blob".into(), json!("x".repeat(3000)));
    let mut big_data = NewSession::for_user("u");
    big_data.data = json!("x".repeat(70_000));
    for bad in [
        NewSession::for_user(""),
        NewSession::for_user("a\nb"),
        NewSession::for_user("x".repeat(257)),
        reserved,
        big,
        big_data,
    ] {
        assert!(matches!(block(m.create(bad)), Err(Error::InvalidInput(_))));
    }
}

#[test]
fn inconsistent_settings_are_refused() {
    let mut s = settings();
    s.rotation.retire_after = Duration::from_secs(60);
    assert!(matches!(
        SessionManager::new(
            MemoryStore::new(),
            ManualClock::new(Timestamp::from_secs(0)),
            s
        ),
        Err(Error::InvalidConfig(_))
    ));
    let mut s = settings();
    s.policy.idle_timeout = Duration::from_secs(1);
    assert!(
        SessionManager::new(
            MemoryStore::new(),
            ManualClock::new(Timestamp::from_secs(0)),
            s
        )
        .is_err()
    );
}

#[test]
fn access_tokens_carry_jittered_lifetimes_within_bounds() {
    let m = manager();
    let now = Timestamp::from_secs(1_700_000_000);
    let mut lifetimes = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let issued = block(m.create(NewSession::for_user("u"))).unwrap();
        let ttl = issued.access_token.expires_at.as_secs() - now.as_secs();
        assert!((540..=600).contains(&ttl), "{ttl}");
        lifetimes.insert(ttl);
    }
    assert!(lifetimes.len() > 1, "jitter spreads expiries");
}

#[test]
fn access_tokens_never_outlive_the_session() {
    let mut s = settings();
    s.policy.absolute_timeout = s.policy.idle_timeout;
    s.policy.idle_timeout = Duration::from_secs(700);
    s.policy.absolute_timeout = Duration::from_secs(700);
    let clock = ManualClock::new(Timestamp::from_secs(1_000));
    let m = block(SessionManager::start(MemoryStore::new(), clock.clone(), s)).unwrap();
    let issued = block(m.create(NewSession::for_user("u"))).unwrap();
    clock.advance(Duration::from_secs(400));
    let next = block(m.refresh(&issued.refresh_token.expose())).unwrap();
    assert!(next.access_token.expires_at <= next.session.absolute_expires_at);
}

#[test]
fn debug_output_carries_no_token() {
    let m = manager();
    let issued = block(m.create(NewSession::for_user("u"))).unwrap();
    let shown = format!("{issued:?}");
    assert!(!shown.contains(issued.access_token.expose()));
    assert!(!shown.contains(&issued.refresh_token.expose()[4..40]));
}

#[test]
fn stale_shared_view_fails_closed_until_synced() {
    let clock = ManualClock::new(Timestamp::from_secs(1_000));
    let mut s = settings();
    s.max_feed_staleness = Some(Duration::from_secs(5));
    let m = block(SessionManager::start(MemoryStore::new(), clock.clone(), s)).unwrap();
    let issued = block(m.create(NewSession::for_user("u"))).unwrap();
    assert!(m.verify(issued.access_token.expose()).is_ok());
    clock.advance(Duration::from_secs(6));
    assert!(matches!(
        m.verify(issued.access_token.expose()),
        Err(Error::InvalidToken(TokenRejection::RevocationStale))
    ));
    block(m.sync_revocations()).unwrap();
    assert!(m.verify(issued.access_token.expose()).is_ok());
}

#[test]
fn a_pinned_hs256_secret_signs_every_token_and_never_rotates() {
    assert!(matches!(
        Hs256Secret::new(vec![7; 31]),
        Err(Error::InvalidKey(_))
    ));
    let mut s = settings();
    s.hs256_secret = Some(Hs256Secret::new((7u8..39).collect::<Vec<u8>>()).unwrap());
    assert!(
        SessionManager::new(
            MemoryStore::new(),
            ManualClock::new(Timestamp::from_secs(0)),
            s.clone()
        )
        .is_err(),
        "needs HS256"
    );
    s.rotation.algorithm = crate::Algorithm::HS256;
    let clock = ManualClock::new(Timestamp::from_secs(1_000));
    let m = block(SessionManager::start(
        MemoryStore::new(),
        clock.clone(),
        s.clone(),
    ))
    .unwrap();
    let other = block(SessionManager::start(MemoryStore::new(), clock.clone(), s)).unwrap();
    let issued = block(m.create(NewSession::for_user("u"))).unwrap();
    assert!(
        other.verify(issued.access_token.expose()).is_ok(),
        "same secret, same key, any node"
    );
    assert!(m.jwks().keys.is_empty(), "never published");
    clock.advance(Duration::from_secs(400 * 24 * 3600));
    assert!(!block(m.sync_keys()).unwrap());
    assert!(
        block(m.store().load_keyset()).unwrap().is_none(),
        "a pinned key is not stored"
    );
    let secret = Hs256Secret::new((65u8..97).collect::<Vec<u8>>()).unwrap();
    assert!(!format!("{secret:?}").contains("ABCD"));
    for weak in [vec![b'a'; 32], b"abcd".repeat(8), b"abcdefg".repeat(5)] {
        let err = Hs256Secret::new(weak).unwrap_err().to_string();
        assert!(err.contains("entropy"), "{err}");
    }
    assert!(Hs256Secret::new(b"an-operator-chosen-secret-of-at-least-32-bytes".to_vec()).is_ok());
}

#[test]
fn cached_verifications_still_expire_and_still_see_revocations() {
    let clock = ManualClock::new(Timestamp::from_secs(1_000));
    let m = started(&clock);
    let a = block(m.create(NewSession::for_user("u"))).unwrap();
    let b = block(m.create(NewSession::for_user("u"))).unwrap();
    for _ in 0..3 {
        assert!(m.verify(a.access_token.expose()).is_ok());
        assert!(m.verify(b.access_token.expose()).is_ok());
    }
    block(m.revoke(&a.session.sid, crate::RevokeReason::Logout)).unwrap();
    assert!(matches!(
        m.verify(a.access_token.expose()),
        Err(Error::InvalidToken(TokenRejection::Revoked))
    ));
    clock.advance(Duration::from_secs(601 + 30));
    assert!(matches!(
        m.verify(b.access_token.expose()),
        Err(Error::InvalidToken(TokenRejection::Expired))
    ));
    // A tampered copy of a cached token is not a cache hit.
    let c = block(m.create(NewSession::for_user("u"))).unwrap();
    assert!(m.verify(c.access_token.expose()).is_ok());
    let tampered = format!("{}x", c.access_token.expose());
    assert!(m.verify(&tampered).is_err());
}

#[test]
fn a_sync_that_changes_nothing_keeps_the_ring_and_its_cache() {
    let clock = ManualClock::new(Timestamp::from_secs(1_000));
    let m = started(&clock);
    let before = m.ring();
    assert!(!block(m.sync_keys()).unwrap());
    assert!(
        Arc::ptr_eq(&before, &m.ring()),
        "same keys: same ring, cache kept"
    );
    block(m.rotate_keys_now()).unwrap();
    assert!(!Arc::ptr_eq(&before, &m.ring()), "new keys: a new ring");
    let after = m.ring();
    clock.advance(Duration::from_secs(30));
    assert!(!block(m.sync_keys()).unwrap());
    assert!(Arc::ptr_eq(&after, &m.ring()));
}

/// The server secret is made once per store, sealed, opened by whoever shares the store and
/// its key-encryption key, resealed under a new key on request, and refused when found in
/// clear where secrets are sealed.
#[test]
fn the_server_secret_is_made_once_and_sealed_in_the_store() {
    use crate::{KeyEncryptionKey, Sealer};
    block(async {
        let store = MemoryStore::new();
        let old = KeyEncryptionKey::generate().unwrap();
        let sealer = Sealer::new(old.clone(), Vec::new());
        let first = ServerSecret::load_or_create(&store, &sealer, false)
            .await
            .unwrap();
        let again = ServerSecret::load_or_create(&store, &sealer, false)
            .await
            .unwrap();
        assert_eq!(first.expose_bytes(), again.expose_bytes(), "made once");
        let stored = store.get_setting("server-secret").await.unwrap().unwrap();
        assert!(Sealer::is_sealed(&stored), "never in clear at rest");
        assert!(!stored.windows(32).any(|w| w == first.expose_bytes()));

        let stranger = Sealer::new(KeyEncryptionKey::generate().unwrap(), Vec::new());
        assert!(
            ServerSecret::load_or_create(&store, &stranger, false)
                .await
                .is_err()
        );

        let rotated = Sealer::new(KeyEncryptionKey::generate().unwrap(), vec![old]);
        let resealed = ServerSecret::load_or_create(&store, &rotated, true)
            .await
            .unwrap();
        assert_eq!(resealed.expose_bytes(), first.expose_bytes());
        let stored = store.get_setting("server-secret").await.unwrap().unwrap();
        assert!(
            rotated.is_current(&stored),
            "sealed anew under the current key"
        );

        store
            .put_setting("server-secret", &[7u8; 32])
            .await
            .unwrap();
        let planted = ServerSecret::load_or_create(&store, &rotated, false).await;
        assert!(
            matches!(planted, Err(Error::InvalidKey(_))),
            "a planted clear secret"
        );
    });
}

/// A withdrawn key's tokens stop verifying at once on the node that withdrew it, verified
/// before (cached) or not, and on another node at its next key sync; the keyset signs on
/// with the next key, and the withdrawal is audited.
#[test]
fn a_withdrawn_key_stops_its_tokens_at_once() {
    let clock = ManualClock::new(Timestamp::from_secs(1_700_000_000));
    let store = MemoryStore::new();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = std::sync::Arc::clone(&seen);
    let mut watched = settings();
    watched.audit_hook = Some(crate::AuditHook::new(move |e| {
        sink.lock().unwrap().push(e.kind.clone());
    }));
    block(async {
        let m = SessionManager::start(store.clone(), clock.clone(), watched)
            .await
            .unwrap();
        let other = SessionManager::start(store.clone(), clock.clone(), settings())
            .await
            .unwrap();
        let issued = m.create(NewSession::for_user("alice")).await.unwrap();
        let token = issued.access_token.expose();
        assert!(m.verify(token).is_ok());
        assert!(other.verify(token).is_ok());
        let active = m
            .key_entries()
            .into_iter()
            .find(|e| e.state == crate::jwt::KeyState::Active)
            .unwrap()
            .kid;
        assert!(m.withdraw_key(&active).await.unwrap());
        let unknown =
            |r: Result<_, Error>| matches!(r, Err(Error::InvalidToken(TokenRejection::UnknownKey)));
        assert!(unknown(m.verify(token)), "cached before, refused now");
        assert!(other.verify(token).is_ok(), "until its next key sync");
        other.sync_keys().await.unwrap();
        assert!(unknown(other.verify(token)));
        let fresh = m.create(NewSession::for_user("bob")).await.unwrap();
        assert!(other.verify(fresh.access_token.expose()).is_ok());
        assert!(!m.withdraw_key("no-such-kid").await.unwrap());
    });
    let withdrawn: Vec<_> = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|k| matches!(k, AuditKind::KeyWithdrawn { .. }))
        .cloned()
        .collect();
    assert_eq!(withdrawn.len(), 1, "{withdrawn:?}");
}
