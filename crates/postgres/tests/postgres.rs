//! The PostgreSQL store on a real PostgreSQL (`scripts/postgres start`; scripts/test starts
//! it): the whole conformance suite, each test in a schema of its own.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "integration tests"
)]

use tessera_postgres::PostgresStore;

/// The test database: `TESSERA_TEST_POSTGRES_URL`, or what `scripts/postgres start` makes.
fn url() -> String {
    std::env::var("TESSERA_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://tessera:tessera@127.0.0.1:15432/tessera".into())
}

/// A store in a fresh schema of the test database.
async fn store() -> PostgresStore {
    PostgresStore::connect(&fresh_schema().await).await.unwrap()
}

/// The URL of a fresh schema of the test database.
async fn fresh_schema() -> String {
    let url = url();
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| {
            panic!("no PostgreSQL at {url}: run `scripts/postgres start` (scripts/test does): {e}")
        });
    tokio::spawn(connection);
    let schema = format!("t_{}", tessera::random_id().unwrap().to_lowercase());
    let schema: String = schema
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .unwrap();
    format!("{url}?options=-csearch_path%3D{schema}")
}

tessera_testkit::conformance_tests!(store);

/// `scripts/postgres ARGS` for the server on `port` (the tests that kill a server use one of
/// their own).
fn script(port: u16, args: &[&str]) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/postgres");
    let out = std::process::Command::new("bash")
        .arg(script)
        .args(args)
        .env("TESSERA_TEST_POSTGRES_PORT", port.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "scripts/postgres {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A revocation made on one node is announced to the others as it commits.
#[test]
fn revocations_are_announced_to_every_node() {
    tessera_testkit::run(async {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tessera::store::{Revocation, SessionStore};
        use tessera::{RevokeReason, Timestamp};

        let here = store().await;
        let heard = Arc::new(AtomicUsize::new(0));
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let follower = {
            let (here, heard) = (here.clone(), Arc::clone(&heard));
            tokio::spawn(async move {
                here.follow_revocations(move || {
                    heard.fetch_add(1, Ordering::SeqCst);
                    let _ = tx.send(());
                })
                .await
            })
        };
        // Once listening, it is called to catch up.
        tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
            .await
            .unwrap();
        let revocation = Revocation {
            reason: RevokeReason::Admin,
            at: Timestamp::from_secs(1),
            until: Timestamp::from_secs(2),
        };
        here.revoke_token("jti-1", revocation.until).await.unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
            .await
            .expect("the announcement arrives");
        assert_eq!(heard.load(Ordering::SeqCst), 2);
        assert!(!follower.is_finished());
        follower.abort();
    });
}

/// With `sslrootcert`, TLS is required and the server's certificate must chain to that CA.
#[test]
fn tls_to_the_database_is_verified() {
    tessera_testkit::run(async {
        use tessera::store::KeyStore;
        let ca = script(15432, &["ca"]);
        let good = format!("{}?sslrootcert={ca}", url());
        let store = PostgresStore::connect(&good).await.unwrap();
        assert!(store.get_setting("none").await.unwrap().is_none());

        // A CA of someone else's: refused.
        let dir = std::env::temp_dir().join(format!("tessera-pg-ca-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let other = dir.join("other.pem");
        let made = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-days", "1", "-subj", "/CN=other", "-keyout"])
            .arg(dir.join("other.key"))
            .arg("-out")
            .arg(&other)
            .output()
            .unwrap();
        assert!(made.status.success());
        let wrong = format!("{}?sslrootcert={}", url(), other.display());
        let refused = PostgresStore::connect(&wrong).await.unwrap_err();
        assert!(refused.to_string().contains("TLS handshake"), "{refused}");
        let unverified = format!("{}?sslmode=require", url());
        let refused = PostgresStore::connect(&unverified).await.unwrap_err();
        assert!(refused.to_string().contains("sslrootcert"), "{refused}");
        std::fs::remove_dir_all(&dir).unwrap();
    });
}

/// SIGKILL of the database while sessions are created and refreshed: every write it
/// acknowledged is there after it restarts (fsync and synchronous commit are on, as in
/// production).
#[test]
fn sigkill_of_the_database_loses_no_acknowledged_write() {
    tessera_testkit::run(async {
        use std::time::Duration;
        use tessera::store::{RotateOutcome, SessionStore};
        use tessera_testkit::durability::{rotation, session};

        const PORT: u16 = 15442;
        script(PORT, &["start"]);
        script(PORT, &["fresh"]); // its data directory outlives the test
        let url = script(PORT, &["url"]);
        let store = PostgresStore::connect(&url).await.unwrap();
        let writer = tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for i in 0.. {
                let s = session(i);
                if store.create(&s, None, None).await.is_err() {
                    break;
                }
                match store.rotate(&s.sid, &rotation(&s)).await {
                    Ok(RotateOutcome::Rotated(_)) => acknowledged.push((s.sid, true)),
                    Ok(other) => panic!("{other:?}"),
                    Err(_) => {
                        acknowledged.push((s.sid, false));
                        break;
                    }
                }
            }
            acknowledged
        });
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        script(PORT, &["kill"]);
        let acknowledged = tokio::time::timeout(Duration::from_secs(30), writer)
            .await
            .expect("writes fail once the database is gone")
            .unwrap();
        assert!(
            acknowledged.len() > 20,
            "{} writes before the kill",
            acknowledged.len()
        );
        script(PORT, &["start"]);
        let store = PostgresStore::connect(&url).await.unwrap();
        for (sid, rotated) in &acknowledged {
            let s = store
                .get(sid)
                .await
                .unwrap()
                .expect("an acknowledged session");
            if *rotated {
                assert_eq!(s.refresh.generation, 2, "an acknowledged refresh");
            }
        }
        script(PORT, &["stop"]);
    });
}

/// Nodes starting at once on a new database: one migrates, the others wait for it, all start.
#[test]
fn nodes_starting_together_migrate_once() {
    tessera_testkit::run(async {
        use tessera::store::KeyStore;
        let url = fresh_schema().await;
        let starts: Vec<_> = (0..4)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { PostgresStore::connect(&url).await })
            })
            .collect();
        for start in starts {
            let store = start.await.unwrap().unwrap();
            store.put_setting("probe", b"x").await.unwrap();
        }
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let rows = client
            .query("SELECT version FROM tessera_schema", &[])
            .await
            .unwrap();
        assert_eq!(rows.len(), 1, "one version row");
        assert_eq!(rows[0].get::<_, i32>(0), 3);
    });
}

/// A rate whose time has passed is a full bucket: purging drops its row, in batches.
#[test]
fn rates_whose_time_has_passed_are_purged() {
    tessera_testkit::run(async {
        use std::time::Duration;
        use tessera::store::{RateLimitStore, SessionStore};
        use tessera::{Quota, Timestamp};
        let url = fresh_schema().await;
        let store = PostgresStore::connect(&url).await.unwrap();
        let quota = Quota::new(10, Duration::from_secs(60), 3).unwrap();
        let t = Timestamp::from_secs(1_000);
        for i in 0..5 {
            let key = format!("client:{i}");
            assert!(store.rate_limit(&key, &quota, t).await.unwrap().allowed());
        }
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let count = || async {
            let row = client
                .query_one("SELECT count(*) FROM rate_limits", &[])
                .await
                .unwrap();
            row.get::<_, i64>(0)
        };
        assert_eq!(count().await, 5);
        store.purge_expired(t, 100).await.unwrap();
        assert_eq!(count().await, 5, "still within their interval");
        let later = Timestamp::from_secs(1_010);
        store.purge_expired(later, 2).await.unwrap();
        assert_eq!(count().await, 3, "a bounded batch");
        store.purge_expired(later, 100).await.unwrap();
        assert_eq!(count().await, 0);
    });
}

/// With the database down, steps fail at once after the first failure instead of each waiting
/// to connect; one probe every quarter second finds it back.
#[test]
fn an_unreachable_database_fails_fast_until_a_probe_gets_through() {
    tessera_testkit::run(async {
        use std::time::Duration;
        use tessera::StoreErrorKind;
        use tessera::store::KeyStore;

        const PORT: u16 = 15443;
        script(PORT, &["start"]);
        script(PORT, &["fresh"]);
        let store = PostgresStore::connect(&script(PORT, &["url"]))
            .await
            .unwrap();
        assert!(store.get_setting("x").await.unwrap().is_none());
        script(PORT, &["kill"]);
        // The pooled connection dies with the server; the next attempt to connect fails.
        let mut failed = 0;
        for _ in 0..3 {
            if let Err(e) = store.get_setting("x").await {
                assert_eq!(e.kind(), StoreErrorKind::Unavailable, "{e}");
                failed += 1;
            }
        }
        assert!(failed >= 2, "the database is gone");
        let fast = store.get_setting("x").await.unwrap_err();
        assert!(fast.to_string().contains("failing fast"), "{fast}");
        script(PORT, &["start"]);
        let mut tries = 0;
        while store.get_setting("x").await.is_err() {
            tries += 1;
            assert!(tries < 200, "no probe got through in 10 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        script(PORT, &["stop"]);
    });
}

/// The statements whose cost must grow with their result, not with the tables, can be served
/// by an index: with sequential scans priced out, no plan reads a whole table.
#[test]
fn listing_revoking_feed_and_purge_use_indexes() {
    tessera_testkit::run(async {
        let url = fresh_schema().await;
        PostgresStore::connect(&url).await.unwrap();
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
            .batch_execute("SET enable_seqscan = off")
            .await
            .unwrap();
        let cases: [(&str, &[&(dyn tokio_postgres::types::ToSql + Sync)]); 6] = [
            (
                "SELECT sid FROM sessions WHERE user_id = $1 AND NOT revoked
                 AND idle_expires_at > $2 AND absolute_expires_at > $2 ORDER BY created_at, sid",
                &[&"alice", &0_i64],
            ),
            (
                "SELECT sid FROM sessions WHERE user_id = $1 AND NOT revoked ORDER BY created_at, sid",
                &[&"alice"],
            ),
            (
                "SELECT cursor FROM revocations WHERE cursor > $1 ORDER BY cursor LIMIT $2",
                &[&0_i64, &10_i64],
            ),
            (
                "SELECT sid FROM sessions WHERE purge_at <= $1 ORDER BY purge_at LIMIT $2",
                &[&0_i64, &10_i64],
            ),
            (
                "SELECT id FROM audit WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
                &[&"alice", &0_i64, &10_i64],
            ),
            (
                "SELECT login FROM accounts WHERE login > $1 ORDER BY login LIMIT $2",
                &[&"", &10_i64],
            ),
        ];
        for (sql, params) in cases {
            let plan: Vec<String> = client
                .query(&format!("EXPLAIN {sql}"), params)
                .await
                .unwrap()
                .iter()
                .map(|r| r.get(0))
                .collect();
            let plan = plan.join("\n");
            assert!(!plan.contains("Seq Scan"), "{sql}\n{plan}");
            assert!(!plan.contains("Sort"), "{sql} sorts:\n{plan}");
        }
    });
}
