//! `/v1/sessions`: create, refresh, verify, read, update and revoke sessions.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use tessera::store::SessionUpdate;
use tessera::{Clock, Device, Error, NewSession, RefreshRejection, RevokeReason, Session};

use super::auth::{require_sessions, require_verify};
use super::error::{ApiError, Problem};
use super::extract::{ApiJson, SidPath};
use super::limits::{self, Subject};
use super::views::{SessionView, TokenResponse, etag, no_store};
use crate::config::{LimitBy, LimitClass};
use crate::state::AppState;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/sessions", post(create))
        .route("/v1/sessions/refresh", post(refresh))
        .route("/v1/sessions/{sid}", get(show).patch(update).delete(revoke))
        .route_layer(from_fn_with_state(state.clone(), require_sessions))
        .merge(
            Router::new()
                .route("/v1/sessions/verify", post(verify))
                .route_layer(from_fn_with_state(state.clone(), require_verify)),
        )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateRequest {
    user_id: String,
    #[serde(default)]
    claims: Map<String, Value>,
    #[serde(default)]
    data: Value,
    #[serde(default)]
    device: Device,
}

async fn create(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateRequest>,
) -> Result<Response, ApiError> {
    let subject = Subject {
        user: Some(&req.user_id),
        sid: None,
    };
    limits::enforce(
        &state,
        LimitClass::Login,
        LimitBy::User,
        &req.user_id,
        subject,
    )
    .await?;
    let new = NewSession {
        user_id: req.user_id,
        claims: req.claims,
        data: req.data,
        device: req.device,
    };
    let issued = state.manager.create(new).await?;
    let mut response = TokenResponse::new(&issued, state.manager.clock().now())
        .into_response_with(StatusCode::CREATED);
    if let Ok(location) = HeaderValue::from_str(&format!("/v1/sessions/{}", issued.session.sid)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RefreshRequest {
    refresh_token: String,
}

async fn refresh(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> Result<Response, ApiError> {
    match state.manager.refresh(&req.refresh_token).await {
        Ok(issued) => Ok(TokenResponse::new(&issued, state.manager.clock().now())
            .into_response_with(StatusCode::OK)),
        Err(Error::InvalidRefresh(RefreshRejection::Reused)) => {
            // The core recorded (and the audit hook logged) the theft; count it too.
            crate::metrics::Metrics::inc(&state.metrics.refresh_reuse, 1);
            Err(ApiError::InvalidGrant)
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyRequest {
    access_token: String,
}

async fn verify(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<VerifyRequest>,
) -> Result<Response, ApiError> {
    let claims = state.manager.verify(&req.access_token)?;
    // Counted once verified: a forged token cannot use up a real session's quota.
    let subject = Subject {
        user: Some(&claims.sub),
        sid: Some(claims.sid),
    };
    limits::enforce(
        &state,
        LimitClass::Verify,
        LimitBy::Session,
        claims.sid,
        subject,
    )
    .await?;
    // The claims as signed: the payload is a checked JSON object, so no second encoding.
    let body = format!("{{\"active\":true,\"claims\":{}}}", claims.json());
    let json = HeaderValue::from_static("application/json");
    let mut response = ([(header::CONTENT_TYPE, json)], body).into_response();
    no_store(&mut response);
    Ok(response)
}

async fn show(State(state): State<AppState>, SidPath(sid): SidPath) -> Result<Response, ApiError> {
    let session = state.manager.get(&sid).await?.ok_or(ApiError::NotFound)?;
    if let Some(gone) = revoked(&session) {
        return Ok(gone);
    }
    let tag = etag(session.version);
    let mut response = Json(SessionView::from(session)).into_response();
    response.headers_mut().insert(header::ETAG, tag);
    no_store(&mut response);
    Ok(response)
}

/// `410 Gone` for a revoked session: it can no longer be read or changed (a `DELETE` is what
/// revoked it), but the answer says when and why until the record is purged.
fn revoked(session: &Session) -> Option<Response> {
    let at = session.revoked_at?;
    let mut problem = Problem::new(StatusCode::GONE, "revoked", "The session was revoked")
        .with("revoked_at", at.as_secs());
    if let Some(reason) = session.revoke_reason {
        problem = problem.with(
            "revoke_reason",
            serde_json::to_value(reason).unwrap_or_default(),
        );
    }
    Some(problem.into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateRequest {
    claims: Option<Map<String, Value>>,
    data: Option<Value>,
}

/// Longest version in `If-Match`, in digits: every such number fits a `u64`.
const MAX_VERSION_DIGITS: usize = 19;

/// The version named by a strong `If-Match: "N"` (N a decimal of 1 to 19 digits).
fn if_match(headers: &HeaderMap) -> Result<u64, ApiError> {
    let value = headers
        .get(header::IF_MATCH)
        .ok_or(ApiError::PreconditionRequired)?;
    let text = value
        .to_str()
        .map_err(|_| ApiError::BadRequest("malformed If-Match".into()))?;
    text.trim()
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .filter(|t| {
            (1..=MAX_VERSION_DIGITS).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit())
        })
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| {
            ApiError::BadRequest("If-Match must be the session's ETag, like \"3\"".into())
        })
}

async fn update(
    State(state): State<AppState>,
    SidPath(sid): SidPath,
    headers: HeaderMap,
    ApiJson(req): ApiJson<UpdateRequest>,
) -> Result<Response, ApiError> {
    let expected = if_match(&headers)?;
    let version = state
        .manager
        .update(
            &sid,
            expected,
            SessionUpdate {
                claims: req.claims,
                data: req.data,
                cookie: None,
            },
        )
        .await;
    let version = match version {
        Ok(version) => version,
        // A revoked session is not found by the store's compare-and-set; say it is gone.
        Err(Error::SessionNotFound) => {
            let session = state.manager.get(&sid).await?.ok_or(ApiError::NotFound)?;
            return Ok(revoked(&session).unwrap_or_else(|| ApiError::NotFound.into_response()));
        }
        Err(e) => return Err(e.into()),
    };
    let mut response = Json(json!({ "version": version })).into_response();
    response.headers_mut().insert(header::ETAG, etag(version));
    Ok(response)
}

async fn revoke(
    State(state): State<AppState>,
    SidPath(sid): SidPath,
) -> Result<StatusCode, ApiError> {
    if !state.manager.revoke(&sid, RevokeReason::Admin).await?
        && state.manager.get(&sid).await?.is_none()
    {
        return Err(ApiError::NotFound);
    }
    Ok(StatusCode::NO_CONTENT)
}
