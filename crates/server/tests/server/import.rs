//! `tessera keys import`: a team moving from its own JWTs brings its keys. Real OpenSSL keys,
//! and PyJWT playing the old system and its verifiers.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use super::interop::{pyjwt_verify, python};
use super::support::{Process, cli, http, json, openssl, temp_dir};

/// An RSA private key of `bits` bits, PKCS#8, as `out`.
fn rsa_key(dir: &Path, bits: &str, out: &str) {
    let bits = format!("rsa_keygen_bits:{bits}");
    openssl(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            &bits,
            "-out",
            out,
        ],
    );
}

/// The old system's script (`sign` or `jwks`) with `pem`, `kid` and `alg`.
fn old_system(dir: &Path, command: &str, pem: &str, kid: &str, alg: &str) -> String {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/old_system.py");
    let out = Command::new(python())
        .current_dir(dir)
        .args([script, command, pem, kid, alg])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn pyjwt_accepts(
    token: &str,
    jwks: &str,
    issuer: &str,
    audience: &str,
    alg: &str,
) -> Result<Value, String> {
    pyjwt_verify(token, jwks, issuer, audience, alg, None)
}

fn jwks(server: &Process) -> String {
    http(server.addr, "GET", "/.well-known/jwks.json", &[], "").2
}

const ISSUER: &str = "https://tessera.test";

#[test]
fn an_old_systems_keys_are_trusted_or_signed_with() {
    let dir = temp_dir();
    openssl(
        &dir,
        &["genpkey", "-algorithm", "ed25519", "-out", "old.pem"],
    );
    openssl(
        &dir,
        &["pkey", "-in", "old.pem", "-pubout", "-out", "old.pub"],
    );
    openssl(
        &dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "ec.pem",
        ],
    );
    let env = [("TESSERA_ISSUER", ISSUER)];
    let mut server = Process::serve(&dir, &env, &[]);
    server.terminate();

    // A public key: the old system's tokens keep verifying from Tessera's JWKS while trusted.
    let (ok, out, err) = cli(
        &dir,
        &env,
        &["keys", "import", "old.pub", "--kid", "legacy"],
    );
    assert!(
        !ok && err.contains("--trust-for"),
        "a public key needs a time limit: {out}{err}"
    );
    let (ok, out, err) = cli(
        &dir,
        &env,
        &[
            "keys",
            "import",
            "old.pub",
            "--kid",
            "legacy",
            "--trust-for",
            "1h",
        ],
    );
    assert!(ok, "{out}{err}");
    let (ok, listed, _) = cli(&dir, &env, &["keys", "list"]);
    assert!(
        ok && listed.contains("legacy") && listed.contains("trusted"),
        "{listed}"
    );
    let server = Process::serve(&dir, &env, &[]);
    let old_token = old_system(&dir, "sign", "old.pem", "legacy", "EdDSA");
    let claims = pyjwt_accepts(
        &old_token,
        &jwks(&server),
        "https://old.example",
        "shop",
        "EdDSA",
    );
    assert_eq!(
        claims.unwrap()["sub"],
        "alice",
        "an old token verifies from Tessera's JWKS"
    );
    let stranger = old_system(&dir, "sign", "ec.pem", "legacy", "ES256");
    assert!(
        pyjwt_accepts(
            &stranger,
            &jwks(&server),
            "https://old.example",
            "shop",
            "ES256"
        )
        .is_err()
    );
    drop(server);

    // A private key: Tessera signs with it, so verifiers holding its public key accept Tessera.
    let (ok, out, err) = cli(&dir, &env, &["keys", "import", "ec.pem", "--kid", "ec-old"]);
    assert!(ok, "{out}{err}");
    let (ok, out, err) = cli(&dir, &env, &["keys", "import", "ec.pem", "--kid", "ec-old"]);
    assert!(
        !ok && err.contains("kid"),
        "a kid is taken once: {out}{err}"
    );
    let server = Process::serve(&dir, &env, &[]);
    let issued = json(
        server.addr,
        "POST",
        "/v1/sessions",
        &server.admin_key(),
        r#"{"user_id":"bob"}"#,
    );
    let token = issued["access_token"].as_str().unwrap();
    let old_verifier = old_system(&dir, "jwks", "ec.pem", "ec-old", "ES256");
    let claims = pyjwt_accepts(token, &old_verifier, ISSUER, "tessera", "ES256");
    assert_eq!(
        claims.unwrap()["sub"],
        "bob",
        "the old system's verifier accepts Tessera's token"
    );
}

#[test]
fn keys_in_other_forms_are_refused_with_the_command_that_converts_them() {
    let dir = temp_dir();
    rsa_key(&dir, "2048", "rsa.pem");
    openssl(
        &dir,
        &[
            "rsa",
            "-in",
            "rsa.pem",
            "-traditional",
            "-out",
            "rsa-pkcs1.pem",
        ],
    );
    openssl(
        &dir,
        &[
            "req", "-x509", "-key", "rsa.pem", "-subj", "/CN=old", "-days", "1", "-out", "cert.pem",
        ],
    );
    rsa_key(&dir, "1024", "weak.pem");
    std::fs::write(dir.join("junk.pem"), "hello").unwrap();
    let mut server = Process::serve(&dir, &[], &[]);
    server.terminate();
    for (file, says) in [
        ("rsa-pkcs1.pem", "openssl pkcs8 -topk8"),
        ("cert.pem", "-pubkey"),
        ("weak.pem", "2048"),
        ("junk.pem", "PEM"),
        ("missing.pem", "cannot read"),
    ] {
        let (ok, out, err) = cli(&dir, &[], &["keys", "import", file, "--kid", "k"]);
        assert!(!ok && err.contains(says), "{file}: {out}{err}");
    }
    let (ok, out, err) = cli(
        &dir,
        &[],
        &[
            "keys",
            "import",
            "rsa.pem",
            "--kid",
            "rsa-old",
            "--trust-for",
            "1h",
        ],
    );
    assert!(
        !ok && err.contains("--trust-for is for public keys"),
        "{out}{err}"
    );
    let (ok, out, err) = cli(
        &dir,
        &[],
        &["keys", "import", "rsa.pem", "--kid", "rsa-old"],
    );
    assert!(ok, "an RSA key of 2048 bits signs: {out}{err}");
}
