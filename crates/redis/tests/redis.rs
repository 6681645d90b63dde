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

/// `urls` (`redis://host:port/…`) as a Redis user of its own, made on each of them, that
/// may serve the deployment under `tag` and do nothing else ([`RedisStore::acl_rules`]): the
/// conformance suite runs as the least-privileged user the docs tell operators to make.
async fn as_own_user(urls: &[String], tag: &str) -> Vec<String> {
    let name = tag.trim_matches(|c| c == '{' || c == '}');
    for url in urls {
        let client = redis::Client::open(url.as_str()).unwrap();
        let Ok(mut admin) = client.get_multiplexed_async_connection().await else {
            continue; // the store's connect says what to run
        };
        let mut setuser = redis::cmd("ACL");
        setuser
            .arg("SETUSER")
            .arg(name)
            .arg("reset")
            .arg("on")
            .arg(">pw");
        for rule in RedisStore::acl_rules(tag).split_whitespace() {
            setuser.arg(rule);
        }
        setuser.exec_async(&mut admin).await.unwrap();
    }
    urls.iter()
        .map(|u| u.replacen("redis://", &format!("redis://{name}:pw@"), 1))
        .collect()
}

async fn store() -> RedisStore {
    let tag = format!("{{t-{}}}", tessera::random_id().unwrap());
    let url = as_own_user(&[url()], &tag).await.remove(0);
    RedisStore::connect(&url, &tag).await.unwrap_or_else(|e| {
        panic!(
            "no Redis at {}: run `scripts/redis start` (scripts/test does): {e}",
            self::url()
        )
    })
}

tessera_testkit::conformance_tests!(store);

/// A deployment of its own on the Cluster of `nodes` (`scripts/redis start-cluster` starts them).
async fn cluster_store(nodes: &[String], name: &str) -> RedisStore {
    let tag = format!("{{{name}-{}}}", tessera::random_id().unwrap());
    let own = as_own_user(nodes, &tag).await;
    RedisStore::connect_cluster(&own, &tag).await.unwrap_or_else(|e| {
        panic!("no Redis Cluster at {nodes:?}: run `scripts/redis start-cluster` (scripts/test does): {e}")
    })
}

/// The same suite on a three-master Redis Cluster (`scripts/redis start-cluster`).
mod cluster {
    use tessera_redis::RedisStore;

    pub(super) fn nodes() -> Vec<String> {
        (17000..17003)
            .map(|p| format!("redis://127.0.0.1:{p}/"))
            .collect()
    }

    async fn store() -> RedisStore {
        super::cluster_store(&nodes(), "c").await
    }

    tessera_testkit::conformance_tests!(store);
}

/// The same suite on a six-master Redis Cluster (`scripts/redis start-cluster`).
mod cluster6 {
    use tessera_redis::RedisStore;

    pub(super) fn nodes() -> Vec<String> {
        (17100..17106)
            .map(|p| format!("redis://127.0.0.1:{p}/"))
            .collect()
    }

    async fn store() -> RedisStore {
        super::cluster_store(&nodes(), "c6").await
    }

    tessera_testkit::conformance_tests!(store);
}

/// Every key of one server matching `pattern`.
async fn scan(conn: &mut redis::aio::MultiplexedConnection, pattern: &str) -> Vec<String> {
    let (mut cursor, mut keys) = (0u64, Vec::new());
    loop {
        let (next, page): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(pattern)
            .arg("COUNT")
            .arg(1000)
            .query_async(conn)
            .await
            .unwrap();
        keys.extend(page);
        if next == 0 {
            return keys;
        }
        cursor = next;
    }
}

/// Fills a deployment on the Cluster of `nodes` (every node a master) with 100 000 sessions of
/// 10 000 users, and checks each master holds its share of the deployment's keys and memory,
/// within 15 %. Counts only this deployment's keys: other tests share the Cluster.
async fn spreads_evenly(nodes: &[String]) {
    use redis::AsyncCommands;
    use std::sync::Arc;
    use tessera::store::SessionStore;
    use tessera::{Session, SessionId, Timestamp, TokenHash};

    let name = format!("spread-{}", tessera::random_id().unwrap());
    let store = Arc::new(
        RedisStore::connect_cluster(nodes, &format!("{{{name}}}"))
            .await
            .unwrap(),
    );
    let now = Timestamp::from_secs(1_700_000_000);
    let (users, per_user) = (10_000, 10);
    let tasks: Vec<_> = (0..32)
        .map(|worker| {
            let store = Arc::clone(&store);
            tokio::spawn(async move {
                for i in (worker..users * per_user).step_by(32) {
                    let i: u64 = i;
                    let user = format!("user-{}", i / per_user);
                    let session = Session::started(
                        SessionId::for_user(&user).unwrap(),
                        user,
                        now,
                        Timestamp::from_secs(now.as_secs() + 86_400),
                        Timestamp::from_secs(now.as_secs() + 30 * 86_400),
                        TokenHash::of(&i.to_be_bytes()),
                    );
                    store.create(&session, None, None).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let (mut keys, mut bytes, mut sessions) = (Vec::new(), Vec::new(), 0);
    for node in nodes {
        let mut conn = redis::Client::open(node.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let mine = scan(&mut conn, &format!("{{{name}:*")).await;
        let mut pipe = redis::pipe();
        for key in &mine {
            pipe.cmd("MEMORY")
                .arg("USAGE")
                .arg(key)
                .arg("SAMPLES")
                .arg(0);
        }
        let usage: Vec<u64> = pipe.query_async(&mut conn).await.unwrap();
        // Sessions are fields of a shard's record hashes (`…}:r:0` to `…}:r:15`).
        for key in mine.iter().filter(|k| k.contains("}:r:")) {
            sessions += conn.hlen::<_, u64>(key).await.unwrap();
        }
        keys.push(mine.len() as f64);
        bytes.push(usage.iter().sum::<u64>() as f64);
    }
    println!("keys per master {keys:?}, bytes per master {bytes:?}");
    for (what, per_master) in [("keys", &keys), ("bytes", &bytes)] {
        let mean = per_master.iter().sum::<f64>() / per_master.len() as f64;
        for (node, n) in nodes.iter().zip(per_master.iter()) {
            assert!(
                (n / mean - 1.0).abs() <= 0.15,
                "{node} holds {n} {what}, the masters' mean is {mean:.0}: {per_master:?}"
            );
        }
    }
    assert_eq!(sessions, users * per_user, "sessions stored");
}

#[test]
fn spreads_evenly_over_three_masters() {
    tessera_testkit::run(spreads_evenly(&cluster::nodes()));
}

#[test]
fn spreads_evenly_over_six_masters() {
    tessera_testkit::run(spreads_evenly(&cluster6::nodes()));
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
        // Two users of one shard, so of one feed.
        let second_user = (2..)
            .map(|i| format!("u{i}"))
            .find(|u| tessera::SessionId::shard_of(u) == tessera::SessionId::shard_of("u1"))
            .unwrap();
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
        let feed = RedisStore::connect(&url(), &tag)
            .await
            .unwrap()
            .feed_key("u1");
        let _: () = conn.zremrangebyrank(&feed, 0, -1).await.unwrap();
        let _: i64 = conn.decr(format!("{feed}:seq"), 1).await.unwrap();

        // A new revocation takes number 1 again; b, at cursor 1, must not miss it.
        let second = a.create(NewSession::for_user(&second_user)).await.unwrap();
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

/// A session as Tessera stored it before session records: a hash of its own, its device as
/// JSON, holding the user agent unless `agent` names the digest it is remembered under.
fn as_hash(s: &tessera::Session, agent: Option<&str>) -> Vec<(String, String)> {
    fn json(v: &impl serde::Serialize) -> String {
        serde_json::to_string(v).unwrap()
    }
    let mut device = serde_json::json!({"ip": s.device.ip, "label": s.device.label});
    if agent.is_none() {
        device["user_agent"] = s.device.user_agent.clone().into();
    }
    let mut fields = vec![
        ("u", s.user_id.clone()),
        ("c", s.created_at.as_millis().to_string()),
        ("ls", s.last_seen_at.as_millis().to_string()),
        ("i", s.idle_expires_at.as_millis().to_string()),
        ("a", s.absolute_expires_at.as_millis().to_string()),
        ("g", s.refresh.generation.to_string()),
        ("rc", s.refresh.current.to_base64()),
        (
            "rp",
            s.refresh
                .previous
                .map(|p| p.to_base64())
                .unwrap_or_default(),
        ),
        ("rt", s.refresh.rotated_at.as_millis().to_string()),
        ("cl", json(&s.claims)),
        ("d", json(&s.data)),
        ("dv", device.to_string()),
        ("v", s.version.to_string()),
        ("rn", s.refreshes.to_string()),
    ];
    if let Some(cookie) = &s.cookie {
        fields.push(("ck", json(cookie)));
    }
    if let Some(from) = &s.refreshed_from {
        fields.push(("rf", from.clone()));
    }
    if let (Some(at), Some(why)) = (s.revoked_at, s.revoke_reason) {
        fields.push(("ra", at.as_millis().to_string()));
        fields.push(("rr", json(&why).trim_matches('"').to_owned()));
    }
    if let Some(digest) = agent {
        fields.push(("ua", digest.to_owned()));
    }
    fields.into_iter().map(|(n, v)| (n.to_owned(), v)).collect()
}

/// Rewrites the deployment under `tag` into the layout of Tessera before shards: every key
/// under the one tag, audit events renumbered in one sequence. Single server only (keys move
/// between slots).
async fn legacify(conn: &mut redis::aio::MultiplexedConnection, tag: &str) {
    use redis::AsyncCommands;
    use tessera::store::SessionStore;
    let store = RedisStore::connect(&url(), tag).await.unwrap();
    let name = tag.trim_matches(['{', '}']);
    let old = |rest: &str| format!("{tag}:{rest}");
    let keys = scan(conn, &format!("{{{name}:*")).await;
    for key in &keys {
        let (_, rest) = key.split_once("}:").unwrap();
        if rest.starts_with("r:") {
            // A shard's session records: each session becomes a hash of its own again.
            let records: Vec<(Vec<u8>, Vec<u8>)> = conn.hgetall(key).await.unwrap();
            for (id, _) in records {
                let sid = tessera::SessionId::from_bytes(id.try_into().unwrap());
                let s = store.get(&sid).await.unwrap().unwrap();
                let fields = as_hash(&s, None);
                let h = old(&format!("s:{sid}"));
                let _: () = conn.hset_multiple(&h, &fields).await.unwrap();
                let lives = s.absolute_expires_at.as_millis() - s.last_seen_at.as_millis();
                let _: () = conn.pexpire(&h, lives + 3_600_000).await.unwrap();
                let _: () = conn
                    .zadd(
                        old(&format!("u:{}", s.user_id)),
                        sid.to_string(),
                        s.created_at.as_millis(),
                    )
                    .await
                    .unwrap();
                let ends = s.idle_expires_at.min(s.absolute_expires_at).as_millis();
                let _: () = conn
                    .zadd(old("purge"), format!("{sid}|{}", s.user_id), ends)
                    .await
                    .unwrap();
            }
        } else if rest == "a" {
            // The shard's audit stream: each user's events, read back through the store, as
            // the JSON events were stored as then.
            let entries: Vec<(String, Vec<String>)> = redis::cmd("XRANGE")
                .arg(key)
                .arg("-")
                .arg("+")
                .query_async(conn)
                .await
                .unwrap();
            let users: std::collections::BTreeSet<String> =
                entries.into_iter().map(|(_, f)| f[1].clone()).collect();
            for user in users {
                use tessera::store::AuditStore;
                let events = store.audit_for_user(&user, None, 1000).await.unwrap();
                for stored in events.iter().rev() {
                    let event = serde_json::to_value(&stored.event).unwrap();
                    let at = stored.event.at.as_millis();
                    let new: i64 = conn.incr(old("audit:seq"), 1).await.unwrap();
                    let _: () = conn
                        .hset(old("audit"), new, event.to_string())
                        .await
                        .unwrap();
                    let _: () = conn.zadd(old("audit:t"), new, at).await.unwrap();
                    let _: () = conn
                        .zadd(old(&format!("audit:u:{user}")), new, new)
                        .await
                        .unwrap();
                }
            }
        }
    }
    let _: () = conn.del(&keys).await.unwrap();
    let _: () = conn.del(old("set:layout")).await.unwrap();
}

/// A deployment an older Tessera wrote (every key under one tag) is refused with the command
/// to run; `migrate` moves it, resumably, and every session stays valid: refresh tokens,
/// sessions whose ids name another shard (as old random ids do), listing, revoke-all, audit.
#[test]
fn migrate_moves_a_legacy_deployment_and_keeps_sessions_valid() {
    tessera_testkit::run(async {
        use std::time::Duration;
        use tessera::store::{AuditStore, SessionStore};
        use tessera::{
            ManualClock, NewSession, RevokeReason, ServerSecret, Session, SessionId,
            SessionManager, Settings, Timestamp, TokenHash, Validation,
        };

        let tag = format!("{{mg-{}}}", tessera::random_id().unwrap());
        let secret = ServerSecret::generate().unwrap();
        let clock = ManualClock::new(Timestamp::from_secs(1_700_000_000));
        let node = |store: RedisStore| {
            let mut settings = Settings::new(Validation::new("https://i", "a"), secret.clone());
            settings.max_feed_staleness = Some(Duration::from_secs(5));
            SessionManager::start(store, clock.clone(), settings)
        };
        let before = node(RedisStore::connect(&url(), &tag).await.unwrap())
            .await
            .unwrap();
        let mut issued = Vec::new();
        for user in ["alice", "bob", "carol"] {
            for _ in 0..2 {
                issued.push(before.create(NewSession::for_user(user)).await.unwrap());
            }
        }
        let odd = (0..)
            .map(|_| SessionId::generate().unwrap())
            .find(|sid| sid.shard() != SessionId::shard_of("carol"))
            .unwrap();
        let now = tessera::Clock::now(&clock);
        before
            .store()
            .create(
                &Session::started(
                    odd,
                    "carol".into(),
                    now,
                    now.plus(Duration::from_secs(3600)),
                    now.plus(Duration::from_secs(86_400)),
                    TokenHash::of(b"odd"),
                ),
                None,
                None,
            )
            .await
            .unwrap();
        let trail = before
            .store()
            .audit_for_user("alice", None, 100)
            .await
            .unwrap();
        assert_eq!(trail.len(), 2, "two sign-ins");
        drop(before);

        let mut conn = redis::Client::open(url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        legacify(&mut conn, &tag).await;
        let refused = RedisStore::connect(&url(), &tag).await.unwrap_err();
        assert!(refused.to_string().contains("tessera migrate"), "{refused}");

        let old = RedisStore::connect_to_migrate(&url(), &tag).await.unwrap();
        let moved = old.migrate().await.unwrap();
        assert_eq!(moved.sessions, 7);
        assert_eq!(moved.audit_events, 6, "each sign-in's event");
        assert_eq!(
            old.migrate().await.unwrap(),
            tessera_redis::Migrated::default(),
            "run again, it moves nothing"
        );

        let after = node(RedisStore::connect(&url(), &tag).await.unwrap())
            .await
            .unwrap();
        for i in &issued {
            assert!(after.verify(i.access_token.expose()).is_ok());
            after.refresh(&i.refresh_token.expose()).await.unwrap();
        }
        assert_eq!(
            after.store().get(&odd).await.unwrap().unwrap().user_id,
            "carol"
        );
        assert_eq!(after.list("carol").await.unwrap().len(), 3);
        assert_eq!(
            after
                .store()
                .audit_for_user("alice", None, 100)
                .await
                .unwrap()
                .len(),
            2,
            "the trail moved with its user"
        );
        let ended = after
            .revoke_user("carol", None, RevokeReason::Admin)
            .await
            .unwrap();
        assert_eq!(ended.len(), 3, "revoke-all reaches the moved sessions");
        assert!(
            after
                .store()
                .get(&odd)
                .await
                .unwrap()
                .unwrap()
                .revoked_at
                .is_some()
        );
    });
}

/// A deployment a newer version marked with a layout this one does not know is refused, with
/// what to run, and its mark is left as it is: neither starting nor `migrate` takes it back to
/// a layout this version would misread.
#[test]
fn a_newer_layout_is_refused_and_left_as_it_is() {
    tessera_testkit::run(async {
        use redis::AsyncCommands;

        let (tag, mut conn) = marked("nl", "from-the-future").await;
        let mark = format!("{tag}:set:layout");
        // What `migrate` would move or delete, were the deployment in the layout before shards.
        let (filed, index) = (format!("{tag}:purge"), format!("{tag}:u:ann"));
        let _: () = conn
            .zadd(&filed, "AAAAAAAAAAAAAAAAAAAAAA|ann", 1)
            .await
            .unwrap();
        let _: () = conn.sadd(&index, "AAAAAAAAAAAAAAAAAAAAAA").await.unwrap();
        let refused = RedisStore::connect(&url(), &tag).await.unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("marked `from-the-future` by a newer version"),
            "{refused}"
        );
        let old = RedisStore::connect_to_migrate(&url(), &tag).await.unwrap();
        let refused = old.migrate().await.unwrap_err();
        assert!(refused.to_string().contains("newer version"), "{refused}");
        let kept: String = conn.get(&mark).await.unwrap();
        assert_eq!(kept, "from-the-future");
        assert!(
            conn.exists::<_, bool>(&filed).await.unwrap(),
            "nothing moved"
        );
        assert!(
            conn.exists::<_, bool>(&index).await.unwrap(),
            "nothing deleted"
        );

        // The mark of the version before this one (and of the one before it, in
        // `own_deployment`) is taken over.
        let (tag, _) = marked("nl", "records").await;
        let mark = format!("{tag}:set:layout");
        RedisStore::connect(&url(), &tag).await.unwrap();
        let now: String = conn.get(&mark).await.unwrap();
        assert_eq!(now, "user-fields");
    });
}

/// The purge index costs nothing once its sessions are gone: revoked sessions (which leave a
/// stale entry under the minute they were filed in), refreshed ones (filed under a minute that
/// passed while they lived on) and ended ones all leave with their lists and counts.
#[test]
fn purge_leaves_no_index_behind() {
    tessera_testkit::run(async {
        use std::time::Duration;
        use tessera::store::{Revocation, SessionStore};
        use tessera::{RevokeReason, Session, SessionId, Timestamp, TokenHash};

        let name = format!("pg-{}", tessera::random_id().unwrap());
        let store = RedisStore::connect(&url(), &format!("{{{name}}}"))
            .await
            .unwrap();
        let now = Timestamp::from_secs(1_700_000_000);
        let mut sids = Vec::new();
        for i in 0u64..40 {
            let user = format!("user-{}", i % 4);
            let s = Session::started(
                SessionId::for_user(&user).unwrap(),
                user,
                now,
                now.plus(Duration::from_secs(600 + 60 * (i % 5))),
                now.plus(Duration::from_secs(3600)),
                TokenHash::of(&i.to_be_bytes()),
            );
            store.create(&s, None, None).await.unwrap();
            sids.push(s.sid);
        }
        let revocation = Revocation {
            reason: RevokeReason::Admin,
            at: now.plus(Duration::from_secs(60)),
            until: now.plus(Duration::from_secs(960)),
        };
        for sid in sids.iter().step_by(3) {
            store.revoke(sid, revocation).await.unwrap();
        }
        let live = store
            .count_live(now.plus(Duration::from_secs(120)))
            .await
            .unwrap();
        assert_eq!(live, 40 - 14, "revoked sessions are not counted");
        let mut conn = redis::Client::open(url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let later = now.plus(Duration::from_secs(7200));
        let mut deleted = 0;
        loop {
            let n = store.purge_expired(later, 7).await.unwrap();
            deleted += n;
            if n == 0 {
                break;
            }
        }
        assert_eq!(deleted, 40);
        assert_eq!(store.count_live(later).await.unwrap(), 0);
        let left = scan(&mut conn, &format!("{{{name}:*")).await;
        assert!(
            left.iter()
                .all(|k| k.contains(":ua:") || k.ends_with(":feed") || k.contains(":feed:")),
            "only user agents and the feed remain: {left:?}"
        );
    });
}

/// One purge call deletes its batch even when the first entries it meets are of sessions
/// still live (their end moved later since they were filed): those are filed anew, and do
/// not count towards the batch or end the call while ended sessions wait behind them.
#[test]
fn purge_is_not_cut_short_by_live_sessions() {
    tessera_testkit::run(async {
        use std::time::Duration;
        use tessera::store::SessionStore;
        use tessera::{Session, SessionId, Timestamp, TokenHash};

        let store = store().await;
        let now = Timestamp::from_secs(1_700_000_000);
        let idle = now.plus(Duration::from_secs(600));
        let create = |user: &str, i: u64| {
            Session::started(
                SessionId::for_user(user).unwrap(),
                user.to_owned(),
                now,
                idle,
                now.plus(Duration::from_secs(86_400)),
                TokenHash::of(&i.to_be_bytes()),
            )
        };
        // Filed first under the same minute: twelve that live on, then three that end.
        let mut live = Vec::new();
        for i in 0..15 {
            let s = create("alice", i);
            store.create(&s, None, None).await.unwrap();
            live.push(s.sid);
        }
        let ending = live.split_off(12);
        for sid in &live {
            let later = now.plus(Duration::from_secs(7200));
            assert!(store.touch(sid, now, later).await.unwrap());
        }
        let purged_at = now.plus(Duration::from_secs(1200));
        assert_eq!(store.purge_expired(purged_at, 3).await.unwrap(), 3);
        for sid in &ending {
            assert_eq!(store.get(sid).await.unwrap(), None, "ended: purged");
        }
        for sid in &live {
            assert!(store.get(sid).await.unwrap().is_some(), "live: kept");
        }
        assert_eq!(store.purge_expired(purged_at, 3).await.unwrap(), 0);
    });
}

/// A revocation is announced on its shard's channel, and a follower hears which feed it is in
/// (so it reads that one feed, not all 65), on one server and on a Cluster.
#[test]
fn announcements_name_their_feed() {
    tessera_testkit::run(async {
        use std::sync::{Arc, Mutex};
        use std::time::Duration;
        use tessera::store::{Revocation, SessionStore};
        use tessera::{RevokeReason, Session, SessionId, Timestamp, TokenHash};

        for store in [store().await, cluster_store(&cluster::nodes(), "an").await] {
            let heard = Arc::new(Mutex::new(Vec::new()));
            let follower = {
                let (store, heard) = (store.clone(), Arc::clone(&heard));
                tokio::spawn(async move {
                    let _ = store
                        .follow_revocations(move |feed| heard.lock().unwrap().push(feed))
                        .await;
                })
            };
            while heard.lock().unwrap().is_empty() {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            assert_eq!(
                heard.lock().unwrap().as_slice(),
                [None],
                "catch up once subscribed"
            );
            let now = Timestamp::from_secs(1_700_000_000);
            let s = Session::started(
                SessionId::for_user("alice").unwrap(),
                "alice".into(),
                now,
                now.plus(Duration::from_secs(600)),
                now.plus(Duration::from_secs(3600)),
                TokenHash::of(b"a"),
            );
            store.create(&s, None, None).await.unwrap();
            let r = Revocation {
                reason: RevokeReason::Logout,
                at: now,
                until: now.plus(Duration::from_secs(900)),
            };
            store.revoke(&s.sid, r).await.unwrap();
            for _ in 0..200 {
                if heard.lock().unwrap().len() > 1 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let feed = usize::from(SessionId::shard_of("alice"));
            assert_eq!(heard.lock().unwrap().as_slice(), [None, Some(feed)]);
            assert_eq!(store.revocations_after(feed, 0, 10).await.unwrap().len(), 1);
            follower.abort();
        }
    });
}

/// A deployment of its own under a tag starting with `prefix`, served as Redis's default user,
/// and a connection to look inside it.
async fn own_deployment(prefix: &str) -> (RedisStore, redis::aio::MultiplexedConnection) {
    use redis::AsyncCommands;
    // As the version before session records marked a deployment: this one takes it over, and
    // marks it so that an older node refuses to start on it.
    let (tag, mut conn) = marked(prefix, "sharded").await;
    let store = RedisStore::connect(&url(), &tag).await.unwrap();
    let now: String = conn.get(format!("{tag}:set:layout")).await.unwrap();
    assert_eq!(now, "user-fields");
    (store, conn)
}

/// A new deployment's tag, starting with `prefix`, marked as laid out as `mark` says, and a
/// connection to look inside it.
async fn marked(prefix: &str, mark: &str) -> (String, redis::aio::MultiplexedConnection) {
    use redis::AsyncCommands;
    let tag = format!("{{{prefix}-{}}}", tessera::random_id().unwrap());
    let mut conn = redis::Client::open(url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = conn.set(format!("{tag}:set:layout"), mark).await.unwrap();
    (tag, conn)
}

/// The hash tag of `user`'s shard.
fn shard_of(store: &RedisStore, user: &str) -> String {
    let feed = store.feed_key(user);
    feed.strip_suffix(":feed").unwrap().to_owned()
}

/// A session of `user` started at 1,700,000,000 s, idle for `idle` seconds at most and living
/// `lives` seconds, its refresh secret `secret`.
fn started(user: &str, secret: &[u8], idle: u64, lives: u64) -> tessera::Session {
    use std::time::Duration;
    let now = tessera::Timestamp::from_secs(1_700_000_000);
    tessera::Session::started(
        tessera::SessionId::for_user(user).unwrap(),
        user.into(),
        now,
        now.plus(Duration::from_secs(idle)),
        now.plus(Duration::from_secs(lives)),
        tessera::TokenHash::of(secret),
    )
}

/// [`started`], with every value a sign-in can give a session: claims, data, a device with
/// the user agent `agent`, a cookie, a version and a refresh chain at generation 4.
fn signed_in(user: &str, secret: &[u8], agent: &str) -> tessera::Session {
    use serde_json::json;
    use std::time::Duration;
    let s = started(user, secret, 3600, 86_400);
    tessera::Session {
        claims: json!({"role": "admin"}).as_object().unwrap().clone(),
        data: json!({"cart": [1, 2]}),
        device: tessera::Device {
            user_agent: Some(agent.into()),
            ip: Some("203.0.113.9".into()),
            label: Some("Work laptop".into()),
        },
        cookie: Some(tessera::TokenHash::of(b"cookie")),
        version: 2,
        refresh: tessera::RefreshState {
            generation: 4,
            current: tessera::TokenHash::of(secret),
            previous: Some(tessera::TokenHash::of(b"before")),
            rotated_at: s.created_at.plus(Duration::from_secs(5)),
        },
        ..s
    }
}

/// The rotation of `s`'s current token to generation 5 (secret `next`) a minute after it
/// started, from `client`.
fn rotation_of(s: &tessera::Session, next: &[u8], client: &str) -> tessera::store::Rotation {
    use std::time::Duration;
    let at = s.created_at.plus(Duration::from_secs(60));
    tessera::store::Rotation {
        expected_generation: 4,
        presented: s.refresh.current,
        next: tessera::RefreshState {
            generation: 5,
            current: tessera::TokenHash::of(next),
            previous: Some(s.refresh.current),
            rotated_at: at,
        },
        at,
        idle_expires_at: at.plus(Duration::from_secs(3600)),
        rate: None,
        client: Some(client.into()),
    }
}

/// Rotates `s` as `rotation` says, which must succeed; the store must answer `s` with the
/// rotation applied, which is returned.
async fn rotate_applied(
    store: &RedisStore,
    s: &tessera::Session,
    rotation: &tessera::store::Rotation,
) -> tessera::Session {
    use tessera::store::{RotateOutcome, SessionStore};
    let RotateOutcome::Rotated(rotated) = store.rotate(&s.sid, rotation).await.unwrap() else {
        panic!("the refresh token of {} was refused", s.sid);
    };
    let mut expected = s.clone();
    rotation.apply(&mut expected);
    assert_eq!(*rotated, expected);
    expected
}

/// Redis's SHA-1 of `text` in hex, by which the scripts name a user's index hash (its first
/// digit) and a user agent.
async fn sha1hex(conn: &mut redis::aio::MultiplexedConnection, text: &str) -> String {
    redis::cmd("EVAL")
        .arg("return redis.sha1hex(ARGV[1])")
        .arg(0)
        .arg(text)
        .query_async(conn)
        .await
        .unwrap()
}

/// Sessions stored before session records (a hash of their own each, the user agent
/// remembered apart or, older still, in the device) are read as they were, refreshed, listed,
/// revoked and purged, and the first write stores them as records: an upgrade needs no
/// migration, and every token stays valid.
#[test]
fn sessions_stored_as_hashes_keep_working() {
    tessera_testkit::run(async {
        use redis::AsyncCommands;
        use std::time::Duration;
        use tessera::store::{Revocation, RotateOutcome, Rotation, SessionStore};
        use tessera::{RevokeReason, Session, Timestamp};

        let (store, mut conn) = own_deployment("h").await;
        let shard = shard_of(&store, "dora");
        let now = Timestamp::from_secs(1_700_000_000);
        let agent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0";
        // Refreshed before: as only a hash written by hand can be here.
        let session = |secret: &[u8]| Session {
            refreshes: 3,
            refreshed_from: Some("198.51.100.7".into()),
            ..signed_in("dora", secret, agent)
        };
        let (kept_apart, in_device) = (session(b"one"), session(b"two"));
        let digest = sha1hex(&mut conn, agent).await[..24].to_owned();
        // Remembered as Tessera did then: under the digest's first 24 hex digits.
        let _: () = conn
            .set(format!("{shard}:ua:{digest}"), agent)
            .await
            .unwrap();
        let hash_key = |s: &Session| format!("{shard}:s:{}", s.sid);
        for (s, digest) in [(&kept_apart, Some(digest.as_str())), (&in_device, None)] {
            store.create(s, None, None).await.unwrap();
            let field = s.sid.as_bytes().as_slice();
            let records = format!("{shard}:r:{}", field[1] % 16);
            assert_eq!(conn.hdel::<_, _, i64>(&records, field).await.unwrap(), 1);
            let mut fields = as_hash(s, digest);
            let ends = s.idle_expires_at.min(s.absolute_expires_at).as_millis();
            fields.push(("e".into(), (ends / 60_000).to_string()));
            let _: () = conn.hset_multiple(hash_key(s), &fields).await.unwrap();
            assert_eq!(
                store.get(&s.sid).await.unwrap().as_ref(),
                Some(s),
                "read back"
            );
        }
        // The user's index and the purge index held ids as their 22 characters then.
        let sha1 = sha1hex(&mut conn, "dora").await;
        let ids = format!("{}{}", kept_apart.sid, in_device.sid);
        let _: () = conn
            .hset(format!("{shard}:ux:{}", &sha1[..1]), "dora", &ids)
            .await
            .unwrap();
        let ends = kept_apart.idle_expires_at.as_millis() / 60_000;
        let filed = format!("{shard}:e:{ends}");
        let _: () = conn.del(&filed).await.unwrap();
        let _: () = conn
            .rpush(
                &filed,
                &[kept_apart.sid.to_string(), in_device.sid.to_string()],
            )
            .await
            .unwrap();
        assert_eq!(
            store.list_user("dora", now).await.unwrap(),
            vec![kept_apart.clone(), in_device.clone()]
        );

        let rotation = rotation_of(&kept_apart, b"three", "203.0.113.9");
        let at = rotation.at;
        let rotated = rotate_applied(&store, &kept_apart, &rotation).await;
        assert_eq!(rotated.refreshes, 4);
        assert!(
            !conn.exists::<_, bool>(hash_key(&kept_apart)).await.unwrap(),
            "now a record"
        );
        assert_eq!(store.get(&kept_apart.sid).await.unwrap(), Some(rotated));

        // The one whose agent its device held: refused, it stays as it was; rotated, it becomes
        // a record and its agent is remembered apart.
        let remembered = format!("{shard}:ua:{}", &sha1hex(&mut conn, agent).await[..16]);
        let _: () = conn.del(&remembered).await.unwrap();
        let fresh = rotation_of(&in_device, b"three", "203.0.113.9");
        let stale = Rotation {
            expected_generation: 3,
            ..fresh.clone()
        };
        let RotateOutcome::Refused(Some(found)) =
            store.rotate(&in_device.sid, &stale).await.unwrap()
        else {
            panic!("a stale generation rotated");
        };
        assert_eq!(*found, in_device);
        assert!(conn.exists::<_, bool>(hash_key(&in_device)).await.unwrap());
        assert!(
            !conn.exists::<_, bool>(&remembered).await.unwrap(),
            "nothing written"
        );
        let expected = rotate_applied(&store, &in_device, &fresh).await;
        assert!(
            !conn.exists::<_, bool>(hash_key(&in_device)).await.unwrap(),
            "now a record"
        );
        let kept: String = conn.get(&remembered).await.unwrap();
        assert_eq!(kept, agent, "remembered apart");
        assert_eq!(store.get(&in_device.sid).await.unwrap(), Some(expected));

        let revocation = Revocation {
            reason: RevokeReason::Admin,
            at,
            until: at.plus(Duration::from_secs(600)),
        };
        let owner = store.revoke(&in_device.sid, revocation).await.unwrap();
        assert_eq!(owner.as_deref(), Some("dora"));
        assert!(
            !conn.exists::<_, bool>(hash_key(&in_device)).await.unwrap(),
            "now a record"
        );
        let revoked = store.get(&in_device.sid).await.unwrap().unwrap();
        assert_eq!(revoked.revoked_at, Some(at));
        assert_eq!(
            revoked.device, in_device.device,
            "the agent the device held is remembered apart"
        );

        let later = now.plus(Duration::from_secs(2 * 86_400));
        while store.purge_expired(later, 100).await.unwrap() > 0 {}
        for s in [&kept_apart, &in_device] {
            assert_eq!(store.get(&s.sid).await.unwrap(), None, "purged");
        }
        assert!(store.list_user("dora", later).await.unwrap().is_empty());
    });
}

/// A user's sessions and audit events kept in two fields, as Tessera kept them before (the
/// sessions in `ux` after a zero byte, the events in `ax` after a zero byte or as `at-seq,`
/// each), are read as they were, and the user's next write of either joins them in one field;
/// so are events an older node files apart beside a joined field.
#[test]
fn users_kept_in_two_fields_keep_working() {
    tessera_testkit::run(async {
        use redis::AsyncCommands;
        use tessera::store::{AuditStore, SessionStore};
        use tessera::{AuditEvent, AuditKind, Timestamp};

        let (store, mut conn) = own_deployment("ax").await;
        let event = |secs: i64, kind: AuditKind| AuditEvent {
            at: Timestamp::from_secs(secs),
            user_id: Some("erin".into()),
            sid: None,
            ip: Some("203.0.113.4".into()),
            kind,
        };
        let kinds = |events: Vec<tessera::StoredEvent>| -> Vec<AuditKind> {
            events.into_iter().map(|e| e.event.kind).collect()
        };
        let first = started("erin", b"first", 3600, 86_400);
        let signed_in = event(1_700_000_000, AuditKind::LoginSucceeded);
        store.create(&first, None, Some(&signed_in)).await.unwrap();
        store
            .append_audit(&[event(1_700_000_001, AuditKind::LoginFailed)])
            .await
            .unwrap();
        let sha1 = sha1hex(&mut conn, "erin").await;
        let shard = shard_of(&store, "erin");
        let (joined, events) = (
            format!("{shard}:ux:{}", &sha1[..1]),
            format!("{shard}:ax:{}", &sha1[..1]),
        );
        let one: Vec<u8> = conn.hget(&joined, "erin").await.unwrap();
        assert_eq!(one[..2], [1, 1], "the form, then one session");
        assert_eq!(one[2..18], first.sid.as_bytes()[..]);
        assert_eq!(one.len(), 18 + 2 * 8, "then 8 bytes an event");

        // Kept apart, the events as text, then in their compact form: read as they are.
        let mut sessions = vec![0u8];
        sessions.extend_from_slice(first.sid.as_bytes());
        let mut compact = vec![0u8];
        for ms in [1_700_000_000_000u64, 1_700_000_001_000] {
            compact.extend_from_slice(&ms.to_be_bytes()[2..]);
            compact.extend_from_slice(&[0, 0]);
        }
        let now = Timestamp::from_secs(1_700_000_002);
        for kept in [b"1700000000000-0,1700000001000-0,".to_vec(), compact] {
            let _: () = conn.hset(&joined, "erin", &sessions).await.unwrap();
            let _: () = conn.hset(&events, "erin", &kept).await.unwrap();
            assert_eq!(
                kinds(store.audit_for_user("erin", None, 10).await.unwrap()),
                [AuditKind::LoginFailed, AuditKind::LoginSucceeded],
                "read apart"
            );
            assert_eq!(
                store.list_user("erin", now).await.unwrap(),
                std::slice::from_ref(&first)
            );
        }

        // Each write joins them: an event, a session, a purge of events.
        let second = started("erin", b"second", 3600, 86_400);
        let both = [first.clone(), second.clone()];
        for (n, write) in ["event", "session", "purge"].into_iter().enumerate() {
            let _: () = conn.hset(&joined, "erin", &sessions).await.unwrap();
            let _: () = conn
                .hset(&events, "erin", "1700000000000-0,1700000001000-0,")
                .await
                .unwrap();
            let listed = match write {
                "event" => {
                    let changed = event(1_700_000_002, AuditKind::PasswordChanged);
                    store.append_audit(&[changed]).await.unwrap();
                    vec![
                        AuditKind::PasswordChanged,
                        AuditKind::LoginFailed,
                        AuditKind::LoginSucceeded,
                    ]
                }
                "session" => {
                    store.create(&second, None, None).await.unwrap();
                    sessions.extend_from_slice(second.sid.as_bytes());
                    vec![AuditKind::LoginFailed, AuditKind::LoginSucceeded]
                }
                _ => {
                    let cutoff = Timestamp::from_secs(1_700_000_001);
                    store.purge_audit(cutoff, 100).await.unwrap();
                    vec![AuditKind::LoginFailed]
                }
            };
            assert!(
                !conn.hexists::<_, _, bool>(&events, "erin").await.unwrap(),
                "{write}: joined"
            );
            let kept: Vec<u8> = conn.hget(&joined, "erin").await.unwrap();
            assert_eq!(kept[..2], [1, 1 + u8::from(n > 0)], "{write}");
            assert_eq!(
                kinds(store.audit_for_user("erin", None, 10).await.unwrap()),
                listed,
                "{write}"
            );
            let sessions_now = if n == 0 { &both[..1] } else { &both[..] };
            assert_eq!(store.list_user("erin", now).await.unwrap(), sessions_now);
        }

        // An older node still running beside this version files its event apart, beside the
        // joined field: read in its place by time, and joined by the next write.
        store
            .append_audit(&[event(1_700_000_003, AuditKind::LoginSucceeded)])
            .await
            .unwrap();
        let mut apart = vec![0u8];
        apart.extend_from_slice(&1_700_000_002_000u64.to_be_bytes()[2..]);
        apart.extend_from_slice(&[0, 0]); // the password change's, still in the stream
        let _: () = conn.hset(&events, "erin", &apart).await.unwrap();
        let in_order = [
            AuditKind::LoginSucceeded,
            AuditKind::PasswordChanged,
            AuditKind::LoginFailed,
        ];
        assert_eq!(
            kinds(store.audit_for_user("erin", None, 10).await.unwrap()),
            in_order
        );
        store
            .append_audit(&[event(1_700_000_004, AuditKind::LoginFailed)])
            .await
            .unwrap();
        assert!(!conn.hexists::<_, _, bool>(&events, "erin").await.unwrap());
        let listed = kinds(store.audit_for_user("erin", None, 10).await.unwrap());
        assert_eq!(listed[0], AuditKind::LoginFailed);
        assert_eq!(listed[1..], in_order);
    });
}

/// The audit purge drops from a user's field the ids up to the newest event it deleted, not as
/// many ids as it deleted events: an event the field does not list (one an older node filed
/// apart) costs no newer event its place.
#[test]
fn purging_events_keeps_the_ids_of_those_kept() {
    tessera_testkit::run(async {
        use tessera::store::AuditStore;
        use tessera::{AuditEvent, AuditKind, Timestamp};

        let (store, mut conn) = own_deployment("pa").await;
        let event = |secs: i64| AuditEvent {
            at: Timestamp::from_secs(secs),
            user_id: Some("gus".into()),
            sid: None,
            ip: None,
            kind: AuditKind::LoginFailed,
        };
        let _: String = redis::cmd("XADD")
            .arg(format!("{}:a", shard_of(&store, "gus")))
            .arg("1699999999000-0")
            .arg("u")
            .arg("gus")
            .arg("j")
            .arg("3|||")
            .query_async(&mut conn)
            .await
            .unwrap();
        store
            .append_audit(&[event(1_700_000_000), event(1_700_000_010)])
            .await
            .unwrap();
        let purged = store
            .purge_audit(Timestamp::from_secs(1_700_000_005), 100)
            .await
            .unwrap();
        assert_eq!(purged, 2, "the unlisted event and the older listed one");
        let kept = store.audit_for_user("gus", None, 10).await.unwrap();
        assert_eq!(kept.len(), 1, "the newer one is still listed");
        assert_eq!(kept[0].event.at, Timestamp::from_secs(1_700_000_010));
    });
}

/// A user with more sessions than one byte of the count holds (127) keeps them all and their
/// events, in one field.
#[test]
fn a_user_with_many_sessions_keeps_them_and_their_events() {
    tessera_testkit::run(async {
        use tessera::store::{AuditStore, SessionStore};
        use tessera::{AuditEvent, AuditKind, Timestamp};

        use redis::AsyncCommands;

        let (store, mut conn) = own_deployment("many").await;
        let mut sessions = Vec::new();
        for i in 0..300u32 {
            let s = started("fred", &i.to_be_bytes(), 3600, 86_400);
            let event = AuditEvent {
                at: s.created_at,
                user_id: Some("fred".into()),
                sid: Some(s.sid),
                ip: None,
                kind: AuditKind::LoginSucceeded,
            };
            store.create(&s, None, Some(&event)).await.unwrap();
            sessions.push(s);
        }
        let now = Timestamp::from_secs(1_700_000_001);
        assert_eq!(store.list_user("fred", now).await.unwrap(), sessions);
        let events = store.audit_for_user("fred", None, 1000).await.unwrap();
        assert_eq!(events.len(), 300);
        assert_eq!(events[0].event.sid, Some(sessions[299].sid));
        let sha1 = sha1hex(&mut conn, "fred").await;
        let field = format!("{}:ux:{}", shard_of(&store, "fred"), &sha1[..1]);
        let kept: Vec<u8> = conn.hget(&field, "fred").await.unwrap();
        assert_eq!(
            kept[..3],
            [1, 0x80 | 44, 2],
            "300 = 44 + 2 × 128, low first"
        );
        assert_eq!(kept.len(), 3 + 300 * 16 + 300 * 8);
    });
}

/// Purge puts back an entry it cannot settle (a record this version cannot read) instead of
/// dropping it, which would leave its session to no one; the others are purged.
#[test]
fn purge_keeps_what_it_cannot_read() {
    tessera_testkit::run(async {
        use redis::AsyncCommands;
        use std::time::Duration;
        use tessera::Timestamp;
        use tessera::store::SessionStore;

        let (store, mut conn) = own_deployment("pk").await;
        let now = Timestamp::from_secs(1_700_000_000);
        let (good, bad) = (
            started("fred", b"good", 60, 3600),
            started("fred", b"bad", 60, 3600),
        );
        for s in [&good, &bad] {
            store.create(s, None, None).await.unwrap();
        }
        let field = bad.sid.as_bytes().as_slice();
        let records = format!("{}:r:{}", shard_of(&store, "fred"), field[1] % 16);
        // A record of a later format: it begins with a negative number.
        let _: () = conn
            .hset(&records, field, b"\x91\xff".as_slice())
            .await
            .unwrap();
        let later = now.plus(Duration::from_secs(120));
        assert_eq!(store.purge_expired(later, 100).await.unwrap(), 1);
        assert_eq!(store.get(&good.sid).await.unwrap(), None, "purged");
        let ends = now.plus(Duration::from_secs(60)).as_millis() / 60_000;
        let list = format!("{}:e:{ends}", shard_of(&store, "fred"));
        let kept: Vec<Vec<u8>> = conn.lrange(&list, 0, -1).await.unwrap();
        assert_eq!(kept, [field.to_vec()], "the unreadable one's entry is kept");
    });
}

/// Audit ids keep their sequence number in 2 bytes: events piling onto one millisecond past
/// 65,535 take the next; and a user's listing shows only the user's own events, whatever
/// its index says.
#[test]
fn audit_ids_never_outgrow_two_bytes_nor_cross_users() {
    tessera_testkit::run(async {
        use redis::AsyncCommands;
        use tessera::store::AuditStore;
        use tessera::{AuditEvent, AuditKind, Timestamp};

        let (store, mut conn) = own_deployment("as").await;
        let stream = format!("{}:a", shard_of(&store, "gina"));
        let _: String = redis::cmd("XADD")
            .arg(&stream)
            .arg("1700000000000-65535")
            .arg("u")
            .arg("")
            .arg("j")
            .arg("3|||")
            .query_async(&mut conn)
            .await
            .unwrap();
        let event = |user: &str| AuditEvent {
            at: Timestamp::from_secs(1_699_999_999),
            user_id: Some(user.into()),
            sid: None,
            ip: None,
            kind: AuditKind::LoginFailed,
        };
        store.append_audit(&[event("gina")]).await.unwrap();
        let listed = store.audit_for_user("gina", None, 10).await.unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(
            listed[0].id,
            1_700_000_000_001 << 16,
            "the next millisecond, number 0"
        );

        // Another user's event, named in gina's index, is not gina's.
        let other = shard_of(&store, "gina");
        let hank = (0..)
            .map(|i| format!("hank-{i}"))
            .find(|u| shard_of(&store, u) == other)
            .unwrap();
        store.append_audit(&[event(&hank)]).await.unwrap();
        // As Tessera kept a user's events before, apart from the sessions, in text.
        let sha1 = sha1hex(&mut conn, "gina").await;
        let _: () = conn
            .hdel(format!("{other}:ux:{}", &sha1[..1]), "gina")
            .await
            .unwrap();
        let _: () = conn
            .hset(
                format!("{other}:ax:{}", &sha1[..1]),
                "gina",
                "1700000000001-0,1700000000001-1,",
            )
            .await
            .unwrap();
        let listed = store.audit_for_user("gina", None, 10).await.unwrap();
        assert_eq!(listed.len(), 1, "hank's event is not listed as gina's");
    });
}

/// A user agent whose digest another agent holds already is not remembered over it (whoever
/// wrote either): the session keeps none, and every other session still shows its own.
#[test]
fn an_agent_never_replaces_another_under_its_digest() {
    tessera_testkit::run(async {
        use redis::AsyncCommands;
        use tessera::store::SessionStore;
        use tessera::{Device, Session};

        let (store, mut conn) = own_deployment("ua").await;
        let agent = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0";
        let digest = sha1hex(&mut conn, agent).await[..16].to_owned();
        let key = format!("{}:ua:{digest}", shard_of(&store, "ivy"));
        let _: () = conn.set(&key, "Another agent, same digest").await.unwrap();
        let session = Session {
            device: Device {
                user_agent: Some(agent.into()),
                ..Device::default()
            },
            ..started("ivy", b"ivy", 60, 3600)
        };
        store.create(&session, None, None).await.unwrap();
        let kept: String = conn.get(&key).await.unwrap();
        assert_eq!(kept, "Another agent, same digest", "not replaced");
        let stored = store.get(&session.sid).await.unwrap().unwrap();
        assert_eq!(
            stored.device.user_agent, None,
            "no agent rather than another's"
        );
    });
}

/// A node reads a user agent's text once and keeps it: later reads, listings and refreshes
/// of sessions naming it cost Redis no lookup. Proven by deleting the text from Redis: the
/// node that read it still answers it, while a node that never did finds none. The session
/// carries every value a sign-in can give a record (its id naming another shard than its
/// user's, where the record and its agent live), and a refresh, which changes the record in
/// place, keeps them.
#[test]
fn agents_are_read_once_and_kept() {
    tessera_testkit::run(async {
        use redis::AsyncCommands;
        use tessera::store::{RotateOutcome, SessionStore};
        use tessera::{Session, SessionId};

        let (tag, mut conn) = marked("uk", "user-fields").await;
        let store = RedisStore::connect(&url(), &tag).await.unwrap();
        let agent = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) Safari/605.1.15";
        let elsewhere = std::iter::repeat_with(|| SessionId::generate().unwrap())
            .find(|sid| sid.shard() != SessionId::shard_of("kim"))
            .unwrap();
        let session = Session {
            sid: elsewhere,
            ..signed_in("kim", b"kim", agent)
        };
        store.create(&session, None, None).await.unwrap();
        assert_eq!(
            store.get(&session.sid).await.unwrap().as_ref(),
            Some(&session)
        );

        let rotation = rotation_of(&session, b"kim-5", "=2001:db8::1");
        let at = rotation.at;
        let expected = rotate_applied(&store, &session, &rotation).await;
        assert_eq!(
            store.get(&session.sid).await.unwrap(),
            Some(expected.clone())
        );

        let digest = sha1hex(&mut conn, agent).await[..16].to_owned();
        let key = format!("{}:ua:{digest}", shard_of(&store, "kim"));
        let deleted: i64 = conn.del(&key).await.unwrap();
        assert_eq!(
            deleted, 1,
            "the user's shard remembered the agent under its digest"
        );
        let read = store.get(&session.sid).await.unwrap().unwrap();
        assert_eq!(read.device.user_agent.as_deref(), Some(agent), "kept");
        let listed = store.list_user("kim", at).await.unwrap();
        assert_eq!(listed, vec![expected.clone()]);
        let RotateOutcome::Refused(Some(found)) =
            store.rotate(&session.sid, &rotation).await.unwrap()
        else {
            panic!("a used token rotated again");
        };
        assert_eq!(found.device.user_agent.as_deref(), Some(agent));

        let other = RedisStore::connect(&url(), &tag).await.unwrap();
        let read = other.get(&session.sid).await.unwrap().unwrap();
        assert_eq!(read.device.user_agent, None, "another node reads Redis");
        let _: () = conn.set(&key, agent).await.unwrap();
        let RotateOutcome::Refused(Some(found)) =
            other.rotate(&session.sid, &rotation).await.unwrap()
        else {
            panic!("a used token rotated again");
        };
        assert_eq!(*found, expected, "read from Redis this time");
    });
}
