//! Every route, in process: its success and each error it documents.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use super::support::App;

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

#[tokio::test]
async fn create_issues_tokens_without_caching() {
    let app = App::new().await;
    let r = app.json(Method::POST, "/v1/sessions", r#"{"user_id":"alice","claims":{"role":"admin"},"data":{"cart":1},"device":{"user_agent":"curl","ip":"192.0.2.1","label":"laptop"}}"#).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let body = r.body();
    assert_eq!(body["token_type"], "Bearer");
    assert!(s(&body["refresh_token"]).starts_with("tsr_"));
    assert!(body["expires_in"].as_i64().unwrap() > 500);
    assert_eq!(r.header("cache-control"), "no-store");
    assert_eq!(
        r.header("location"),
        format!("/v1/sessions/{}", s(&body["session_id"]))
    );
    assert!(!r.header("x-request-id").is_empty());
}

#[tokio::test]
async fn create_rejects_bad_input_clearly() {
    let app = App::new().await;
    let cases = [
        ("{", "invalid-request"),
        (r#"{"user_id":""}"#, "invalid-request"),
        (
            r#"{"user_id":"a","claims":{"sub":"root"}}"#,
            "invalid-request",
        ),
        (r#"{"user_id":"a","colour":"red"}"#, "invalid-request"),
        (r#"{"user_id":5}"#, "invalid-request"),
        (r#"[]"#, "invalid-request"),
    ];
    for (body, slug) in cases {
        app.json(Method::POST, "/v1/sessions", body)
            .await
            .assert_problem(400, slug);
    }
    let auth = format!("Bearer {}", app.key);
    let plain = app
        .send(
            Method::POST,
            "/v1/sessions",
            &[("authorization", &auth), ("content-type", "text/plain")],
            r#"{"user_id":"a"}"#,
        )
        .await;
    plain.assert_problem(415, "unsupported-media-type");
    let huge = format!(r#"{{"user_id":"a","data":"{}"}}"#, "x".repeat(300 * 1024));
    app.json(Method::POST, "/v1/sessions", &huge)
        .await
        .assert_problem(413, "payload-too-large");
}

#[tokio::test]
async fn backend_routes_need_the_api_key() {
    let app = App::new().await;
    let wrong = tessera::ApiKey::generate().unwrap().expose();
    let routes = [
        (Method::POST, "/v1/sessions"),
        (Method::POST, "/v1/sessions/refresh"),
        (Method::POST, "/v1/sessions/verify"),
        (Method::GET, "/v1/sessions/AAAAAAAAAAAAAAAAAAAAAA"),
        (Method::PATCH, "/v1/sessions/AAAAAAAAAAAAAAAAAAAAAA"),
        (Method::DELETE, "/v1/sessions/AAAAAAAAAAAAAAAAAAAAAA"),
        (Method::GET, "/v1/users/alice/sessions"),
        (Method::DELETE, "/v1/users/alice/sessions"),
        (Method::GET, "/v1/revocations"),
        (Method::GET, "/v1/users/alice/events"),
    ];
    for (method, uri) in routes {
        for auth in [
            String::new(),
            format!("Bearer {wrong}"),
            "Bearer tsk_nope".into(),
            format!("Basic {}", app.key),
        ] {
            let headers = [
                ("authorization", auth.as_str()),
                ("content-type", "application/json"),
            ];
            let r = app.send(method.clone(), uri, &headers, "{}").await;
            r.assert_problem(401, "unauthorized");
        }
        let right = format!("Bearer {}", app.key);
        let twice = [
            ("authorization", right.as_str()),
            ("authorization", right.as_str()),
        ];
        app.send(method.clone(), uri, &twice, "{}")
            .await
            .assert_problem(401, "unauthorized");
    }
}

#[tokio::test]
async fn refresh_rotates_and_never_says_why_it_failed() {
    let app = App::with("refresh_grace = 0\n").await;
    let first = app.login("alice").await;
    let body = format!(r#"{{"refresh_token":"{}"}}"#, s(&first["refresh_token"]));
    let r = app.json(Method::POST, "/v1/sessions/refresh", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.header("cache-control"), "no-store");
    let second = r.body();
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_eq!(second["session_id"], first["session_id"]);
    let garbage = app
        .json(
            Method::POST,
            "/v1/sessions/refresh",
            r#"{"refresh_token":"tsr_nope"}"#,
        )
        .await;
    let replay = app.json(Method::POST, "/v1/sessions/refresh", &body).await; // theft: revokes
    for r in [&garbage, &replay] {
        r.assert_problem(401, "invalid-grant");
        assert_eq!(r.body()["error"], "invalid_grant");
        assert_eq!(
            r.text.len(),
            garbage.text.len(),
            "reuse and garbage look alike"
        );
    }
    let after = format!(r#"{{"refresh_token":"{}"}}"#, s(&second["refresh_token"]));
    app.json(Method::POST, "/v1/sessions/refresh", &after)
        .await
        .assert_problem(401, "invalid-grant");
    app.json(Method::POST, "/v1/sessions/refresh", "{}")
        .await
        .assert_problem(400, "invalid-request");
}

#[tokio::test]
async fn verify_answers_claims_or_a_coarse_401() {
    let app = App::new().await;
    let t = app.login("alice").await;
    let body = format!(r#"{{"access_token":"{}"}}"#, s(&t["access_token"]));
    let r = app.json(Method::POST, "/v1/sessions/verify", &body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let v = r.body();
    assert_eq!(v["active"], true);
    assert_eq!(v["claims"]["sub"], "alice");
    assert_eq!(v["claims"]["role"], "admin");
    assert_eq!(v["claims"]["sid"], t["session_id"]);
    let bad = app
        .json(
            Method::POST,
            "/v1/sessions/verify",
            r#"{"access_token":"eyJ.eyJ.sig"}"#,
        )
        .await;
    bad.assert_problem(401, "invalid-token");
    let sid = s(&t["session_id"]);
    assert_eq!(
        app.json(Method::DELETE, &format!("/v1/sessions/{sid}"), "")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let revoked = app.json(Method::POST, "/v1/sessions/verify", &body).await;
    revoked.assert_problem(401, "invalid-token");
    assert_eq!(revoked.text, bad.text, "no hint of which check failed");
}

#[tokio::test]
async fn sessions_can_be_read_updated_and_revoked() {
    let app = App::new().await;
    let t = app.login("alice").await;
    let uri = format!("/v1/sessions/{}", s(&t["session_id"]));
    let r = app.json(Method::GET, &uri, "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("etag"), "\"1\"");
    let view = r.body();
    assert_eq!(view["user_id"], "alice");
    assert!(view.get("refresh").is_none(), "no hashes in the API");

    let auth = format!("Bearer {}", app.key);
    let patch = |if_match: Option<&'static str>| {
        let mut headers = vec![
            ("authorization", auth.clone()),
            ("content-type", "application/json".to_owned()),
        ];
        if let Some(m) = if_match {
            headers.push(("if-match", m.to_owned()));
        }
        headers
    };
    let send = |h: Vec<(&'static str, String)>| {
        let (app, uri) = (&app, uri.clone());
        async move {
            let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.send(Method::PATCH, &uri, &h, r#"{"data":{"theme":"dark"}}"#)
                .await
        }
    };
    let ok = send(patch(Some("\"1\""))).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.header("etag"), "\"2\"");
    send(patch(Some("\"1\"")))
        .await
        .assert_problem(412, "version-mismatch");
    send(patch(None))
        .await
        .assert_problem(428, "precondition-required");
    // Exactly what the document says: a strong tag of 1 to 19 digits.
    for bad in [
        "1",
        "\"+2\"",
        "\"02 \"",
        "W/\"2\"",
        "\"00000000000000000002\"",
    ] {
        send(patch(Some(bad)))
            .await
            .assert_problem(400, "invalid-request");
    }
    assert_eq!(
        app.json(Method::GET, &uri, "").await.body()["data"]["theme"],
        "dark"
    );

    assert_eq!(
        app.json(Method::DELETE, &uri, "").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.json(Method::DELETE, &uri, "").await.status,
        StatusCode::NO_CONTENT,
        "idempotent"
    );
    // Revoked is gone (410), not there (a DELETE answered 204), and says when and why.
    let gone = app.json(Method::GET, &uri, "").await;
    gone.assert_problem(410, "revoked");
    assert!(gone.body()["revoked_at"].is_i64());
    assert_eq!(gone.body()["revoke_reason"], "admin");
    send(patch(Some("\"2\"")))
        .await
        .assert_problem(410, "revoked");
    let missing = "/v1/sessions/AAAAAAAAAAAAAAAAAAAAAA";
    app.json(Method::GET, missing, "")
        .await
        .assert_problem(404, "not-found");
    app.json(Method::DELETE, missing, "")
        .await
        .assert_problem(404, "not-found");
    app.json(Method::GET, "/v1/sessions/not-a-sid", "")
        .await
        .assert_problem(400, "invalid-request");
}

#[tokio::test]
async fn a_users_sessions_can_be_listed_and_revoked_but_one() {
    let app = App::new().await;
    let a = app.login("alice").await;
    let b = app.login("alice").await;
    app.login("bob").await;
    let r = app.json(Method::GET, "/v1/users/alice/sessions", "").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body()["sessions"].as_array().unwrap().len(), 2);
    let keep = s(&a["session_id"]);
    let r = app
        .json(
            Method::DELETE,
            &format!("/v1/users/alice/sessions?except={keep}"),
            "",
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body()["revoked"], serde_json::json!([b["session_id"]]));
    let listed = app
        .json(Method::GET, "/v1/users/alice/sessions", "")
        .await
        .body();
    assert_eq!(listed["sessions"][0]["session_id"], a["session_id"]);
    assert_eq!(
        app.json(Method::GET, "/v1/users/bob/sessions", "")
            .await
            .body()["sessions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.json(Method::DELETE, "/v1/users/alice/sessions?except=zzz", "")
        .await
        .assert_problem(400, "invalid-request");
    app.json(Method::DELETE, "/v1/users/alice/sessions?nope=1", "")
        .await
        .assert_problem(400, "invalid-request");
}

/// A user id no session can have (empty, over 256 bytes, control characters) is refused on
/// every route that names one, as the document says, instead of an empty list.
#[tokio::test]
async fn user_routes_refuse_user_ids_no_session_can_have() {
    let app = App::new().await;
    let longest = "a".repeat(256);
    for route in ["sessions", "events"] {
        let ok = app
            .json(Method::GET, &format!("/v1/users/{longest}/{route}"), "")
            .await;
        assert_eq!(ok.status, StatusCode::OK, "{route}: {}", ok.text);
    }
    let too_long = "a".repeat(257);
    let two_byte = "%C3%A9".repeat(129); // 129 characters, 258 bytes
    for user in [
        too_long.as_str(),
        two_byte.as_str(),
        "a%01b",
        "a%C2%85b",
        "%7F",
    ] {
        for (method, route) in [
            (Method::GET, "sessions"),
            (Method::DELETE, "sessions"),
            (Method::GET, "events"),
        ] {
            app.json(method.clone(), &format!("/v1/users/{user}/{route}"), "")
                .await
                .assert_problem(400, "invalid-request");
        }
    }
    app.json(Method::DELETE, "/v1/users/alice/sessions?except=", "")
        .await
        .assert_problem(400, "invalid-request");
}

/// Signs each of `users` in and revokes that session: the feed's entries, in order.
async fn signed_in_and_out(app: &App, users: &[&str]) -> Vec<String> {
    let mut sids = Vec::new();
    for user in users {
        let sid = s(&app.login(user).await["session_id"]).to_owned();
        app.json(Method::DELETE, &format!("/v1/sessions/{sid}"), "")
            .await;
        sids.push(sid);
    }
    sids
}

#[tokio::test]
async fn the_revocation_feed_pages_by_cursor() {
    let app = App::new().await;
    let sids = signed_in_and_out(&app, &["alice"; 3]).await;
    let page = app
        .json(Method::GET, "/v1/revocations?limit=2", "")
        .await
        .body();
    let entries = page["revocations"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0]["session_id"], sids[0].as_str());
    assert_eq!(page["more"], true, "a full page");
    assert_eq!(page["at"], Value::Null, "nothing stands at cursor 0");
    assert!(page["next_at"].is_string());
    let next = page["next_cursor"].as_u64().unwrap();
    let rest = app
        .json(Method::GET, &format!("/v1/revocations?after={next}"), "")
        .await
        .body();
    assert_eq!(rest["revocations"][0]["session_id"], sids[2].as_str());
    assert_eq!(rest["more"], false, "the end");
    assert_eq!(
        rest["at"], page["next_at"],
        "the entry the follower stopped at is still there"
    );
    assert_ne!(rest["next_at"], rest["at"]);
    let beyond = app
        .json(Method::GET, "/v1/revocations?after=999", "")
        .await
        .body();
    assert_eq!(
        beyond["at"],
        Value::Null,
        "a cursor past the feed: read it again"
    );
    assert!(rest["revocations"][0]["until"].as_i64().unwrap() > 0);
    app.json(Method::GET, "/v1/revocations?limit=0", "")
        .await
        .assert_problem(400, "invalid-request");
    app.json(Method::GET, "/v1/revocations?after=-1", "")
        .await
        .assert_problem(400, "invalid-request");
}

/// On a sharded store (Redis: a feed per shard) the cursor holds one number per feed, handed
/// back as it came; pages still hold every revocation once, and the fingerprint still tells a
/// follower it stands where it stopped.
#[tokio::test]
async fn a_sharded_stores_feed_pages_by_a_cursor_per_feed() {
    let redis = super::support::RedisDeployment::single("feed");
    let app = App::with(&format!(
        "store = {:?}\nredis_key_tag = {:?}\nkey_encryption_key = {:?}\n",
        redis.url, redis.tag, redis.kek
    ))
    .await;
    let users = ["alice", "bob", "carol", "dave"];
    let shards: std::collections::HashSet<u8> = users
        .iter()
        .map(|u| tessera::SessionId::shard_of(u))
        .collect();
    assert!(shards.len() > 1, "users of several shards");
    let mut sids = signed_in_and_out(&app, &users).await;
    let page = app
        .json(Method::GET, "/v1/revocations?limit=3", "")
        .await
        .body();
    assert_eq!(page["more"], true, "a full page");
    assert_eq!(page["at"], Value::Null);
    let next = page["next_cursor"].as_str().unwrap().to_owned();
    assert_eq!(next.split('.').count(), 65, "64 shards and the global feed");
    let rest = app
        .json(Method::GET, &format!("/v1/revocations?after={next}"), "")
        .await
        .body();
    assert_eq!(rest["more"], false);
    assert_eq!(rest["at"], page["next_at"], "standing where it stopped");
    let mut seen: Vec<String> = [&page, &rest]
        .iter()
        .flat_map(|p| p["revocations"].as_array().unwrap().clone())
        .map(|e| {
            assert!(e["feed"].as_u64().unwrap() < 64);
            s(&e["session_id"]).to_owned()
        })
        .collect();
    seen.sort();
    sids.sort();
    assert_eq!(seen, sids, "every revocation, once");
    let last = rest["next_cursor"].as_str().unwrap();
    let idle = app
        .json(Method::GET, &format!("/v1/revocations?after={last}"), "")
        .await
        .body();
    assert_eq!(idle["revocations"].as_array().unwrap().len(), 0);
    assert_eq!(idle["next_cursor"], rest["next_cursor"]);
    assert_eq!(idle["at"], rest["next_at"]);
    for bad in ["5", "1.2", "1..2", "x"] {
        app.json(Method::GET, &format!("/v1/revocations?after={bad}"), "")
            .await
            .assert_problem(400, "invalid-request");
    }
}

#[tokio::test]
async fn session_limit_is_a_conflict() {
    let app = App::with("max_sessions_per_user = 1\non_session_limit = \"deny\"\n").await;
    app.login("alice").await;
    app.json(Method::POST, "/v1/sessions", r#"{"user_id":"alice"}"#)
        .await
        .assert_problem(409, "session-limit");
}

#[tokio::test]
async fn jwks_is_public_and_cacheable() {
    let app = App::new().await;
    let r = app
        .send(Method::GET, "/.well-known/jwks.json", &[], "")
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("cache-control"), "public, max-age=30");
    let keys = r.body()["keys"].as_array().unwrap().clone();
    assert_eq!(keys.len(), 2, "active and next");
    assert!(
        keys.iter()
            .all(|k| k["kty"] == "OKP" && k["alg"] == "EdDSA" && k.get("d").is_none())
    );
    let head = app
        .send(Method::HEAD, "/.well-known/jwks.json", &[], "")
        .await;
    assert_eq!(head.status, StatusCode::OK);
    assert!(head.text.is_empty());
}

#[tokio::test]
async fn oauth_revoke_follows_rfc_7009() {
    let app = App::new().await;
    let t = app.login("alice").await;
    let other = app.login("alice").await;
    let r = app
        .form(
            "/oauth2/revoke",
            &format!(
                "token={}&token_type_hint=refresh_token",
                s(&t["refresh_token"])
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let verify = format!(r#"{{"access_token":"{}"}}"#, s(&t["access_token"]));
    app.json(Method::POST, "/v1/sessions/verify", &verify)
        .await
        .assert_problem(401, "invalid-token");
    // An access token alone: that token dies, its session lives on.
    let r = app
        .form(
            "/oauth2/revoke",
            &format!("token={}", s(&other["access_token"])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let verify = format!(r#"{{"access_token":"{}"}}"#, s(&other["access_token"]));
    app.json(Method::POST, "/v1/sessions/verify", &verify)
        .await
        .assert_problem(401, "invalid-token");
    let refresh = format!(r#"{{"refresh_token":"{}"}}"#, s(&other["refresh_token"]));
    assert_eq!(
        app.json(Method::POST, "/v1/sessions/refresh", &refresh)
            .await
            .status,
        StatusCode::OK
    );
    // A token just superseded (a tab that lost a refresh race, now signing out) ends its
    // session too.
    let raced = app.login("bob").await;
    let refresh = format!(r#"{{"refresh_token":"{}"}}"#, s(&raced["refresh_token"]));
    let newer = app
        .json(Method::POST, "/v1/sessions/refresh", &refresh)
        .await;
    assert_eq!(newer.status, StatusCode::OK);
    let revoke = format!("token={}", s(&raced["refresh_token"]));
    assert_eq!(
        app.form("/oauth2/revoke", &revoke).await.status,
        StatusCode::OK
    );
    let refresh = format!(
        r#"{{"refresh_token":"{}"}}"#,
        s(&newer.body()["refresh_token"])
    );
    let after = app
        .json(Method::POST, "/v1/sessions/refresh", &refresh)
        .await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED, "{}", after.text);
    assert_eq!(
        app.form("/oauth2/revoke", "token=garbage").await.status,
        StatusCode::OK,
        "§2.2"
    );
    let missing = app.form("/oauth2/revoke", "token_type_hint=x").await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.body()["error"], "invalid_request");
    let anonymous = app
        .send(
            Method::POST,
            "/oauth2/revoke",
            &[("content-type", "application/x-www-form-urlencoded")],
            "token=x",
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.body()["error"], "invalid_client");
    assert!(!anonymous.header("www-authenticate").is_empty());
}

#[tokio::test]
async fn oauth_introspect_follows_rfc_7662() {
    let app = App::new().await;
    let t = app.login("alice").await;
    let access = app
        .form(
            "/oauth2/introspect",
            &format!("token={}", s(&t["access_token"])),
        )
        .await
        .body();
    assert_eq!(access["active"], true);
    assert_eq!(
        access["token_type"], "Bearer",
        "RFC 7662 §2.2: the OAuth token type"
    );
    assert_eq!(access["sub"], "alice");
    assert_eq!(access["role"], "admin");
    let refresh = app
        .form(
            "/oauth2/introspect",
            &format!("token={}", s(&t["refresh_token"])),
        )
        .await;
    assert_eq!(refresh.header("cache-control"), "no-store");
    let refresh = refresh.body();
    assert_eq!(refresh["active"], true);
    assert!(
        refresh.get("token_type").is_none(),
        "a refresh token is no bearer token"
    );
    assert_eq!(refresh["sid"], t["session_id"]);
    for junk in ["garbage", "tsr_AAAA", "eyJ.eyJ.x"] {
        assert_eq!(
            app.form("/oauth2/introspect", &format!("token={junk}"))
                .await
                .body(),
            serde_json::json!({"active": false})
        );
    }
    let not_a_form = app
        .json(Method::POST, "/oauth2/introspect", r#"{"token":"x"}"#)
        .await;
    assert_eq!(not_a_form.status, StatusCode::BAD_REQUEST);
    assert_eq!(not_a_form.body()["error"], "invalid_request");
}

#[tokio::test]
async fn health_readiness_metrics_and_openapi() {
    let app = App::new().await;
    assert_eq!(
        app.send(Method::GET, "/healthz", &[], "").await.body()["status"],
        "ok"
    );
    assert_eq!(
        app.send(Method::GET, "/readyz", &[], "").await.body()["status"],
        "ready"
    );
    app.login("alice").await;
    app.send(Method::GET, "/metrics", &[], "")
        .await
        .assert_problem(401, "unauthorized");
    let metrics = app.json(Method::GET, "/metrics", "").await;
    assert!(metrics.header("content-type").starts_with("text/plain"));
    assert!(
        metrics.text.contains(
            "tessera_http_requests_total{route=\"/v1/sessions\",method=\"POST\",status=\"201\"} 1"
        ),
        "{}",
        metrics.text
    );
    assert!(metrics.text.contains("tessera_purge_runs_total"));
    assert!(
        metrics
            .text
            .contains("tessera_audit_events_total{type=\"session_created\"} 1"),
        "{}",
        metrics.text
    );
    let doc = app.send(Method::GET, "/openapi.json", &[], "").await.body();
    assert_eq!(doc["openapi"], "3.1.0");
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = App::with("signup = \"open\"").await;
    let doc: Value = serde_json::from_str(tessera_server::http::OPENAPI).unwrap();
    let mut count = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "patch", "delete"] {
            if item.get(method).is_none() {
                continue;
            }
            let uri = path
                .replace("{sid}", "AAAAAAAAAAAAAAAAAAAAAA")
                .replace("{user_id}", "alice")
                .replace("{name}", "no-such-key");
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = app.json(m, &uri, "{}").await;
            assert_ne!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            let status = r.status.as_str();
            assert!(
                item[method]["responses"].get(status).is_some(),
                "{method} {path} answered {status}, which it does not document: {}",
                r.text
            );
            // Resources that do not exist are not found; a reset link without a token names none.
            let names_a_resource =
                path.contains("{sid}") || path.contains("{name}") || path == "/auth/reset";
            if r.status == StatusCode::NOT_FOUND {
                assert!(
                    names_a_resource,
                    "{method} {path} is documented but not routed"
                );
            }
            count += 1;
        }
    }
    assert_eq!(count, 40, "every operation of the document was tried");
}

#[tokio::test]
async fn unknown_routes_methods_heads_and_huge_headers() {
    let app = App::new().await;
    app.send(Method::GET, "/nope", &[], "")
        .await
        .assert_problem(404, "not-found");
    app.send(Method::PUT, "/v1/sessions", &[], "")
        .await
        .assert_problem(405, "method-not-allowed");
    // HEAD never reaches a state-changing handler.
    let auth = format!("Bearer {}", app.key);
    let head = app
        .send(
            Method::HEAD,
            "/v1/sessions",
            &[("authorization", &auth)],
            "",
        )
        .await;
    assert_eq!(head.status, StatusCode::METHOD_NOT_ALLOWED);
    let big = "x".repeat(17 * 1024);
    app.send(Method::GET, "/healthz", &[("x-big", &big)], "")
        .await
        .assert_problem(431, "headers-too-large");
    let r = app
        .send(Method::GET, "/healthz", &[("x-request-id", "abc-123")], "")
        .await;
    assert_eq!(r.header("x-request-id"), "abc-123");
    let r = app
        .send(Method::GET, "/healthz", &[("x-request-id", "bad id!")], "")
        .await;
    assert_ne!(r.header("x-request-id"), "bad id!");
}

/// With the database locked by someone else, writes answer 503 with Retry-After (never 500),
/// reads and verification keep working, and service resumes by itself once the lock goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_store_means_503_then_recovery() {
    let app = App::new().await;
    let t = app.login("alice").await;
    let db = app.state.config.database_path();
    let locker = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
        std::thread::sleep(std::time::Duration::from_secs(7));
        conn.execute_batch("COMMIT").unwrap();
    });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let create = app
        .json(Method::POST, "/v1/sessions", r#"{"user_id":"bob"}"#)
        .await;
    create.assert_problem(503, "unavailable");
    let verify = format!(r#"{{"access_token":"{}"}}"#, s(&t["access_token"]));
    assert_eq!(
        app.json(Method::POST, "/v1/sessions/verify", &verify)
            .await
            .status,
        StatusCode::OK
    );
    locker.join().unwrap();
    let again = app
        .json(Method::POST, "/v1/sessions", r#"{"user_id":"bob"}"#)
        .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.text);
}

fn assert_rate_limited(r: &super::support::Reply, limit: &str) {
    r.assert_problem(429, "rate-limited");
    assert_eq!(r.header("ratelimit-limit"), limit);
    assert_eq!(r.header("ratelimit-remaining"), "0");
    assert!(r.header("retry-after").parse::<u64>().unwrap() >= 1);
    assert!(r.header("ratelimit-reset").parse::<u64>().unwrap() >= 1);
}

#[tokio::test]
async fn verification_is_limited_per_session() {
    let app = App::with("[rate_limits]\nverify = { session = \"2/m\" }\n").await;
    let a = app.login("alice").await;
    let b = app.login("alice").await;
    let body = |t: &Value| format!(r#"{{"access_token":"{}"}}"#, s(&t["access_token"]));
    for _ in 0..2 {
        assert_eq!(
            app.json(Method::POST, "/v1/sessions/verify", &body(&a))
                .await
                .status,
            StatusCode::OK
        );
    }
    let limited = app
        .json(Method::POST, "/v1/sessions/verify", &body(&a))
        .await;
    assert_rate_limited(&limited, "2");
    assert_eq!(limited.header("retry-after"), "30");
    assert_eq!(
        app.json(Method::POST, "/v1/sessions/verify", &body(&b))
            .await
            .status,
        StatusCode::OK,
        "per session"
    );
    // Garbage does not count against anyone.
    for _ in 0..5 {
        app.json(
            Method::POST,
            "/v1/sessions/verify",
            r#"{"access_token":"x.y.z"}"#,
        )
        .await
        .assert_problem(401, "invalid-token");
    }
    let metrics = app.json(Method::GET, "/metrics", "").await.text;
    assert!(
        metrics.contains("tessera_rate_limited_total{class=\"verify\",by=\"session\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn refreshes_are_limited_per_session() {
    let app = App::with("[rate_limits]\nrefresh = { session = \"1/m\" }\n").await;
    let t = app.login("alice").await;
    let r = app
        .json(
            Method::POST,
            "/v1/sessions/refresh",
            &format!(r#"{{"refresh_token":"{}"}}"#, s(&t["refresh_token"])),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let next = format!(r#"{{"refresh_token":"{}"}}"#, s(&r.body()["refresh_token"]));
    assert_rate_limited(
        &app.json(Method::POST, "/v1/sessions/refresh", &next).await,
        "1",
    );
}

#[tokio::test]
async fn sign_ins_are_limited_per_user() {
    let app = App::with("[rate_limits]\nlogin = { user = \"1/h\" }\n").await;
    app.login("alice").await;
    assert_rate_limited(
        &app.json(Method::POST, "/v1/sessions", r#"{"user_id":"alice"}"#)
            .await,
        "1",
    );
    app.login("bob").await;
}

#[tokio::test]
async fn backend_calls_are_limited_per_client_ip() {
    let app = App::with("[rate_limits]\nadmin = { client = \"2/m\" }\n").await;
    let auth = format!("Bearer {}", app.key);
    let h = [("authorization", auth.as_str())];
    for _ in 0..2 {
        assert_eq!(
            app.send_from([192, 0, 2, 1], Method::GET, "/v1/users/a/sessions", &h, "")
                .await
                .status,
            StatusCode::OK
        );
    }
    assert_rate_limited(
        &app.send_from([192, 0, 2, 1], Method::GET, "/v1/users/a/sessions", &h, "")
            .await,
        "2",
    );
    assert_eq!(
        app.send_from([192, 0, 2, 2], Method::GET, "/v1/users/a/sessions", &h, "")
            .await
            .status,
        StatusCode::OK
    );
    let open = app
        .send_from([192, 0, 2, 1], Method::GET, "/healthz", &[], "")
        .await;
    assert_eq!(open.status, StatusCode::OK, "public routes are not limited");
}

#[tokio::test]
async fn a_users_security_events_are_listed_newest_first() {
    let app = App::with("[rate_limits]\nlogin = { user = \"1/h\" }\n").await;
    let t = app.login("alice").await;
    let sid = s(&t["session_id"]);
    app.json(Method::DELETE, &format!("/v1/sessions/{sid}"), "")
        .await;
    for _ in 0..3 {
        let r = app
            .json(Method::POST, "/v1/sessions", r#"{"user_id":"alice"}"#)
            .await;
        r.assert_problem(429, "rate-limited");
    }
    let r = app.json(Method::GET, "/v1/users/alice/events", "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.header("cache-control"), "no-store");
    let events = r.body()["events"].as_array().unwrap().clone();
    let types: Vec<&str> = events.iter().map(|e| s(&e["type"])).collect();
    assert_eq!(
        types,
        ["rate_limited", "session_revoked", "session_created"],
        "three trips, one event"
    );
    assert_eq!(events[0]["class"], "login");
    assert_eq!(events[1]["reason"], "admin");
    assert_eq!(events[1]["sid"], sid);
    assert!(events[2]["at"].as_i64().unwrap() > 1_700_000_000, "seconds");
    let first = events[0]["id"].as_u64().unwrap();
    let page = app
        .json(
            Method::GET,
            &format!("/v1/users/alice/events?before={first}&limit=1"),
            "",
        )
        .await
        .body();
    assert_eq!(page["events"][0]["type"], "session_revoked");
    assert_eq!(page["next_before"], events[1]["id"]);
    assert!(
        app.json(Method::GET, "/v1/users/bob/events", "")
            .await
            .body()["events"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    app.json(Method::GET, "/v1/users/alice/events?limit=0", "")
        .await
        .assert_problem(400, "invalid-request");
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    let app = App::with(
        "trusted_proxies = [\"10.0.0.0/8\"]\nforwarded_header = \"x-forwarded-for\"\n\
         [rate_limits]\nadmin = { client = \"1/m\" }\n",
    )
    .await;
    let auth = format!("Bearer {}", app.key);
    let from = |xff: &'static str| {
        [
            ("authorization", auth.clone()),
            ("x-forwarded-for", xff.to_owned()),
        ]
    };
    let send = |ip: [u8; 4], xff: &'static str| {
        let h = from(xff);
        let app = &app;
        async move {
            let h: Vec<(&str, &str)> = h.iter().map(|(k, v)| (*k, v.as_str())).collect();
            app.send_from(ip, Method::GET, "/v1/users/a/sessions", &h, "")
                .await
                .status
        }
    };
    // An untrusted peer cannot rotate spoofed addresses to dodge its limit.
    assert_eq!(send([203, 0, 113, 5], "1.1.1.1").await, StatusCode::OK);
    assert_eq!(
        send([203, 0, 113, 5], "2.2.2.2").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Behind the trusted proxy, each forwarded client has its own limit.
    assert_eq!(send([10, 0, 0, 1], "198.51.100.1").await, StatusCode::OK);
    assert_eq!(send([10, 0, 0, 1], "198.51.100.2").await, StatusCode::OK);
    assert_eq!(
        send([10, 0, 0, 2], "198.51.100.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The proxy writes X-Forwarded-For and passes on the `Forwarded` the client wrote, which
    // is never read: it buys no fresh budget.
    let h = [
        ("authorization", auth.as_str()),
        ("forwarded", "for=198.51.100.9"),
        ("x-forwarded-for", "198.51.100.1"),
    ];
    let spoofed = app
        .send_from([10, 0, 0, 1], Method::GET, "/v1/users/a/sessions", &h, "")
        .await;
    assert_eq!(spoofed.status, StatusCode::TOO_MANY_REQUESTS);
}

/// Audit events carry the client's address as resolved through trusted proxies: the address a
/// trusted proxy names, the peer's own for anyone else (whatever header it sends).
#[tokio::test]
async fn audit_events_carry_the_resolved_client_address() {
    let app =
        App::with("trusted_proxies = [\"10.0.0.0/8\"]\nforwarded_header = \"x-forwarded-for\"")
            .await;
    let auth = format!("Bearer {}", app.key);
    let create = |ip: [u8; 4], user: &'static str| {
        let auth = auth.clone();
        let app = &app;
        async move {
            let h = [
                ("authorization", auth.as_str()),
                ("content-type", "application/json"),
                ("x-forwarded-for", "198.51.100.7"),
            ];
            let body = format!(r#"{{"user_id":"{user}"}}"#);
            let r = app
                .send_from(ip, Method::POST, "/v1/sessions", &h, &body)
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        }
    };
    create([10, 0, 0, 1], "proxied").await;
    create([203, 0, 113, 5], "direct").await;
    let ip_of = |user: &'static str| {
        let app = &app;
        async move {
            let events = app
                .json(Method::GET, &format!("/v1/users/{user}/events"), "")
                .await
                .body();
            events["events"][0]["ip"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }
    };
    assert_eq!(ip_of("proxied").await, "198.51.100.7");
    assert_eq!(
        ip_of("direct").await,
        "203.0.113.5",
        "an untrusted peer's header is ignored"
    );
}
