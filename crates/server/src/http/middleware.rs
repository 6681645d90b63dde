//! Cross-cutting request handling: request ids, header-size and time limits, access logs and
//! request metrics.

use std::time::Instant;

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use std::sync::atomic::Ordering;

use super::{ApiError, limits};
use crate::config::LimitBy;
use crate::state::AppState;
use tessera_axum::{Client, resolve_client};

/// Largest accepted total size of request headers.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
const REQUEST_ID: &str = "x-request-id";
/// Two years, subdomains included: once a browser has seen HTTPS here it never tries HTTP.
const HSTS: &str = "max-age=63072000; includeSubDomains";

/// Wraps every request: assigns a request id (kept from the client if sane), enforces the
/// header-size and time limits, logs one line and counts it.
#[allow(
    clippy::disallowed_methods,
    reason = "measures latency; no rule depends on it"
)]
pub async fn observe(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let span = tracing::info_span!("request", request_id = %id, %method, %route);
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let tls = state.config.tls.is_some();
    let client =
        peer.map(|peer| resolve_client(peer, tls, req.headers(), &state.config.trusted_proxies));
    let https = client.as_ref().map_or(tls, |c| c.https);
    if let Some(c) = &client {
        warn_plain_http(&state, c);
    }
    let client_ip = client.as_ref().map(|c| c.ip.to_string());
    let handled = async {
        if header_bytes(&req) > MAX_HEADER_BYTES {
            return ApiError::HeadersTooLarge.into_response();
        }
        if let (Some(class), Some(ip)) = (
            limits::class_of(&method, &route),
            client.as_ref().map(|c| c.ip.to_string()),
        ) && let Err(e) = limits::enforce(
            &state,
            class,
            LimitBy::Client,
            &ip,
            limits::Subject::default(),
        )
        .await
        {
            return e.into_response();
        }
        if let Some(c) = client {
            req.extensions_mut().insert(c);
        }
        match tokio::time::timeout(state.config.request_timeout, next.run(req)).await {
            Ok(response) => response,
            Err(_) => ApiError::Timeout.into_response(),
        }
    }
    .instrument(span.clone());
    // Every audit event recorded while serving this request carries the resolved client.
    let mut response = CLIENT_IP.scope(client_ip, handled).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    span.in_scope(|| tracing::info!(status, micros = elapsed.as_micros() as u64, "request"));
    state.metrics.request(&route, method.as_str(), status);
    if method == Method::POST && status < 500 {
        match route.as_str() {
            "/v1/sessions/verify" => state.metrics.verify.observe(elapsed),
            "/v1/sessions/refresh" => state.metrics.refresh.observe(elapsed),
            _ => {}
        }
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    if https {
        response.headers_mut().insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
    }
    response
}

tokio::task_local! {
    /// The client address of the request being served (resolved through trusted proxies).
    static CLIENT_IP: Option<String>;
}

/// The client address of the request this task is serving, if any: what audit events carry.
pub fn current_client_ip() -> Option<String> {
    CLIENT_IP.try_with(Clone::clone).ok().flatten()
}

/// Warns once when browsers would be sent `Secure` cookies over plain HTTP: they would drop
/// them. Loopback (development) is exempt.
fn warn_plain_http(state: &AppState, c: &Client) {
    if state.config.cookie_secure
        && !c.https
        && !c.proxied
        && !c.ip.is_loopback()
        && !state.warned_plain_http.swap(true, Ordering::Relaxed)
    {
        tracing::warn!(
            peer = %c.ip,
            "cookies are Secure but requests arrive over plain HTTP from a peer that is not a trusted proxy: \
             serve TLS, or list your TLS-terminating proxy in trusted_proxies"
        );
    }
}

fn request_id(req: &Request) -> String {
    let sane = |v: &str| {
        !v.is_empty()
            && v.len() <= 64
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| sane(v))
        .map(str::to_owned)
        .or_else(|| tessera::random_id().ok())
        .unwrap_or_default()
}

fn header_bytes(req: &Request) -> usize {
    req.headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum()
}
