//! Between Redis replies and core types.

use std::collections::HashMap;

use redis::{ErrorKind, RedisError};
use serde::de::DeserializeOwned;
use tessera::store::{StoredApiKey, User};
use tessera::{
    AccountId, ApiScope, LoginName, PasswordHash, RefreshState, Session, SessionId, StoreError,
    StoreErrorKind, Timestamp, TokenHash,
};

/// Connection trouble, a Cluster moving slots or promoting a replica, and a Redis out of
/// memory (`OOM`: it refuses writes) are `Unavailable` (retry later); anything else is a bug
/// or bad data.
pub(crate) fn redis_error(e: RedisError) -> StoreError {
    let passing = matches!(
        e.kind(),
        ErrorKind::MasterDown | ErrorKind::ReadOnly | ErrorKind::BusyLoadingError
    ) || e.code() == Some("OOM");
    let kind = if e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_cluster_error()
        || passing
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

/// [`to_json`], as a JSON value to edit before writing.
pub(crate) fn to_value<T: serde::Serialize>(value: &T) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::new(StoreErrorKind::Other, e))
}

/// [`json`], from a JSON value edited after reading.
pub(crate) fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, StoreError> {
    serde_json::from_value(value).map_err(|e| StoreError::new(StoreErrorKind::Corrupt, e))
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
        // Fields at their default may be left out (see create.lua).
        data: fields
            .get("d")
            .map_or(Ok(serde_json::Value::Null), |d| json(d))?,
        device: {
            let mut device: tessera::Device = match text("dv")? {
                "" => tessera::Device::default(),
                d => json(d)?,
            };
            // Kept apart (and written out by the script that read the session), unless the
            // session predates that and has it in `dv`.
            if let Some(agent) = fields.get("ua").filter(|a| !a.is_empty()) {
                device.user_agent = Some(agent.clone());
            }
            device
        },
        created_at: at("c")?,
        last_seen_at: at("ls")?,
        idle_expires_at: at("i")?,
        absolute_expires_at: at("a")?,
        refresh: RefreshState {
            generation: u64::try_from(number("g")?).map_err(|_| corrupt("session"))?,
            current: hash(text("rc")?)?,
            previous: match fields.get("rp").map(String::as_str) {
                None | Some("") => None,
                Some(p) => Some(hash(p)?),
            },
            rotated_at: match fields.get("rt") {
                Some(_) => at("rt")?,
                None => at("c")?,
            },
        },
        cookie: fields.get("ck").map(|c| json(c)).transpose()?,
        version: u64::try_from(number("v")?).map_err(|_| corrupt("session"))?,
        refreshes: match fields.get("rn") {
            Some(n) => n.parse().map_err(|_| corrupt("session"))?,
            None => 0,
        },
        refreshed_from: fields.get("rf").cloned(),
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

/// A token hash as stored: unpadded base64url.
fn hash(text: &str) -> Result<TokenHash, StoreError> {
    TokenHash::from_base64(text).ok_or_else(|| corrupt("session"))
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

/// An account read back.
pub(crate) fn account(
    id: AccountId,
    login: String,
    password: String,
    created: i64,
) -> Result<User, StoreError> {
    Ok(User {
        id,
        login: LoginName::from_stored(login),
        password: PasswordHash::from_stored(password).map_err(|_| corrupt("password hash"))?,
        created_at: Timestamp::from_millis(created),
    })
}

/// An API key from its `scope|hash|created|last_used` field.
pub(crate) fn api_key(name: String, packed: &str) -> Result<StoredApiKey, StoreError> {
    let bad = || corrupt("API key");
    let mut parts = packed.split('|');
    let (Some(scope), Some(hash), Some(created), Some(used)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    Ok(StoredApiKey {
        name,
        scope: scope.parse::<ApiScope>().map_err(|_| bad())?,
        hash: TokenHash::from_base64(hash).ok_or_else(bad)?,
        created_at: Timestamp::from_millis(created.parse().map_err(|_| bad())?),
        last_used_at: match used {
            "" => None,
            at => Some(Timestamp::from_millis(at.parse().map_err(|_| bad())?)),
        },
    })
}
