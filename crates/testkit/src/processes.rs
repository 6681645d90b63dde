//! `redis-server` processes of a test's own (a Cluster, a replica pair, a server configured
//! apart), from `scripts/redis`'s install, and the waits around them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test support: a process that cannot be started fails the test"
)]
#![allow(
    clippy::disallowed_methods,
    reason = "waiting on real processes takes wall-clock time"
)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` on `port`, keeping its files in `dir`/`port`, with what `more` adds.
///
/// # Panics
/// If `redis-server` cannot be started (`scripts/test` installs it).
pub fn redis_server(port: u16, dir: &Path, more: impl FnOnce(&mut Command)) -> Child {
    let dir = dir.join(port.to_string());
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new("redis-server");
    cmd.args([
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
    ])
    .arg("--dir")
    .arg(&dir)
    .stdout(Stdio::null());
    more(&mut cmd);
    cmd.spawn()
        .expect("redis-server is needed: scripts/test installs it (apt-get install redis-server)")
}

/// What `redis-cli -p port args…` prints (empty if it cannot run).
pub fn cli(port: u16, args: &[&str]) -> String {
    Command::new("redis-cli")
        .args(["-p", &port.to_string()])
        .args(args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Waits (up to 30 s, checking every 100 ms) until `done`.
///
/// # Panics
/// Naming `what`, when it does not happen in time.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}
