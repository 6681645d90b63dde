//! `/.well-known/jwks.json`: the public signing keys, for any JOSE library.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::state::AppState;

/// How long verifiers may cache the JWKS. Next keys are published an hour before they sign,
/// so a cache this old still knows every key in use.
const CACHE_CONTROL: &str = "public, max-age=300";

pub fn router() -> Router<AppState> {
    Router::new().route("/.well-known/jwks.json", get(jwks))
}

async fn jwks(State(state): State<AppState>) -> Response {
    let mut response = Json(state.manager.jwks()).into_response();
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    );
    response
}
