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
