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

/// An account as Tessera kept it before account ids: a hash under its login name. The
/// connection that wrote it, for the test to look again.
async fn kept_by_name(
    tag: &str,
    name: &str,
    hash: &tessera::PasswordHash,
) -> redis::aio::MultiplexedConnection {
    use redis::AsyncCommands;
    let mut conn = redis::Client::open(url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = conn
        .hset_multiple(
            format!("{tag}:user:{name}"),
            &[("password", hash.as_str()), ("created", "1")],
        )
        .await
        .unwrap();
    conn
}

/// An account stored under its name before account ids existed is moved to a fresh `usr_` id
/// the first time its owner signs in, password kept; its name stays taken meanwhile.
#[test]
fn accounts_kept_by_name_move_to_random_ids() {
    tessera_testkit::run(async {
        use redis::AsyncCommands;
        use tessera::store::AccountStore;
        use tessera::store::User;
        use tessera::{AccountId, LoginName, PasswordHash, Timestamp};

        let tag = format!("{{m-{}}}", tessera::random_id().unwrap());
        let store = RedisStore::connect(&url(), &tag).await.unwrap();
        let hash = PasswordHash::new("alice's password").unwrap();
        let mut conn = kept_by_name(&tag, "alice", &hash).await;
        let alice = LoginName::parse("Alice").unwrap();
        let squatter = User {
            id: AccountId::generate().unwrap(),
            login: alice.clone(),
            password: hash.clone(),
            created_at: Timestamp::from_secs(2),
        };
        assert!(
            !store.create_user(&squatter).await.unwrap(),
            "the old name is taken"
        );
        let moved = store.find_user(&alice).await.unwrap().unwrap();
        assert!(AccountId::is_reserved(moved.id.as_str()));
        assert!(moved.password.verify("alice's password"));
        assert_eq!(
            store.find_user(&alice).await.unwrap().unwrap(),
            moved,
            "moved once"
        );
        assert_eq!(store.get_user(&moved.id).await.unwrap().unwrap(), moved);
        let old: bool = conn.exists(format!("{tag}:user:alice")).await.unwrap();
        assert!(!old);
    });
}

/// Accounts made before the login-name index existed (today's layout, and the older one kept
/// by name) are all listed: the first listing builds the index in bounded steps.
#[test]
fn accounts_from_before_the_login_index_are_listed() {
    tessera_testkit::run(async {
        use redis::AsyncCommands;
        use tessera::store::{AccountStore, User};
        use tessera::{AccountId, LoginName, PasswordHash, Timestamp};

        let tag = format!("{{i-{}}}", tessera::random_id().unwrap());
        let store = RedisStore::connect(&url(), &tag).await.unwrap();
        let hash = PasswordHash::new("a password for all").unwrap();
        for name in ["carol", "alice"] {
            let user = User {
                id: AccountId::generate().unwrap(),
                login: LoginName::parse(name).unwrap(),
                password: hash.clone(),
                created_at: Timestamp::from_secs(1),
            };
            assert!(store.create_user(&user).await.unwrap());
        }
        // As an older Tessera left it: one account still kept by its name, and no index.
        let mut conn = kept_by_name(&tag, "bob", &hash).await;
        let _: () = conn
            .del(&[format!("{tag}:logins"), format!("{tag}:logins:indexed")])
            .await
            .unwrap();
        let listed = store.list_users(None, 10).await.unwrap();
        let names: Vec<&str> = listed.iter().map(|u| u.login.as_str()).collect();
        assert_eq!(names, ["alice", "bob", "carol"]);
        assert!(
            AccountId::is_reserved(listed[1].id.as_str()),
            "bob moved to an id"
        );
        let indexed: bool = conn.exists(format!("{tag}:logins:indexed")).await.unwrap();
        assert!(indexed);
    });
}

/// A Redis that comes back from an older state (a failover that lost the newest writes, a
/// restore) numbers new revocations again from where it went back to. A node that had read
/// past that point must still see them: it notices the entry it stopped at is gone and reads
/// the feed again, instead of waiting for numbers it has already passed.
#[test]
fn a_feed_that_went_back_is_read_again() {
    tessera_testkit::run(async {
        use redis::AsyncCommands;
        use std::time::Duration;
        use tessera::{
            ManualClock, NewSession, RevokeReason, ServerSecret, SessionManager, Settings,
            Timestamp, Validation,
        };

        let tag = format!("{{fb-{}}}", tessera::random_id().unwrap());
        let secret = ServerSecret::generate().unwrap();
        let clock = ManualClock::new(Timestamp::from_secs(1_700_000_000));
        let node = || async {
            let mut settings = Settings::new(Validation::new("https://i", "a"), secret.clone());
            settings.max_feed_staleness = Some(Duration::from_secs(5));
            let store = RedisStore::connect(&url(), &tag).await.unwrap();
            SessionManager::start(store, clock.clone(), settings)
                .await
                .unwrap()
        };
        let (a, b) = (node().await, node().await);
        let first = a.create(NewSession::for_user("u1")).await.unwrap();
        a.revoke(&first.session.sid, RevokeReason::Logout)
            .await
            .unwrap();
        b.sync_revocations().await.unwrap();
        assert!(
            b.verify(first.access_token.expose()).is_err(),
            "b saw entry 1"
        );

        // Redis loses that write: the entry and the sequence go back one.
        let mut conn = redis::Client::open(url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let feed = format!("{tag}:feed");
        let _: () = conn.zremrangebyrank(&feed, 0, -1).await.unwrap();
        let _: i64 = conn.decr(format!("{tag}:feed:seq"), 1).await.unwrap();

        // A new revocation takes number 1 again; b, at cursor 1, must not miss it.
        let second = a.create(NewSession::for_user("u2")).await.unwrap();
        assert!(b.verify(second.access_token.expose()).is_ok());
        a.revoke(&second.session.sid, RevokeReason::Logout)
            .await
            .unwrap();
        let entries: Vec<String> = conn.zrange(&feed, 0, -1).await.unwrap();
        assert!(entries[0].starts_with("1|"), "renumbered: {entries:?}");
        b.sync_revocations().await.unwrap();
        assert!(
            b.verify(second.access_token.expose()).is_err(),
            "the revocation under a reused number reached b"
        );
    });
}
