//! AuditStore on Redis.

use std::collections::BTreeMap;
use tessera::store::AuditStore;

use tessera::{AuditEvent, SessionId, StoreError, StoredEvent, Timestamp};

use crate::codec::{self, corrupt, from_value, to_json, to_value};
use crate::scripts;
use crate::store::{RedisStore, invocation, ms};

/// An event as the `audit` Lua function takes it: packed (see [`pack`]), time, user (`''` for
/// none).
pub(crate) fn audit_args(
    inv: &mut redis::ScriptInvocation<'_>,
    event: &AuditEvent,
) -> Result<(), StoreError> {
    inv.arg(pack(event)?)
        .arg(ms(event.at))
        .arg(event.user_id.as_deref().unwrap_or_default());
    Ok(())
}

/// An event as its stream entry holds it (beside its user; its time is the entry's id):
/// `type|sid|ip|rest`, `type` a code for the most frequent kinds ([`CODES`]), `rest` the JSON
/// of the kind's own fields (`''` for none). A sign-in's event is `1|sid|ip|`, 37 bytes for an
/// IPv4 client (51 with the kind's name, 76 as JSON with keys): audit kept 90 days is most of
/// a deployment's memory (docs/capacity.md). An event whose values would not split back (a `|`
/// or an empty string in them) is kept as that JSON, as events were before.
fn pack(event: &AuditEvent) -> Result<String, StoreError> {
    let mut json = to_value(event)?;
    let Some(fields) = json.as_object_mut() else {
        return Err(corrupt("audit event"));
    };
    for dropped in ["at", "user_id"] {
        fields.remove(dropped);
    }
    let text = |name: &str| match fields.get(name) {
        None | Some(serde_json::Value::Null) => Some(String::new()),
        Some(serde_json::Value::String(s)) if !s.is_empty() && !s.contains('|') => Some(s.clone()),
        Some(_) => None,
    };
    let (Some(kind), Some(sid), Some(ip)) = (text("type"), text("sid"), text("ip")) else {
        return to_json(&json);
    };
    for packed in ["type", "sid", "ip"] {
        fields.remove(packed);
    }
    let kind = CODES
        .iter()
        .find(|(name, _)| *name == kind)
        .map_or(kind.as_str(), |(_, code)| code);
    let rest = if fields.is_empty() {
        String::new()
    } else {
        to_json(&fields)?
    };
    Ok(format!("{kind}|{sid}|{ip}|{rest}"))
}

/// The most frequent kinds, packed as a code: a sign-in's event is 14 bytes shorter. Codes are
/// digits, which no kind's name is; add to the end, never renumber (events are kept 90 days).
const CODES: [(&str, &str); 6] = [
    ("session_created", "1"),
    ("session_revoked", "2"),
    ("login_succeeded", "3"),
    ("login_failed", "4"),
    ("account_created", "5"),
    ("refresh_reuse_detected", "6"),
];

/// [`pack`] undone, as the event's JSON without its time and user.
fn unpack(stored: &str) -> Result<serde_json::Value, StoreError> {
    if stored.starts_with('{') {
        return codec::json(stored);
    }
    let mut parts = stored.splitn(4, '|');
    let (Some(kind), Some(sid), Some(ip), Some(rest)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(corrupt("audit event"));
    };
    let mut fields: serde_json::Map<String, serde_json::Value> = match rest {
        "" => serde_json::Map::new(),
        rest => codec::json(rest)?,
    };
    let kind = CODES
        .iter()
        .find(|(_, code)| *code == kind)
        .map_or(kind, |(name, _)| name);
    fields.insert("type".into(), kind.into());
    for (name, value) in [("sid", sid), ("ip", ip)] {
        if !value.is_empty() {
            fields.insert(name.into(), value.into());
        }
    }
    Ok(serde_json::Value::Object(fields))
}

/// An audit id as a `u64` (newer is larger): the stream entry `ms-seq`'s time, then its number.
fn audit_id(entry: &str) -> Result<u64, StoreError> {
    let (at, seq) = entry.split_once('-').ok_or_else(|| corrupt("audit id"))?;
    let at: u64 = at.parse().map_err(|_| corrupt("audit id"))?;
    let seq: u64 = seq.parse().map_err(|_| corrupt("audit id"))?;
    if at >= 1 << 48 || seq >= 1 << 16 {
        return Err(corrupt("audit id"));
    }
    Ok(at << 16 | seq)
}

/// A stored event from its stream entry's id and packed event (and its user, the index it
/// came from).
fn stored_event(entry: &str, packed: &str, user: &str) -> Result<StoredEvent, StoreError> {
    let id = audit_id(entry)?;
    let mut event = unpack(packed)?;
    let fields = event
        .as_object_mut()
        .ok_or_else(|| corrupt("audit event"))?;
    let at = i64::try_from(id >> 16).map_err(|_| corrupt("audit id"))?;
    fields.insert("at".into(), to_value(&Timestamp::from_millis(at))?);
    fields.insert("user_id".into(), user.into());
    Ok(StoredEvent {
        id,
        event: from_value(event)?,
    })
}

impl AuditStore for RedisStore {
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        // A user's events go to the user's shard (where the user's sessions append theirs), the
        // others to the global slot: one script per slot.
        let mut by_slot: BTreeMap<&str, Vec<&AuditEvent>> = BTreeMap::new();
        for event in events {
            let tag = match &event.user_id {
                Some(user) => self.layout.shard(SessionId::shard_of(user)),
                None => &self.layout.global,
            };
            by_slot.entry(tag).or_default().push(event);
        }
        for (tag, events) in by_slot {
            let mut inv = invocation(&scripts::AUDIT, tag);
            for event in events {
                audit_args(&mut inv, event)?;
            }
            self.call::<i64>(&inv).await?;
        }
        Ok(())
    }

    async fn audit_for_user(
        &self,
        user: &str,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let mut inv = self.run_in(SessionId::shard_of(user), &scripts::AUDIT_FOR_USER);
        inv.arg(user)
            .arg(before.map_or_else(String::new, |b| format!("{}-{}", b >> 16, b & 0xffff)))
            .arg(limit);
        let flat: Vec<String> = self.call(&inv).await?;
        flat.chunks(2)
            .map(|pair| match pair {
                [id, event] => stored_event(id, event, user),
                _ => Err(corrupt("audit reply")),
            })
            .collect()
    }

    async fn purge_audit(&self, cutoff: Timestamp, batch: usize) -> Result<usize, StoreError> {
        self.purge_every_slot(&scripts::PURGE_AUDIT, cutoff, batch)
            .await
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;
    use tessera::{AuditKind, RevokeReason};

    fn event(sid: Option<SessionId>, ip: Option<&str>, kind: AuditKind) -> AuditEvent {
        AuditEvent {
            at: Timestamp::from_millis(1_700_000_000_000),
            user_id: Some("usr_1".into()),
            sid,
            ip: ip.map(Into::into),
            kind,
        }
    }

    /// Every shape of event reads back as it was, packed or (when its values would not split
    /// back) as JSON; and events stored as JSON before packing read back too.
    #[test]
    fn events_read_back_as_written() {
        let sid = SessionId::generate().unwrap();
        let events = [
            event(Some(sid), Some("203.0.113.7"), AuditKind::SessionCreated),
            event(None, None, AuditKind::LoginSucceeded),
            event(
                Some(sid),
                Some("2001:db8::1"),
                AuditKind::SessionRevoked {
                    reason: RevokeReason::Admin,
                },
            ),
            event(
                None,
                Some("198.51.100.1"),
                AuditKind::RateLimited {
                    class: "a|b".into(),
                    by: "client".into(),
                },
            ),
            event(Some(sid), Some("odd|address"), AuditKind::SessionCreated),
            event(Some(sid), Some(""), AuditKind::SessionCreated),
        ];
        let packed: Vec<String> = events.iter().map(|e| pack(e).unwrap()).collect();
        assert_eq!(packed[0], format!("1|{sid}|203.0.113.7|"));
        assert_eq!(packed[1], "3|||");
        assert!(packed[3].ends_with(r#"|{"by":"client","class":"a|b"}"#));
        assert!(packed[4].starts_with('{') && packed[5].starts_with('{'));
        for (e, p) in events.iter().zip(&packed) {
            assert_eq!(
                &stored_event("1700000000000-3", p, "usr_1").unwrap().event,
                e
            );
        }
        let named = format!("session_created|{sid}|203.0.113.7|");
        assert_eq!(
            stored_event("1700000000000-0", &named, "usr_1")
                .unwrap()
                .event,
            events[0],
            "packed by name, before codes"
        );
        let before = r#"{"ip":"203.0.113.7","sid":null,"type":"login_failed"}"#;
        assert_eq!(
            stored_event("1700000000000-0", before, "usr_1")
                .unwrap()
                .event,
            event(None, Some("203.0.113.7"), AuditKind::LoginFailed)
        );
        for bad in ["session_created|x", r#"rate_limited|||{"by":"#] {
            assert!(
                stored_event("1700000000000-0", bad, "usr_1").is_err(),
                "{bad}"
            );
        }
    }
}
