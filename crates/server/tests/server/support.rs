//! Test support: an in-process app, a real `tessera` process, and a tiny HTTP client.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use serde_json::Value;
use tessera_server::{AppState, Config};
use tower::ServiceExt;

/// A fresh, empty directory.
pub fn temp_dir() -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("tessera-server-{}", tessera::random_id().unwrap()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// An in-process server: the app, its state and its admin key.
pub struct App {
    pub state: AppState,
    pub key: String,
    /// The data directory.
    pub dir: PathBuf,
}

impl App {
    /// An app over a fresh data directory, with extra TOML settings.
    pub async fn with(extra: &str) -> Self {
        let key = tessera::ApiKey::generate().unwrap().expose();
        Self::start(temp_dir().join("data"), key, extra).await
    }

    /// A second node on this one's data directory (and store), with the same admin key.
    pub async fn another_node(&self, extra: &str) -> Self {
        Self::start(self.dir.clone(), self.key.clone(), extra).await
    }

    async fn start(dir: PathBuf, key: String, extra: &str) -> Self {
        let toml = format!("data_dir = {dir:?}\nadmin_api_key = {key:?}\n{extra}");
        let state = tessera_server::build_state(Config::from_toml(&toml).unwrap())
            .await
            .unwrap();
        Self { state, key, dir }
    }

    pub async fn new() -> Self {
        Self::with("").await
    }

    /// Sends a request from 127.0.0.1.
    pub async fn send(
        &self,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        self.send_from([127, 0, 0, 1], method, uri, headers, body)
            .await
    }

    /// Sends a request as if from `ip` (`[u8; 4]`, `[u16; 8]` or an address).
    pub async fn send_from(
        &self,
        ip: impl Into<std::net::IpAddr>,
        method: Method,
        uri: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let peer = axum::extract::ConnectInfo(SocketAddr::new(ip.into(), 40_000));
        let mut req = Request::builder().method(method).uri(uri).extension(peer);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Body::from(body.to_owned())).unwrap();
        let response = tessera_server::http::app(self.state.clone())
            .oneshot(req)
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        Reply {
            status,
            headers,
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    fn auth(&self) -> String {
        format!("Bearer {}", self.key)
    }

    /// A JSON request with the admin key.
    pub async fn json(&self, method: Method, uri: &str, body: &str) -> Reply {
        let auth = self.auth();
        self.send(
            method,
            uri,
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            body,
        )
        .await
    }

    /// A form request with the admin key.
    pub async fn form(&self, uri: &str, body: &str) -> Reply {
        let auth = self.auth();
        let headers = [
            ("authorization", auth.as_str()),
            ("content-type", "application/x-www-form-urlencoded"),
        ];
        self.send(Method::POST, uri, &headers, body).await
    }

    /// Creates a session for `user` and returns the token response.
    pub async fn login(&self, user: &str) -> Value {
        let r = self
            .json(
                Method::POST,
                "/v1/sessions",
                &format!(r#"{{"user_id":"{user}","claims":{{"role":"admin"}}}}"#),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.body()
    }
}

/// A response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn body(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", |v| v.to_str().unwrap())
    }

    /// Asserts a problem document of `status` and `slug`.
    pub fn assert_problem(&self, status: u16, slug: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.text);
        assert_eq!(
            self.header("content-type"),
            "application/problem+json",
            "{}",
            self.text
        );
        let body = self.body();
        assert_eq!(
            body["type"],
            format!("urn:tessera:problem:{slug}"),
            "{}",
            self.text
        );
        assert_eq!(body["status"], status);
        if status == 401 {
            assert_eq!(
                self.header("www-authenticate"),
                "Bearer error=\"invalid_token\""
            );
        }
        if status == 503 {
            assert!(!self.header("retry-after").is_empty());
        }
    }
}

/// A running `tessera` process whose stderr is captured.
pub struct Process {
    pub child: Child,
    pub addr: SocketAddr,
    pub dir: PathBuf,
    pub log: Arc<Mutex<Vec<String>>>,
    /// The thread copying stderr into `log`; it ends when the process has exited.
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Process {
    /// `tessera serve` in `dir` (its data in `dir/tessera-data`) with `env` and extra `args`.
    pub fn serve(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
        cmd.current_dir(dir)
            .arg("serve")
            .arg("--listen")
            .arg("127.0.0.1:0")
            .args(args);
        cmd.env_remove("TESSERA_CONFIG");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = Arc::clone(&log);
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if line.contains("listening") {
                    // Human format: `listening addr=IP:PORT`; JSON format: `"addr":"IP:PORT"`.
                    let addr = line
                        .split("addr=")
                        .nth(1)
                        .or_else(|| line.split("\"addr\":").nth(1));
                    let addr = addr
                        .and_then(|a| a.trim().trim_start_matches('"').split(['"', ' ']).next());
                    if let Some(addr) = addr {
                        let _ = tx.send(addr.to_owned());
                    }
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                panic!("tessera did not start:\n{}", log.lock().unwrap().join("\n"))
            });
        Self {
            child,
            addr: addr.parse().unwrap(),
            dir: dir.to_owned(),
            log,
            reader: Some(reader),
        }
    }

    /// The admin key the first start wrote.
    pub fn admin_key(&self) -> String {
        std::fs::read_to_string(self.dir.join("tessera-data/admin-api-key"))
            .unwrap()
            .trim()
            .to_owned()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        for _ in 0..100 {
            if let Some(status) = self.child.try_wait().unwrap() {
                // Its last lines are in the pipe still: read them before anyone looks at the log.
                if let Some(reader) = self.reader.take() {
                    let _ = reader.join();
                }
                return status;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("tessera did not stop within 10 s of SIGTERM");
    }

    /// Everything logged so far.
    pub fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub use tessera_testkit::processes::openssl;

/// A deployment on the test Redis that `scripts/redis` starts: a key tag of its own, and the
/// key-encryption key and admin key its nodes share.
pub struct RedisDeployment {
    pub url: String,
    pub tag: String,
    pub kek: String,
    pub admin: String,
}

impl RedisDeployment {
    /// On the single Redis (`TESSERA_TEST_REDIS`, default port 16379).
    pub fn single(name: &str) -> Self {
        let url = std::env::var("TESSERA_TEST_REDIS")
            .unwrap_or_else(|_| "redis://127.0.0.1:16379/".into());
        Self::on(url, name, "start")
    }

    /// On the three-master Cluster (ports 17000-17002).
    pub fn cluster(name: &str) -> Self {
        let url = "redis+cluster://127.0.0.1:17000,127.0.0.1:17001,127.0.0.1:17002".to_owned();
        Self::on(url, name, "start-cluster")
    }

    /// Fails, naming the command to run, when nothing listens at the first address of `url`.
    fn on(url: String, name: &str, command: &str) -> Self {
        let first = url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split([',', '/']).next())
            .and_then(|addr| addr.parse::<SocketAddr>().ok())
            .unwrap_or_else(|| panic!("{url} names no address"));
        if TcpStream::connect_timeout(&first, Duration::from_secs(2)).is_err() {
            panic!("no Redis at {url}: run `scripts/redis {command}` (scripts/test does)");
        }
        Self {
            url,
            tag: format!("{{{name}-{}}}", tessera::random_id().unwrap()),
            kek: tessera::KeyEncryptionKey::generate().unwrap().expose(),
            admin: tessera::ApiKey::generate().unwrap().expose(),
        }
    }

    /// The settings of a node of this deployment.
    pub fn env(&self) -> Vec<(&str, &str)> {
        vec![
            ("TESSERA_STORE", self.url.as_str()),
            ("TESSERA_REDIS_KEY_TAG", self.tag.as_str()),
            ("TESSERA_KEY_ENCRYPTION_KEY", self.kek.as_str()),
            ("TESSERA_ADMIN_API_KEY", self.admin.as_str()),
        ]
    }
}

/// A deployment on the test PostgreSQL that `scripts/postgres start` runs: a schema of its own
/// (made with `psql`), and the key-encryption key and admin key its nodes share.
pub struct PostgresDeployment {
    pub url: String,
    pub kek: String,
    pub admin: String,
}

impl PostgresDeployment {
    /// On `TESSERA_TEST_POSTGRES_URL`, by default what `scripts/postgres start` runs.
    pub fn new(name: &str) -> Self {
        let base = std::env::var("TESSERA_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://tessera:tessera@127.0.0.1:15432/tessera".into());
        let schema = format!("{name}_{}", tessera::random_id().unwrap().to_lowercase())
            .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
        let made = Command::new("psql")
            .arg(&base)
            .args(["-qc", &format!("CREATE SCHEMA {schema}")])
            .output()
            .expect(
                "psql is needed: scripts/test installs PostgreSQL (apt-get install postgresql)",
            );
        assert!(
            made.status.success(),
            "no PostgreSQL at {base}: run `scripts/postgres start` (scripts/test does): {}",
            String::from_utf8_lossy(&made.stderr)
        );
        Self {
            url: format!("{base}?options=-csearch_path%3D{schema}"),
            kek: tessera::KeyEncryptionKey::generate().unwrap().expose(),
            admin: tessera::ApiKey::generate().unwrap().expose(),
        }
    }

    /// The settings of a node of this deployment.
    pub fn env(&self) -> Vec<(&str, &str)> {
        vec![
            ("TESSERA_STORE", self.url.as_str()),
            ("TESSERA_KEY_ENCRYPTION_KEY", self.kek.as_str()),
            ("TESSERA_ADMIN_API_KEY", self.admin.as_str()),
        ]
    }
}

/// A JSON call with API key `key` that must succeed (2xx); the answer (null when empty).
pub fn json(
    addr: SocketAddr,
    method: &str,
    path: &str,
    key: &str,
    body: &str,
) -> serde_json::Value {
    let auth = format!("Bearer {key}");
    let headers = [
        ("authorization", auth.as_str()),
        ("content-type", "application/json"),
    ];
    let (status, _, text) = http(addr, method, path, &headers, body);
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {text}"
    );
    serde_json::from_str(&text).unwrap_or_default()
}

pub fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    stream.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, head.to_owned(), body.to_owned())
}

/// Runs `tessera` with `args` in `dir` to completion: (success, stdout, stderr).
pub fn cli(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> (bool, String, String) {
    cli_with_input(dir, env, args, "")
}

/// Runs `cmd` with `input` on its standard input (a pipe), to completion.
pub fn output_with_input(cmd: &mut Command, input: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// [`cli`] with `input` on standard input (a pipe, never a terminal).
pub fn cli_with_input(
    dir: &Path,
    env: &[(&str, &str)],
    args: &[&str],
    input: &str,
) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.current_dir(dir).args(args);
    hermetic(&mut cmd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = output_with_input(&mut cmd, input);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Drops every inherited `TESSERA_*` variable, so only what a test sets applies.
fn hermetic(cmd: &mut Command) {
    for (name, _) in std::env::vars().filter(|(n, _)| n.starts_with("TESSERA_")) {
        cmd.env_remove(name);
    }
}
