//! Passwords: Argon2id with the OWASP-recommended parameters (19 MiB, 2 passes, 1 lane),
//! stored in the PHC string format so parameters can be raised later without breaking old
//! hashes. Hashing is CPU- and memory-heavy by design: run it off the async runtime, with a
//! bounded queue (the server does).

use std::fmt;

use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use subtle::ConstantTimeEq;

use crate::{Error, random};

/// Shortest accepted password, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;
/// Longest accepted password, in bytes (bounds the work an attacker can ask for).
pub const MAX_PASSWORD_BYTES: usize = 256;

const M_COST: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
const OUTPUT: usize = 32;

/// A password hash in PHC format (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`). Not secret as such,
/// but `Debug` shows only the parameters.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Hashes `password` with a fresh salt.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] for a password outside the length bounds; [`Error::Random`].
    pub fn new(password: &str) -> Result<Self, Error> {
        check_length(password)?;
        let salt: [u8; 16] = random::bytes()?;
        let hash = derive(password.as_bytes(), &salt, M_COST, T_COST, P_COST)?;
        Ok(Self(format!(
            "$argon2id$v=19$m={M_COST},t={T_COST},p={P_COST}${}${}",
            STANDARD_NO_PAD.encode(salt),
            STANDARD_NO_PAD.encode(hash)
        )))
    }

    /// A stored hash read back.
    ///
    /// # Errors
    /// [`Error::Malformed`] if it is not an Argon2id PHC string this crate can verify.
    pub fn from_stored(text: String) -> Result<Self, Error> {
        parse(&text).ok_or(Error::Malformed("password hash"))?;
        Ok(Self(text))
    }

    /// The PHC string to store.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `password` matches, compared in constant time.
    pub fn verify(&self, password: &str) -> bool {
        Self::check(Some(self), password)
    }

    /// Whether `password` matches `stored`; for an account that does not exist (`None`),
    /// `false` after the same work as a real check, so that neither the answer nor its time
    /// tells which accounts exist. A password over the length bound is refused before any
    /// work, the same way whether the account exists or not (the one path that did no work
    /// for an existing account used to tell it apart in a few milliseconds).
    pub fn check(stored: Option<&Self>, password: &str) -> bool {
        if password.len() > MAX_PASSWORD_BYTES {
            return false;
        }
        let Some(stored) = stored else {
            let _ = derive(password.as_bytes(), &[0u8; 16], M_COST, T_COST, P_COST);
            return false;
        };
        let Some((m, t, p, salt, expected)) = parse(&stored.0) else {
            return false;
        };
        derive(password.as_bytes(), &salt, m, t, p).is_ok_and(|got| got.ct_eq(&expected).into())
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(argon2id, ..)")
    }
}

/// Checks the length bounds.
///
/// # Errors
/// [`Error::InvalidInput`] when outside them.
pub fn check_length(password: &str) -> Result<(), Error> {
    if password.chars().count() < MIN_PASSWORD_CHARS || password.len() > MAX_PASSWORD_BYTES {
        return Err(Error::InvalidInput(
            "a password must have 8 to 256 characters",
        ));
    }
    Ok(())
}

#[cfg(test)]
thread_local! {
    /// Argon2id derivations run on this thread, for the tests that compare the work of paths.
    static DERIVED: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

fn derive(password: &[u8], salt: &[u8], m: u32, t: u32, p: u32) -> Result<Vec<u8>, Error> {
    #[cfg(test)]
    DERIVED.with(|d| d.set(d.get() + 1));
    let params = Params::new(m, t, p, Some(OUTPUT)).map_err(|_| Error::Crypto)?;
    let mut out = vec![0u8; OUTPUT];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(password, salt, &mut out)
        .map_err(|_| Error::Crypto)?;
    Ok(out)
}

type Parsed = (u32, u32, u32, Vec<u8>, Vec<u8>);

fn parse(text: &str) -> Option<Parsed> {
    let mut parts = text.strip_prefix("$argon2id$v=19$")?.split('$');
    let (params, salt, hash) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let mut m = None;
    let mut t = None;
    let mut p = None;
    for kv in params.split(',') {
        let (k, v) = kv.split_once('=')?;
        let v: u32 = v.parse().ok()?;
        match k {
            "m" => m = Some(v),
            "t" => t = Some(v),
            "p" => p = Some(v),
            _ => return None,
        }
    }
    // Refuse absurd parameters from a tampered store: they would make verification a DoS.
    let (m, t, p) = (m?, t?, p?);
    if m > 1024 * 1024 || t > 16 || p > 8 {
        return None;
    }
    let salt = STANDARD_NO_PAD.decode(salt).ok()?;
    let hash = STANDARD_NO_PAD.decode(hash).ok()?;
    (hash.len() == OUTPUT && salt.len() >= 8).then_some((m, t, p, salt, hash))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_only_the_right_password() {
        let h = PasswordHash::new("correct horse battery").unwrap();
        assert!(h.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(h.verify("correct horse battery"));
        assert!(!h.verify("correct horse batterz"));
        assert!(!h.verify(""));
        let again = PasswordHash::new("correct horse battery").unwrap();
        assert_ne!(again, h, "salted");
        let stored = PasswordHash::from_stored(h.as_str().to_owned()).unwrap();
        assert!(stored.verify("correct horse battery"));
        assert!(!format!("{h:?}").contains('$'));
    }

    /// The derivations `f` runs.
    fn derivations(f: impl FnOnce()) -> u32 {
        let before = DERIVED.with(std::cell::Cell::get);
        f();
        DERIVED.with(std::cell::Cell::get) - before
    }

    /// A known account and an unknown one cost the same work for any password: one
    /// derivation, or none for one over the length bound (timing tells neither apart).
    #[test]
    fn known_and_unknown_accounts_cost_the_same_work() {
        let h = PasswordHash::new("correct horse battery").unwrap();
        for (password, work) in [
            ("correct horse battery", 1),
            ("wrong", 1),
            (&"x".repeat(256) as &str, 1),
            (&"x".repeat(257), 0),
            (&"é".repeat(200), 0),
        ] {
            for stored in [Some(&h), None] {
                let spent = derivations(|| {
                    let ok = PasswordHash::check(stored, password);
                    assert_eq!(ok, stored.is_some() && password == "correct horse battery");
                });
                assert_eq!(
                    spent,
                    work,
                    "{} bytes, known: {}",
                    password.len(),
                    stored.is_some()
                );
            }
        }
    }

    #[test]
    fn lengths_are_bounded() {
        assert!(PasswordHash::new("short").is_err());
        assert!(PasswordHash::new(&"x".repeat(257)).is_err());
        assert!(
            check_length("ünïcödé!").is_ok(),
            "eight characters, more bytes"
        );
    }

    #[test]
    fn tampered_or_foreign_hashes_are_refused() {
        let h = PasswordHash::new("correct horse battery").unwrap();
        for bad in [
            "",
            "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA",
            &h.as_str().replace("m=19456", "m=99999999"),
            &h.as_str().replace("t=2", "t=2,x=1"),
            &format!("{}$extra", h.as_str()),
        ] {
            assert!(PasswordHash::from_stored(bad.to_owned()).is_err(), "{bad}");
        }
    }
}
