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

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` on `port`, keeping its files in `dir`/`port`, with what `more` adds
/// (which may make `port` a TLS one: see [`TestCa::redis_args`]).
///
/// # Panics
/// If `redis-server` cannot be started (`scripts/test` installs it).
pub fn redis_server(port: u16, dir: &Path, more: impl FnOnce(&mut Command)) -> Child {
    let dir = dir.join(port.to_string());
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new("redis-server");
    cmd.args(["--bind", "127.0.0.1", "--save", ""])
        .arg("--dir")
        .arg(&dir)
        .stdout(Stdio::null());
    more(&mut cmd);
    if !cmd.get_args().any(|a| a == "--tls-port") {
        cmd.args(["--port", &port.to_string()]);
    }
    cmd.spawn()
        .expect("redis-server is needed: scripts/test installs it (apt-get install redis-server)")
}

/// A `redis-server` of a test's own on `port` (see [`redis_server`]), with `args` added; it
/// may be SIGKILLed and started again on its files, and is stopped (its files removed) when
/// dropped.
pub struct OwnRedis {
    /// Its port, on 127.0.0.1.
    pub port: u16,
    dir: PathBuf,
    args: Vec<String>,
    child: Child,
}

impl OwnRedis {
    /// Starts it, keeping its files in `dir`/`port`, and waits until it answers.
    ///
    /// # Panics
    /// If it cannot be started, or does not answer within 30 s.
    pub fn start(port: u16, dir: &Path, args: &[&str]) -> Self {
        let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
        let child = Self::spawn(port, dir, &args);
        Self {
            port,
            dir: dir.to_owned(),
            args,
            child,
        }
    }

    fn spawn(port: u16, dir: &Path, args: &[String]) -> Child {
        let child = redis_server(port, dir, |cmd| {
            cmd.args(args);
        });
        wait_until(&format!("redis-server on {port} answers"), || {
            cli(port, &["ping"]).contains("PONG")
        });
        child
    }

    /// `redis://127.0.0.1:port/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// SIGKILL: no shutdown, no final fsync.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Starts it again on its files (after [`OwnRedis::kill`]).
    pub fn restart(&mut self) {
        self.child = Self::spawn(self.port, &self.dir, &self.args);
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(self.dir.join(self.port.to_string()));
    }
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

/// Runs `openssl args…` in `dir`, for test keys and certificates.
///
/// # Panics
/// If `openssl` cannot run (`scripts/test` installs it) or fails.
pub fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl is needed: scripts/test installs it (apt-get install openssl)");
    assert!(status.success(), "openssl {args:?}");
}

/// A certificate authority made for a test (`openssl`, P-256) and a server certificate it
/// signed for 127.0.0.1 and localhost, as PEM files in a directory.
pub struct TestCa {
    /// The authority's certificate: what a client trusts.
    pub ca: PathBuf,
    /// The server's certificate.
    pub cert: PathBuf,
    /// The server's private key.
    pub key: PathBuf,
}

impl TestCa {
    /// Makes the authority and the server certificate in `dir` (created if missing).
    ///
    /// # Panics
    /// If `openssl` cannot make them (`scripts/test` installs it).
    pub fn new(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let openssl = |args: &[&str]| openssl(dir, args);
        let key = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
        ];
        openssl(
            &[
                &["req", "-x509", "-days", "2", "-subj", "/CN=Tessera test CA"][..],
                &key,
                &["-keyout", "ca.key", "-out", "ca.pem"],
            ]
            .concat(),
        );
        openssl(
            &[
                &["req", "-subj", "/CN=127.0.0.1"][..],
                &key,
                &["-keyout", "server.key", "-out", "server.csr"],
            ]
            .concat(),
        );
        std::fs::write(
            dir.join("san.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap();
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "san.ext",
            "-out",
            "server.pem",
        ]);
        Self {
            ca: dir.join("ca.pem"),
            cert: dir.join("server.pem"),
            key: dir.join("server.key"),
        }
    }

    /// The `redis-server` arguments serving TLS on `port` with this certificate (and no plain
    /// port), clients not asked for certificates of their own.
    pub fn redis_args(&self, port: u16) -> Vec<String> {
        let path = |p: &PathBuf| p.display().to_string();
        [
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--tls-cert-file",
            &path(&self.cert),
            "--tls-key-file",
            &path(&self.key),
            "--tls-ca-cert-file",
            &path(&self.ca),
            "--tls-auth-clients",
            "no",
        ]
        .iter()
        .map(|a| (*a).to_owned())
        .collect()
    }
}
