//! Measures Redis memory per live session, everything included: the session (a realistic claim
//! set and device: a `role` claim, a browser's user agent, an address), the user's index, the
//! purge index, and, with audit, the sign-in's audit event. Creates N sessions per case, one
//! or five per user, with and without audit, and divides the growth of `used_memory`; then
//! refreshes each once as the server does (its client address and per-session rate recorded)
//! and measures again: a session that has been refreshed also keeps its previous token's hash.
//!
//! Usage: `scripts/bench footprint`, or
//! `cargo run --release -p tessera-redis --example footprint -- [redis-url] [N]`.
//! Give it a database of its own on an otherwise idle Redis (`scripts/redis start`, then e.g.
//! redis://127.0.0.1:16379/9): it is emptied before each case.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a measuring tool")]

use std::sync::Arc;

use serde_json::json;
use std::time::Duration;

use tessera::store::{RateCharge, RotateOutcome, Rotation, SessionStore};
use tessera::{
    AuditEvent, AuditKind, Device, Quota, RefreshState, Session, SessionId, Timestamp, TokenHash,
};
use tessera_redis::RedisStore;

const USER_AGENT: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

async fn used_memory(conn: &mut redis::aio::MultiplexedConnection) -> i64 {
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(conn)
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
    // Account ids as the built-in sign-in makes them: `usr_` and 22 characters.
    let user = format!("usr_{:0>22}", i / per_user);
    let mut claims = serde_json::Map::new();
    claims.insert("role".into(), json!("member"));
    Session {
        claims,
        device: Device {
            user_agent: Some(USER_AGENT.into()),
            ip: Some(format!("203.0.113.{}", i % 250)),
            label: None,
        },
        ..Session::started(
            SessionId::for_user(&user).unwrap(),
            user,
            now,
            Timestamp::from_secs(now.as_secs() + 7 * 86_400),
            Timestamp::from_secs(now.as_secs() + 30 * 86_400),
            TokenHash::of(&i.to_be_bytes()),
        )
    }
}

/// The refresh the server makes of a session it just created, a minute later.
fn refresh(s: &Session) -> Rotation {
    let at = s.created_at.plus(Duration::from_secs(60));
    Rotation {
        expected_generation: 1,
        presented: s.refresh.current,
        next: RefreshState {
            generation: 2,
            current: TokenHash::of(s.sid.as_bytes()),
            previous: Some(s.refresh.current),
            rotated_at: at,
        },
        at,
        idle_expires_at: at.plus(Duration::from_secs(7 * 86_400)),
        // The server's default per-session refresh rate.
        rate: Some(RateCharge {
            key: format!("refresh:session:{}", s.sid),
            quota: Quota::new(20, Duration::from_secs(60), 10).unwrap(),
        }),
        client: s.device.ip.clone(),
    }
}

/// Runs `step` on each of `sessions` from 32 tasks.
async fn each<F, Fut>(sessions: &Arc<Vec<Session>>, step: F)
where
    F: Fn(Session) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let tasks: Vec<_> = (0..32)
        .map(|worker| {
            let (sessions, step) = (Arc::clone(sessions), step.clone());
            tokio::spawn(async move {
                for s in sessions.iter().skip(worker).step_by(32) {
                    step(s.clone()).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

/// Bytes per session once created, and once refreshed.
async fn case(url: &str, n: usize, per_user: usize, audit: bool) -> (i64, i64) {
    let mut conn = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    redis::cmd("FLUSHDB").exec_async(&mut conn).await.unwrap();
    let store = Arc::new(RedisStore::connect(url, "{tessera}").await.unwrap());
    let now = Timestamp::from_secs(1_700_000_000);
    let sessions = Arc::new(
        (0..n)
            .map(|i| session(i, per_user, now))
            .collect::<Vec<_>>(),
    );
    let before = used_memory(&mut conn).await;
    let per_session = |used: i64| (used - before) / i64::try_from(n).unwrap();
    let creating = Arc::clone(&store);
    each(&sessions, move |s| {
        let store = Arc::clone(&creating);
        async move {
            let event = AuditEvent {
                at: now,
                user_id: Some(s.user_id.clone()),
                sid: Some(s.sid),
                ip: s.device.ip.clone(),
                kind: AuditKind::SessionCreated,
            };
            store
                .create(&s, None, audit.then_some(&event))
                .await
                .unwrap();
        }
    })
    .await;
    let created = per_session(used_memory(&mut conn).await);
    each(&sessions, move |s| {
        let store = Arc::clone(&store);
        async move {
            let outcome = store.rotate(&s.sid, &refresh(&s)).await.unwrap();
            assert!(matches!(outcome, RotateOutcome::Rotated(_)), "{outcome:?}");
        }
    })
    .await;
    (created, per_session(used_memory(&mut conn).await))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "redis://127.0.0.1:16379/9".into());
    let n: usize = args.get(2).map_or(100_000, |s| s.parse().unwrap());
    println!("bytes of Redis memory per live session ({n} sessions per case)");
    println!("                            created  refreshed once");
    for per_user in [1, 5] {
        for audit in [false, true] {
            let (created, refreshed) = case(&url, n, per_user, audit).await;
            let audit = if audit { "with" } else { "without" };
            println!("{per_user} per user, {audit:>7} audit: {created:>7} {refreshed:>15}");
        }
    }
}
