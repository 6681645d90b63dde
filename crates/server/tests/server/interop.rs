//! A JOSE implementation that is not ours (PyJWT) verifies our access tokens using only our
//! JWKS, for every algorithm we publish; HS256, whose secret is never published, with the
//! shared secret.

use std::process::Command;

use serde_json::Value;

use super::support::{Process, http, json, output_with_input, temp_dir};

/// The venv's Python that scripts/test set up with the pinned PyJWT: never a system Python,
/// whose PyJWT (if any) is of whatever version the machine happens to carry.
pub fn python() -> String {
    let Ok(python) = std::env::var("PYJWT_PYTHON") else {
        panic!(
            "PYJWT_PYTHON is not set: run scripts/test, which makes a venv with the pinned \
             PyJWT of scripts/python-requirements.txt and points PYJWT_PYTHON at it"
        );
    };
    let version = Command::new(&python)
        .args(["-c", "import jwt, cryptography; print(jwt.__version__)"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let pinned = include_str!("../../../../scripts/python-requirements.txt")
        .lines()
        .find_map(|l| l.strip_prefix("pyjwt=="))
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        version.as_deref(),
        Some(pinned.as_str()),
        "{python} lacks the pinned PyJWT: run scripts/test"
    );
    python
}

/// PyJWT's verdict on `token`: the claims, if it verifies with the `kid`'s key of `jwks` (that
/// key's algorithm `alg` only) or, for HS256, with `hs256_secret`; else what PyJWT said.
pub fn pyjwt_verify(
    token: &str,
    jwks: &str,
    issuer: &str,
    audience: &str,
    alg: &str,
    hs256_secret: Option<&str>,
) -> Result<Value, String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/verify_pyjwt.py");
    let mut cmd = Command::new(python());
    cmd.args([script, token, issuer, audience, alg])
        .env("HS256_SECRET", hs256_secret.unwrap_or(""));
    let out = output_with_input(&mut cmd, jwks);
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn verify_with_pyjwt(alg: &str, env: &[(&str, &str)], hs256_secret: Option<&str>) {
    let dir = temp_dir();
    let mut env = env.to_vec();
    env.push(("TESSERA_ALGORITHM", alg));
    env.push(("TESSERA_ISSUER", "https://tessera.test"));
    let server = Process::serve(&dir, &env, &[]);
    let body = r#"{"user_id":"alice","claims":{"role":"admin"}}"#;
    let token = json(
        server.addr,
        "POST",
        "/v1/sessions",
        &server.admin_key(),
        body,
    );
    let (_, _, jwks) = http(server.addr, "GET", "/.well-known/jwks.json", &[], "");
    let issuer = "https://tessera.test".to_owned();
    let verified = pyjwt_verify(
        token["access_token"].as_str().unwrap(),
        &jwks,
        &issuer,
        "tessera",
        alg,
        hs256_secret,
    );
    let claims = verified.unwrap_or_else(|e| panic!("PyJWT rejected our {alg} token: {e}"));
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["role"], "admin");
    assert_eq!(claims["sid"], token["session_id"]);
}

#[test]
fn pyjwt_verifies_eddsa_tokens_from_our_jwks() {
    verify_with_pyjwt("EdDSA", &[], None);
}

#[test]
fn pyjwt_verifies_es256_tokens_from_our_jwks() {
    verify_with_pyjwt("ES256", &[], None);
}

#[test]
fn pyjwt_verifies_rs256_tokens_from_our_jwks() {
    verify_with_pyjwt("RS256", &[], None);
}

#[test]
fn pyjwt_verifies_hs256_tokens_with_the_shared_secret() {
    let secret = "an-operator-chosen-secret-of-at-least-32-bytes";
    verify_with_pyjwt("HS256", &[("TESSERA_HS256_SECRET", secret)], Some(secret));
}
