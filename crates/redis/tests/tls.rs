//! The store over TLS (`rediss://`): `redis-server`s of the tests' own that serve TLS only
//! (ports 17280-17289), with certificate authorities made here (`openssl`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "integration tests"
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use tessera::Session;
use tessera::store::SessionStore;
use tessera_redis::RedisStore;
use tessera_testkit::durability::session;
use tessera_testkit::processes::{TestCa, redis_server, wait_until};

mod support;
use support::Announcements;

/// `redis-server`s serving TLS, with the authorities their certificates come from and
/// another one, stopped when dropped.
struct TlsServers {
    dir: PathBuf,
    ca: TestCa,
    other: TestCa,
    children: Vec<Child>,
}

impl TlsServers {
    fn start(ports: &[u16], more: &[&str]) -> Self {
        let dir =
            std::env::temp_dir().join(format!("tessera-tls-{}-{}", ports[0], std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let ca = TestCa::new(&dir.join("ca"));
        let other = TestCa::new(&dir.join("other"));
        let children = ports
            .iter()
            .map(|&port| {
                redis_server(port, &dir, |cmd| {
                    cmd.args(ca.redis_args(port)).args(more);
                })
            })
            .collect();
        let servers = Self {
            dir,
            ca,
            other,
            children,
        };
        for &port in ports {
            wait_until(&format!("redis-server on {port} answers over TLS"), || {
                servers.cli(port, &["ping"]).contains("PONG")
            });
        }
        servers
    }

    /// `redis-cli` over TLS, trusting the servers' authority.
    fn cli(&self, port: u16, args: &[&str]) -> String {
        Command::new("redis-cli")
            .args(["--tls", "--cacert"])
            .arg(&self.ca.ca)
            .args(["-p", &port.to_string()])
            .args(args)
            .stderr(Stdio::null())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    fn url(&self, port: u16, ca: &Path) -> String {
        format!("rediss://127.0.0.1:{port}/?tls_ca={}", ca.display())
    }
}

impl Drop for TlsServers {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Creates `s`, reads it back, and hears its revocation announced: every connection the store
/// opens (commands, announcements) works.
async fn round_trip(store: &RedisStore, s: &Session) {
    let mut announcements = Announcements::follow(store).await;
    store.create(s, None, None).await.unwrap();
    assert_eq!(store.get(&s.sid).await.unwrap().map(|f| f.sid), Some(s.sid));
    assert!(
        announcements.hear_logout_of(store, s).await,
        "the revocation was announced"
    );
}

/// Over TLS the store trusts the authority `tls_ca` names, and nothing else: not another
/// authority, not the system's (which never signed the test's), not a plain connection.
#[test]
fn the_store_talks_to_redis_over_tls_and_checks_its_certificate() {
    tessera_testkit::run(async {
        let servers = TlsServers::start(&[17280], &[]);
        let store = RedisStore::connect(&servers.url(17280, &servers.ca.ca), "{tls}")
            .await
            .unwrap();
        round_trip(&store, &session(0)).await;
        let refused = [
            (servers.url(17280, &servers.other.ca), "another authority's"),
            (
                "rediss://127.0.0.1:17280/".to_owned(),
                "the system's authorities",
            ),
            ("redis://127.0.0.1:17280/".to_owned(), "a plain connection"),
        ];
        for (url, what) in refused {
            let connected = RedisStore::connect(&url, "{tls}").await;
            assert!(connected.is_err(), "{what} must not reach a TLS Redis");
        }
    });
}

/// A Cluster over TLS (`tls-cluster yes`): every node the client finds is reached over TLS
/// with the same authority, and announcements too.
#[test]
fn the_store_talks_to_a_cluster_over_tls() {
    tessera_testkit::run(async {
        let ports = [17281, 17282, 17283];
        let servers = TlsServers::start(
            &ports,
            &[
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--tls-cluster",
                "yes",
            ],
        );
        let addresses: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let status = Command::new("redis-cli")
            .args(["--tls", "--cacert"])
            .arg(&servers.ca.ca)
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-yes"])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "redis-cli --cluster create over TLS");
        wait_until("the Cluster is up", || {
            servers
                .cli(ports[0], &["cluster", "info"])
                .contains("cluster_state:ok")
        });
        let nodes: Vec<String> = ports
            .iter()
            .map(|&p| servers.url(p, &servers.ca.ca))
            .collect();
        let store = RedisStore::connect_cluster(&nodes, "{tls}").await.unwrap();
        for i in 0..7 {
            // Seven users, in shards spread over the three masters.
            round_trip(&store, &session(i)).await;
        }
    });
}
