//! The account page: this user's devices, revoking one or all others, changing the password,
//! recent security activity.

use std::collections::HashMap;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tessera::store::User;
use tessera::{RevokeReason, Session, SessionId};
use tessera_axum::{BrowserSession, Client, CsrfToken};

use super::credentials;
use super::password_change::{self, Refused, with_cookies};
use super::view::{FieldErrors, Message, PASSWORD_HINT, When};
use crate::http::{ApiError, Problem};
use crate::state::AppState;

/// What the account template is given.
#[derive(Debug, Serialize)]
pub struct AccountPage {
    pub login: String,
    pub csrf: String,
    pub devices: Vec<DeviceView>,
    /// How many devices "sign out everywhere else" would sign out.
    pub others: usize,
    pub events: Vec<EventView>,
    /// A refusal of the password form as a whole (a lock-out).
    pub alert: Option<Message>,
    pub success: Option<String>,
    pub errors: FieldErrors,
    pub password_hint: &'static str,
}

/// One signed-in device.
#[derive(Debug, Serialize)]
pub struct DeviceView {
    pub sid: String,
    /// "Chrome 131 on Linux".
    pub summary: String,
    pub user_agent: String,
    pub ip: String,
    pub created: When,
    pub last_seen: When,
    /// The device looking at the page.
    pub current: bool,
}

/// One recent security event.
#[derive(Debug, Serialize)]
pub struct EventView {
    pub label: String,
    pub at: When,
}

/// What the page says after a redirect back to it (`?done=…`). Only these fixed words are
/// shown: the query never puts text on the page.
fn success_of(query: Option<&str>) -> Option<String> {
    let done = form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "done")?
        .1;
    let text = match done.as_ref() {
        "device" => "The device was signed out.",
        "others" => "Every other device was signed out.",
        "password" => "Your password was changed, and every other device was signed out.",
        _ => return None,
    };
    Some(text.to_owned())
}

/// The parts of the account page that vary with what just happened.
#[derive(Default)]
struct Outcome {
    alert: Option<Message>,
    success: Option<String>,
    errors: FieldErrors,
}

/// "Chrome 156 on Linux" from a user agent; the raw string stays available as a tooltip.
pub(super) fn summarize_agent(ua: &str) -> String {
    let version = |name: &str| {
        ua.split(name)
            .nth(1)
            .and_then(|rest| rest.split(['.', ' ', ';']).next())
            .map(|v| format!("{} {v}", name.trim_end_matches('/')))
    };
    let browser = version("Edg/")
        .map(|v| v.replace("Edg", "Edge"))
        .or_else(|| version("Firefox/"))
        .or_else(|| {
            version("HeadlessChrome/").map(|v| v.replace("HeadlessChrome", "Chrome (headless)"))
        })
        .or_else(|| version("Chrome/"))
        .or_else(|| ua.contains("Safari/").then(|| "Safari".to_owned()));
    let os = [
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(needle, _)| ua.contains(needle))
    .map(|(_, name)| *name);
    match (browser, os) {
        (Some(b), Some(o)) => format!("{b} on {o}"),
        (Some(b), None) => b,
        (None, Some(o)) => format!("A browser on {o}"),
        (None, None) => "Unknown device".to_owned(),
    }
}

fn describe(kind: &Value) -> String {
    let label = match kind["type"].as_str().unwrap_or("") {
        "login_succeeded" => "Signed in",
        "login_failed" => "Failed sign-in attempt",
        "session_created" => "New session",
        "session_refreshed" => "Session refreshed",
        "refresh_reuse_detected" => "A stolen session token was used; the session was ended",
        "session_revoked" => "Session ended",
        "password_changed" => "Password changed",
        "password_change_failed" => "Wrong current password given to change the password",
        "reset_link_issued" => "A one-time link to set a new password was made",
        "account_created" => "Account created",
        "rate_limited" => "Requests slowed down",
        other => other,
    };
    label.to_owned()
}

async fn page_for(
    state: &AppState,
    s: &Session,
    account: &User,
    csrf: &str,
    status: StatusCode,
    outcome: Outcome,
) -> Response {
    let (Ok(sessions), Ok(events)) = (
        state.manager.list(&s.user_id).await,
        state.manager.events(&s.user_id, None, 10).await,
    ) else {
        return super::unavailable();
    };
    let devices: Vec<DeviceView> = sessions
        .iter()
        .map(|d| {
            let user_agent = d.device.user_agent.clone().unwrap_or_default();
            DeviceView {
                sid: d.sid.to_string(),
                summary: summarize_agent(&user_agent),
                user_agent,
                ip: d.device.ip.clone().unwrap_or_default(),
                created: When::at(d.created_at),
                last_seen: When::at(d.last_seen_at),
                current: d.sid == s.sid,
            }
        })
        .collect();
    let values: Vec<Value> = events
        .iter()
        .map(|e| serde_json::to_value(&e.event).unwrap_or_default())
        .collect();
    // A sign-in records its session's creation too: one line for both.
    let signed_in = |sid: &Value| {
        values
            .iter()
            .any(|v| v["type"] == "login_succeeded" && v["sid"] == *sid)
    };
    let events = events
        .iter()
        .zip(&values)
        .filter(|(_, v)| !(v["type"] == "session_created" && signed_in(&v["sid"])))
        .map(|(e, v)| EventView {
            label: describe(v),
            at: When::at(e.event.at),
        })
        .collect();
    let page = AccountPage {
        login: account.login.to_string(),
        csrf: csrf.to_owned(),
        others: devices.iter().filter(|d| !d.current).count(),
        devices,
        events,
        alert: outcome.alert,
        success: outcome.success,
        errors: outcome.errors,
        password_hint: PASSWORD_HINT,
    };
    state.views.page(status, "account.html", &page)
}

pub async fn show(
    State(state): State<AppState>,
    session: Option<BrowserSession>,
    csrf: Option<CsrfToken>,
    RawQuery(query): RawQuery,
) -> Response {
    let (Some(BrowserSession(s)), Some(CsrfToken(csrf))) = (session, csrf) else {
        return Redirect::to("/auth/login").into_response();
    };
    let outcome = Outcome {
        success: success_of(query.as_deref()),
        ..Outcome::default()
    };
    match super::account(&state, &s).await {
        Ok(Some(account)) => page_for(&state, &s, &account, &csrf, StatusCode::OK, outcome).await,
        Ok(None) => Redirect::to("/auth/login").into_response(),
        Err(_) => super::unavailable(),
    }
}

/// Signs out `sid` if it is one of the signed-in user's own sessions; whether it was. Anything
/// else (another user's session, a malformed or unknown id) is `false`, which callers answer
/// as "not found".
///
/// # Errors
/// Store errors.
pub(super) async fn revoke_own(
    state: &AppState,
    s: &Session,
    sid: &str,
) -> Result<bool, tessera::Error> {
    let Ok(target) = sid.parse::<SessionId>() else {
        return Ok(false);
    };
    match state.manager.get(&target).await? {
        Some(t) if t.user_id == s.user_id => {
            state.manager.revoke(&t.sid, RevokeReason::Logout).await?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

pub async fn revoke_one(
    State(state): State<AppState>,
    BrowserSession(s): BrowserSession,
    Path(sid): Path<String>,
) -> Response {
    if super::account_of(&state, &s).await.is_none() {
        return Redirect::to("/auth/login").into_response();
    }
    match revoke_own(&state, &s, &sid).await {
        Ok(true) => Redirect::to("/auth/account?done=device").into_response(),
        Ok(false) => ApiError::NotFound.into_response(),
        Err(_) => super::unavailable(),
    }
}

pub async fn revoke_others(
    State(state): State<AppState>,
    BrowserSession(s): BrowserSession,
) -> Response {
    if super::account_of(&state, &s).await.is_none() {
        return Redirect::to("/auth/login").into_response();
    }
    match state
        .manager
        .revoke_user(&s.user_id, Some(&s.sid), RevokeReason::LogoutAll)
        .await
    {
        Ok(_) => Redirect::to("/auth/account?done=others").into_response(),
        Err(_) => super::unavailable(),
    }
}

/// The two passwords of a change, from a form (`current`, `new`) or a JSON body of exactly
/// those fields.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Passwords {
    current: String,
    new: String,
}

fn passwords(body: &[u8], json: bool) -> Result<(String, String), ApiError> {
    let p: Passwords = if json {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::BadRequest(format!("malformed body: {e}")))?
    } else {
        let mut fields: HashMap<String, String> =
            form_urlencoded::parse(body).into_owned().collect();
        match (fields.remove("current"), fields.remove("new")) {
            (Some(current), Some(new)) => Passwords { current, new },
            _ => {
                let why = "the form needs the fields current and new";
                return Err(ApiError::BadRequest(why.into()));
            }
        }
    };
    Ok((p.current, p.new))
}

/// The problem document for a JSON client whose change was refused.
fn problem(refused: &Refused) -> Response {
    let (status, slug, title) = match refused {
        Refused::Weak(_) => (
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "The request is not valid",
        ),
        Refused::Locked(_) => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate-limited",
            "Too many requests",
        ),
        Refused::Wrong => (
            StatusCode::FORBIDDEN,
            "invalid-credentials",
            "Wrong password",
        ),
        Refused::Unavailable => return super::unavailable(),
    };
    refused.lock_out(
        Problem::new(status, slug, title)
            .detail(refused.message().1.text)
            .into_response(),
    )
}

/// Changes the password (see [`password_change`]): from the account page's form, answered
/// with the page, or from a JSON body (`{"current", "new"}`), answered with 204 or a problem.
pub async fn change_password(
    State(state): State<AppState>,
    client: Option<Extension<Client>>,
    headers: HeaderMap,
    BrowserSession(s): BrowserSession,
    CsrfToken(csrf): CsrfToken,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let (body, json) = match credentials::read_body(&headers, body) {
        Ok(read) => read,
        Err(refused) => return refused.into_response(),
    };
    let submitted = match passwords(&body, json) {
        Ok(submitted) => submitted,
        Err(e) => return e.into_response(),
    };
    let account = match super::account(&state, &s).await {
        Ok(Some(account)) => account,
        Ok(None) if json => return super::unauthenticated(),
        Ok(None) => return Redirect::to("/auth/login").into_response(),
        Err(_) => return super::unavailable(),
    };
    let changed = password_change::change(&state, &s, account.clone(), &headers, client, submitted);
    match changed.await {
        Ok(cookies) if json => with_cookies(StatusCode::NO_CONTENT.into_response(), cookies),
        Ok(cookies) => {
            let done = Redirect::to("/auth/account?done=password").into_response();
            with_cookies(done, cookies)
        }
        Err(refused) if json => problem(&refused),
        Err(Refused::Unavailable) => super::unavailable(),
        Err(refused) => {
            let mut outcome = Outcome::default();
            match refused.message() {
                (Some(field), message) => {
                    outcome.errors.insert(field, message);
                }
                (None, message) => outcome.alert = Some(message),
            }
            let status = match refused {
                Refused::Wrong => StatusCode::FORBIDDEN,
                _ => StatusCode::BAD_REQUEST,
            };
            let page = page_for(&state, &s, &account, &csrf, status, outcome).await;
            refused.lock_out(page)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::summarize_agent;

    #[test]
    fn user_agents_are_summarized() {
        let cases = [
            (
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
                "Chrome 131 on Linux",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
                "Firefox 133 on Windows",
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1",
                "Safari on iOS",
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/120.0 Safari/537.36 Edg/120.0.1",
                "Edge 120 on Windows",
            ),
            ("curl/8.5.0", "Unknown device"),
            ("", "Unknown device"),
        ];
        for (ua, want) in cases {
            assert_eq!(summarize_agent(ua), want, "{ua}");
        }
    }
}
