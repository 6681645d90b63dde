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

    /// The hash as base64url text, for stores that keep text (a hash of a 256-bit secret is
    /// safe to show; it is still not logged).
    pub fn to_base64(&self) -> String {
        b64_encode(&self.0)
    }

    /// Reads [`TokenHash::to_base64`] text back.
    pub fn from_base64(text: &str) -> Option<Self> {
        b64_decode(text)?.try_into().ok().map(Self)
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

/// A backend API key: `tsk_` + 256-bit secret, checksummed. Stored only as a hash.
#[derive(Clone)]
pub struct ApiKey([u8; 32]);

impl ApiKey {
    const PREFIX: &'static str = "tsk_";

    /// A fresh key from the OS CSPRNG.
    ///
    /// # Errors
    /// [`Error::Random`] if the CSPRNG fails.
    pub fn generate() -> Result<Self, Error> {
        random::bytes().map(Self)
    }

    /// Parses the textual form, checking prefix, encoding, length and checksum.
    ///
    /// # Errors
    /// [`Error::Malformed`] for anything that is not such a key.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let bytes = unframe(Self::PREFIX, text, 32).ok_or(Error::Malformed("API key"))?;
        <[u8; 32]>::try_from(bytes)
            .map(Self)
            .map_err(|_| Error::Malformed("API key"))
    }

    /// The textual form to hand to its owner. Never log it.
    pub fn expose(&self) -> String {
        frame(Self::PREFIX, &self.0)
    }

    /// The hash to store and compare by.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of(&self.0)
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(..)")
    }
}

/// What a named API key may do. A service that only checks tokens never needs more than
/// [`ApiScope::Verify`], so a leak of its key cannot mint sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApiScope {
    /// Verify and introspect access tokens, follow the revocation feed, read the JWKS.
    Verify,
    /// Read `/metrics`.
    Metrics,
    /// What an application's backend does: create, refresh, read, change, list and revoke
    /// sessions and read a user's security events, plus everything [`ApiScope::Verify`]
    /// allows. Not API-key management: a leak of this key cannot mint other keys.
    Sessions,
    /// Everything.
    Admin,
}

impl ApiScope {
    /// Whether a key of this scope may do what `needed` names.
    pub fn allows(self, needed: ApiScope) -> bool {
        match self {
            ApiScope::Admin => true,
            ApiScope::Sessions => matches!(needed, ApiScope::Sessions | ApiScope::Verify),
            narrow => narrow == needed,
        }
    }

    /// The lowercase name (`verify`, `metrics`, `sessions`, `admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            ApiScope::Verify => "verify",
            ApiScope::Metrics => "metrics",
            ApiScope::Sessions => "sessions",
            ApiScope::Admin => "admin",
        }
    }
}

impl std::str::FromStr for ApiScope {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "verify" => Ok(ApiScope::Verify),
            "metrics" => Ok(ApiScope::Metrics),
            "sessions" => Ok(ApiScope::Sessions),
            "admin" => Ok(ApiScope::Admin),
            _ => Err(Error::InvalidInput(
                "an API key scope is verify, metrics, sessions or admin",
            )),
        }
    }
}

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
    fn api_keys_round_trip_and_are_not_other_tokens() {
        let key = ApiKey::generate().unwrap();
        let text = key.expose();
        assert!(text.starts_with("tsk_"));
        assert!(ApiKey::parse(&text).unwrap().hash().ct_eq(&key.hash()));
        assert!(ApiKey::parse(&text.replace("tsk_", "tss_")).is_err());
        assert!(ApiKey::parse(&text[..text.len() - 1]).is_err());
    }

    #[test]
    fn debug_never_prints_the_secret() {
        let key = ApiKey::generate().unwrap();
        let text = key.expose();
        let shown = format!(
            "{key:?} {:?} {:?}",
            key.hash(),
            ServerSecret::generate().unwrap()
        );
        assert!(!shown.contains(&text[4..20]));
        assert_eq!(shown.matches("(..)").count(), 3);
    }

    #[test]
    fn hashes_differ_per_secret() {
        let a = ApiKey::generate().unwrap().hash();
        let b = ApiKey::generate().unwrap().hash();
        assert!(!a.ct_eq(&b));
        assert!(a.ct_eq(&a));
    }

    #[test]
    fn scopes_allow_only_their_own_routes_but_admin_allows_all() {
        use ApiScope::*;
        for (have, needed, ok) in [
            (Verify, Verify, true),
            (Verify, Metrics, false),
            (Verify, Sessions, false),
            (Verify, Admin, false),
            (Metrics, Verify, false),
            (Metrics, Metrics, true),
            (Metrics, Sessions, false),
            (Metrics, Admin, false),
            (Sessions, Verify, true),
            (Sessions, Metrics, false),
            (Sessions, Sessions, true),
            (Sessions, Admin, false),
            (Admin, Verify, true),
            (Admin, Metrics, true),
            (Admin, Sessions, true),
            (Admin, Admin, true),
        ] {
            assert_eq!(have.allows(needed), ok, "{have:?} for {needed:?}");
            assert_eq!(have.as_str().parse::<ApiScope>().unwrap(), have);
        }
        assert!("Admin".parse::<ApiScope>().is_err());
    }

    proptest! {
        #[test]
        fn api_key_parse_never_panics(s in any::<String>()) {
            let _ = ApiKey::parse(&s);
        }

        #[test]
        fn api_key_parse_rejects_mutations(i in 4usize..50, c in "[A-Za-z0-9_-]") {
            let text = ApiKey::generate().unwrap().expose();
            let mut chars: Vec<char> = text.chars().collect();
            let replacement = c.chars().next().unwrap();
            prop_assume!(chars[i] != replacement);
            chars[i] = replacement;
            let mutated: String = chars.into_iter().collect();
            // A single changed character either breaks the checksum or the encoding.
            prop_assert!(ApiKey::parse(&mutated).is_err());
        }
    }
}
