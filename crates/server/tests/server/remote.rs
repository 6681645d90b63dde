//! tessera-axum's remote mode against the real binary: a service with no store of its own
//! verifies tokens from the JWKS and follows the revocation feed, failing closed.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use tessera::{Error, TokenRejection, Validation};
use tessera_axum::{Bearer, Remote, RemoteOptions};
use tower::ServiceExt;

use tessera_testkit::processes::TestCa;

use super::support::{Process, RedisDeployment, http, json, temp_dir};

const ISSUER: &str = "https://auth.test";

fn options(ca_file: &std::path::Path) -> RemoteOptions {
    RemoteOptions {
        ca_file: ca_file.to_owned(),
        feed_staleness: Duration::from_secs(2),
        ..RemoteOptions::default()
    }
}

fn service(remote: &Remote) -> Router {
    Router::new()
        .route("/me", get(|Bearer(c): Bearer| async move { c.sub }))
        .layer(remote.layer())
}

async fn call(app: &Router, token: Option<&str>) -> (StatusCode, String) {
    let mut req = Request::get("/me");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let r = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = r.status();
    let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn a_service_without_a_store_verifies_and_follows_revocations() {
    let dir = temp_dir();
    let mut server = Process::serve(&dir, &[("TESSERA_ISSUER", ISSUER)], &[]);
    let (addr, admin) = (server.addr, server.admin_key());
    let key = json(
        addr,
        "POST",
        "/v1/api-keys",
        &admin,
        r#"{"name":"orders","scope":"verify"}"#,
    )["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let issued = json(
        addr,
        "POST",
        "/v1/sessions",
        &admin,
        r#"{"user_id":"alice"}"#,
    );
    let token = issued["access_token"].as_str().unwrap().to_owned();
    let base = format!("http://{addr}");
    let ca = dir.join("none.pem");

    let connect = |audience: &'static str| {
        let (base, key, options) = (base.clone(), key.clone(), options(&ca));
        async move {
            let validation = Validation::new(ISSUER, audience);
            Remote::connect_with(&base, &key, validation, options)
                .await
                .unwrap()
        }
    };
    let remote = connect("tessera").await;
    assert_eq!(remote.verify(&token).await.unwrap().sub, "alice");
    let app = service(&remote);
    assert_eq!(
        call(&app, Some(&token)).await,
        (StatusCode::OK, "alice".into())
    );
    assert_eq!(call(&app, None).await.0, StatusCode::UNAUTHORIZED);
    let mut tampered = token.clone();
    tampered.pop();
    tampered.push(if token.ends_with('A') { 'B' } else { 'A' });
    assert!(remote.verify(&tampered).await.is_err());
    assert_eq!(
        call(&app, Some(&tampered)).await.0,
        StatusCode::UNAUTHORIZED
    );

    // Tokens for another audience or issuer are refused.
    let elsewhere = connect("billing").await;
    assert!(matches!(
        elsewhere.verify(&token).await,
        Err(Error::InvalidToken(TokenRejection::WrongAudience))
    ));

    // A logout reaches the service through the feed within a couple of seconds.
    let sid = issued["session_id"].as_str().unwrap();
    let (status, _, _) = http(
        addr,
        "DELETE",
        &format!("/v1/sessions/{sid}"),
        &[("authorization", &format!("Bearer {admin}"))],
        "",
    );
    assert_eq!(status, 204);
    let mut revoked = false;
    for _ in 0..40 {
        if matches!(
            remote.verify(&token).await,
            Err(Error::InvalidToken(TokenRejection::Revoked))
        ) {
            revoked = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(revoked, "the revocation reached the remote verifier");
    assert_eq!(call(&app, Some(&token)).await.0, StatusCode::UNAUTHORIZED);

    // Tessera gone: after feed_staleness the service cannot tell, so it fails closed (503).
    let fresh = json(addr, "POST", "/v1/sessions", &admin, r#"{"user_id":"bob"}"#)["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(call(&app, Some(&fresh)).await.0, StatusCode::OK);
    server.terminate();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(matches!(
        remote.verify(&fresh).await,
        Err(Error::InvalidToken(TokenRejection::RevocationStale))
    ));
    assert_eq!(
        call(&app, Some(&fresh)).await.0,
        StatusCode::SERVICE_UNAVAILABLE
    );
}

#[tokio::test]
async fn keys_of_the_wrong_scope_and_untrusted_certificates_are_refused() {
    let dir = temp_dir();
    let (live, other) = (
        TestCa::new(&dir.join("live")),
        TestCa::new(&dir.join("other")),
    );
    let (cert, key) = (
        live.cert.display().to_string(),
        live.key.display().to_string(),
    );
    let server = Process::serve(
        &dir,
        &[
            ("TESSERA_ISSUER", ISSUER),
            ("TESSERA_TLS_CERT", &cert),
            ("TESSERA_TLS_KEY", &key),
        ],
        &[],
    );
    let admin = server.admin_key();
    let base = format!("https://{}", server.addr);
    let connect = |base: &str, key: &str, ca: &std::path::Path| {
        let options = options(ca);
        let (base, key) = (base.to_owned(), key.to_owned());
        async move {
            Remote::connect_with(&base, &key, Validation::new(ISSUER, "tessera"), options).await
        }
    };
    let ok = connect(&base, &admin, &live.ca).await;
    assert!(
        ok.is_ok(),
        "TLS verified against the CA file: {:?}",
        ok.err()
    );
    let untrusted = connect(&base, &admin, &other.ca).await;
    assert!(
        untrusted.is_err(),
        "a certificate the CA file does not vouch for"
    );
    let wrong_key = connect(&base, "tsk_wrong", &live.ca).await;
    assert!(wrong_key.is_err(), "the feed refuses a wrong key");
    for bad in [
        "auth.test",
        "ftp://auth.test",
        "https://auth.test/path",
        "https://user@auth.test",
        "http://auth.test",
        "http://127.attacker.example",
    ] {
        let r = connect(bad, &admin, &live.ca).await;
        assert!(matches!(r, Err(Error::InvalidConfig(_))), "{bad}");
    }
}

/// On an ephemeral port the issuer names the port bound, so a verifier can be told it.
#[test]
fn the_default_issuer_names_the_port_actually_bound() {
    let dir = temp_dir();
    let server = Process::serve(&dir, &[], &[]);
    let (addr, admin) = (server.addr, server.admin_key());
    let issued = json(
        addr,
        "POST",
        "/v1/sessions",
        &admin,
        r#"{"user_id":"alice"}"#,
    );
    let token = issued["access_token"].as_str().unwrap();
    let body = format!(r#"{{"access_token":"{token}"}}"#);
    let verified = json(addr, "POST", "/v1/sessions/verify", &admin, &body);
    assert_eq!(verified["claims"]["iss"], format!("http://{addr}"));
}

/// A Redis that went back (a failover that lost the newest writes) numbers new revocations
/// again; a remote verifier that had passed those numbers notices by the fingerprint of the
/// entry it stopped at, and reads the feed again instead of skipping them.
#[tokio::test]
async fn a_remote_verifier_notices_a_feed_that_went_back() {
    use redis::AsyncCommands;
    let redis_node = RedisDeployment::single("rb");
    let (url, tag, admin) = (
        redis_node.url.clone(),
        redis_node.tag.clone(),
        redis_node.admin.clone(),
    );
    let mut env = redis_node.env();
    env.push(("TESSERA_ISSUER", ISSUER));
    let server = Process::serve(&temp_dir(), &env, &[]);
    let addr = server.addr;
    let key = json(
        addr,
        "POST",
        "/v1/api-keys",
        &admin,
        r#"{"name":"svc","scope":"verify"}"#,
    )["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let ca = temp_dir().join("none.pem");
    let remote = Remote::connect_with(
        &format!("http://{addr}"),
        &key,
        Validation::new(ISSUER, "tessera"),
        options(&ca),
    )
    .await
    .unwrap();
    let revoke = |sid: &str| {
        let auth = format!("Bearer {admin}");
        let (status, _, _) = http(
            addr,
            "DELETE",
            &format!("/v1/sessions/{sid}"),
            &[("authorization", &auth)],
            "",
        );
        assert_eq!(status, 204);
    };
    let eventually_refused = |token: String| {
        let remote = remote.clone();
        async move {
            for _ in 0..40 {
                if remote.verify(&token).await.is_err() {
                    return true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            false
        }
    };
    let first = json(addr, "POST", "/v1/sessions", &admin, r#"{"user_id":"u1"}"#);
    revoke(first["session_id"].as_str().unwrap());
    assert!(eventually_refused(first["access_token"].as_str().unwrap().to_owned()).await);

    // Redis loses the newest feed entries and its sequence goes back.
    let mut conn = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let feed = tessera_redis::RedisStore::connect(&url, &tag)
        .await
        .unwrap()
        .feed_key("u1");
    let seq: i64 = conn.get(format!("{feed}:seq")).await.unwrap();
    let _: () = conn.zrembyscore(&feed, 1, seq).await.unwrap();
    let _: () = conn.set(format!("{feed}:seq"), 0).await.unwrap();

    // A user of the same shard, so of the same feed.
    let user = (2..)
        .map(|i| format!("u{i}"))
        .find(|u| tessera::SessionId::shard_of(u) == tessera::SessionId::shard_of("u1"))
        .unwrap();
    let second = json(
        addr,
        "POST",
        "/v1/sessions",
        &admin,
        &format!(r#"{{"user_id":"{user}"}}"#),
    );
    let token = second["access_token"].as_str().unwrap().to_owned();
    assert!(remote.verify(&token).await.is_ok());
    revoke(second["session_id"].as_str().unwrap());
    assert!(
        eventually_refused(token).await,
        "the revocation under a reused number reached the remote verifier"
    );
}
