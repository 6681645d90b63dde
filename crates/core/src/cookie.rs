//! The browser session cookie value: `tss_` + base64url(sid ‖ 256-bit secret ‖ checksum).
//!
//! The session id (public) says where to look; the secret, stored only as a hash and compared
//! in constant time, proves possession. A new secret is issued at sign-in and at every privilege
//! change, so a cookie planted before sign-in (fixation) is worthless after it.

use std::fmt;

use crate::encoding::{frame, unframe};
use crate::secret::TokenHash;
use crate::{Error, SessionId, random};

const PREFIX: &str = "tss_";

/// A browser session cookie value.
#[derive(Clone, PartialEq, Eq)]
pub struct CookieToken {
    sid: SessionId,
    secret: [u8; 32],
}

impl CookieToken {
    /// A fresh cookie for session `sid`.
    ///
    /// # Errors
    /// [`Error::Random`] if the CSPRNG fails.
    pub fn generate(sid: SessionId) -> Result<Self, Error> {
        Ok(Self {
            sid,
            secret: random::bytes()?,
        })
    }

    /// Parses the textual form, checking prefix, encoding, length and checksum.
    ///
    /// # Errors
    /// [`Error::Malformed`] for anything that is not a Tessera cookie.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let malformed = || Error::Malformed("session cookie");
        let bytes = unframe(PREFIX, text, 48).ok_or_else(malformed)?;
        let (sid, secret) = bytes.split_first_chunk::<16>().ok_or_else(malformed)?;
        let secret = <[u8; 32]>::try_from(secret).map_err(|_| malformed())?;
        Ok(Self {
            sid: SessionId::from_bytes(*sid),
            secret,
        })
    }

    /// The value to set in the cookie. Never log it.
    pub fn expose(&self) -> String {
        frame(
            PREFIX,
            &[&self.sid.as_bytes()[..], &self.secret[..]].concat(),
        )
    }

    /// The session it belongs to.
    pub fn session_id(&self) -> SessionId {
        self.sid
    }

    /// The hash a session stores to recognise it.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.secret)
    }
}

impl fmt::Debug for CookieToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CookieToken")
            .field("sid", &self.sid)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trips_and_hides_the_secret() {
        let sid = SessionId::generate().unwrap();
        let c = CookieToken::generate(sid).unwrap();
        let text = c.expose();
        assert!(text.starts_with("tss_"));
        let back = CookieToken::parse(&text).unwrap();
        assert_eq!(back, c);
        assert_eq!(back.session_id(), sid);
        assert!(back.hash().ct_eq(&c.hash()));
        assert_ne!(CookieToken::generate(sid).unwrap().hash(), c.hash());
        assert!(!format!("{c:?}").contains(&text[30..50]));
        for bad in [
            "",
            "tss_",
            &text[..text.len() - 2],
            &text.replace("tss_", "tsr_"),
        ] {
            assert!(CookieToken::parse(bad).is_err());
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in any::<String>()) {
            let _ = CookieToken::parse(&s);
        }

        #[test]
        fn round_trip(sid in any::<[u8; 16]>(), secret in any::<[u8; 32]>()) {
            let c = CookieToken { sid: SessionId::from_bytes(sid), secret };
            prop_assert_eq!(CookieToken::parse(&c.expose()).unwrap(), c);
        }
    }
}
