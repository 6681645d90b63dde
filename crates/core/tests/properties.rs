//! Property tests of every parser that reads what a client sends, through the public API only:
//! compact JWS access tokens (a `Verifier` and `SessionManager::verify`), refresh tokens, session
//! cookies and API keys, login names, and sealed envelopes.
//!
//! They are the project's fuzzing (cargo-fuzz needs a nightly toolchain): each target runs a
//! modest number of cases here, and `scripts/fuzz` runs the same targets with `PROPTEST_CASES`
//! raised and a time budget per target (`TESSERA_FUZZ_SECONDS`). Every target asserts a real
//! property (exact rejections, canonical round trips, mutations refused), not merely "runs".

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "tests"
)]

use std::collections::BTreeMap;
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestCaseError;
use serde_json::{Map, Value, json};
use tessera::jwt::{SigningKey, Validation, Verifier};
use tessera::{
    Algorithm, ApiKey, CookieToken, Error, KeyEncryptionKey, LoginName, ManualClock, MemoryStore,
    NewSession, RefreshRejection, RefreshToken, Sealer, ServerSecret, SessionId, SessionManager,
    Settings, Timestamp, TokenRejection,
};

/// The harness shared by every target: proptest's runner, with its case count and time budget
/// taken from the environment.
mod fuzz {
    use std::cell::Cell;
    use std::io::Write;
    use std::time::{Duration, Instant};

    use proptest::strategy::Strategy;
    use proptest::test_runner::{Config, TestCaseResult, TestRunner};

    /// Runs `test` on values of `strategy`: `ci_cases` cases, or `PROPTEST_CASES` when set (the
    /// other `PROPTEST_*` variables apply too). With `TESSERA_FUZZ_SECONDS` set, stops after
    /// that long (between slices of cases). Prints one line (target, cases passed, executions
    /// including shrinking, seconds, outcome), also appended to `TESSERA_FUZZ_REPORT` when set,
    /// and fails with the minimal failing input.
    #[allow(
        clippy::disallowed_methods,
        reason = "the fuzzing time budget; no rule under test reads this clock"
    )]
    pub fn run<S: Strategy>(
        name: &str,
        ci_cases: u32,
        strategy: S,
        test: impl Fn(S::Value) -> TestCaseResult,
    ) {
        // `Config::default()` reads the `PROPTEST_*` variables.
        let total = match std::env::var_os("PROPTEST_CASES") {
            Some(_) => Config::default().cases,
            None => ci_cases,
        };
        let mut config = Config::with_cases(total);
        // No regression files in the source tree; a failure prints its minimal input instead.
        config.failure_persistence = None;
        let budget = std::env::var("TESSERA_FUZZ_SECONDS")
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|s| *s > 0.0)
            .map(Duration::from_secs_f64);
        let slice = if budget.is_some() { 50 } else { total.max(1) };
        let started = Instant::now();
        let executions = Cell::new(0u64);
        let mut seeds = TestRunner::new(config.clone());
        let mut passed = 0u32;
        let mut failure = None;
        while passed < total && budget.is_none_or(|b| started.elapsed() < b) {
            let cases = slice.min(total - passed);
            let mut sliced = config.clone();
            sliced.cases = cases;
            let mut runner = TestRunner::new_with_rng(sliced, seeds.new_rng());
            let outcome = runner.run(&strategy, |value| {
                executions.set(executions.get() + 1);
                test(value)
            });
            if let Err(e) = outcome {
                failure = Some(e.to_string());
                break;
            }
            passed += cases;
        }
        let line = format!(
            "{name}\t{passed}\t{}\t{:.1}\t{}",
            executions.get(),
            started.elapsed().as_secs_f64(),
            if failure.is_some() { "FAILED" } else { "ok" }
        );
        eprintln!("fuzz\t{line}");
        if let Some(path) = std::env::var_os("TESSERA_FUZZ_REPORT") {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path);
            if let Ok(mut file) = file {
                let _ = writeln!(file, "{line}");
            }
        }
        if let Some(failure) = failure {
            panic!("{name}: {failure}");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JWS access tokens
// ---------------------------------------------------------------------------------------------

const NOW: i64 = 1_700_000_000;
const ISSUER: &str = "https://issuer.example";
const AUDIENCE: &str = "api";
/// Latest `NumericDate` a token may carry (9999-12-31T23:59:59Z).
const MAX_DATE: i64 = 253_402_300_799;
const LEEWAY: i64 = 30;
const REGISTERED: [&str; 9] = [
    "iss", "aud", "sub", "sid", "jti", "iat", "exp", "nbf", "typ",
];

/// One signing key per algorithm, made once per test process (RS256 takes a moment).
fn keys() -> &'static [SigningKey; 4] {
    static KEYS: OnceLock<[SigningKey; 4]> = OnceLock::new();
    KEYS.get_or_init(|| Algorithm::ALL.map(|alg| SigningKey::generate(alg).unwrap()))
}

fn verifier() -> Verifier {
    Verifier::new(
        Validation::new(ISSUER, AUDIENCE),
        keys().iter().map(SigningKey::verifying_key),
    )
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The rejection of `token`, or its claims.
fn verdict(v: &Verifier, token: &str) -> Result<tessera::AccessClaims, TokenRejection> {
    match v.verify(token, Timestamp::from_secs(NOW)) {
        Ok(claims) => Ok(claims),
        Err(Error::InvalidToken(r)) => Err(r),
        Err(other) => panic!("a verifier answers only InvalidToken, not {other:?}"),
    }
}

/// A JSON object written member by member, so a name can be repeated.
fn object(members: &[(String, String)]) -> String {
    let body: Vec<String> = members
        .iter()
        .map(|(k, v)| format!("{}:{v}", serde_json::to_string(k).unwrap()))
        .collect();
    format!("{{{}}}", body.join(","))
}

fn string_text(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

#[derive(Debug, Clone)]
enum AlgSpec {
    /// The signing key's own algorithm.
    Right,
    /// Another supported algorithm's name (the key's own when it is the same).
    Named(Algorithm),
    /// `none` in some casing.
    None(&'static str),
    Text(String),
    NotString,
}

#[derive(Debug, Clone)]
enum TypSpec {
    Missing,
    Text(&'static str),
    NotString,
}

#[derive(Debug, Clone)]
enum KidSpec {
    Right,
    Missing,
    Unknown(String),
    NotString,
}

#[derive(Debug, Clone)]
struct HeaderSpec {
    alg: AlgSpec,
    typ: TypSpec,
    kid: KidSpec,
    /// A member outside `alg`, `typ`, `kid`.
    extra: Option<String>,
    /// `alg` written twice.
    duplicate: bool,
}

#[derive(Debug, Clone)]
enum SigSpec {
    Right,
    /// The right key's signature over some other input.
    OtherInput,
    Garbage(Vec<u8>),
    /// Not canonical unpadded base64url.
    NotBase64(&'static str),
}

/// A string claim (`iss`, `sub`, `jti`).
#[derive(Debug, Clone)]
enum StrSpec {
    Missing,
    Right,
    Text(String),
    Empty,
    OfLen(usize),
    NotString,
}

#[derive(Debug, Clone)]
enum AudSpec {
    Missing,
    Text(String),
    List(Vec<Option<String>>),
    NotString,
}

#[derive(Debug, Clone)]
enum SidSpec {
    Missing,
    Valid([u8; 16]),
    Text(String),
    NotString,
}

#[derive(Debug, Clone)]
enum DateSpec {
    Missing,
    /// `NOW` plus this many seconds.
    Rel(i64),
    Exactly(i64),
    /// Raw JSON text: floats, strings, huge numbers.
    Raw(&'static str),
}

#[derive(Debug, Clone)]
struct PayloadSpec {
    iss: StrSpec,
    aud: AudSpec,
    sub: StrSpec,
    sid: SidSpec,
    jti: StrSpec,
    iat: DateSpec,
    exp: DateSpec,
    nbf: DateSpec,
    extra: BTreeMap<String, i64>,
    /// Repeat the member at this index.
    duplicate: Option<usize>,
    /// Replace the whole payload by this text.
    not_object: Option<&'static str>,
}

#[derive(Debug, Clone)]
struct TokenSpec {
    key: usize,
    header: HeaderSpec,
    signature: SigSpec,
    payload: PayloadSpec,
}

fn header_spec() -> impl Strategy<Value = HeaderSpec> {
    let alg = prop_oneof![
        40 => Just(AlgSpec::Right),
        2 => select(Algorithm::ALL.to_vec()).prop_map(AlgSpec::Named),
        1 => select(vec!["none", "None", "NONE", "nOnE"]).prop_map(AlgSpec::None),
        1 => "[A-Za-z0-9]{0,6}".prop_map(AlgSpec::Text),
        1 => Just(AlgSpec::NotString),
    ];
    let typ = prop_oneof![
        40 => select(vec!["at+jwt", "AT+JWT", "application/at+jwt", "Application/At+JWT"])
            .prop_map(TypSpec::Text),
        1 => select(vec!["JWT", "jwt", "", "at+jwt ", "application/jwt"]).prop_map(TypSpec::Text),
        1 => Just(TypSpec::Missing),
        1 => Just(TypSpec::NotString),
    ];
    let kid = prop_oneof![
        40 => Just(KidSpec::Right),
        1 => Just(KidSpec::Missing),
        1 => "[A-Za-z0-9_-]{0,16}".prop_map(KidSpec::Unknown),
        1 => Just(KidSpec::NotString),
    ];
    let extra = prop_oneof![
        40 => Just(None),
        1 => select(vec!["jku", "x5u", "jwk", "x5c", "crit", "cty", "b64", "zip"])
            .prop_map(|s| Some(s.to_owned())),
        1 => "x[a-z]{0,5}".prop_map(Some),
    ];
    (alg, typ, kid, extra, prop::bool::weighted(0.02)).prop_map(
        |(alg, typ, kid, extra, duplicate)| HeaderSpec {
            alg,
            typ,
            kid,
            extra,
            duplicate,
        },
    )
}

fn str_spec() -> impl Strategy<Value = StrSpec> {
    prop_oneof![
        60 => Just(StrSpec::Right),
        1 => Just(StrSpec::Missing),
        1 => "[ -~]{1,12}".prop_map(StrSpec::Text),
        1 => Just(StrSpec::Empty),
        1 => select(vec![255usize, 256, 257, 300]).prop_map(StrSpec::OfLen),
        1 => Just(StrSpec::NotString),
    ]
}

fn aud_spec() -> impl Strategy<Value = AudSpec> {
    let item = prop_oneof![
        3 => Just(Some(AUDIENCE.to_owned())),
        2 => "[a-z]{0,4}".prop_map(Some),
        1 => Just(None),
    ];
    prop_oneof![
        40 => Just(AudSpec::Text(AUDIENCE.to_owned())),
        1 => Just(AudSpec::Missing),
        1 => "[a-z]{0,4}".prop_map(AudSpec::Text),
        3 => prop::collection::vec(item, 0..4).prop_map(AudSpec::List),
        1 => Just(AudSpec::NotString),
    ]
}

fn sid_spec() -> impl Strategy<Value = SidSpec> {
    prop_oneof![
        60 => any::<[u8; 16]>().prop_map(SidSpec::Valid),
        1 => Just(SidSpec::Missing),
        2 => "[A-Za-z0-9_=+/-]{0,24}".prop_map(SidSpec::Text),
        1 => Just(SidSpec::NotString),
    ]
}

fn date_spec(typical: std::ops::Range<i64>) -> impl Strategy<Value = DateSpec> {
    let edges = vec![
        -LEEWAY - 1,
        -LEEWAY,
        -LEEWAY + 1,
        -1,
        0,
        1,
        LEEWAY - 1,
        LEEWAY,
        LEEWAY + 1,
    ];
    prop_oneof![
        40 => typical.prop_map(DateSpec::Rel),
        4 => select(edges).prop_map(DateSpec::Rel),
        1 => Just(DateSpec::Missing),
        1 => select(vec![-1, 0, MAX_DATE, MAX_DATE + 1, i64::MIN, i64::MAX]).prop_map(DateSpec::Exactly),
        1 => select(vec!["1700000000.0", "1.7e9", "\"1700000600\"", "true", "null",
                         "18446744073709551615", "[1700000600]", "-0"])
            .prop_map(DateSpec::Raw),
    ]
}

fn payload_spec() -> impl Strategy<Value = PayloadSpec> {
    let extra = prop::collection::btree_map("c_[a-z]{1,5}", any::<i64>(), 0..3);
    let not_object = prop_oneof![
        60 => Just(None),
        1 => select(vec!["[]", "1", "\"x\"", "{", "{}{}", "null", "{\"iss\":}", ""]).prop_map(Some),
    ];
    (
        (str_spec(), aud_spec(), str_spec(), sid_spec(), str_spec()),
        (
            date_spec(-1000..10),
            date_spec(-10..2000),
            prop_oneof![3 => Just(DateSpec::Missing), 1 => date_spec(-100..100)],
        ),
        extra,
        prop::option::weighted(0.02, 0usize..12),
        not_object,
    )
        .prop_map(
            |((iss, aud, sub, sid, jti), (iat, exp, nbf), extra, duplicate, not_object)| {
                PayloadSpec {
                    iss,
                    aud,
                    sub,
                    sid,
                    jti,
                    iat,
                    exp,
                    nbf,
                    extra,
                    duplicate,
                    not_object,
                }
            },
        )
}

fn token_spec() -> impl Strategy<Value = TokenSpec> {
    let signature = prop_oneof![
        40 => Just(SigSpec::Right),
        1 => Just(SigSpec::OtherInput),
        1 => prop::collection::vec(any::<u8>(), 0..80).prop_map(SigSpec::Garbage),
        1 => select(vec!["AAAA==", "a+b/", "QR", "A", "!", " "]).prop_map(SigSpec::NotBase64),
    ];
    (0usize..4, header_spec(), signature, payload_spec()).prop_map(
        |(key, header, signature, payload)| TokenSpec {
            key,
            header,
            signature,
            payload,
        },
    )
}

fn str_value(spec: &StrSpec, right: &str) -> Option<String> {
    match spec {
        StrSpec::Missing => None,
        StrSpec::Right => Some(string_text(right)),
        StrSpec::Text(s) => Some(string_text(s)),
        StrSpec::Empty => Some(string_text("")),
        StrSpec::OfLen(n) => Some(string_text(&"x".repeat(*n))),
        StrSpec::NotString => Some("42".into()),
    }
}

fn date_value(spec: &DateSpec) -> Option<String> {
    match spec {
        DateSpec::Missing => None,
        DateSpec::Rel(d) => Some((NOW + d).to_string()),
        DateSpec::Exactly(v) => Some(v.to_string()),
        DateSpec::Raw(text) => Some((*text).to_owned()),
    }
}

impl TokenSpec {
    fn key(&self) -> &'static SigningKey {
        &keys()[self.key]
    }

    fn header_members(&self) -> Vec<(String, String)> {
        let h = &self.header;
        let key = self.key();
        let mut out = Vec::new();
        let alg = match &h.alg {
            AlgSpec::Right => Some(string_text(key.algorithm().as_str())),
            AlgSpec::Named(a) => Some(string_text(a.as_str())),
            AlgSpec::None(s) => Some(string_text(s)),
            AlgSpec::Text(s) => Some(string_text(s)),
            AlgSpec::NotString => Some("256".into()),
        };
        if let Some(alg) = &alg {
            out.push(("alg".to_owned(), alg.clone()));
        }
        match &h.typ {
            TypSpec::Missing => {}
            TypSpec::Text(t) => out.push(("typ".into(), string_text(t))),
            TypSpec::NotString => out.push(("typ".into(), "[\"at+jwt\"]".into())),
        }
        match &h.kid {
            KidSpec::Right => out.push(("kid".into(), string_text(key.kid()))),
            KidSpec::Missing => {}
            KidSpec::Unknown(k) => out.push(("kid".into(), string_text(k))),
            KidSpec::NotString => out.push(("kid".into(), "{}".into())),
        }
        if let Some(extra) = &h.extra {
            out.push((extra.clone(), string_text("https://attacker.example")));
        }
        if h.duplicate
            && let Some(alg) = alg
        {
            out.push(("alg".into(), alg));
        }
        out
    }

    fn payload_members(&self) -> Vec<(String, String)> {
        let p = &self.payload;
        let mut out: Vec<(String, Option<String>)> = vec![
            ("iss".into(), str_value(&p.iss, ISSUER)),
            (
                "aud".into(),
                match &p.aud {
                    AudSpec::Missing => None,
                    AudSpec::Text(s) => Some(string_text(s)),
                    AudSpec::List(items) => Some(
                        serde_json::to_string(
                            &items
                                .iter()
                                .map(|i| i.as_ref().map_or(json!(7), |s| json!(s)))
                                .collect::<Vec<_>>(),
                        )
                        .unwrap(),
                    ),
                    AudSpec::NotString => Some("{\"aud\":\"api\"}".into()),
                },
            ),
            ("sub".into(), str_value(&p.sub, "user-1")),
            (
                "sid".into(),
                match &p.sid {
                    SidSpec::Missing => None,
                    SidSpec::Valid(bytes) => {
                        Some(string_text(&SessionId::from_bytes(*bytes).to_string()))
                    }
                    SidSpec::Text(s) => Some(string_text(s)),
                    SidSpec::NotString => Some("null".into()),
                },
            ),
            ("jti".into(), str_value(&p.jti, "jti-1")),
            ("iat".into(), date_value(&p.iat)),
            ("exp".into(), date_value(&p.exp)),
            ("nbf".into(), date_value(&p.nbf)),
        ];
        for (k, v) in &p.extra {
            out.push((k.clone(), Some(v.to_string())));
        }
        let mut out: Vec<(String, String)> = out
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        if let Some(i) = p.duplicate
            && let Some(member) = out.get(i % out.len().max(1)).cloned()
        {
            out.push(member);
        }
        out
    }

    /// The compact token.
    fn render(&self) -> String {
        let header = object(&self.header_members());
        let payload = self
            .payload
            .not_object
            .map_or_else(|| object(&self.payload_members()), str::to_owned);
        let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
        let signature = match &self.signature {
            SigSpec::Right => b64(&self.key().sign(input.as_bytes()).unwrap()),
            SigSpec::OtherInput => b64(&self.key().sign(b"another.input").unwrap()),
            SigSpec::Garbage(bytes) => b64(bytes),
            SigSpec::NotBase64(text) => (*text).to_owned(),
        };
        format!("{input}.{signature}")
    }

    /// What the verifier must answer, check by check in its documented order.
    fn expected(&self) -> Result<Value, TokenRejection> {
        // Header: structure, then alg, forbidden members, typ, kid, alg pinned to the key.
        let header_members = self.header_members();
        if has_duplicate(&header_members) {
            return Err(TokenRejection::DuplicateMember);
        }
        let header: Map<String, Value> = header_members
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::from_str(v).unwrap()))
            .collect();
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .ok_or(TokenRejection::Malformed)?;
        if alg.eq_ignore_ascii_case("none") {
            return Err(TokenRejection::AlgNone);
        }
        if header
            .keys()
            .any(|k| !["alg", "typ", "kid"].contains(&k.as_str()))
        {
            return Err(TokenRejection::ForbiddenHeader);
        }
        let typ = header.get("typ").and_then(Value::as_str).unwrap_or("");
        if !typ.eq_ignore_ascii_case("at+jwt") && !typ.eq_ignore_ascii_case("application/at+jwt") {
            return Err(TokenRejection::WrongType);
        }
        let kid = header.get("kid").and_then(Value::as_str);
        let named = keys()
            .iter()
            .find(|k| Some(k.kid()) == kid)
            .ok_or(TokenRejection::UnknownKey)?;
        if named.algorithm().as_str() != alg {
            return Err(TokenRejection::AlgMismatch);
        }
        // Signature: canonical base64url, then the key named.
        match &self.signature {
            SigSpec::NotBase64(_) => return Err(TokenRejection::Malformed),
            SigSpec::Right if named.kid() == self.key().kid() => {}
            SigSpec::Right => return Err(TokenRejection::BadSignature),
            SigSpec::OtherInput | SigSpec::Garbage(_) => {
                return Err(TokenRejection::BadSignature);
            }
        }
        // Payload: a JSON object without repeated names, then each registered claim.
        if self.payload.not_object.is_some() {
            return Err(TokenRejection::Malformed);
        }
        let members = self.payload_members();
        if has_duplicate(&members) {
            return Err(TokenRejection::DuplicateMember);
        }
        let map: Map<String, Value> = members
            .iter()
            .map(|(k, v)| (k.clone(), serde_json::from_str(v).unwrap()))
            .collect();
        let claim = |name: &'static str| TokenRejection::BadClaim(name);
        let string = |name: &'static str| match map.get(name) {
            Some(Value::String(s)) if !s.is_empty() && s.len() <= 256 => Ok(s.clone()),
            _ => Err(claim(name)),
        };
        let date = |name: &'static str| match map.get(name) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_i64() {
                Some(v) if (0..=MAX_DATE).contains(&v) => Ok(Some(v)),
                _ => Err(claim(name)),
            },
            Some(_) => Err(claim(name)),
        };
        let iss = string("iss")?;
        let aud: Vec<String> = match map.get("aud") {
            Some(Value::String(s)) => vec![s.clone()],
            Some(Value::Array(items)) if !items.is_empty() => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned).ok_or(claim("aud")))
                .collect::<Result<_, _>>()?,
            _ => return Err(claim("aud")),
        };
        let sub = string("sub")?;
        let sid: SessionId = string("sid")?.parse().map_err(|_| claim("sid"))?;
        let jti = string("jti")?;
        let iat = date("iat")?.ok_or(claim("iat"))?;
        let exp = date("exp")?.ok_or(claim("exp"))?;
        let nbf = date("nbf")?;
        // Claims against the validation, with the 30 s leeway.
        if iss != ISSUER {
            return Err(TokenRejection::WrongIssuer);
        }
        if !aud.iter().any(|a| a == AUDIENCE) {
            return Err(TokenRejection::WrongAudience);
        }
        if NOW >= exp + LEEWAY {
            return Err(TokenRejection::Expired);
        }
        if nbf.is_some_and(|nbf| nbf > NOW + LEEWAY) {
            return Err(TokenRejection::NotYetValid);
        }
        if iat > NOW + LEEWAY {
            return Err(TokenRejection::IssuedInFuture);
        }
        let extra: Map<String, Value> = map
            .iter()
            .filter(|(k, _)| !REGISTERED.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        Ok(json!({
            "iss": iss, "aud": aud, "sub": sub, "sid": sid.to_string(), "jti": jti,
            "iat": iat, "exp": exp, "nbf": nbf, "extra": extra,
        }))
    }
}

fn has_duplicate(members: &[(String, String)]) -> bool {
    let mut seen = std::collections::HashSet::new();
    members.iter().any(|(k, _)| !seen.insert(k.as_str()))
}

fn claims_json(c: &tessera::AccessClaims) -> Value {
    json!({
        "iss": c.iss, "aud": c.aud, "sub": c.sub, "sid": c.sid.to_string(), "jti": c.jti,
        "iat": c.iat, "exp": c.exp, "nbf": c.nbf, "extra": c.extra,
    })
}

/// Every token built from a structured description gets exactly the verdict of the documented
/// checks, in their order: header (duplicates, `alg`, `none`, forbidden members, `typ`, `kid`,
/// pinned algorithm), signature, payload (JSON object, duplicates, each registered claim's type
/// and range), then issuer, audience and times with the leeway. Accepted tokens yield exactly
/// the claims signed.
#[test]
fn jws_verdicts_follow_the_documented_checks() {
    let v = verifier();
    fuzz::run("jws_model", 256, token_spec(), |spec| {
        let token = spec.render();
        let got = verdict(&v, &token).map(|c| claims_json(&c));
        prop_assert_eq!(got, spec.expected(), "token {}", token);
        Ok(())
    });
}

/// Edits of one valid token, as an attacker or a broken proxy would make them.
#[derive(Debug, Clone)]
enum Edit {
    Replace(usize, char),
    Insert(usize, char),
    Delete(usize),
    Truncate(usize),
    Append(String),
    SwapSegments(usize, usize),
    ReplaceSegment(usize, String),
    /// The signature segment of a token for another payload.
    Splice,
}

fn token_char() -> impl Strategy<Value = char> {
    prop_oneof![
        8 => select(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                .chars()
                .collect::<Vec<_>>()
        ),
        1 => select(vec!['.', '=', '+', '/', ' ', '\n', '\0', 'é', '\u{202e}']),
        1 => any::<char>(),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        6 => (any::<usize>(), token_char()).prop_map(|(i, c)| Edit::Replace(i, c)),
        2 => (any::<usize>(), token_char()).prop_map(|(i, c)| Edit::Insert(i, c)),
        2 => any::<usize>().prop_map(Edit::Delete),
        1 => any::<usize>().prop_map(Edit::Truncate),
        1 => "[A-Za-z0-9_.=-]{1,8}".prop_map(Edit::Append),
        1 => (0usize..3, 0usize..3).prop_map(|(a, b)| Edit::SwapSegments(a, b)),
        1 => (0usize..3, "[A-Za-z0-9_-]{0,40}").prop_map(|(i, s)| Edit::ReplaceSegment(i, s)),
        1 => Just(Edit::Splice),
    ]
}

fn apply(token: &str, edits: &[Edit], other: &str) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    for e in edits {
        let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
        match e {
            Edit::Replace(i, c) if !chars.is_empty() => {
                let i = at(*i, chars.len());
                chars[i] = *c;
            }
            Edit::Insert(i, c) => chars.insert(at(*i, chars.len() + 1), *c),
            Edit::Delete(i) if !chars.is_empty() => {
                chars.remove(at(*i, chars.len()));
            }
            Edit::Truncate(i) => chars.truncate(at(*i, chars.len())),
            Edit::Append(s) => chars.extend(s.chars()),
            Edit::SwapSegments(..) | Edit::ReplaceSegment(..) | Edit::Splice => {
                let text: String = chars.iter().collect();
                let mut parts: Vec<String> = text.split('.').map(str::to_owned).collect();
                let n = parts.len();
                match e {
                    Edit::SwapSegments(a, b) if *a < n && *b < n => parts.swap(*a, *b),
                    Edit::ReplaceSegment(a, s) if *a < n => parts[*a] = s.clone(),
                    Edit::Splice if n == 3 => {
                        parts[2] = other.rsplit('.').next().unwrap_or("").to_owned();
                    }
                    _ => {}
                }
                chars = parts.join(".").chars().collect();
            }
            _ => {}
        }
    }
    chars.into_iter().collect()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn manager(
    rt: &tokio::runtime::Runtime,
    algorithm: Algorithm,
) -> SessionManager<MemoryStore, ManualClock> {
    let mut settings = Settings::new(
        Validation::new(ISSUER, AUDIENCE),
        ServerSecret::generate().unwrap(),
    );
    settings.rotation.algorithm = algorithm;
    let clock = ManualClock::new(Timestamp::from_secs(NOW));
    rt.block_on(SessionManager::start(MemoryStore::new(), clock, settings))
        .unwrap()
}

/// Any edit of a valid token (a character replaced, inserted or deleted, truncation, segments
/// swapped or replaced, another token's signature) is rejected, by a bare verifier and by a
/// manager that has the original cached; the original still verifies afterwards. Strict
/// base64url matters here: a non-canonical last character must not decode to the same bytes.
#[test]
fn jws_edited_tokens_are_rejected() {
    let rt = runtime();
    let managers: Vec<_> = [Algorithm::EdDSA, Algorithm::ES256, Algorithm::HS256]
        .into_iter()
        .map(|alg| manager(&rt, alg))
        .collect();
    let issued: Vec<(String, String)> = managers
        .iter()
        .map(|m| {
            let mut new = NewSession::for_user("user-1");
            new.claims.insert("role".into(), json!("admin"));
            let a = rt.block_on(m.create(new.clone())).unwrap();
            let b = rt.block_on(m.create(new)).unwrap();
            (
                a.access_token.expose().to_owned(),
                b.access_token.expose().to_owned(),
            )
        })
        .collect();
    let v = verifier();
    let direct: Vec<String> = keys()
        .iter()
        .map(|k| {
            let spec = TokenSpec {
                key: keys().iter().position(|x| x.kid() == k.kid()).unwrap(),
                header: HeaderSpec {
                    alg: AlgSpec::Right,
                    typ: TypSpec::Text("at+jwt"),
                    kid: KidSpec::Right,
                    extra: None,
                    duplicate: false,
                },
                signature: SigSpec::Right,
                payload: PayloadSpec {
                    iss: StrSpec::Right,
                    aud: AudSpec::Text(AUDIENCE.into()),
                    sub: StrSpec::Right,
                    sid: SidSpec::Valid([7; 16]),
                    jti: StrSpec::Right,
                    iat: DateSpec::Rel(0),
                    exp: DateSpec::Rel(600),
                    nbf: DateSpec::Missing,
                    extra: BTreeMap::new(),
                    duplicate: None,
                    not_object: None,
                },
            };
            spec.render()
        })
        .collect();
    let strategy = (0usize..7, prop::collection::vec(edit(), 1..4));
    fuzz::run("jws_edits", 256, strategy, |(which, edits)| {
        if let Some(token) = direct.get(which) {
            let other = &direct[(which + 1) % direct.len()];
            let edited = apply(token, &edits, other);
            prop_assume!(edited != *token);
            prop_assert!(verdict(&v, token).is_ok());
            let got = verdict(&v, &edited);
            prop_assert!(got.is_err(), "accepted an edited token: {}", edited);
        } else {
            let i = which - direct.len();
            let (m, (token, other)) = (&managers[i], &issued[i]);
            let edited = apply(token, &edits, other);
            prop_assume!(edited != *token);
            prop_assert!(m.verify(token).is_ok());
            let got = m.verify(&edited);
            prop_assert!(
                matches!(got, Err(Error::InvalidToken(_))),
                "manager accepted an edited token {}: {:?}",
                edited,
                got
            );
            prop_assert!(m.verify(token).is_ok(), "the original stops verifying");
        }
        Ok(())
    });
}

/// Texts that look more or less like compact JWS: arbitrary strings, base64url alphabets with
/// dots, and three segments of encoded JSON-ish bytes.
fn jws_like() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        "[A-Za-z0-9_-]{0,60}",
        prop::collection::vec(any::<u8>(), 0..40).prop_map(|b| b64(&b)),
        select(vec![
            "{}",
            "{\"alg\":\"EdDSA\"}",
            "{\"alg\":\"none\",\"typ\":\"at+jwt\"}",
            "[]",
            "{\"a\":1,\"a\":2}",
            "{\"alg\":\"HS256\",\"typ\":\"at+jwt\",\"kid\":\"\"}",
            "\u{feff}{}",
            "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"x\",\"crit\":[\"b64\"]}",
        ])
        .prop_map(|j| b64(j.as_bytes())),
    ];
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_.=+/ -]{0,300}",
        (segment.clone(), segment.clone(), segment).prop_map(|(a, b, c)| format!("{a}.{b}.{c}")),
        "[.]{0,5}",
        (0usize..3).prop_map(|n| format!("{}.e30.", "A".repeat(8 * 1024 + n))),
    ]
}

/// Whatever the text, the verifier answers `InvalidToken` (never another error, never a panic)
/// and accepts nothing it did not sign; over the size cap it is `TooLarge` before any parsing.
#[test]
fn jws_arbitrary_text_is_rejected() {
    let v = verifier();
    fuzz::run("jws_arbitrary", 512, jws_like(), |text| {
        let got = verdict(&v, &text);
        prop_assert!(got.is_err(), "accepted {:?}", text);
        if text.len() > 8 * 1024 {
            prop_assert_eq!(got, Err(TokenRejection::TooLarge));
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------------
// Opaque tokens: refresh tokens, session cookies, API keys (and session ids)
// ---------------------------------------------------------------------------------------------

/// Texts near the opaque formats: any string, a known prefix with base64url of assorted
/// lengths, and raw frames of the right length with a random checksum.
fn opaque_like() -> impl Strategy<Value = String> {
    let prefix = select(vec!["tsr_", "tss_", "tsk_", "TSR_", "tsr", "", "tsr_tsr_"]);
    prop_oneof![
        any::<String>(),
        (prefix.clone(), "[A-Za-z0-9_=+/-]{0,120}").prop_map(|(p, s)| format!("{p}{s}")),
        (
            prefix,
            select(vec![16usize, 20, 36, 52, 55, 60, 61, 64])
                .prop_flat_map(|n| prop::collection::vec(any::<u8>(), n))
        )
            .prop_map(|(p, bytes)| format!("{p}{}", b64(&bytes))),
        "[A-Za-z0-9_-]{20,24}",
    ]
}

/// Each parser accepts only its own canonical text: whatever parses re-encodes to exactly the
/// text given (one textual form per token, so none can be varied past a cache or a comparison),
/// and errors are the documented ones.
#[test]
fn opaque_tokens_parse_only_their_canonical_form() {
    fuzz::run("opaque_arbitrary", 1024, opaque_like(), |text| {
        match RefreshToken::parse(&text) {
            Ok(t) => prop_assert_eq!(t.expose(), text.clone()),
            Err(e) => prop_assert!(
                matches!(e, Error::InvalidRefresh(RefreshRejection::Malformed)),
                "{e:?}"
            ),
        }
        match CookieToken::parse(&text) {
            Ok(c) => prop_assert_eq!(c.expose(), text.clone()),
            Err(e) => prop_assert!(matches!(e, Error::Malformed("session cookie")), "{e:?}"),
        }
        match ApiKey::parse(&text) {
            Ok(k) => prop_assert_eq!(k.expose(), text.clone()),
            Err(e) => prop_assert!(matches!(e, Error::Malformed("API key")), "{e:?}"),
        }
        if let Ok(sid) = text.parse::<SessionId>() {
            prop_assert_eq!(sid.to_string(), text.clone());
        }
        Ok(())
    });
}

#[derive(Debug, Clone)]
enum Opaque {
    Refresh(RefreshToken),
    Cookie(CookieToken),
    Key(String),
}

fn opaque_token() -> impl Strategy<Value = Opaque> {
    prop_oneof![
        (any::<[u8; 16]>(), any::<u64>(), any::<[u8; 32]>()).prop_map(|(sid, g, secret)| {
            Opaque::Refresh(RefreshToken::from_parts(
                SessionId::from_bytes(sid),
                g,
                secret,
            ))
        }),
        any::<[u8; 16]>().prop_map(|sid| {
            Opaque::Cookie(CookieToken::generate(SessionId::from_bytes(sid)).unwrap())
        }),
        Just(()).prop_map(|()| Opaque::Key(ApiKey::generate().unwrap().expose())),
    ]
}

impl Opaque {
    fn text(&self) -> String {
        match self {
            Self::Refresh(t) => t.expose(),
            Self::Cookie(c) => c.expose(),
            Self::Key(k) => k.clone(),
        }
    }
}

/// Tokens round-trip through their text with every part intact, and each parser refuses the
/// other kinds.
#[test]
fn opaque_tokens_round_trip() {
    fuzz::run("opaque_round_trip", 256, opaque_token(), |token| {
        let text = token.text();
        let (refresh, cookie, key) = (
            RefreshToken::parse(&text),
            CookieToken::parse(&text),
            ApiKey::parse(&text),
        );
        match &token {
            Opaque::Refresh(t) => {
                let back = refresh.unwrap();
                prop_assert_eq!(&back, t);
                prop_assert_eq!(back.session_id(), t.session_id());
                prop_assert_eq!(back.generation(), t.generation());
                prop_assert!(back.hash().ct_eq(&t.hash()));
                prop_assert!(cookie.is_err() && key.is_err());
            }
            Opaque::Cookie(c) => {
                let back = cookie.unwrap();
                prop_assert_eq!(&back, c);
                prop_assert!(back.hash().ct_eq(&c.hash()));
                prop_assert!(refresh.is_err() && key.is_err());
            }
            Opaque::Key(k) => {
                prop_assert_eq!(key.unwrap().expose(), k.clone());
                prop_assert!(refresh.is_err() && cookie.is_err());
            }
        }
        // The same body under another kind's prefix is refused (the checksum covers the prefix).
        for prefix in ["tsr_", "tss_", "tsk_"] {
            let moved = format!("{prefix}{}", &text[4..]);
            if moved != text {
                prop_assert!(RefreshToken::parse(&moved).is_err());
                prop_assert!(CookieToken::parse(&moved).is_err());
                prop_assert!(ApiKey::parse(&moved).is_err());
            }
        }
        Ok(())
    });
}

/// One to three edits of a valid token make it unparseable (prefix, encoding, length or the
/// 32-bit checksum catches it; a chance pass would need 2^-32 luck).
#[test]
fn opaque_tokens_edited_are_rejected() {
    let strategy = (opaque_token(), prop::collection::vec(edit(), 1..4));
    fuzz::run("opaque_edits", 512, strategy, |(token, edits)| {
        let text = token.text();
        let edited = apply(&text, &edits, "x.y.z");
        prop_assume!(edited != text);
        prop_assert!(RefreshToken::parse(&edited).is_err(), "{}", edited);
        prop_assert!(CookieToken::parse(&edited).is_err(), "{}", edited);
        prop_assert!(ApiKey::parse(&edited).is_err(), "{}", edited);
        Ok(())
    });
}

/// A forged refresh token for a live session (its public id, any generation, a made-up secret)
/// is refused as `Forged` by refresh and by inspection, and changes nothing: the genuine token
/// still refreshes. Arbitrary text is `Malformed`.
#[test]
fn refresh_forgeries_change_nothing() {
    let rt = runtime();
    let m = manager(&rt, Algorithm::EdDSA);
    let strategy = (
        0u64..4,
        prop_oneof![
            3 => (-3i64..3).prop_map(|d| (d, None)),
            1 => any::<u64>().prop_map(|g| (0, Some(g))),
        ],
        any::<[u8; 32]>(),
        opaque_like(),
    );
    fuzz::run(
        "refresh_forgery",
        64,
        strategy,
        |(rotations, (delta, absolute), secret, text)| {
            rt.block_on(async {
                let mut issued = m.create(NewSession::for_user("user-1")).await.unwrap();
                for _ in 0..rotations {
                    issued = m
                        .refresh(&issued.refresh_token.expose())
                        .await
                        .map_err(|e| TestCaseError::fail(format!("genuine refresh: {e:?}")))?;
                }
                let current = issued.refresh_token.clone();
                let generation =
                    absolute.unwrap_or_else(|| current.generation().saturating_add_signed(delta));
                let forged =
                    RefreshToken::from_parts(current.session_id(), generation, secret).expose();
                prop_assume!(forged != current.expose());
                let got = m.inspect_refresh(&forged).await;
                prop_assert!(
                    matches!(got, Err(Error::InvalidRefresh(RefreshRejection::Forged))),
                    "{:?}",
                    got.map(|s| s.sid)
                );
                let got = m.refresh(&forged).await;
                prop_assert!(
                    matches!(got, Err(Error::InvalidRefresh(RefreshRejection::Forged))),
                    "{:?}",
                    got.map(|i| i.session.sid)
                );
                let session = m.get(&current.session_id()).await.unwrap().unwrap();
                prop_assert!(
                    session.revoked_at.is_none(),
                    "a forgery revoked the session"
                );
                prop_assert!(m.refresh(&current.expose()).await.is_ok());
                if RefreshToken::parse(&text).is_err() {
                    let got = m.refresh(&text).await;
                    prop_assert!(
                        matches!(got, Err(Error::InvalidRefresh(RefreshRejection::Malformed))),
                        "{:?}",
                        got.map(|i| i.session.sid)
                    );
                }
                Ok(())
            })
        },
    );
}

// ---------------------------------------------------------------------------------------------
// Login names
// ---------------------------------------------------------------------------------------------

/// Characters that exercise normalization and the refusals: ASCII, full-width forms, letters
/// whose case or compatibility forms expand, combining marks, final sigma, ligatures, and the
/// invisible or line-breaking ones that must be refused.
fn name_char() -> impl Strategy<Value = char> {
    prop_oneof![
        8 => prop::char::range('a', 'z'),
        2 => prop::char::range('A', 'Z'),
        2 => prop::char::range('0', '9'),
        2 => select(vec!['.', '-', '_', '@', '+']),
        2 => prop::char::range('\u{ff01}', '\u{ff5e}'),
        4 => select(vec![
            'İ', 'ı', 'ß', 'ẞ', 'ς', 'Σ', 'σ', 'ﬁ', 'ﬀ', 'Ⅻ', 'ⅻ', '²', 'ª', 'º', 'Ǆ', 'ǅ', 'ǆ',
            'Å', 'Å', 'å', '\u{301}', '\u{308}', '\u{30a}', '\u{345}', 'ᾳ', 'ᾼ', '㎒', '㍿',
            'ﾊ', 'ﾟ', 'ㄱ', '한', 'Ω', 'Ω', 'K', 'ſ', 'ǰ', 'ŉ', 'ﬃ', '℡', '⑴', 'ℌ', 'ㅤ',
        ]),
        2 => select(vec![
            ' ', '\t', '\n', '\r', '\u{0}', '\u{7f}', '\u{85}', '\u{a0}', '\u{ad}', '\u{200b}',
            '\u{200c}', '\u{200d}', '\u{200e}', '\u{202e}', '\u{2028}', '\u{2029}', '\u{2060}',
            '\u{2800}', '\u{3000}', '\u{feff}', '\u{fe0f}', '\u{e000}', '\u{f8ff}', '\u{e0001}',
            '\u{10ffff}', '\u{115f}', '\u{3164}', '\u{34f}',
        ]),
        1 => any::<char>(),
    ]
}

fn name_like() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::collection::vec(name_char(), 0..24).prop_map(|c| c.into_iter().collect()),
        1 => any::<String>(),
        1 => (prop::collection::vec(name_char(), 0..4), 250usize..260, 1000usize..1030)
            .prop_map(|(c, n, m)| {
                let head: String = c.into_iter().collect();
                format!("{head}{}", "a".repeat(if n % 2 == 0 { n } else { m }))
            }),
    ]
}

/// Normalization is a projection and its output obeys the documented rules: a parsed name
/// parses to itself; it has 3 or more characters, at most 256 bytes, no white space, controls
/// or invisible formatting; surrounding white space, ASCII case and full-width forms do not
/// change it; refusals are `InvalidInput`.
#[test]
fn login_names_normalize_to_a_fixed_point() {
    fuzz::run("login_name", 512, name_like(), |raw| {
        let parsed = LoginName::parse(&raw);
        let name = match parsed {
            Err(Error::InvalidInput(_)) => None,
            Err(e) => return Err(TestCaseError::fail(format!("{e:?}"))),
            Ok(name) => Some(name),
        };
        if let Some(name) = &name {
            let text = name.as_str();
            let again = LoginName::parse(text);
            prop_assert_eq!(
                again.as_ref().ok(),
                Some(name),
                "parse is not idempotent: {:?} -> {:?} -> {:?}",
                raw,
                text,
                again
            );
            prop_assert!(text.chars().count() >= 3 && text.len() <= 256, "{:?}", text);
            prop_assert!(
                !text
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || invisible(c)),
                "{:?} -> {:?}",
                raw,
                text
            );
        }
        if raw.len() <= 1000 {
            let padded = LoginName::parse(&format!(" \t{raw}\n "));
            prop_assert_eq!(padded.ok(), name.clone(), "surrounding space matters");
        }
        if raw.is_ascii() {
            let upper = LoginName::parse(&raw.to_ascii_uppercase());
            prop_assert_eq!(upper.ok(), name.clone(), "ASCII case matters: {:?}", raw);
            if raw.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
                let wide: String = raw
                    .chars()
                    .map(|c| char::from_u32(c as u32 - 0x21 + 0xff01).unwrap())
                    .collect();
                if wide.len() <= 1024 {
                    let wide = LoginName::parse(&wide);
                    prop_assert_eq!(wide.ok(), name, "full-width forms matter: {:?}", raw);
                }
            }
        }
        Ok(())
    });
}

/// Zero-width, bidi, private-use and other characters a person cannot see.
fn invisible(c: char) -> bool {
    matches!(c,
        '\u{ad}' | '\u{34f}' | '\u{61c}' | '\u{115f}' | '\u{1160}' | '\u{180e}'
        | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{206f}'
        | '\u{2800}' | '\u{3164}' | '\u{fe00}'..='\u{fe0f}' | '\u{feff}' | '\u{ffa0}'
        | '\u{e000}'..='\u{f8ff}' | '\u{e0000}'..='\u{e0fff}' | '\u{f0000}'..)
}

// ---------------------------------------------------------------------------------------------
// Sealed envelopes
// ---------------------------------------------------------------------------------------------

fn sealer_pair() -> &'static (Sealer, Sealer) {
    static SEALERS: OnceLock<(Sealer, Sealer)> = OnceLock::new();
    SEALERS.get_or_init(|| {
        let old = KeyEncryptionKey::generate().unwrap();
        let new = KeyEncryptionKey::generate().unwrap();
        // The second opens what the first sealed (a KEK change in progress).
        (
            Sealer::new(old.clone(), Vec::new()),
            Sealer::new(new, vec![old]),
        )
    })
}

#[derive(Debug, Clone)]
enum ByteEdit {
    Flip(usize, u8),
    Truncate(usize),
    Append(Vec<u8>),
    Remove(usize),
}

fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    prop_oneof![
        4 => (any::<usize>(), 1u8..=255).prop_map(|(i, x)| ByteEdit::Flip(i, x)),
        1 => any::<usize>().prop_map(ByteEdit::Truncate),
        1 => prop::collection::vec(any::<u8>(), 1..8).prop_map(ByteEdit::Append),
        1 => any::<usize>().prop_map(ByteEdit::Remove),
    ]
}

/// Sealed values open only in their own slot and only unaltered: any edit of the envelope, or
/// another purpose or id, is refused; arbitrary bytes never open (nor panic); what the old KEK
/// sealed still opens beside the new one.
#[test]
fn sealed_values_open_only_intact_and_in_their_slot() {
    let strategy = (
        "[a-z-]{0,12}",
        "[A-Za-z0-9_-]{0,12}",
        prop::collection::vec(any::<u8>(), 0..100),
        prop::collection::vec(byte_edit(), 1..3),
        "[a-z-]{0,12}",
        prop::collection::vec(any::<u8>(), 0..120),
    );
    fuzz::run(
        "sealed",
        256,
        strategy,
        |(purpose, id, plaintext, edits, other, junk)| {
            let (old, new) = sealer_pair();
            let sealed = old.seal(&purpose, &id, &plaintext).unwrap();
            prop_assert_eq!(old.open(&purpose, &id, &sealed).unwrap(), plaintext.clone());
            prop_assert_eq!(new.open(&purpose, &id, &sealed).unwrap(), plaintext);
            prop_assert!(Sealer::is_sealed(&sealed));
            prop_assert!(!new.is_current(&sealed) && old.is_current(&sealed));
            if other != purpose {
                prop_assert!(new.open(&other, &id, &sealed).is_err());
            }
            if other != id {
                prop_assert!(new.open(&purpose, &other, &sealed).is_err());
            }
            let mut edited = sealed.clone();
            for e in &edits {
                let len = edited.len().max(1);
                match e {
                    ByteEdit::Flip(i, x) if !edited.is_empty() => edited[i % len] ^= x,
                    ByteEdit::Truncate(i) => edited.truncate(i % len),
                    ByteEdit::Append(extra) => edited.extend_from_slice(extra),
                    ByteEdit::Remove(i) if !edited.is_empty() => {
                        edited.remove(i % len);
                    }
                    _ => {}
                }
            }
            if edited != sealed {
                prop_assert!(new.open(&purpose, &id, &edited).is_err());
            }
            prop_assert!(new.open(&purpose, &id, &junk).is_err());
            let mut framed = b"tsl1".to_vec();
            framed.extend_from_slice(&junk);
            prop_assert!(new.open(&purpose, &id, &framed).is_err());
            Ok(())
        },
    );
}

/// A key-encryption key's text parses back to the same key; arbitrary text never panics.
#[test]
fn key_encryption_keys_round_trip() {
    let strategy = (any::<[u8; 32]>(), any::<String>(), any::<bool>());
    fuzz::run("kek_text", 256, strategy, |(bytes, text, padded)| {
        let _ = KeyEncryptionKey::parse(&text);
        let mut encoded = b64(&bytes);
        if padded {
            encoded.push('=');
        }
        match KeyEncryptionKey::parse(&encoded) {
            Ok(k) => {
                let again = KeyEncryptionKey::parse(&k.expose()).unwrap();
                prop_assert_eq!(again.fingerprint(), k.fingerprint());
                prop_assert_eq!(k.expose(), b64(&bytes));
            }
            Err(_) => prop_assert!(bytes.iter().all(|b| *b == bytes[0])),
        }
        Ok(())
    });
}

#[test]
fn harness_counts_and_fails() {
    // The harness itself must be able to fail: a false property is reported, not swallowed.
    let result = std::panic::catch_unwind(|| {
        fuzz::run("harness_self_test", 16, 0u8..10, |x| {
            prop_assert!(x < 5);
            Ok(())
        });
    });
    assert!(result.is_err() || std::env::var_os("PROPTEST_CASES").is_some_and(|c| c == "0"));
}
