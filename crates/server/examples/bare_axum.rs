//! The baseline for `scripts/bench`: a bare axum endpoint answering a small JSON body, so the
//! server's figures can be read as ratios against the same machine in the same run.
//!
//! Usage: `bare_axum 127.0.0.1:PORT`

use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".into());
    let app = Router::new().route(
        "/",
        post(|Json(body): Json<Value>| async move { Json(json!({ "ok": true, "echo": body })) }),
    );
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await
}
