//! A Redis that runs out of memory, on servers of the tests' own (ports 17260-17269;
//! `redis-server` from `scripts/redis`'s install).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "integration tests"
)]

use tessera::store::{Revocation, SessionStore};
use tessera::{RevokeReason, SessionId, StoreErrorKind, Timestamp};
use tessera_redis::RedisStore;
use tessera_testkit::START;
use tessera_testkit::durability::session;
use tessera_testkit::processes::{OwnRedis, cli};

/// A `redis-server` of this test's own, with `args`.
fn own_redis(port: u16, args: &[&str]) -> OwnRedis {
    let dir = std::env::temp_dir().join(format!("tessera-memory-{}", std::process::id()));
    OwnRedis::start(port, &dir, args)
}

/// A Redis set to evict keys when full would drop revocations, rate limits and sessions
/// without a word: the store refuses it, naming the setting, whichever policy it has (the
/// `volatile-lru` of many hosted Redis services included).
#[test]
fn a_redis_that_evicts_keys_when_full_is_refused() {
    tessera_testkit::run(async {
        let redis = own_redis(17260, &[]);
        RedisStore::connect(&redis.url(), "{evicting}")
            .await
            .expect("noeviction, Redis's default, is accepted");
        // A user that may not read INFO: the check cannot be made, and the error says why.
        cli(
            redis.port,
            &[
                "acl", "setuser", "no-info", "on", ">pw", "~*", "&*", "+@all", "-info",
            ],
        );
        let url = format!("redis://no-info:pw@127.0.0.1:{}/", redis.port);
        let refused = RedisStore::connect(&url, "{evicting}").await.err();
        let message = refused.map(|e| e.to_string()).unwrap_or_default();
        assert!(
            message.contains("+info"),
            "refused, naming +info: {message}"
        );
        for policy in [
            "volatile-lru",
            "allkeys-lru",
            "allkeys-random",
            "volatile-ttl",
        ] {
            cli(redis.port, &["config", "set", "maxmemory-policy", policy]);
            let refused = RedisStore::connect(&redis.url(), "{evicting}")
                .await
                .err()
                .unwrap_or_else(|| panic!("a Redis evicting with {policy} is refused"));
            let message = refused.to_string();
            assert!(
                message.contains(policy) && message.contains("maxmemory-policy noeviction"),
                "{message}"
            );
        }
    });
}

/// A full Redis (`noeviction`) refuses writes: the store answers them as unavailable (503,
/// retry later), still answers reads, still revokes and purges (which must not wait for
/// room), loses nothing it acknowledged, and writes again once there is room.
#[test]
fn a_full_redis_refuses_writes_as_unavailable_and_still_answers_reads() {
    tessera_testkit::run(async {
        let redis = own_redis(17261, &[]);
        let used: u64 = cli(redis.port, &["info", "memory"])
            .lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let room = (used + 512 * 1024).to_string();
        cli(redis.port, &["config", "set", "maxmemory", &room]);
        let store = RedisStore::connect(&redis.url(), "{full}").await.unwrap();
        let mut created: Vec<SessionId> = Vec::new();
        let refused = loop {
            let s = session(created.len());
            match store.create(&s, None, None).await {
                Ok(_) => created.push(s.sid),
                Err(e) => break e,
            }
            assert!(created.len() < 100_000, "Redis never filled up");
        };
        assert_eq!(refused.kind(), StoreErrorKind::Unavailable, "{refused}");
        assert!(created.len() > 10, "some sessions fitted first");
        for sid in &created {
            let found = store.get(sid).await.expect("reads are answered when full");
            assert!(found.is_some(), "session {sid} acknowledged, then lost");
        }
        // A step is refused whole: the sign-in that failed left nothing behind.
        let mut listed = 0;
        for user in (0..7).map(|i| session(i).user_id) {
            listed += store.list_user(&user, START).await.unwrap().len();
        }
        assert_eq!(listed, created.len(), "sessions found against acknowledged");
        store
            .purge_expired(START, 100)
            .await
            .expect("purge runs when full");
        let revocation = Revocation {
            reason: RevokeReason::Logout,
            at: START,
            until: Timestamp::from_secs(1_900_000_000),
        };
        let revoked = store.revoke(&created[0], revocation).await;
        assert!(
            revoked.expect("a revocation is made when full").is_some(),
            "revoked"
        );
        cli(redis.port, &["config", "set", "maxmemory", "0"]);
        store
            .create(&session(created.len()), None, None)
            .await
            .expect("writes go on once there is room");
    });
}
