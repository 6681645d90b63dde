//! The keyset as a store keeps it: one JSON document, our keys with their private halves
//! sealed under the key-encryption key, and other systems' trusted public keys sealed too (a
//! key planted in the store would let its owner forge tokens).

use serde::{Deserialize, Serialize};

use super::keyset::{KeyEntry, KeyState, TrustedKey};
use super::{Algorithm, Jwk, SigningKey, VerifyingKey};
use crate::encoding::{b64_decode, b64_encode};
use crate::{Error, Sealer, Timestamp};

const SIGNING_KEY: &str = "signing-key";
const TRUSTED_KEY: &str = "trusted-key";

/// One item of the stored document: a key of ours, or another system's trusted public key.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
pub(super) enum Stored {
    Key(StoredKey),
    Trusted(StoredTrusted),
}

/// A trusted key: public, but sealed when a sealer is configured all the same, so that a key
/// planted in the store (which would let its owner forge tokens) does not open.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StoredTrusted {
    trusted_kid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sealed: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    clear: Option<TrustedBody>,
}

#[derive(Serialize, Deserialize)]
struct TrustedBody {
    jwk: Jwk,
    until: Timestamp,
}

impl StoredTrusted {
    pub(super) fn seal(t: &TrustedKey, sealer: Option<&Sealer>) -> Result<Self, Error> {
        let jwk = t.key.to_jwk().ok_or(Error::Crypto)?;
        let body = TrustedBody {
            jwk,
            until: t.until,
        };
        let kid = t.key.kid().to_owned();
        let (sealed, clear) = match sealer {
            Some(s) => {
                let bytes = serde_json::to_vec(&body).map_err(|_| Error::Crypto)?;
                (Some(b64_encode(&s.seal(TRUSTED_KEY, &kid, &bytes)?)), None)
            }
            None => (None, Some(body)),
        };
        Ok(Self {
            trusted_kid: kid,
            sealed,
            clear,
        })
    }

    /// The trusted key, and whether it was sealed.
    pub(super) fn open(self, sealer: Option<&Sealer>) -> Result<(TrustedKey, bool), Error> {
        let bad = || Error::InvalidKey("keyset document");
        let (body, sealed) = match (self.sealed, self.clear, sealer) {
            (Some(sealed), None, Some(s)) => {
                let bytes = s.open(
                    TRUSTED_KEY,
                    &self.trusted_kid,
                    &b64_decode(&sealed).ok_or_else(bad)?,
                )?;
                (
                    serde_json::from_slice::<TrustedBody>(&bytes).map_err(|_| bad())?,
                    true,
                )
            }
            (None, Some(body), _) => (body, false),
            _ => return Err(bad()),
        };
        if body.jwk.kid != self.trusted_kid {
            return Err(bad());
        }
        let key = VerifyingKey::from_jwk(&body.jwk)?.accepted_until(body.until);
        Ok((
            TrustedKey {
                key,
                until: body.until,
            },
            sealed,
        ))
    }
}

#[derive(Serialize, Deserialize)]
pub(super) struct StoredKey {
    kid: String,
    alg: Algorithm,
    state: KeyState,
    since: Timestamp,
    /// The private key sealed (base64url of the envelope).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sealed: Option<String>,
    /// The private key in clear: only in documents written before sealing existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    material: Option<String>,
}

impl StoredKey {
    pub(super) fn seal(e: &KeyEntry, sealer: Option<&Sealer>) -> Result<Self, Error> {
        let kid = e.key.kid().to_owned();
        let (sealed, material) = match sealer {
            Some(s) => (
                Some(b64_encode(&s.seal(SIGNING_KEY, &kid, e.key.material())?)),
                None,
            ),
            None => (None, Some(b64_encode(e.key.material()))),
        };
        Ok(Self {
            kid,
            alg: e.key.algorithm(),
            state: e.state,
            since: e.since,
            sealed,
            material,
        })
    }

    /// The entry, and whether it was sealed (not in clear).
    pub(super) fn into_entry(self, sealer: Option<&Sealer>) -> Result<(KeyEntry, bool), Error> {
        let bad = || Error::InvalidKey("keyset document");
        let (material, current) = match (self.sealed, self.material) {
            (Some(sealed), None) => {
                let sealed = b64_decode(&sealed).ok_or_else(bad)?;
                let sealer = sealer.ok_or(Error::InvalidKey(
                    "the signing keys are sealed: configure the key-encryption key",
                ))?;
                (sealer.open(SIGNING_KEY, &self.kid, &sealed)?, true)
            }
            (None, Some(clear)) => (b64_decode(&clear).ok_or_else(bad)?, false),
            _ => return Err(bad()),
        };
        let key = SigningKey::from_material(self.kid, self.alg, material)?;
        let entry = KeyEntry {
            key,
            state: self.state,
            since: self.since,
        };
        Ok((entry, current))
    }
}
