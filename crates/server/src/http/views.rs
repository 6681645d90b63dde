//! Response bodies.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use tessera::{Device, Issued, RevokeReason, Session, Timestamp};

/// RFC 6749 §5.1 token response, plus the session id.
#[derive(Debug, Serialize)]
pub struct TokenResponse {
    access_token: String,
    token_type: &'static str,
    expires_in: i64,
    refresh_token: String,
    session_id: String,
}

impl TokenResponse {
    /// The response for freshly issued tokens at `now`.
    pub fn new(issued: &Issued, now: Timestamp) -> Self {
        Self {
            access_token: issued.access_token.expose().to_owned(),
            token_type: "Bearer",
            expires_in: (issued.access_token.expires_at.as_secs() - now.as_secs()).max(0),
            refresh_token: issued.refresh_token.expose(),
            session_id: issued.session.sid.to_string(),
        }
    }

    /// As an HTTP response with `status`, never cached.
    pub fn into_response_with(self, status: StatusCode) -> Response {
        let mut response = (status, axum::Json(self)).into_response();
        no_store(&mut response);
        response
    }
}

/// Marks a response as not to be stored by any cache.
pub fn no_store(response: &mut Response) {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
        .headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

/// A session as the API shows it: everything but the refresh-chain hashes. Times are Unix
/// seconds.
#[derive(Debug, Serialize)]
pub struct SessionView {
    session_id: String,
    user_id: String,
    claims: Map<String, Value>,
    data: Value,
    device: Device,
    created_at: i64,
    last_seen_at: i64,
    idle_expires_at: i64,
    absolute_expires_at: i64,
    refreshes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_refreshed_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_refreshed_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoke_reason: Option<RevokeReason>,
    version: u64,
}

impl From<Session> for SessionView {
    fn from(s: Session) -> Self {
        Self {
            session_id: s.sid.to_string(),
            user_id: s.user_id,
            claims: s.claims,
            data: s.data,
            device: s.device,
            created_at: s.created_at.as_secs(),
            last_seen_at: s.last_seen_at.as_secs(),
            idle_expires_at: s.idle_expires_at.as_secs(),
            absolute_expires_at: s.absolute_expires_at.as_secs(),
            refreshes: s.refreshes,
            last_refreshed_at: (s.refreshes > 0).then(|| s.refresh.rotated_at.as_secs()),
            last_refreshed_from: s.refreshed_from,
            revoked_at: s.revoked_at.map(Timestamp::as_secs),
            revoke_reason: s.revoke_reason,
            version: s.version,
        }
    }
}

/// The strong `ETag` of a session version.
pub fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}
