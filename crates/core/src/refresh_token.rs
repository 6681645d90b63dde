//! The opaque refresh token: `tsr_` + base64url(sid ‖ generation ‖ secret ‖ checksum).

use std::fmt;

use crate::encoding::{frame, unframe};
use crate::secret::TokenHash;
use crate::{Error, RefreshRejection, SessionId};

const PREFIX: &str = "tsr_";
const PAYLOAD_LEN: usize = 16 + 8 + 32;

/// A refresh token: which session, which link of its rotation chain, and that link's secret.
///
/// Only [`TokenHash`]es of secrets are stored; the token itself goes to its owner once.
#[derive(Clone, PartialEq, Eq)]
pub struct RefreshToken {
    sid: SessionId,
    generation: u64,
    secret: [u8; 32],
}

impl RefreshToken {
    /// A token from its parts. Servers never need this (tokens come from `SessionManager`); it
    /// exists for tools and for tests that must forge tokens.
    pub fn from_parts(sid: SessionId, generation: u64, secret: [u8; 32]) -> Self {
        Self::new(sid, generation, secret)
    }

    pub(crate) fn new(sid: SessionId, generation: u64, secret: [u8; 32]) -> Self {
        Self {
            sid,
            generation,
            secret,
        }
    }

    /// Parses the textual form. The checksum rejects garbage before any store is asked.
    ///
    /// # Errors
    /// [`Error::InvalidRefresh`] with [`RefreshRejection::Malformed`].
    pub fn parse(text: &str) -> Result<Self, Error> {
        let malformed = || Error::InvalidRefresh(RefreshRejection::Malformed);
        let bytes = unframe(PREFIX, text, PAYLOAD_LEN).ok_or_else(malformed)?;
        let (sid, rest) = bytes.split_first_chunk::<16>().ok_or_else(malformed)?;
        let (generation, secret) = rest.split_first_chunk::<8>().ok_or_else(malformed)?;
        let secret = <[u8; 32]>::try_from(secret).map_err(|_| malformed())?;
        Ok(Self::new(
            SessionId::from_bytes(*sid),
            u64::from_be_bytes(*generation),
            secret,
        ))
    }

    /// The textual form to hand to the client. Never log it.
    pub fn expose(&self) -> String {
        let mut payload = Vec::with_capacity(PAYLOAD_LEN);
        payload.extend_from_slice(self.sid.as_bytes());
        payload.extend_from_slice(&self.generation.to_be_bytes());
        payload.extend_from_slice(&self.secret);
        frame(PREFIX, &payload)
    }

    /// The session this token belongs to (public).
    pub fn session_id(&self) -> SessionId {
        self.sid
    }

    /// The rotation generation of this token.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub(crate) fn secret(&self) -> &[u8; 32] {
        &self.secret
    }

    /// The hash of this token's secret, as a store keeps it.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.secret)
    }
}

impl fmt::Debug for RefreshToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshToken")
            .field("sid", &self.sid)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn token(generation: u64) -> RefreshToken {
        RefreshToken::new(SessionId::generate().unwrap(), generation, [9; 32])
    }

    #[test]
    fn round_trips_and_hides_secret() {
        let t = token(7);
        let text = t.expose();
        assert!(text.starts_with("tsr_"));
        assert_eq!(RefreshToken::parse(&text).unwrap(), t);
        assert!(!format!("{t:?}").contains("9, 9"));
    }

    #[test]
    fn garbage_is_malformed() {
        for bad in [
            "",
            "tsr_",
            "tsr_AAAA",
            "tss_x",
            &token(1).expose().replace("tsr_", "tsk_"),
        ] {
            assert!(matches!(
                RefreshToken::parse(bad),
                Err(Error::InvalidRefresh(RefreshRejection::Malformed))
            ));
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in any::<String>()) {
            let _ = RefreshToken::parse(&s);
        }

        #[test]
        fn parse_never_panics_on_prefixed(s in "tsr_[A-Za-z0-9_=+/-]{0,120}") {
            let _ = RefreshToken::parse(&s);
        }

        #[test]
        fn round_trip(sid in any::<[u8; 16]>(), generation in any::<u64>(), secret in any::<[u8; 32]>()) {
            let t = RefreshToken::new(SessionId::from_bytes(sid), generation, secret);
            prop_assert_eq!(RefreshToken::parse(&t.expose()).unwrap(), t);
        }
    }
}
