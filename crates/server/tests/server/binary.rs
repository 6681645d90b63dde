//! The real `tessera` binary: the README walkthrough, CLI, logs, start-up checks, shutdown.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::support::{PostgresDeployment, Process, RedisDeployment, cli, http, openssl, temp_dir};
use tessera_testkit::processes::OwnRedis;

fn json_headers(key: &str) -> [(&'static str, String); 2] {
    [
        ("authorization", format!("Bearer {key}")),
        ("content-type", "application/json".into()),
    ]
}

fn post(server: &Process, key: &str, path: &str, body: &str) -> (u16, Value) {
    let h = json_headers(key);
    let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, _, body) = http(server.addr, "POST", path, &h, body);
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// The README's walkthrough block, run verbatim with bash against a real server.
#[test]
fn readme_walkthrough_works_verbatim() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let section = readme
        .split("## Walkthrough")
        .nth(1)
        .expect("README has a Walkthrough section");
    let script = section
        .split("```sh\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .expect("a sh block");
    let dir = temp_dir();
    let server = Process::serve(&dir, &[], &[]);
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", script])
        .current_dir(&dir)
        .env("TESSERA_URL", format!("http://{}", server.addr))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "walkthrough failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(r#""active":true"#), "{stdout}");
    assert!(
        stdout.contains("urn:tessera:problem:invalid-token"),
        "{stdout}"
    );
}

/// A full flow at trace level: no token, key or secret appears anywhere in the log.
#[test]
fn no_secret_is_ever_logged() {
    let dir = temp_dir();
    let mut server = Process::serve(&dir, &[("TESSERA_LOG_LEVEL", "trace")], &[]);
    let key = server.admin_key();
    let (_, created) = post(
        &server,
        &key,
        "/v1/sessions",
        r#"{"user_id":"alice","claims":{"role":"admin"}}"#,
    );
    let (a1, r1) = (
        created["access_token"].as_str().unwrap().to_owned(),
        created["refresh_token"].as_str().unwrap().to_owned(),
    );
    let (_, refreshed) = post(
        &server,
        &key,
        "/v1/sessions/refresh",
        &format!(r#"{{"refresh_token":"{r1}"}}"#),
    );
    let (a2, r2) = (
        refreshed["access_token"].as_str().unwrap().to_owned(),
        refreshed["refresh_token"].as_str().unwrap().to_owned(),
    );
    post(
        &server,
        &key,
        "/v1/sessions/verify",
        &format!(r#"{{"access_token":"{a2}"}}"#),
    );
    post(
        &server,
        &key,
        "/v1/sessions/refresh",
        &format!(r#"{{"refresh_token":"{r1}"}}"#),
    ); // grace replay
    let form = [
        ("authorization", format!("Bearer {key}")),
        ("content-type", "application/x-www-form-urlencoded".into()),
    ];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    http(
        server.addr,
        "POST",
        "/oauth2/introspect",
        &form,
        &format!("token={r2}"),
    );
    http(
        server.addr,
        "POST",
        "/oauth2/revoke",
        &form,
        &format!("token={a2}"),
    );
    http(
        server.addr,
        "POST",
        "/oauth2/revoke",
        &form,
        &format!("token={r2}"),
    );
    http(
        server.addr,
        "POST",
        "/v1/sessions",
        &[("authorization", "Bearer tsk_wrong-key-attempt")],
        "{}",
    );
    assert!(server.terminate().success());
    let log = server.log_text();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "trace logging was on"
    );
    assert!(
        log.contains(created["session_id"].as_str().unwrap()),
        "logs carry the sid instead"
    );
    let signature = |t: &str| t.rsplit('.').next().unwrap().to_owned();
    for secret in [
        key.clone(),
        a1.clone(),
        a2.clone(),
        r1,
        r2,
        signature(&a1),
        signature(&a2),
        key[4..24].to_owned(),
    ] {
        assert!(
            !log.contains(&secret),
            "a secret reached the log: {}…",
            &secret[..12]
        );
    }
    assert!(!log.contains("tsk_wrong-key-attempt"));
}

#[test]
fn the_admin_key_file_is_private_and_configurable() {
    let dir = temp_dir();
    let first = Process::serve(&dir, &[], &[]);
    let path = dir.join("tessera-data/admin-api-key");
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert_eq!(
        std::fs::metadata(dir.join("tessera-data"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    assert_eq!(
        std::fs::metadata(dir.join("tessera-data/tessera.db"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let old = first.admin_key();
    drop(first);
    let (ok, new_key, _) = cli(&dir, &[], &["api-key", "new"]);
    assert!(ok);
    let new_key = new_key.trim().to_owned();
    let second = Process::serve(&dir, &[("TESSERA_ADMIN_API_KEY", &new_key)], &[]);
    assert_eq!(
        post(&second, &new_key, "/v1/sessions", r#"{"user_id":"a"}"#).0,
        201
    );
    assert_eq!(
        post(&second, &old, "/v1/sessions", r#"{"user_id":"a"}"#).0,
        401,
        "the old key is replaced"
    );
    // The file of the replaced key is gone, and the log names the key in force by fingerprint.
    assert!(!path.exists(), "no file holds a key that no longer works");
    let hash = tessera::ApiKey::parse(&new_key).unwrap().hash();
    let fingerprint: String = hash.as_bytes()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let log = second.log_text();
    assert!(
        log.contains("admin API key in force") && log.contains(&fingerprint),
        "{log}"
    );
    assert!(!log.contains(&new_key[4..]), "never the key itself");
}

/// A leaked bootstrap admin key is revoked from the command line while the server runs: the
/// server refuses it at its next key reload, a start with it configured is refused, and a
/// start without one makes a new key.
#[test]
fn a_revoked_bootstrap_admin_key_works_nowhere_again() {
    let dir = temp_dir();
    let server = Process::serve(&dir, &[], &[]);
    let old = server.admin_key();
    let (ok, out, err) = cli(&dir, &[], &["api-key", "revoke", "admin"]);
    assert!(
        ok && out.contains("revoked the bootstrap admin key"),
        "{out}{err}"
    );
    let mut status = 0;
    for _ in 0..250 {
        status = post(&server, &old, "/v1/sessions", r#"{"user_id":"a"}"#).0;
        if status == 401 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(status, 401, "refused at the server's next key reload");
    let (ok, _, err) = cli(&dir, &[], &["api-key", "revoke", "admin"]);
    assert!(!ok && err.contains("revoked already"), "{err}");
    drop(server);
    let (ok, _, err) = cli(
        &dir,
        &[("TESSERA_ADMIN_API_KEY", &old)],
        &["serve", "--listen", "127.0.0.1:0"],
    );
    assert!(!ok && err.contains("revoked"), "{err}");
    let next = Process::serve(&dir, &[], &[]);
    let new = next.admin_key();
    assert_ne!(new, old);
    assert_eq!(
        post(&next, &new, "/v1/sessions", r#"{"user_id":"a"}"#).0,
        201
    );
    assert_eq!(
        post(&next, &old, "/v1/sessions", r#"{"user_id":"a"}"#).0,
        401
    );
}

#[test]
fn cli_manages_keys_and_sessions_of_a_running_server() {
    let dir = temp_dir();
    let server = Process::serve(&dir, &[], &[]);
    let key = server.admin_key();
    let (_, created) = post(
        &server,
        &key,
        "/v1/sessions",
        r#"{"user_id":"alice","device":{"label":"laptop"}}"#,
    );
    let sid = created["session_id"].as_str().unwrap();
    let access = created["access_token"].as_str().unwrap();

    let (ok, out, err) = cli(&dir, &[], &["keys", "list"]);
    assert!(ok, "{err}");
    assert_eq!(
        out.lines().filter(|l| l.contains("EdDSA")).count(),
        2,
        "{out}"
    );
    assert!(out.contains("active") && out.contains("next"));
    let (ok, out, _) = cli(&dir, &[], &["keys", "rotate"]);
    assert!(ok && out.contains("retired"), "{out}");
    let retired = out
        .lines()
        .find(|l| l.contains("retired"))
        .and_then(|l| l.split_whitespace().next())
        .unwrap()
        .to_owned();
    let (ok, out, err) = cli(&dir, &[], &["keys", "withdraw", &retired]);
    assert!(
        ok && out.contains("withdrawn") && !out.contains(&retired),
        "{out}{err}"
    );
    let (ok, _, err) = cli(&dir, &[], &["keys", "withdraw", "no-such-kid"]);
    assert!(!ok && err.contains("no key"), "{err}");

    let (ok, out, _) = cli(&dir, &[], &["sessions", "list", "--user", "alice"]);
    assert!(ok && out.contains(sid) && out.contains("laptop"), "{out}");
    let (ok, out, _) = cli(&dir, &[], &["sessions", "revoke", sid]);
    assert!(ok && out.contains("revoked"), "{out}");
    let (ok, _, err) = cli(&dir, &[], &["sessions", "revoke", "not-a-sid"]);
    assert!(!ok && err.contains("not a session id"), "{err}");

    // The running server learns of the CLI's revocation from the store within a second or two.
    let verify = format!(r#"{{"access_token":"{access}"}}"#);
    let mut status = 200;
    for _ in 0..50 {
        status = post(&server, &key, "/v1/sessions/verify", &verify).0;
        if status == 401 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(status, 401, "the server never saw the CLI's revocation");

    let (ok, out, _) = cli(&dir, &[], &["purge"]);
    assert!(ok && out.starts_with("purged 1 "), "{out}");
}

#[test]
fn help_is_complete() {
    let dir = temp_dir();
    let (ok, out, _) = cli(&dir, &[], &["--help"]);
    assert!(ok);
    for word in [
        "serve",
        "keys",
        "sessions",
        "purge",
        "api-key",
        "--config",
        "--data-dir",
        "--log-format",
    ] {
        assert!(out.contains(word), "--help lacks {word}:\n{out}");
    }
    for (args, words) in [
        (vec!["serve", "--help"], vec!["--listen"]),
        (
            vec!["keys", "--help"],
            vec!["list", "rotate", "withdraw", "rewrap", "new-kek"],
        ),
        (vec!["api-key", "--help"], vec!["create", "list", "revoke"]),
        (
            vec!["api-key", "create", "--help"],
            vec!["--name", "--scope"],
        ),
        (vec!["sessions", "--help"], vec!["list", "revoke"]),
        (vec!["sessions", "list", "--help"], vec!["--user"]),
    ] {
        let (ok, out, _) = cli(&dir, &[], &args);
        assert!(ok, "{args:?}");
        for w in words {
            assert!(out.contains(w), "{args:?} help lacks {w}");
        }
    }
}

#[test]
fn unsafe_configuration_stops_start_up_with_advice() {
    let dir = temp_dir();
    std::fs::write(
        dir.join("bad.toml"),
        "listen = \"127.0.0.1:0\"\nacess_ttl = \"5m\"\n",
    )
    .unwrap();
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);
    let cases: [Case; 9] = [
        (
            &[("TESSERA_STORE", "redis://127.0.0.1:1/")],
            &["serve"],
            "key_encryption_key is required with a shared store",
        ),
        (
            &[(
                "TESSERA_KEY_ENCRYPTION_KEY",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            )],
            &["serve"],
            "must be random",
        ),
        (
            &[
                ("TESSERA_COOKIE_SECURE", "false"),
                ("TESSERA_BEHIND_TLS_PROXY", "true"),
            ],
            &["serve", "--listen", "0.0.0.0:0"],
            "cookie_secure",
        ),
        (
            &[],
            &["serve", "--listen", "0.0.0.0:0"],
            "refusing to serve plain HTTP",
        ),
        (
            &[("TESSERA_TLS_CERT", "cert.pem")],
            &["serve"],
            "both tls_cert and tls_key",
        ),
        (
            &[
                ("TESSERA_ALGORITHM", "HS256"),
                ("TESSERA_HS256_SECRET", "short"),
            ],
            &["serve"],
            "at least 32 bytes",
        ),
        (
            &[
                ("TESSERA_ALGORITHM", "HS256"),
                ("TESSERA_HS256_SECRET", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
            ],
            &["serve"],
            "too little entropy",
        ),
        (&[], &["--config", "bad.toml", "serve"], "acess_ttl"),
        (
            &[("TESSERA_IDLE_TIMEOUT", "40d")],
            &["serve"],
            "absolute_timeout",
        ),
    ];
    for (env, args, needle) in cases {
        let (ok, _, err) = cli(&dir, env, args);
        assert!(!ok, "{args:?} started");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// A command that reads or changes a server's data, run where there is none, says so and
/// leaves nothing behind (no new database with fresh keys).
#[test]
fn commands_in_the_wrong_folder_create_nothing() {
    let dir = temp_dir();
    for args in [
        vec!["keys", "list"],
        vec!["keys", "rotate"],
        vec!["keys", "withdraw", "some-kid"],
        vec!["keys", "rewrap"],
        vec!["sessions", "list", "--user", "alice"],
        vec!["sessions", "revoke", "AAAAAAAAAAAAAAAAAAAAAA"],
        vec!["purge"],
        vec!["api-key", "list"],
        vec!["api-key", "revoke", "orders"],
    ] {
        let (ok, _, err) = cli(&dir, &[], &args);
        assert!(!ok && err.contains("no database at"), "{args:?}: {err}");
    }
    assert!(!dir.join("tessera-data").exists(), "nothing was created");
}

/// Other tools' `TESSERA_*` variables (the README's `TESSERA_URL`, a harness's `TESSERA_BIN`)
/// do not stop the server; a likely typo is named in a warning with the setting it resembles.
#[test]
fn unknown_variables_are_warned_about_not_fatal() {
    let env = [
        ("TESSERA_URL", "http://127.0.0.1:8080"),
        ("TESSERA_BIN", "/usr/local/bin/tessera"),
        ("TESSERA_ACCES_TTL", "5m"),
    ];
    let server = Process::serve(&temp_dir(), &env, &[]);
    let log = server.log_text();
    assert!(
        log.contains(
            "TESSERA_ACCES_TTL is not a setting and is ignored; did you mean TESSERA_ACCESS_TTL?"
        ),
        "{log}"
    );
    assert!(log.contains("TESSERA_URL is not a setting"), "{log}");
    let (ok, out, err) = cli(server.dir.as_path(), &env, &["keys", "list"]);
    assert!(ok, "{err}");
    assert!(out.contains("active"), "{out}");
}

/// SIGTERM lets a request already in flight finish, then the process exits cleanly.
#[test]
fn sigterm_finishes_in_flight_requests() {
    let dir = temp_dir();
    let mut server = Process::serve(&dir, &[], &[]);
    let key = server.admin_key();
    let body = r#"{"user_id":"alice"}"#;
    let mut stream = TcpStream::connect(server.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "POST /v1/sessions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(300)); // the request is now in flight, waiting for its body
    let pid = server.child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    stream.write_all(body.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 201"), "{response}");
    assert!(server.terminate().success());
    assert!(server.log_text().contains("stopped"));
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = temp_dir();
    let mut server = Process::serve(&dir, &[], &["--log-format", "json"]);
    http(
        server.addr,
        "GET",
        "/healthz",
        &[("x-request-id", "req-42")],
        "",
    );
    assert!(server.terminate().success());
    let log = server.log_text();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("not JSON: {l}")))
        .collect();
    let request = lines
        .iter()
        .find(|l| l["message"] == "request")
        .expect("an access log line");
    assert_eq!(request["span"]["request_id"], "req-42");
    assert_eq!(request["status"], 200);
    assert!(lines.iter().any(|l| l["message"] == "listening"));
}

/// A self-signed certificate for 127.0.0.1, written as `<name>.crt` and `<name>.key` in `dir`.
fn certificate(dir: &std::path::Path, name: &str) {
    let (key, crt) = (format!("{name}.key"), format!("{name}.crt"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=tessera-test",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            &key,
            "-out",
            &crt,
        ],
    );
}

fn curl_tls(
    addr: std::net::SocketAddr,
    ca: &std::path::Path,
    path: &str,
    extra: &[&str],
) -> (bool, String) {
    let out = Command::new("curl")
        .args(["-s", "-i", "--max-time", "5", "--cacert"])
        .arg(ca)
        .args(extra)
        .arg(format!("https://{addr}{path}"))
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The whole API over TLS, with HSTS; SIGHUP swaps the certificate without a restart.
#[test]
fn serves_tls_with_hsts_and_reloads_the_certificate_on_sighup() {
    let dir = temp_dir();
    certificate(&dir, "first");
    certificate(&dir, "second");
    std::fs::copy(dir.join("first.crt"), dir.join("live.crt")).unwrap();
    std::fs::copy(dir.join("first.key"), dir.join("live.key")).unwrap();
    let env = [
        ("TESSERA_TLS_CERT", "live.crt"),
        ("TESSERA_TLS_KEY", "live.key"),
    ];
    let server = Process::serve(&dir, &env, &[]);
    let (ok, response) = curl_tls(server.addr, &dir.join("first.crt"), "/healthz", &[]);
    assert!(ok && response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response
            .to_ascii_lowercase()
            .contains("strict-transport-security: max-age=63072000; includesubdomains"),
        "{response}"
    );
    let auth = format!("Authorization: Bearer {}", server.admin_key());
    let create = [
        "-X",
        "POST",
        "-H",
        &auth,
        "-H",
        "Content-Type: application/json",
        "-d",
        r#"{"user_id":"alice"}"#,
    ];
    let (ok, response) = curl_tls(server.addr, &dir.join("first.crt"), "/v1/sessions", &create);
    assert!(ok && response.starts_with("HTTP/1.1 201"), "{response}");
    // Plain HTTP on the TLS port gets no HTTP answer.
    let mut plain = TcpStream::connect(server.addr).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = Vec::new();
    let _ = plain.read_to_end(&mut buf);
    assert!(!String::from_utf8_lossy(&buf).contains("200 OK"));

    std::fs::copy(dir.join("second.crt"), dir.join("live.crt")).unwrap();
    std::fs::copy(dir.join("second.key"), dir.join("live.key")).unwrap();
    Command::new("kill")
        .args(["-HUP", &server.child.id().to_string()])
        .status()
        .unwrap();
    let mut reloaded = false;
    for _ in 0..50 {
        if curl_tls(server.addr, &dir.join("second.crt"), "/healthz", &[]).0 {
            reloaded = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        reloaded,
        "the new certificate was never served:\n{}",
        server.log_text()
    );
    assert!(
        !curl_tls(server.addr, &dir.join("first.crt"), "/healthz", &[]).0,
        "the old one is gone"
    );
    assert!(server.log_text().contains("TLS certificate reloaded"));
}

#[test]
fn users_can_be_created_from_the_cli_and_sign_in() {
    let dir = temp_dir();
    let out = create_user(&dir, "Admin@Example.com", b"a long enough password\n");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("created admin@example.com as usr_"),
        "{stdout}"
    );
    let server = Process::serve(&dir, &[], &[]);
    let body = r#"{"user":"admin@example.com","password":"a long enough password"}"#;
    let (status, _, _) = http(
        server.addr,
        "POST",
        "/auth/login",
        &[("content-type", "application/json")],
        body,
    );
    assert_eq!(status, 200);
    drop(server);
    let (ok, _, err) = cli(&dir, &[], &["users", "create", "admin@example.com"]);
    assert!(
        !ok && err.contains("password"),
        "no password on stdin: {err}"
    );
    for (name, why) in [
        ("ａｄｍｉｎ@example.com", "is taken"),
        ("ad\u{200b}min", "cannot contain"),
    ] {
        let out = create_user(&dir, name, b"a long enough password\n");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && err.contains(why),
            "{name:?}: {err}"
        );
    }
}

/// At a terminal (a pseudo-terminal made by util-linux `script`), `tessera users create`
/// asks for the password twice and never echoes it.
#[test]
fn users_create_reads_the_password_without_echo_at_a_terminal() {
    let dir = temp_dir();
    let command = format!("{} users create carol", env!("CARGO_BIN_EXE_tessera"));
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(&dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("util-linux script (Debian's bsdutils) runs a command on a terminal");
    let mut stdout = child.stdout.take().unwrap();
    let screen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&screen);
    let reader = std::thread::spawn(move || {
        let mut buf = [0u8; 256];
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let mut stdin = child.stdin.take().unwrap();
    let wait_for = |text: &str| {
        for _ in 0..200 {
            if String::from_utf8_lossy(&screen.lock().unwrap()).contains(text) {
                return;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        panic!("no {text:?} on the terminal");
    };
    // Type only once the prompt is up: echo is off by then.
    wait_for("Password: ");
    stdin.write_all(b"typed secretly 123\n").unwrap();
    wait_for("Repeat the password: ");
    stdin.write_all(b"typed secretly 123\n").unwrap();
    wait_for("created carol as usr_");
    drop(stdin);
    let _ = child.wait();
    reader.join().unwrap();
    let screen = String::from_utf8_lossy(&screen.lock().unwrap()).into_owned();
    assert!(
        !screen.contains("typed secretly"),
        "the password was echoed: {screen}"
    );
}

/// `tessera users create NAME` in `dir`, with `password` on standard input.
fn create_user(dir: &std::path::Path, name: &str, password: &[u8]) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .current_dir(dir)
        .args(["users", "create", name])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(password).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// A copy of the database alone yields no private signing key and no server secret: the raw
/// bytes of every database file are scanned for them (opened with the key-encryption key kept
/// apart, in a 0600 file). `tessera keys rewrap` moves everything to a new key-encryption key.
#[test]
fn secrets_are_sealed_at_rest_and_rewrapped() {
    use std::os::unix::fs::PermissionsExt;
    let dir = temp_dir();
    let server = Process::serve(&dir, &[], &[]);
    let key = server.admin_key();
    let (status, issued) = post(&server, &key, "/v1/sessions", r#"{"user_id":"alice"}"#);
    assert_eq!(status, 201);
    drop(server);
    let data = dir.join("tessera-data");
    let kek_path = data.join("key-encryption-key");
    let mode = std::fs::metadata(&kek_path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let kek_text = std::fs::read_to_string(&kek_path).unwrap();
    // What a copy of the database is: every file but the KEK's, as the stopped server left it.
    let copy: Vec<(std::path::PathBuf, Vec<u8>)> = std::fs::read_dir(&data)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap() != "key-encryption-key")
        .map(|p| (p.clone(), std::fs::read(&p).unwrap()))
        .collect();
    let secrets = sealed_secrets(&data, &kek_text);
    assert!(
        secrets.len() >= 3,
        "the server secret and at least two signing keys"
    );
    assert_nothing_in_clear(&copy, &secrets, &kek_text);
    // A positive control: the same scan does find what is stored in clear (the key ids).
    let seen = |needle: &[u8]| {
        copy.iter()
            .any(|(_, bytes)| bytes.windows(needle.len()).any(|w| w == needle))
    };
    assert!(seen(b"\"sealed\":\""), "the scan reads the keyset's bytes");

    let (ok, out, err) = cli(&dir, &[], &["keys", "rewrap"]);
    assert!(ok, "{err}");
    assert!(out.contains("sealed under key-encryption key"), "{out}");
    let new_kek = std::fs::read_to_string(&kek_path).unwrap();
    assert_ne!(new_kek, kek_text);
    assert!(!data.join("key-encryption-key.next").exists());
    assert_eq!(
        sealed_secrets(&data, &new_kek),
        secrets,
        "the same secrets, sealed anew"
    );
    // The old key-encryption key opens nothing any more.
    let moved = std::fs::read_to_string(&kek_path).unwrap();
    std::fs::write(&kek_path, &kek_text).unwrap();
    let (ok, _, err) = cli(&dir, &[], &["keys", "list"]);
    assert!(!ok && err.contains("not configured"), "{err}");
    std::fs::write(&kek_path, moved).unwrap();
    let server = Process::serve(&dir, &[], &[]);
    let body = format!(
        r#"{{"access_token":"{}"}}"#,
        issued["access_token"].as_str().unwrap()
    );
    let (status, _) = post(&server, &key, "/v1/sessions/verify", &body);
    assert_eq!(status, 200, "tokens signed before the move still verify");
    drop(server);
    // A lost key file is said to be lost, not silently replaced by a new, useless key.
    let kept = std::fs::read_to_string(&kek_path).unwrap();
    std::fs::remove_file(&kek_path).unwrap();
    let (ok, _, err) = cli(&dir, &[], &["keys", "list"]);
    assert!(!ok && err.contains("was missing"), "{err}");
    assert!(!kek_path.exists(), "no new key file left behind");
    std::fs::write(&kek_path, kept).unwrap();
    assert!(
        cli(&dir, &[], &["keys", "list"]).0,
        "the restored file opens everything"
    );
    // Someone with write access plants a server secret in clear: refused.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        use tessera::store::KeyStore;
        let store = tessera_sqlite::SqliteStore::open(data.join("tessera.db")).unwrap();
        store
            .put_setting("server-secret", &[7u8; 32])
            .await
            .unwrap();
    });
    let (ok, _, err) = cli(&dir, &[], &["keys", "list"]);
    assert!(
        !ok && err.contains("in clear in a store whose secrets are sealed"),
        "{err}"
    );
}

/// Every private key and the server secret in the database, opened with `kek`.
fn sealed_secrets(data: &std::path::Path, kek: &str) -> Vec<Vec<u8>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = tessera_sqlite::SqliteStore::open(data.join("tessera.db")).unwrap();
    rt.block_on(open_secrets(&store, kek))
}

/// The server secret and every private signing key in `store`, opened with `kek`; none may be
/// stored in clear.
async fn open_secrets(store: &impl tessera::Store, kek: &str) -> Vec<Vec<u8>> {
    let sealer = tessera::Sealer::new(tessera::KeyEncryptionKey::parse(kek).unwrap(), Vec::new());
    let stored = store.get_setting("server-secret").await.unwrap().unwrap();
    let secret = sealer.open("server-secret", "server-secret", &stored);
    let mut out = vec![secret.unwrap()];
    let doc = store.load_keyset().await.unwrap().unwrap().document;
    for k in serde_json::from_slice::<Vec<Value>>(&doc).unwrap() {
        assert!(k.get("material").is_none(), "{k}");
        let sealed = base64_url(k["sealed"].as_str().unwrap());
        let key = sealer.open("signing-key", k["kid"].as_str().unwrap(), &sealed);
        out.push(key.unwrap());
    }
    out
}

fn base64_url(text: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .unwrap()
}

/// Scans the raw bytes of a copy of the data directory for each secret, raw and in the
/// textual forms a store might use, and for the KEK itself.
fn assert_nothing_in_clear(copy: &[(std::path::PathBuf, Vec<u8>)], secrets: &[Vec<u8>], kek: &str) {
    use base64::Engine;
    let engines = [
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
        base64::engine::general_purpose::STANDARD,
    ];
    for (path, bytes) in copy {
        let contains = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
        assert!(
            !contains(kek.trim().as_bytes()),
            "the KEK is in {}",
            path.display()
        );
        for secret in secrets {
            // The last 32 bytes of a PKCS#8 document carry the key itself.
            let core = &secret[secret.len().saturating_sub(32)..];
            assert!(!contains(core), "a secret in clear in {}", path.display());
            for engine in &engines {
                let text = engine.encode(secret);
                assert!(
                    !contains(&text.as_bytes()[..32]),
                    "a secret as text in {}",
                    path.display()
                );
            }
        }
    }
    assert!(!copy.is_empty(), "there were files to scan");
}

/// Named API keys from the command line: created (shown once), listed, revoked.
#[test]
fn api_keys_are_managed_from_the_cli() {
    let dir = temp_dir();
    let (ok, out, err) = cli(
        &dir,
        &[],
        &["api-key", "create", "--name", "orders", "--scope", "verify"],
    );
    assert!(ok, "{err}");
    let key = out.trim().to_owned();
    assert!(key.starts_with("tsk_"), "{out}");
    let (ok, _, err) = cli(
        &dir,
        &[],
        &["api-key", "create", "--name", "orders", "--scope", "admin"],
    );
    assert!(!ok && err.contains("exists"), "{err}");
    let server = Process::serve(&dir, &[], &[]);
    let (status, _, _) = http(
        server.addr,
        "GET",
        "/v1/revocations",
        &[("authorization", &format!("Bearer {key}"))],
        "",
    );
    assert_eq!(status, 200);
    let (status, _, _) = http(
        server.addr,
        "GET",
        "/v1/api-keys",
        &[("authorization", &format!("Bearer {key}"))],
        "",
    );
    assert_eq!(status, 403, "a verify key manages no keys");
    let (ok, out, _) = cli(&dir, &[], &["api-key", "list"]);
    assert!(
        ok && out.contains("orders") && out.contains("verify"),
        "{out}"
    );
    assert!(!out.contains(&key[4..]), "never the key");
    let (ok, out, _) = cli(&dir, &[], &["api-key", "revoke", "orders"]);
    assert!(ok && out.contains("revoked orders"), "{out}");
    let mut status = 0;
    for _ in 0..50 {
        (status, _, _) = http(
            server.addr,
            "GET",
            "/v1/revocations",
            &[("authorization", &format!("Bearer {key}"))],
            "",
        );
        if status == 401 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(status, 401, "the running server refuses it within a second");
    let (ok, _, err) = cli(&dir, &[], &["api-key", "revoke", "orders"]);
    assert!(!ok && err.contains("no API key"), "{err}");
}

/// A Redis deployment an older Tessera wrote (every key under one tag: it has keys but no
/// layout mark) is refused by every command, which names `tessera migrate`; that moves it and
/// the deployment is served again. On SQLite there is nothing to move.
#[test]
fn an_older_redis_layout_is_refused_until_migrated() {
    let redis = RedisDeployment::single("mig");
    let (dir, env) = (temp_dir(), redis.env());
    let (ok, _, err) = cli(&dir, &env, &["keys", "list"]);
    assert!(ok, "{err}");
    let mut conn = redis::Client::open(redis.url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    redis::cmd("DEL")
        .arg(format!("{}:set:layout", redis.tag))
        .exec(&mut conn)
        .unwrap();
    let (ok, _, err) = cli(&dir, &env, &["keys", "list"]);
    assert!(!ok && err.contains("tessera migrate"), "{err}");
    let (ok, out, err) = cli(&dir, &env, &["migrate"]);
    assert!(ok && out.contains("moved 0 sessions"), "{out}{err}");
    let (ok, out, err) = cli(&dir, &env, &["keys", "list"]);
    assert!(ok && out.contains("active"), "{out}{err}");
    let (ok, out, _) = cli(&temp_dir(), &[], &["migrate"]);
    assert!(ok && out.contains("nothing to migrate"), "{out}");
}

/// Two nodes on one Redis: as on a Cluster, below.
#[test]
fn two_nodes_on_one_redis_share_sessions_and_revocations() {
    let redis = RedisDeployment::single("mn1");
    two_nodes_share_sessions_and_revocations(redis.env(), &redis.admin);
}

/// Two nodes on one Redis Cluster: a session made on A refreshes on B, a logout on A reaches B
/// at once (pushed over pub/sub), and refreshes of one token racing on both nodes converge.
#[test]
fn two_nodes_on_a_redis_cluster_share_sessions_and_revocations() {
    let redis = RedisDeployment::cluster("mn");
    two_nodes_share_sessions_and_revocations(redis.env(), &redis.admin);
}

/// The same on PostgreSQL: the logout reaches B by `NOTIFY`.
#[test]
fn two_nodes_on_postgres_share_sessions_and_revocations() {
    let postgres = PostgresDeployment::new("mn");
    two_nodes_share_sessions_and_revocations(postgres.env(), &postgres.admin);
}

#[allow(
    clippy::disallowed_methods,
    reason = "measures how long a revocation takes to reach the other node"
)]
fn two_nodes_share_sessions_and_revocations(mut env: Vec<(&str, &str)>, key: &str) {
    let key = key.to_owned();
    // Sixteen racing refreshes of one session would trip its refresh rate: not what this tests.
    env.push(("TESSERA_RATE_LIMITS_REFRESH_SESSION", "off"));
    let a = Process::serve(&temp_dir(), &env, &[]);
    let b = Process::serve(&temp_dir(), &env, &[]);

    let (status, created) = post(&a, &key, "/v1/sessions", r#"{"user_id":"alice"}"#);
    assert_eq!(status, 201, "{created}");
    let (status, refreshed) = post(
        &b,
        &key,
        "/v1/sessions/refresh",
        &format!(
            r#"{{"refresh_token":"{}"}}"#,
            created["refresh_token"].as_str().unwrap()
        ),
    );
    assert_eq!(status, 200, "B refreshes A's session: {refreshed}");

    let mut waits = Vec::new();
    for i in 0..100 {
        // One user each: the per-user sign-in limit is not what this test is about.
        let (_, s) = post(
            &a,
            &key,
            "/v1/sessions",
            &format!(r#"{{"user_id":"bob-{i}"}}"#),
        );
        let verify = format!(
            r#"{{"access_token":"{}"}}"#,
            s["access_token"].as_str().unwrap()
        );
        assert_eq!(post(&b, &key, "/v1/sessions/verify", &verify).0, 200);
        let h = json_headers(&key);
        let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, _, _) = http(
            a.addr,
            "DELETE",
            &format!("/v1/sessions/{}", s["session_id"].as_str().unwrap()),
            &h,
            "",
        );
        assert_eq!(status, 204);
        let revoked_at = std::time::Instant::now();
        loop {
            if post(&b, &key, "/v1/sessions/verify", &verify).0 == 401 {
                break;
            }
            assert!(
                revoked_at.elapsed() < Duration::from_secs(5),
                "B never saw the revocation"
            );
        }
        waits.push(revoked_at.elapsed());
    }
    waits.sort();
    println!(
        "revocation propagation A -> B over 100 revocations ({}): p50 {:?}, p99 {:?}",
        env[0].1.split("://").next().unwrap_or_default(),
        waits[49],
        waits[98]
    );

    // Concurrent refreshes of one token split across the nodes: one generation, one next token.
    let (_, s) = post(&a, &key, "/v1/sessions", r#"{"user_id":"carol"}"#);
    let body = format!(
        r#"{{"refresh_token":"{}"}}"#,
        s["refresh_token"].as_str().unwrap()
    );
    let nodes = [a.addr, b.addr];
    let results: Vec<(u16, String)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let (body, key) = (body.clone(), key.clone());
                scope.spawn(move || {
                    let h = json_headers(&key);
                    let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
                    let (status, _, reply) =
                        http(nodes[i % 2], "POST", "/v1/sessions/refresh", &h, &body);
                    (status, reply)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let tokens: Vec<Value> = results
        .iter()
        .map(|(status, reply)| {
            assert_eq!(*status, 200, "{reply}");
            serde_json::from_str::<Value>(reply).unwrap()["refresh_token"].clone()
        })
        .collect();
    assert!(
        tokens.iter().all(|t| *t == tokens[0]),
        "both nodes hand out the same next token"
    );
    let next = tessera::RefreshToken::parse(tokens[0].as_str().unwrap()).unwrap();
    assert_eq!(next.generation(), 2, "exactly one generation step");
}

/// A Redis of this test's own, with every write fsynced before it is acknowledged.
fn own_redis(dir: &std::path::Path) -> OwnRedis {
    OwnRedis::start(
        free_port(),
        dir,
        &["--appendonly", "yes", "--appendfsync", "always"],
    )
}

/// A database this test may kill (SIGKILL, no shutdown) and start again.
trait Outage {
    fn kill(&mut self);
    fn restart(&mut self);
}

impl Outage for OwnRedis {
    fn kill(&mut self) {
        OwnRedis::kill(self);
    }

    fn restart(&mut self) {
        OwnRedis::restart(self);
    }
}

/// A PostgreSQL of this test's own (`scripts/postgres` on a port of its own).
struct OwnPostgres {
    port: u16,
}

impl OwnPostgres {
    /// Started with an empty database (its data directory outlives the test).
    fn start(port: u16) -> Self {
        let own = Self { port };
        own.script("start");
        own.script("fresh");
        own
    }

    fn url(&self) -> String {
        self.script("url")
    }

    fn script(&self, command: &str) -> String {
        let out = Command::new("bash")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../scripts/postgres"
            ))
            .arg(command)
            .env("TESSERA_TEST_POSTGRES_PORT", self.port.to_string())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "scripts/postgres {command}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Outage for OwnPostgres {
    fn kill(&mut self) {
        self.script("kill");
    }

    fn restart(&mut self) {
        self.script("start");
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../scripts/postgres"
            ))
            .arg("stop")
            .env("TESSERA_TEST_POSTGRES_PORT", self.port.to_string())
            .output();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Redis killed under a running node: writes answer 503 with Retry-After (never 500), readiness
/// says so, verification fails closed once the feed is stale; Redis back (with `appendfsync
/// always`), the node serves again without a restart and no acknowledged write was lost.
#[test]
fn a_redis_outage_is_survived_and_loses_nothing() {
    let dir = temp_dir();
    let mut redis = own_redis(&dir);
    let url = redis.url();
    an_outage_is_survived_and_loses_nothing(&mut redis, &url);
}

/// The same with PostgreSQL killed under the node (fsync and synchronous commit on).
#[test]
fn a_postgres_outage_is_survived_and_loses_nothing() {
    let mut postgres = OwnPostgres::start(15452);
    let url = postgres.url();
    an_outage_is_survived_and_loses_nothing(&mut postgres, &url);
}

fn an_outage_is_survived_and_loses_nothing(db: &mut impl Outage, url: &str) {
    let key = tessera::ApiKey::generate().unwrap().expose();
    let kek = tessera::KeyEncryptionKey::generate().unwrap().expose();
    let env = [
        ("TESSERA_STORE", url),
        ("TESSERA_KEY_ENCRYPTION_KEY", kek.as_str()),
        ("TESSERA_ADMIN_API_KEY", key.as_str()),
        ("TESSERA_FEED_STALENESS", "2s"),
        ("TESSERA_RATE_LIMITS_LOGIN_USER", "off"),
    ];
    let node = Process::serve(&temp_dir(), &env, &[]);
    let mut acknowledged = Vec::new();
    for i in 0..20 {
        let (status, s) = post(
            &node,
            &key,
            "/v1/sessions",
            &format!(r#"{{"user_id":"u{i}"}}"#),
        );
        assert_eq!(status, 201);
        acknowledged.push(s);
    }
    let verify = format!(
        r#"{{"access_token":"{}"}}"#,
        acknowledged[0]["access_token"].as_str().unwrap()
    );
    assert_eq!(post(&node, &key, "/v1/sessions/verify", &verify).0, 200);

    db.kill();
    let h = json_headers(&key);
    let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, head, body) = http(
        node.addr,
        "POST",
        "/v1/sessions",
        &h,
        r#"{"user_id":"late"}"#,
    );
    assert_eq!(status, 503, "{body}");
    assert!(head.to_ascii_lowercase().contains("retry-after:"), "{head}");
    assert_eq!(http(node.addr, "GET", "/readyz", &[], "").0, 503);
    std::thread::sleep(Duration::from_secs(3)); // past the 2 s staleness bound
    let h = json_headers(&key);
    let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, head, body) = http(node.addr, "POST", "/v1/sessions/verify", &h, &verify);
    assert_eq!(
        status, 503,
        "fails closed when it cannot know, as an outage, not as a bad token: {body}"
    );
    assert!(body.contains("urn:tessera:problem:unavailable"), "{body}");
    assert!(head.to_ascii_lowercase().contains("retry-after:"), "{head}");
    let token = verify.split('"').nth(3).unwrap();
    let auth = format!("Bearer {key}");
    let (status, _, body) = http(
        node.addr,
        "POST",
        "/oauth2/introspect",
        &[
            ("authorization", auth.as_str()),
            ("content-type", "application/x-www-form-urlencoded"),
        ],
        &format!("token={token}"),
    );
    assert_eq!(status, 503, "introspection has no 'unknown' either: {body}");

    db.restart();
    let mut ready = false;
    for _ in 0..100 {
        if http(node.addr, "GET", "/readyz", &[], "").0 == 200
            && post(&node, &key, "/v1/sessions/verify", &verify).0 == 200
        {
            ready = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(ready, "the node never recovered:\n{}", node.log_text());
    for s in &acknowledged {
        let body = format!(
            r#"{{"refresh_token":"{}"}}"#,
            s["refresh_token"].as_str().unwrap()
        );
        assert_eq!(
            post(&node, &key, "/v1/sessions/refresh", &body).0,
            200,
            "an acknowledged session was lost"
        );
    }
    assert!(!node.log_text().contains("panicked"));
}

/// Every file under `dir`, recursively, with its bytes.
fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else if let Ok(bytes) = std::fs::read(&path) {
            out.push((path, bytes));
        }
    }
    out
}

/// A dump of a PostgreSQL deployment (`pg_dump` of its schema) yields no private key and no
/// server secret: they are sealed under the configured KEK, as on Redis.
#[test]
fn a_postgres_dump_yields_no_secret() {
    let postgres = PostgresDeployment::new("dump");
    let server = Process::serve(&temp_dir(), &postgres.env(), &[]);
    let key = postgres.admin.clone();
    let (status, _) = post(&server, &key, "/v1/sessions", r#"{"user_id":"alice"}"#);
    assert_eq!(status, 201);
    drop(server);
    let (base, options) = postgres.url.split_once('?').unwrap();
    let schema = options.rsplit("%3D").next().unwrap();
    let dump = Command::new("pg_dump")
        .args(["--data-only", "--schema", schema, base])
        .output()
        .unwrap();
    assert!(
        dump.status.success(),
        "{}",
        String::from_utf8_lossy(&dump.stderr)
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let secrets = rt.block_on(async {
        let store = tessera_postgres::PostgresStore::connect(&postgres.url)
            .await
            .unwrap();
        open_secrets(&store, &postgres.kek).await
    });
    assert!(secrets.len() >= 3);
    // pg_dump writes bytea as hex: look for each secret in hex too.
    let text = String::from_utf8_lossy(&dump.stdout).into_owned();
    for secret in &secrets {
        let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!text.contains(&hex), "a secret in hex in the dump");
    }
    let copy = [(std::path::PathBuf::from("pg_dump"), dump.stdout)];
    assert_nothing_in_clear(&copy, &secrets, &postgres.kek);
    assert!(text.contains("COPY"), "the dump has the data");
}

/// A Redis dump (its append-only files, every write fsynced) yields no private key and no
/// server secret either: on a shared store they are sealed under the configured KEK.
#[test]
fn a_redis_dump_yields_no_secret() {
    let redis_dir = temp_dir();
    let redis = own_redis(&redis_dir);
    let url = redis.url();
    let kek = tessera::KeyEncryptionKey::generate().unwrap().expose();
    let key = tessera::ApiKey::generate().unwrap().expose();
    let env = [
        ("TESSERA_STORE", url.as_str()),
        ("TESSERA_KEY_ENCRYPTION_KEY", kek.as_str()),
        ("TESSERA_ADMIN_API_KEY", key.as_str()),
    ];
    let server = Process::serve(&temp_dir(), &env, &[]);
    let (status, _) = post(&server, &key, "/v1/sessions", r#"{"user_id":"alice"}"#);
    assert_eq!(status, 201);
    drop(server);
    let dump = files_under(&redis_dir);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let secrets = rt.block_on(async {
        let store = tessera_redis::RedisStore::connect(&url, "{tessera}")
            .await
            .unwrap();
        open_secrets(&store, &kek).await
    });
    assert!(secrets.len() >= 3);
    assert_nothing_in_clear(&dump, &secrets, &kek);
    let seen = dump
        .iter()
        .any(|(_, b)| b.windows(10).any(|w| w == b"\"sealed\":\""));
    assert!(seen, "the scan reads the append-only file");
}

/// With `metrics_listen`, `/metrics` is served there without a key, and not on `listen`.
#[test]
fn metrics_listen_serves_metrics_alone() {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let server = Process::serve(
        &temp_dir(),
        &[("TESSERA_METRICS_LISTEN", addr.as_str())],
        &[],
    );
    let mut status = 0;
    for _ in 0..50 {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            (status, _, _) = http(addr.parse().unwrap(), "GET", "/metrics", &[], "");
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(status, 200);
    let (status, _, _) = http(addr.parse().unwrap(), "GET", "/v1/revocations", &[], "");
    assert_eq!(status, 404, "nothing else there");
    let key = server.admin_key();
    let auth = format!("Bearer {key}");
    let (status, _, _) = http(
        server.addr,
        "GET",
        "/metrics",
        &[("authorization", &auth)],
        "",
    );
    assert_eq!(status, 404, "not on the main address");
}

/// Two nodes on one Redis started as the README says (different listen ports, no issuer set)
/// accept each other's tokens: they agree on the first node's issuer. A node told to use
/// another issuer refuses to start instead of rejecting every token of the others.
#[test]
fn nodes_sharing_a_store_agree_on_the_issuer() {
    let redis = RedisDeployment::single("iss");
    let (url, key) = (redis.url.clone(), redis.admin.clone());
    let env = redis.env();
    let a = Process::serve(&temp_dir(), &env, &[]);
    let b = Process::serve(&temp_dir(), &env, &[]);
    assert_ne!(a.addr.port(), b.addr.port());
    let (status, issued) = post(&a, &key, "/v1/sessions", r#"{"user_id":"alice"}"#);
    assert_eq!(
        status, 201,
        "no Redis at {url}? run scripts/redis start: {issued}"
    );
    let token = issued["access_token"].as_str().unwrap();
    let (status, verified) = post(
        &b,
        &key,
        "/v1/sessions/verify",
        &format!(r#"{{"access_token":"{token}"}}"#),
    );
    assert_eq!(status, 200, "{verified}");
    let (_, from_b) = post(&b, &key, "/v1/sessions", r#"{"user_id":"bob"}"#);
    let token = from_b["access_token"].as_str().unwrap();
    let body = format!(r#"{{"access_token":"{token}"}}"#);
    let (status, again) = post(&a, &key, "/v1/sessions/verify", &body);
    assert_eq!(status, 200, "and the other way round");
    assert_eq!(again["claims"]["iss"], verified["claims"]["iss"]);
    let mut other = env.to_vec();
    other.push(("TESSERA_ISSUER", "https://elsewhere.example"));
    let (ok, _, err) = cli(&temp_dir(), &other, &["keys", "list"]);
    assert!(!ok && err.contains("differs from"), "{err}");
}
