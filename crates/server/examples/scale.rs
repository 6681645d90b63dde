//! Does any operation slow down as the store fills? `scripts/bench scale` runs this: it fills
//! a store with live sessions (ten per user), then measures verify, refresh, create, listing a
//! user's sessions and revoking all of a user's sessions, each from 8 concurrent tasks, and
//! prints one line per operation and size.
//!
//! Usage: `scale sqlite DIR SIZE...` | `scale redis URL SIZE...` | `scale audit-bytes DIR`
//! (the database bytes one refresh adds, routine refreshes being kept on the session).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods,
    clippy::disallowed_types,
    reason = "a benchmark: it chooses the system clock, measures wall-clock latency and stops at the first failure"
)]

use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tessera::{
    Clock, NewSession, Quota, RefreshToken, RevokeReason, ServerSecret, Session, SessionId,
    SessionManager, Settings, Store, SystemClock, TokenHash, Validation,
};
use tessera_redis::RedisStore;
use tessera_sqlite::SqliteStore;

/// Concurrent tasks per measured operation.
const TASKS: u64 = 8;
/// Sessions per user.
const PER_USER: u64 = 10;
/// Operations measured per kind and size.
const OPS: u64 = 20_000;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let sizes = || args[2..].iter().map(|s| s.parse::<u64>().expect("a size"));
    match args.first().map(String::as_str) {
        Some("sqlite") => {
            for size in sizes() {
                let path = PathBuf::from(&args[1]).join(format!("scale-{size}.db"));
                let _ = std::fs::remove_file(&path);
                run("sqlite", SqliteStore::open(&path).unwrap(), size, None).await;
            }
        }
        Some("redis") => {
            for size in sizes() {
                flush(&args[1]).await;
                let store = RedisStore::connect(&args[1], "{scale}").await.unwrap();
                let probe = redis::Client::open(args[1].as_str()).unwrap();
                run("redis", store, size, Some(probe)).await;
                flush(&args[1]).await;
            }
        }
        Some("audit-bytes") => audit_bytes(Path::new(&args[1])).await,
        _ => eprintln!(
            "usage: scale sqlite DIR SIZE... | scale redis URL SIZE... | scale audit-bytes DIR"
        ),
    }
}

async fn flush(url: &str) {
    let client = redis::Client::open(url).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let () = redis::cmd("FLUSHDB").query_async(&mut conn).await.unwrap();
}

fn settings() -> Settings {
    let mut settings = Settings::new(
        Validation::new("https://bench.example", "api"),
        ServerSecret::generate().unwrap(),
    );
    // Charged on every refresh, as the server does, but never tripping.
    settings.policy.refresh_rate =
        Some(Quota::new(1_000_000, Duration::from_secs(1), 1_000_000).unwrap());
    settings
}

/// The refresh secret of the `i`th filled session: derived, so nothing is kept per session.
fn secret(i: u64) -> [u8; 32] {
    *TokenHash::of(&i.to_le_bytes()).as_bytes()
}

/// The id of the `i`th filled session, carrying its user's shard as real ids do.
fn sid(i: u64) -> SessionId {
    let mut bytes = [0u8; 16];
    bytes[0] = SessionId::shard_of(&user(i));
    bytes[1..9].copy_from_slice(&i.to_le_bytes());
    bytes[9..].copy_from_slice(b"scalebc");
    SessionId::from_bytes(bytes)
}

fn user(i: u64) -> String {
    format!("user-{}", i / PER_USER)
}

/// Writes `n` live sessions straight through the store (the manager would add an audit event
/// per session, which is not what is measured).
async fn fill<S: Store + Clone + 'static>(store: &S, n: u64) {
    let now = SystemClock.now();
    let next = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..64)
        .map(|_| {
            let (store, next) = (store.clone(), Arc::clone(&next));
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        return;
                    }
                    let session = Session::started(
                        sid(i),
                        user(i),
                        now,
                        now.plus(Duration::from_secs(3600)),
                        now.plus(Duration::from_secs(7200)),
                        TokenHash::of(&secret(i)),
                    );
                    store.create(&session, None, None).await.unwrap();
                }
            })
        })
        .collect();
    for w in workers {
        w.await.unwrap();
    }
}

/// The CPU time Redis's main thread has used so far, in microseconds (user and system: the
/// commands, their scripts and the network).
async fn redis_cpu_micros(probe: &redis::Client) -> f64 {
    let mut conn = probe.get_multiplexed_async_connection().await.unwrap();
    let info: String = redis::cmd("INFO")
        .arg("cpu")
        .query_async(&mut conn)
        .await
        .unwrap();
    let seconds: f64 = info
        .lines()
        .filter_map(|line| line.strip_prefix("used_cpu_"))
        .filter(|line| line.contains("_main_thread:"))
        .filter_map(|line| line.split(':').nth(1)?.trim().parse::<f64>().ok())
        .sum();
    seconds * 1e6
}

/// Runs `op(k)` for k in 0..ops from [`TASKS`] tasks; prints throughput and latency (and,
/// with a Redis `probe`, Redis's CPU time per operation).
async fn measure<F, Fut>(label: &str, size: u64, ops: u64, probe: Option<&redis::Client>, op: F)
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let cpu_before = match probe {
        Some(probe) => redis_cpu_micros(probe).await,
        None => 0.0,
    };
    let op = Arc::new(op);
    let next = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..TASKS)
        .map(|_| {
            let (op, next) = (Arc::clone(&op), Arc::clone(&next));
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= ops {
                        return latencies;
                    }
                    let t = Instant::now();
                    op(k).await;
                    latencies.push(t.elapsed());
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.unwrap());
    }
    let elapsed = started.elapsed();
    let server = match probe {
        Some(probe) => format!(
            "  redis CPU {:>5.1} µs/op",
            (redis_cpu_micros(probe).await - cpu_before) / ops as f64
        ),
        None => String::new(),
    };
    all.sort();
    let pct = |p: usize| all[(all.len() * p / 100).min(all.len() - 1)].as_secs_f64() * 1e6;
    println!(
        "{label:<17} {size:>8} sessions {:>8.0} ops/s  p50 {:>6.0} µs  p99 {:>6.0} µs{server}",
        ops as f64 / elapsed.as_secs_f64(),
        pct(50),
        pct(99)
    );
}

/// A permutation of 0..n, so successive operations touch sessions spread over the store.
fn spread(k: u64, n: u64) -> u64 {
    (k.wrapping_mul(2_654_435_761)) % n
}

async fn run<S: Store + Clone + 'static>(
    name: &str,
    store: S,
    size: u64,
    probe: Option<redis::Client>,
) {
    let probe = probe.as_ref();
    let started = Instant::now();
    fill(&store, size).await;
    eprintln!(
        "{name}: filled {size} sessions in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let manager = Arc::new(
        SessionManager::start(store, SystemClock, settings())
            .await
            .unwrap(),
    );
    let users = size / PER_USER;
    let issued = manager
        .create(NewSession::for_user("verifier"))
        .await
        .unwrap();
    let access = Arc::new(issued.access_token.expose().to_owned());
    let label = |op: &str| format!("{name} {op}");
    let (m, a) = (Arc::clone(&manager), Arc::clone(&access));
    measure(&label("verify"), size, OPS, probe, move |_| {
        let (m, a) = (Arc::clone(&m), Arc::clone(&a));
        async move {
            m.verify(&a).unwrap();
        }
    })
    .await;
    let m = Arc::clone(&manager);
    measure(&label("refresh"), size, OPS.min(size), probe, move |k| {
        let m = Arc::clone(&m);
        async move {
            let i = spread(k, size);
            let token = RefreshToken::from_parts(sid(i), 1, secret(i)).expose();
            m.refresh(&token).await.unwrap();
        }
    })
    .await;
    let m = Arc::clone(&manager);
    measure(&label("create"), size, OPS, probe, move |k| {
        let m = Arc::clone(&m);
        async move {
            // New users: the lists and revocations measured next see ten sessions per user.
            m.create(NewSession::for_user(format!("new-user-{k}")))
                .await
                .unwrap();
        }
    })
    .await;
    let m = Arc::clone(&manager);
    measure(&label("list"), size, OPS, probe, move |k| {
        let m = Arc::clone(&m);
        async move {
            let u = format!("user-{}", spread(k + 7, users));
            assert!(!m.list(&u).await.unwrap().is_empty());
        }
    })
    .await;
    let m = Arc::clone(&manager);
    measure(
        &label("revoke-all"),
        size,
        OPS.min(users),
        probe,
        move |k| {
            let m = Arc::clone(&m);
            async move {
                // Distinct users: each revocation ends that user's ten (or eleven) sessions.
                let u = format!("user-{}", spread(k, users));
                m.revoke_user(&u, None, RevokeReason::Admin).await.unwrap();
            }
        },
    )
    .await;
}

/// The database bytes per refresh: 1000 sessions refreshed 20 times each, the file measured
/// (after a checkpoint) before and after.
async fn audit_bytes(dir: &Path) {
    const SESSIONS: u64 = 1000;
    const ROUNDS: u64 = 20;
    let path = dir.join("audit-bytes.db");
    let _ = std::fs::remove_file(&path);
    let manager = SessionManager::start(SqliteStore::open(&path).unwrap(), SystemClock, settings())
        .await
        .unwrap();
    let mut tokens = Vec::new();
    for i in 0..SESSIONS {
        let issued = manager.create(NewSession::for_user(user(i))).await.unwrap();
        tokens.push(issued.refresh_token.expose());
    }
    let before = db_bytes(&path);
    for _ in 0..ROUNDS {
        for token in &mut tokens {
            *token = manager.refresh(token).await.unwrap().refresh_token.expose();
        }
    }
    let after = db_bytes(&path);
    println!(
        "sqlite: {SESSIONS} sessions x {ROUNDS} refreshes: {before} -> {after} bytes = {:.1} bytes per refresh",
        (after as f64 - before as f64) / (SESSIONS * ROUNDS) as f64
    );
}

/// The pages the database uses, once the write-ahead log is folded in.
fn db_bytes(path: &Path) -> u64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    let _: (i64, i64, i64) = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    let pages: u64 = conn
        .query_row("PRAGMA page_count", [], |r| r.get(0))
        .unwrap();
    let free: u64 = conn
        .query_row("PRAGMA freelist_count", [], |r| r.get(0))
        .unwrap();
    let size: u64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    (pages - free) * size
}
