//! A small application on tessera-axum, to copy from: a page behind sign-in (cookie session,
//! CSRF-protected forms, login CSRF defeated by a signed double-submit token), a JSON API behind
//! a bearer access token, and sign-out that takes effect at once.
//!
//! Run it with `cargo run -p tessera-example-app`, open <http://127.0.0.1:3000/> and sign in as
//! `demo` / `correct horse battery`. (Plain HTTP on loopback only: cookies are not `Secure`
//! here; in production keep `CookieSettings::default()` and serve HTTPS.)
//!
//! [`Tessera::builder`] does the chores: it keeps the server secret (sealed) in the store,
//! generates and rotates signing keys, follows revocations and deletes expired sessions in the
//! background. [`Tessera::login`] and [`Tessera::logout`] set and clear the cookie, and
//! [`RequireSignIn`] sends people who are not signed in to the sign-in page and back.

use axum::extract::{Form, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tessera::store::User;
use tessera::{
    AccountId, Clock, KeyEncryptionKey, LoginName, MemoryStore, NewSession, PasswordHash, Timestamp,
};
use tessera_axum::{
    Bearer, BrowserSession, CookieSettings, CsrfToken, RequireSignIn, Tessera, cookie_values,
};

/// The builder chose the OS clock; everything else reads `manager().clock()`.
#[allow(
    clippy::disallowed_types,
    reason = "the one place the app names its clock"
)]
type App = Tessera<MemoryStore, tessera_axum::SystemClock>;
const LOGIN_CSRF_COOKIE: &str = "login_csrf";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tessera = tessera("http://127.0.0.1:3000").await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://127.0.0.1:3000/ (demo / correct horse battery)");
    axum::serve(listener, app(tessera)).await?;
    Ok(())
}

/// Tessera on a memory store with one demo account. A store that outlives the process (SQLite,
/// Redis) needs the same key-encryption key at every start: keep it with the app's secrets.
async fn tessera(origin: &str) -> Result<App, Box<dyn std::error::Error>> {
    let cookies = CookieSettings {
        secure: false,
        name: "example".into(),
        ..CookieSettings::default()
    };
    let tessera = Tessera::builder(MemoryStore::new(), origin)
        .audience("example-app")
        .cookie(cookies)
        .key_encryption_key(KeyEncryptionKey::generate()?)
        .build()
        .await?;
    let hash = tokio::task::spawn_blocking(|| PasswordHash::new("correct horse battery")).await??;
    tessera
        .manager()
        .create_user(&LoginName::parse("demo")?, hash)
        .await?;
    Ok(tessera)
}

fn app(tessera: App) -> Router {
    let signed_in = Router::new()
        .route("/", get(home))
        .route("/logout", post(logout))
        .layer(RequireSignIn::redirecting_to("/login"));
    Router::new()
        .merge(signed_in)
        .route("/login", get(login_page).post(login))
        .route("/api/login", post(api_login))
        .route("/api/me", get(api_me))
        .layer(tessera.layer())
        .with_state(tessera)
}

async fn home(
    State(t): State<App>,
    BrowserSession(s): BrowserSession,
    CsrfToken(csrf): CsrfToken,
) -> Response {
    let name = match s.user_id.parse::<AccountId>() {
        Ok(id) => t.manager().user(&id).await.ok().flatten(),
        Err(_) => None,
    }
    .map_or_else(|| s.user_id.clone(), |u| u.login.to_string());
    // Everything a person typed is escaped before it reaches HTML.
    Html(format!(
        "<h1>Hello, {}</h1><form method=post action=/logout><input type=hidden name=_csrf value=\"{}\">\
         <button>Sign out</button></form>",
        escape(&name),
        escape(&csrf)
    ))
    .into_response()
}

/// Text for HTML element content and quoted attribute values.
fn escape(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '&' => "&amp;".to_owned(),
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}

#[derive(serde::Deserialize)]
struct ReturnTo {
    return_to: Option<String>,
}

/// Only a path on this site: `return_to` never sends anyone elsewhere (`//host`, `/\host`).
fn local_path(target: Option<String>) -> String {
    target
        .filter(|t| {
            t.starts_with('/') && !t.starts_with("//") && !t.contains(['\\', '\t', '\n', '\r'])
        })
        .unwrap_or_else(|| "/".into())
}

async fn login_page(State(t): State<App>, Query(q): Query<ReturnTo>) -> Response {
    let Ok(pair) = t.manager().csrf().login_pair(t.manager().clock().now()) else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let page = format!(
        "<form method=post><input name=user><input name=password type=password>\
         <label><input type=checkbox name=remember value=1> Keep me signed in</label>\
         <input type=hidden name=_login value={}><input type=hidden name=return_to value=\"{}\">\
         <button>Sign in</button></form>",
        pair.form,
        escape(&local_path(q.return_to))
    );
    let cookie = format!(
        "{LOGIN_CSRF_COOKIE}={}; Path=/login; HttpOnly; SameSite=Strict",
        pair.cookie
    );
    ([(header::SET_COOKIE, cookie)], Html(page)).into_response()
}

#[derive(serde::Deserialize)]
struct Login {
    user: String,
    password: String,
    #[serde(rename = "_login")]
    login_csrf: String,
    remember: Option<String>,
    return_to: Option<String>,
}

async fn login(
    State(t): State<App>,
    before: Option<BrowserSession>,
    headers: HeaderMap,
    Form(f): Form<Login>,
) -> Response {
    let now: Timestamp = t.manager().clock().now();
    let cookie = cookie_values(&headers, LOGIN_CSRF_COOKIE)
        .first()
        .map(|c| (*c).to_owned())
        .unwrap_or_default();
    if !t.manager().csrf().verify_login(&cookie, &f.login_csrf, now) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let Some(account) = account(&t, &f.user, f.password).await else {
        return (
            StatusCode::UNAUTHORIZED,
            Html("Wrong user or password. <a href=/login>Again</a>"),
        )
            .into_response();
    };
    // A new session (and id) at every sign-in; one this browser had before is ended.
    let new = NewSession::for_user(account.id.as_str());
    let previous = before.as_ref().map(|BrowserSession(s)| s);
    let signed_in = match t.login(new, previous, f.remember.is_some()).await {
        Ok(signed_in) => signed_in,
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    // The password changed (or the account went) while it was checked: every session found
    // then was ended, and this one, made after, must not outlive them.
    match t
        .manager()
        .confirm_sign_in(&account, &signed_in.session.sid)
        .await
    {
        Ok(true) => {}
        Ok(false) => return StatusCode::UNAUTHORIZED.into_response(),
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
    (signed_in, Redirect::to(&local_path(f.return_to))).into_response()
}

/// The account whose login name and password these are. Verifies off the async runtime; an
/// unknown user costs the same time as a wrong password.
async fn account(t: &App, user: &str, password: String) -> Option<User> {
    let login = LoginName::parse(user).ok()?;
    let found = t.manager().find_user(&login).await.ok().flatten();
    let stored = found.as_ref().map(|u| u.password.clone());
    let ok = tokio::task::spawn_blocking(move || PasswordHash::check(stored.as_ref(), &password))
        .await
        .unwrap_or(false);
    found.filter(|_| ok)
}

async fn logout(State(t): State<App>, BrowserSession(s): BrowserSession) -> Response {
    match t.logout(&s).await {
        Ok(signed_out) => (signed_out, Redirect::to("/login")).into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

#[derive(serde::Deserialize)]
struct ApiLogin {
    user: String,
    password: String,
}

async fn api_login(State(t): State<App>, Json(body): Json<ApiLogin>) -> Response {
    let Some(account) = account(&t, &body.user, body.password).await else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    match t
        .manager()
        .create(NewSession::for_user(account.id.as_str()))
        .await
    {
        Ok(issued) => Json(json!({
            "access_token": issued.access_token.expose(),
            "refresh_token": issued.refresh_token.expose(),
        }))
        .into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

async fn api_me(Bearer(claims): Bearer) -> Json<serde_json::Value> {
    Json(json!({ "user": claims.sub, "session": claims.sid.to_string() }))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    use super::*;

    async fn send(app: &Router, req: Request<Body>) -> (StatusCode, HeaderMap, String) {
        let r = app.clone().oneshot(req).await.unwrap();
        let (status, headers) = (r.status(), r.headers().clone());
        let body = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, headers, String::from_utf8_lossy(&body).into_owned())
    }

    #[tokio::test]
    async fn sign_in_see_the_page_use_the_api_sign_out() {
        let app = app(tessera("http://127.0.0.1:3000").await.unwrap());
        let (_, headers, page) =
            send(&app, Request::get("/login").body(Body::empty()).unwrap()).await;
        let login_cookie = headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let form_token = page
            .split("name=_login value=")
            .nth(1)
            .unwrap()
            .split('>')
            .next()
            .unwrap();
        let body = format!("user=demo&password=correct+horse+battery&_login={form_token}");
        let login = Request::post("/login")
            .header(header::COOKIE, &login_cookie)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap();
        let (status, headers, _) = send(&app, login).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        let session = headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        let home = Request::get("/")
            .header(header::COOKIE, &session)
            .body(Body::empty())
            .unwrap();
        let (status, _, page) = send(&app, home).await;
        assert_eq!(status, StatusCode::OK);
        assert!(page.contains("Hello, demo"));
        let csrf = page
            .split("name=_csrf value=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let out = Request::post("/logout")
            .header(header::COOKIE, &session)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("_csrf={csrf}")))
            .unwrap();
        assert_eq!(send(&app, out).await.0, StatusCode::SEE_OTHER);
        let again = Request::get("/?tab=1")
            .header(header::COOKIE, &session)
            .header(header::ACCEPT, "text/html")
            .body(Body::empty())
            .unwrap();
        let (status, headers, _) = send(&app, again).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "signed out: back to /login");
        assert_eq!(headers[header::LOCATION], "/login?return_to=%2F%3Ftab%3D1");

        let api = Request::post("/api/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                r#"{"user":"demo","password":"correct horse battery"}"#,
            ))
            .unwrap();
        let (status, _, tokens) = send(&app, api).await;
        assert_eq!(status, StatusCode::OK);
        let tokens: serde_json::Value = serde_json::from_str(&tokens).unwrap();
        let auth = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
        let me = Request::get("/api/me")
            .header(header::AUTHORIZATION, auth)
            .body(Body::empty())
            .unwrap();
        let (status, _, me) = send(&app, me).await;
        assert_eq!(status, StatusCode::OK);
        assert!(me.contains("\"user\":\"usr_"), "{me}");
        let wrong = Request::post("/api/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"user":"nobody","password":"whatever1"}"#))
            .unwrap();
        assert_eq!(send(&app, wrong).await.0, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn names_people_type_reach_the_page_escaped() {
        let t = tessera("http://127.0.0.1:3000").await.unwrap();
        let hash = PasswordHash::new("correct horse battery").unwrap();
        let login = LoginName::parse("<img/src=x/onerror=alert(1)>").unwrap();
        let account = t
            .manager()
            .create_user(&login, hash)
            .await
            .unwrap()
            .unwrap();
        let (_, cookie) = t
            .manager()
            .create_browser(NewSession::for_user(account.id.as_str()))
            .await
            .unwrap();
        let set = t.cookie_settings().set(&cookie);
        let cookie = set.to_str().unwrap().split(';').next().unwrap().to_owned();
        let home = Request::get("/")
            .header(header::COOKIE, &cookie)
            .body(Body::empty())
            .unwrap();
        let (status, _, page) = send(&app(t), home).await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains("Hello, &lt;img/src=x/onerror=alert(1)&gt;"),
            "{page}"
        );
        assert!(!page.contains("<img"));
    }
}
