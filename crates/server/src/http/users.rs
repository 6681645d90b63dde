//! `/v1/users/{user_id}/sessions`: a user's devices, and signing out everywhere.

use axum::extract::State;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tessera::{RevokeReason, SessionId};

use super::auth::require_sessions;
use super::error::ApiError;
use super::extract::{ApiQuery, UserIdPath};
use super::views::{SessionView, no_store};
use crate::state::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/users/{user_id}/sessions", get(list).delete(revoke_all))
        .route("/v1/users/{user_id}/events", get(events))
        .route_layer(from_fn_with_state(state.clone(), require_sessions))
}

async fn list(
    State(state): State<AppState>,
    UserIdPath(user_id): UserIdPath,
) -> Result<Response, ApiError> {
    let sessions: Vec<SessionView> = state
        .manager
        .list(&user_id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    let mut response = Json(json!({ "sessions": sessions })).into_response();
    no_store(&mut response);
    Ok(response)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    before: Option<u64>,
    limit: Option<usize>,
}

/// The user's security events (the audit trail), newest first; page with `before`.
async fn events(
    State(state): State<AppState>,
    UserIdPath(user_id): UserIdPath,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Response, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::BadRequest(
            "limit must be between 1 and 500".into(),
        ));
    }
    let events = state.manager.events(&user_id, q.before, limit).await?;
    let next = events.last().map(|e| e.id);
    let items: Vec<Value> = events
        .into_iter()
        .map(|e| {
            let mut v = serde_json::to_value(&e.event).unwrap_or_default();
            v["id"] = e.id.into();
            v["at"] = e.event.at.as_secs().into();
            v
        })
        .collect();
    let mut response = Json(json!({ "events": items, "next_before": next })).into_response();
    no_store(&mut response);
    Ok(response)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RevokeAllQuery {
    except: Option<String>,
}

async fn revoke_all(
    State(state): State<AppState>,
    UserIdPath(user_id): UserIdPath,
    ApiQuery(query): ApiQuery<RevokeAllQuery>,
) -> Result<Response, ApiError> {
    let except: Option<SessionId> = query
        .except
        .map(|s| {
            s.parse()
                .map_err(|_| ApiError::BadRequest("except must be a session id".into()))
        })
        .transpose()?;
    let revoked = state
        .manager
        .revoke_user(&user_id, except.as_ref(), RevokeReason::LogoutAll)
        .await?;
    let ids: Vec<String> = revoked.iter().map(ToString::to_string).collect();
    Ok(Json(json!({ "revoked": ids })).into_response())
}
