//! The layer and extractors, in process with `oneshot`, over the memory store.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::{get, post};
use axum::{Form, Router};
use tessera::{
    CookieToken, MemoryStore, NewSession, Quota, RevokeReason, ServerSecret, SessionManager,
    Settings, Validation,
};
use tessera_axum::{
    Bearer, BrowserSession, CookieSettings, CsrfToken, ForwardedHeader, RateLimitLayer, Tessera,
    TrustedProxies,
};
use tower::ServiceExt;

/// The OS clock, chosen here once for every test.
#[allow(
    clippy::disallowed_types,
    reason = "the one place these tests choose their clock"
)]
type OsClock = tessera::SystemClock;

type Manager = SessionManager<MemoryStore, OsClock>;

async fn setup() -> (Tessera<MemoryStore, OsClock>, Router) {
    let settings = Settings::new(
        Validation::new("https://app.test", "app"),
        ServerSecret::generate().unwrap(),
    );
    let manager: Arc<Manager> = Arc::new(
        SessionManager::start(MemoryStore::new(), OsClock::default(), settings)
            .await
            .unwrap(),
    );
    let tessera = Tessera::new(
        manager,
        CookieSettings::default(),
        vec!["https://app.test".into()],
    )
    .unwrap();
    let app =
        Router::new()
            .route(
                "/me",
                get(|BrowserSession(s): BrowserSession| async move { s.user_id }),
            )
            .route(
                "/maybe",
                get(|s: Option<BrowserSession>| async move {
                    s.map_or("anonymous".into(), |s| s.0.user_id)
                }),
            )
            .route("/csrf", get(|CsrfToken(t): CsrfToken| async move { t }))
            .route(
                "/change",
                post(|BrowserSession(s): BrowserSession| async move {
                    format!("changed {}", s.user_id)
                }),
            )
            .route(
                "/form",
                post(
                    |_: BrowserSession,
                     Form(f): Form<std::collections::HashMap<String, String>>| async move {
                        f["colour"].clone()
                    },
                ),
            )
            .route("/api", get(|Bearer(c): Bearer| async move { c.sub }))
            .layer(tessera.layer());
    (tessera, app)
}

async fn browser(t: &Tessera<MemoryStore, OsClock>, user: &str) -> (String, CookieToken) {
    let (_, cookie) = t
        .manager()
        .create_browser(NewSession::for_user(user))
        .await
        .unwrap();
    (format!("__Host-tessera={}", cookie.expose()), cookie)
}

async fn call(app: &Router, req: Request<Body>) -> (StatusCode, String) {
    let response = app.clone().oneshot(req).await.unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn get_with(uri: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut r = Request::get(uri);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.body(Body::empty()).unwrap()
}

#[tokio::test]
async fn cookies_identify_the_session_and_nothing_else_does() {
    let (t, app) = setup().await;
    let (cookie, _) = browser(&t, "alice").await;
    assert_eq!(
        call(&app, get_with("/me", &[("cookie", &cookie)])).await,
        (StatusCode::OK, "alice".into())
    );
    let (status, body) = call(&app, get_with("/me", &[])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("urn:tessera:problem:unauthenticated"));
    let never = CookieToken::generate(tessera::SessionId::generate().unwrap()).unwrap();
    let forged = format!("__Host-tessera={}", never.expose());
    assert_eq!(
        call(&app, get_with("/me", &[("cookie", &forged)])).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        call(&app, get_with("/maybe", &[("cookie", &forged)]))
            .await
            .1,
        "anonymous"
    );
    // Cookie tossing: two cookies of our name are refused, not guessed between.
    let (other, _) = browser(&t, "mallory").await;
    let both = format!("{cookie}; {other}");
    let (status, body) = call(&app, get_with("/me", &[("cookie", &both)])).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("ambiguous-cookie"));
    let split = call(
        &app,
        get_with("/me", &[("cookie", &cookie), ("cookie", &other)]),
    )
    .await;
    assert_eq!(split.0, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn revoked_and_rotated_cookies_stop_working() {
    let (t, app) = setup().await;
    let (cookie, token) = browser(&t, "alice").await;
    let session = t
        .manager()
        .authenticate_cookie(&token.expose())
        .await
        .unwrap();
    let fresh = t.manager().rotate_cookie(&session).await.unwrap();
    assert_eq!(
        call(&app, get_with("/me", &[("cookie", &cookie)])).await.0,
        StatusCode::UNAUTHORIZED
    );
    let fresh = format!("__Host-tessera={}", fresh.expose());
    assert_eq!(
        call(&app, get_with("/me", &[("cookie", &fresh)])).await.0,
        StatusCode::OK
    );
    t.manager()
        .revoke(&session.sid, RevokeReason::Logout)
        .await
        .unwrap();
    assert_eq!(
        call(&app, get_with("/me", &[("cookie", &fresh)])).await.0,
        StatusCode::UNAUTHORIZED
    );
}

fn post_with(uri: &str, headers: &[(&str, &str)], body: &str) -> Request<Body> {
    let mut r = Request::post(uri);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    r.body(Body::from(body.to_owned())).unwrap()
}

#[tokio::test]
async fn unsafe_methods_need_the_sessions_csrf_token() {
    let (t, app) = setup().await;
    let (cookie, _) = browser(&t, "alice").await;
    let (other, _) = browser(&t, "bob").await;
    let token = call(&app, get_with("/csrf", &[("cookie", &cookie)]))
        .await
        .1;
    let others = call(&app, get_with("/csrf", &[("cookie", &other)])).await.1;
    let c = cookie.as_str();
    assert_eq!(
        call(&app, post_with("/change", &[("cookie", c)], ""))
            .await
            .0,
        StatusCode::FORBIDDEN,
        "no token"
    );
    assert_eq!(
        call(
            &app,
            post_with("/change", &[("cookie", c), ("x-csrf-token", "nope")], "")
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        call(
            &app,
            post_with("/change", &[("cookie", c), ("x-csrf-token", &others)], "")
        )
        .await
        .0,
        StatusCode::FORBIDDEN,
        "another session's token"
    );
    let ok = call(
        &app,
        post_with("/change", &[("cookie", c), ("x-csrf-token", &token)], ""),
    )
    .await;
    assert_eq!(ok, (StatusCode::OK, "changed alice".into()));
    // As a form field, with the body still readable by the handler.
    let form = [
        ("cookie", c),
        ("content-type", "application/x-www-form-urlencoded"),
    ];
    let body = format!("colour=blue&_csrf={}", token);
    assert_eq!(
        call(&app, post_with("/form", &form, &body)).await,
        (StatusCode::OK, "blue".into())
    );
    assert_eq!(
        call(&app, post_with("/form", &form, "colour=blue")).await.0,
        StatusCode::FORBIDDEN
    );
    // Cross-site requests are refused even with a valid token.
    let cross = [
        ("cookie", c),
        ("x-csrf-token", token.as_str()),
        ("sec-fetch-site", "cross-site"),
    ];
    assert_eq!(
        call(&app, post_with("/change", &cross, "")).await.0,
        StatusCode::FORBIDDEN
    );
    let foreign = [
        ("cookie", c),
        ("x-csrf-token", token.as_str()),
        ("origin", "https://evil.test"),
    ];
    assert_eq!(
        call(&app, post_with("/change", &foreign, "")).await.0,
        StatusCode::FORBIDDEN
    );
    let own = [
        ("cookie", c),
        ("x-csrf-token", token.as_str()),
        ("origin", "https://app.test"),
        ("sec-fetch-site", "same-origin"),
    ];
    assert_eq!(
        call(&app, post_with("/change", &own, "")).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn bearer_tokens_are_verified_without_the_store() {
    let (t, app) = setup().await;
    let issued = t
        .manager()
        .create(NewSession::for_user("carol"))
        .await
        .unwrap();
    let auth = format!("Bearer {}", issued.access_token.expose());
    assert_eq!(
        call(&app, get_with("/api", &[("authorization", &auth)])).await,
        (StatusCode::OK, "carol".into())
    );
    let (status, _) = call(&app, get_with("/api", &[("authorization", "Bearer x.y.z")])).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    t.manager()
        .revoke(&issued.session.sid, RevokeReason::Logout)
        .await
        .unwrap();
    assert_eq!(
        call(&app, get_with("/api", &[("authorization", &auth)]))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let response = app.clone().oneshot(get_with("/api", &[])).await.unwrap();
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
}

/// A node whose revocation view is stale cannot tell whether a token was revoked: it refuses
/// it as an outage (503, try again), never as a bad token (401, sign out).
#[tokio::test]
async fn a_stale_revocation_view_is_an_outage_not_a_bad_token() {
    let clock = tessera::ManualClock::new(tessera::Timestamp::from_secs(1_700_000_000));
    let mut settings = Settings::new(
        Validation::new("https://app.test", "app"),
        ServerSecret::generate().unwrap(),
    );
    settings.max_feed_staleness = Some(std::time::Duration::from_secs(5));
    let manager = Arc::new(
        SessionManager::start(MemoryStore::new(), clock.clone(), settings)
            .await
            .unwrap(),
    );
    let t = Tessera::new(
        manager,
        CookieSettings::default(),
        vec!["https://app.test".into()],
    )
    .unwrap();
    let app = Router::new()
        .route("/api", get(|Bearer(c): Bearer| async move { c.sub }))
        .layer(t.layer());
    let issued = t
        .manager()
        .create(NewSession::for_user("dan"))
        .await
        .unwrap();
    let auth = format!("Bearer {}", issued.access_token.expose());
    assert_eq!(
        call(&app, get_with("/api", &[("authorization", &auth)]))
            .await
            .0,
        StatusCode::OK
    );
    clock.advance(std::time::Duration::from_secs(6)); // no catch-up of the feed meanwhile
    let response = app
        .clone()
        .oneshot(get_with("/api", &[("authorization", &auth)]))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(response.headers().contains_key("retry-after"));
    t.manager().sync_revocations().await.unwrap();
    assert_eq!(
        call(&app, get_with("/api", &[("authorization", &auth)]))
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn the_rate_limit_layer_counts_per_client() {
    let (t, _) = setup().await;
    let quota = Quota::new(2, Duration::from_secs(60), 2).unwrap();
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(RateLimitLayer::new(Arc::clone(t.manager()), quota, "demo"));
    let from = |ip: [u8; 4]| {
        let mut r = get_with("/", &[]);
        r.extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                ip, 1,
            ))));
        r
    };
    assert_eq!(call(&app, from([192, 0, 2, 1])).await.0, StatusCode::OK);
    assert_eq!(call(&app, from([192, 0, 2, 1])).await.0, StatusCode::OK);
    let response = app.clone().oneshot(from([192, 0, 2, 1])).await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "30");
    assert_eq!(response.headers()["ratelimit-limit"], "2");
    assert_eq!(call(&app, from([192, 0, 2, 2])).await.0, StatusCode::OK);
    let (status, _) = call(&app, get_with("/", &[])).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "no peer address: refused, never one shared bucket"
    );
    // Behind a trusted proxy, each client has its own budget; from anyone else the header is
    // ignored, so it cannot buy a fresh budget.
    let proxy: tessera_axum::Cidr = "10.0.0.0/8".parse().unwrap();
    let proxies = TrustedProxies::new(vec![proxy], ForwardedHeader::XForwardedFor);
    let behind = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(RateLimitLayer::new(Arc::clone(t.manager()), quota, "proxied").trusting(proxies));
    let via = |peer: [u8; 4], client: &str| {
        let mut r = get_with("/", &[("x-forwarded-for", client)]);
        r.extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                peer, 1,
            ))));
        r
    };
    for _ in 0..2 {
        assert_eq!(
            call(&behind, via([10, 0, 0, 1], "198.51.100.1")).await.0,
            StatusCode::OK
        );
    }
    let over = call(&behind, via([10, 0, 0, 1], "198.51.100.1")).await.0;
    assert_eq!(over, StatusCode::TOO_MANY_REQUESTS);
    let other = call(&behind, via([10, 0, 0, 1], "198.51.100.2")).await.0;
    assert_eq!(
        other,
        StatusCode::OK,
        "another client behind the same proxy"
    );
    for _ in 0..2 {
        call(&behind, via([192, 0, 2, 9], "203.0.113.1")).await;
    }
    let spoofed = call(&behind, via([192, 0, 2, 9], "203.0.113.2")).await.0;
    assert_eq!(
        spoofed,
        StatusCode::TOO_MANY_REQUESTS,
        "an untrusted peer's header is ignored"
    );
    // An IPv6 client counts by its /64: another address of it buys no fresh budget.
    let from_v6 = |last: u16| {
        let mut r = get_with("/", &[]);
        let ip = std::net::Ipv6Addr::new(0x2001, 0xdb8, 7, 7, 0, 0, 0, last);
        r.extensions_mut()
            .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                ip, 1,
            ))));
        r
    };
    for last in 1..=2 {
        assert_eq!(call(&app, from_v6(last)).await.0, StatusCode::OK);
    }
    assert_eq!(
        call(&app, from_v6(3)).await.0,
        StatusCode::TOO_MANY_REQUESTS,
        "another address of the same /64"
    );
}
