//! Setting a new password from a one-time link (`tessera users reset-link NAME`): recovery
//! without email. The link is checked against the account's current password hash (see
//! [`tessera::ResetLinks`]), so it works once. Setting the password ends every session of the
//! account and signs this browser in. The form carries the pre-session double-submit token,
//! so another site cannot sign a visitor in to an account whose link it holds.

use std::collections::HashMap;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use tessera::store::User;
use tessera::{AuditKind, Clock, RevokeReason};
use tessera_axum::{BrowserSession, Client};

use super::auth::{client_ip, sign_in};
use super::credentials::{Refused, Submitted, login_csrf, login_csrf_ok, read_body};
use super::errors::ErrorPage;
use super::view::{FieldErrors, Message, PASSWORD_HINT};
use crate::state::AppState;

/// The account a live link names; `None` for a link that is malformed, forged, used or over.
async fn account_of(state: &AppState, token: &str) -> Result<Option<User>, tessera::Error> {
    let links = state.manager.reset_links();
    let Some(id) = links.account_of(token) else {
        return Ok(None);
    };
    let Some(user) = state.manager.user(&id).await? else {
        return Ok(None);
    };
    let now = state.manager.clock().now();
    let live = links.check(token, &user.id, user.password.as_str().as_bytes(), now);
    Ok(live.then_some(user))
}

/// What the reset template is given.
#[derive(Debug, Serialize)]
pub struct ResetPage {
    pub login: String,
    pub token: String,
    pub login_token: String,
    pub errors: FieldErrors,
    pub password_hint: &'static str,
}

fn form(
    state: &AppState,
    account: &User,
    token: &str,
    errors: FieldErrors,
    status: StatusCode,
) -> Response {
    let Some((cookie, login_token)) = login_csrf(state) else {
        return super::unavailable();
    };
    let page = ResetPage {
        login: account.login.to_string(),
        token: token.to_owned(),
        login_token,
        errors,
        password_hint: PASSWORD_HINT,
    };
    let mut response = state.views.page(status, "reset.html", &page);
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

fn invalid(state: &AppState) -> Response {
    let page = ErrorPage {
        status: 404,
        title: "This link does not work".into(),
        detail: Some(
            "It was used already, it is too old, or it was copied wrong. Ask for a new one.".into(),
        ),
        retry_after: None,
        next_href: "/auth/login",
        next_label: "Sign in",
    };
    // No live link has this token: a used or ended one is gone.
    state.views.page(StatusCode::NOT_FOUND, "error.html", &page)
}

/// `GET /auth/reset?token=…`: the form, if the link is live.
pub async fn page_for(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let token = query
        .as_deref()
        .and_then(|q| form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "token"))
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    match account_of(&state, &token).await {
        Ok(Some(account)) => form(&state, &account, &token, FieldErrors::new(), StatusCode::OK),
        Ok(None) => invalid(&state),
        Err(_) => super::unavailable(),
    }
}

/// `POST /auth/reset`: sets the password, ends every session, signs this browser in.
pub async fn reset(
    State(state): State<AppState>,
    client: Option<Extension<Client>>,
    previous: Option<BrowserSession>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match read_body(&headers, body) {
        Ok((body, false)) => body,
        Ok((_, true)) => return Refused::MediaType.into_response(),
        Err(refused) => return refused.into_response(),
    };
    let mut fields: HashMap<String, String> = form_urlencoded::parse(&body).into_owned().collect();
    let field = |f: &mut HashMap<String, String>, name: &str| f.remove(name).unwrap_or_default();
    let (token, password, confirm) = (
        field(&mut fields, "token"),
        field(&mut fields, "password"),
        field(&mut fields, "confirm"),
    );
    if !login_csrf_ok(&state, &headers, &field(&mut fields, "_login")) {
        return super::forbidden();
    }
    let account = match account_of(&state, &token).await {
        Ok(Some(account)) => account,
        Ok(None) => return invalid(&state),
        Err(_) => return super::unavailable(),
    };
    let bad = |field, message| {
        let errors = FieldErrors::from([(field, message)]);
        form(&state, &account, &token, errors, StatusCode::BAD_REQUEST)
    };
    let min = state.config.password_min_strength;
    if let Err(weak) = crate::strength::check(&password, account.login.as_str(), min) {
        return bad("password", Message::new(weak.code(), weak.to_string()));
    }
    if password != confirm {
        let differ = Message::new("passwords-differ", "The two passwords differ.");
        return bad("confirm", differ);
    }
    let Ok(Ok(hash)) = state.passwords.hash(password).await else {
        return super::unavailable();
    };
    let m = &state.manager;
    let done = async {
        m.set_password(&account.id, &hash).await?;
        m.revoke_user(account.id.as_str(), None, RevokeReason::PasswordChanged)
            .await?;
        m.record(Some(account.id.as_str()), None, AuditKind::PasswordChanged)
            .await
    };
    if done.await.is_err() {
        return super::unavailable();
    }
    let changed = User {
        password: hash,
        ..account
    };
    let submitted = Submitted {
        user: changed.login.to_string(),
        password: String::new(),
        confirm: None,
        login_token: None,
        return_to: None,
        remember: false,
        json: false,
    };
    sign_in(
        &state,
        &submitted,
        &changed,
        &headers,
        &client_ip(client.as_ref()),
        previous,
    )
    .await
}
