//! JSON for single-page apps on the cookie session: who am I, a CSRF token, a short-lived
//! access token to call other services with, and what the account page does with devices
//! (the password change takes JSON on its form's route, `POST /auth/password`).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tessera::{Clock, RevokeReason, Session};
use tessera_axum::{BrowserSession, CsrfToken};

use super::account::revoke_own;
use crate::http::ApiError;
use crate::state::AppState;

/// The signed-in account's session, or the answer for a session of no account.
async fn signed_in(state: &AppState, s: &Session) -> Result<(), Response> {
    match super::account(state, s).await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(super::unauthenticated()),
        Err(_) => Err(super::unavailable()),
    }
}

fn device(d: &Session, current: &Session) -> Value {
    let agent = d.device.user_agent.as_deref().unwrap_or("");
    json!({
        "session_id": d.sid.to_string(),
        "current": d.sid == current.sid,
        "device": super::account::summarize_agent(agent),
        "user_agent": d.device.user_agent,
        "ip": d.device.ip,
        "label": d.device.label,
        "created_at": d.created_at.as_secs(),
        "last_seen_at": d.last_seen_at.as_secs(),
        "expires_at": d.expires_at().as_secs(),
    })
}

/// `GET /auth/sessions`: the account's devices, newest first, this one marked `current`.
pub async fn sessions(
    State(state): State<AppState>,
    BrowserSession(s): BrowserSession,
) -> Response {
    if let Err(answer) = signed_in(&state, &s).await {
        return answer;
    }
    match state.manager.list(&s.user_id).await {
        Ok(list) => {
            let items: Vec<Value> = list.iter().map(|d| device(d, &s)).collect();
            Json(json!({ "sessions": items })).into_response()
        }
        Err(_) => super::unavailable(),
    }
}

/// `DELETE /auth/sessions/{sid}`: signs one of the account's devices out (204); another
/// account's session is "not found".
pub async fn revoke_one(
    State(state): State<AppState>,
    BrowserSession(s): BrowserSession,
    Path(sid): Path<String>,
) -> Response {
    if let Err(answer) = signed_in(&state, &s).await {
        return answer;
    }
    match revoke_own(&state, &s, &sid).await {
        Ok(true) => StatusCode::NO_CONTENT.into_response(),
        Ok(false) => ApiError::NotFound.into_response(),
        Err(_) => super::unavailable(),
    }
}

/// `DELETE /auth/sessions/others`: signs every other device out; how many.
pub async fn revoke_others(
    State(state): State<AppState>,
    BrowserSession(s): BrowserSession,
) -> Response {
    if let Err(answer) = signed_in(&state, &s).await {
        return answer;
    }
    let m = &state.manager;
    match m
        .revoke_user(&s.user_id, Some(&s.sid), RevokeReason::LogoutAll)
        .await
    {
        Ok(revoked) => Json(json!({ "revoked": revoked.len() })).into_response(),
        Err(_) => super::unavailable(),
    }
}

/// Who is signed in: the account id (what tokens carry in `sub`) and the login name.
pub async fn me(
    State(state): State<AppState>,
    BrowserSession(s): BrowserSession,
    CsrfToken(csrf): CsrfToken,
) -> Response {
    match super::account(&state, &s).await {
        Ok(Some(account)) => Json(json!({
            "user_id": account.id.as_str(),
            "login": account.login.as_str(),
            "session_id": s.sid.to_string(),
            "expires_at": s.expires_at().as_secs(),
            "csrf_token": csrf,
        }))
        .into_response(),
        Ok(None) => super::unauthenticated(),
        Err(_) => super::unavailable(),
    }
}

pub async fn csrf(_: BrowserSession, CsrfToken(csrf): CsrfToken) -> Json<serde_json::Value> {
    Json(json!({ "csrf_token": csrf }))
}

/// A fresh access token for the signed-in session (POST: it needs the CSRF token).
pub async fn refresh(State(state): State<AppState>, BrowserSession(s): BrowserSession) -> Response {
    // Only an account's session mints tokens: its `sub` is an id the server chose.
    if let Err(answer) = signed_in(&state, &s).await {
        return answer;
    }
    match state.manager.access_token_for(&s) {
        Ok(token) => Json(json!({
            "access_token": token.expose(),
            "token_type": "Bearer",
            "expires_in": (token.expires_at.as_secs() - state.manager.clock().now().as_secs()).max(0),
        }))
        .into_response(),
        Err(_) => super::unauthenticated(),
    }
}
