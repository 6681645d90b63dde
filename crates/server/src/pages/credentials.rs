//! The sign-in and sign-up forms and their submissions: the form with its login-CSRF pair,
//! parsing a form or JSON body, and refusing one (a problem document to a program, the form
//! again to a person).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tessera::Clock;
use tessera_axum::cookie_values;

use super::passwords::Attempt;
use super::view::{FieldErrors, Message, PASSWORD_HINT};
use crate::http::{ApiError, Problem};
use crate::state::AppState;

pub(super) fn login_cookie_name(state: &AppState) -> &'static str {
    if state.config.cookie_secure {
        "__Host-tessera-login"
    } else {
        "tessera-login"
    }
}

/// A signed double-submit pair for a pre-session form: the cookie, and the field to embed.
pub(super) fn login_csrf(state: &AppState) -> Option<(HeaderValue, String)> {
    let pair = state
        .manager
        .csrf()
        .login_pair(state.manager.clock().now())
        .ok()?;
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

pub(super) fn login_csrf_ok(state: &AppState, headers: &HeaderMap, form_token: &str) -> bool {
    let cookies = cookie_values(headers, login_cookie_name(state));
    let [cookie] = cookies.as_slice() else {
        return false;
    };
    state
        .manager
        .csrf()
        .verify_login(cookie, form_token, state.manager.clock().now())
}

/// What the sign-in and sign-up templates are given.
#[derive(Debug, Serialize)]
pub struct SignInPage {
    /// `login` or `signup`.
    pub mode: &'static str,
    /// The account this browser is signed in to already.
    pub signed_in_as: Option<String>,
    pub alert: Option<Message>,
    pub login_token: String,
    pub session_csrf: Option<String>,
    pub return_to: Option<String>,
    pub values: Values,
    pub errors: FieldErrors,
    pub password_hint: &'static str,
    pub signup_open: bool,
}

/// What a form keeps of what was typed: never a password.
#[derive(Debug, Default, Serialize)]
pub struct Values {
    pub user: String,
    pub remember: bool,
}

/// The parts of a sign-in or sign-up form that vary: a note, an alert or field errors, the
/// values typed, the session's CSRF token and `return_to` (already checked by
/// [`Config::return_target`]) riding along as hidden fields.
///
/// [`Config::return_target`]: crate::config::Config::return_target
#[derive(Debug, Default)]
pub(super) struct Shown {
    pub(super) signed_in_as: Option<String>,
    pub(super) alert: Option<Message>,
    pub(super) errors: FieldErrors,
    pub(super) session_csrf: Option<String>,
    pub(super) return_to: Option<String>,
    pub(super) values: Values,
}

/// The sign-in (`mode` "login") or sign-up ("signup") form, with a fresh login-CSRF cookie.
pub(super) fn credentials_form(
    state: &AppState,
    mode: &'static str,
    status: StatusCode,
    shown: Shown,
) -> Response {
    let Some((cookie, login_token)) = login_csrf(state) else {
        return super::unavailable();
    };
    let page = SignInPage {
        mode,
        signed_in_as: shown.signed_in_as,
        alert: shown.alert,
        login_token,
        session_csrf: shown.session_csrf,
        return_to: shown.return_to,
        values: shown.values,
        errors: shown.errors,
        password_hint: PASSWORD_HINT,
        signup_open: state.config.sign_in.signup_open,
    };
    let mut response = state.views.page(status, "sign_in.html", &page);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

/// A submitted sign-in or sign-up, from a form or a JSON body.
pub(super) struct Submitted {
    pub(super) user: String,
    pub(super) password: String,
    pub(super) confirm: Option<String>,
    pub(super) login_token: Option<String>,
    /// Where to go after signing in: a form's `return_to`, only if [`Config::return_target`]
    /// accepts it.
    ///
    /// [`Config::return_target`]: crate::config::Config::return_target
    pub(super) return_to: Option<String>,
    /// "Keep me signed in": a cookie that outlives the browser, until the session's end.
    pub(super) remember: bool,
    pub(super) json: bool,
}

/// A JSON sign-in or sign-up: exactly these fields (a form's `confirm` is for people typing
/// twice; a program checks its own input).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonCredentials {
    user: String,
    password: String,
    #[serde(default)]
    remember: bool,
}

/// Why a submission is refused before its credentials are looked at.
pub(super) enum Refused {
    /// Malformed or too large (400, 413).
    Api(ApiError),
    /// Neither JSON nor a form (415).
    MediaType,
    /// A form without a valid `_login` token (403): the form again, empty, saying so. The
    /// `return_to` it carried, unchecked.
    Forged(Option<String>),
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
            Self::Forged(_) => super::forbidden(),
        }
    }
}

/// A body of `application/json` (`true`) or `application/x-www-form-urlencoded` (`false`);
/// refused (400, 413 or 415) otherwise.
pub(super) fn read_body(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(Bytes, bool), Refused> {
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
    match body {
        Ok(body) => Ok((body, json)),
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Err(Refused::Api(ApiError::PayloadTooLarge))
        }
        Err(e) => Err(Refused::Api(ApiError::BadRequest(e.body_text()))),
    }
}

/// The submission, from `application/json` or `application/x-www-form-urlencoded`; refused
/// (400, 413 or 415) otherwise.
pub(super) fn parse(
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Submitted, Refused> {
    let (body, json) = read_body(headers, body)?;
    if json {
        let c: JsonCredentials = serde_json::from_slice(&body)
            .map_err(|e| Refused::Api(ApiError::BadRequest(format!("malformed body: {e}"))))?;
        return Ok(Submitted {
            user: c.user,
            password: c.password,
            confirm: None,
            login_token: None,
            return_to: None,
            remember: c.remember,
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
        return_to: fields.remove("return_to"),
        remember: fields.remove("remember").is_some(),
        json,
    })
}

/// A refused submission: to a JSON client a problem document (its `detail` says what to do;
/// `error` keeps the code earlier clients read), to a person the form again with what was typed
/// (never the password) and the message beside `field`, or above the form without one.
pub(super) fn refuse(
    state: &AppState,
    form: &Submitted,
    mode: &'static str,
    status: StatusCode,
    (field, message): (Option<&'static str>, Message),
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
            .detail(message.text)
            .with("error", code)
            .into_response();
    }
    let mut shown = Shown {
        return_to: form.return_to.clone(),
        values: Values {
            user: form.user.clone(),
            remember: form.remember,
        },
        ..Shown::default()
    };
    match field {
        Some(field) => {
            shown.errors.insert(field, message);
        }
        None => shown.alert = Some(message),
    }
    credentials_form(state, mode, status, shown)
}

/// A form posted without its double-submit token (its sign-in form cookie was lost or is over
/// an hour old, or another site sent it): the form again, empty, since nothing typed in it can
/// be trusted, with a word on what happened. Where it was going is kept if
/// [`Config::return_target`] accepts it, as any `return_to` is.
///
/// [`Config::return_target`]: crate::config::Config::return_target
pub(super) fn expired(state: &AppState, mode: &'static str, return_to: Option<String>) -> Response {
    let shown = Shown {
        alert: Some(Message::new(
            "form-expired",
            "This form had expired, so nothing was sent. Please fill it in again.",
        )),
        return_to: return_to.filter(|r| state.config.return_target(r).is_some()),
        ..Shown::default()
    };
    credentials_form(state, mode, StatusCode::FORBIDDEN, shown)
}

/// 429 with `Retry-After` and `RateLimit-*`: locked out of guessing (or of signing up).
pub(super) fn too_many(
    state: &AppState,
    form: &Submitted,
    mode: &'static str,
    lock: &Attempt,
) -> Response {
    let message = Message::new("too-many-attempts", lock.message());
    lock.lock_out(refuse(
        state,
        form,
        mode,
        StatusCode::TOO_MANY_REQUESTS,
        (None, message),
    ))
}

/// Forms need the double-submit token (login CSRF); JSON bodies cannot be sent cross-site
/// without a preflight we never grant, and the session layer refused cross-site requests anyway.
/// The submitted credentials, or the response refusing a malformed or forged submission.
pub(super) fn submitted(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Submitted, Refused> {
    let mut form = parse(headers, body)?;
    if forgery(state, headers, &form) {
        return Err(Refused::Forged(form.return_to));
    }
    form.return_to = form
        .return_to
        .filter(|r| state.config.return_target(r).is_some());
    Ok(form)
}

pub(super) fn forgery(state: &AppState, headers: &HeaderMap, form: &Submitted) -> bool {
    !form.json
        && !form
            .login_token
            .as_deref()
            .is_some_and(|t| login_csrf_ok(state, headers, t))
}
