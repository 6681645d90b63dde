//! What a single-page app on another origin does: CORS for the granted origins only, and the
//! account page's actions as JSON.

use axum::http::{Method, StatusCode};

use super::pages::{Jar, OPEN, between, get, json_login, post_form, sign_up, unescape};
use super::support::{App, Reply};

const SPA: &str = "https://spa.example";
const PASSWORD: &str = "correct+horse+battery";

async fn granting() -> App {
    App::with(&format!("{OPEN}\ncors_origins = [\"{SPA}\"]")).await
}

/// A signed-up browser: its cookie jar and a CSRF token of its session.
async fn browser(app: &App, user: &str) -> (Jar, String) {
    let mut jar = Jar::default();
    sign_up(app, &mut jar, user, PASSWORD).await;
    let csrf = get(app, &mut jar, "/auth/csrf").await.body()["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    (jar, csrf)
}

/// A credentialed request from the page on `origin`, as Chromium sends it cross-origin.
async fn from(
    app: &App,
    origin: &str,
    jar: &mut Jar,
    method: Method,
    path: &str,
    extra: &[(&str, &str)],
    body: &str,
) -> Reply {
    let cookie = jar.header();
    let mut h = vec![
        ("cookie", cookie.as_str()),
        ("origin", origin),
        ("sec-fetch-site", "same-site"),
    ];
    h.extend_from_slice(extra);
    let r = app.send(method, path, &h, body).await;
    jar.absorb(&r);
    r
}

async fn preflight(app: &App, origin: &str, path: &str) -> Reply {
    let h = [
        ("origin", origin),
        ("access-control-request-method", "POST"),
        (
            "access-control-request-headers",
            "content-type,x-csrf-token",
        ),
    ];
    app.send(Method::OPTIONS, path, &h, "").await
}

#[tokio::test]
async fn granted_origins_pass_preflight_and_read_the_answers() {
    let app = granting().await;
    let ok = preflight(&app, SPA, "/auth/refresh").await;
    assert_eq!(ok.status, StatusCode::NO_CONTENT, "{}", ok.text);
    assert_eq!(ok.header("access-control-allow-origin"), SPA);
    assert_eq!(ok.header("access-control-allow-credentials"), "true");
    assert!(ok.header("access-control-allow-methods").contains("POST"));
    assert!(
        ok.header("access-control-allow-headers")
            .contains("x-csrf-token")
    );
    assert_eq!(ok.header("vary"), "Origin");
    for foreign in [
        "https://evil.example",
        "null",
        "https://spa.example.evil.example",
    ] {
        let no = preflight(&app, foreign, "/auth/refresh").await;
        no.assert_problem(403, "forbidden");
        assert_eq!(no.header("access-control-allow-origin"), "", "{foreign}");
    }
    let (mut jar, csrf) = browser(&app, "alice").await;
    let me = from(&app, SPA, &mut jar, Method::GET, "/auth/me", &[], "").await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.header("access-control-allow-origin"), SPA);
    assert!(
        me.header("access-control-expose-headers")
            .contains("retry-after")
    );
    let foreign = from(
        &app,
        "https://evil.example",
        &mut jar,
        Method::GET,
        "/auth/me",
        &[],
        "",
    )
    .await;
    assert_eq!(
        foreign.header("access-control-allow-origin"),
        "",
        "never granted"
    );
    let token = from(
        &app,
        SPA,
        &mut jar,
        Method::POST,
        "/auth/refresh",
        &[("x-csrf-token", &csrf)],
        "",
    )
    .await;
    assert_eq!(token.status, StatusCode::OK, "{}", token.text);
    assert!(token.body()["access_token"].is_string());
}

#[tokio::test]
async fn other_origins_cannot_act_even_with_the_csrf_token() {
    let app = granting().await;
    let (jar, csrf) = browser(&app, "alice").await;
    let csrf_header = [("x-csrf-token", csrf.as_str())];
    for (origin, site) in [
        ("https://evil.example", "cross-site"),
        ("https://evil.example", "same-site"),
        ("null", "cross-site"),
    ] {
        let cookie = jar.header();
        let h = [
            ("cookie", cookie.as_str()),
            ("origin", origin),
            ("sec-fetch-site", site),
            csrf_header[0],
        ];
        let r = app.send(Method::POST, "/auth/refresh", &h, "").await;
        r.assert_problem(403, "forbidden");
    }
    // Without cors_origins, the same app origin is a stranger.
    let closed = App::with(OPEN).await;
    let (mut jar, csrf) = browser(&closed, "bob").await;
    let r = from(
        &closed,
        SPA,
        &mut jar,
        Method::POST,
        "/auth/refresh",
        &[("x-csrf-token", &csrf)],
        "",
    )
    .await;
    r.assert_problem(403, "forbidden");
    preflight(&closed, SPA, "/auth/refresh")
        .await
        .assert_problem(403, "forbidden");
    // A granted origin still needs the session's CSRF token.
    let granted = granting().await;
    let (mut jar, _) = browser(&granted, "carol").await;
    let r = from(
        &granted,
        SPA,
        &mut jar,
        Method::POST,
        "/auth/refresh",
        &[],
        "",
    )
    .await;
    r.assert_problem(403, "forbidden");
}

#[tokio::test]
async fn devices_are_listed_and_signed_out_as_json() {
    let app = granting().await;
    let (mut laptop, csrf) = browser(&app, "alice").await;
    let mut phone = Jar::default();
    super::pages::sign_in(&app, &mut phone, "alice", PASSWORD).await;
    let mut tablet = Jar::default();
    super::pages::sign_in(&app, &mut tablet, "alice", PASSWORD).await;
    let (mut mallory, mallory_csrf) = browser(&app, "mallory").await;

    let listed = from(
        &app,
        SPA,
        &mut laptop,
        Method::GET,
        "/auth/sessions",
        &[],
        "",
    )
    .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let sessions = listed.body()["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions.iter().filter(|s| s["current"] == true).count(), 1);
    let phone_sid = get(&app, &mut phone, "/auth/me").await.body()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let one = format!("/auth/sessions/{phone_sid}");
    let csrf_h = [("x-csrf-token", csrf.as_str())];

    // Another account cannot see or end alice's session: not found, and it stays.
    let theirs = from(
        &app,
        SPA,
        &mut mallory,
        Method::DELETE,
        &one,
        &[("x-csrf-token", &mallory_csrf)],
        "",
    )
    .await;
    theirs.assert_problem(404, "not-found");
    assert_eq!(
        get(&app, &mut phone, "/auth/me").await.status,
        StatusCode::OK
    );
    let no_csrf = from(&app, SPA, &mut laptop, Method::DELETE, &one, &[], "").await;
    no_csrf.assert_problem(403, "forbidden");
    let junk = from(
        &app,
        SPA,
        &mut laptop,
        Method::DELETE,
        "/auth/sessions/not-a-sid",
        &csrf_h,
        "",
    )
    .await;
    junk.assert_problem(404, "not-found");

    let gone = from(&app, SPA, &mut laptop, Method::DELETE, &one, &csrf_h, "").await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT, "{}", gone.text);
    assert_eq!(
        get(&app, &mut phone, "/auth/me").await.status,
        StatusCode::UNAUTHORIZED
    );

    let others = from(
        &app,
        SPA,
        &mut laptop,
        Method::DELETE,
        "/auth/sessions/others",
        &csrf_h,
        "",
    )
    .await;
    assert_eq!(others.status, StatusCode::OK, "{}", others.text);
    assert_eq!(others.body()["revoked"], 1, "the tablet");
    assert_eq!(
        get(&app, &mut tablet, "/auth/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&app, &mut laptop, "/auth/me").await.status,
        StatusCode::OK
    );
    assert_eq!(
        get(&app, &mut mallory, "/auth/me").await.status,
        StatusCode::OK
    );
    let signed_out = from(
        &app,
        SPA,
        &mut Jar::default(),
        Method::GET,
        "/auth/sessions",
        &[],
        "",
    )
    .await;
    signed_out.assert_problem(401, "unauthenticated");
}

#[tokio::test]
async fn the_password_changes_as_json() {
    let app = granting().await;
    let (mut laptop, csrf) = browser(&app, "alice").await;
    let mut phone = Jar::default();
    super::pages::sign_in(&app, &mut phone, "alice", PASSWORD).await;
    let json = [
        ("x-csrf-token", csrf.as_str()),
        ("content-type", "application/json"),
    ];
    let change = |body: &'static str| {
        let (app, mut jar) = (&app, laptop.clone());
        async move {
            from(
                app,
                SPA,
                &mut jar,
                Method::POST,
                "/auth/password",
                &json,
                body,
            )
            .await
        }
    };
    change(r#"{"current":"correct horse battery","new":"short"}"#)
        .await
        .assert_problem(400, "invalid-request");
    change(r#"{"current":"wrong password!","new":"a much better passphrase"}"#)
        .await
        .assert_problem(403, "invalid-credentials");
    change(r#"{"current":"correct horse battery"}"#)
        .await
        .assert_problem(400, "invalid-request");
    change(r#"{"current":"correct horse battery","new":"a much better passphrase","admin":true}"#)
        .await
        .assert_problem(400, "invalid-request");
    assert_eq!(
        get(&app, &mut phone, "/auth/me").await.status,
        StatusCode::OK,
        "nothing changed yet"
    );

    let done = from(
        &app,
        SPA,
        &mut laptop,
        Method::POST,
        "/auth/password",
        &json,
        r#"{"current":"correct horse battery","new":"a much better passphrase"}"#,
    )
    .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.text);
    assert_eq!(
        get(&app, &mut laptop, "/auth/me").await.status,
        StatusCode::OK,
        "a new cookie for this one"
    );
    assert_eq!(
        get(&app, &mut phone, "/auth/me").await.status,
        StatusCode::UNAUTHORIZED,
        "every other device out"
    );
    assert_eq!(
        json_login(&app, "alice", "a much better passphrase").await,
        StatusCode::OK
    );
    assert_eq!(
        json_login(&app, "alice", "correct horse battery").await,
        StatusCode::UNAUTHORIZED
    );
}

/// Sign-in sends the browser back where it came from, if that is this server or a granted
/// origin, and nowhere else (no open redirect), through a wrong password too.
#[tokio::test]
async fn sign_in_returns_only_to_trusted_places() {
    let app = granting().await;
    sign_up(&app, &mut Jar::default(), "alice", PASSWORD).await;
    let attempt = |return_to: &'static str, password: &'static str| {
        let app = &app;
        async move {
            let mut jar = Jar::default();
            let query: String = form_urlencoded::Serializer::new(String::new())
                .append_pair("return_to", return_to)
                .finish();
            let page = get(app, &mut jar, &format!("/auth/login?{query}")).await;
            let kept = between(&page.text, "name=\"return_to\" value=\"", "\"").to_owned();
            let token = between(&page.text, "name=\"_login\" value=\"", "\"").to_owned();
            let body = form_urlencoded::Serializer::new(String::new())
                .append_pair("user", "alice")
                .append_pair("password", password)
                .append_pair("_login", &token)
                .append_pair("return_to", return_to)
                .finish();
            let r = post_form(app, &mut jar, "/auth/login", &body).await;
            (kept, r)
        }
    };
    for good in ["/orders?id=7", "https://spa.example/cart"] {
        let (kept, r) = attempt(good, "correct horse battery").await;
        assert_eq!(unescape(&kept), good);
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(r.header("location"), good);
        let (kept, wrong) = attempt(good, "not the password").await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            kept,
            between(&wrong.text, "name=\"return_to\" value=\"", "\""),
            "kept"
        );
    }
    for bad in [
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
    ] {
        let (kept, r) = attempt(bad, "correct horse battery").await;
        assert_eq!(kept, "", "{bad:?} is not even put in the form");
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
        assert_eq!(r.header("location"), "/auth/account", "{bad:?}");
    }
}

/// "Keep me signed in" makes the cookie outlive the browser, until the session's absolute end;
/// without it the cookie ends with the browser.
#[tokio::test]
async fn keep_me_signed_in_outlives_the_browser() {
    let app = granting().await;
    sign_up(&app, &mut Jar::default(), "alice", PASSWORD).await;
    let login = |remember: &'static str| {
        let app = &app;
        async move {
            let body =
                format!(r#"{{"user":"alice","password":"correct horse battery"{remember}}}"#);
            let r = app
                .send(
                    Method::POST,
                    "/auth/login",
                    &[("content-type", "application/json")],
                    &body,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            r.headers
                .get_all("set-cookie")
                .iter()
                .map(|v| v.to_str().unwrap().to_owned())
                .find(|c| c.starts_with("__Host-tessera="))
                .unwrap()
        }
    };
    let remembered = login(r#","remember":true"#).await;
    let age: u64 = between(&remembered, "Max-Age=", ";").parse().unwrap();
    let thirty_days = 30 * 86_400;
    assert!(
        (thirty_days - 60..=thirty_days).contains(&age),
        "{remembered}"
    );
    for forgetful in [login("").await, login(r#","remember":false"#).await] {
        assert!(
            !forgetful.contains("Max-Age"),
            "a browser-session cookie: {forgetful}"
        );
    }
    let mut jar = Jar::default();
    let page = get(&app, &mut jar, "/auth/login").await;
    assert!(
        page.text.contains("name=\"remember\""),
        "the form offers it"
    );
    let token = between(&page.text, "name=\"_login\" value=\"", "\"").to_owned();
    let body = format!("user=alice&password=correct+horse+battery&_login={token}&remember=1");
    let r = post_form(&app, &mut jar, "/auth/login", &body).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        r.header("set-cookie").contains("Max-Age="),
        "{}",
        r.header("set-cookie")
    );
}
