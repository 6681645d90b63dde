//! JSON for single-page apps on the cookie session: who am I, a CSRF token, and a short-lived
//! access token to call other services with.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tessera::{Clock, SystemClock};
use tessera_axum::{BrowserSession, CsrfToken};

use crate::state::AppState;

pub async fn me(
    BrowserSession(s): BrowserSession,
    CsrfToken(csrf): CsrfToken,
) -> Json<serde_json::Value> {
    Json(json!({
        "user_id": s.user_id,
        "session_id": s.sid.to_string(),
        "expires_at": s.expires_at().as_secs(),
        "csrf_token": csrf,
    }))
}

pub async fn csrf(_: BrowserSession, CsrfToken(csrf): CsrfToken) -> Json<serde_json::Value> {
    Json(json!({ "csrf_token": csrf }))
}

/// A fresh access token for the signed-in session (POST: it needs the CSRF token).
pub async fn refresh(State(state): State<AppState>, BrowserSession(s): BrowserSession) -> Response {
    match state.manager.access_token_for(&s) {
        Ok(token) => Json(json!({
            "access_token": token.expose(),
            "token_type": "Bearer",
            "expires_in": (token.expires_at.as_secs() - SystemClock.now().as_secs()).max(0),
        }))
        .into_response(),
        Err(_) => StatusCode::UNAUTHORIZED.into_response(),
    }
}
