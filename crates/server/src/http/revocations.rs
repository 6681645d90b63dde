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
    after: Option<String>,
    limit: Option<usize>,
}

/// Where a follower stands in each of the store's feeds. One feed: a number, as it always was.
/// A sharded store's several feeds: their numbers joined by dots (`12.0.3…`), one per feed.
#[derive(Debug, Clone, PartialEq)]
struct Cursor(Vec<u64>);

impl Cursor {
    fn parse(text: Option<&str>, feeds: usize) -> Result<Self, ApiError> {
        let bad = || {
            ApiError::BadRequest(format!(
                "after must be a cursor from next_cursor: {feeds} number(s) joined by dots"
            ))
        };
        let Some(text) = text.filter(|t| *t != "0") else {
            return Ok(Self(vec![0; feeds]));
        };
        let numbers = text
            .split('.')
            .map(|n| n.parse().map_err(|_| bad()))
            .collect::<Result<Vec<u64>, _>>()?;
        if numbers.len() == feeds {
            Ok(Self(numbers))
        } else {
            Err(bad())
        }
    }

    fn to_json(&self) -> Value {
        match self.0.as_slice() {
            [one] => json!(one),
            many => json!(
                many.iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(".")
            ),
        }
    }
}

/// One fingerprint for where a follower stands: the entry's own with one feed (as it always
/// was), else a digest of every feed's (`-` for a feed not yet read). `None` at the start, and
/// when an entry that should be there is not.
fn fingerprint(positions: &[Option<Option<FeedEntry>>]) -> Option<String> {
    if positions.iter().all(Option::is_none) {
        return None; // at the start of every feed
    }
    let parts: Vec<String> = positions
        .iter()
        .map(|p| match p {
            None => Some("-".to_owned()),
            Some(entry) => entry.as_ref().map(FeedEntry::fingerprint),
        })
        .collect::<Option<_>>()?;
    match parts.as_slice() {
        [one] => Some(one.clone()),
        many => {
            let digest = tessera::TokenHash::of(many.join("|").as_bytes()).to_base64();
            Some(digest.get(..16).unwrap_or_default().to_owned())
        }
    }
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
    let store = state.manager.store();
    let after = Cursor::parse(q.after.as_deref(), store.feeds())?;
    let mut next = after.clone();
    // Per feed, the entry the follower stands on: `None` before its first entry, else the
    // entry, or `None` inside when it is gone.
    let (mut at, mut next_at) = (Vec::new(), Vec::new());
    let mut entries = Vec::new();
    for (feed, &cursor) in after.0.iter().enumerate() {
        // The entry at the cursor comes along, so a follower can check it is the one it
        // stopped at: a store that went back (a failover that lost writes) numbers new
        // revocations again.
        let probe = usize::from(cursor > 0);
        let room = limit - entries.len();
        if room + probe == 0 {
            next_at.push(None);
            at.push(None);
            continue;
        }
        let mut page = store
            .revocations_after(feed, cursor - probe as u64, room + probe)
            .await
            .map_err(tessera::Error::from)?;
        let here = match page.first() {
            Some(e) if probe == 1 && e.cursor == cursor => Some(page.remove(0)),
            _ => None,
        };
        page.truncate(room);
        let stands = (cursor > 0).then_some(here);
        next_at.push(match page.last() {
            Some(last) => Some(Some(last.clone())),
            None => stands.clone(),
        });
        at.push(stands);
        if let Some(last) = page.last() {
            next.0[feed] = last.cursor;
        }
        entries.extend(page.into_iter().map(|e| (feed, e)));
    }
    // A full page of entries may have more behind it, listed or not.
    let more = entries.len() == limit;
    let feeds = after.0.len();
    // API-key revocations are for Tessera's own nodes; the cursor still moves past them.
    let items: Vec<Value> = entries
        .iter()
        .filter_map(|(feed, e)| {
            let (key, value) = match &e.revoked {
                Revoked::Session(sid) => ("session_id", sid.to_string()),
                Revoked::Token(jti) => ("token_id", jti.clone()),
                Revoked::ApiKey(_) => return None,
            };
            let mut item = json!({ "cursor": e.cursor, key: value, "until": e.until.as_secs() });
            if feeds > 1 {
                item["feed"] = json!(feed);
            }
            Some(item)
        })
        .collect();
    Ok(Json(json!({
        "revocations": items,
        "next_cursor": next.to_json(),
        "more": more,
        "at": fingerprint(&at),
        "next_at": fingerprint(&next_at),
    })))
}
