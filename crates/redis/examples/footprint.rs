//! Measures Redis memory per live session: creates N sessions (empty application data; by
//! default one per user, the worst case for the per-user index) and divides the growth of
//! `used_memory`.
//!
//! Usage: `cargo run --release -p tessera-redis --example footprint -- [redis-url] [N] [per-user]`
//! Give it an empty database (`scripts/redis start`, then e.g. redis://127.0.0.1:16379/9).

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a measuring tool")]

use std::sync::Arc;

use tessera::store::SessionStore;
use tessera::{Session, SessionId, Timestamp, TokenHash};
use tessera_redis::RedisStore;

async fn used_memory(url: &str) -> i64 {
    let mut conn = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(&mut conn)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn session(i: usize, per_user: usize, now: Timestamp) -> Session {
    let end = Timestamp::from_secs(now.as_secs() + 30 * 86_400);
    Session::started(
        SessionId::generate().unwrap(),
        format!("user-{}", i / per_user),
        now,
        Timestamp::from_secs(now.as_secs() + 7 * 86_400),
        end,
        TokenHash::of(&i.to_be_bytes()),
    )
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "redis://127.0.0.1:16379/".into());
    let n: usize = args.get(2).map_or(100_000, |s| s.parse().unwrap());
    let per_user: usize = args.get(3).map_or(1, |s| s.parse().unwrap());
    let tag = "{tessera}"; // the default: key names count too
    let store = Arc::new(RedisStore::connect(&url, tag).await.unwrap());
    let now = Timestamp::from_secs(1_700_000_000);
    let before = used_memory(&url).await;
    let mut tasks = Vec::new();
    for worker in 0..32 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            for i in (worker..n).step_by(32) {
                store
                    .create(&session(i, per_user, now), None, None)
                    .await
                    .unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let after = used_memory(&url).await;
    println!(
        "{n} sessions: {} bytes of Redis memory per live session",
        (after - before) / i64::try_from(n).unwrap()
    );
}
