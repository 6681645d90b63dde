//! The session id: a public, random handle.

use std::fmt;
use std::str::FromStr;

use crate::encoding::{b64_decode, b64_encode};
use crate::{Error, random};

/// 128 random bits naming a session. Public: it appears in access tokens, listings and logs,
/// and knowing it grants nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId([u8; 16]);

impl SessionId {
    /// Length of the textual form (base64url of 16 bytes).
    pub const TEXT_LEN: usize = 22;

    /// A fresh id from the OS CSPRNG.
    ///
    /// # Errors
    /// [`Error::Random`] if the CSPRNG fails.
    pub fn generate() -> Result<Self, Error> {
        random::bytes().map(Self)
    }

    /// The id's raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// Builds an id from raw bytes (as carried inside a refresh token).
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }
}

impl FromStr for SessionId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        if s.len() != Self::TEXT_LEN {
            return Err(Error::Malformed("session id"));
        }
        let bytes = b64_decode(s).ok_or(Error::Malformed("session id"))?;
        let arr = <[u8; 16]>::try_from(bytes).map_err(|_| Error::Malformed("session id"))?;
        Ok(Self(arr))
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&b64_encode(&self.0))
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({self})")
    }
}

impl serde::Serialize for SessionId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for SessionId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ids_are_unique_and_round_trip() {
        let a = SessionId::generate().unwrap();
        let b = SessionId::generate().unwrap();
        assert_ne!(a, b);
        let text = a.to_string();
        assert_eq!(text.len(), SessionId::TEXT_LEN);
        assert_eq!(text.parse::<SessionId>().unwrap(), a);
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(serde_json::from_str::<SessionId>(&json).unwrap(), a);
    }

    #[test]
    fn rejects_wrong_lengths_and_alphabets() {
        assert!("".parse::<SessionId>().is_err());
        assert!("AAAAAAAAAAAAAAAAAAAAAA==".parse::<SessionId>().is_err());
        assert!("AAAAAAAAAAAAAAAAAAAAA+".parse::<SessionId>().is_err());
        assert!(
            "AAAAAAAAAAAAAAAAAAAAAB".parse::<SessionId>().is_err(),
            "non-canonical"
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in any::<String>()) {
            let _ = s.parse::<SessionId>();
        }

        #[test]
        fn round_trips(bytes in any::<[u8; 16]>()) {
            let id = SessionId::from_bytes(bytes);
            prop_assert_eq!(id.to_string().parse::<SessionId>().unwrap(), id);
        }
    }
}
