//! Credentialed CORS for the `/auth` routes, granted to the origins of `cors_origins` and to no
//! other: a single-page app on `https://app.example` signs in, refreshes and signs out against
//! `https://auth.example` with the session cookie, and reads the rate-limit headers.
//!
//! Only the browser routes get it. The `/v1` API is for backends holding API keys, which
//! never belong in a browser, so no origin is ever granted it.

use axum::extract::{Request, State};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::Problem;
use crate::state::AppState;

/// What a granted origin may send, and read back.
const METHODS: &str = "GET, POST, DELETE";
const HEADERS: &str = "content-type, x-csrf-token";
const EXPOSED: &str = "retry-after, ratelimit-limit, ratelimit-remaining, ratelimit-reset";
/// How long a browser may cache a preflight answer, in seconds.
const MAX_AGE: &str = "600";

/// On the browser routes, answers preflights and marks the answers to granted origins.
pub async fn cors(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/auth/") {
        return next.run(req).await;
    }
    let granted = req
        .headers()
        .get(ORIGIN)
        .filter(|o| {
            let o = o.to_str().unwrap_or_default();
            state
                .config
                .cors_origins
                .iter()
                .any(|c| c.eq_ignore_ascii_case(o))
        })
        .cloned();
    let preflight = req.method() == Method::OPTIONS
        && req.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    let mut response = match (preflight, &granted) {
        (false, _) => next.run(req).await,
        (true, Some(_)) => preflight_answer(),
        (true, None) => refused(),
    };
    let h = response.headers_mut();
    h.append(VARY, HeaderValue::from_static("Origin"));
    if let Some(origin) = granted {
        h.insert(ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        h.insert(
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
        if !preflight {
            h.insert(
                ACCESS_CONTROL_EXPOSE_HEADERS,
                HeaderValue::from_static(EXPOSED),
            );
        }
    }
    response
}

fn preflight_answer() -> Response {
    let mut response = StatusCode::NO_CONTENT.into_response();
    let h = response.headers_mut();
    h.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(METHODS),
    );
    h.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(HEADERS),
    );
    h.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(MAX_AGE));
    response
}

/// A preflight from an origin not granted: said plainly, for whoever reads the network tab.
fn refused() -> Response {
    Problem::new(
        StatusCode::FORBIDDEN,
        "forbidden",
        "The request was refused",
    )
    .detail("this origin is not in the server's cors_origins")
    .into_response()
}
