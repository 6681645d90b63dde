//! API-key authentication for backend routes: `Authorization: Bearer tsk_…`.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tessera::ApiKey;
use tessera_axum::bearer_token;

use super::error::{ApiError, OAuthError};
use crate::state::AppState;

/// Whether the request carries the admin API key (compared as hashes, in constant time).
fn authorized(headers: &HeaderMap, state: &AppState) -> bool {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return false; // none, or ambiguous duplicates
    };
    let Some(token) = value.to_str().ok().and_then(bearer_token) else {
        return false;
    };
    ApiKey::parse(token).is_ok_and(|key| key.hash().ct_eq(&state.admin_key))
}

/// Backend routes: a problem document on failure.
pub async fn require_api_key(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !authorized(req.headers(), &state) {
        tracing::info!("API key missing or wrong");
        return ApiError::Unauthorized.into_response();
    }
    next.run(req).await
}

/// OAuth routes (RFC 7009, RFC 7662): an RFC 6749 `invalid_client` body on failure.
pub async fn require_client(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !authorized(req.headers(), &state) {
        tracing::info!("OAuth client authentication failed");
        return OAuthError::InvalidClient.into_response();
    }
    next.run(req).await
}
