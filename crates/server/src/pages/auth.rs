//! Sign in, sign up, sign out: pages with forms, and the same endpoints with JSON bodies.

use std::collections::HashMap;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::json;

use tessera::store::User;
use tessera::{
    AuditKind, Clock, Device, LoginName, NewSession, RateDecision, RevokeReason, Store, SystemClock,
};
use tessera_axum::{BrowserSession, CsrfToken, cookie_values};

use super::devices;
use super::html::{alert, hidden, page};
use super::passwords::{self, Attempt};
use crate::http::{ApiError, Problem};
use crate::state::AppState;
use tessera_axum::Client;

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
        return super::unavailable();
    };
    let (title, button, other) = if action == "signup" {
        (
            "Create your account",
            "Create account",
            "<p class=\"note\"><a href=\"/auth/login\">I already have an account</a></p>",
        )
    } else if state.config.sign_in.signup_open {
        (
            "Sign in",
            "Sign in",
            "<p class=\"note\"><a href=\"/auth/signup\">Create an account</a></p>",
        )
    } else {
        ("Sign in", "Sign in", "")
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
         {confirm}<button type=\"submit\">{button}</button></form>{other}</section>",
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
    let account = match session {
        Some(BrowserSession(s)) => super::account_of(&state, &s).await,
        None => None,
    };
    let note = account.map(|a| {
        format!(
            "Signed in as {}. Signing in again replaces that session.",
            a.login
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

/// The sign-up form: only where `signup = "open"`; elsewhere the route does not exist.
pub async fn signup_page(State(state): State<AppState>, csrf: Option<CsrfToken>) -> Response {
    if !state.config.sign_in.signup_open {
        return ApiError::NotFound.into_response();
    }
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

/// A JSON sign-in or sign-up: exactly these fields (a form's `confirm` is for people typing
/// twice; a program checks its own input).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonCredentials {
    user: String,
    password: String,
}

/// Why a submission is refused before its credentials are looked at.
enum Refused {
    /// Malformed or too large (400, 413).
    Api(ApiError),
    /// Neither JSON nor a form (415).
    MediaType,
    /// A form without a valid `_login` token (403).
    Forged,
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Self::Api(e) => e.into_response(),
            Self::MediaType => Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "The request body must be application/json or application/x-www-form-urlencoded",
            )
            .into_response(),
            Self::Forged => super::forbidden(),
        }
    }
}

/// The submission, from `application/json` or `application/x-www-form-urlencoded`; refused
/// (400, 413 or 415) otherwise.
fn parse(headers: &HeaderMap, body: Result<Bytes, BytesRejection>) -> Result<Submitted, Refused> {
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    let json = match kind.as_deref() {
        Some("application/json") => true,
        Some("application/x-www-form-urlencoded") => false,
        _ => return Err(Refused::MediaType),
    };
    let body = match body {
        Ok(body) => body,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return Err(Refused::Api(ApiError::PayloadTooLarge));
        }
        Err(e) => return Err(Refused::Api(ApiError::BadRequest(e.body_text()))),
    };
    if json {
        let c: JsonCredentials = serde_json::from_slice(&body)
            .map_err(|e| Refused::Api(ApiError::BadRequest(format!("malformed body: {e}"))))?;
        return Ok(Submitted {
            user: c.user,
            password: c.password,
            confirm: None,
            login_token: None,
            json,
        });
    }
    let mut fields: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let missing = || {
        Refused::Api(ApiError::BadRequest(
            "the form needs the fields user and password".into(),
        ))
    };
    Ok(Submitted {
        user: fields.remove("user").ok_or_else(missing)?,
        password: fields.remove("password").ok_or_else(missing)?,
        confirm: fields.remove("confirm"),
        login_token: fields.remove("_login"),
        json,
    })
}

/// A refused submission: to a JSON client a problem document (its `detail` says what to do;
/// `error` keeps the code earlier clients read), to a person the form again with the message.
fn refuse(
    state: &AppState,
    form: &Submitted,
    action: &str,
    status: StatusCode,
    message: &str,
) -> Response {
    if form.json {
        let (slug, title, code) = match status {
            StatusCode::TOO_MANY_REQUESTS => {
                ("rate-limited", "Too many requests", "too_many_attempts")
            }
            StatusCode::UNAUTHORIZED => (
                "invalid-credentials",
                "Wrong user name or password",
                "invalid_credentials",
            ),
            StatusCode::CONFLICT => ("conflict", "The name is taken", "invalid_credentials"),
            _ => (
                "invalid-request",
                "The request is not valid",
                "invalid_credentials",
            ),
        };
        return Problem::new(status, slug, title)
            .detail(message)
            .with("error", code)
            .into_response();
    }
    credentials_form(state, action, Some(message), status, None)
}

/// 429 with `Retry-After` and `RateLimit-*`: locked out of guessing (or of signing up).
fn too_many(state: &AppState, form: &Submitted, action: &str, lock: &Attempt) -> Response {
    let message = lock.message();
    lock.lock_out(refuse(
        state,
        form,
        action,
        StatusCode::TOO_MANY_REQUESTS,
        &message,
    ))
}

/// Forms need the double-submit token (login CSRF); JSON bodies cannot be sent cross-site
/// without a preflight we never grant, and the session layer refused cross-site requests anyway.
/// The submitted credentials, or the response refusing a malformed or forged submission.
fn submitted(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Submitted, Refused> {
    let form = parse(headers, body)?;
    if forgery(state, headers, &form) {
        return Err(Refused::Forged);
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
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let form = match submitted(&state, &headers, body) {
        Ok(form) => form,
        Err(refusal) => return refusal.into_response(),
    };
    let wrong = |state: &AppState, form: &Submitted| {
        refuse(
            state,
            form,
            "login",
            StatusCode::UNAUTHORIZED,
            "Wrong user name or password.",
        )
    };
    let Some(login) = login_of(&form.user) else {
        return wrong(&state, &form);
    };
    let account = match state.manager.find_user(&login).await {
        Ok(account) => account,
        Err(_) => return super::unavailable(),
    };
    let device = account
        .as_ref()
        .and_then(|a| devices::recognise(&state, &headers, a));
    let ip = client_ip(client);
    let limits = &state.config.sign_in;
    match passwords::attempt(&state.manager, limits, &login, device.as_deref(), &ip).await {
        Ok(lock @ Attempt::Locked { .. }) => return too_many(&state, &form, "login", &lock),
        Ok(Attempt::Proceed(delay)) => tokio::time::sleep(delay).await,
        Err(_) => return super::unavailable(),
    }
    let stored = account.as_ref().map(|a| a.password.clone());
    let Ok(ok) = state.passwords.verify(stored, form.password.clone()).await else {
        return super::unavailable();
    };
    let account = match account {
        Some(account) if ok => account,
        Some(account) => {
            let _ = state
                .manager
                .record(Some(account.id.as_str()), None, AuditKind::LoginFailed)
                .await;
            return wrong(&state, &form);
        }
        None => return wrong(&state, &form),
    };
    let _ = passwords::succeeded(&state.manager, limits, &login, device.as_deref()).await;
    sign_in(&state, &form, &account, &headers, &ip, previous).await
}

/// The login name typed, normalized. A name today's rules refuse can still name an account
/// made before they existed (kept as it was then: trimmed, lower-cased), so that is looked up.
fn login_of(typed: &str) -> Option<LoginName> {
    LoginName::parse(typed).ok().or_else(|| {
        let legacy = typed.trim().to_lowercase();
        (!legacy.is_empty() && legacy.len() <= tessera::MAX_LOGIN_BYTES)
            .then(|| LoginName::from_stored(legacy))
    })
}

fn client_ip(client: Option<Extension<Client>>) -> String {
    client.map_or_else(|| "unknown".to_owned(), |c| c.ip.to_string())
}

/// Creates the browser session with a fresh cookie; a session this browser had before (its
/// own, or one planted in it) is ended, so nothing from before sign-in survives. The browser
/// becomes a known device of the account.
async fn sign_in(
    state: &AppState,
    form: &Submitted,
    account: &User,
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
        user_id: account.id.to_string(),
        device,
        ..NewSession::default()
    };
    let Ok((issued, cookie)) = state.manager.create_browser(new).await else {
        return super::unavailable();
    };
    let _ = state
        .manager
        .record(
            Some(account.id.as_str()),
            Some(issued.session.sid),
            AuditKind::LoginSucceeded,
        )
        .await;
    let set = state.tessera.cookie_settings().set(&cookie);
    let mut response = if form.json {
        let csrf = state
            .manager
            .csrf()
            .session_token(&cookie.hash())
            .unwrap_or_default();
        let body = json!({
            "user_id": account.id.as_str(),
            "login": account.login.as_str(),
            "session_id": issued.session.sid.to_string(),
            "csrf_token": csrf,
        });
        axum::Json(body).into_response()
    } else {
        Redirect::to("/auth/account").into_response()
    };
    let cookies = response.headers_mut();
    cookies.append(header::SET_COOKIE, set);
    if let Some(known) = devices::remember(state, headers, account) {
        cookies.append(header::SET_COOKIE, known);
    }
    response
}

/// Self sign-up, where `signup = "open"`: rate-limited per client IP and audited. The account's
/// identity is a fresh `usr_` id; the name typed is only its login name.
pub async fn signup(
    State(state): State<AppState>,
    client: Option<Extension<Client>>,
    previous: Option<BrowserSession>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if !state.config.sign_in.signup_open {
        return ApiError::NotFound.into_response();
    }
    let form = match submitted(&state, &headers, body) {
        Ok(form) => form,
        Err(refusal) => return refusal.into_response(),
    };
    let bad = |message: &str| refuse(&state, &form, "signup", StatusCode::BAD_REQUEST, message);
    let login = match LoginName::parse(&form.user) {
        Ok(login) => login,
        Err(tessera::Error::InvalidInput(why)) => {
            return bad(&format!("Choose another name: {why}."));
        }
        Err(_) => return bad("Choose another name."),
    };
    if form.confirm.as_ref().is_some_and(|c| *c != form.password) {
        return bad("The two passwords differ.");
    }
    if tessera::check_password_length(&form.password).is_err() {
        return bad("Use a password of 8 to 256 characters.");
    }
    let ip = client_ip(client);
    if let Some(quota) = state.config.sign_in.signup_per_client {
        let key = format!("signup:ip:{ip}");
        match state
            .manager
            .store()
            .rate_limit(&key, &quota, SystemClock.now())
            .await
        {
            Ok(RateDecision::Limited {
                retry_after,
                reset_after,
            }) => {
                let lock = Attempt::Locked {
                    retry_after,
                    reset_after,
                    limit: quota.burst(),
                };
                return too_many(&state, &form, "signup", &lock);
            }
            Ok(RateDecision::Allowed { .. }) => {}
            Err(_) => return super::unavailable(),
        }
    }
    let hash = match state.passwords.hash(form.password.clone()).await {
        Ok(Ok(hash)) => hash,
        Ok(Err(_)) => return bad("That password cannot be used."),
        Err(_) => return super::unavailable(),
    };
    let account = match state.manager.create_user(&login, hash).await {
        Ok(Some(account)) => account,
        Ok(None) => {
            return refuse(
                &state,
                &form,
                "signup",
                StatusCode::CONFLICT,
                "That user name is taken.",
            );
        }
        Err(_) => return super::unavailable(),
    };
    let _ = state
        .manager
        .record(Some(account.id.as_str()), None, AuditKind::AccountCreated)
        .await;
    sign_in(&state, &form, &account, &headers, &ip, previous).await
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
        return super::unavailable();
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
