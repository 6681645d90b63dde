//! The conformance suite on the in-memory store.

async fn store() -> tessera::MemoryStore {
    tessera::MemoryStore::new()
}

tessera_testkit::conformance_tests!(store);
