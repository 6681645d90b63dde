//! For `scripts/bench signin`: how long one Argon2id password check takes on this machine,
//! with the server's parameters (the median of a few, one at a time, in milliseconds).
//!
//! Usage: `argon2_time [checks]`

use std::time::Instant;

use tessera::PasswordHash;

#[allow(
    clippy::disallowed_methods,
    reason = "times the hash; no rule depends on it"
)]
fn main() -> Result<(), tessera::Error> {
    let checks = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(15usize);
    let hash = PasswordHash::new("correct horse battery staple")?;
    let mut millis: Vec<f64> = (0..checks)
        .map(|_| {
            let started = Instant::now();
            let ok = hash.verify("correct horse battery staple");
            let elapsed = started.elapsed().as_secs_f64() * 1e3;
            assert!(ok, "the password checks");
            elapsed
        })
        .collect();
    millis.sort_by(f64::total_cmp);
    println!("{:.2}", millis[millis.len() / 2]);
    Ok(())
}
