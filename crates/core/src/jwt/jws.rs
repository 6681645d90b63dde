//! JWS compact serialisation: strict splitting and decoding, and signing.

use serde_json::{Map, Value, json};

use super::SigningKey;
use super::json::{Problem, parse_object};
use crate::encoding::{b64_decode, b64_encode};
use crate::{Error, TokenRejection};

/// A compact JWS split into its parts, with header and payload still undecoded.
pub(crate) struct Compact<'a> {
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a str,
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
}

impl<'a> Compact<'a> {
    /// Splits `token` into exactly three non-empty-header segments.
    pub fn split(token: &'a str) -> Result<Self, TokenRejection> {
        let mut parts = token.splitn(4, '.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenRejection::Malformed);
        };
        let signing_input = token
            .get(..header.len() + 1 + payload.len())
            .ok_or(TokenRejection::Malformed)?;
        Ok(Self {
            signing_input,
            header,
            payload,
            signature,
        })
    }

    /// The decoded header object.
    pub fn header(&self) -> Result<Map<String, Value>, TokenRejection> {
        decode_object(self.header)
    }

    /// The decoded payload object, and the JSON text it was read from.
    pub fn payload(&self) -> Result<(Map<String, Value>, String), TokenRejection> {
        let bytes = b64_decode(self.payload).ok_or(TokenRejection::Malformed)?;
        let map = parse_json(&bytes)?;
        let text = String::from_utf8(bytes).map_err(|_| TokenRejection::Malformed)?;
        Ok((map, text))
    }

    /// The decoded signature bytes.
    pub fn signature(&self) -> Result<Vec<u8>, TokenRejection> {
        b64_decode(self.signature).ok_or(TokenRejection::Malformed)
    }
}

fn decode_object(segment: &str) -> Result<Map<String, Value>, TokenRejection> {
    parse_json(&b64_decode(segment).ok_or(TokenRejection::Malformed)?)
}

fn parse_json(bytes: &[u8]) -> Result<Map<String, Value>, TokenRejection> {
    parse_object(bytes).map_err(|p| match p {
        Problem::Duplicate => TokenRejection::DuplicateMember,
        Problem::Invalid => TokenRejection::Malformed,
    })
}

/// Signs `payload` as an `at+jwt` with `key`, naming the key's own algorithm and `kid`.
pub(crate) fn sign_compact(key: &SigningKey, payload: &Value) -> Result<String, Error> {
    let header = json!({ "alg": key.algorithm().as_str(), "typ": "at+jwt", "kid": key.kid() });
    let mut out = encode_json(&header)?;
    out.push('.');
    out.push_str(&encode_json(payload)?);
    let signature = key.sign(out.as_bytes())?;
    out.push('.');
    out.push_str(&b64_encode(&signature));
    Ok(out)
}

fn encode_json(value: &Value) -> Result<String, Error> {
    serde_json::to_vec(value)
        .map(|b| b64_encode(&b))
        .map_err(|_| Error::Crypto)
}

#[cfg(test)]
mod tests {
    use super::super::VerifyingKey;
    use super::*;
    use proptest::prelude::*;

    /// RFC 8037 appendix A.4: the Ed25519 JWS over "Example of Ed25519 signing".
    #[test]
    fn rfc8037_ed25519_vector_verifies() {
        let x = b64_decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").unwrap();
        let key = VerifyingKey::ed25519("rfc8037", &x).unwrap();
        let token = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCj\
                     P0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
        let jws = Compact::split(token).unwrap();
        assert_eq!(jws.header().unwrap()["alg"], "EdDSA");
        assert!(key.verify(jws.signing_input.as_bytes(), &jws.signature().unwrap()));
        let payload = b64_decode("RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc").unwrap();
        assert_eq!(payload, b"Example of Ed25519 signing");
        // One flipped bit anywhere in the signature breaks it.
        let mut sig = jws.signature().unwrap();
        sig[10] ^= 1;
        assert!(!key.verify(jws.signing_input.as_bytes(), &sig));
    }

    #[test]
    fn split_needs_exactly_three_segments() {
        assert!(Compact::split("a.b.c").is_ok());
        for bad in ["", "a", "a.b", "a.b.c.d", "a.b.c.d.e"] {
            assert!(Compact::split(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn segments_never_panic(s in "[A-Za-z0-9_.=+/-]{0,200}") {
            if let Ok(c) = Compact::split(&s) {
                let _ = c.header();
                let _ = c.payload();
                let _ = c.signature();
            }
        }

        #[test]
        fn segments_round_trip(v in proptest::collection::btree_map("[a-z]{1,8}", any::<i64>(), 0..6)) {
            let key = SigningKey::generate(super::super::Algorithm::HS256).unwrap();
            let payload = serde_json::to_value(&v).unwrap();
            let token = sign_compact(&key, &payload).unwrap();
            let c = Compact::split(&token).unwrap();
            prop_assert_eq!(Value::Object(c.payload().unwrap().0), payload);
            prop_assert!(key.verifying_key().verify(c.signing_input.as_bytes(), &c.signature().unwrap()));
        }
    }
}
