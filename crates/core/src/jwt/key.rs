//! Keys, each pinned to one algorithm.
//!
//! The algorithm is a property of the key, never of the token: a verifier looks the key up by
//! `kid` and uses the key's own algorithm, so a header cannot talk it into HMAC-with-a-public-key
//! or `none`.

use std::fmt;

use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use ring::{hmac, rsa};
use rsa_keygen::{Generate, PrivateKey, pkcs8::EncodePrivateKey};

use super::{Algorithm, Jwk};
use crate::encoding::b64_encode;
use crate::{Error, Timestamp, random};

/// Shortest accepted HS256 secret, in bytes (256 bits).
pub(crate) const MIN_HMAC_SECRET: usize = 32;

/// A key that checks signatures: public material, or the HMAC secret for HS256.
#[derive(Clone)]
pub struct VerifyingKey {
    kid: String,
    alg: Algorithm,
    public: Public,
    /// When the key stops being accepted (another system's key, trusted for a while).
    not_after: Option<Timestamp>,
}

#[derive(Clone)]
enum Public {
    Ed25519([u8; 32]),
    P256(Vec<u8>),
    Rsa(rsa::PublicKeyComponents<Vec<u8>>),
    Hmac(hmac::Key),
}

impl VerifyingKey {
    /// An Ed25519 public key (32 bytes).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] if `public` is not 32 bytes.
    pub fn ed25519(kid: impl Into<String>, public: &[u8]) -> Result<Self, Error> {
        let bytes =
            <[u8; 32]>::try_from(public).map_err(|_| Error::InvalidKey("Ed25519 key length"))?;
        Ok(Self::new(kid, Algorithm::EdDSA, Public::Ed25519(bytes)))
    }

    /// A P-256 public key, SEC1 uncompressed (65 bytes, starting `0x04`).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] if `point` is not an uncompressed point encoding.
    pub fn es256(kid: impl Into<String>, point: &[u8]) -> Result<Self, Error> {
        if point.len() != 65 || point.first() != Some(&4) {
            return Err(Error::InvalidKey("P-256 key encoding"));
        }
        Ok(Self::new(
            kid,
            Algorithm::ES256,
            Public::P256(point.to_vec()),
        ))
    }

    /// An RSA public key from its big-endian modulus and exponent.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for a modulus under 2048 bits.
    pub fn rs256(kid: impl Into<String>, n: &[u8], e: &[u8]) -> Result<Self, Error> {
        let n = strip_zeros(n);
        if n.len() < 256 {
            return Err(Error::InvalidKey("RSA modulus under 2048 bits"));
        }
        let components = rsa::PublicKeyComponents {
            n: n.to_vec(),
            e: strip_zeros(e).to_vec(),
        };
        Ok(Self::new(kid, Algorithm::RS256, Public::Rsa(components)))
    }

    /// The key a JWKS publishes (RFC 7517), pinned to the algorithm its type and curve name:
    /// `OKP`/`Ed25519` is EdDSA, `EC`/`P-256` is ES256, `RSA` is RS256. The JWK's `alg`, when
    /// present, must agree; `oct` (a shared secret) and anything else is refused, so no
    /// document can make a verifier accept HMAC tokens keyed with public material.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for another key type or curve, a disagreeing `alg` or `use`, or
    /// malformed key material.
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, Error> {
        let part = |v: &Option<String>| {
            v.as_deref()
                .and_then(crate::encoding::b64_decode)
                .ok_or(Error::InvalidKey("JWK key material"))
        };
        let (alg, key) = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("OKP", Some("Ed25519")) => {
                (Algorithm::EdDSA, Self::ed25519(&jwk.kid, &part(&jwk.x)?)?)
            }
            ("EC", Some("P-256")) => {
                let (x, y) = (part(&jwk.x)?, part(&jwk.y)?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(Error::InvalidKey("P-256 coordinates"));
                }
                let point = [&[4u8][..], &x, &y].concat();
                (Algorithm::ES256, Self::es256(&jwk.kid, &point)?)
            }
            ("RSA", None) => (
                Algorithm::RS256,
                Self::rs256(&jwk.kid, &part(&jwk.n)?, &part(&jwk.e)?)?,
            ),
            _ => return Err(Error::InvalidKey("JWK type: OKP Ed25519, EC P-256 or RSA")),
        };
        if jwk.alg != alg.as_str() || !matches!(jwk.key_use.as_str(), "sig") {
            return Err(Error::InvalidKey("JWK alg or use disagrees with its key"));
        }
        Ok(key)
    }

    fn new(kid: impl Into<String>, alg: Algorithm, public: Public) -> Self {
        Self {
            kid: kid.into(),
            alg,
            public,
            not_after: None,
        }
    }

    /// The key, accepted only before `until` (checked at every verification, whatever the
    /// keyset's upkeep does).
    pub fn accepted_until(mut self, until: Timestamp) -> Self {
        self.not_after = Some(until);
        self
    }

    /// Whether the key is accepted at `now`.
    pub fn is_accepted_at(&self, now: Timestamp) -> bool {
        self.not_after.is_none_or(|until| now < until)
    }

    /// When the key stops being accepted, if ever.
    pub fn not_after(&self) -> Option<Timestamp> {
        self.not_after
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The one algorithm this key is used with.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// Checks `signature` over `message` with this key's own algorithm. Strict: a signature of
    /// the wrong length, a non-canonical Ed25519 scalar, or an ECDSA `r` or `s` of zero fails.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.public {
            Public::Ed25519(pk) => {
                signature.len() == 64
                    && signature::UnparsedPublicKey::new(&signature::ED25519, pk)
                        .verify(message, signature)
                        .is_ok()
            }
            Public::P256(pk) => {
                signature.len() == 64
                    && signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, pk)
                        .verify(message, signature)
                        .is_ok()
            }
            Public::Rsa(c) => c
                .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, signature)
                .is_ok(),
            Public::Hmac(k) => hmac::verify(k, message, signature).is_ok(),
        }
    }

    /// The public JWK (RFC 7517; OKP per RFC 8037). `None` for HS256: a secret is never published.
    pub fn to_jwk(&self) -> Option<Jwk> {
        let (kty, crv, x, y, n, e) = match &self.public {
            Public::Ed25519(pk) => (
                "OKP",
                Some("Ed25519"),
                Some(b64_encode(pk)),
                None,
                None,
                None,
            ),
            Public::P256(pt) => {
                let (x, y) = pt.get(1..33).zip(pt.get(33..65))?;
                (
                    "EC",
                    Some("P-256"),
                    Some(b64_encode(x)),
                    Some(b64_encode(y)),
                    None,
                    None,
                )
            }
            Public::Rsa(c) => (
                "RSA",
                None,
                None,
                None,
                Some(b64_encode(&c.n)),
                Some(b64_encode(&c.e)),
            ),
            Public::Hmac(_) => return None,
        };
        Some(Jwk {
            kty: kty.into(),
            kid: self.kid.clone(),
            alg: self.alg.as_str().into(),
            key_use: "sig".into(),
            crv: crv.map(Into::into),
            x,
            y,
            n,
            e,
        })
    }
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default()
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({} {})", self.alg, self.kid)
    }
}

/// A private key that signs access tokens, with its [`VerifyingKey`].
pub struct SigningKey {
    verifying: VerifyingKey,
    private: Private,
    /// PKCS#8 DER, or the raw secret for HS256: what a keyset persists.
    material: Vec<u8>,
}

enum Private {
    Ed25519(Ed25519KeyPair),
    P256(EcdsaKeyPair),
    Rsa(RsaKeyPair),
    Hmac(hmac::Key),
}

impl SigningKey {
    /// A fresh key for `alg` with a random `kid`. HS256 gets a 256-bit random secret; RS256 a
    /// 3072-bit modulus.
    ///
    /// # Errors
    /// [`Error::Random`] or [`Error::Crypto`] if generation fails.
    pub fn generate(alg: Algorithm) -> Result<Self, Error> {
        let kid = b64_encode(&random::bytes::<12>()?);
        let rng = SystemRandom::new();
        let material = match alg {
            Algorithm::EdDSA => Ed25519KeyPair::generate_pkcs8(&rng)
                .map_err(|_| Error::Crypto)?
                .as_ref()
                .to_vec(),
            Algorithm::ES256 => {
                EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                    .map_err(|_| Error::Crypto)?
                    .as_ref()
                    .to_vec()
            }
            Algorithm::RS256 => {
                let key = PrivateKey::try_generate().map_err(|_| Error::Random)?;
                key.to_pkcs8_der()
                    .map_err(|_| Error::Crypto)?
                    .as_bytes()
                    .to_vec()
            }
            Algorithm::HS256 => random::bytes::<32>()?.to_vec(),
        };
        Self::from_material(kid, alg, material)
    }

    /// An HS256 key. HS256 is only for deployments that chose it: a secret shorter than 256 bits
    /// is refused.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for a secret under 32 bytes.
    pub fn hs256(kid: impl Into<String>, secret: &[u8]) -> Result<Self, Error> {
        Self::from_material(kid.into(), Algorithm::HS256, secret.to_vec())
    }

    /// A key from PKCS#8 DER (EdDSA, ES256, RS256) or a raw secret (HS256).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] if the material does not parse as a key of `alg`.
    pub fn from_material(
        kid: impl Into<String>,
        alg: Algorithm,
        material: Vec<u8>,
    ) -> Result<Self, Error> {
        let kid = kid.into();
        let bad = |_| Error::InvalidKey("key material does not match its algorithm");
        let (private, public) = match alg {
            Algorithm::EdDSA => {
                // PKCS#8 v1 (what OpenSSL writes) carries no public key to check against.
                let kp = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&material).map_err(bad)?;
                let pk =
                    <[u8; 32]>::try_from(kp.public_key().as_ref()).map_err(|_| Error::Crypto)?;
                (Private::Ed25519(kp), Public::Ed25519(pk))
            }
            Algorithm::ES256 => {
                let rng = SystemRandom::new();
                let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
                let kp = EcdsaKeyPair::from_pkcs8(alg, &material, &rng).map_err(bad)?;
                let pk = kp.public_key().as_ref().to_vec();
                (Private::P256(kp), Public::P256(pk))
            }
            Algorithm::RS256 => {
                let kp = RsaKeyPair::from_pkcs8(&material).map_err(bad)?;
                let components = rsa::PublicKeyComponents::<Vec<u8>>::from(kp.public());
                (Private::Rsa(kp), Public::Rsa(components))
            }
            Algorithm::HS256 => {
                if material.len() < MIN_HMAC_SECRET {
                    return Err(Error::InvalidKey("HS256 secret must be at least 32 bytes"));
                }
                let key = hmac::Key::new(hmac::HMAC_SHA256, &material);
                (Private::Hmac(key.clone()), Public::Hmac(key))
            }
        };
        let verifying = VerifyingKey::new(kid, alg, public);
        Ok(Self {
            verifying,
            private,
            material,
        })
    }

    /// The matching verifying key.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.verifying.kid
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.verifying.alg
    }

    pub(crate) fn material(&self) -> &[u8] {
        &self.material
    }

    /// Signs `message` with this key's algorithm.
    ///
    /// # Errors
    /// [`Error::Crypto`] if the signing primitive fails.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let rng = SystemRandom::new();
        Ok(match &self.private {
            Private::Ed25519(kp) => kp.sign(message).as_ref().to_vec(),
            Private::P256(kp) => kp
                .sign(&rng, message)
                .map_err(|_| Error::Crypto)?
                .as_ref()
                .to_vec(),
            Private::Rsa(kp) => {
                let mut sig = vec![0u8; kp.public().modulus_len()];
                kp.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(|_| Error::Crypto)?;
                sig
            }
            Private::Hmac(k) => hmac::sign(k, message).as_ref().to_vec(),
        })
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SigningKey({} {}, ..)",
            self.verifying.alg, self.verifying.kid
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_keys_are_read_back_pinned_to_their_algorithm() {
        for alg in [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256] {
            let key = SigningKey::generate(alg).unwrap();
            let jwk = key.verifying_key().to_jwk().unwrap();
            let read = VerifyingKey::from_jwk(&jwk).unwrap();
            assert_eq!((read.kid(), read.algorithm()), (key.kid(), alg));
            let sig = key.sign(b"message").unwrap();
            assert!(read.verify(b"message", &sig), "{alg}");
            let lying = Jwk {
                alg: "HS256".into(),
                ..jwk.clone()
            };
            assert!(
                VerifyingKey::from_jwk(&lying).is_err(),
                "{alg}: alg must agree"
            );
            let encrypting = Jwk {
                key_use: "enc".into(),
                ..jwk.clone()
            };
            assert!(VerifyingKey::from_jwk(&encrypting).is_err(), "{alg}: use");
        }
        let ed = SigningKey::generate(Algorithm::EdDSA)
            .unwrap()
            .verifying_key()
            .to_jwk()
            .unwrap();
        for bad in [
            Jwk {
                kty: "oct".into(),
                ..ed.clone()
            },
            Jwk {
                crv: Some("X25519".into()),
                ..ed.clone()
            },
            Jwk {
                x: Some("AAAA".into()),
                ..ed.clone()
            },
            Jwk {
                x: None,
                ..ed.clone()
            },
            Jwk {
                x: Some("not base64!".into()),
                ..ed.clone()
            },
        ] {
            assert!(VerifyingKey::from_jwk(&bad).is_err(), "{bad:?}");
        }
        let ec = SigningKey::generate(Algorithm::ES256)
            .unwrap()
            .verifying_key()
            .to_jwk()
            .unwrap();
        let short = Jwk {
            y: Some(crate::encoding::b64_encode(&[1; 31])),
            ..ec
        };
        assert!(VerifyingKey::from_jwk(&short).is_err());
    }

    #[test]
    fn every_algorithm_signs_and_verifies_and_round_trips() {
        for alg in Algorithm::ALL {
            let key = SigningKey::generate(alg).unwrap();
            let sig = key.sign(b"message").unwrap();
            assert!(key.verifying_key().verify(b"message", &sig), "{alg}");
            assert!(!key.verifying_key().verify(b"massage", &sig), "{alg}");
            let again = SigningKey::from_material(key.kid(), alg, key.material().to_vec()).unwrap();
            assert!(again.verifying_key().verify(b"message", &sig), "{alg}");
            assert_eq!(
                key.verifying_key().to_jwk().is_some(),
                alg != Algorithm::HS256
            );
        }
    }

    #[test]
    fn short_hmac_secrets_are_refused() {
        assert!(matches!(
            SigningKey::hs256("k", &[1; 31]),
            Err(Error::InvalidKey(_))
        ));
        assert!(SigningKey::hs256("k", &[1; 32]).is_ok());
    }

    #[test]
    fn material_of_another_algorithm_is_refused() {
        let ed = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let ec = SigningKey::generate(Algorithm::ES256).unwrap();
        assert!(SigningKey::from_material("k", Algorithm::ES256, ed.material().to_vec()).is_err());
        assert!(SigningKey::from_material("k", Algorithm::EdDSA, ec.material().to_vec()).is_err());
        assert!(SigningKey::from_material("k", Algorithm::RS256, ec.material().to_vec()).is_err());
    }

    #[test]
    fn debug_hides_private_material() {
        let key = SigningKey::generate(Algorithm::HS256).unwrap();
        let shown = format!("{key:?}");
        assert!(shown.starts_with("SigningKey(HS256 "));
        assert!(!shown.contains(&b64_encode(key.material())));
    }

    #[test]
    fn small_rsa_moduli_are_refused() {
        assert!(VerifyingKey::rs256("k", &[0xff; 128], &[1, 0, 1]).is_err());
        assert!(VerifyingKey::es256("k", &[4; 64]).is_err());
        assert!(VerifyingKey::ed25519("k", &[4; 31]).is_err());
    }
}
