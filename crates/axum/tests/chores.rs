//! What an application gets without chores: the builder (secret and keys kept in the store,
//! background upkeep), sign-in and sign-out helpers, and the sign-in guard.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tessera::{KeyEncryptionKey, MemoryStore, NewSession};
use tessera_axum::{BrowserSession, CookieSettings, RequireSignIn, Tessera};
use tower::ServiceExt;

#[allow(
    clippy::disallowed_types,
    reason = "the one place these tests name the builder's clock"
)]
type App = Tessera<MemoryStore, tessera_axum::SystemClock>;

async fn built(store: MemoryStore, kek: &KeyEncryptionKey, cookie: CookieSettings) -> App {
    Tessera::builder(store, "https://app.test")
        .audience("app")
        .cookie(cookie)
        .key_encryption_key(kek.clone())
        .build()
        .await
        .unwrap()
}

/// Routes: `/login?remember=1` signs in as alice (replacing any session), `/logout` signs
/// out, `/account` needs a signed-in browser.
fn routes(t: &App) -> Router {
    let login = {
        let t = t.clone();
        move |before: Option<BrowserSession>, req: Request<Body>| {
            let t = t.clone();
            async move {
                let remember = req.uri().query() == Some("remember=1");
                let previous = before.as_ref().map(|BrowserSession(s)| s);
                let signed_in = t
                    .login(NewSession::for_user("alice"), previous, remember)
                    .await
                    .unwrap();
                let sid = signed_in.session.sid.to_string();
                (signed_in, sid).into_response()
            }
        }
    };
    let logout = {
        let t = t.clone();
        move |BrowserSession(s): BrowserSession| {
            let t = t.clone();
            async move { (t.logout(&s).await.unwrap(), "bye").into_response() }
        }
    };
    let guarded = Router::new()
        .route(
            "/account",
            get(|BrowserSession(s): BrowserSession| async move { s.user_id }),
        )
        .layer(RequireSignIn::redirecting_to("/login"));
    Router::new()
        .route("/login", post(login))
        .route("/logout", post(logout))
        .merge(guarded)
        .layer(t.layer())
}

async fn send(app: &Router, req: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
    let r = app.clone().oneshot(req).await.unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

fn request(method: &str, uri: &str, headers: &[(&str, &str)]) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(Body::empty()).unwrap()
}

/// `name=value` of the one `Set-Cookie`, and the whole header.
fn set_cookie(headers: &axum::http::HeaderMap) -> (String, String) {
    let set = headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    (set.split(';').next().unwrap().to_owned(), set)
}

#[tokio::test]
async fn the_builder_keeps_the_secret_and_keys_in_the_store() {
    let store = MemoryStore::new();
    let kek = KeyEncryptionKey::generate().unwrap();
    let first = built(store.clone(), &kek, CookieSettings::default()).await;
    let issued = first
        .manager()
        .create(NewSession::for_user("bob"))
        .await
        .unwrap();
    // A second process on the same store and key: the same secret and keys, so it accepts
    // what the first issued, its cookies and CSRF tokens included.
    let second = built(store.clone(), &kek, CookieSettings::default()).await;
    let claims = second
        .manager()
        .verify(issued.access_token.expose())
        .unwrap();
    assert_eq!(claims.sub, "bob");
    let (_, cookie) = first
        .manager()
        .create_browser(NewSession::for_user("bob"))
        .await
        .unwrap();
    let session = second
        .manager()
        .authenticate_cookie(&cookie.expose())
        .await
        .unwrap();
    let csrf = first.manager().csrf_token(&session).unwrap();
    assert!(second.manager().verify_csrf(&session, &csrf));
    // Another key cannot open the store's secret; no key at all is refused up front.
    let stranger = KeyEncryptionKey::generate().unwrap();
    let refused = Tessera::builder(store.clone(), "https://app.test")
        .key_encryption_key(stranger)
        .build()
        .await;
    assert!(refused.is_err());
    let keyless = Tessera::builder(store, "https://app.test").build().await;
    assert!(matches!(keyless, Err(tessera::Error::InvalidConfig(_))));
    let bad_cookie = CookieSettings {
        name: "a;b".into(),
        ..CookieSettings::default()
    };
    let bad = Tessera::builder(MemoryStore::new(), "https://app.test")
        .key_encryption_key(kek)
        .cookie(bad_cookie)
        .build()
        .await;
    assert!(matches!(bad, Err(tessera::Error::InvalidConfig(_))));
}

#[tokio::test]
async fn upkeep_follows_revocations_made_elsewhere() {
    let store = MemoryStore::new();
    let kek = KeyEncryptionKey::generate().unwrap();
    let a = built(store.clone(), &kek, CookieSettings::default()).await;
    let b = built(store, &kek, CookieSettings::default()).await;
    let issued = a
        .manager()
        .create(NewSession::for_user("carol"))
        .await
        .unwrap();
    assert!(b.manager().verify(issued.access_token.expose()).is_ok());
    a.manager()
        .revoke(&issued.session.sid, tessera::RevokeReason::Logout)
        .await
        .unwrap();
    // b never syncs by hand: its upkeep catches up the feed within about a second.
    let mut refused = false;
    for _ in 0..50 {
        if b.manager().verify(issued.access_token.expose()).is_err() {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused, "the revocation reached the other process");
}

#[tokio::test]
async fn login_renews_the_session_and_logout_ends_it() {
    let kek = KeyEncryptionKey::generate().unwrap();
    let cookie = CookieSettings {
        name: "shop".into(),
        ..CookieSettings::default()
    };
    let t = built(MemoryStore::new(), &kek, cookie).await;
    let app = routes(&t);
    let origin = [("origin", "https://app.test")];
    let (status, headers, first_sid) = send(&app, request("POST", "/login", &origin)).await;
    assert_eq!(status, StatusCode::OK);
    let (pair, set) = set_cookie(&headers);
    assert!(pair.starts_with("__Host-shop="), "{set}");
    assert!(
        !set.contains("Max-Age"),
        "a browser-session cookie without remember me"
    );

    // Signing in again from this browser: a new session; the old one is over.
    let csrf = {
        let session = t
            .manager()
            .authenticate_cookie(pair.split_once('=').unwrap().1)
            .await
            .unwrap();
        t.manager().csrf_token(&session).unwrap()
    };
    let again = [
        ("cookie", pair.as_str()),
        ("x-csrf-token", &csrf),
        origin[0],
    ];
    let (status, headers, second_sid) =
        send(&app, request("POST", "/login?remember=1", &again)).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(first_sid, second_sid, "a new session id at sign-in");
    let (second, set) = set_cookie(&headers);
    assert!(
        set.contains("Max-Age="),
        "remember me outlives the browser: {set}"
    );
    let old = send(
        &app,
        request("GET", "/account", &[("cookie", pair.as_str())]),
    )
    .await;
    assert_eq!(
        old.0,
        StatusCode::UNAUTHORIZED,
        "the replaced session is over"
    );
    let ok = send(
        &app,
        request("GET", "/account", &[("cookie", second.as_str())]),
    )
    .await;
    assert_eq!((ok.0, ok.2.as_str()), (StatusCode::OK, "alice"));

    let session = t
        .manager()
        .authenticate_cookie(second.split_once('=').unwrap().1)
        .await
        .unwrap();
    let csrf = t.manager().csrf_token(&session).unwrap();
    let out = [
        ("cookie", second.as_str()),
        ("x-csrf-token", &csrf),
        origin[0],
    ];
    let (status, headers, _) = send(&app, request("POST", "/logout", &out)).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        set_cookie(&headers).1.contains("Max-Age=0"),
        "the cookie is deleted"
    );
    let after = send(
        &app,
        request("GET", "/account", &[("cookie", second.as_str())]),
    )
    .await;
    assert_eq!(
        after.0,
        StatusCode::UNAUTHORIZED,
        "logout takes effect at once"
    );
}

#[tokio::test]
async fn the_guard_sends_people_to_sign_in_and_programs_get_401() {
    let kek = KeyEncryptionKey::generate().unwrap();
    let t = built(MemoryStore::new(), &kek, CookieSettings::default()).await;
    let app = routes(&t);
    let page = [("accept", "text/html,application/xhtml+xml")];
    let (status, headers, _) = send(&app, request("GET", "/account?tab=devices", &page)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        headers.get(header::LOCATION).unwrap(),
        "/login?return_to=%2Faccount%3Ftab%3Ddevices"
    );
    let (status, headers, body) = send(
        &app,
        request("GET", "/account", &[("accept", "application/json")]),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        headers.get(header::CONTENT_TYPE).unwrap(),
        "application/problem+json"
    );
    assert!(body.contains("unauthenticated"), "{body}");
    let forged = [("cookie", "__Host-tessera=tss_forged"), page[0]];
    assert_eq!(
        send(&app, request("GET", "/account", &forged)).await.0,
        StatusCode::SEE_OTHER
    );
}

#[tokio::test]
async fn the_guard_never_returns_people_to_another_host() {
    let kek = KeyEncryptionKey::generate().unwrap();
    let t = built(MemoryStore::new(), &kek, CookieSettings::default()).await;
    let app = Router::new()
        .route("/{*rest}", get(|| async { "page" }))
        .layer(RequireSignIn::redirecting_to("/login"))
        .layer(t.layer());
    let page = [("accept", "text/html")];
    for path in ["//evil.example", "//evil.example/x?y=1"] {
        let (status, headers, _) = send(&app, request("GET", path, &page)).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{path}");
        let location = headers.get(header::LOCATION).unwrap().to_str().unwrap();
        assert_eq!(location, "/login?return_to=%2F", "{path}: {location}");
    }
    let (status, headers, _) = send(&app, request("GET", "/orders?id=7", &page)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        headers.get(header::LOCATION).unwrap(),
        "/login?return_to=%2Forders%3Fid%3D7"
    );
}
