//! The peer `scripts/bench` measures verification against: `/me` as teams write it by hand in
//! axum, with HS256 access tokens and the session looked up in Redis on every request (so that
//! a logout takes effect at once, as it does in Tessera). It checks what such services check:
//! the signature (in constant time), the expiry, and that the session still exists.
//!
//! Usage: `peer_axum 127.0.0.1:PORT redis://127.0.0.1:6379/13`. It stores one session, prints
//! an access token for it on its first line of output, then serves `/me` (any method) with
//! `Authorization: Bearer TOKEN`.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::{Json, Router};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use ring::hmac;
use serde::Deserialize;
use serde_json::json;

#[derive(Clone)]
struct Peer {
    key: hmac::Key,
    redis: MultiplexedConnection,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    sid: String,
    exp: u64,
    role: String,
}

#[allow(
    clippy::disallowed_methods,
    reason = "the peer stands for a service written without Tessera, reading the system clock"
)]
fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The claims of `token` if its HS256 signature is good and it has not expired.
fn verified(key: &hmac::Key, token: &str) -> Option<Claims> {
    let (signed, signature) = token.rsplit_once('.')?;
    let (_, payload) = signed.split_once('.')?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    hmac::verify(key, signed.as_bytes(), &signature).ok()?;
    let claims: Claims = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    (claims.exp > now()).then_some(claims)
}

async fn me(State(mut peer): State<Peer>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(claims) = token.and_then(|t| verified(&peer.key, t)) else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let session: Result<Option<String>, _> =
        peer.redis.get(format!("session:{}", claims.sid)).await;
    match session {
        Ok(Some(user)) if user == claims.sub => {
            Json(json!({ "sub": claims.sub, "sid": claims.sid, "role": claims.role }))
                .into_response()
        }
        Ok(_) => StatusCode::UNAUTHORIZED.into_response(),
        Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8091".into());
    let url = args
        .next()
        .unwrap_or_else(|| "redis://127.0.0.1:6379/13".into());
    let mut redis = redis::Client::open(url)?
        .get_multiplexed_async_connection()
        .await?;
    let random = ring::rand::SystemRandom::new();
    let key = hmac::Key::generate(hmac::HMAC_SHA256, &random)
        .map_err(|_| anyhow::anyhow!("no random source"))?;
    let mut id = [0u8; 16];
    ring::rand::SecureRandom::fill(&random, &mut id)
        .map_err(|_| anyhow::anyhow!("no random source"))?;
    let sid = URL_SAFE_NO_PAD.encode(id);
    let () = redis.set(format!("session:{sid}"), "bench").await?;
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = json!({ "sub": "bench", "sid": sid, "exp": now() + 3600, "role": "admin" });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{payload}");
    let signature = URL_SAFE_NO_PAD.encode(hmac::sign(&key, signed.as_bytes()));
    println!("{signed}.{signature}");
    let app = Router::new()
        .route("/me", any(me))
        .with_state(Peer { key, redis });
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
