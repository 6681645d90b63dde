//! Liveness, readiness and metrics.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;
use tessera::Clock;
use tessera::store::KeyStore;

use super::auth::require_metrics;
use crate::state::AppState;

/// Liveness and readiness for anyone; `/metrics` with a `metrics` (or `admin`) key, unless
/// it is served on its own `metrics_listen` address instead.
pub fn router(state: &AppState) -> Router<AppState> {
    let probes = Router::new()
        .route(
            "/healthz",
            get(|| async { Json(json!({ "status": "ok" })) }),
        )
        .route("/readyz", get(ready));
    if state.config.metrics_listen.is_some() {
        return probes;
    }
    probes.merge(
        Router::new()
            .route("/metrics", get(metrics))
            .route_layer(from_fn_with_state(state.clone(), require_metrics)),
    )
}

/// The app of the `metrics_listen` address: `/metrics` alone, without a key (put that
/// address where only the monitoring system reaches it).
pub fn metrics_only(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .fallback(|| async { super::ApiError::NotFound })
        .with_state(state)
}

/// Ready when the store answers: a read of one small setting (never the keyset, which holds
/// the sealed private keys, for every unauthenticated probe).
async fn ready(State(state): State<AppState>) -> Response {
    match state
        .manager
        .store()
        .get_setting(crate::boot::ISSUER_SETTING)
        .await
    {
        Ok(_) => Json(json!({ "status": "ready" })).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: store unreachable");
            let mut response = (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({ "status": "unavailable" })),
            )
                .into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
            response
        }
    }
}

async fn metrics(State(state): State<AppState>) -> Response {
    let lag = state
        .manager
        .revoked_view()
        .synced_at()
        .map(|at| state.manager.clock().now().since(at));
    let failures = state.manager.audit_failures();
    (state.metrics.audit_write_failures).store(failures, std::sync::atomic::Ordering::Relaxed);
    let mut response = state.metrics.render(lag).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
