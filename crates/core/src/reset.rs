//! One-time password-reset links, for recovery without email: an operator runs
//! `tessera users reset-link NAME` and hands the link to the person by a channel they trust.
//!
//! A link names the account and its end time, signed with a key derived from the server
//! secret over the account's current password hash as well. Nothing is stored, so nothing
//! can leak at rest; the link works once, because setting a password changes the hash it is
//! bound to; and it ends at its end time or when the password changes some other way.
//!
//! ```
//! use tessera::{AccountId, ResetLinks, ServerSecret, Timestamp};
//! let links = ResetLinks::new(&ServerSecret::generate().unwrap());
//! let alice = AccountId::generate().unwrap();
//! let now = Timestamp::from_secs(1_700_000_000);
//! let token = links.issue(&alice, b"hash", now.plus(std::time::Duration::from_secs(3600)));
//! assert_eq!(links.account_of(&token), Some(alice.clone()));
//! assert!(links.check(&token, &alice, b"hash", now));
//! assert!(!links.check(&token, &alice, b"new hash", now), "used: the password changed");
//! ```

use ring::hmac;

use crate::encoding::{b64_decode, b64_encode};
use crate::{AccountId, ServerSecret, Timestamp};

const PREFIX: &str = "tsr1_";

/// Issues and checks password-reset links.
pub struct ResetLinks {
    key: hmac::Key,
}

impl std::fmt::Debug for ResetLinks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResetLinks(..)")
    }
}

/// A link's parts: the account, its end, and the signature.
struct Parts {
    account: AccountId,
    until: i64,
    tag: Vec<u8>,
}

impl ResetLinks {
    /// The longest a link works: one that claims a later end is refused (a long-lived link
    /// is a standing way in, and only a forger, or an older build, would make one).
    pub const MAX_LIFETIME: std::time::Duration = std::time::Duration::from_secs(86_400);

    /// Keyed from `secret` (every node shares it, so a link works on any node).
    pub fn new(secret: &ServerSecret) -> Self {
        Self {
            key: secret.derive("tessera/v1/reset-link"),
        }
    }

    fn message(account: &AccountId, until: i64, binding: &[u8]) -> Vec<u8> {
        let binding = ring::digest::digest(&ring::digest::SHA256, binding);
        [
            b"reset\0",
            account.as_str().as_bytes(),
            b"\0",
            until.to_string().as_bytes(),
            b"\0",
            binding.as_ref(),
        ]
        .concat()
    }

    /// A token for `account`, valid until `until` while `binding` (its password hash) stays
    /// the same.
    pub fn issue(&self, account: &AccountId, binding: &[u8], until: Timestamp) -> String {
        let until = until.as_secs();
        let tag = hmac::sign(&self.key, &Self::message(account, until, binding));
        format!(
            "{PREFIX}{}.{until}.{}",
            account.as_str(),
            b64_encode(tag.as_ref())
        )
    }

    fn parts(token: &str) -> Option<Parts> {
        let rest = token.strip_prefix(PREFIX)?;
        let mut fields = rest.split('.');
        let (Some(account), Some(until), Some(tag), None) =
            (fields.next(), fields.next(), fields.next(), fields.next())
        else {
            return None;
        };
        Some(Parts {
            account: account.parse().ok()?,
            until: until.parse().ok()?,
            tag: b64_decode(tag)?,
        })
    }

    /// The account a token names, to look up its password hash. Says nothing of validity.
    pub fn account_of(&self, token: &str) -> Option<AccountId> {
        Self::parts(token).map(|p| p.account)
    }

    /// Whether `token` is a live link for `account` with password hash `binding` at `now`
    /// (the signature compared in constant time).
    pub fn check(&self, token: &str, account: &AccountId, binding: &[u8], now: Timestamp) -> bool {
        let Some(p) = Self::parts(token) else {
            return false;
        };
        let latest = now.plus(Self::MAX_LIFETIME).as_secs();
        p.account == *account
            && now.as_secs() < p.until
            && p.until <= latest
            && hmac::verify(&self.key, &Self::message(account, p.until, binding), &p.tag).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_end_at_their_time_on_use_and_when_forged() {
        let links = ResetLinks::new(&ServerSecret::generate().unwrap());
        let alice = AccountId::generate().unwrap();
        let bob = AccountId::generate().unwrap();
        let now = Timestamp::from_secs(1_700_000_000);
        let until = now.plus(std::time::Duration::from_secs(600));
        let token = links.issue(&alice, b"h1", until);
        assert!(links.check(&token, &alice, b"h1", now));
        assert!(!links.check(&token, &alice, b"h1", until), "ended");
        assert!(
            !links.check(&token, &alice, b"h2", now),
            "the password changed: used"
        );
        assert!(!links.check(&token, &bob, b"h1", now), "another account");
        let other = ResetLinks::new(&ServerSecret::generate().unwrap());
        assert!(
            !other.check(&token, &alice, b"h1", now),
            "another deployment's key"
        );
        let later = token.replace(
            &until.as_secs().to_string(),
            &(until.as_secs() + 9999).to_string(),
        );
        assert!(
            !links.check(&later, &alice, b"h1", now),
            "its end time is signed"
        );
        let standing = links.issue(&alice, b"h1", now.plus(ResetLinks::MAX_LIFETIME * 2));
        assert!(
            !links.check(&standing, &alice, b"h1", now),
            "an end past the longest a link works"
        );
        let longest = links.issue(&alice, b"h1", now.plus(ResetLinks::MAX_LIFETIME));
        assert!(links.check(&longest, &alice, b"h1", now));
        for junk in [
            "",
            "tsr1_",
            "tsr1_a.b.c",
            "tsr1_..",
            "nope",
            &format!("{token}.x"),
        ] {
            assert!(!links.check(junk, &alice, b"h1", now), "{junk}");
        }
    }
}
