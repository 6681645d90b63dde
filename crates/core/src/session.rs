//! The server-side session record.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::secret::TokenHash;
use crate::{SessionId, Timestamp};

/// Device metadata recorded at session creation, shown in "your devices" listings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    /// The client's `User-Agent`.
    pub user_agent: Option<String>,
    /// The client's IP address as seen by the server.
    pub ip: Option<String>,
    /// A label the user or application chose ("Work laptop").
    pub label: Option<String>,
}

/// Why a session was revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum RevokeReason {
    /// The user signed out.
    Logout,
    /// The user signed out everywhere (or everywhere else).
    LogoutAll,
    /// The password changed.
    PasswordChanged,
    /// A superseded refresh token was replayed after the grace window: presumed theft.
    RefreshReuse,
    /// An administrator revoked it.
    Admin,
    /// Evicted to keep the user under the live-session cap.
    Evicted,
}

/// The refresh-rotation state of a session: which generation is current, and the hashes that
/// prove a presented secret genuine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshState {
    /// The current generation (starts at 1, +1 per rotation).
    pub generation: u64,
    /// Hash of the current generation's secret.
    pub current: TokenHash,
    /// Hash of the previous generation's secret (`None` before the first rotation).
    pub previous: Option<TokenHash>,
    /// When the current generation was minted.
    pub rotated_at: Timestamp,
}

/// A session as stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// The public id.
    pub sid: SessionId,
    /// The user it belongs to.
    pub user_id: String,
    /// Application claims copied into every access token of the session.
    pub claims: Map<String, Value>,
    /// Application data kept server-side only.
    pub data: Value,
    /// Device metadata.
    pub device: Device,
    /// Created at.
    pub created_at: Timestamp,
    /// Last recorded activity (writes are throttled).
    pub last_seen_at: Timestamp,
    /// Expires when idle until then; slides on activity, never past `absolute_expires_at`.
    pub idle_expires_at: Timestamp,
    /// Hard end of the session; never moves.
    pub absolute_expires_at: Timestamp,
    /// Refresh rotation state.
    pub refresh: RefreshState,
    /// Hash of the browser cookie's secret, for sessions signed in through a browser.
    #[serde(default)]
    pub cookie: Option<TokenHash>,
    /// Version of `claims`, `data` and `cookie`, for compare-and-set updates.
    pub version: u64,
    /// How many times it was refreshed. Routine refreshes are recorded here (with
    /// `refresh.rotated_at` and `refreshed_from`), not as audit events.
    #[serde(default)]
    pub refreshes: u64,
    /// The client address of the last refresh, when known.
    #[serde(default)]
    pub refreshed_from: Option<String>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// Why it was revoked.
    pub revoke_reason: Option<RevokeReason>,
}

impl Session {
    /// A session just started at `at`: first refresh generation (whose secret hashes to
    /// `refresh`), no claims, data, device or cookie yet, never refreshed or revoked.
    pub fn started(
        sid: SessionId,
        user_id: String,
        at: Timestamp,
        idle_expires_at: Timestamp,
        absolute_expires_at: Timestamp,
        refresh: TokenHash,
    ) -> Self {
        Self {
            sid,
            user_id,
            claims: Map::new(),
            data: Value::Null,
            device: Device::default(),
            created_at: at,
            last_seen_at: at,
            idle_expires_at,
            absolute_expires_at,
            refresh: RefreshState {
                generation: 1,
                current: refresh,
                previous: None,
                rotated_at: at,
            },
            cookie: None,
            version: 1,
            refreshes: 0,
            refreshed_from: None,
            revoked_at: None,
            revoke_reason: None,
        }
    }

    /// Whether the session may be used at `now`: not revoked, not idle-expired, not past its end.
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && now < self.idle_expires_at && now < self.absolute_expires_at
    }

    /// When the session stops being usable unless revoked earlier.
    pub fn expires_at(&self) -> Timestamp {
        self.idle_expires_at.min(self.absolute_expires_at)
    }
}
