//! The JWS algorithms Tessera supports.

use std::fmt;

/// A JWS signature algorithm. Each key has exactly one, and a token's header must name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Algorithm {
    /// Ed25519 (RFC 8037): the default; small, fast, deterministic.
    EdDSA,
    /// ECDSA on P-256 with SHA-256, for verifiers without EdDSA.
    ES256,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (3072-bit keys generated), for legacy verifiers.
    RS256,
    /// HMAC-SHA-256 with a secret of at least 256 bits; only by explicit choice, never published.
    HS256,
}

impl Algorithm {
    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EdDSA => "EdDSA",
            Self::ES256 => "ES256",
            Self::RS256 => "RS256",
            Self::HS256 => "HS256",
        }
    }

    /// Every supported algorithm.
    pub const ALL: [Algorithm; 4] = [Self::EdDSA, Self::ES256, Self::RS256, Self::HS256];
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Algorithm {
    type Err = crate::Error;

    /// Exact, case-sensitive names only (`EdDSA`, `ES256`, `RS256`, `HS256`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| crate::Error::InvalidConfig(format!("unknown algorithm {s:?}")))
    }
}
