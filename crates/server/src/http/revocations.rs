//! `/v1/revocations`: the revocation feed, for verifiers that check tokens themselves.

use axum::extract::State;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use tessera::store::SessionStore;
use tessera::store::{FeedEntry, Revoked};

use super::auth::require_verify;
use super::error::ApiError;
use super::extract::ApiQuery;
use crate::state::AppState;

const MAX_PAGE: usize = 1000;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/v1/revocations", get(feed))
        .route_layer(from_fn_with_state(state.clone(), require_verify))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedQuery {
    #[serde(default)]
    after: u64,
    limit: Option<usize>,
}

async fn feed(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<FeedQuery>,
) -> Result<Json<Value>, ApiError> {
    let limit = q.limit.unwrap_or(100);
    if limit == 0 || limit > MAX_PAGE {
        return Err(ApiError::BadRequest(format!(
            "limit must be between 1 and {MAX_PAGE}"
        )));
    }
    // The entry at `after` comes along, so a follower can check it is the one it stopped at:
    // a store that went back (a failover that lost writes) numbers new revocations again.
    let probe = usize::from(q.after > 0);
    let mut entries = state
        .manager
        .store()
        .revocations_after(q.after - probe as u64, limit + probe)
        .await
        .map_err(tessera::Error::from)?;
    let at = match entries.first() {
        Some(e) if probe == 1 && e.cursor == q.after => Some(entries.remove(0).fingerprint()),
        _ => None,
    };
    entries.truncate(limit);
    let next = entries.last().map_or(q.after, |e| e.cursor);
    let next_at = entries
        .last()
        .map(FeedEntry::fingerprint)
        .or_else(|| at.clone());
    // A full page of entries may have more behind it, listed or not.
    let more = entries.len() == limit;
    // API-key revocations are for Tessera's own nodes; the cursor still moves past them.
    let items: Vec<Value> = entries
        .iter()
        .filter_map(|e| {
            let (key, value) = match &e.revoked {
                Revoked::Session(sid) => ("session_id", sid.to_string()),
                Revoked::Token(jti) => ("token_id", jti.clone()),
                Revoked::ApiKey(_) => return None,
            };
            Some(json!({ "cursor": e.cursor, key: value, "until": e.until.as_secs() }))
        })
        .collect();
    Ok(Json(json!({
        "revocations": items,
        "next_cursor": next,
        "more": more,
        "at": at,
        "next_at": next_at,
    })))
}
