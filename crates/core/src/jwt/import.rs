//! Keys another system made, read from PEM, for a team moving to Tessera: a private key to sign
//! with (services that check tokens with the old public key keep accepting Tessera's), or a
//! public key to verify only (tokens the old system issued keep verifying, for a while).
//!
//! Accepted: `PRIVATE KEY` (PKCS#8: Ed25519, P-256, RSA of 2048 bits or more), `PUBLIC KEY`
//! (SubjectPublicKeyInfo of the same) and `RSA PUBLIC KEY` (PKCS#1). Other forms are refused
//! with the `openssl` command that converts them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::{Algorithm, SigningKey, VerifyingKey};
use crate::Error;

/// A key read from PEM.
#[derive(Debug)]
pub enum ImportedKey {
    /// A private key: Tessera signs with it.
    Signing(Box<SigningKey>),
    /// A public key: tokens it signed verify, nothing more.
    Verifying(Box<VerifyingKey>),
}

/// Object identifiers, as their DER contents.
const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];

impl ImportedKey {
    /// The one key in `pem`, named `kid` (the `kid` the old system's tokens carry).
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for anything but one supported key, with what to do instead.
    pub fn from_pem(pem: &str, kid: &str) -> Result<Self, Error> {
        let (label, der) = pem_block(pem)?;
        match label {
            "PRIVATE KEY" => private_key(kid, der).map(|k| Self::Signing(Box::new(k))),
            "PUBLIC KEY" => public_key(kid, &der).map(|k| Self::Verifying(Box::new(k))),
            "RSA PUBLIC KEY" => rsa_public_key(kid, &der).map(|k| Self::Verifying(Box::new(k))),
            "RSA PRIVATE KEY" | "EC PRIVATE KEY" => Err(Error::InvalidKey(
                "convert the key to PKCS#8 first: openssl pkcs8 -topk8 -nocrypt -in old.pem -out key.pem",
            )),
            "ENCRYPTED PRIVATE KEY" => Err(Error::InvalidKey(
                "decrypt the key first: openssl pkcs8 -in old.pem -out key.pem",
            )),
            "CERTIFICATE" => Err(Error::InvalidKey(
                "import the certificate's public key: openssl x509 -in cert.pem -pubkey -noout > key.pem",
            )),
            _ => Err(Error::InvalidKey(
                "a PEM PRIVATE KEY, PUBLIC KEY or RSA PUBLIC KEY is expected",
            )),
        }
    }
}

/// The label and decoded contents of the one PEM block in `text`.
fn pem_block(text: &str) -> Result<(&str, Vec<u8>), Error> {
    let bad = || Error::InvalidKey("not a PEM file with one key");
    let begin = text.find("-----BEGIN ").ok_or_else(bad)?;
    let rest = &text[begin + "-----BEGIN ".len()..];
    let (label, rest) = rest.split_once("-----").ok_or_else(bad)?;
    let end = format!("-----END {label}-----");
    let (body, after) = rest.split_once(end.as_str()).ok_or_else(bad)?;
    if after.contains("-----BEGIN ") {
        return Err(Error::InvalidKey(
            "the PEM file holds more than one block: import one key at a time",
        ));
    }
    if body.contains(':') {
        return Err(Error::InvalidKey(
            "an encrypted PEM key: decrypt it first (openssl pkcs8)",
        ));
    }
    let b64: String = body.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let der = STANDARD.decode(b64).map_err(|_| bad())?;
    Ok((label, der))
}

fn private_key(kid: &str, der: Vec<u8>) -> Result<SigningKey, Error> {
    for alg in [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256] {
        if let Ok(key) = SigningKey::from_material(kid, alg, der.clone()) {
            return Ok(key);
        }
    }
    Err(Error::InvalidKey(
        "the private key is not Ed25519, P-256 or RSA of 2048 bits or more",
    ))
}

fn public_key(kid: &str, der: &[u8]) -> Result<VerifyingKey, Error> {
    let bad = || Error::InvalidKey("malformed SubjectPublicKeyInfo");
    let mut spki = Der(der).take(0x30).ok_or_else(bad)?;
    let mut alg = spki.take(0x30).ok_or_else(bad)?;
    let oid = alg.take(0x06).ok_or_else(bad)?.0;
    let params = alg.take(0x06).map(|p| p.0);
    let bits = spki.take(0x03).ok_or_else(bad)?.0;
    let key = match bits.split_first() {
        Some((0, key)) => key,
        _ => return Err(bad()),
    };
    match (oid, params) {
        (ED25519, None) => VerifyingKey::ed25519(kid, key),
        (EC_PUBLIC_KEY, Some(P256)) => VerifyingKey::es256(kid, key),
        (RSA, None) => rsa_public_key(kid, key),
        _ => Err(Error::InvalidKey(
            "the public key is not Ed25519, P-256 or RSA",
        )),
    }
}

/// PKCS#1 `RSAPublicKey`: the modulus and exponent.
fn rsa_public_key(kid: &str, der: &[u8]) -> Result<VerifyingKey, Error> {
    let bad = || Error::InvalidKey("malformed RSA public key");
    let mut seq = Der(der).take(0x30).ok_or_else(bad)?;
    let n = seq.take(0x02).ok_or_else(bad)?.0;
    let e = seq.take(0x02).ok_or_else(bad)?.0;
    VerifyingKey::rs256(kid, n, e)
}

/// A cursor over DER: just enough to read the structures above.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    /// The contents of the next element if it has tag `tag`; `None` otherwise.
    fn take(&mut self, tag: u8) -> Option<Der<'a>> {
        let (&t, rest) = self.0.split_first()?;
        if t != tag {
            return None;
        }
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, b| acc << 8 | usize::from(*b));
            (len, &rest[n..])
        };
        if rest.len() < len {
            return None;
        }
        let (contents, after) = rest.split_at(len);
        self.0 = after;
        Some(Der(contents))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pem(label: &str, der: &[u8]) -> String {
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            STANDARD.encode(der)
        )
    }

    #[test]
    fn private_and_public_keys_are_read_and_pinned() {
        let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let read = ImportedKey::from_pem(&pem("PRIVATE KEY", key.material()), "old").unwrap();
        let ImportedKey::Signing(read) = read else {
            panic!("a private key signs")
        };
        assert_eq!((read.kid(), read.algorithm()), ("old", Algorithm::EdDSA));
        let sig = read.sign(b"m").unwrap();
        assert!(key.verifying_key().verify(b"m", &sig), "the same key");

        let x =
            crate::encoding::b64_decode(&key.verifying_key().to_jwk().unwrap().x.unwrap()).unwrap();
        let spki = [
            &[
                0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
            ][..],
            &x,
        ]
        .concat();
        let ImportedKey::Verifying(public) =
            ImportedKey::from_pem(&pem("PUBLIC KEY", &spki), "old").unwrap()
        else {
            panic!("a public key verifies only")
        };
        assert_eq!(public.algorithm(), Algorithm::EdDSA);
        assert!(public.verify(b"m", &sig));
    }

    #[test]
    fn anything_else_is_refused_with_advice() {
        let key = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let ok = pem("PRIVATE KEY", key.material());
        for (text, says) in [
            (pem("RSA PRIVATE KEY", b"x"), "pkcs8 -topk8"),
            (pem("EC PRIVATE KEY", b"x"), "pkcs8 -topk8"),
            (pem("ENCRYPTED PRIVATE KEY", b"x"), "decrypt"),
            (pem("CERTIFICATE", b"x"), "-pubkey"),
            (pem("PRIVATE KEY", b"not a key"), "Ed25519, P-256 or RSA"),
            (
                pem("PUBLIC KEY", b"\x30\x03\x02\x01\x00"),
                "SubjectPublicKeyInfo",
            ),
            (format!("{ok}{ok}"), "one key at a time"),
            ("no pem here".to_owned(), "PEM"),
            (ok.replace("-----END PRIVATE KEY-----", ""), "PEM"),
        ] {
            let err = ImportedKey::from_pem(&text, "k").unwrap_err().to_string();
            assert!(err.contains(says), "{err} should say {says}");
        }
    }
}
