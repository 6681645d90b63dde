//! Prometheus metrics, kept in atomics and rendered in the text exposition format.
//! Names and meanings are listed in `docs/metrics.md`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

mod requests;

use requests::RequestCounts;

/// Latency bucket bounds, in seconds.
const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0,
];

/// A latency histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    counts: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    /// Records one observation: one atomic add in its own bucket (the exposition's buckets
    /// are cumulative; they are summed when rendered).
    pub fn observe(&self, d: Duration) {
        let secs = d.as_secs_f64();
        if let Some(count) = BUCKETS
            .iter()
            .zip(&self.counts)
            .find_map(|(bound, count)| (secs <= *bound).then_some(count))
        {
            count.fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(
            u64::try_from(d.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }

    fn render(&self, name: &str, help: &str, out: &mut String) {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
        let total = self.count.load(Ordering::Relaxed);
        let mut below = 0;
        for (bound, count) in BUCKETS.iter().zip(&self.counts) {
            // Read apart from `total`: a bucket may run ahead of it mid-scrape, never above.
            below = (below + count.load(Ordering::Relaxed)).min(total);
            let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {below}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {total}");
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum {sum}\n{name}_count {total}");
    }
}

/// Every metric of a node.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: RequestCounts,
    /// `/v1/sessions/verify` latency.
    pub verify: Histogram,
    /// `/v1/sessions/refresh` latency.
    pub refresh: Histogram,
    /// Key rotations this node performed.
    pub key_rotations: AtomicU64,
    /// Sessions deleted by purges.
    pub purged_sessions: AtomicU64,
    /// Completed purge runs.
    pub purge_runs: AtomicU64,
    /// Refresh tokens replayed after the grace window (sessions revoked as stolen).
    pub refresh_reuse: AtomicU64,
    /// Audit events the store did not take after their step was committed (mirrors the
    /// manager's count at each scrape).
    pub audit_write_failures: AtomicU64,
    /// Failures of background work, by task.
    background_errors: Mutex<BTreeMap<&'static str, u64>>,
    /// The revocation feed cursor this node has applied.
    pub feed_cursor: AtomicU64,
    /// Live sessions, as last counted.
    pub live_sessions: AtomicU64,
    /// Requests refused by a rate limit, by class and dimension.
    rate_limited: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    /// Audit events recorded, by type.
    audit_events: Mutex<BTreeMap<String, u64>>,
}

impl Metrics {
    /// Counts a finished request.
    pub fn request(&self, route: &str, method: &str, status: u16) {
        self.requests.add(route, method, status);
    }

    /// Counts a failure of background task `task`.
    pub fn background_error(&self, task: &'static str) {
        *self
            .background_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(task)
            .or_default() += 1;
    }

    /// Counts a request refused by the `class` limit counted by `by`.
    pub fn rate_limited(&self, class: &'static str, by: &'static str) {
        *self
            .rate_limited
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((class, by))
            .or_default() += 1;
    }

    /// Counts a recorded audit event by its type.
    pub fn audit_event(&self, event: &tessera::AuditEvent) {
        let kind = serde_json::to_value(&event.kind)
            .ok()
            .and_then(|v| v["type"].as_str().map(str::to_owned))
            .unwrap_or_default();
        *self
            .audit_events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(kind)
            .or_default() += 1;
    }

    /// Adds one to `counter`.
    pub fn inc(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    /// The text exposition; `feed_lag` is the time since the revocation view last synced.
    pub fn render(&self, feed_lag: Option<Duration>) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP tessera_http_requests_total HTTP requests by route, method and status.\n",
        );
        out.push_str("# TYPE tessera_http_requests_total counter\n");
        for ((route, method, status), n) in &self.requests.snapshot() {
            let _ = writeln!(
                out,
                "tessera_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                route.replace('\\', "\\\\").replace('"', "\\\"")
            );
        }
        self.verify.render(
            "tessera_verify_duration_seconds",
            "Latency of access-token verification requests.",
            &mut out,
        );
        self.refresh.render(
            "tessera_refresh_duration_seconds",
            "Latency of refresh requests.",
            &mut out,
        );
        let counters = [
            (
                "tessera_key_rotations_total",
                "Signing-key rotations performed by this node.",
                &self.key_rotations,
            ),
            (
                "tessera_purged_sessions_total",
                "Expired or revoked sessions deleted.",
                &self.purged_sessions,
            ),
            (
                "tessera_purge_runs_total",
                "Completed purge runs.",
                &self.purge_runs,
            ),
            (
                "tessera_refresh_reuse_total",
                "Replayed refresh tokens (sessions revoked as stolen).",
                &self.refresh_reuse,
            ),
            (
                "tessera_audit_write_failures_total",
                "Audit events that could not be stored after their step was committed (each was still logged).",
                &self.audit_write_failures,
            ),
        ];
        for (name, help, value) in counters {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        out.push_str(
            "# HELP tessera_background_errors_total Failures of background work, by task.\n",
        );
        out.push_str("# TYPE tessera_background_errors_total counter\n");
        for (task, n) in self
            .background_errors
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "tessera_background_errors_total{{task=\"{task}\"}} {n}"
            );
        }
        out.push_str("# HELP tessera_rate_limited_total Requests refused by a rate limit, by class and dimension.\n");
        out.push_str("# TYPE tessera_rate_limited_total counter\n");
        for ((class, by), n) in self
            .rate_limited
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(
                out,
                "tessera_rate_limited_total{{class=\"{class}\",by=\"{by}\"}} {n}"
            );
        }
        out.push_str("# HELP tessera_audit_events_total Security events recorded, by type.\n");
        out.push_str("# TYPE tessera_audit_events_total counter\n");
        for (kind, n) in self
            .audit_events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
        {
            let _ = writeln!(out, "tessera_audit_events_total{{type=\"{kind}\"}} {n}");
        }
        let live = self.live_sessions.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP tessera_live_sessions Live sessions in the store, as last counted.\n\
             # TYPE tessera_live_sessions gauge\ntessera_live_sessions {live}"
        );
        if let Some(lag) = feed_lag {
            let _ = writeln!(
                out,
                "# HELP tessera_revocation_feed_lag_seconds Time since this node last caught up the revocation feed.\n\
                 # TYPE tessera_revocation_feed_lag_seconds gauge\ntessera_revocation_feed_lag_seconds {}",
                lag.as_secs_f64()
            );
        }
        let cursor = self.feed_cursor.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "# HELP tessera_revocation_feed_cursor Last revocation feed entry applied by this node.\n\
             # TYPE tessera_revocation_feed_cursor gauge\ntessera_revocation_feed_cursor {cursor}"
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        m.request("/v1/sessions", "POST", 201);
        m.request("/v1/sessions", "POST", 201);
        m.verify.observe(Duration::from_micros(300));
        m.verify.observe(Duration::from_millis(30));
        Metrics::inc(&m.purged_sessions, 5);
        m.background_error("purge");
        m.live_sessions.store(7, Ordering::Relaxed);
        let text = m.render(Some(Duration::from_millis(1500)));
        assert!(text.contains("tessera_live_sessions 7"));
        assert!(text.contains("tessera_revocation_feed_lag_seconds 1.5"));
        assert!(text.contains(
            "tessera_http_requests_total{route=\"/v1/sessions\",method=\"POST\",status=\"201\"} 2"
        ));
        assert!(text.contains("tessera_verify_duration_seconds_bucket{le=\"0.0005\"} 1"));
        assert!(text.contains("tessera_verify_duration_seconds_bucket{le=\"0.05\"} 2"));
        assert!(text.contains("tessera_verify_duration_seconds_count 2"));
        assert!(text.contains("tessera_purged_sessions_total 5"));
        assert!(text.contains("tessera_background_errors_total{task=\"purge\"} 1"));
    }
}
