//! Cross-cutting request handling: request ids, header-size and time limits, access logs and
//! request metrics.

use std::time::Instant;

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tracing::Instrument;

use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

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
    let id = request_id(&state, &req);
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let route_str = route.as_ref().map_or("unmatched", MatchedPath::as_str);
    let span = tracing::info_span!("request", request_id = %id, %method, route = %route_str);
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
    let client_ip = client.as_ref().map(|c| c.ip);
    let handled = async {
        if header_bytes(&req) > MAX_HEADER_BYTES {
            return ApiError::HeadersTooLarge.into_response();
        }
        if let (Some(class), Some(c)) = (limits::class_of(&method, route_str), &client)
            && let Err(e) = limits::enforce(
                &state,
                class,
                LimitBy::Client,
                c.rate_key(),
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
    state.metrics.request(route_str, method.as_str(), status);
    if method == Method::POST && status < 500 {
        match route_str {
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
    static CLIENT_IP: Option<IpAddr>;
}

/// The client address of the request this task is serving, if any: what audit events carry.
pub fn current_client_ip() -> Option<String> {
    CLIENT_IP
        .try_with(|ip| ip.map(|ip| ip.to_string()))
        .ok()
        .flatten()
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

/// Request ids for requests that bring none: this node's random 64-bit prefix and a counter,
/// so ids are unique without a call to the OS random source per request. (They correlate
/// logs; nothing relies on them being unpredictable, and clients may choose their own.)
#[derive(Debug)]
pub struct RequestIds {
    prefix: String,
    next: AtomicU64,
}

impl RequestIds {
    /// A generator with a fresh random prefix.
    ///
    /// # Errors
    /// [`tessera::Error::Random`] if the OS random source fails.
    pub fn new() -> Result<Self, tessera::Error> {
        let mut prefix = tessera::random_id()?;
        prefix.truncate(11); // 66 random bits
        Ok(Self {
            prefix,
            next: AtomicU64::new(0),
        })
    }

    /// The next id: 22 base64url characters, like the random ids they replace.
    pub fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let mut id = String::with_capacity(22);
        id.push_str(&self.prefix);
        URL_SAFE_NO_PAD.encode_string(n.to_be_bytes(), &mut id);
        id
    }
}

fn request_id(state: &AppState, req: &Request) -> String {
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
        .map_or_else(|| state.request_ids.next(), str::to_owned)
}

fn header_bytes(req: &Request) -> usize {
    req.headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_distinct_and_look_like_random_ones() {
        let ids = RequestIds::new().unwrap();
        let (a, b) = (ids.next(), ids.next());
        assert_ne!(a, b);
        assert_eq!(a.len(), 22);
        assert_eq!(a[..11], b[..11], "one prefix per node");
        let other = RequestIds::new().unwrap();
        assert_ne!(other.next(), a, "another node's prefix differs");
    }
}
