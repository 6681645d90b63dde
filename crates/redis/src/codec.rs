//! Between Redis replies and core types.

use std::collections::HashMap;

use redis::RedisError;
use serde::de::DeserializeOwned;
use tessera::{RefreshState, Session, SessionId, StoreError, StoreErrorKind, Timestamp};

/// Connection trouble is `Unavailable` (retry later); anything else is a bug or bad data.
pub(crate) fn redis_error(e: RedisError) -> StoreError {
    let kind = if e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
    {
        StoreErrorKind::Unavailable
    } else {
        StoreErrorKind::Other
    };
    StoreError::new(kind, e)
}

pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::new(
        StoreErrorKind::Corrupt,
        format!("Redis holds a malformed {what}"),
    )
}

pub(crate) fn json<T: DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::new(StoreErrorKind::Corrupt, e))
}

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::new(StoreErrorKind::Other, e))
}

/// A session from its id and the fields of its hash.
pub(crate) fn session(
    sid: SessionId,
    fields: &HashMap<String, String>,
) -> Result<Session, StoreError> {
    let text = |name: &str| {
        fields
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| corrupt("session"))
    };
    let number = |name: &str| -> Result<i64, StoreError> {
        text(name)?.parse().map_err(|_| corrupt("session"))
    };
    let at = |name: &str| number(name).map(Timestamp::from_millis);
    Ok(Session {
        sid,
        user_id: text("u")?.to_owned(),
        claims: json(text("cl")?)?,
        data: json(text("d")?)?,
        device: match text("dv")? {
            "" => tessera::Device::default(),
            d => json(d)?,
        },
        created_at: at("c")?,
        last_seen_at: at("ls")?,
        idle_expires_at: at("i")?,
        absolute_expires_at: at("a")?,
        refresh: RefreshState {
            generation: u64::try_from(number("g")?).map_err(|_| corrupt("session"))?,
            current: json(&format!("\"{}\"", text("rc")?))?,
            previous: match text("rp")? {
                "" => None,
                p => Some(json(&format!("\"{p}\""))?),
            },
            rotated_at: at("rt")?,
        },
        cookie: fields.get("ck").map(|c| json(c)).transpose()?,
        version: u64::try_from(number("v")?).map_err(|_| corrupt("session"))?,
        revoked_at: fields
            .get("ra")
            .map(|v| v.parse().map(Timestamp::from_millis))
            .transpose()
            .map_err(|_| corrupt("session"))?,
        revoke_reason: fields
            .get("rr")
            .map(|r| json(&format!("\"{r}\"")))
            .transpose()?,
    })
}

/// A flat `[field, value, field, value…]` reply as a map.
pub(crate) fn pairs(flat: Vec<String>) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let mut it = flat.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.insert(k, v);
    }
    out
}
