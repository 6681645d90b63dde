//! Strict JSON: like `serde_json`, except that a repeated member name is an error.
//!
//! `serde_json` keeps the last of two equal names silently, so `{"sub":"a","sub":"b"}` could be
//! read as `a` by one verifier and `b` by another. RFC 7515 §5.2 lets us reject it, and we do,
//! at every depth.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Parses `bytes` as one JSON object; `None` for invalid JSON, a non-object or a duplicate name.
/// The second value says whether the failure was a duplicate member.
pub(crate) fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, Problem> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = de.deserialize_any(StrictVisitor).map_err(|e| {
        if e.to_string().starts_with(DUPLICATE) {
            Problem::Duplicate
        } else {
            Problem::Invalid
        }
    })?;
    de.end().map_err(|_| Problem::Invalid)?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(Problem::Invalid),
    }
}

/// Why [`parse_object`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Problem {
    /// Not JSON, or not an object.
    Invalid,
    /// An object repeats a member name.
    Duplicate,
}

const DUPLICATE: &str = "duplicate member";

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Seed)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(DUPLICATE));
            }
            let value = map.next_value_seed(Seed)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

struct Seed;

impl<'de> de::DeserializeSeed<'de> for Seed {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_plain_objects() {
        let map = parse_object(br#"{"a":1,"b":[true,null,"x",{"c":-2.5}]}"#).unwrap();
        assert_eq!(map["a"], 1);
        assert_eq!(map["b"][3]["c"], -2.5);
    }

    #[test]
    fn rejects_duplicates_at_any_depth() {
        assert_eq!(
            parse_object(br#"{"sub":"a","sub":"b"}"#),
            Err(Problem::Duplicate)
        );
        assert_eq!(
            parse_object(br#"{"x":{"k":1,"k":2}}"#),
            Err(Problem::Duplicate)
        );
        assert_eq!(
            parse_object(br#"{"x":[{"k":1,"k":2}]}"#),
            Err(Problem::Duplicate)
        );
        // Escapes that spell the same name are the same name.
        assert_eq!(
            parse_object(br#"{"sub":"a","s\u0075b":"b"}"#),
            Err(Problem::Duplicate)
        );
    }

    #[test]
    fn rejects_non_objects_and_trailing_data() {
        for bad in [
            &b"[]"[..],
            b"1",
            b"\"x\"",
            b"{} {}",
            b"{",
            b"",
            b"{\"a\":1,}",
        ] {
            assert_eq!(parse_object(bad), Err(Problem::Invalid), "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            let _ = parse_object(&bytes);
        }
    }
}
