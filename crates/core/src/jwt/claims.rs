//! The claims of an access token, read strictly.

use std::ops::Deref;

use serde_json::{Map, Value};

use crate::{SessionId, Timestamp, TokenRejection};

/// Latest accepted `NumericDate`: 9999-12-31T23:59:59Z.
const MAX_DATE: i64 = 253_402_300_799;
/// Longest accepted `sub` and `jti`, in bytes.
const MAX_ID_LEN: usize = 256;

/// Registered claim names, which application claims may not use.
pub(crate) const REGISTERED: [&str; 9] = [
    "iss", "aud", "sub", "sid", "jti", "iat", "exp", "nbf", "typ",
];

/// The claims of a verified access token (RFC 9068 shape plus `sid`).
#[derive(Debug, Clone, PartialEq)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// Audiences.
    pub aud: Vec<String>,
    /// The user id.
    pub sub: String,
    /// The session.
    pub sid: SessionId,
    /// This token's unique id (for single-token revocation).
    pub jti: String,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    /// Not before, seconds since the epoch.
    pub nbf: Option<i64>,
    /// Application claims set at session creation (e.g. `role`).
    pub extra: Map<String, Value>,
}

impl AccessClaims {
    /// Reads claims from a payload object, checking every registered claim's JSON type and range.
    pub(crate) fn from_payload(mut map: Map<String, Value>) -> Result<Self, TokenRejection> {
        let claims = Self {
            iss: string(&map, "iss")?,
            aud: audience(&map)?,
            sub: string(&map, "sub")?,
            sid: string(&map, "sid")?
                .parse()
                .map_err(|_| TokenRejection::BadClaim("sid"))?,
            jti: string(&map, "jti")?,
            iat: date(&map, "iat")?.ok_or(TokenRejection::BadClaim("iat"))?,
            exp: date(&map, "exp")?.ok_or(TokenRejection::BadClaim("exp"))?,
            nbf: date(&map, "nbf")?,
            extra: Map::new(),
        };
        map.retain(|k, _| !REGISTERED.contains(&k.as_str()));
        Ok(Self {
            extra: map,
            ..claims
        })
    }

    /// The claims as a JSON object, exactly as signed.
    pub fn to_json(&self) -> Value {
        let mut map = self.extra.clone();
        map.insert("iss".into(), self.iss.clone().into());
        map.insert(
            "aud".into(),
            match self.aud.as_slice() {
                [one] => one.clone().into(),
                many => many.to_vec().into(),
            },
        );
        map.insert("sub".into(), self.sub.clone().into());
        map.insert("sid".into(), self.sid.to_string().into());
        map.insert("jti".into(), self.jti.clone().into());
        map.insert("iat".into(), self.iat.into());
        map.insert("exp".into(), self.exp.into());
        if let Some(nbf) = self.nbf {
            map.insert("nbf".into(), nbf.into());
        }
        Value::Object(map)
    }
}

/// The claims of a token that passed verification, with its payload JSON as signed, so that
/// answering with the claims needs no second encoding. Reads as the [`AccessClaims`] it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedClaims {
    claims: AccessClaims,
    json: Box<str>,
    /// The end of the verifying key's acceptance, for a key trusted for a time.
    key_until: Option<Timestamp>,
}

impl VerifiedClaims {
    pub(crate) fn new(claims: AccessClaims, json: String) -> Self {
        Self {
            claims,
            json: json.into_boxed_str(),
            key_until: None,
        }
    }

    /// Verified with a key accepted only before `until`, if any.
    pub(crate) fn by_key_until(mut self, until: Option<Timestamp>) -> Self {
        self.key_until = until;
        self
    }

    /// Whether the verification still holds at `now` as far as the key goes: a key trusted
    /// for a time stops vouching for its tokens at its end, verified before or not.
    pub(crate) fn key_accepted_at(&self, now: Timestamp) -> bool {
        self.key_until.is_none_or(|until| now < until)
    }

    /// The claims.
    pub fn claims(&self) -> &AccessClaims {
        &self.claims
    }

    /// The claims, without the payload.
    pub fn into_claims(self) -> AccessClaims {
        self.claims
    }

    /// The payload as signed: one JSON object without repeated members, whose registered
    /// claims passed every check. For Tessera's own tokens it is exactly what
    /// [`AccessClaims::to_json`] encodes to.
    pub fn json(&self) -> &str {
        &self.json
    }
}

impl Deref for VerifiedClaims {
    type Target = AccessClaims;

    fn deref(&self) -> &AccessClaims {
        &self.claims
    }
}

fn string(map: &Map<String, Value>, name: &'static str) -> Result<String, TokenRejection> {
    match map.get(name) {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_ID_LEN => Ok(s.clone()),
        _ => Err(TokenRejection::BadClaim(name)),
    }
}

fn audience(map: &Map<String, Value>) -> Result<Vec<String>, TokenRejection> {
    let bad = TokenRejection::BadClaim("aud");
    match map.get("aud") {
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or(bad))
            .collect(),
        _ => Err(bad),
    }
}

/// An optional `NumericDate`: an integer (not a float, not a string) in `0..=MAX_DATE`.
fn date(map: &Map<String, Value>, name: &'static str) -> Result<Option<i64>, TokenRejection> {
    match map.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_i64() {
            Some(v) if (0..=MAX_DATE).contains(&v) => Ok(Some(v)),
            _ => Err(TokenRejection::BadClaim(name)),
        },
        Some(_) => Err(TokenRejection::BadClaim(name)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Map<String, Value> {
        let sid = SessionId::generate().unwrap().to_string();
        let v = json!({"iss":"i","aud":"a","sub":"u","sid":sid,"jti":"j","iat":10,"exp":20,"role":"admin"});
        v.as_object().unwrap().clone()
    }

    #[test]
    fn reads_and_round_trips() {
        let c = AccessClaims::from_payload(base()).unwrap();
        assert_eq!(c.extra["role"], "admin");
        assert_eq!(c.extra.len(), 1);
        let back = AccessClaims::from_payload(c.to_json().as_object().unwrap().clone()).unwrap();
        assert_eq!(back, c);
    }

    #[test]
    fn rejects_wrong_types_and_ranges() {
        let cases: Vec<(&str, Value)> = vec![
            ("sub", json!(5)),
            ("sub", json!("")),
            ("sub", json!("x".repeat(300))),
            ("sub", json!(null)),
            ("exp", json!("20")),
            ("exp", json!(20.5)),
            ("exp", json!(-1)),
            ("exp", json!(MAX_DATE + 1)),
            ("exp", json!(u64::MAX)),
            ("iat", json!(true)),
            ("nbf", json!([1])),
            ("aud", json!([])),
            ("aud", json!([1])),
            ("sid", json!("not-a-sid")),
            ("jti", json!({})),
        ];
        for (name, value) in cases {
            let mut map = base();
            map.insert(name.into(), value.clone());
            let err = AccessClaims::from_payload(map).unwrap_err();
            assert_eq!(err, TokenRejection::BadClaim(name), "{name} = {value}");
        }
        for name in ["iss", "sub", "sid", "jti", "iat", "exp", "aud"] {
            let mut map = base();
            map.remove(name);
            assert_eq!(
                AccessClaims::from_payload(map).unwrap_err(),
                TokenRejection::BadClaim(name)
            );
        }
    }
}
