//! One test per rejection path; each asserts the exact [`TokenRejection`], so removing a check
//! changes the outcome and fails its test.

use std::sync::OnceLock;

use serde_json::{Value, json};

use super::*;
use crate::encoding::{b64_decode, b64_encode};
use crate::jwt::{Algorithm, SigningKey};
use crate::{SessionId, Timestamp, TokenRejection};

const NOW: i64 = 1_700_000_000;

fn keys() -> &'static [SigningKey; 4] {
    static KEYS: OnceLock<[SigningKey; 4]> = OnceLock::new();
    KEYS.get_or_init(|| Algorithm::ALL.map(|alg| SigningKey::generate(alg).unwrap()))
}

fn key(alg: Algorithm) -> &'static SigningKey {
    keys().iter().find(|k| k.algorithm() == alg).unwrap()
}

fn verifier() -> Verifier {
    Verifier::new(
        Validation::new("https://issuer", "api"),
        keys().iter().map(|k| k.verifying_key()),
    )
}

fn header(k: &SigningKey) -> Value {
    json!({"alg": k.algorithm().as_str(), "typ": "at+jwt", "kid": k.kid()})
}

fn claims() -> Value {
    let sid = SessionId::generate().unwrap().to_string();
    json!({"iss":"https://issuer","aud":"api","sub":"user-1","sid":sid,"jti":"j1",
           "iat": NOW, "exp": NOW + 600, "role": "admin"})
}

fn seg(v: &Value) -> String {
    b64_encode(&serde_json::to_vec(v).unwrap())
}

/// A token from raw header and payload text, signed by `k` over exactly those bytes.
fn raw(k: &SigningKey, header: &str, payload: &str) -> String {
    let input = format!(
        "{}.{}",
        b64_encode(header.as_bytes()),
        b64_encode(payload.as_bytes())
    );
    let sig = k.sign(input.as_bytes()).unwrap();
    format!("{input}.{}", b64_encode(&sig))
}

fn signed(k: &SigningKey, header: &Value, payload: &Value) -> String {
    raw(k, &header.to_string(), &payload.to_string())
}

fn check(token: &str) -> Result<AccessClaims, TokenRejection> {
    match verifier().verify(token, Timestamp::from_secs(NOW)) {
        Ok(c) => Ok(c),
        Err(Error::InvalidToken(r)) => Err(r),
        Err(other) => panic!("unexpected error {other}"),
    }
}

fn with(base: Value, name: &str, value: Value) -> Value {
    let mut v = base;
    v[name] = value;
    v
}

#[test]
fn valid_tokens_verify_for_every_algorithm() {
    for k in keys() {
        let c = check(&signed(k, &header(k), &claims())).unwrap();
        assert_eq!(c.sub, "user-1");
        assert_eq!(c.extra["role"], "admin");
    }
}

#[test]
fn alg_none_in_any_casing() {
    let k = key(Algorithm::EdDSA);
    for none in ["none", "None", "NONE", "nOnE"] {
        let h = with(header(k), "alg", json!(none));
        let unsigned = format!("{}.{}.", seg(&h), seg(&claims()));
        assert_eq!(
            check(&unsigned).unwrap_err(),
            TokenRejection::AlgNone,
            "{none}"
        );
        assert_eq!(
            check(&signed(k, &h, &claims())).unwrap_err(),
            TokenRejection::AlgNone
        );
    }
}

#[test]
fn header_alg_must_match_the_keys_algorithm() {
    let ed = key(Algorithm::EdDSA);
    let es = key(Algorithm::ES256);
    // Signed by the ES256 key but naming the Ed25519 key's kid.
    let h = json!({"alg": "ES256", "typ": "at+jwt", "kid": ed.kid()});
    assert_eq!(
        check(&signed(es, &h, &claims())).unwrap_err(),
        TokenRejection::AlgMismatch
    );
    let h = json!({"alg": "eddsa", "typ": "at+jwt", "kid": ed.kid()});
    assert_eq!(
        check(&signed(ed, &h, &claims())).unwrap_err(),
        TokenRejection::AlgMismatch
    );
}

#[test]
fn hs256_signed_with_a_public_key_as_secret_is_rejected() {
    for alg in [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256] {
        let public = key(alg).verifying_key();
        let jwk = serde_json::to_vec(&public.to_jwk().unwrap()).unwrap();
        let jwks_text = serde_json::to_string(&public.to_jwk()).unwrap();
        let raw_public = match alg {
            Algorithm::EdDSA => b64_decode(public.to_jwk().unwrap().x.as_deref().unwrap()).unwrap(),
            Algorithm::RS256 => b64_decode(public.to_jwk().unwrap().n.as_deref().unwrap()).unwrap(),
            _ => jwk.clone(),
        };
        for secret in [raw_public, jwk.clone(), jwks_text.into_bytes()] {
            let mut padded = secret.clone();
            padded.resize(padded.len().max(32), 0);
            let forger = SigningKey::hs256(public.kid(), &padded).unwrap();
            let h = json!({"alg": "HS256", "typ": "at+jwt", "kid": public.kid()});
            assert_eq!(
                check(&signed(&forger, &h, &claims())).unwrap_err(),
                TokenRejection::AlgMismatch
            );
        }
    }
}

#[test]
fn unknown_or_missing_kid() {
    let k = key(Algorithm::EdDSA);
    let h = with(header(k), "kid", json!("no-such-key"));
    assert_eq!(
        check(&signed(k, &h, &claims())).unwrap_err(),
        TokenRejection::UnknownKey
    );
    let h = json!({"alg": "EdDSA", "typ": "at+jwt"});
    assert_eq!(
        check(&signed(k, &h, &claims())).unwrap_err(),
        TokenRejection::UnknownKey
    );
    let h = with(header(k), "kid", json!(7));
    assert_eq!(
        check(&signed(k, &h, &claims())).unwrap_err(),
        TokenRejection::UnknownKey
    );
}

#[test]
fn forbidden_header_parameters() {
    let k = key(Algorithm::EdDSA);
    let jwk = serde_json::to_value(k.verifying_key().to_jwk()).unwrap();
    let cases = [
        ("jku", json!("https://attacker.example/jwks.json")),
        ("x5u", json!("https://attacker.example/cert.pem")),
        ("jwk", jwk),
        ("x5c", json!(["MIIB"])),
        ("crit", json!(["exp"])),
        ("crit", json!([])),
        ("b64", json!(false)),
    ];
    for (name, value) in cases {
        let h = with(header(k), name, value);
        assert_eq!(
            check(&signed(k, &h, &claims())).unwrap_err(),
            TokenRejection::ForbiddenHeader,
            "{name}"
        );
    }
}

#[test]
fn typ_must_be_at_jwt() {
    let k = key(Algorithm::EdDSA);
    for bad in [json!("JWT"), json!("at+jwt2"), json!(""), json!(1)] {
        let h = with(header(k), "typ", bad);
        assert_eq!(
            check(&signed(k, &h, &claims())).unwrap_err(),
            TokenRejection::WrongType
        );
    }
    let h = json!({"alg": "EdDSA", "kid": k.kid()});
    assert_eq!(
        check(&signed(k, &h, &claims())).unwrap_err(),
        TokenRejection::WrongType
    );
    for good in ["AT+JWT", "application/at+jwt"] {
        let h = with(header(k), "typ", json!(good));
        assert!(check(&signed(k, &h, &claims())).is_ok(), "{good}");
    }
}

#[test]
fn issuer_and_audience() {
    let k = key(Algorithm::EdDSA);
    let c = with(claims(), "iss", json!("https://other"));
    assert_eq!(
        check(&signed(k, &header(k), &c)).unwrap_err(),
        TokenRejection::WrongIssuer
    );
    let c = with(claims(), "aud", json!("other"));
    assert_eq!(
        check(&signed(k, &header(k), &c)).unwrap_err(),
        TokenRejection::WrongAudience
    );
    let c = with(claims(), "aud", json!(["other", "another"]));
    assert_eq!(
        check(&signed(k, &header(k), &c)).unwrap_err(),
        TokenRejection::WrongAudience
    );
    let c = with(claims(), "aud", json!(["other", "api"]));
    assert!(check(&signed(k, &header(k), &c)).is_ok());
}

#[test]
fn expiry_not_before_and_issued_at_respect_the_leeway() {
    let k = key(Algorithm::EdDSA);
    let at = |name: &str, v: i64| check(&signed(k, &header(k), &with(claims(), name, json!(v))));
    assert_eq!(at("exp", NOW - 30).unwrap_err(), TokenRejection::Expired);
    assert_eq!(at("exp", NOW - 3600).unwrap_err(), TokenRejection::Expired);
    assert!(at("exp", NOW - 29).is_ok(), "within the 30 s leeway");
    assert_eq!(
        at("nbf", NOW + 31).unwrap_err(),
        TokenRejection::NotYetValid
    );
    assert!(at("nbf", NOW + 30).is_ok());
    assert_eq!(
        at("iat", NOW + 31).unwrap_err(),
        TokenRejection::IssuedInFuture
    );
    assert!(at("iat", NOW + 30).is_ok());
}

#[test]
fn leeway_is_configurable_and_capped() {
    let k = key(Algorithm::EdDSA);
    let v = Validation::new("https://issuer", "api")
        .with_leeway(Duration::ZERO)
        .unwrap();
    let strict = Verifier::new(v, [k.verifying_key()]);
    let token = signed(k, &header(k), &with(claims(), "exp", json!(NOW)));
    let err = strict
        .verify(&token, Timestamp::from_secs(NOW))
        .unwrap_err();
    assert!(matches!(err, Error::InvalidToken(TokenRejection::Expired)));
    assert!(
        Validation::new("i", "a")
            .with_leeway(Duration::from_secs(301))
            .is_err()
    );
}

#[test]
fn oversized_tokens_are_rejected_before_parsing() {
    let k = key(Algorithm::EdDSA);
    let big = with(claims(), "pad", json!("x".repeat(9000)));
    assert_eq!(
        check(&signed(k, &header(k), &big)).unwrap_err(),
        TokenRejection::TooLarge
    );
    assert_eq!(
        check(&"A".repeat(8193)).unwrap_err(),
        TokenRejection::TooLarge
    );
}

#[test]
fn malformed_structure_encoding_and_json() {
    let k = key(Algorithm::EdDSA);
    let good = signed(k, &header(k), &claims());
    let parts: Vec<&str> = good.split('.').collect();
    let cases = [
        String::new(),
        "a.b".into(),
        format!("{good}.x"),
        format!("!!.{}.{}", parts[1], parts[2]),
        format!("{}.{}.{}", parts[0], parts[1], "%%"),
        format!("{}.{}.{}", seg(&json!(["alg"])), parts[1], parts[2]),
        format!("{}.{}.{}", b64_encode(b"not json"), parts[1], parts[2]),
        raw(k, &header(k).to_string(), "[1,2]"),
        raw(k, &header(k).to_string(), "{\"sub\":"),
        format!(
            "{}.{}.{}",
            seg(&json!({"typ": "at+jwt"})),
            parts[1],
            parts[2]
        ),
    ];
    for bad in cases {
        assert_eq!(check(&bad).unwrap_err(), TokenRejection::Malformed, "{bad}");
    }
}

#[test]
fn padded_or_non_canonical_base64url_is_malformed() {
    let k = key(Algorithm::EdDSA);
    let good = signed(k, &header(k), &claims());
    let parts: Vec<&str> = good.split('.').collect();
    // A segment whose length leaves trailing bits, so a changed last character is non-canonical.
    let sig = parts[2];
    assert_eq!(
        sig.len() % 4,
        2,
        "64-byte signatures end in a partial group"
    );
    let last = sig.chars().last().unwrap();
    // Canonical final characters carry zero low bits (A, Q, g, w); B, R, h, x set one.
    let idx = "AQgw".find(last).unwrap();
    let tweaked: String = sig[..sig.len() - 1].to_owned() + &"BRhx"[idx..=idx];
    assert_ne!(tweaked, sig);
    assert_eq!(b64_decode(&tweaked), None);
    let cases = [
        format!("{}.{}.{}==", parts[0], parts[1], parts[2]),
        format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
        format!("{}.{}.{}", parts[0], parts[1], tweaked),
        good.replace('-', "+").replace('_', "/"),
    ];
    for bad in cases {
        if bad == good {
            continue;
        }
        assert_eq!(check(&bad).unwrap_err(), TokenRejection::Malformed, "{bad}");
    }
}

#[test]
fn duplicate_members_in_header_or_payload() {
    let k = key(Algorithm::EdDSA);
    let h = format!(
        r#"{{"alg":"EdDSA","typ":"at+jwt","kid":"{}","kid":"other"}}"#,
        k.kid()
    );
    assert_eq!(
        check(&raw(k, &h, &claims().to_string())).unwrap_err(),
        TokenRejection::DuplicateMember
    );
    let payload = claims().to_string().replacen('{', r#"{"sub":"admin","#, 1);
    assert_eq!(
        check(&raw(k, &header(k).to_string(), &payload)).unwrap_err(),
        TokenRejection::DuplicateMember
    );
}

#[test]
fn claims_of_the_wrong_type_or_range() {
    let k = key(Algorithm::EdDSA);
    let cases = [
        ("sub", json!(42)),
        ("exp", json!("9999999999")),
        ("exp", json!(1e30)),
        ("exp", json!(NOW as f64 + 0.5)),
        ("exp", json!(i64::MAX)),
        ("iat", json!(-5)),
    ];
    for (name, value) in cases {
        let c = with(claims(), name, value);
        assert_eq!(
            check(&signed(k, &header(k), &c)).unwrap_err(),
            TokenRejection::BadClaim(name)
        );
    }
}

#[test]
fn tampered_payload_fails_the_signature() {
    for k in keys() {
        let good = signed(k, &header(k), &claims());
        let parts: Vec<&str> = good.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            seg(&with(claims(), "role", json!("root"))),
            parts[2]
        );
        assert_eq!(
            check(&forged).unwrap_err(),
            TokenRejection::BadSignature,
            "{}",
            k.algorithm()
        );
    }
}

#[test]
fn ecdsa_zero_signature_is_rejected() {
    // CVE-2022-21449 ("psychic signatures"): r = s = 0 must never verify.
    let k = key(Algorithm::ES256);
    let input = format!("{}.{}", seg(&header(k)), seg(&claims()));
    let zero = format!("{input}.{}", b64_encode(&[0u8; 64]));
    assert_eq!(check(&zero).unwrap_err(), TokenRejection::BadSignature);
    let mut der_like = [0u8; 64];
    der_like[31] = 1; // r = 1, s = 0
    assert_eq!(
        check(&format!("{input}.{}", b64_encode(&der_like))).unwrap_err(),
        TokenRejection::BadSignature
    );
}

#[test]
fn ed25519_signatures_are_verified_strictly() {
    let k = key(Algorithm::EdDSA);
    let good = signed(k, &header(k), &claims());
    let (input, sig) = good.rsplit_once('.').unwrap();
    let sig = b64_decode(sig).unwrap();
    let truncated = format!("{input}.{}", b64_encode(&sig[..63]));
    let mut longer = sig.clone();
    longer.push(0);
    let extended = format!("{input}.{}", b64_encode(&longer));
    // S + L: the same signature with a non-canonical scalar must not verify (malleability).
    let mut malleable = sig.clone();
    add_group_order(&mut malleable[32..]);
    let non_canonical = format!("{input}.{}", b64_encode(&malleable));
    for bad in [truncated, extended, non_canonical, format!("{input}.")] {
        assert_eq!(check(&bad).unwrap_err(), TokenRejection::BadSignature);
    }
}

/// Adds the Ed25519 group order L to a little-endian 32-byte scalar.
fn add_group_order(s: &mut [u8]) {
    const L: [u8; 32] = [
        0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde,
        0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let mut carry = 0u16;
    for (b, l) in s.iter_mut().zip(L) {
        let sum = u16::from(*b) + u16::from(l) + carry;
        *b = sum as u8;
        carry = sum >> 8;
    }
}

mod never_panics {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn on_arbitrary_text(s in any::<String>()) {
            prop_assert!(check(&s).is_err());
        }

        #[test]
        fn on_arbitrary_segments(
            h in proptest::collection::vec(any::<u8>(), 0..64),
            p in proptest::collection::vec(any::<u8>(), 0..64),
            s in proptest::collection::vec(any::<u8>(), 0..80),
        ) {
            let token = format!("{}.{}.{}", b64_encode(&h), b64_encode(&p), b64_encode(&s));
            prop_assert!(check(&token).is_err());
        }

        #[test]
        fn on_valid_header_with_arbitrary_payload(p in proptest::collection::vec(any::<u8>(), 0..128)) {
            let k = key(Algorithm::EdDSA);
            let input = format!("{}.{}", seg(&header(k)), b64_encode(&p));
            let token = format!("{input}.{}", b64_encode(&k.sign(input.as_bytes()).unwrap()));
            // Correctly signed garbage is still refused, with a reason, not a panic.
            prop_assert!(check(&token).is_err());
        }
    }
}

#[test]
fn a_trusted_key_is_refused_from_its_end_on_whatever_the_upkeep_does() {
    let k = key(Algorithm::EdDSA);
    let until = Timestamp::from_secs(NOW + 60);
    let trusted = k.verifying_key().clone().accepted_until(until);
    let v = Verifier::new(Validation::new("https://issuer", "api"), [&trusted]);
    let token = signed(k, &header(k), &with(claims(), "exp", json!(NOW + 3600)));
    assert!(v.verify(&token, Timestamp::from_secs(NOW + 59)).is_ok());
    assert!(matches!(
        v.verify(&token, until),
        Err(Error::InvalidToken(TokenRejection::UnknownKey))
    ));
}
