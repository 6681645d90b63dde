//! Between Redis replies and core types.

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

/// A session from its id, its record (see `encode` in the Lua prelude: varints, the current
/// token hash's 32 bytes, then each of `TEXTS` after its length) and its user agent (`''` for
/// none).
pub(crate) fn session(sid: SessionId, record: &[u8], agent: &str) -> Result<Session, StoreError> {
    let mut r = Record(record);
    let mut numbers = [0u64; 12];
    for n in &mut numbers {
        *n = r.varint()?;
    }
    let [
        format,
        created,
        seen,
        idle,
        absolute,
        rotated,
        revoked,
        generation,
        version,
        refreshes,
        _rate,
        _bucket,
    ] = numbers;
    if format != 1 {
        return Err(corrupt("session record"));
    }
    let created = i64::try_from(created).map_err(|_| corrupt("session record"))?;
    // A time kept as its zigzagged distance from `created`.
    let at = |z: u64| -> Result<Timestamp, StoreError> {
        let from = i64::try_from(z >> 1).map_err(|_| corrupt("session record"))?;
        let from = if z & 1 == 0 { from } else { -from - 1 };
        created
            .checked_add(from)
            .map(Timestamp::from_millis)
            .ok_or_else(|| corrupt("session record"))
    };
    let current = TokenHash::from_bytes(
        r.take(32)?
            .try_into()
            .map_err(|_| corrupt("session record"))?,
    );
    let previous = r.hash()?;
    let user_id = r.text()?.to_owned();
    let claims = json(r.text()?)?;
    let data = match r.text()? {
        "" => serde_json::Value::Null,
        d => json(d)?,
    };
    let some = |t: &str| (!t.is_empty()).then(|| t.to_owned());
    let (ip, label) = (some(r.text()?), some(r.text()?));
    r.bytes()?; // the digest under which `agent` is remembered
    let refreshed_from = match r.text()? {
        "=" => ip.clone(),
        from => some(from),
    };
    let revoke_reason = match r.text()? {
        "" => None,
        why => Some(json(&format!("\"{why}\""))?),
    };
    let cookie = r.hash()?;
    Ok(Session {
        sid,
        user_id,
        claims,
        data,
        device: tessera::Device {
            user_agent: some(agent),
            ip,
            label,
        },
        created_at: Timestamp::from_millis(created),
        last_seen_at: at(seen)?,
        idle_expires_at: at(idle)?,
        absolute_expires_at: at(absolute)?,
        refresh: RefreshState {
            generation,
            current,
            previous,
            rotated_at: at(rotated)?,
        },
        cookie,
        version,
        refreshes,
        refreshed_from,
        revoked_at: match revoked {
            0 => None,
            z => Some(at(z - 1)?),
        },
        revoke_reason,
    })
}

/// A session record being read, from the front.
struct Record<'a>(&'a [u8]);

impl<'a> Record<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        if self.0.len() < n {
            return Err(corrupt("session record"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    /// A varint: 7 bits a byte, least significant first, the high bit set on all but the last.
    fn varint(&mut self) -> Result<u64, StoreError> {
        let mut n = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.take(1)?[0];
            n |= u64::from(byte & 0x7f)
                .checked_shl(shift)
                .filter(|v| v >> shift == u64::from(byte & 0x7f))
                .ok_or_else(|| corrupt("session record"))?;
            if byte < 0x80 {
                return Ok(n);
            }
        }
        Err(corrupt("session record"))
    }

    /// A text's bytes, after their length.
    fn bytes(&mut self) -> Result<&'a [u8], StoreError> {
        let len = self.varint()?;
        self.take(usize::try_from(len).map_err(|_| corrupt("session record"))?)
    }

    fn text(&mut self) -> Result<&'a str, StoreError> {
        std::str::from_utf8(self.bytes()?).map_err(|_| corrupt("session record"))
    }

    /// A text holding a token hash's 32 bytes, or nothing.
    fn hash(&mut self) -> Result<Option<TokenHash>, StoreError> {
        match self.bytes()? {
            [] => Ok(None),
            bytes => Ok(Some(TokenHash::from_bytes(
                bytes.try_into().map_err(|_| corrupt("session record"))?,
            ))),
        }
    }
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
