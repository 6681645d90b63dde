//! `/v1/api-keys`: named, scoped API keys, for an admin key only. A key is shown once, at
//! creation; the store keeps its hash.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tessera::store::StoredApiKey;
use tessera::{ApiScope, BOOTSTRAP_KEY_NAME};

use super::auth::require_admin;
use super::error::ApiError;
use super::extract::ApiJson;
use super::views::no_store;
use crate::state::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/api-keys", get(list).post(create))
        .route("/v1/api-keys/{name}", delete(revoke))
        .route_layer(from_fn_with_state(state.clone(), require_admin))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    name: String,
    scope: ApiScope,
}

/// A key as listed: never its secret, nor its hash.
pub fn view(key: &StoredApiKey) -> Value {
    json!({
        "name": key.name,
        "scope": key.scope,
        "created_at": key.created_at.as_secs(),
        "last_used_at": key.last_used_at.map(|t| t.as_secs()),
    })
}

async fn create(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateRequest>,
) -> Result<Response, ApiError> {
    let Some((key, record)) = state.manager.create_api_key(&req.name, req.scope).await? else {
        return Err(ApiError::Conflict);
    };
    if let Err(e) = state.api_keys.reload(&state.manager).await {
        tracing::warn!(error = %e, "cannot reload API keys");
    }
    let mut body = view(&record);
    body["key"] = key.expose().into();
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    no_store(&mut response);
    Ok(response)
}

async fn list(State(state): State<AppState>) -> Result<Response, ApiError> {
    let keys: Vec<Value> = state.manager.api_keys().await?.iter().map(view).collect();
    let mut response = Json(json!({ "api_keys": keys })).into_response();
    no_store(&mut response);
    Ok(response)
}

async fn revoke(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, ApiError> {
    let revoked = if name == BOOTSTRAP_KEY_NAME {
        let revoked = crate::api_keys::revoke_bootstrap(&state.manager).await?;
        // This node stops accepting it now, not at its next reload.
        state.api_keys.reload(&state.manager).await?;
        revoked
    } else {
        state.manager.revoke_api_key(&name).await?
    };
    if revoked {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}
