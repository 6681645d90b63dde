//! Secret values as types: opaque bearer secrets, their hashes at rest, and server keys.
//!
//! A secret's `Debug` never prints it; comparisons of secrets and hashes are constant-time;
//! stores only ever see a [`TokenHash`].

use std::fmt;

use ring::{digest, hmac};
use subtle::ConstantTimeEq;

use crate::encoding::{b64_decode, b64_encode, frame, unframe};
use crate::{Error, random};

/// SHA-256 of a secret: what stores keep instead of the secret. Tokens carry 256 random bits,
/// so a fast hash is enough; a slow one would only slow every request.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// The hash of `secret`.
    pub fn of(secret: &[u8]) -> Self {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest::digest(&digest::SHA256, secret).as_ref());
        Self(out)
    }

    /// Wraps hash bytes read back from a store.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw hash bytes, for writing to a store.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Constant-time equality.
    pub fn ct_eq(&self, other: &TokenHash) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenHash(..)")
    }
}

impl serde::Serialize for TokenHash {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&b64_encode(&self.0))
    }
}

impl<'de> serde::Deserialize<'de> for TokenHash {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let bytes = b64_decode(&text).ok_or_else(|| serde::de::Error::custom("bad hash"))?;
        <[u8; 32]>::try_from(bytes)
            .map(Self)
            .map_err(|_| serde::de::Error::custom("bad hash length"))
    }
}

/// A 256-bit bearer secret with a scanner-friendly prefix (`tss_` cookies, `tsk_` API keys).
#[derive(Clone)]
struct Bearer<const KIND: u8>([u8; 32]);

impl<const KIND: u8> Bearer<KIND> {
    const PREFIX: &'static str = if KIND == 0 { "tss_" } else { "tsk_" };
    const NAME: &'static str = if KIND == 0 {
        "session cookie"
    } else {
        "API key"
    };

    fn generate() -> Result<Self, Error> {
        random::bytes().map(Self)
    }

    fn parse(text: &str) -> Result<Self, Error> {
        let bytes = unframe(Self::PREFIX, text, 32).ok_or(Error::Malformed(Self::NAME))?;
        <[u8; 32]>::try_from(bytes)
            .map(Self)
            .map_err(|_| Error::Malformed(Self::NAME))
    }

    fn expose(&self) -> String {
        frame(Self::PREFIX, &self.0)
    }

    fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

macro_rules! bearer_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone)]
        pub struct $name(Bearer<$kind>);

        impl $name {
            /// A fresh secret from the OS CSPRNG.
            ///
            /// # Errors
            /// [`Error::Random`] if the CSPRNG fails.
            pub fn generate() -> Result<Self, Error> {
                Bearer::generate().map(Self)
            }

            /// Parses the textual form, checking prefix, encoding, length and checksum.
            ///
            /// # Errors
            /// [`Error::Malformed`] for anything that is not such a secret.
            pub fn parse(text: &str) -> Result<Self, Error> {
                Bearer::parse(text).map(Self)
            }

            /// The textual form to hand to its owner. Never log it.
            pub fn expose(&self) -> String {
                self.0.expose()
            }

            /// The hash to store and look up by.
            pub fn hash(&self) -> TokenHash {
                self.0.hash()
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(..)"))
            }
        }
    };
}

bearer_type!(
    /// The browser session cookie value: `tss_` + 256-bit secret. Stored only as a hash.
    CookieToken,
    0
);
bearer_type!(
    /// A backend API key: `tsk_` + 256-bit secret. Stored only as a hash.
    ApiKey,
    1
);

/// The server's root secret, from which the refresh-chain and CSRF keys are derived.
///
/// Every node serving the same sessions must share it; rotating it invalidates every
/// refresh token and CSRF token in flight.
#[derive(Clone)]
pub struct ServerSecret([u8; 32]);

impl ServerSecret {
    /// A fresh root secret.
    ///
    /// # Errors
    /// [`Error::Random`] if the CSPRNG fails.
    pub fn generate() -> Result<Self, Error> {
        random::bytes().map(Self)
    }

    /// A root secret from stored bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw bytes, for persisting. Never log them.
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A subkey for one purpose, so no key is ever used for two things.
    pub(crate) fn derive(&self, purpose: &str) -> hmac::Key {
        let root = hmac::Key::new(hmac::HMAC_SHA256, &self.0);
        let tag = hmac::sign(&root, purpose.as_bytes());
        hmac::Key::new(hmac::HMAC_SHA256, tag.as_ref())
    }
}

impl fmt::Debug for ServerSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ServerSecret(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cookie_and_api_key_round_trip_and_do_not_mix() {
        let cookie = CookieToken::generate().unwrap();
        let text = cookie.expose();
        assert!(text.starts_with("tss_"));
        assert!(
            CookieToken::parse(&text)
                .unwrap()
                .hash()
                .ct_eq(&cookie.hash())
        );
        assert!(ApiKey::parse(&text).is_err(), "a cookie is not an API key");
        let key = ApiKey::generate().unwrap();
        assert!(key.expose().starts_with("tsk_"));
        assert!(CookieToken::parse(&key.expose()).is_err());
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let cookie = CookieToken::generate().unwrap();
        let text = cookie.expose();
        let shown = format!(
            "{cookie:?} {:?} {:?}",
            cookie.hash(),
            ServerSecret::generate().unwrap()
        );
        assert!(!shown.contains(&text[4..20]));
        assert_eq!(shown.matches("(..)").count(), 3);
    }

    #[test]
    fn hashes_differ_per_secret() {
        let a = CookieToken::generate().unwrap().hash();
        let b = CookieToken::generate().unwrap().hash();
        assert!(!a.ct_eq(&b));
        assert!(a.ct_eq(&a));
    }

    proptest! {
        #[test]
        fn cookie_parse_never_panics(s in any::<String>()) {
            let _ = CookieToken::parse(&s);
            let _ = ApiKey::parse(&s);
        }

        #[test]
        fn cookie_parse_rejects_mutations(i in 4usize..50, c in "[A-Za-z0-9_-]") {
            let text = CookieToken::generate().unwrap().expose();
            let mut chars: Vec<char> = text.chars().collect();
            let replacement = c.chars().next().unwrap();
            prop_assume!(chars[i] != replacement);
            chars[i] = replacement;
            let mutated: String = chars.into_iter().collect();
            // A single changed character either breaks the checksum or the encoding.
            prop_assert!(CookieToken::parse(&mutated).is_err());
        }
    }
}
