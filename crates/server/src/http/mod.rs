//! The HTTP API: one router per resource, merged here with the cross-cutting layers.

mod api_keys;
mod auth;
mod cors;
mod error;
mod extract;
mod health;
mod limits;
mod middleware;
mod oauth;
mod openapi;
mod revocations;
mod sessions;
mod users;
mod views;
mod wellknown;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, Uri};
use axum::response::IntoResponse;

use cors::cors;
pub(crate) use error::Problem;
pub(crate) use error::limited_headers;
pub use error::{ApiError, PROBLEM_TYPE_PREFIX};
pub use health::metrics_only;
pub use middleware::RequestIds;
pub(crate) use middleware::current_client_ip;
pub use openapi::DOCUMENT as OPENAPI;

use crate::state::AppState;

/// The whole application, ready to serve or to call with `oneshot` in tests.
pub fn app(state: AppState) -> Router {
    let body_limit = state.config.max_body_bytes;
    Router::new()
        .merge(sessions::router(&state))
        .merge(users::router(&state))
        .merge(revocations::router(&state))
        .merge(oauth::router(&state))
        .merge(wellknown::router())
        .merge(health::router(&state))
        .merge(api_keys::router(&state))
        .merge(openapi::router())
        .merge(crate::pages::router(&state))
        .fallback(
            |State(s): State<AppState>, uri: Uri, headers: HeaderMap| async move {
                let problem = ApiError::NotFound.into_response();
                crate::pages::unrouted(&s, &uri, &headers, problem).await
            },
        )
        .method_not_allowed_fallback(
            |State(s): State<AppState>, uri: Uri, headers: HeaderMap| async move {
                let problem = ApiError::MethodNotAllowed.into_response();
                crate::pages::unrouted(&s, &uri, &headers, problem).await
            },
        )
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), cors))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::observe,
        ))
        .with_state(state)
}
