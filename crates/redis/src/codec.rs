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

/// A session from its id, its record (a MessagePack array of the values of `RECORD` in the Lua
/// prelude, in order, those at the end that are none left out) and its user agent (`''` for
/// none); and the digest under which its shard remembers the agent, when the record names it
/// so (empty otherwise): the session's agent is then none until filled in (see
/// [`crate::agents`]).
pub(crate) fn session<'r>(
    sid: SessionId,
    record: &'r [u8],
    agent: &str,
) -> Result<(Session, &'r [u8]), StoreError> {
    let bad = || corrupt("session record");
    let mut r = Record(record);
    let len = r.array()?;
    // A value left out at the end is none: `false` for a number, `''` for a text.
    let mut values = (0..RECORD_LEN).map(|i| if i < len { r.value() } else { Ok(Value::None) });
    let mut next = || values.next().unwrap_or(Ok(Value::None));
    // `created` in seconds (a later format begins with a negative number), then its
    // milliseconds.
    let seconds = next()?.number().filter(|s| *s >= 0);
    let millis = next()?.number();
    let created = seconds
        .zip(millis)
        .and_then(|(s, ms)| s.checked_mul(1000)?.checked_add(ms))
        .filter(|_| len <= RECORD_LEN)
        .ok_or_else(bad)?;
    let at = |v: Value<'_>| -> Result<Timestamp, StoreError> {
        let from = v.number().ok_or_else(bad)?;
        created
            .checked_add(from)
            .map(Timestamp::from_millis)
            .ok_or_else(bad)
    };
    let count = |v: Value<'_>| {
        v.number()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(bad)
    };
    let (seen, idle, absolute) = (at(next()?)?, at(next()?)?, at(next()?)?);
    // `rotated` is kept from `seen`.
    let rotated = next()?
        .number()
        .and_then(|from| seen.as_millis().checked_add(from))
        .map(Timestamp::from_millis)
        .ok_or_else(bad)?;
    let (generation, version, refreshes) = (count(next()?)?, count(next()?)?, count(next()?)?);
    let _bucket = next()?; // the store's own: the minute the purge index files it under
    let some = |t: &str| (!t.is_empty()).then(|| t.to_owned());
    let hash = |v: Value<'_>| match v.bytes() {
        [] => Ok(None),
        bytes => Ok(Some(TokenHash::from_bytes(
            bytes.try_into().map_err(|_| bad())?,
        ))),
    };
    let current = hash(next()?)?.ok_or_else(bad)?;
    let user_id = next()?.text()?.to_owned();
    let claims = json(next()?.text()?)?;
    let ip = some(next()?.text()?);
    let digest = next()?.bytes();
    let _rate = next()?; // the store's own: the per-session rate's state
    let previous = hash(next()?)?;
    let refreshed_from = match next()?.text()? {
        "=" => ip.clone(),
        from => some(from.strip_prefix('=').unwrap_or(from)),
    };
    let data = match next()?.text()? {
        "" => serde_json::Value::Null,
        d => json(d)?,
    };
    let label = some(next()?.text()?);
    let cookie = hash(next()?)?;
    let revoked_at = match next()? {
        Value::None => None,
        v => Some(at(v)?),
    };
    let revoke_reason = match next()?.text()? {
        "" => None,
        why => Some(json(&format!("\"{why}\""))?),
    };
    let session = Session {
        sid,
        user_id,
        claims,
        data,
        device: tessera::Device {
            user_agent: if digest.is_empty() { some(agent) } else { None },
            ip,
            label,
        },
        created_at: Timestamp::from_millis(created),
        last_seen_at: seen,
        idle_expires_at: idle,
        absolute_expires_at: absolute,
        refresh: RefreshState {
            generation,
            current,
            previous,
            rotated_at: rotated,
        },
        cookie,
        version,
        refreshes,
        refreshed_from,
        revoked_at,
        revoke_reason,
    };
    Ok((session, digest))
}

/// How many values `RECORD` in the Lua prelude names.
const RECORD_LEN: usize = 23;

/// A value of a session record: what the Lua prelude writes (cmsgpack).
enum Value<'a> {
    /// `false`, or left out.
    None,
    Number(i64),
    Bytes(&'a [u8]),
}

impl<'a> Value<'a> {
    fn number(&self) -> Option<i64> {
        match self {
            Value::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// A text; none is empty.
    fn text(&self) -> Result<&'a str, StoreError> {
        std::str::from_utf8(self.bytes()).map_err(|_| corrupt("session record"))
    }

    /// A text's bytes; none is empty.
    fn bytes(&self) -> &'a [u8] {
        match self {
            Value::Bytes(b) => b,
            _ => &[],
        }
    }
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

    /// A big-endian unsigned number of `width` bytes.
    fn unsigned(&mut self, width: usize) -> Result<u64, StoreError> {
        Ok(self
            .take(width)?
            .iter()
            .fold(0, |n, &b| (n << 8) | u64::from(b)))
    }

    /// The length of the array the record is.
    fn array(&mut self) -> Result<usize, StoreError> {
        match self.take(1)?[0] {
            b @ 0x90..=0x9f => Ok(usize::from(b & 0x0f)),
            0xdc => Ok(usize::try_from(self.unsigned(2)?).unwrap_or(usize::MAX)),
            _ => Err(corrupt("session record")),
        }
    }

    /// One value of the kinds cmsgpack writes for integers, strings and `false`.
    fn value(&mut self) -> Result<Value<'a>, StoreError> {
        let bad = || corrupt("session record");
        let signed = |n: u64, width: u32| -> i64 {
            let shift = 64 - width;
            // Sign-extend a `width`-bit two's complement number.
            ((n << shift) as i64) >> shift
        };
        let text = |r: &mut Self, width: usize| -> Result<Value<'a>, StoreError> {
            let len = usize::try_from(r.unsigned(width)?).map_err(|_| bad())?;
            r.take(len).map(Value::Bytes)
        };
        Ok(match self.take(1)?[0] {
            b @ 0x00..=0x7f => Value::Number(i64::from(b)),
            b @ 0xe0..=0xff => Value::Number(i64::from(b as i8)),
            b @ 0xa0..=0xbf => Value::Bytes(self.take(usize::from(b & 0x1f))?),
            0xc0 | 0xc2 => Value::None,
            0xcc => Value::Number(i64::try_from(self.unsigned(1)?).map_err(|_| bad())?),
            0xcd => Value::Number(i64::try_from(self.unsigned(2)?).map_err(|_| bad())?),
            0xce => Value::Number(i64::try_from(self.unsigned(4)?).map_err(|_| bad())?),
            0xcf => Value::Number(i64::try_from(self.unsigned(8)?).map_err(|_| bad())?),
            0xd0 => Value::Number(signed(self.unsigned(1)?, 8)),
            0xd1 => Value::Number(signed(self.unsigned(2)?, 16)),
            0xd2 => Value::Number(signed(self.unsigned(4)?, 32)),
            0xd3 => Value::Number(signed(self.unsigned(8)?, 64)),
            0xd9 | 0xc4 => text(self, 1)?,
            0xda | 0xc5 => text(self, 2)?,
            0xdb | 0xc6 => text(self, 4)?,
            _ => return Err(bad()),
        })
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    /// A value as cmsgpack writes it.
    enum V<'a> {
        Int(i64),
        Text(&'a [u8]),
        False,
    }

    fn pack(values: &[V<'_>]) -> Vec<u8> {
        let mut out = vec![0xdc];
        out.extend(u16::try_from(values.len()).unwrap().to_be_bytes());
        for v in values {
            match v {
                V::Int(n) if (0..128).contains(n) => out.push(u8::try_from(*n).unwrap()),
                V::Int(n) if *n >= 0 => {
                    out.push(0xcf);
                    out.extend(n.to_be_bytes());
                }
                V::Int(n) => {
                    out.push(0xd3);
                    out.extend(n.to_be_bytes());
                }
                V::Text(t) => {
                    out.push(0xd9);
                    out.push(u8::try_from(t.len()).unwrap());
                    out.extend(*t);
                }
                V::False => out.push(0xc2),
            }
        }
        out
    }

    /// A record of a session created at 1,700,000,000.123 s, refreshed a minute later.
    fn record<'a>(hash: &'a [u8], from: &'a [u8]) -> Vec<V<'a>> {
        vec![
            V::Int(1_700_000_000),
            V::Int(123),
            V::Int(60_000),
            V::Int(3_600_000),
            V::Int(86_400_000),
            V::Int(0),
            V::Int(2),
            V::Int(1),
            V::Int(1),
            V::Int(60),
            V::Text(hash),
            V::Text(b"alice"),
            V::Text(b"{}"),
            V::Text(b"203.0.113.9"),
            V::Text(b""),
            V::False,
            V::Text(hash),
            V::Text(from),
        ]
    }

    #[test]
    fn records_read_back_and_bad_ones_are_refused() {
        let sid = SessionId::generate().unwrap();
        let hash = [7u8; 32];
        let packed = pack(&record(&hash, b"="));
        let (s, digest) = session(sid, &packed, "").unwrap();
        assert_eq!(digest, b"", "an agent given, not named");
        assert_eq!(s.created_at.as_millis(), 1_700_000_000_123);
        assert_eq!(s.last_seen_at.as_millis(), 1_700_000_060_123);
        assert_eq!(s.refresh.rotated_at, s.last_seen_at, "kept from last seen");
        assert_eq!(s.refresh.previous, Some(TokenHash::from_bytes(hash)));
        assert_eq!(
            s.refreshed_from.as_deref(),
            Some("203.0.113.9"),
            "'=': its own"
        );
        assert_eq!((s.revoked_at, s.cookie, s.device.label), (None, None, None));
        let (escaped, _) = session(sid, &pack(&record(&hash, b"==x")), "").unwrap();
        assert_eq!(escaped.refreshed_from.as_deref(), Some("=x"));
        let (given, _) = session(sid, &pack(&record(&hash, b"")), "Firefox").unwrap();
        assert_eq!(given.device.user_agent.as_deref(), Some("Firefox"));
        let mut named = record(&hash, b"");
        named[14] = V::Text(&[1, 2, 3, 4, 5, 6, 7, 8]);
        let named = pack(&named);
        let (s, digest) = session(sid, &named, "").unwrap();
        assert_eq!(digest, [1, 2, 3, 4, 5, 6, 7, 8]);
        assert_eq!(s.device.user_agent, None, "to be filled in from the digest");

        let mut later = record(&hash, b"");
        later[0] = V::Int(-2);
        let short = [1u8; 31];
        let mut bad_hash = record(&hash, b"");
        bad_hash[10] = V::Text(&short);
        let mut text_for_number = record(&hash, b"");
        text_for_number[6] = V::Text(b"2");
        let mut too_long = record(&hash, b"");
        too_long.extend((0..6).map(|_| V::False));
        let whole = pack(&record(&hash, b""));
        for (why, bytes) in [
            ("a later format", pack(&later)),
            ("a hash of 31 bytes", pack(&bad_hash)),
            ("a text for a number", pack(&text_for_number)),
            ("more values than a record has", pack(&too_long)),
            ("cut short", whole[..whole.len() - 3].to_vec()),
            ("not an array", vec![0xc2]),
            ("empty", vec![]),
        ] {
            let refused = session(sid, &bytes, "").unwrap_err();
            assert_eq!(refused.kind(), StoreErrorKind::Corrupt, "{why}");
        }
    }
}
