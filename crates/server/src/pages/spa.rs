//! JSON for single-page apps on the cookie session: who am I, a CSRF token, and a short-lived
//! access token to call other services with.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tessera::Clock;
use tessera_axum::{BrowserSession, CsrfToken};

use crate::state::AppState;

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
    match super::account(&state, &s).await {
        Ok(Some(_)) => {}
        Ok(None) => return super::unauthenticated(),
        Err(_) => return super::unavailable(),
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
