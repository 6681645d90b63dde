//! The part of a session a SQL store keeps as one JSON record: what changes rarely (claims,
//! data, device, cookie, version, revocation). What every refresh and activity changes lives
//! in columns of its own, so a refresh never rewrites this.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::{Device, RevokeReason, Session, StoreError, StoreErrorKind, Timestamp, TokenHash};

/// A session's cold part, read back from its JSON record.
#[derive(Debug, Deserialize)]
pub struct SessionRecord {
    /// Application claims.
    pub claims: Map<String, Value>,
    /// Application data.
    pub data: Value,
    /// Device metadata.
    #[serde(default)]
    pub device: Device,
    /// The browser cookie's hash.
    #[serde(default)]
    pub cookie: Option<TokenHash>,
    /// The compare-and-set version of claims and data.
    pub version: u64,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
    /// Why.
    pub revoke_reason: Option<RevokeReason>,
}

/// [`SessionRecord`], borrowed from a session for writing.
#[derive(Serialize)]
struct RecordRef<'a> {
    claims: &'a Map<String, Value>,
    data: &'a Value,
    device: &'a Device,
    cookie: &'a Option<TokenHash>,
    version: u64,
    revoked_at: Option<Timestamp>,
    revoke_reason: Option<RevokeReason>,
}

impl SessionRecord {
    /// Reads a record.
    ///
    /// # Errors
    /// [`StoreErrorKind::Corrupt`] for anything but a record this module wrote.
    pub fn decode(record: &str) -> Result<Self, StoreError> {
        serde_json::from_str(record).map_err(|e| StoreError::new(StoreErrorKind::Corrupt, e))
    }

    /// The record of `s`.
    ///
    /// # Errors
    /// Only if serialization fails (it does not for these types).
    pub fn encode(s: &Session) -> Result<String, StoreError> {
        serde_json::to_string(&RecordRef {
            claims: &s.claims,
            data: &s.data,
            device: &s.device,
            cookie: &s.cookie,
            version: s.version,
            revoked_at: s.revoked_at,
            revoke_reason: s.revoke_reason,
        })
        .map_err(|e| StoreError::new(StoreErrorKind::Other, e))
    }
}
