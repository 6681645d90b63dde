//! The edges an attacker probes first: sign-up, change-password, lockout, the API keys.
//! Each test fails without the defence it names (see docs/threat-model.md).

use std::net::IpAddr;
use std::time::Duration;

use axum::http::{Method, StatusCode, header};
use serde_json::Value;

use super::pages::{Jar, OPEN, account_id, csrf_of, get, json_login, post_form, sign_in, sign_up};
use super::support::{App, Reply};

fn encoded(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap()
}

/// The reproduction of the report: a visitor signs up under a backend user's id.
#[tokio::test]
async fn signing_up_as_a_backend_user_takes_over_nothing() {
    let app = App::with(OPEN).await;
    let victim = app.login("ceo-42").await; // claims role: admin
    let mut visitor = Jar::default();
    let r = sign_up(&app, &mut visitor, "ceo-42", "visitor+password").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let me = get(&app, &mut visitor, "/auth/me").await.body();
    assert_eq!(me["login"], "ceo-42");
    assert_ne!(me["user_id"], "ceo-42");
    assert!(s(&me["user_id"]).starts_with("usr_"));
    let csrf = s(&me["csrf_token"]).to_owned();
    let cookie = visitor.header();
    let minted = app
        .send(
            Method::POST,
            "/auth/refresh",
            &[("cookie", &cookie), ("x-csrf-token", &csrf)],
            "",
        )
        .await
        .body();
    let verified = app
        .json(
            Method::POST,
            "/v1/sessions/verify",
            &format!(r#"{{"access_token":"{}"}}"#, s(&minted["access_token"])),
        )
        .await
        .body();
    assert_eq!(verified["claims"]["sub"], me["user_id"]);
    assert!(
        verified["claims"].get("role").is_none(),
        "no claim of the victim's"
    );
    // The account page shows only the visitor's own device, and "everywhere else" is theirs.
    let page = get(&app, &mut visitor, "/auth/account").await;
    assert_eq!(page.text.matches("class=\"what\"").count(), 1);
    let r = post_form(
        &app,
        &mut visitor,
        "/auth/sessions/others/revoke",
        &format!("_csrf={}", csrf_of(&page.text)),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let still = app
        .json(
            Method::POST,
            "/v1/sessions/refresh",
            &format!(r#"{{"refresh_token":"{}"}}"#, s(&victim["refresh_token"])),
        )
        .await;
    assert_eq!(still.status, StatusCode::OK, "the victim's session lives");
}

/// A backend cannot be tricked into minting a session for an account id nobody has.
#[tokio::test]
async fn account_ids_are_not_backend_user_ids() {
    let app = App::new().await;
    let forged = tessera::AccountId::generate().unwrap();
    app.json(
        Method::POST,
        "/v1/sessions",
        &format!(r#"{{"user_id":"{forged}"}}"#),
    )
    .await
    .assert_problem(400, "invalid-request");
}

#[tokio::test]
async fn sign_up_is_closed_unless_opened() {
    let app = App::new().await;
    for (method, body, kind) in [
        (Method::GET, "", "text/html"),
        (
            Method::POST,
            "user=alice&password=long+enough",
            "application/x-www-form-urlencoded",
        ),
        (
            Method::POST,
            r#"{"user":"alice","password":"long enough"}"#,
            "application/json",
        ),
    ] {
        app.send(method, "/auth/signup", &[("content-type", kind)], body)
            .await
            .assert_problem(404, "not-found");
    }
    let login = app.send(Method::GET, "/auth/login", &[], "").await;
    assert_eq!(login.status, StatusCode::OK);
    assert!(!login.text.contains("/auth/signup"), "no sign-up link");
    let open = App::with(OPEN).await;
    let page = open.send(Method::GET, "/auth/login", &[], "").await;
    assert!(page.text.contains("href=\"/auth/signup\""));
}

/// Sign-ups are limited per client (an IPv6 one by its /64) and audited.
#[tokio::test]
async fn sign_up_is_rate_limited_per_client_and_audited() {
    let app = App::with("signup = \"open\"\nsignup_client_limit = \"2/h:2\"").await;
    let sign_up_from = |ip: IpAddr, name: &str| {
        let body = format!(r#"{{"user":"{name}","password":"a long enough password"}}"#);
        let app = &app;
        async move {
            let json = [("content-type", "application/json")];
            app.send_from(ip, Method::POST, "/auth/signup", &json, &body)
                .await
        }
    };
    let first = sign_up_from([10, 0, 0, 1].into(), "ann").await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let id = s(&first.body()["user_id"]).to_owned();
    sign_up_from([10, 0, 0, 1].into(), "ben").await;
    let third = sign_up_from([10, 0, 0, 1].into(), "cat").await;
    assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(third.header("retry-after").parse::<u64>().unwrap() > 0);
    let elsewhere = sign_up_from([10, 0, 0, 2].into(), "cat").await;
    assert_eq!(elsewhere.status, StatusCode::OK, "per client");
    // One host commonly holds a whole IPv6 /64: its other addresses buy no fresh budget.
    let v6 = |net: u16, host: u16| IpAddr::from([0x2001, 0xdb8, 0, net, 0, 0, 0, host]);
    for (host, name) in [(1, "dan"), (2, "eve")] {
        let r = sign_up_from(v6(7, host), name).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let third = sign_up_from(v6(7, 3), "fay").await;
    assert_eq!(
        third.status,
        StatusCode::TOO_MANY_REQUESTS,
        "another address of the same /64"
    );
    let other = sign_up_from(v6(8, 1), "fay").await;
    assert_eq!(other.status, StatusCode::OK, "another /64");
    let events = app
        .json(Method::GET, &format!("/v1/users/{id}/events"), "")
        .await
        .body();
    let kinds: Vec<&str> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| s(&e["type"]))
        .collect();
    assert!(kinds.contains(&"account_created"), "{kinds:?}");
}

/// `ａｌｉｃｅ`, `Alice` and `alice` are one account; invisible characters are refused.
#[tokio::test]
async fn login_names_are_normalized_and_invisible_characters_refused() {
    let app = App::with(OPEN).await;
    let mut jar = Jar::default();
    let r = sign_up(
        &app,
        &mut jar,
        &encoded("Ａｌｉｃｅ"),
        "correct+horse+battery",
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(
        get(&app, &mut jar, "/auth/me").await.body()["login"],
        "alice"
    );
    for typed in ["alice", "ALICE", "ａｌｉｃｅ"] {
        let r = sign_in(
            &app,
            &mut Jar::default(),
            &encoded(typed),
            "correct+horse+battery",
        )
        .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{typed}");
    }
    let taken = sign_up(&app, &mut Jar::default(), "ALICE", "another+password").await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    for bad in [
        "ali\u{200b}ce",
        "\u{202e}ecila",
        "ali\u{2028}ce",
        "ali\u{7}ce",
    ] {
        let r = sign_up(&app, &mut Jar::default(), &encoded(bad), "another+password").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad:?}");
        assert!(r.text.contains("cannot contain"), "{}", r.text);
    }
}

/// Guessing the current password through change-password spends the same budget as signing in:
/// a stolen session cookie (without the owner's device cookie) gets five tries, then 429.
#[tokio::test]
async fn change_password_spends_the_sign_in_budget_and_is_audited() {
    let app = App::with(OPEN).await;
    let mut owner = Jar::default();
    sign_up(&app, &mut owner, "alice", "correct+horse+battery").await;
    let id = account_id(&app, &mut owner).await;
    let mut thief = Jar::default();
    thief.absorb_value("__Host-tessera", &owner.get("__Host-tessera").unwrap());
    let csrf = csrf_of(&get(&app, &mut thief, "/auth/account").await.text);
    let guess = |n: usize| format!("_csrf={csrf}&current=guess+{n}&new=stolen+kettle+harbour");
    let mut statuses = Vec::new();
    for n in 0..6 {
        statuses.push(post_form(&app, &mut thief, "/auth/password", &guess(n)).await);
    }
    assert!(
        statuses[..5]
            .iter()
            .all(|r| r.status == StatusCode::FORBIDDEN)
    );
    assert!(statuses[0].text.contains("The current password is wrong."));
    let locked = &statuses[5];
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        locked.text
    );
    assert!(locked.header("retry-after").parse::<u64>().unwrap() > 0);
    // The sign-in form from another unknown device is locked too: one budget.
    let r = sign_in(&app, &mut Jar::default(), "alice", "correct+horse+battery").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let events = app
        .json(Method::GET, &format!("/v1/users/{id}/events"), "")
        .await
        .body();
    let failed = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "password_change_failed")
        .count();
    assert_eq!(failed, 5);
}

/// Wrong passwords from anywhere lock out unknown devices only: the owner's browser, which
/// signed in before, has its own budget and still gets in.
#[tokio::test]
async fn strangers_cannot_lock_the_owner_out() {
    let app = App::with(OPEN).await;
    let mut owner = Jar::default();
    sign_up(&app, &mut owner, "alice", "correct+horse+battery").await;
    assert!(
        owner.get("__Host-tessera-device").is_some(),
        "a known device now"
    );
    for _ in 0..8 {
        sign_in(&app, &mut Jar::default(), "alice", "wrong+password").await;
    }
    let stranger = sign_in(&app, &mut Jar::default(), "alice", "correct+horse+battery").await;
    assert_eq!(stranger.status, StatusCode::TOO_MANY_REQUESTS);
    let again = sign_in(&app, &mut owner, "alice", "correct+horse+battery").await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.text);
    // A device cookie of another account, or a forged one, is just an unknown device.
    let mut forged = Jar::default();
    forged.absorb_value(
        "__Host-tessera-device",
        "tsd_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    );
    let r = sign_in(&app, &mut forged, "alice", "correct+horse+battery").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let mut bobs = Jar::default();
    sign_up(&app, &mut bobs, "bob", "bob+password+1").await;
    let r = sign_in(&app, &mut bobs, "alice", "correct+horse+battery").await;
    assert_eq!(
        r.status,
        StatusCode::TOO_MANY_REQUESTS,
        "bob's device is not alice's"
    );
}

/// The guessing budgets are settings.
#[tokio::test]
async fn guessing_budgets_are_settings() {
    let app = App::with("signup = \"open\"\nsignin_account_limit = \"2/h:2\"").await;
    sign_up(&app, &mut Jar::default(), "alice", "correct+horse+battery").await;
    let statuses: Vec<StatusCode> = {
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(
                sign_in(&app, &mut Jar::default(), "alice", "wrong")
                    .await
                    .status,
            );
        }
        v
    };
    assert_eq!(
        statuses,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );
}

async fn create_key(app: &App, name: &str, scope: &str) -> String {
    let r = app
        .json(
            Method::POST,
            "/v1/api-keys",
            &format!(r#"{{"name":"{name}","scope":"{scope}"}}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.header("cache-control"), "no-store");
    s(&r.body()["key"]).to_owned()
}

async fn with_key(app: &App, key: &str, method: Method, uri: &str, body: &str) -> Reply {
    let auth = format!("Bearer {key}");
    let kind = if uri.starts_with("/oauth2") {
        "application/x-www-form-urlencoded"
    } else {
        "application/json"
    };
    app.send(
        method,
        uri,
        &[("authorization", &auth), ("content-type", kind)],
        body,
    )
    .await
}

/// A verify key verifies, introspects and follows the feed; it cannot mint, revoke, read
/// sessions, manage keys or read metrics. A metrics key reads metrics only.
#[tokio::test]
async fn scoped_keys_do_only_their_job() {
    let app = App::new().await;
    let t = app.login("alice").await;
    let verify = create_key(&app, "orders", "verify").await;
    let metrics = create_key(&app, "grafana", "metrics").await;
    let token = format!(r#"{{"access_token":"{}"}}"#, s(&t["access_token"]));
    let form = format!("token={}", s(&t["access_token"]));
    let allowed = [
        (Method::POST, "/v1/sessions/verify", token.as_str()),
        (Method::GET, "/v1/revocations", ""),
        (Method::POST, "/oauth2/introspect", form.as_str()),
    ];
    for (method, uri, body) in allowed {
        let r = with_key(&app, &verify, method.clone(), uri, body).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.text);
        let r = with_key(&app, &metrics, method, uri, body).await;
        if uri.starts_with("/oauth2") {
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "metrics key on {uri}");
        } else {
            r.assert_problem(403, "insufficient-scope");
        }
    }
    let sid = s(&t["session_id"]);
    let refresh = format!(r#"{{"refresh_token":"{}"}}"#, s(&t["refresh_token"]));
    let session = format!("/v1/sessions/{sid}");
    let denied = [
        (Method::POST, "/v1/sessions", r#"{"user_id":"mallory"}"#),
        (Method::POST, "/v1/sessions/refresh", refresh.as_str()),
        (Method::GET, session.as_str(), ""),
        (Method::DELETE, session.as_str(), ""),
        (Method::GET, "/v1/users/alice/sessions", ""),
        (Method::GET, "/v1/api-keys", ""),
        (
            Method::POST,
            "/v1/api-keys",
            r#"{"name":"x","scope":"admin"}"#,
        ),
        (Method::GET, "/metrics", ""),
    ];
    for (method, uri, body) in denied {
        let r = with_key(&app, &verify, method, uri, body).await;
        r.assert_problem(403, "insufficient-scope");
        let needed = if uri.starts_with("/v1/api-keys") {
            "admin"
        } else if uri == "/metrics" {
            "metrics"
        } else {
            "sessions"
        };
        assert_eq!(r.body()["scope"], needed, "{uri}");
        assert_eq!(
            r.header("www-authenticate"),
            format!("Bearer error=\"insufficient_scope\", scope=\"{needed}\""),
        );
    }
    with_key(&app, "tsk_not-a-key", Method::GET, "/v1/revocations", "")
        .await
        .assert_problem(401, "unauthorized");
    let revoke = with_key(&app, &verify, Method::POST, "/oauth2/revoke", &form).await;
    assert_eq!(revoke.status, StatusCode::UNAUTHORIZED);
    assert_eq!(revoke.body()["error"], "invalid_client");
    let m = with_key(&app, &metrics, Method::GET, "/metrics", "").await;
    assert_eq!(m.status, StatusCode::OK);
    assert!(m.text.contains("tessera_live_sessions"), "{}", m.text);
    app.send(Method::GET, "/metrics", &[], "")
        .await
        .assert_problem(401, "unauthorized");
    assert_eq!(
        app.json(Method::GET, &format!("/v1/sessions/{sid}"), "")
            .await
            .status,
        StatusCode::OK,
        "admin may do everything"
    );
}

/// RFC 7009 / 7662 clients authenticate with HTTP Basic: the key's name and the key.
#[tokio::test]
async fn oauth_clients_use_basic_authentication() {
    use base64::Engine;
    let app = App::new().await;
    let t = app.login("alice").await;
    let verify = create_key(&app, "orders", "verify").await;
    let basic = |id: &str, key: &str| {
        let raw = format!("{id}:{key}");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    };
    let form = format!("token={}", s(&t["access_token"]));
    let post = |auth: String| {
        let form = form.clone();
        let app = &app;
        async move {
            app.send(
                Method::POST,
                "/oauth2/introspect",
                &[
                    ("authorization", &auth),
                    ("content-type", "application/x-www-form-urlencoded"),
                ],
                &form,
            )
            .await
        }
    };
    let ok = post(basic("orders", &verify)).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body()["token_type"], "Bearer");
    assert_eq!(ok.body()["sub"], "alice");
    let admin = post(basic("admin", &app.key)).await;
    assert_eq!(
        admin.status,
        StatusCode::OK,
        "the bootstrap key is client `admin`"
    );
    let wrong_name = post(basic("billing", &verify)).await;
    let wrong_key = post(basic("orders", &app.key)).await;
    let garbage = post(basic("orders", "tsk_nope")).await;
    assert_eq!(
        wrong_name.header("www-authenticate"),
        "Basic realm=\"tessera\", Bearer",
        "RFC 6749 §5.2 names the scheme"
    );
    for r in [&wrong_name, &wrong_key, &garbage] {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(r.text, wrong_name.text, "one answer for every wrong part");
    }
}

/// A sessions key is what an application backend needs: every session route and all that a
/// verify key may do, but no key management and no metrics.
#[tokio::test]
async fn a_sessions_key_runs_a_backend_but_mints_no_keys() {
    let app = App::new().await;
    let key = create_key(&app, "shop", "sessions").await;
    let created = with_key(
        &app,
        &key,
        Method::POST,
        "/v1/sessions",
        r#"{"user_id":"bob"}"#,
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let t = created.body();
    let sid = s(&t["session_id"]);
    let session = format!("/v1/sessions/{sid}");
    let refresh = format!(r#"{{"refresh_token":"{}"}}"#, s(&t["refresh_token"]));
    let token = format!(r#"{{"access_token":"{}"}}"#, s(&t["access_token"]));
    let form = format!("token={}", s(&t["access_token"]));
    let allowed = [
        (Method::POST, "/v1/sessions/refresh", refresh.as_str()),
        (Method::POST, "/v1/sessions/verify", token.as_str()),
        (Method::GET, session.as_str(), ""),
        (Method::GET, "/v1/users/bob/sessions", ""),
        (Method::GET, "/v1/users/bob/events", ""),
        (Method::GET, "/v1/revocations", ""),
        (Method::POST, "/oauth2/introspect", form.as_str()),
    ];
    for (method, uri, body) in allowed {
        let r = with_key(&app, &key, method, uri, body).await;
        assert_eq!(r.status, StatusCode::OK, "{uri}: {}", r.text);
    }
    let denied = [
        (Method::GET, "/v1/api-keys", ""),
        (
            Method::POST,
            "/v1/api-keys",
            r#"{"name":"x","scope":"admin"}"#,
        ),
        (Method::DELETE, "/v1/api-keys/shop", ""),
        (Method::GET, "/metrics", ""),
    ];
    for (method, uri, body) in denied {
        with_key(&app, &key, method, uri, body)
            .await
            .assert_problem(403, "insufficient-scope");
    }
    let revoked = with_key(&app, &key, Method::DELETE, &session, "").await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT, "{}", revoked.text);
    let gone = with_key(&app, &key, Method::DELETE, "/v1/users/bob/sessions", "").await;
    assert_eq!(gone.status, StatusCode::OK, "{}", gone.text);
}

/// Keys are listed without secrets, revoked on every node at once (through the feed), and
/// their last use is recorded.
#[tokio::test]
async fn keys_are_listed_and_revoked_everywhere() {
    let a = App::new().await;
    let b = a.another_node("").await;
    let key = create_key(&a, "orders", "verify").await;
    let dup = a
        .json(
            Method::POST,
            "/v1/api-keys",
            r#"{"name":"orders","scope":"admin"}"#,
        )
        .await;
    dup.assert_problem(409, "conflict");
    for bad in [
        r#"{"name":"bad name","scope":"verify"}"#,
        r#"{"name":"x","scope":"root"}"#,
        r#"{"name":"admin","scope":"verify"}"#,
    ] {
        a.json(Method::POST, "/v1/api-keys", bad)
            .await
            .assert_problem(400, "invalid-request");
    }
    let feed = with_key(&b, &key, Method::GET, "/v1/revocations", "").await;
    assert_eq!(
        feed.status,
        StatusCode::OK,
        "node B knows a key made on A at once"
    );
    b.state.api_keys.flush_use(&b.state.manager).await.unwrap();
    let listed = a.json(Method::GET, "/v1/api-keys", "").await;
    assert!(!listed.text.contains(&key[4..]), "never the key");
    let keys = listed.body()["api_keys"].clone();
    assert_eq!(keys[0]["name"], "orders");
    assert_eq!(keys[0]["scope"], "verify");
    assert!(keys[0]["last_used_at"].as_i64().unwrap() > 0, "{keys}");

    assert_eq!(
        a.json(Method::DELETE, "/v1/api-keys/orders", "")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    a.json(Method::DELETE, "/v1/api-keys/orders", "")
        .await
        .assert_problem(404, "not-found");
    with_key(&a, &key, Method::GET, "/v1/revocations", "")
        .await
        .assert_problem(401, "unauthorized");
    b.state.manager.sync_revocations().await.unwrap();
    with_key(&b, &key, Method::GET, "/v1/revocations", "")
        .await
        .assert_problem(401, "unauthorized");
    let public = a
        .json(Method::GET, "/v1/revocations?limit=1", "")
        .await
        .body();
    assert_eq!(
        public["revocations"],
        serde_json::json!([]),
        "not shown to followers"
    );
    assert!(
        public["next_cursor"].as_u64().unwrap() >= 1,
        "but the cursor moves past it"
    );
    assert_eq!(
        public["more"], true,
        "an empty page can still have more after it"
    );
}

/// With `metrics_listen`, the main address does not serve /metrics at all.
#[tokio::test]
async fn metrics_can_move_to_their_own_address() {
    let app = App::with("metrics_listen = \"127.0.0.1:0\"").await;
    app.json(Method::GET, "/metrics", "")
        .await
        .assert_problem(404, "not-found");
}

/// A known device spends only its own budget: a neighbour behind the same address (NAT,
/// proxy) exhausting the address's budget does not lock its owner out; one browser remembers
/// several accounts; a change of password ends every other browser's mark.
#[tokio::test]
async fn known_devices_survive_shared_addresses_and_second_accounts_but_not_a_new_password() {
    let app = App::with("signup = \"open\"\nsignin_client_limit = \"2/h:2\"").await;
    let mut laptop = Jar::default();
    sign_up(&app, &mut laptop, "alice", "correct+horse+battery").await;
    sign_up(&app, &mut Jar::default(), "bob", "bob+password+1").await;
    let r = sign_in(&app, &mut laptop, "bob", "bob+password+1").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let mut phone = Jar::default();
    sign_in(&app, &mut phone, "alice", "correct+horse+battery").await;
    // The neighbour's guesses use up the address's budget (all these come from 127.0.0.1).
    for _ in 0..3 {
        sign_in(&app, &mut Jar::default(), "carol", "wrong+password").await;
    }
    let stranger = sign_in(&app, &mut Jar::default(), "alice", "correct+horse+battery").await;
    assert_eq!(
        stranger.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the address is spent"
    );
    for (user, password) in [
        ("bob", "bob+password+1"),
        ("alice", "correct+horse+battery"),
    ] {
        let r = sign_in(&app, &mut laptop, user, password).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{user} from the laptop");
    }
    // Alice changes her password on the laptop: the phone's mark is worth nothing now.
    let csrf = csrf_of(&get(&app, &mut laptop, "/auth/account").await.text);
    let body = format!("_csrf={csrf}&current=correct+horse+battery&new=even+better+password");
    let r = post_form(&app, &mut laptop, "/auth/password", &body).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let r = sign_in(&app, &mut phone, "alice", "even+better+password").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "a stranger again");
    let r = sign_in(&app, &mut laptop, "alice", "even+better+password").await;
    assert_eq!(
        r.status,
        StatusCode::SEE_OTHER,
        "the laptop was marked anew"
    );
}

/// The bootstrap admin key can be revoked through the API, as a named key is: refused here at
/// once, while a named admin key keeps working.
#[tokio::test]
async fn the_bootstrap_admin_key_can_be_revoked() {
    let app = App::new().await;
    let named = create_key(&app, "ops", "admin").await;
    let r = app.json(Method::DELETE, "/v1/api-keys/admin", "").await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let after = app.json(Method::GET, "/v1/api-keys", "").await;
    assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    let listed = with_key(&app, &named, Method::GET, "/v1/api-keys", "").await;
    assert_eq!(listed.status, StatusCode::OK);
    let again = with_key(&app, &named, Method::DELETE, "/v1/api-keys/admin", "").await;
    assert_eq!(again.status, StatusCode::NOT_FOUND, "revoked already");
}

/// Alice's account, and an attacker's sign-in with her password held (a second's throttling
/// delay, earned by its own failed guesses) between reading the account and checking the
/// password, while `meanwhile` runs: what the sign-in got.
async fn sign_in_racing(app: &App, meanwhile: impl std::future::Future<Output = ()>) -> Reply {
    for _ in 0..4 {
        json_login(app, "alice", "a wrong guess").await;
    }
    let racing = async {
        let body = r#"{"user":"alice","password":"correct horse battery"}"#;
        let json = [("content-type", "application/json")];
        app.send(Method::POST, "/auth/login", &json, body).await
    };
    let meanwhile = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        meanwhile.await;
    };
    tokio::join!(racing, meanwhile).0
}

/// A sign-in that checked the old password while its owner changed it gets no session: the
/// change ended every session it found, and one made after that must not outlive it.
#[tokio::test]
async fn a_sign_in_racing_a_password_change_gets_no_session() {
    let app = App::with(OPEN).await;
    let mut owner = Jar::default();
    sign_up(&app, &mut owner, "alice", "correct+horse+battery").await;
    let change = async {
        let csrf = csrf_of(&get(&app, &mut owner, "/auth/account").await.text);
        let body = format!("_csrf={csrf}&current=correct+horse+battery&new=even+better+password");
        let changed = post_form(&app, &mut owner, "/auth/password", &body).await;
        assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.text);
    };
    let racing = sign_in_racing(&app, change).await;
    assert_eq!(racing.status, StatusCode::UNAUTHORIZED, "{}", racing.text);
    assert!(
        racing.headers.get(header::SET_COOKIE).is_none(),
        "no session cookie"
    );
    let stale = json_login(&app, "alice", "correct horse battery").await;
    assert_eq!(stale, StatusCode::UNAUTHORIZED);
}

/// The same while an operator deletes the account: no session outlives it.
#[tokio::test]
async fn a_sign_in_racing_the_accounts_deletion_gets_no_session() {
    let app = App::with(OPEN).await;
    let mut owner = Jar::default();
    sign_up(&app, &mut owner, "alice", "correct+horse+battery").await;
    let id: tessera::AccountId = account_id(&app, &mut owner).await.parse().unwrap();
    let delete = async {
        app.state.manager.delete_user(&id).await.unwrap();
    };
    let racing = sign_in_racing(&app, delete).await;
    assert_eq!(racing.status, StatusCode::UNAUTHORIZED, "{}", racing.text);
    assert!(racing.headers.get(header::SET_COOKIE).is_none());
    assert!(
        app.state
            .manager
            .list(id.as_str())
            .await
            .unwrap()
            .is_empty()
    );
}

/// On a shared store, a named key is only as good as this node's view of the revocation feed:
/// while the view is stale (the store out of reach) the key is refused with 503, like tokens,
/// and accepted again once the node has caught up. The bootstrap admin key still works.
#[tokio::test]
async fn named_keys_fail_closed_while_the_feed_is_stale() {
    let url =
        std::env::var("TESSERA_TEST_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:16379/".into());
    let kek = tessera::KeyEncryptionKey::generate().unwrap().expose();
    let tag = format!("{{st-{}}}", tessera::random_id().unwrap());
    let app = App::with(&format!(
        "store = {url:?}\nredis_key_tag = {tag:?}\nkey_encryption_key = {kek:?}\nfeed_staleness = \"1s\""
    ))
    .await;
    let key = create_key(&app, "orders", "verify").await;
    app.state.manager.sync_revocations().await.unwrap();
    let fresh = with_key(&app, &key, Method::GET, "/v1/revocations", "").await;
    assert_eq!(fresh.status, StatusCode::OK, "{}", fresh.text);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await; // no background sync here
    with_key(&app, &key, Method::GET, "/v1/revocations", "")
        .await
        .assert_problem(503, "unavailable");
    let admin = app.json(Method::GET, "/v1/api-keys", "").await;
    assert_eq!(
        admin.status,
        StatusCode::OK,
        "the bootstrap key is in the configuration"
    );
    app.state.manager.sync_revocations().await.unwrap();
    let again = with_key(&app, &key, Method::GET, "/v1/revocations", "").await;
    assert_eq!(again.status, StatusCode::OK);
}
