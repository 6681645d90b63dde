//! Sign in, sign up, sign out: pages with forms, and the same endpoints with JSON bodies.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::json;

use tessera::store::RateLimitStore;
use tessera::store::User;
use tessera::{AuditKind, Clock, Device, LoginName, NewSession, RateDecision, RevokeReason};
use tessera_axum::{BrowserSession, CsrfToken};

use super::credentials::{
    Refused, Shown, Submitted, credentials_form, expired, refuse, submitted, too_many,
};
use super::devices;
use super::errors::wants_html;
use super::passwords::{self, Attempt};
use super::view::Message;
use crate::http::ApiError;
use crate::state::AppState;
use tessera_axum::Client;

/// Longest user agent kept with a session.
const MAX_USER_AGENT: usize = 256;

/// The sign-in form. With a session already in this browser (perhaps one planted by someone
/// else), the form carries that session's CSRF token so it can be replaced, never adopted.
pub async fn login_page(
    State(state): State<AppState>,
    session: Option<BrowserSession>,
    csrf: Option<CsrfToken>,
    RawQuery(query): RawQuery,
) -> Response {
    let account = match session {
        Some(BrowserSession(s)) => super::account_of(&state, &s).await,
        None => None,
    };
    let shown = Shown {
        signed_in_as: account.map(|a| a.login.to_string()),
        session_csrf: csrf.map(|c| c.0),
        return_to: return_to_of(&state, query.as_deref()),
        ..Shown::default()
    };
    credentials_form(&state, "login", StatusCode::OK, shown)
}

/// A `?return_to=` the configuration accepts (see [`Config::return_target`]); others are
/// dropped, and sign-in then lands on the account page.
///
/// [`Config::return_target`]: crate::config::Config::return_target
fn return_to_of(state: &AppState, query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(name, _)| name == "return_to")
        .map(|(_, value)| value.into_owned())
        .filter(|r| state.config.return_target(r).is_some())
}

/// The sign-up form: only where `signup = "open"`; elsewhere the route does not exist.
pub async fn signup_page(State(state): State<AppState>, csrf: Option<CsrfToken>) -> Response {
    if !state.config.sign_in.signup_open {
        return ApiError::NotFound.into_response();
    }
    let shown = Shown {
        session_csrf: csrf.map(|c| c.0),
        ..Shown::default()
    };
    credentials_form(&state, "signup", StatusCode::OK, shown)
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
        Err(Refused::Forged(return_to)) if wants_html(&headers) => {
            return expired(&state, "login", return_to);
        }
        Err(refusal) => return refusal.into_response(),
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
    let (ip, key) = (client_ip(client.as_ref()), client_key(client.as_ref()));
    let limits = &state.config.sign_in;
    match passwords::attempt(&state.manager, limits, &login, device.as_deref(), &key).await {
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
            // Off the response path: an unknown name has no event to write, so waiting for
            // this one (an fsync on SQLite) would tell existing accounts apart by time.
            let manager = Arc::clone(&state.manager);
            tokio::spawn(async move {
                let failed = AuditKind::LoginFailed;
                let _ = manager
                    .record(Some(account.id.as_str()), None, failed)
                    .await;
            });
            return wrong(&state, &form);
        }
        None => return wrong(&state, &form),
    };
    let _ = passwords::succeeded(&state.manager, limits, &login, device.as_deref()).await;
    sign_in(&state, &form, &account, &headers, &ip, previous).await
}

fn wrong(state: &AppState, form: &Submitted) -> Response {
    let message = Message::new("wrong-credentials", "Wrong user name or password.");
    refuse(
        state,
        form,
        "login",
        StatusCode::UNAUTHORIZED,
        (None, message),
    )
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

/// The client's address, as a device and the audit trail record it.
pub(super) fn client_ip(client: Option<&Extension<Client>>) -> String {
    client.map_or_else(|| "unknown".to_owned(), |c| c.ip.to_string())
}

/// The client as per-client budgets count it: an IPv6 one by its /64 (see
/// [`Client::rate_key`]).
pub(super) fn client_key(client: Option<&Extension<Client>>) -> String {
    client.map_or_else(|| "unknown".to_owned(), |c| c.rate_key())
}

/// Creates the browser session with a fresh cookie; a session this browser had before (its
/// own, or one planted in it) is ended, so nothing from before sign-in survives. The browser
/// becomes a known device of the account.
pub(super) async fn sign_in(
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
    let (issued, cookie) = match state.manager.create_browser(new).await {
        Ok(made) => made,
        // An account id names no account any more: it was deleted since it was read.
        Err(tessera::Error::InvalidInput(_)) => return wrong(state, form),
        Err(_) => return super::unavailable(),
    };
    // A change of password, a reset or the account's deletion while this sign-in checked the
    // old password: the session ends, and its cookie is never handed out.
    match state
        .manager
        .confirm_sign_in(account, &issued.session.sid)
        .await
    {
        Ok(true) => {}
        Ok(false) => return wrong(state, form),
        Err(_) => return super::unavailable(),
    }
    let _ = state
        .manager
        .record(
            Some(account.id.as_str()),
            Some(issued.session.sid),
            AuditKind::LoginSucceeded,
        )
        .await;
    let settings = state.tessera.cookie_settings();
    let set = if form.remember {
        let now = state.manager.clock().now().as_secs();
        let left = issued
            .session
            .absolute_expires_at
            .as_secs()
            .saturating_sub(now);
        let left = std::time::Duration::from_secs(u64::try_from(left).unwrap_or(0));
        settings.set_persistent(&cookie, left)
    } else {
        settings.set(&cookie)
    };
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
            "expires_at": issued.session.expires_at().as_secs(),
            "csrf_token": csrf,
        });
        axum::Json(body).into_response()
    } else {
        Redirect::to(form.return_to.as_deref().unwrap_or("/auth/account")).into_response()
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
        Err(Refused::Forged(return_to)) if wants_html(&headers) => {
            return expired(&state, "signup", return_to);
        }
        Err(refusal) => return refusal.into_response(),
    };
    let bad = |field, code, text: String| {
        let message = Message::new(code, text);
        refuse(
            &state,
            &form,
            "signup",
            StatusCode::BAD_REQUEST,
            (Some(field), message),
        )
    };
    let login = match LoginName::parse(&form.user) {
        Ok(login) => login,
        Err(tessera::Error::InvalidInput(why)) => {
            return bad(
                "user",
                "name-refused",
                format!("Choose another name: {why}."),
            );
        }
        Err(_) => return bad("user", "name-refused", "Choose another name.".into()),
    };
    if let Err(weak) = crate::strength::check(
        &form.password,
        login.as_str(),
        state.config.password_min_strength,
    ) {
        return bad("password", weak.code(), weak.to_string());
    }
    if form.confirm.as_ref().is_some_and(|c| *c != form.password) {
        return bad(
            "confirm",
            "passwords-differ",
            "The two passwords differ.".into(),
        );
    }
    let ip = client_ip(client.as_ref());
    if let Some(quota) = state.config.sign_in.signup_per_client {
        let key = format!("signup:ip:{}", client_key(client.as_ref()));
        match state
            .manager
            .store()
            .rate_limit(&key, &quota, state.manager.clock().now())
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
        Ok(Err(_)) => {
            return bad(
                "password",
                "password-refused",
                "That password cannot be used.".into(),
            );
        }
        Err(_) => return super::unavailable(),
    };
    let account = match state.manager.create_user(&login, hash).await {
        Ok(Some(account)) => account,
        Ok(None) => {
            let taken = Message::new("name-taken", "That user name is taken.");
            return refuse(
                &state,
                &form,
                "signup",
                StatusCode::CONFLICT,
                (Some("user"), taken),
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
