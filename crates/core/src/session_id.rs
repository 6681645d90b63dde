//! The session id: a public, random handle.

use std::fmt;
use std::str::FromStr;

use crate::encoding::{b64_decode, b64_encode};
use crate::{Error, random};

/// 128 bits naming a session, 122 of them random and 6 its user's shard (see
/// [`SessionId::shard`]). Public: it appears in access tokens, listings and logs, and knowing it
/// grants nothing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId([u8; 16]);

impl SessionId {
    /// Length of the textual form (base64url of 16 bytes).
    pub const TEXT_LEN: usize = 22;

    /// How many shards a user id falls into; a sharded store spreads its data over them.
    pub const SHARDS: u8 = 64;

    /// A fresh id from the OS CSPRNG, of no particular shard. Sessions get theirs from
    /// [`SessionId::for_user`].
    ///
    /// # Errors
    /// [`Error::Random`] if the CSPRNG fails.
    pub fn generate() -> Result<Self, Error> {
        random::bytes().map(Self)
    }

    /// A fresh id for a session of `user`: random but for the six bits that carry the user's
    /// shard, so a sharded store finds the session (kept with the user's other sessions) from
    /// its id alone, with no directory.
    ///
    /// # Errors
    /// [`Error::Random`] if the CSPRNG fails.
    pub fn for_user(user: &str) -> Result<Self, Error> {
        let mut bytes: [u8; 16] = random::bytes()?;
        bytes[0] = (bytes[0] & !(Self::SHARDS - 1)) | Self::shard_of(user);
        Ok(Self(bytes))
    }

    /// The shard of `user` (below [`SessionId::SHARDS`]): the first bits of its SHA-256, so
    /// users spread evenly and every node agrees without asking.
    pub fn shard_of(user: &str) -> u8 {
        crate::TokenHash::of(user.as_bytes()).as_bytes()[0] & (Self::SHARDS - 1)
    }

    /// The shard this id carries. For ids made by [`SessionId::for_user`] it is the user's;
    /// ids made before shards existed carry a random one.
    pub fn shard(&self) -> u8 {
        self.0[0] & (Self::SHARDS - 1)
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
    fn a_users_sessions_carry_the_users_shard() {
        let shards: std::collections::HashSet<u8> = (0..2000)
            .map(|i| {
                let user = format!("user-{i}");
                let sid = SessionId::for_user(&user).unwrap();
                assert_eq!(sid.shard(), SessionId::shard_of(&user));
                assert_eq!(
                    sid.to_string().parse::<SessionId>().unwrap().shard(),
                    sid.shard()
                );
                sid.shard()
            })
            .collect();
        assert_eq!(
            shards.len(),
            usize::from(SessionId::SHARDS),
            "users reach every shard"
        );
        let a = SessionId::for_user("alice").unwrap();
        let b = SessionId::for_user("alice").unwrap();
        assert_ne!(a, b, "the other 122 bits stay random");
        assert_eq!(a.as_bytes()[1..].len(), 15);
    }

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
