//! Core hot paths: signing and verifying access tokens for each algorithm, and a full refresh
//! on the memory store. Run with `scripts/bench` (or `cargo bench -p tessera`).

#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "benchmark harness"
)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tessera::jwt::{SigningKey, Verifier, VerifyingKey};
use tessera::store::KeyStore;
use tessera::{
    Algorithm, ManualClock, MemoryStore, NewSession, ServerSecret, SessionManager, Settings,
    Timestamp, Validation,
};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
}

fn manager(
    rt: &tokio::runtime::Runtime,
    alg: Algorithm,
) -> SessionManager<MemoryStore, ManualClock> {
    let mut settings = Settings::new(
        Validation::new("https://bench", "api"),
        ServerSecret::generate().unwrap(),
    );
    settings.rotation.algorithm = alg;
    let clock = ManualClock::new(Timestamp::from_secs(1_700_000_000));
    rt.block_on(SessionManager::start(MemoryStore::new(), clock, settings))
        .unwrap()
}

/// The manager's active verifying key (HS256 is included: it verifies with its secret).
fn key_of(m: &SessionManager<MemoryStore, ManualClock>, alg: Algorithm) -> VerifyingKey {
    let doc = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(m.store().load_keyset());
    let (keyset, _) =
        tessera::jwt::Keyset::from_document(&doc.unwrap().unwrap().document, None).unwrap();
    let key = keyset.active().unwrap();
    assert_eq!(key.algorithm(), alg);
    key.verifying_key().clone()
}

fn tokens(c: &mut Criterion) {
    let rt = runtime();
    for alg in Algorithm::ALL {
        let key = SigningKey::generate(alg).unwrap();
        let input = [b'x'; 320]; // the size of a typical header.payload
        c.bench_function(&format!("sign/{alg}"), |b| {
            b.iter(|| key.sign(black_box(&input)).unwrap())
        });

        let m = manager(&rt, alg);
        let mut new = NewSession::for_user("user-1234");
        new.claims.insert("role".into(), "admin".into());
        let issued = rt.block_on(m.create(new)).unwrap();
        let token = issued.access_token.expose().to_owned();
        // The full path a request takes; a repeated token is answered from the verified cache.
        c.bench_function(&format!("verify-cached/{alg}"), |b| {
            b.iter(|| m.verify(black_box(&token)).unwrap())
        });
        // Signature and claims every time: what a token's first use costs.
        let verifier = Verifier::new(
            Validation::new("https://bench", "api"),
            [key_of(&m, alg)].iter(),
        );
        let now = Timestamp::from_secs(1_700_000_000);
        c.bench_function(&format!("verify/{alg}"), |b| {
            b.iter(|| verifier.verify(black_box(&token), now).unwrap())
        });
    }
}

fn refresh(c: &mut Criterion) {
    let rt = runtime();
    let m = manager(&rt, Algorithm::EdDSA);
    let mut token = rt
        .block_on(m.create(NewSession::for_user("user-1")))
        .unwrap()
        .refresh_token
        .expose();
    c.bench_function("refresh/memory", |b| {
        b.iter(|| {
            let issued = rt.block_on(m.refresh(black_box(&token))).unwrap();
            token = issued.refresh_token.expose();
        })
    });
}

criterion_group!(benches, tokens, refresh);
criterion_main!(benches);
