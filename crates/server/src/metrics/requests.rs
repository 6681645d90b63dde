//! Request counts by route, method and status, without a lock on the hot path.
//!
//! A fixed open-addressed table: a slot is claimed once for its key, then only incremented, so
//! counting a request is a hash, a few comparisons and one atomic add. Keys are few (route
//! templates × methods × statuses); should more keys arrive than the table holds near their
//! hash, the rest are counted in a locked map, so every count stays exact.

use std::collections::BTreeMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};

/// Slots in the table.
const SLOTS: usize = 512;
/// Slots tried from a key's hash before it spills into the locked map.
const MAX_PROBES: usize = 16;

/// Route template, method, status.
pub(super) type Key = (String, String, u16);

/// Request counts by [`Key`].
#[derive(Debug)]
pub(super) struct RequestCounts {
    hasher: RandomState,
    slots: Box<[Slot]>,
    spill: Mutex<BTreeMap<Key, u64>>,
}

#[derive(Debug, Default)]
struct Slot {
    key: OnceLock<Key>,
    count: AtomicU64,
}

impl Default for RequestCounts {
    fn default() -> Self {
        Self::with_slots(SLOTS)
    }
}

impl RequestCounts {
    fn with_slots(slots: usize) -> Self {
        Self {
            hasher: RandomState::new(),
            slots: (0..slots).map(|_| Slot::default()).collect(),
            spill: Mutex::default(),
        }
    }

    /// Counts one request. A key always lands in the first slot of its probe sequence that is
    /// free or already its own (slots are never given back), so it never holds two slots.
    pub(super) fn add(&self, route: &str, method: &str, status: u16) {
        let start = self.hasher.hash_one((route, method, status)) as usize;
        let len = self.slots.len();
        for i in 0..MAX_PROBES.min(len) {
            let slot = &self.slots[(start + i) % len];
            let key = slot
                .key
                .get_or_init(|| (route.to_owned(), method.to_owned(), status));
            if key.0 == route && key.1 == method && key.2 == status {
                slot.count.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        *self
            .spill
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((route.to_owned(), method.to_owned(), status))
            .or_default() += 1;
    }

    /// Every key counted so far, in order, with its count.
    pub(super) fn snapshot(&self) -> BTreeMap<Key, u64> {
        let mut all = self
            .spill
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        for slot in &self.slots {
            let n = slot.count.load(Ordering::Relaxed);
            if let Some(key) = slot.key.get().filter(|_| n > 0) {
                *all.entry(key.clone()).or_default() += n;
            }
        }
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTES: [&str; 4] = ["/a", "/b", "/v1/sessions/verify", "unmatched"];

    /// Four threads count the same keys at once; every count is exact, in the table and in the
    /// spill-over map alike (a table of 3 slots cannot hold the 8 keys).
    #[test]
    fn counts_stay_exact_under_concurrency() {
        for slots in [SLOTS, 3] {
            let counts = RequestCounts::with_slots(slots);
            std::thread::scope(|s| {
                for _ in 0..4 {
                    s.spawn(|| {
                        for i in 0..20_000 {
                            let status = if (i / 4) % 2 == 0 { 200 } else { 401 };
                            counts.add(ROUTES[i % 4], "POST", status);
                        }
                    });
                }
            });
            let snapshot = counts.snapshot();
            assert_eq!(snapshot.len(), 8, "{slots} slots");
            for ((route, method, status), n) in snapshot {
                assert_eq!(n, 10_000, "{route} {method} {status} with {slots} slots");
            }
        }
    }

    #[test]
    fn distinct_keys_are_counted_apart() {
        let counts = RequestCounts::default();
        counts.add("/a", "GET", 200);
        counts.add("/a", "GET", 200);
        counts.add("/a", "POST", 200);
        counts.add("/a", "GET", 404);
        let snapshot = counts.snapshot();
        assert_eq!(snapshot[&("/a".into(), "GET".into(), 200)], 2);
        assert_eq!(snapshot[&("/a".into(), "POST".into(), 200)], 1);
        assert_eq!(snapshot[&("/a".into(), "GET".into(), 404)], 1);
        assert_eq!(snapshot.len(), 3);
    }
}
