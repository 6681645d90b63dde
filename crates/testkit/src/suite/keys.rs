//! The signing keyset kept in the store: one keyset for all nodes, rotated on the clock.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test suite"
)]

use std::time::Duration;

use tessera::store::{KeyStore, Revoked};
use tessera::{ApiKey, ApiScope, KeyEncryptionKey, Sealer, Store};

use crate::Fixture;

/// Nodes on one store agree on one keyset, also when they start together or one rotates.
pub async fn nodes_share_one_keyset<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let (b, c) = tokio::join!(f.another_node(), f.another_node());
    assert_eq!(b.jwks(), f.manager.jwks());
    assert_eq!(c.jwks(), f.manager.jwks());
    let before = f.login("alice").await;
    f.manager.rotate_keys_now().await.unwrap();
    assert_ne!(f.manager.jwks(), b.jwks(), "B has not synced yet");
    b.sync_keys().await.unwrap();
    assert_eq!(b.jwks(), f.manager.jwks());
    let after = f.login("alice").await;
    assert!(
        b.verify(after.access_token.expose()).is_ok(),
        "B verifies the new key's tokens"
    );
    assert!(
        b.verify(before.access_token.expose()).is_ok(),
        "and the retired key's"
    );
    let stored = f.store.load_keyset().await.unwrap().unwrap();
    assert!(
        !f.store
            .save_keyset(Some(stored.version + 1), b"[]")
            .await
            .unwrap(),
        "stale version refused"
    );
    assert!(
        !f.store.save_keyset(None, b"[]").await.unwrap(),
        "no second first save"
    );
    assert_eq!(f.store.load_keyset().await.unwrap().unwrap(), stored);
}

/// Keys rotate when the clock says so, and retired keys verify until their tokens expire.
pub async fn rotation_follows_the_clock<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let rotation = f.manager.settings().rotation.clone();
    assert!(!f.manager.sync_keys().await.unwrap(), "nothing due yet");
    let old = f.login("alice").await;
    let old_kid = f.manager.jwks().keys.len();
    assert_eq!(old_kid, 2, "active and next are published");
    f.clock.advance(rotation.rotate_every);
    assert!(f.manager.sync_keys().await.unwrap());
    assert_eq!(f.manager.jwks().keys.len(), 3, "next, active, retired");
    let new = f.login("bob").await;
    assert!(f.manager.verify(new.access_token.expose()).is_ok());
    f.clock
        .advance(rotation.retire_after + Duration::from_secs(1));
    assert!(f.manager.sync_keys().await.unwrap(), "retired key dropped");
    assert_eq!(f.manager.jwks().keys.len(), 2);
    assert!(
        f.manager.verify(old.access_token.expose()).is_err(),
        "its tokens are long expired"
    );
}

/// Settings: `init_setting` keeps the first value (racing nodes agree), `put_setting` replaces.
pub async fn settings_initialise_once_and_overwrite<S: Store + Clone + 'static>(store: S) {
    assert_eq!(store.get_setting("server-secret").await.unwrap(), None);
    let (a, b) = tokio::join!(
        store.init_setting("server-secret", b"first"),
        store.init_setting("server-secret", b"second")
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a, b, "racing initialisers agree");
    assert_eq!(
        store.get_setting("server-secret").await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store.init_setting("server-secret", b"third").await.unwrap(),
        a,
        "never replaced by init"
    );
    store.put_setting("admin-key", b"h1").await.unwrap();
    store.put_setting("admin-key", b"h2").await.unwrap();
    assert_eq!(
        store.get_setting("admin-key").await.unwrap(),
        Some(b"h2".to_vec())
    );
    assert_eq!(
        store.get_setting("server-secret").await.unwrap(),
        Some(a),
        "names are independent"
    );
    let big = vec![7u8; 70_000];
    store.put_setting("blob", &big).await.unwrap();
    assert_eq!(store.get_setting("blob").await.unwrap(), Some(big));
}

/// The stored keyset holds no private key in clear: each is sealed under the key-encryption
/// key, which a node must have to start. A node given a new KEK and the old one opens both,
/// and re-sealing moves every key to the new one.
pub async fn private_keys_are_sealed_at_rest<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let document = f.store.load_keyset().await.unwrap().unwrap().document;
    let text = String::from_utf8(document.clone()).unwrap();
    assert!(
        text.contains("\"sealed\"") && !text.contains("\"material\""),
        "{text}"
    );
    let stranger = f
        .node_with(|s| s.sealer = Some(Sealer::ephemeral().unwrap()))
        .await;
    assert!(stranger.is_err(), "a node without the KEK opens nothing");
    let old = f.another_node().await;
    let issued = f.login("alice").await;
    let new_kek = KeyEncryptionKey::generate().unwrap();
    let new_kek_copy = new_kek.clone();
    let moved = f
        .node_with(|s| {
            let old_kek = s.sealer.as_ref().unwrap().current().clone();
            s.sealer = Some(Sealer::new(new_kek.clone(), vec![old_kek]));
        })
        .await
        .unwrap();
    assert!(
        moved.verify(issued.access_token.expose()).is_ok(),
        "same keys"
    );
    let unchanged = f.store.load_keyset().await.unwrap().unwrap().document;
    assert_eq!(
        unchanged, document,
        "nodes still on the old KEK keep working until told"
    );
    moved.reseal_keys().await.unwrap();
    let resealed = f.store.load_keyset().await.unwrap().unwrap().document;
    assert_ne!(resealed, document, "re-sealed under the new KEK");
    assert!(
        f.node_with(|_| {}).await.is_err(),
        "the old KEK alone opens nothing any more"
    );
    let only_new = f
        .node_with(|s| s.sealer = Some(Sealer::new(new_kek, Vec::new())))
        .await
        .unwrap();
    assert_eq!(only_new.jwks(), old.jwks());

    // Someone with write access plants a keyset in clear (their own key): refused.
    let elsewhere = tessera::MemoryStore::new();
    let clear_node = tessera::SessionManager::start(
        elsewhere.clone(),
        f.clock.clone(),
        tessera::Settings::new(
            tessera::Validation::new("https://x", "api"),
            tessera::ServerSecret::generate().unwrap(),
        ),
    )
    .await
    .unwrap();
    drop(clear_node);
    let planted = elsewhere.load_keyset().await.unwrap().unwrap().document;
    assert!(String::from_utf8_lossy(&planted).contains("\"material\""));
    let version = f.store.load_keyset().await.unwrap().unwrap().version;
    assert!(f.store.save_keyset(Some(version), &planted).await.unwrap());
    let err = f
        .node_with(|s| s.sealer = Some(Sealer::new(new_kek_copy.clone(), Vec::new())))
        .await;
    assert!(
        matches!(err, Err(tessera::Error::InvalidKey(why)) if why.contains("planted")),
        "a key in clear where keys are sealed is refused"
    );
}

/// Named keys: unique names, hashes only, use recorded forward only, and a revocation that
/// reaches every node through the feed.
pub async fn api_keys_are_named_and_revoked_everywhere<S: Store + Clone + 'static>(store: S) {
    let f = Fixture::new(store).await;
    let other = f.another_node().await;
    let (key, record) = f
        .manager
        .create_api_key("orders-service", ApiScope::Verify)
        .await
        .unwrap()
        .unwrap();
    assert!(record.hash.ct_eq(&key.hash()));
    assert!(
        f.manager
            .create_api_key("orders-service", ApiScope::Admin)
            .await
            .unwrap()
            .is_none(),
        "names are unique"
    );
    for bad in ["", "has space", "naïve", "admin", &"x".repeat(65)] {
        assert!(
            f.manager
                .create_api_key(bad, ApiScope::Verify)
                .await
                .is_err(),
            "{bad:?}"
        );
    }
    f.manager
        .create_api_key("grafana", ApiScope::Metrics)
        .await
        .unwrap()
        .unwrap();
    let listed = f.manager.api_keys().await.unwrap();
    let names: Vec<_> = listed.iter().map(|k| (k.name.as_str(), k.scope)).collect();
    assert_eq!(
        names,
        [
            ("grafana", ApiScope::Metrics),
            ("orders-service", ApiScope::Verify)
        ]
    );
    assert!(listed.iter().all(|k| k.last_used_at.is_none()));

    let later = f.clock_now().plus(Duration::from_secs(60));
    f.manager
        .record_api_key_use("orders-service", &key.hash(), later)
        .await
        .unwrap();
    f.manager
        .record_api_key_use("orders-service", &key.hash(), f.clock_now())
        .await
        .unwrap();
    let stranger = ApiKey::generate().unwrap().hash();
    f.manager
        .record_api_key_use("grafana", &stranger, later)
        .await
        .unwrap();
    let listed = f.manager.api_keys().await.unwrap();
    assert_eq!(listed[1].last_used_at, Some(later), "only moves forward");
    assert_eq!(
        listed[0].last_used_at, None,
        "another key's hash changes nothing"
    );

    let cursor = other.revoked_view().cursor();
    assert!(f.manager.revoke_api_key("orders-service").await.unwrap());
    assert!(!f.manager.revoke_api_key("orders-service").await.unwrap());
    assert!(f.manager.is_api_key_revoked(&key.hash()), "at once here");
    assert!(
        !other.is_api_key_revoked(&key.hash()),
        "B has not synced yet"
    );
    other.sync_revocations().await.unwrap();
    assert!(
        other.is_api_key_revoked(&key.hash()),
        "and on B after the feed"
    );
    let mut fed = Vec::new();
    for feed in 0..f.store.feeds() {
        fed.extend(f.store.revocations_after(feed, 0, 1000).await.unwrap());
    }
    assert_eq!(
        fed.iter()
            .filter(|e| e.revoked == Revoked::ApiKey(key.hash()))
            .count(),
        1,
        "the revocation is fed once: {fed:?}"
    );
    assert!(other.revoked_view().cursor() > cursor);
    let names: Vec<_> = f
        .manager
        .api_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(names, ["grafana"]);
    let (again, _) = f
        .manager
        .create_api_key("orders-service", ApiScope::Verify)
        .await
        .unwrap()
        .expect("a revoked name can be used again");
    assert!(
        !f.manager.is_api_key_revoked(&again.hash()),
        "the new key works"
    );
}
