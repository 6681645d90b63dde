//! Known-device cookies (OWASP's "device cookie" defence against password guessing).
//!
//! After a successful sign-in the browser gets a cookie, signed with a key derived from the
//! server secret, that names the account and a random device id. A later sign-in to that
//! account from that browser is throttled on the device's own budget; guesses from anywhere
//! else share the account's budget for unknown devices. So an attacker can exhaust the
//! unknown-device budget, but cannot lock the owner out of the browsers they already use.
//!
//! ```
//! use tessera::{AccountId, KnownDevices, ServerSecret};
//! let devices = KnownDevices::new(&ServerSecret::generate().unwrap());
//! let alice = AccountId::generate().unwrap();
//! let cookie = devices.issue(&alice).unwrap();
//! assert!(devices.recognise(&cookie, &alice).is_some());
//! assert!(devices.recognise(&cookie, &AccountId::generate().unwrap()).is_none());
//! ```

use ring::hmac;

use crate::encoding::{b64_decode, b64_encode};
use crate::{AccountId, Error, ServerSecret, random};

const PREFIX: &str = "tsd_";
const ID_LEN: usize = 16;
const MAC_LEN: usize = 32;

/// Issues and recognises known-device cookies.
pub struct KnownDevices {
    key: hmac::Key,
}

impl std::fmt::Debug for KnownDevices {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KnownDevices(..)")
    }
}

impl KnownDevices {
    /// Keyed from `secret` (every node shares it, so every node recognises every cookie).
    pub fn new(secret: &ServerSecret) -> Self {
        Self {
            key: secret.derive("tessera/v1/known-device"),
        }
    }

    fn message(account: &AccountId, id: &[u8]) -> Vec<u8> {
        [b"device\0", account.as_str().as_bytes(), b"\0", id].concat()
    }

    /// A fresh cookie value marking this browser as one `account` has signed in from.
    ///
    /// # Errors
    /// [`Error::Random`] if the CSPRNG fails.
    pub fn issue(&self, account: &AccountId) -> Result<String, Error> {
        let id: [u8; ID_LEN] = random::bytes()?;
        let tag = hmac::sign(&self.key, &Self::message(account, &id));
        Ok(format!(
            "{PREFIX}{}",
            b64_encode(&[&id[..], tag.as_ref()].concat())
        ))
    }

    /// The device's id (public, for throttling keys) if `cookie` was issued for `account`;
    /// the signature is checked in constant time.
    pub fn recognise(&self, cookie: &str, account: &AccountId) -> Option<String> {
        let bytes = b64_decode(cookie.strip_prefix(PREFIX)?)?;
        if bytes.len() != ID_LEN + MAC_LEN {
            return None;
        }
        let (id, tag) = bytes.split_at(ID_LEN);
        hmac::verify(&self.key, &Self::message(account, id), tag).ok()?;
        Some(b64_encode(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn cookies_are_per_account_per_device_and_unforgeable() {
        let secret = ServerSecret::generate().unwrap();
        let devices = KnownDevices::new(&secret);
        let alice = AccountId::generate().unwrap();
        let a = devices.issue(&alice).unwrap();
        let b = devices.issue(&alice).unwrap();
        let (ida, idb) = (
            devices.recognise(&a, &alice).unwrap(),
            devices.recognise(&b, &alice).unwrap(),
        );
        assert_ne!(ida, idb, "each browser its own id");
        assert!(
            devices
                .recognise(&a, &AccountId::generate().unwrap())
                .is_none()
        );
        let other_server = KnownDevices::new(&ServerSecret::generate().unwrap());
        assert!(other_server.recognise(&a, &alice).is_none());
        let mut tampered = a.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(
            devices
                .recognise(&String::from_utf8(tampered).unwrap(), &alice)
                .is_none()
        );
        assert!(
            devices.recognise(&a[4..], &alice).is_none(),
            "prefix required"
        );
    }

    proptest! {
        #[test]
        fn recognise_never_panics(s in any::<String>()) {
            let devices = KnownDevices::new(&ServerSecret::generate().unwrap());
            prop_assert!(devices.recognise(&s, &AccountId::generate().unwrap()).is_none());
        }
    }
}
