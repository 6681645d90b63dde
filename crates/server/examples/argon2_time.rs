//! For `scripts/bench signin`: how long one Argon2id password check takes on this machine with
//! the server's parameters, in milliseconds: alone (the median of a few checks, one at a time),
//! then with every core checking at once (the median per check; memory-hard hashes slow each
//! other down through the shared memory bandwidth and caches).
//!
//! Usage: `argon2_time [checks]`; prints `ALONE_MS ALL_CORES_MS`.

use std::num::NonZero;
use std::time::Instant;

use tessera::PasswordHash;

const PASSWORD: &str = "correct horse battery staple";

fn main() -> Result<(), tessera::Error> {
    let checks = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(15usize)
        .max(1);
    let hash = PasswordHash::new(PASSWORD)?;
    let alone = median(time_checks(&hash, checks));
    let cores = std::thread::available_parallelism().map_or(1, NonZero::get);
    let together = std::thread::scope(|s| {
        let runs: Vec<_> = (0..cores)
            .map(|_| s.spawn(|| time_checks(&hash, checks)))
            .collect();
        runs.into_iter()
            .flat_map(|r| r.join().unwrap_or_default())
            .collect()
    });
    println!("{alone:.2} {:.2}", median(together));
    Ok(())
}

#[allow(
    clippy::disallowed_methods,
    reason = "times the hash; no rule depends on it"
)]
fn time_checks(hash: &PasswordHash, checks: usize) -> Vec<f64> {
    (0..checks)
        .map(|_| {
            let started = Instant::now();
            let ok = hash.verify(PASSWORD);
            assert!(ok, "the password checks");
            started.elapsed().as_secs_f64() * 1e3
        })
        .collect()
}

fn median(mut millis: Vec<f64>) -> f64 {
    millis.sort_by(f64::total_cmp);
    millis.get(millis.len() / 2).copied().unwrap_or(f64::NAN)
}
