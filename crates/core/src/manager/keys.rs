//! The manager's signing keys: loaded from the store, rotated on schedule, shared by all nodes
//! through the store's compare-and-save.

use std::sync::{Arc, PoisonError};
use std::time::Duration;

use super::SessionManager;
use crate::jwt::{ImportedKey, Keyset, SigningKey, Validation, VerifiedCache, Verifier};
use crate::{Clock, Error, Store};

/// A keyset with the verifier built from it and the cache of tokens it verified, swapped as
/// one: a key change starts an empty cache.
pub(super) struct KeyRing {
    pub keyset: Keyset,
    pub verifier: Verifier,
    pub cache: VerifiedCache,
    /// The stored keyset's version it was built from (`None`: not from the store).
    version: Option<u64>,
}

impl KeyRing {
    pub fn empty(validation: &Validation) -> Self {
        Self::new(Keyset::new(), validation, None)
    }

    fn new(keyset: Keyset, validation: &Validation, version: Option<u64>) -> Self {
        let verifier = Verifier::new(validation.clone(), keyset.verifying_keys());
        Self {
            keyset,
            verifier,
            cache: VerifiedCache::default(),
            version,
        }
    }
}

/// One signing key as listed for operators: never its material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySummary {
    /// Key id.
    pub kid: String,
    /// Algorithm.
    pub algorithm: crate::Algorithm,
    /// State.
    pub state: crate::jwt::KeyState,
    /// When it entered that state.
    pub since: crate::Timestamp,
}

/// The setting that marks a store whose secrets are sealed: from then on, one found in clear
/// was put there by someone else and is refused.
pub const SEALED_SETTING: &str = "sealed-at-rest";

/// Attempts at a keyset compare-and-save before giving up (another node keeps winning).
const SAVE_ATTEMPTS: usize = 5;

impl<S: Store, C: Clock> SessionManager<S, C> {
    /// Loads the keyset from the store, applies any rotation that is due (generating the first
    /// keys on an empty store) and saves it back with compare-and-save, so concurrent nodes
    /// agree on one keyset. Returns whether this call changed the stored keyset.
    ///
    /// # Errors
    /// Store errors, key generation errors, or [`Error::Conflict`] if other writers keep winning.
    pub async fn sync_keys(&self) -> Result<bool, Error> {
        self.update_keys(|ks, policy, now| ks.rotate_due(policy, now))
            .await
    }

    /// Seals every key anew under the current key-encryption key (moving off a previous one)
    /// and saves the keyset. Run once every node has the new KEK: a node without it could no
    /// longer open the keys.
    ///
    /// # Errors
    /// As [`SessionManager::sync_keys`].
    pub async fn reseal_keys(&self) -> Result<(), Error> {
        self.update_keys(|_, _, _| Ok(true)).await.map(|_| ())
    }

    /// Promotes the next key now (on-demand rotation), saving through the store.
    ///
    /// # Errors
    /// As [`SessionManager::sync_keys`].
    pub async fn rotate_keys_now(&self) -> Result<(), Error> {
        self.update_keys(|ks, policy, now| ks.rotate_now(policy, now).map(|()| true))
            .await
            .map(|_| ())
    }

    /// Withdraws the key `kid` at once (see [`Keyset::withdraw`]): after a suspected
    /// compromise, its tokens must stop verifying now, not once it has retired. Audited; this
    /// node stops accepting them at once, running nodes at their next key sync. Returns
    /// whether the keyset held the key.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] where an HS256 secret pins the keyset; store errors.
    pub async fn withdraw_key(&self, kid: &str) -> Result<bool, Error> {
        if self.settings.hs256_secret.is_some() {
            return Err(Error::InvalidConfig(
                "the HS256 secret is the only key: change it in the configuration".into(),
            ));
        }
        let found = self
            .update_keys(|ks, policy, now| ks.withdraw(kid, policy, now))
            .await?;
        if found {
            let withdrawn = crate::AuditKind::KeyWithdrawn {
                kid: kid.to_owned(),
            };
            self.note(None, None, withdrawn).await;
        }
        Ok(found)
    }

    /// Takes another system's key into the keyset (see [`ImportedKey`]): a private key
    /// becomes the active signing key at once (the active key retires, as in a rotation); a
    /// public key is accepted and published for `trust_for`, then dropped. Audited; running
    /// nodes pick it up at their next key sync.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] where an HS256 secret pins the keyset; [`Error::InvalidKey`]
    /// for a `kid` already in the keyset; store errors.
    pub async fn import_key(&self, key: ImportedKey, trust_for: Duration) -> Result<(), Error> {
        if self.settings.hs256_secret.is_some() {
            return Err(Error::InvalidConfig(
                "no key can be imported while an HS256 secret pins the keyset".into(),
            ));
        }
        match key {
            ImportedKey::Signing(signing) => {
                let (kid, alg) = (signing.kid().to_owned(), signing.algorithm());
                let material = signing.material().to_vec();
                self.update_keys(|ks, _, now| {
                    let key = SigningKey::from_material(kid.clone(), alg, material.clone())?;
                    ks.import_signing(key, now).map(|()| true)
                })
                .await?;
            }
            ImportedKey::Verifying(verifying) => {
                let kid = verifying.kid().to_owned();
                let until = self.clock.now().plus(trust_for);
                self.update_keys(|ks, _, _| ks.trust((*verifying).clone(), until).map(|()| true))
                    .await?;
                let trusted = crate::AuditKind::KeyTrusted { kid, until };
                self.note(None, None, trusted).await;
            }
        }
        Ok(())
    }

    async fn update_keys(
        &self,
        change: impl Fn(&mut Keyset, &crate::RotationPolicy, crate::Timestamp) -> Result<bool, Error>,
    ) -> Result<bool, Error> {
        if let Some(secret) = &self.settings.hs256_secret {
            if self.ring().keyset.active().is_none() {
                let keyset = Keyset::pinned(secret.key()?, self.clock.now());
                self.install(keyset, None);
            }
            return Ok(false);
        }
        let sealer = self.settings.sealer.as_ref();
        for _ in 0..SAVE_ATTEMPTS {
            let stored = self.store.load_keyset().await?;
            let (mut keyset, clear) = match &stored {
                Some(s) => Keyset::from_document(&s.document, sealer)?,
                None => (Keyset::new(), false),
            };
            if clear && sealer.is_some() && self.store.get_setting(SEALED_SETTING).await?.is_some()
            {
                return Err(Error::InvalidKey(
                    "a signing key is in clear in a store whose keys are sealed: a planted key?",
                ));
            }
            let active_before = keyset.active().map(|k| k.kid().to_owned());
            let changed = change(&mut keyset, &self.settings.rotation, self.clock.now())?;
            let mut version = stored.as_ref().map(|s| s.version);
            // Keys in clear (stored before sealing existed) are sealed now.
            if changed || (clear && sealer.is_some()) {
                let document = keyset.to_document(sealer)?;
                if !self
                    .store
                    .save_keyset(stored.map(|s| s.version), &document)
                    .await?
                {
                    continue; // another node saved first: start again from its keyset
                }
                version = Some(version.map_or(1, |v| v + 1));
                if sealer.is_some() {
                    self.store.init_setting(SEALED_SETTING, b"1").await?;
                }
            }
            let active = keyset.active().map(|k| k.kid().to_owned());
            // Unchanged keys keep their ring, and with it the cache of verified tokens.
            if version.is_none() || self.ring().version != version {
                self.install(keyset, version);
            }
            if let Some(kid) = active.filter(|kid| changed && active_before.as_ref() != Some(kid)) {
                self.note(None, None, crate::AuditKind::KeyRotated { kid })
                    .await;
            }
            return Ok(changed);
        }
        Err(Error::Conflict)
    }

    /// Other systems' public keys accepted for now (`kid`, algorithm, accepted until).
    pub fn trusted_keys(&self) -> Vec<(String, crate::Algorithm, crate::Timestamp)> {
        let ring = Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner));
        ring.keyset
            .trusted()
            .iter()
            .map(|t| (t.key().kid().to_owned(), t.key().algorithm(), t.until()))
            .collect()
    }

    /// The keys in use, with their states.
    pub fn key_entries(&self) -> Vec<KeySummary> {
        let ring = Arc::clone(&self.keys.read().unwrap_or_else(PoisonError::into_inner));
        ring.keyset
            .entries()
            .iter()
            .map(|e| KeySummary {
                kid: e.key().kid().to_owned(),
                algorithm: e.key().algorithm(),
                state: e.state(),
                since: e.since(),
            })
            .collect()
    }

    fn install(&self, keyset: Keyset, version: Option<u64>) {
        let ring = Arc::new(KeyRing::new(keyset, &self.settings.validation, version));
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = ring;
    }
}
