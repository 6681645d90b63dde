//! Secrets at rest, sealed: envelope encryption under a key-encryption key (KEK) that is never
//! kept in the store, so a copy of the database (or a Redis dump) alone yields no signing key
//! and no server secret.
//!
//! Each value gets its own random data key; the value is sealed under the data key with
//! AES-256-GCM, and the data key under the KEK. Both carry the value's purpose and id as
//! associated data, so a sealed value cannot be moved to another slot (a retired key's blob
//! passed off as the active one, a signing key as the server secret). The envelope names its
//! KEK by fingerprint: a node configured with a new KEK and the previous ones still opens what
//! the old KEK sealed, and re-sealing moves it over.
//!
//! ```
//! use tessera::{KeyEncryptionKey, Sealer};
//! let sealer = Sealer::new(KeyEncryptionKey::generate().unwrap(), Vec::new());
//! let sealed = sealer.seal("signing-key", "kid-1", b"private").unwrap();
//! assert_eq!(sealer.open("signing-key", "kid-1", &sealed).unwrap(), b"private");
//! assert!(sealer.open("signing-key", "kid-2", &sealed).is_err());
//! ```

use std::fmt;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::digest;

use crate::encoding::{b64_decode, b64_encode};
use crate::{Error, random};

const MAGIC: &[u8; 4] = b"tsl1";
const ID_LEN: usize = 8;
const KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;
const WRAPPED_LEN: usize = NONCE_LEN + KEY_LEN + TAG_LEN;
const HEADER_LEN: usize = MAGIC.len() + ID_LEN + WRAPPED_LEN + NONCE_LEN;

/// A key-encryption key: 32 random bytes, written as base64url. `Debug` shows only its
/// fingerprint.
#[derive(Clone)]
pub struct KeyEncryptionKey {
    key: [u8; KEY_LEN],
    id: [u8; ID_LEN],
}

impl KeyEncryptionKey {
    /// A fresh key from the OS CSPRNG.
    ///
    /// # Errors
    /// [`Error::Random`] if the CSPRNG fails.
    pub fn generate() -> Result<Self, Error> {
        Ok(Self::from_bytes(random::bytes()?))
    }

    /// Reads the textual form (base64url of 32 bytes, padding optional).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for anything else.
    pub fn parse(text: &str) -> Result<Self, Error> {
        const BAD: &str = "a key-encryption key is 32 random bytes in base64url";
        let bytes = b64_decode(text.trim().trim_end_matches('=')).ok_or(Error::InvalidKey(BAD))?;
        let key: [u8; KEY_LEN] = bytes.try_into().map_err(|_| Error::InvalidKey(BAD))?;
        if key.iter().all(|b| *b == key[0]) {
            return Err(Error::InvalidKey(
                "a key-encryption key must be random, not one repeated byte",
            ));
        }
        Ok(Self::from_bytes(key))
    }

    fn from_bytes(key: [u8; KEY_LEN]) -> Self {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(b"tessera-kek-id\0");
        ctx.update(&key);
        let mut id = [0u8; ID_LEN];
        id.copy_from_slice(&ctx.finish().as_ref()[..ID_LEN]);
        Self { key, id }
    }

    /// The textual form, to keep in a setting or a 0600 file. Never log it.
    pub fn expose(&self) -> String {
        b64_encode(&self.key)
    }

    /// A public fingerprint naming the key in messages and envelopes (16 hex digits).
    pub fn fingerprint(&self) -> String {
        hex(&self.id)
    }

    fn aead(&self) -> Result<LessSafeKey, Error> {
        aead_key(&self.key)
    }
}

impl fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyEncryptionKey({})", self.fingerprint())
    }
}

/// Seals with the current KEK; opens with it or any previous one.
#[derive(Debug, Clone)]
pub struct Sealer {
    current: KeyEncryptionKey,
    previous: Vec<KeyEncryptionKey>,
}

impl Sealer {
    /// Seals under `current`; also opens what any of `previous` sealed (during a move to a new
    /// KEK).
    pub fn new(current: KeyEncryptionKey, previous: Vec<KeyEncryptionKey>) -> Self {
        Self { current, previous }
    }

    /// A sealer under a fresh random KEK that lives only as long as this process: right for
    /// an in-memory store, wrong for any store that outlives the process (its sealed values
    /// could not be opened after a restart, which fails loudly).
    ///
    /// # Errors
    /// [`Error::Random`] if the CSPRNG fails.
    pub fn ephemeral() -> Result<Self, Error> {
        Ok(Self::new(KeyEncryptionKey::generate()?, Vec::new()))
    }

    /// The KEK new values are sealed under.
    pub fn current(&self) -> &KeyEncryptionKey {
        &self.current
    }

    /// Seals `plaintext` for the slot (`purpose`, `id`).
    ///
    /// # Errors
    /// [`Error::Random`] or [`Error::Crypto`].
    pub fn seal(&self, purpose: &str, id: &str, plaintext: &[u8]) -> Result<Vec<u8>, Error> {
        let dek: [u8; KEY_LEN] = random::bytes()?;
        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.current.id);
        out.extend_from_slice(&seal_with(
            &self.current.aead()?,
            &aad("dek", purpose, id),
            &dek,
        )?);
        out.extend_from_slice(&seal_with(
            &aead_key(&dek)?,
            &aad("value", purpose, id),
            plaintext,
        )?);
        Ok(out)
    }

    /// Opens a value sealed for the slot (`purpose`, `id`).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] naming the missing KEK when none configured sealed it, or when the
    /// envelope was altered, truncated or belongs to another slot.
    pub fn open(&self, purpose: &str, id: &str, sealed: &[u8]) -> Result<Vec<u8>, Error> {
        let tampered = Error::InvalidKey("a sealed value is corrupt or belongs to another slot");
        let (kek_id, rest) = envelope(sealed).ok_or(Error::InvalidKey("a value is not sealed"))?;
        let kek = self.kek(kek_id).ok_or(Error::InvalidKey(
            "a value is sealed under a key-encryption key that is not configured \
             (set key_encryption_key, or list the old one in previous_key_encryption_keys)",
        ))?;
        let (wrapped, value) = rest.split_at(WRAPPED_LEN);
        let dek = open_with(&kek.aead()?, &aad("dek", purpose, id), wrapped).ok_or(tampered)?;
        let dek: [u8; KEY_LEN] = dek
            .try_into()
            .map_err(|_| Error::InvalidKey("a sealed data key has the wrong length"))?;
        open_with(&aead_key(&dek)?, &aad("value", purpose, id), value)
            .ok_or(Error::InvalidKey("a sealed value is corrupt"))
    }

    /// Whether `bytes` is an envelope sealed under the current KEK (else it needs re-sealing:
    /// a value stored in clear before sealing existed, or one under a previous KEK).
    pub fn is_current(&self, bytes: &[u8]) -> bool {
        envelope(bytes).is_some_and(|(id, _)| id == self.current.id)
    }

    /// Whether `bytes` looks like a sealed envelope at all.
    pub fn is_sealed(bytes: &[u8]) -> bool {
        envelope(bytes).is_some()
    }

    fn kek(&self, id: &[u8]) -> Option<&KeyEncryptionKey> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == id)
    }
}

/// The KEK id and the rest of an envelope, if `bytes` is one.
fn envelope(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    if rest.len() < ID_LEN + WRAPPED_LEN + NONCE_LEN + TAG_LEN {
        return None;
    }
    Some(rest.split_at(ID_LEN))
}

fn aad(layer: &str, purpose: &str, id: &str) -> Vec<u8> {
    format!("tessera-seal\0{layer}\0{purpose}\0{id}").into_bytes()
}

fn aead_key(key: &[u8; KEY_LEN]) -> Result<LessSafeKey, Error> {
    UnboundKey::new(&AES_256_GCM, key)
        .map(LessSafeKey::new)
        .map_err(|_| Error::Crypto)
}

/// nonce || ciphertext || tag, with a fresh random nonce (each key seals very few values).
fn seal_with(key: &LessSafeKey, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, Error> {
    let nonce: [u8; NONCE_LEN] = random::bytes()?;
    let mut buf = plaintext.to_vec();
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad),
        &mut buf,
    )
    .map_err(|_| Error::Crypto)?;
    let mut out = nonce.to_vec();
    out.append(&mut buf);
    Ok(out)
}

fn open_with(key: &LessSafeKey, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let (nonce, ciphertext) = sealed.split_first_chunk::<NONCE_LEN>()?;
    let mut buf = ciphertext.to_vec();
    let plain = key
        .open_in_place(
            Nonce::assume_unique_for_key(*nonce),
            Aad::from(aad),
            &mut buf,
        )
        .ok()?;
    Some(plain.to_vec())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sealer() -> Sealer {
        Sealer::new(KeyEncryptionKey::generate().unwrap(), Vec::new())
    }

    #[test]
    fn round_trips_and_hides_the_plaintext() {
        let s = sealer();
        let secret = b"a private key that must not leak";
        let sealed = s.seal("signing-key", "k1", secret).unwrap();
        assert!(!sealed.windows(secret.len()).any(|w| w == secret));
        assert_eq!(s.open("signing-key", "k1", &sealed).unwrap(), secret);
        assert!(s.is_current(&sealed));
        assert_ne!(
            sealed,
            s.seal("signing-key", "k1", secret).unwrap(),
            "fresh keys"
        );
    }

    #[test]
    fn another_slot_another_kek_or_any_bit_flip_is_refused() {
        let s = sealer();
        let sealed = s.seal("signing-key", "k1", b"value").unwrap();
        assert!(s.open("signing-key", "k2", &sealed).is_err(), "other id");
        assert!(
            s.open("server-secret", "k1", &sealed).is_err(),
            "other purpose"
        );
        let err = sealer().open("signing-key", "k1", &sealed).unwrap_err();
        assert!(err.to_string().contains("not configured"), "{err}");
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(s.open("signing-key", "k1", &bad).is_err(), "flip at {i}");
        }
        assert!(
            s.open("signing-key", "k1", &sealed[..sealed.len() - 1])
                .is_err()
        );
        assert!(s.open("signing-key", "k1", b"value").is_err(), "clear text");
    }

    #[test]
    fn a_previous_kek_still_opens_during_a_move() {
        let old = sealer();
        let sealed = old.seal("server-secret", "server-secret", b"root").unwrap();
        let moved = Sealer::new(
            KeyEncryptionKey::generate().unwrap(),
            vec![old.current.clone()],
        );
        assert_eq!(
            moved
                .open("server-secret", "server-secret", &sealed)
                .unwrap(),
            b"root"
        );
        assert!(!moved.is_current(&sealed), "needs re-sealing");
        let resealed = moved
            .seal("server-secret", "server-secret", b"root")
            .unwrap();
        assert!(moved.is_current(&resealed));
        assert!(
            old.open("server-secret", "server-secret", &resealed)
                .is_err()
        );
    }

    #[test]
    fn keks_parse_strictly_and_never_print() {
        let k = KeyEncryptionKey::generate().unwrap();
        let text = k.expose();
        assert_eq!(KeyEncryptionKey::parse(&text).unwrap().id, k.id);
        assert_eq!(
            KeyEncryptionKey::parse(&format!("{text}=")).unwrap().id,
            k.id
        );
        assert!(!format!("{k:?}").contains(&text));
        assert!(format!("{k:?}").contains(&k.fingerprint()));
        assert!(KeyEncryptionKey::parse("short").is_err());
        assert!(
            KeyEncryptionKey::parse(&b64_encode(&[7u8; 32])).is_err(),
            "low entropy"
        );
        assert!(KeyEncryptionKey::parse(&b64_encode(&[1u8; 31])).is_err());
    }

    proptest! {
        #[test]
        fn opening_garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let s = sealer();
            let mut framed = MAGIC.to_vec();
            framed.extend_from_slice(&bytes);
            prop_assert!(s.open("p", "i", &bytes).is_err());
            prop_assert!(s.open("p", "i", &framed).is_err());
        }
    }
}
