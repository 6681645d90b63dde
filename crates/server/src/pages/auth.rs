//! Sign in, sign up, sign out: pages with forms, and the same endpoints with JSON bodies.

use std::collections::HashMap;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde_json::json;
use tessera::{AuditKind, Clock, Device, NewSession, RevokeReason, SystemClock};
use tessera_axum::{BrowserSession, CsrfToken, cookie_values};

use super::html::{alert, hidden, page};
use super::passwords::{self, Attempt};
use crate::http::client::Client;
use crate::state::AppState;

/// Longest user agent kept with a session.
const MAX_USER_AGENT: usize = 256;

fn login_cookie_name(state: &AppState) -> &'static str {
    if state.config.cookie_secure {
        "__Host-tessera-login"
    } else {
        "tessera-login"
    }
}

/// A signed double-submit pair for a pre-session form: the cookie, and the field to embed.
fn login_csrf(state: &AppState) -> Option<(HeaderValue, String)> {
    let pair = state.manager.csrf().login_pair(SystemClock.now()).ok()?;
    let secure = if state.config.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{}={}; Path=/; HttpOnly{secure}; SameSite=Strict; Max-Age=3600",
        login_cookie_name(state),
        pair.cookie
    );
    Some((HeaderValue::from_str(&cookie).ok()?, pair.form))
}

fn login_csrf_ok(state: &AppState, headers: &HeaderMap, form_token: &str) -> bool {
    let cookies = cookie_values(headers, login_cookie_name(state));
    let [cookie] = cookies.as_slice() else {
        return false;
    };
    state
        .manager
        .csrf()
        .verify_login(cookie, form_token, SystemClock.now())
}

fn credentials_form(
    state: &AppState,
    action: &str,
    message: Option<&str>,
    status: StatusCode,
    session_csrf: Option<String>,
) -> Response {
    let Some((cookie, token)) = login_csrf(state) else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let (title, button, other) = if action == "signup" {
        (
            "Create your account",
            "Create account",
            "<a href=\"/auth/login\">I already have an account</a>",
        )
    } else {
        (
            "Sign in",
            "Sign in",
            "<a href=\"/auth/signup\">Create an account</a>",
        )
    };
    let confirm = if action == "signup" {
        "<label for=\"confirm\">Repeat the password</label>\
         <input id=\"confirm\" name=\"confirm\" type=\"password\" autocomplete=\"new-password\" required minlength=\"8\">"
    } else {
        ""
    };
    let autocomplete = if action == "signup" {
        "new-password"
    } else {
        "current-password"
    };
    let body = format!(
        "<section class=\"card narrow\"><h1>{title}</h1>{}<form method=\"post\" action=\"/auth/{action}\">{}\
         <label for=\"user\">User name or email</label>\
         <input id=\"user\" name=\"user\" type=\"text\" autocomplete=\"username\" required maxlength=\"256\">\
         <label for=\"password\">Password</label>\
         <input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"{autocomplete}\" required minlength=\"8\">\
         {confirm}<button type=\"submit\">{button}</button></form><p class=\"note\">{other}</p></section>",
        alert(message),
        hidden("_login", &token)
            + session_csrf
                .map_or_else(String::new, |t| hidden("_csrf", &t))
                .as_str(),
    );
    (
        status,
        [(header::SET_COOKIE, cookie)],
        Html(page(title, &body)),
    )
        .into_response()
}

/// The sign-in form. With a session already in this browser (perhaps one planted by someone
/// else), the form carries that session's CSRF token so it can be replaced, never adopted.
pub async fn login_page(
    State(state): State<AppState>,
    session: Option<BrowserSession>,
    csrf: Option<CsrfToken>,
) -> Response {
    let note = session.map(|BrowserSession(s)| {
        format!(
            "Signed in as {}. Signing in again replaces that session.",
            s.user_id
        )
    });
    credentials_form(
        &state,
        "login",
        note.as_deref(),
        StatusCode::OK,
        csrf.map(|c| c.0),
    )
}

pub async fn signup_page(State(state): State<AppState>, csrf: Option<CsrfToken>) -> Response {
    credentials_form(&state, "signup", None, StatusCode::OK, csrf.map(|c| c.0))
}

/// A submitted sign-in or sign-up, from a form or a JSON body.
struct Submitted {
    user: String,
    password: String,
    confirm: Option<String>,
    login_token: Option<String>,
    json: bool,
}

fn parse(headers: &HeaderMap, body: &Bytes) -> Option<Submitted> {
    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    let fields: HashMap<String, String> = if json {
        serde_json::from_slice(body).ok()?
    } else {
        form_urlencoded::parse(body).into_owned().collect()
    };
    Some(Submitted {
        user: fields.get("user")?.trim().to_lowercase(),
        password: fields.get("password")?.clone(),
        confirm: fields.get("confirm").cloned(),
        login_token: fields.get("_login").cloned(),
        json,
    })
}

fn refuse(
    state: &AppState,
    form: &Submitted,
    action: &str,
    status: StatusCode,
    message: &str,
) -> Response {
    if form.json {
        let code = if status == StatusCode::TOO_MANY_REQUESTS {
            "too_many_attempts"
        } else {
            "invalid_credentials"
        };
        return (
            status,
            axum::Json(json!({ "error": code, "message": message })),
        )
            .into_response();
    }
    credentials_form(state, action, Some(message), status, None)
}

/// Forms need the double-submit token (login CSRF); JSON bodies cannot be sent cross-site
/// without a preflight we never grant, and the session layer refused cross-site requests anyway.
/// The submitted credentials, or the response refusing a malformed or forged submission.
fn submitted(state: &AppState, headers: &HeaderMap, body: &Bytes) -> Result<Submitted, StatusCode> {
    let form = parse(headers, body).ok_or(StatusCode::BAD_REQUEST)?;
    if forgery(state, headers, &form) {
        return Err(StatusCode::FORBIDDEN);
    }
    Ok(form)
}

fn forgery(state: &AppState, headers: &HeaderMap, form: &Submitted) -> bool {
    !form.json
        && !form
            .login_token
            .as_deref()
            .is_some_and(|t| login_csrf_ok(state, headers, t))
}

pub async fn login(
    State(state): State<AppState>,
    client: Option<Extension<Client>>,
    previous: Option<BrowserSession>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match submitted(&state, &headers, &body) {
        Ok(form) => form,
        Err(refusal) => return refusal.into_response(),
    };
    let ip = client.map_or_else(|| "unknown".to_owned(), |c| c.ip.to_string());
    match passwords::attempt(&state.manager, &form.user, &ip).await {
        Ok(Attempt::Locked(wait)) => {
            let minutes = wait.as_secs().div_ceil(60).max(1);
            let message = format!("Too many attempts. Try again in {minutes} minute(s).");
            return refuse(
                &state,
                &form,
                "login",
                StatusCode::TOO_MANY_REQUESTS,
                &message,
            );
        }
        Ok(Attempt::Proceed(delay)) => tokio::time::sleep(delay).await,
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
    let stored = match state.manager.user(&form.user).await {
        Ok(user) => user.map(|u| u.password),
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    let exists = stored.is_some();
    let Ok(ok) = state.passwords.verify(stored, form.password.clone()).await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    if !ok {
        if exists {
            let _ = state
                .manager
                .record(Some(&form.user), None, AuditKind::LoginFailed)
                .await;
        }
        return refuse(
            &state,
            &form,
            "login",
            StatusCode::UNAUTHORIZED,
            "Wrong user name or password.",
        );
    }
    let _ = passwords::succeeded(&state.manager, &form.user).await;
    sign_in(&state, &form, &headers, &ip, previous).await
}

/// Creates the browser session with a fresh cookie; a session this browser had before (its
/// own, or one planted in it) is ended, so nothing from before sign-in survives.
async fn sign_in(
    state: &AppState,
    form: &Submitted,
    headers: &HeaderMap,
    ip: &str,
    previous: Option<BrowserSession>,
) -> Response {
    if let Some(BrowserSession(old)) = previous {
        let _ = state.manager.revoke(&old.sid, RevokeReason::Logout).await;
    }
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(MAX_USER_AGENT).collect());
    let device = Device {
        user_agent,
        ip: Some(ip.to_owned()),
        label: None,
    };
    let new = NewSession {
        user_id: form.user.clone(),
        device,
        ..NewSession::default()
    };
    let Ok((issued, cookie)) = state.manager.create_browser(new).await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let _ = state
        .manager
        .record(
            Some(&form.user),
            Some(issued.session.sid),
            AuditKind::LoginSucceeded,
        )
        .await;
    let set = state.tessera.cookie_settings().set(&cookie);
    if form.json {
        let csrf = state
            .manager
            .csrf()
            .session_token(&cookie.hash())
            .unwrap_or_default();
        let body = json!({ "user_id": form.user, "session_id": issued.session.sid.to_string(), "csrf_token": csrf });
        return ([(header::SET_COOKIE, set)], axum::Json(body)).into_response();
    }
    let mut response = Redirect::to("/auth/account").into_response();
    response.headers_mut().append(header::SET_COOKIE, set);
    response
}

pub async fn signup(
    State(state): State<AppState>,
    client: Option<Extension<Client>>,
    previous: Option<BrowserSession>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match submitted(&state, &headers, &body) {
        Ok(form) => form,
        Err(refusal) => return refusal.into_response(),
    };
    if form.user.chars().count() < 3 {
        return refuse(
            &state,
            &form,
            "signup",
            StatusCode::BAD_REQUEST,
            "Choose a user name of at least 3 characters.",
        );
    }
    if form.confirm.as_ref().is_some_and(|c| *c != form.password) {
        return refuse(
            &state,
            &form,
            "signup",
            StatusCode::BAD_REQUEST,
            "The two passwords differ.",
        );
    }
    if tessera::check_password_length(&form.password).is_err() {
        return refuse(
            &state,
            &form,
            "signup",
            StatusCode::BAD_REQUEST,
            "Use a password of 8 to 256 characters.",
        );
    }
    let hash = match state.passwords.hash(form.password.clone()).await {
        Ok(Ok(hash)) => hash,
        Ok(Err(_)) => {
            return refuse(
                &state,
                &form,
                "signup",
                StatusCode::BAD_REQUEST,
                "That password cannot be used.",
            );
        }
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    };
    match state.manager.create_user(&form.user, hash).await {
        Ok(true) => {}
        Ok(false) => {
            return refuse(
                &state,
                &form,
                "signup",
                StatusCode::CONFLICT,
                "That user name is taken.",
            );
        }
        Err(tessera::Error::InvalidInput(why)) => {
            return refuse(&state, &form, "signup", StatusCode::BAD_REQUEST, why);
        }
        Err(_) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
    let ip = client.map_or_else(|| "unknown".to_owned(), |c| c.ip.to_string());
    sign_in(&state, &form, &headers, &ip, previous).await
}

pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    BrowserSession(s): BrowserSession,
) -> Response {
    if state
        .manager
        .revoke(&s.sid, RevokeReason::Logout)
        .await
        .is_err()
    {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let clear = state.tessera.cookie_settings().clear();
    let wants_json = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if wants_json {
        return (StatusCode::NO_CONTENT, [(header::SET_COOKIE, clear)]).into_response();
    }
    ([(header::SET_COOKIE, clear)], Redirect::to("/auth/login")).into_response()
}
