//! The Redis store: the whole conformance suite against a real Redis started by `scripts/redis`
//! (which `scripts/test` runs). Each test uses its own hash tag, so tests never share keys.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "integration tests"
)]

use tessera_redis::RedisStore;

fn url() -> String {
    std::env::var("TESSERA_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:16379/".into())
}

async fn store() -> RedisStore {
    let tag = format!("{{t-{}}}", tessera::random_id().unwrap());
    RedisStore::connect(&url(), &tag).await.unwrap_or_else(|e| {
        panic!(
            "no Redis at {}: run `scripts/redis start` (scripts/test does): {e}",
            url()
        )
    })
}

tessera_testkit::conformance_tests!(store);

/// The same suite on a three-master Redis Cluster (`scripts/redis start-cluster`).
mod cluster {
    use tessera_redis::RedisStore;

    fn nodes() -> Vec<String> {
        ["17000", "17001", "17002"]
            .iter()
            .map(|p| format!("redis://127.0.0.1:{p}/"))
            .collect()
    }

    async fn store() -> RedisStore {
        let tag = format!("{{c-{}}}", tessera::random_id().unwrap());
        RedisStore::connect_cluster(&nodes(), &tag)
            .await
            .unwrap_or_else(|e| panic!("no Redis Cluster on 17000-17002: run `scripts/redis start-cluster` (scripts/test does): {e}"))
    }

    tessera_testkit::conformance_tests!(store);
}
