//! What a [`SessionManager`](super::SessionManager) is configured with.

use std::time::Duration;

use crate::jwt::{RotationPolicy, Validation};
use crate::{AuditHook, AuditOrigin, Error, Sealer, ServerSecret, SessionPolicy};

/// Everything a [`SessionManager`](super::SessionManager) needs besides its store and clock.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Issuer, audience, leeway and token size cap.
    pub validation: Validation,
    /// Session lifetimes and limits.
    pub policy: SessionPolicy,
    /// Signing-key rotation schedule and algorithm.
    pub rotation: RotationPolicy,
    /// The root secret for refresh chains and CSRF (shared by all nodes).
    pub secret: ServerSecret,
    /// Seals private signing keys before they reach the store. `None` (the default) stores
    /// them in clear, as an in-memory store or a test may; any store that outlives the process
    /// should have one (the server always sets it). Once a store holds sealed keys, a manager
    /// refuses keys found in clear there (a planted key) and one without the sealer opens none.
    pub sealer: Option<Sealer>,
    /// An operator-supplied HS256 secret (at least 32 bytes) to sign with instead of rotating,
    /// generated keys. All nodes and verifiers must share it. Requires `rotation.algorithm`
    /// to be HS256.
    pub hs256_secret: Option<Hs256Secret>,
    /// Called with every audit event after it is stored (the server logs them).
    pub audit_hook: Option<AuditHook>,
    /// Asked for the client's address when an event is recorded (the server resolves it
    /// through its trusted proxies, per request).
    pub audit_origin: Option<AuditOrigin>,
    /// `Some(bound)` when several nodes share the store: verification fails closed when the
    /// revocation view has not synced within the bound. `None` for a single process.
    pub max_feed_staleness: Option<Duration>,
}

impl Settings {
    /// Defaults everywhere but the two choices that cannot have one.
    pub fn new(validation: Validation, secret: ServerSecret) -> Self {
        Self {
            validation,
            policy: SessionPolicy::default(),
            rotation: RotationPolicy::default(),
            secret,
            sealer: None,
            hs256_secret: None,
            audit_hook: None,
            audit_origin: None,
            max_feed_staleness: None,
        }
    }
}

/// An operator-supplied HS256 secret. `Debug` does not print it.
#[derive(Clone)]
pub struct Hs256Secret(Vec<u8>);

impl Hs256Secret {
    /// Wraps `secret`, refusing anything under 256 bits, and anything that is plainly not
    /// random (a few distinct bytes, `aaaa…`, `abab…`): the length of such a secret says
    /// nothing of its strength.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for a secret under 32 bytes or of plainly low entropy.
    pub fn new(secret: impl Into<Vec<u8>>) -> Result<Self, Error> {
        let secret = secret.into();
        if secret.len() < crate::jwt::MIN_HMAC_SECRET {
            return Err(Error::InvalidKey("HS256 secret must be at least 32 bytes"));
        }
        if !looks_random(&secret) {
            return Err(Error::InvalidKey(
                "HS256 secret has too little entropy (too few distinct bytes, or a repeated pattern)",
            ));
        }
        Ok(Self(secret))
    }

    pub(crate) fn key(&self) -> Result<crate::jwt::SigningKey, Error> {
        // The kid is derived from the secret, so every node configured alike agrees on it.
        let kid = crate::encoding::b64_encode(
            crate::TokenHash::of(&self.0)
                .as_bytes()
                .get(..9)
                .unwrap_or_default(),
        );
        crate::jwt::SigningKey::hs256(kid, &self.0)
    }
}

/// A crude entropy estimate that catches what a person types when told "32 bytes": at least
/// 8 distinct bytes, and at least 128 bits by the byte frequencies (Shannon). Random bytes, or
/// 32 characters of base64, pass easily; `aaaa…` (0 bits) or `abcdabcd…` (2 bits a byte) do not.
fn looks_random(secret: &[u8]) -> bool {
    let mut counts = [0u32; 256];
    for b in secret {
        counts[usize::from(*b)] += 1;
    }
    let n = secret.len() as f64;
    let distinct = counts.iter().filter(|c| **c > 0).count();
    let bits_per_byte: f64 = counts
        .iter()
        .filter(|c| **c > 0)
        .map(|c| {
            let p = f64::from(*c) / n;
            -p * p.log2()
        })
        .sum();
    distinct >= 8 && bits_per_byte * n >= 128.0
}

impl std::fmt::Debug for Hs256Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hs256Secret(..)")
    }
}
