//! The SQLite store: the whole conformance suite, and durability across SIGKILL.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "integration tests")]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use tessera::SessionId;
use tessera::store::{CreateOutcome, RotateOutcome, SessionStore};
use tessera_sqlite::SqliteStore;
use tessera_testkit::durability::{rotation, session};

/// A fresh database file in the system temp directory.
fn fresh_path() -> PathBuf {
    let dir = std::env::temp_dir().join("tessera-sqlite-tests");
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(format!("{}.db", SessionId::generate().unwrap()))
}

async fn store() -> SqliteStore {
    SqliteStore::open(fresh_path()).unwrap()
}

tessera_testkit::conformance_tests!(store);

const CHILD_DB: &str = "TESSERA_DURABILITY_DB";
const ACKNOWLEDGED: usize = 300;

/// The child process of `sigkill_loses_no_acknowledged_write`: creates and then refreshes
/// sessions concurrently forever, printing each id only once both writes were acknowledged.
#[test]
#[ignore = "helper process, started by sigkill_loses_no_acknowledged_write"]
fn durability_child_writer() {
    let path = std::env::var(CHILD_DB).expect("run by the durability test");
    tessera_testkit::run(async move {
        let store = SqliteStore::open(path).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for worker in 0..8 {
            let (store, tx) = (store.clone(), tx.clone());
            tokio::spawn(async move {
                for i in (worker..).step_by(8) {
                    let s = session(i);
                    assert_eq!(
                        store.create(&s, None, None).await.unwrap(),
                        CreateOutcome::Created { evicted: vec![] }
                    );
                    let rotated = store.rotate(&s.sid, &rotation(&s)).await.unwrap();
                    assert!(matches!(rotated, RotateOutcome::Rotated(_)));
                    if tx.send(s.sid).is_err() {
                        return;
                    }
                }
            });
        }
        let mut out = std::io::stdout().lock();
        while let Some(sid) = rx.recv().await {
            writeln!(out, "{sid}").unwrap();
            out.flush().unwrap();
        }
    });
}

#[test]
fn sigkill_loses_no_acknowledged_write() {
    let path = fresh_path();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "durability_child_writer",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DB, &path)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut acknowledged: Vec<SessionId> = Vec::new();
    while acknowledged.len() < ACKNOWLEDGED {
        let line = lines.next().expect("child stopped early").unwrap();
        if let Ok(sid) = line.trim().parse() {
            acknowledged.push(sid);
        }
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no flush, no goodbye
    child.wait().unwrap();
    tessera_testkit::run(async move {
        let store = SqliteStore::open(&path).unwrap();
        for sid in &acknowledged {
            let got = store.get(sid).await.unwrap();
            let got = got.unwrap_or_else(|| panic!("acknowledged session {sid} was lost"));
            assert_eq!(
                (got.refresh.generation, got.refreshes),
                (2, 1),
                "the acknowledged refresh of {sid} was lost"
            );
        }
    });
}
