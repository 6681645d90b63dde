//! The signing keyset kept in the store: one keyset for all nodes, rotated on the clock.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test suite"
)]

use std::time::Duration;

use tessera::Store;

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
