//! The built-in pages and their JSON equivalents, in process.

use axum::http::{Method, StatusCode};
use serde_json::Value;

use super::support::{App, Reply};

/// A browser in miniature: keeps cookies per name.
#[derive(Default, Clone)]
pub struct Jar(Vec<(String, String)>);

impl Jar {
    pub fn absorb(&mut self, r: &Reply) {
        for v in r.headers.get_all("set-cookie") {
            let v = v.to_str().unwrap();
            let (pair, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (name, value) = pair.split_once('=').unwrap();
            self.0.retain(|(n, _)| n != name);
            if !attrs.contains("Max-Age=0") {
                self.0.push((name.to_owned(), value.to_owned()));
            }
        }
    }

    /// Sets one cookie, as a browser (or a thief who copied it) would hold it.
    pub fn absorb_value(&mut self, name: &str, value: &str) {
        self.0.retain(|(n, _)| n != name);
        self.0.push((name.to_owned(), value.to_owned()));
    }

    pub fn header(&self) -> String {
        self.0
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    pub fn get(&self, name: &str) -> Option<String> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }
}

pub fn between<'a>(text: &'a str, start: &str, end: &str) -> &'a str {
    text.split(start)
        .nth(1)
        .and_then(|t| t.split(end).next())
        .unwrap_or_default()
}

/// Text as an HTML attribute value escaped it (minijinja escapes `/` too).
pub fn unescape(html: &str) -> String {
    html.replace("&#x2f;", "/")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

pub async fn get(app: &App, jar: &mut Jar, path: &str) -> Reply {
    let cookie = jar.header();
    let r = app
        .send(Method::GET, path, &[("cookie", &cookie)], "")
        .await;
    jar.absorb(&r);
    r
}

pub async fn post_form(app: &App, jar: &mut Jar, path: &str, body: &str) -> Reply {
    let cookie = jar.header();
    let h = [
        ("cookie", cookie.as_str()),
        ("content-type", "application/x-www-form-urlencoded"),
        ("sec-fetch-site", "same-origin"),
    ];
    let r = app.send(Method::POST, path, &h, body).await;
    jar.absorb(&r);
    r
}

/// Signs up `user` through the form, leaving the session cookie in `jar`.
pub async fn sign_up(app: &App, jar: &mut Jar, user: &str, password: &str) -> Reply {
    let form = get(app, jar, "/auth/signup").await;
    let token = between(&form.text, "name=\"_login\" value=\"", "\"").to_owned();
    post_form(
        app,
        jar,
        "/auth/signup",
        &format!("user={user}&password={password}&confirm={password}&_login={token}"),
    )
    .await
}

pub async fn sign_in(app: &App, jar: &mut Jar, user: &str, password: &str) -> Reply {
    let form = get(app, jar, "/auth/login").await;
    let token = between(&form.text, "name=\"_login\" value=\"", "\"").to_owned();
    // Like a browser, submit every hidden field the form has.
    let csrf = csrf_of(&form.text);
    let body = format!("user={user}&password={password}&_login={token}&_csrf={csrf}");
    post_form(app, jar, "/auth/login", &body).await
}

/// A JSON sign-in as `user` with `password`: its status.
pub async fn json_login(app: &App, user: &str, password: &str) -> StatusCode {
    let body = format!(r#"{{"user":"{user}","password":"{password}"}}"#);
    let json = [("content-type", "application/json")];
    app.send(Method::POST, "/auth/login", &json, &body)
        .await
        .status
}

/// Self sign-up, which these tests use to make accounts (it is closed by default).
pub const OPEN: &str = "signup = \"open\"";

/// The account id of the signed-in browser `jar`.
pub async fn account_id(app: &App, jar: &mut Jar) -> String {
    let me = get(app, jar, "/auth/me").await;
    me.body()["user_id"].as_str().unwrap().to_owned()
}

pub fn csrf_of(page: &str) -> String {
    between(page, "name=\"_csrf\" value=\"", "\"").to_owned()
}

#[tokio::test]
async fn sign_up_lands_on_a_safe_account_page() {
    let app = App::with(OPEN).await;
    let mut jar = Jar::default();
    let r = sign_up(&app, &mut jar, "alice", "correct+horse+battery").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.header("location"), "/auth/account");
    let set = r
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("__Host-tessera="))
        .unwrap();
    assert!(
        set.contains("HttpOnly")
            && set.contains("Secure")
            && set.contains("SameSite=Lax")
            && set.contains("Path=/")
    );
    assert!(!set.contains("Domain"));
    let page = get(&app, &mut jar, "/auth/account").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("Signed in as <strong>alice</strong>"));
    assert!(page.text.contains("This device"));
    let csp = page.header("content-security-policy");
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(page.header("x-content-type-options"), "nosniff");
    assert_eq!(page.header("referrer-policy"), "no-referrer");
    assert_eq!(page.header("cache-control"), "no-store");
    // One script, ours, from a file: the CSP allows no other.
    assert_eq!(page.text.matches("<script").count(), 1);
    assert!(
        page.text
            .contains("<script src=\"/auth/pages.js\" defer></script>")
    );
    assert!(csp.contains("script-src 'self'"), "{csp}");
    let anonymous = app.send(Method::GET, "/auth/account", &[], "").await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert_eq!(anonymous.header("location"), "/auth/login");
}

#[tokio::test]
async fn wrong_password_and_unknown_user_look_the_same() {
    let app = App::with(OPEN).await;
    sign_up(&app, &mut Jar::default(), "alice", "correct+horse+battery").await;
    let wrong = sign_in(&app, &mut Jar::default(), "alice", "not+the+password").await;
    let unknown = sign_in(&app, &mut Jar::default(), "nobody", "not+the+password").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, wrong.status);
    let message = |r: &Reply| between(&r.text, "role=\"alert\">", "<").to_owned();
    assert_eq!(message(&wrong), "Wrong user name or password.");
    assert_eq!(message(&unknown), message(&wrong));
    let ok = sign_in(&app, &mut Jar::default(), "alice", "correct+horse+battery").await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn login_forms_need_their_double_submit_token() {
    let app = App::with(OPEN).await;
    sign_up(&app, &mut Jar::default(), "alice", "correct+horse+battery").await;
    let mut jar = Jar::default();
    let none = post_form(
        &app,
        &mut jar,
        "/auth/login",
        "user=alice&password=correct+horse+battery",
    )
    .await;
    assert_eq!(none.status, StatusCode::FORBIDDEN);
    // A token minted for another browser's cookie does not fit this one.
    let mut theirs = Jar::default();
    let form = get(&app, &mut theirs, "/auth/login").await;
    let token = between(&form.text, "name=\"_login\" value=\"", "\"").to_owned();
    get(&app, &mut jar, "/auth/login").await;
    let swapped = post_form(
        &app,
        &mut jar,
        "/auth/login",
        &format!("user=alice&password=correct+horse+battery&_login={token}"),
    )
    .await;
    assert_eq!(swapped.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn repeated_failures_lock_the_account_then_the_lock_ends_on_its_own() {
    let app = App::with(OPEN).await;
    let mut owner = Jar::default();
    sign_up(&app, &mut owner, "alice", "correct+horse+battery").await;
    let id = account_id(&app, &mut owner).await;
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(
            sign_in(&app, &mut Jar::default(), "alice", "wrong+password")
                .await
                .status,
        );
    }
    assert!(statuses.iter().all(|s| *s == StatusCode::UNAUTHORIZED));
    let locked = sign_in(&app, &mut Jar::default(), "alice", "correct+horse+battery").await;
    assert_eq!(
        locked.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(
        locked
            .text
            .contains("Too many attempts. Try again in 3 minutes."),
        "{}",
        locked.text
    );
    let wait: u64 = locked.header("retry-after").parse().unwrap();
    assert!(
        (170..=180).contains(&wait),
        "one attempt every 3 minutes: {wait}"
    );
    assert_eq!(
        locked.header("ratelimit-limit"),
        "5",
        "as the API's 429s say it"
    );
    assert_eq!(locked.header("ratelimit-remaining"), "0");
    assert!(locked.header("ratelimit-reset").parse::<u64>().unwrap() >= wait);
    // Unknown accounts lock the same way: the lockout says nothing about existence.
    for _ in 0..5 {
        sign_in(&app, &mut Jar::default(), "ghost", "wrong+password").await;
    }
    assert_eq!(
        sign_in(&app, &mut Jar::default(), "ghost", "x+y+z+w+v+u")
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS
    );
    // The lockout is a rate, not a ban: with time it lifts (shown here on the limiter state).
    let events = app
        .json(Method::GET, &format!("/v1/users/{id}/events"), "")
        .await
        .body();
    assert!(
        events["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "login_failed")
    );
}

#[tokio::test]
async fn cross_site_and_tokenless_posts_change_nothing() {
    let app = App::with(OPEN).await;
    let mut jar = Jar::default();
    sign_up(&app, &mut jar, "alice", "correct+horse+battery").await;
    let page = get(&app, &mut jar, "/auth/account").await;
    let csrf = csrf_of(&page.text);
    let cookie = jar.header();
    let form = "application/x-www-form-urlencoded";
    let cross = [
        ("cookie", cookie.as_str()),
        ("content-type", form),
        ("sec-fetch-site", "cross-site"),
    ];
    let r = app
        .send(
            Method::POST,
            "/auth/sessions/others/revoke",
            &cross,
            &format!("_csrf={csrf}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let foreign = [
        ("cookie", cookie.as_str()),
        ("content-type", form),
        ("origin", "https://evil.test"),
    ];
    assert_eq!(
        app.send(
            Method::POST,
            "/auth/logout",
            &foreign,
            &format!("_csrf={csrf}")
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let tokenless = [("cookie", cookie.as_str()), ("content-type", form)];
    assert_eq!(
        app.send(Method::POST, "/auth/logout", &tokenless, "")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&app, &mut jar, "/auth/account").await.status,
        StatusCode::OK,
        "still signed in"
    );
}

#[tokio::test]
async fn devices_can_be_signed_out_one_or_all_and_the_password_changed() {
    let app = App::with(OPEN).await;
    let mut laptop = Jar::default();
    sign_up(&app, &mut laptop, "alice", "correct+horse+battery").await;
    let mut phone = Jar::default();
    sign_in(&app, &mut phone, "alice", "correct+horse+battery").await;
    let mut tablet = Jar::default();
    sign_in(&app, &mut tablet, "alice", "correct+horse+battery").await;
    let page = get(&app, &mut laptop, "/auth/account").await;
    assert_eq!(
        page.text.matches("class=\"what\"").count(),
        3,
        "three devices"
    );
    let csrf = csrf_of(&page.text);
    let phone_sid = get(&app, &mut phone, "/auth/me").await.body()["session_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = post_form(
        &app,
        &mut laptop,
        &format!("/auth/sessions/{phone_sid}/revoke"),
        &format!("_csrf={csrf}"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        get(&app, &mut phone, "/auth/me").await.status,
        StatusCode::UNAUTHORIZED,
        "phone signed out"
    );
    assert_eq!(
        get(&app, &mut tablet, "/auth/me").await.status,
        StatusCode::OK
    );

    // Changing the password signs out every other device and renews this one's cookie.
    let before = laptop.get("__Host-tessera").unwrap();
    let r = post_form(
        &app,
        &mut laptop,
        "/auth/password",
        &format!("_csrf={csrf}&current=correct+horse+battery&new=even+better+password"),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(
        get(&app, &mut tablet, "/auth/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_ne!(
        laptop.get("__Host-tessera").unwrap(),
        before,
        "a new cookie secret"
    );
    let old = format!("__Host-tessera={before}");
    assert_eq!(
        app.send(Method::GET, "/auth/me", &[("cookie", &old)], "")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&app, &mut laptop, "/auth/me").await.status,
        StatusCode::OK
    );
    assert_eq!(
        sign_in(&app, &mut Jar::default(), "alice", "even+better+password")
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    let mut other = Jar::default();
    sign_in(&app, &mut other, "alice", "even+better+password").await;
    let page = get(&app, &mut laptop, "/auth/account").await;
    let r = post_form(
        &app,
        &mut laptop,
        "/auth/sessions/others/revoke",
        &format!("_csrf={}", csrf_of(&page.text)),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(
        get(&app, &mut other, "/auth/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get(&app, &mut laptop, "/auth/me").await.status,
        StatusCode::OK
    );
    assert!(
        get(&app, &mut laptop, "/auth/account")
            .await
            .text
            .contains("Password changed")
    );
}

#[tokio::test]
async fn a_pre_login_cookie_is_useless_after_login() {
    let app = App::with(OPEN).await;
    sign_up(&app, &mut Jar::default(), "mallory", "mallory+password").await;
    sign_up(&app, &mut Jar::default(), "alice", "correct+horse+battery").await;
    // Mallory plants her own session cookie in Alice's browser, then Alice signs in.
    let mut planted = Jar::default();
    sign_in(&app, &mut planted, "mallory", "mallory+password").await;
    let mallorys = planted.get("__Host-tessera").unwrap();
    let mut alice = planted.clone();
    sign_in(&app, &mut alice, "alice", "correct+horse+battery").await;
    assert_ne!(
        alice.get("__Host-tessera").unwrap(),
        mallorys,
        "sign-in issues a new cookie"
    );
    assert_eq!(
        get(&app, &mut alice, "/auth/me").await.body()["login"],
        "alice"
    );
    let theirs = format!("__Host-tessera={mallorys}");
    let r = app
        .send(Method::GET, "/auth/me", &[("cookie", &theirs)], "")
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "the planted session was ended, never adopted"
    );
}

#[tokio::test]
async fn single_page_apps_use_json_with_the_same_protections() {
    let app = App::with(OPEN).await;
    sign_up(&app, &mut Jar::default(), "alice", "correct+horse+battery").await;
    let login = app
        .send(
            Method::POST,
            "/auth/login",
            &[("content-type", "application/json")],
            r#"{"user":"Alice","password":"correct horse battery"}"#,
        )
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.text);
    let mut jar = Jar::default();
    jar.absorb(&login);
    let csrf = login.body()["csrf_token"].as_str().unwrap().to_owned();
    let me = get(&app, &mut jar, "/auth/me").await.body();
    assert_eq!(me["login"], "alice", "login names are case-insensitive");
    let id = me["user_id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("usr_"), "{id}");
    let cookie = jar.header();
    let refreshed = app
        .send(
            Method::POST,
            "/auth/refresh",
            &[("cookie", &cookie), ("x-csrf-token", &csrf)],
            "",
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK);
    let token = refreshed.body()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let verified = app
        .json(
            Method::POST,
            "/v1/sessions/verify",
            &format!(r#"{{"access_token":"{token}"}}"#),
        )
        .await;
    assert_eq!(
        verified.body()["claims"]["sub"],
        id.as_str(),
        "the account id, not the name"
    );
    assert_eq!(
        app.send(Method::POST, "/auth/refresh", &[("cookie", &cookie)], "")
            .await
            .status,
        StatusCode::FORBIDDEN,
        "CSRF"
    );
    let fresh = get(&app, &mut jar, "/auth/csrf").await.body()["csrf_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = app
        .send(
            Method::POST,
            "/auth/logout",
            &[
                ("cookie", &cookie),
                ("x-csrf-token", &fresh),
                ("accept", "application/json"),
            ],
            "",
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        get(&app, &mut jar, "/auth/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    let bad = app
        .send(
            Method::POST,
            "/auth/login",
            &[("content-type", "application/json")],
            r#"{"user":"alice","password":"nope nope"}"#,
        )
        .await;
    bad.assert_problem(401, "invalid-credentials");
    assert_eq!(bad.body()["error"], "invalid_credentials");
    let _: Value = bad.body();
}

/// Every refusal of the `/auth` routes is a problem document (`application/problem+json` with
/// `type`, `title`, `status`), never an empty body without a Content-Type; JSON sign-ins keep
/// their `error` code.
#[tokio::test]
async fn auth_refusals_are_problem_documents() {
    let app = App::with(OPEN).await;
    let json = [("content-type", "application/json")];
    let form = [("content-type", "application/x-www-form-urlencoded")];
    for route in ["/auth/login", "/auth/signup"] {
        app.send(Method::POST, route, &[], "")
            .await
            .assert_problem(415, "unsupported-media-type");
        app.send(
            Method::POST,
            route,
            &[("content-type", "text/plain")],
            "user=a",
        )
        .await
        .assert_problem(415, "unsupported-media-type");
        for body in [
            "",
            "[]",
            r#"{"user":"alice"}"#,
            r#"{"user":1,"password":"long enough"}"#,
            r#"{"user":"alice","password":"long enough","confirm":"long enough"}"#,
        ] {
            app.send(Method::POST, route, &json, body)
                .await
                .assert_problem(400, "invalid-request");
        }
        app.send(Method::POST, route, &form, "user=alice")
            .await
            .assert_problem(400, "invalid-request");
        app.send(
            Method::POST,
            route,
            &form,
            "user=alice&password=long+enough",
        )
        .await
        .assert_problem(403, "forbidden");
        let huge = format!(
            r#"{{"user":"alice","password":"{}"}}"#,
            "x".repeat(300 * 1024)
        );
        app.send(Method::POST, route, &json, &huge)
            .await
            .assert_problem(413, "payload-too-large");
    }
    let signup = |body: &'static str| app.send(Method::POST, "/auth/signup", &json, body);
    let bad = signup(r#"{"user":"al","password":"long enough"}"#).await;
    bad.assert_problem(400, "invalid-request");
    assert!(bad.body()["detail"].as_str().unwrap().contains("3 to 256"));
    signup(r#"{"user":"alice","password":"short"}"#)
        .await
        .assert_problem(400, "invalid-request");
    assert_eq!(
        signup(r#"{"user":"alice","password":"a long enough password"}"#)
            .await
            .status,
        StatusCode::OK
    );
    let taken = signup(r#"{"user":"ALICE","password":"a long enough password"}"#).await;
    taken.assert_problem(409, "conflict");
    assert_eq!(taken.body()["error"], "invalid_credentials");
    let wrong = app
        .send(
            Method::POST,
            "/auth/login",
            &json,
            r#"{"user":"alice","password":"not the one"}"#,
        )
        .await;
    wrong.assert_problem(401, "invalid-credentials");
    assert_eq!(wrong.body()["error"], "invalid_credentials");
    for (method, route) in [
        (Method::GET, "/auth/me"),
        (Method::GET, "/auth/csrf"),
        (Method::POST, "/auth/refresh"),
        (Method::POST, "/auth/logout"),
        (Method::POST, "/auth/password"),
        (Method::POST, "/auth/sessions/others/revoke"),
    ] {
        app.send(method, route, &[], "")
            .await
            .assert_problem(401, "unauthenticated");
    }
}

/// The account's own forms refuse with problem documents too: an unknown session to sign out,
/// a password change that is not a form.
#[tokio::test]
async fn account_form_refusals_are_problem_documents() {
    let app = App::with(OPEN).await;
    let mut jar = Jar::default();
    sign_up(&app, &mut jar, "alice", "correct+horse+battery").await;
    let csrf = csrf_of(&get(&app, &mut jar, "/auth/account").await.text);
    let cookie = jar.header();
    let headers = [
        ("cookie", cookie.as_str()),
        ("x-csrf-token", csrf.as_str()),
        ("sec-fetch-site", "same-origin"),
    ];
    for sid in ["AAAAAAAAAAAAAAAAAAAAAA", "not-a-session"] {
        app.send(
            Method::POST,
            &format!("/auth/sessions/{sid}/revoke"),
            &headers,
            "",
        )
        .await
        .assert_problem(404, "not-found");
    }
    let mut as_json = headers.to_vec();
    as_json.push(("content-type", "application/json"));
    app.send(
        Method::POST,
        "/auth/password",
        &as_json,
        r#"{"current":"x"}"#,
    )
    .await
    .assert_problem(400, "invalid-request");
    let mut as_form = headers.to_vec();
    as_form.push(("content-type", "application/x-www-form-urlencoded"));
    app.send(Method::POST, "/auth/password", &as_form, "current=x")
        .await
        .assert_problem(400, "invalid-request");
}
