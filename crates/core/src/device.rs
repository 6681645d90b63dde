//! Known-device cookies (OWASP's "device cookie" defence against password guessing).
//!
//! After a successful sign-in the browser gets a cookie, signed with a key derived from the
//! server secret, that names the account and a random device id. A later sign-in to that
//! account from that browser is throttled on the device's own budget; guesses from anywhere
//! else share the account's budget for unknown devices. So an attacker can exhaust the
//! unknown-device budget, but cannot lock the owner out of the browsers they already use.
//! The signature also covers a binding the caller chooses (the server uses the account's
//! password hash), so a change of password ends every device cookie of the account: one an
//! attacker earned by signing in with a stolen password stops counting as known.
//!
//! ```
//! use tessera::{AccountId, KnownDevices, ServerSecret};
//! let devices = KnownDevices::new(&ServerSecret::generate().unwrap());
//! let alice = AccountId::generate().unwrap();
//! let cookie = devices.issue(&alice, b"password hash").unwrap();
//! assert!(devices.recognise(&cookie, &alice, b"password hash").is_some());
//! assert!(devices.recognise(&cookie, &alice, b"new password hash").is_none());
//! assert!(devices.recognise(&cookie, &AccountId::generate().unwrap(), b"password hash").is_none());
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

    fn message(account: &AccountId, binding: &[u8], id: &[u8]) -> Vec<u8> {
        let binding = ring::digest::digest(&ring::digest::SHA256, binding);
        [
            b"device\0",
            account.as_str().as_bytes(),
            b"\0",
            binding.as_ref(),
            id,
        ]
        .concat()
    }

    /// The name under which a login name's guessing budget is kept: a keyed hash, so what
    /// people type into the name field (sometimes a password) is never stored as such.
    pub fn budget_tag(&self, login: &str) -> String {
        let tag = hmac::sign(&self.key, &[b"budget\0", login.as_bytes()].concat());
        b64_encode(&tag.as_ref()[..16])
    }

    /// A fresh cookie value marking this browser as one `account` has signed in from, valid
    /// while `binding` stays the same.
    ///
    /// # Errors
    /// [`Error::Random`] if the CSPRNG fails.
    pub fn issue(&self, account: &AccountId, binding: &[u8]) -> Result<String, Error> {
        let id: [u8; ID_LEN] = random::bytes()?;
        let tag = hmac::sign(&self.key, &Self::message(account, binding, &id));
        Ok(format!(
            "{PREFIX}{}",
            b64_encode(&[&id[..], tag.as_ref()].concat())
        ))
    }

    /// The device's id (public, for throttling keys) if `cookie` was issued for `account` with
    /// this `binding`; the signature is checked in constant time.
    pub fn recognise(&self, cookie: &str, account: &AccountId, binding: &[u8]) -> Option<String> {
        let bytes = b64_decode(cookie.strip_prefix(PREFIX)?)?;
        if bytes.len() != ID_LEN + MAC_LEN {
            return None;
        }
        let (id, tag) = bytes.split_at(ID_LEN);
        hmac::verify(&self.key, &Self::message(account, binding, id), tag).ok()?;
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
        let a = devices.issue(&alice, b"h").unwrap();
        let b = devices.issue(&alice, b"h").unwrap();
        let (ida, idb) = (
            devices.recognise(&a, &alice, b"h").unwrap(),
            devices.recognise(&b, &alice, b"h").unwrap(),
        );
        assert_ne!(ida, idb, "each browser its own id");
        assert!(
            devices
                .recognise(&a, &AccountId::generate().unwrap(), b"h")
                .is_none()
        );
        let other_server = KnownDevices::new(&ServerSecret::generate().unwrap());
        assert!(other_server.recognise(&a, &alice, b"h").is_none());
        let mut tampered = a.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        assert!(
            devices
                .recognise(&String::from_utf8(tampered).unwrap(), &alice, b"h")
                .is_none()
        );
        assert!(
            devices.recognise(&a[4..], &alice, b"h").is_none(),
            "prefix required"
        );
        assert!(
            devices.recognise(&a, &alice, b"changed").is_none(),
            "a new password ends it"
        );
    }

    #[test]
    fn budget_tags_hide_what_was_typed_and_are_stable_per_server() {
        let secret = ServerSecret::generate().unwrap();
        let devices = KnownDevices::new(&secret);
        let tag = devices.budget_tag("hunter2-typed-as-a-name");
        assert!(!tag.contains("hunter2"));
        assert_eq!(
            tag,
            KnownDevices::new(&secret).budget_tag("hunter2-typed-as-a-name")
        );
        assert_ne!(tag, devices.budget_tag("alice"));
        let other = KnownDevices::new(&ServerSecret::generate().unwrap());
        assert_ne!(tag, other.budget_tag("hunter2-typed-as-a-name"), "keyed");
    }

    proptest! {
        #[test]
        fn recognise_never_panics(s in any::<String>()) {
            let devices = KnownDevices::new(&ServerSecret::generate().unwrap());
            prop_assert!(devices.recognise(&s, &AccountId::generate().unwrap(), b"h").is_none());
        }
    }
}
