//! `/.well-known/jwks.json`: the public signing keys, for any JOSE library.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};

use crate::state::AppState;

/// How long verifiers may cache the JWKS. Next keys are published an hour before they sign,
/// so any cache knows every key in use; this bounds how long a withdrawn key (`tessera keys
/// withdraw`) keeps verifying where the cache is honoured: as long as on Tessera's own nodes,
/// which sync their keys every 30 seconds.
const CACHE_CONTROL: &str = "public, max-age=30";

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
