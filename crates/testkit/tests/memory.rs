//! The conformance suite on the in-memory store.

#![allow(clippy::unwrap_used, reason = "integration tests")]

async fn store() -> tessera::MemoryStore {
    tessera::MemoryStore::new()
}

tessera_testkit::conformance_tests!(store);

/// Verification is signature plus the in-memory revocation view: it never calls the store.
#[test]
fn verification_never_calls_the_store() {
    tessera_testkit::run(async {
        let counting = tessera_testkit::CountingStore::new(tessera::MemoryStore::new());
        let f = tessera_testkit::Fixture::new(counting.clone()).await;
        let issued = f.login("alice").await;
        let before = counting.calls();
        for _ in 0..10 {
            f.manager.verify(issued.access_token.expose()).unwrap();
        }
        assert!(f.manager.verify("garbage").is_err());
        assert_eq!(counting.calls(), before);
    });
}
