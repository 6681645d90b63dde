//! The signing keyset: keys move *next* → *active* → *retired* → gone, driven by the clock.
//!
//! A *next* key is published before it signs anything, so verifiers that cache the JWKS already
//! know it when it starts signing; a *retired* key stays published until every token it signed
//! has expired. Exactly one key is active.
//!
//! Keys of another system can join (see [`super::ImportedKey`]): a private key becomes the
//! active key at once, a public key is *trusted* (published and accepted, never signing) until
//! a set time, so tokens the old system issued keep verifying while they live.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::stored::{Stored, StoredKey, StoredTrusted};
use super::{Algorithm, JwkSet, SigningKey, VerifyingKey};
use crate::{Error, Sealer, Timestamp};

/// Where a key is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Published, not yet signing.
    Next,
    /// Signs new tokens.
    Active,
    /// Published until the tokens it signed have expired.
    Retired,
}

/// When keys rotate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationPolicy {
    /// Algorithm of newly generated keys.
    pub algorithm: Algorithm,
    /// How long a key signs before the next one takes over.
    pub rotate_every: Duration,
    /// How long a next key is published before it may sign (cover verifiers' JWKS cache time).
    pub publish_ahead: Duration,
    /// How long a retired key stays published: the longest access-token lifetime plus leeway.
    pub retire_after: Duration,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        Self {
            algorithm: Algorithm::EdDSA,
            rotate_every: Duration::from_secs(30 * 24 * 3600),
            publish_ahead: Duration::from_secs(3600),
            retire_after: Duration::from_secs(20 * 60),
        }
    }
}

impl RotationPolicy {
    /// Checks the policy for values that would break verifiers.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] if the interval is not longer than the publish-ahead time.
    pub fn validate(&self) -> Result<(), Error> {
        if self.rotate_every <= self.publish_ahead {
            return Err(Error::InvalidConfig(
                "key rotation interval must exceed the publish-ahead time".into(),
            ));
        }
        Ok(())
    }
}

/// A key with its state and the instants it changed state.
#[derive(Debug)]
pub struct KeyEntry {
    pub(super) key: SigningKey,
    pub(super) state: KeyState,
    pub(super) since: Timestamp,
}

impl KeyEntry {
    /// The key.
    pub fn key(&self) -> &SigningKey {
        &self.key
    }

    /// Its state.
    pub fn state(&self) -> KeyState {
        self.state
    }

    /// When it entered that state.
    pub fn since(&self) -> Timestamp {
        self.since
    }
}

/// The set of signing keys.
#[derive(Default)]
pub struct Keyset {
    entries: Vec<KeyEntry>,
    trusted: Vec<TrustedKey>,
}

/// Another system's public key: accepted (and published) until `until`, never signing.
#[derive(Clone)]
pub struct TrustedKey {
    pub(super) key: VerifyingKey,
    pub(super) until: Timestamp,
}

impl TrustedKey {
    /// The key.
    pub fn key(&self) -> &VerifyingKey {
        &self.key
    }

    /// When it stops being accepted.
    pub fn until(&self) -> Timestamp {
        self.until
    }
}

impl Keyset {
    /// An empty keyset; the first [`Keyset::rotate_due`] fills it.
    pub fn new() -> Self {
        Self::default()
    }

    /// A keyset of one fixed, active key that never rotates: for an operator-supplied HS256
    /// secret shared with the verifiers (rotating it means changing configuration everywhere).
    pub fn pinned(key: SigningKey, now: Timestamp) -> Self {
        Self {
            entries: vec![KeyEntry {
                key,
                state: KeyState::Active,
                since: now,
            }],
            trusted: Vec::new(),
        }
    }

    /// Makes `key` (another system's private key) the active key at `now`; the active key
    /// retires as in a rotation. The next rotation ends its turn as it would any key's.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] if its `kid` is taken.
    pub fn import_signing(&mut self, key: SigningKey, now: Timestamp) -> Result<(), Error> {
        self.check_kid_free(key.kid())?;
        for entry in &mut self.entries {
            if entry.state == KeyState::Active {
                entry.state = KeyState::Retired;
                entry.since = now;
            }
        }
        self.entries.push(KeyEntry {
            key,
            state: KeyState::Active,
            since: now,
        });
        Ok(())
    }

    /// Accepts tokens `key` (another system's public key) signed until `until`, and publishes
    /// it until then.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] if its `kid` is taken, or for an HS256 secret (never published).
    pub fn trust(&mut self, key: VerifyingKey, until: Timestamp) -> Result<(), Error> {
        self.check_kid_free(key.kid())?;
        if key.to_jwk().is_none() {
            return Err(Error::InvalidKey("only public keys can be trusted"));
        }
        let key = key.accepted_until(until);
        self.trusted.push(TrustedKey { key, until });
        Ok(())
    }

    fn check_kid_free(&self, kid: &str) -> Result<(), Error> {
        if self.verifying_keys().any(|k| k.kid() == kid) {
            return Err(Error::InvalidKey(
                "a key with this kid is in the keyset already",
            ));
        }
        Ok(())
    }

    /// The trusted keys of other systems.
    pub fn trusted(&self) -> &[TrustedKey] {
        &self.trusted
    }

    /// Applies every transition that is due at `now`: drops expired retired keys, ensures a
    /// published next key, activates one when none is active, and promotes the next key when the
    /// active one has signed for `rotate_every` and the next has been published long enough.
    /// Returns whether anything changed (and so needs saving).
    ///
    /// # Errors
    /// Key generation failures.
    pub fn rotate_due(&mut self, policy: &RotationPolicy, now: Timestamp) -> Result<bool, Error> {
        let before = self.entries.len() + self.trusted.len();
        self.entries
            .retain(|e| e.state != KeyState::Retired || now < e.since.plus(policy.retire_after));
        self.trusted.retain(|t| now < t.until);
        let mut changed = before != self.entries.len() + self.trusted.len();
        changed |= self.ensure_next(policy, now)?;
        let due = match (self.find(KeyState::Active), self.find(KeyState::Next)) {
            (None, _) => true,
            (Some(active), Some(next)) => {
                now >= active.since.plus(policy.rotate_every)
                    && now >= next.since.plus(policy.publish_ahead)
            }
            (Some(_), None) => false,
        };
        if due {
            self.promote(policy, now)?;
            changed = true;
        }
        Ok(changed)
    }

    /// Promotes the next key at once, whatever the schedule (on-demand rotation). The old key
    /// retires and still verifies its tokens: after a suspected compromise, withdraw it
    /// ([`Keyset::withdraw`]).
    ///
    /// # Errors
    /// Key generation failures.
    pub fn rotate_now(&mut self, policy: &RotationPolicy, now: Timestamp) -> Result<(), Error> {
        self.ensure_next(policy, now)?;
        self.promote(policy, now)
    }

    /// Withdraws the key `kid` at once, whatever its state (a suspected compromise): its
    /// tokens stop verifying as soon as a node installs the keyset, where a rotation would
    /// keep accepting them while the key is retired. The active key is first replaced by the
    /// next, as in a rotation; a withdrawn next key is replaced by a fresh one. Returns
    /// whether a key was withdrawn (`false` for a `kid` not in the keyset).
    ///
    /// # Errors
    /// Key generation failures.
    pub fn withdraw(
        &mut self,
        kid: &str,
        policy: &RotationPolicy,
        now: Timestamp,
    ) -> Result<bool, Error> {
        if self.active().is_some_and(|k| k.kid() == kid) {
            self.rotate_now(policy, now)?;
        }
        let before = self.entries.len() + self.trusted.len();
        self.entries.retain(|e| e.key.kid() != kid);
        self.trusted.retain(|t| t.key.kid() != kid);
        let withdrawn = before != self.entries.len() + self.trusted.len();
        self.ensure_next(policy, now)?;
        Ok(withdrawn)
    }

    fn ensure_next(&mut self, policy: &RotationPolicy, now: Timestamp) -> Result<bool, Error> {
        if let Some(next) = self.find(KeyState::Next) {
            if next.key.algorithm() == policy.algorithm {
                return Ok(false);
            }
            self.entries.retain(|e| e.state != KeyState::Next);
        }
        let key = SigningKey::generate(policy.algorithm)?;
        self.entries.push(KeyEntry {
            key,
            state: KeyState::Next,
            since: now,
        });
        Ok(true)
    }

    fn promote(&mut self, policy: &RotationPolicy, now: Timestamp) -> Result<(), Error> {
        for entry in &mut self.entries {
            let to = match entry.state {
                KeyState::Active => KeyState::Retired,
                KeyState::Next => KeyState::Active,
                KeyState::Retired => continue,
            };
            entry.state = to;
            entry.since = now;
        }
        self.ensure_next(policy, now).map(|_| ())
    }

    fn find(&self, state: KeyState) -> Option<&KeyEntry> {
        self.entries.iter().find(|e| e.state == state)
    }

    /// The key that signs new tokens.
    pub fn active(&self) -> Option<&SigningKey> {
        self.find(KeyState::Active).map(|e| &e.key)
    }

    /// Every key with its state.
    pub fn entries(&self) -> &[KeyEntry] {
        &self.entries
    }

    /// Keys a verifier accepts: every published key, trusted keys of other systems included.
    pub fn verifying_keys(&self) -> impl Iterator<Item = &VerifyingKey> {
        let own = self.entries.iter().map(|e| e.key.verifying_key());
        own.chain(self.trusted.iter().map(|t| &t.key))
    }

    /// The public JWKS: next, active and retired keys (never an HS256 secret).
    pub fn jwks(&self) -> JwkSet {
        JwkSet {
            keys: self
                .verifying_keys()
                .filter_map(VerifyingKey::to_jwk)
                .collect(),
        }
    }

    /// Serialises the keyset for a store: public facts in clear, each private key sealed
    /// under `sealer` for the slot (`signing-key`, its kid), or in clear without one.
    ///
    /// # Errors
    /// [`Error::Crypto`] or [`Error::Random`] if sealing fails.
    pub fn to_document(&self, sealer: Option<&Sealer>) -> Result<Vec<u8>, Error> {
        let own = self
            .entries
            .iter()
            .map(|e| StoredKey::seal(e, sealer).map(Stored::Key));
        let trusted = self
            .trusted
            .iter()
            .map(|t| StoredTrusted::seal(t, sealer).map(Stored::Trusted));
        let stored = own.chain(trusted).collect::<Result<Vec<_>, _>>()?;
        serde_json::to_vec(&stored).map_err(|_| Error::Crypto)
    }

    /// Reads a keyset written by [`Keyset::to_document`], and whether any key in it is in
    /// clear (written without a sealer, or before sealing existed). A key sealed under a
    /// previous KEK opens and is left as it is: moving it is [`SessionManager::reseal_keys`]'
    /// job, run once every node has the new KEK.
    ///
    /// [`SessionManager::reseal_keys`]: crate::SessionManager::reseal_keys
    ///
    /// # Errors
    /// [`Error::InvalidKey`] if the document or any key in it does not parse or open.
    pub fn from_document(bytes: &[u8], sealer: Option<&Sealer>) -> Result<(Self, bool), Error> {
        let stored: Vec<Stored> =
            serde_json::from_slice(bytes).map_err(|_| Error::InvalidKey("keyset document"))?;
        let mut clear = false;
        let mut keyset = Self::new();
        for item in stored {
            match item {
                Stored::Key(k) => {
                    let (entry, sealed) = k.into_entry(sealer)?;
                    clear |= !sealed;
                    keyset.entries.push(entry);
                }
                Stored::Trusted(t) => {
                    let (trusted, sealed) = t.open(sealer)?;
                    clear |= !sealed;
                    keyset.trusted.push(trusted);
                }
            }
        }
        Ok((keyset, clear))
    }
}

impl fmt::Debug for Keyset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.entries.iter().map(|e| (e.key.kid(), e.state)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoding::b64_encode;

    const HOUR: Duration = Duration::from_secs(3600);

    fn policy() -> RotationPolicy {
        RotationPolicy {
            algorithm: Algorithm::EdDSA,
            rotate_every: 24 * HOUR,
            publish_ahead: HOUR,
            retire_after: Duration::from_secs(15 * 60),
        }
    }

    fn states(ks: &Keyset) -> Vec<(String, KeyState)> {
        ks.entries()
            .iter()
            .map(|e| (e.key().kid().to_owned(), e.state()))
            .collect()
    }

    #[test]
    fn first_rotation_creates_active_and_next() {
        let mut ks = Keyset::new();
        assert!(ks.active().is_none());
        assert!(ks.rotate_due(&policy(), Timestamp::from_secs(0)).unwrap());
        let s = states(&ks);
        assert_eq!(
            s.iter().filter(|(_, st)| *st == KeyState::Active).count(),
            1
        );
        assert_eq!(s.iter().filter(|(_, st)| *st == KeyState::Next).count(), 1);
        assert!(
            !ks.rotate_due(&policy(), Timestamp::from_secs(60)).unwrap(),
            "nothing due"
        );
    }

    #[test]
    fn next_is_published_ahead_then_promoted_and_retired_key_expires() {
        let p = policy();
        let mut ks = Keyset::new();
        let t0 = Timestamp::from_secs(1_000_000);
        ks.rotate_due(&p, t0).unwrap();
        let first = ks.active().unwrap().kid().to_owned();
        let next = ks.find(KeyState::Next).unwrap().key().kid().to_owned();
        assert!(
            ks.jwks().keys.iter().any(|k| k.kid == next),
            "next key is published"
        );

        ks.rotate_due(&p, t0.plus(24 * HOUR)).unwrap();
        assert_eq!(ks.active().unwrap().kid(), next, "next became active");
        let retired = ks.find(KeyState::Retired).unwrap();
        assert_eq!(retired.key().kid(), first);
        assert_eq!(
            ks.jwks().keys.len(),
            3,
            "next, active and retired are all published"
        );

        ks.rotate_due(
            &p,
            t0.plus(24 * HOUR)
                .plus(p.retire_after)
                .minus(Duration::from_secs(1)),
        )
        .unwrap();
        assert!(
            ks.entries().iter().any(|e| e.key().kid() == first),
            "kept while its tokens live"
        );
        ks.rotate_due(&p, t0.plus(24 * HOUR).plus(p.retire_after))
            .unwrap();
        assert!(
            ks.entries().iter().all(|e| e.key().kid() != first),
            "dropped after"
        );
    }

    #[test]
    fn promotion_waits_for_publish_ahead() {
        let p = policy();
        let mut ks = Keyset::new();
        let t0 = Timestamp::from_secs(0);
        ks.rotate_due(&p, t0).unwrap();
        // Replace the next key late, as after an algorithm change: it is freshly published.
        let p2 = RotationPolicy {
            algorithm: Algorithm::ES256,
            ..p.clone()
        };
        let late = t0.plus(24 * HOUR).minus(Duration::from_secs(60));
        ks.rotate_due(&p2, late).unwrap();
        let active = ks.active().unwrap().kid().to_owned();
        ks.rotate_due(&p2, t0.plus(24 * HOUR)).unwrap();
        assert_eq!(
            ks.active().unwrap().kid(),
            active,
            "next not published long enough"
        );
        ks.rotate_due(&p2, late.plus(HOUR)).unwrap();
        assert_eq!(ks.active().unwrap().algorithm(), Algorithm::ES256);
    }

    #[test]
    fn rotate_now_promotes_immediately() {
        let p = policy();
        let mut ks = Keyset::new();
        ks.rotate_due(&p, Timestamp::from_secs(0)).unwrap();
        let before = ks.active().unwrap().kid().to_owned();
        ks.rotate_now(&p, Timestamp::from_secs(1)).unwrap();
        assert_ne!(ks.active().unwrap().kid(), before);
        assert!(ks.find(KeyState::Next).is_some());
    }

    /// Withdrawing takes a key out at once, whatever its state; the keyset keeps an active
    /// and a next key.
    #[test]
    fn withdrawn_keys_stop_verifying_at_once() {
        let p = policy();
        let mut ks = Keyset::new();
        ks.rotate_due(&p, Timestamp::from_secs(0)).unwrap();
        let kid_of = |ks: &Keyset, state| ks.find(state).unwrap().key.kid().to_owned();
        let first = kid_of(&ks, KeyState::Active);
        ks.rotate_now(&p, Timestamp::from_secs(1)).unwrap();
        let active = kid_of(&ks, KeyState::Active);
        let next = kid_of(&ks, KeyState::Next);
        let verifies = |ks: &Keyset, kid: &str| ks.verifying_keys().any(|k| k.kid() == kid);
        assert!(verifies(&ks, &first), "retired, still verifying");
        for kid in [first.as_str(), active.as_str(), next.as_str()] {
            assert!(
                ks.withdraw(kid, &p, Timestamp::from_secs(2)).unwrap(),
                "{kid}"
            );
            assert!(!verifies(&ks, kid), "{kid}");
            assert!(ks.find(KeyState::Active).is_some() && ks.find(KeyState::Next).is_some());
        }
        assert!(
            !ks.withdraw("no-such-kid", &p, Timestamp::from_secs(3))
                .unwrap()
        );
    }

    #[test]
    fn document_round_trips_and_debug_hides_keys() {
        let mut ks = Keyset::new();
        ks.rotate_due(
            &RotationPolicy {
                algorithm: Algorithm::HS256,
                ..policy()
            },
            Timestamp::from_secs(0),
        )
        .unwrap();
        let sealer = Sealer::ephemeral().unwrap();
        let doc = ks.to_document(Some(&sealer)).unwrap();
        let (back, stale) = Keyset::from_document(&doc, Some(&sealer)).unwrap();
        assert!(!stale);
        assert_eq!(states(&back), states(&ks));
        let sig = ks.active().unwrap().sign(b"m").unwrap();
        assert!(back.active().unwrap().verifying_key().verify(b"m", &sig));
        assert!(
            ks.jwks().keys.is_empty(),
            "HS256 secrets are never published"
        );
        let material = b64_encode(ks.active().unwrap().material());
        assert!(!format!("{ks:?}").contains(&material));
        assert!(!String::from_utf8_lossy(&doc).contains(&material), "sealed");
        assert!(Keyset::from_document(b"[{}]", Some(&sealer)).is_err());
        assert!(
            Keyset::from_document(&doc, Some(&Sealer::ephemeral().unwrap())).is_err(),
            "another KEK opens nothing"
        );
        assert!(Keyset::from_document(&doc, None).is_err(), "nor no KEK");
        let clear = ks.to_document(None).unwrap();
        assert!(
            String::from_utf8_lossy(&clear).contains(&material),
            "without a sealer"
        );
        assert!(Keyset::from_document(&clear, None).unwrap().1, "in clear");
    }

    #[test]
    fn clear_documents_of_before_sealing_still_load_and_ask_to_be_sealed() {
        let mut ks = Keyset::new();
        ks.rotate_due(&policy(), Timestamp::from_secs(0)).unwrap();
        let e = &ks.entries[0];
        let legacy = serde_json::json!([{
            "kid": e.key.kid(), "alg": e.key.algorithm(), "state": e.state, "since": e.since,
            "material": b64_encode(e.key.material()),
        }]);
        let sealer = Sealer::ephemeral().unwrap();
        let (back, stale) =
            Keyset::from_document(&serde_json::to_vec(&legacy).unwrap(), Some(&sealer)).unwrap();
        assert!(stale, "must be re-saved sealed");
        assert_eq!(back.entries[0].key.kid(), e.key.kid());
    }

    #[test]
    fn policy_validation() {
        assert!(policy().validate().is_ok());
        assert!(
            RotationPolicy {
                publish_ahead: 24 * HOUR,
                ..policy()
            }
            .validate()
            .is_err()
        );
    }

    #[test]
    fn other_systems_keys_sign_or_are_trusted_until_their_time() {
        let t0 = Timestamp::from_secs(1_700_000_000);
        let mut ks = Keyset::new();
        ks.rotate_due(&policy(), t0).unwrap();
        let ours = ks.active().unwrap().kid().to_owned();
        let imported = SigningKey::generate(Algorithm::ES256).unwrap();
        let imported =
            SigningKey::from_material("old-sign", Algorithm::ES256, imported.material().to_vec())
                .unwrap();
        ks.import_signing(imported, t0).unwrap();
        assert_eq!(ks.active().unwrap().kid(), "old-sign", "signs at once");
        assert!(
            states(&ks).contains(&(ours.clone(), KeyState::Retired)),
            "ours retired"
        );
        let public = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let public = VerifyingKey::ed25519(
            "old-verify",
            &public
                .verifying_key()
                .to_jwk()
                .map(|j| crate::encoding::b64_decode(&j.x.unwrap()).unwrap())
                .unwrap(),
        )
        .unwrap();
        ks.trust(public.clone(), t0.plus(HOUR)).unwrap();
        assert!(ks.trust(public, t0.plus(HOUR)).is_err(), "a kid once");
        assert!(
            ks.jwks().keys.iter().any(|k| k.kid == "old-verify"),
            "published"
        );
        assert!(ks.verifying_keys().any(|k| k.kid() == "old-verify"));

        // Sealed in the document, so a planted one does not open; in clear it is flagged.
        let sealer = Sealer::new(crate::KeyEncryptionKey::generate().unwrap(), Vec::new());
        let doc = ks.to_document(Some(&sealer)).unwrap();
        assert!(
            !String::from_utf8_lossy(&doc).contains("\"crv\""),
            "no key material in clear"
        );
        let (back, clear) = Keyset::from_document(&doc, Some(&sealer)).unwrap();
        assert!(!clear);
        assert_eq!(back.trusted().len(), 1);
        assert_eq!(back.trusted()[0].until(), t0.plus(HOUR));
        let (_, clear) =
            Keyset::from_document(&ks.to_document(None).unwrap(), Some(&sealer)).unwrap();
        assert!(
            clear,
            "a trusted key in clear is reported, so a sealed store refuses it"
        );
        let other = Sealer::new(crate::KeyEncryptionKey::generate().unwrap(), Vec::new());
        assert!(Keyset::from_document(&doc, Some(&other)).is_err());

        // Its time over, it is gone.
        assert!(ks.rotate_due(&policy(), t0.plus(HOUR)).unwrap());
        assert!(ks.trusted().is_empty());
        assert!(!ks.jwks().keys.iter().any(|k| k.kid == "old-verify"));
    }
}
