//! Per-client counters: relaxed atomics, cheap enough to stay on (a cached
//! `get_token` pays one increment).
#![forbid(unsafe_code)]

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::kind_name;
use crate::error::ErrorKind;

/// The grants counted by name; any other grant counts as "other".
const GRANTS: [&str; 5] = [
    "authorization_code",
    "refresh_token",
    "client_credentials",
    "urn:ietf:params:oauth:grant-type:device_code",
    "other",
];

const KINDS: [ErrorKind; 9] = [
    ErrorKind::InvalidArgument,
    ErrorKind::Key,
    ErrorKind::Config,
    ErrorKind::Transport,
    ErrorKind::OAuth,
    ErrorKind::Http,
    ErrorKind::Response,
    ErrorKind::Panic,
    ErrorKind::Cancelled,
];

/// Upper bounds (µs) of the token endpoint's latency buckets; the last
/// bucket is everything slower.
const LATENCY_BUCKETS_US: [u64; 8] = [
    1_000, 5_000, 10_000, 50_000, 100_000, 500_000, 1_000_000, 5_000_000,
];

/// The live counters of one client.
#[derive(Default, Debug)]
pub(crate) struct CounterSet {
    requests: [AtomicU64; GRANTS.len()],
    errors: [AtomicU64; KINDS.len()],
    retries: AtomicU64,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    refreshes: AtomicU64,
    refresh_failures_kept_old: AtomicU64,
    singleflight_waits: AtomicU64,
    latency: [AtomicU64; LATENCY_BUCKETS_US.len() + 1],
}

/// A snapshot of a client's counters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Counters {
    /// Requests sent to the token endpoint (every attempt), by grant.
    pub requests: Vec<(&'static str, u64)>,
    /// Calls that ended in an error, by error kind.
    pub errors: Vec<(&'static str, u64)>,
    pub retries: u64,
    pub cache_hits: u64,
    /// `get_token` calls that found no usable token (and fetched or waited).
    pub cache_misses: u64,
    /// Token requests started by the cache (misses and proactive refreshes).
    pub refreshes: u64,
    /// Refreshes that failed while the old token was still usable (kept).
    pub refresh_failures_kept_old: u64,
    /// Callers that waited for another caller's request (single flight).
    pub singleflight_waits: u64,
    /// Token endpoint latency: counts per bucket of `LATENCY_BUCKETS_US`,
    /// and one more for slower requests.
    pub latency_us: Vec<u64>,
}

fn load(counters: &[AtomicU64]) -> impl Iterator<Item = u64> + '_ {
    counters.iter().map(|c| c.load(Relaxed))
}

impl CounterSet {
    pub(crate) fn request(&self, grant_type: &str, duration_us: u64) {
        let grant = GRANTS
            .iter()
            .position(|g| *g == grant_type)
            .unwrap_or(GRANTS.len() - 1);
        self.requests[grant].fetch_add(1, Relaxed);
        let bucket = LATENCY_BUCKETS_US
            .iter()
            .position(|&bound| duration_us <= bound)
            .unwrap_or(LATENCY_BUCKETS_US.len());
        self.latency[bucket].fetch_add(1, Relaxed);
    }

    pub(crate) fn error(&self, kind: ErrorKind) {
        let at = KINDS
            .iter()
            .position(|k| *k == kind)
            .expect("every kind is listed");
        self.errors[at].fetch_add(1, Relaxed);
    }

    pub(crate) fn retry(&self) {
        self.retries.fetch_add(1, Relaxed);
    }

    pub(crate) fn cache_hit(&self) {
        self.cache_hits.fetch_add(1, Relaxed);
    }

    pub(crate) fn cache_miss(&self) {
        self.cache_misses.fetch_add(1, Relaxed);
    }

    pub(crate) fn refresh(&self) {
        self.refreshes.fetch_add(1, Relaxed);
    }

    pub(crate) fn refresh_failed_kept_old(&self) {
        self.refresh_failures_kept_old.fetch_add(1, Relaxed);
    }

    pub(crate) fn singleflight_wait(&self) {
        self.singleflight_waits.fetch_add(1, Relaxed);
    }

    pub(crate) fn snapshot(&self) -> Counters {
        Counters {
            requests: GRANTS.iter().copied().zip(load(&self.requests)).collect(),
            errors: KINDS
                .iter()
                .map(|k| kind_name(*k))
                .zip(load(&self.errors))
                .collect(),
            retries: self.retries.load(Relaxed),
            cache_hits: self.cache_hits.load(Relaxed),
            cache_misses: self.cache_misses.load(Relaxed),
            refreshes: self.refreshes.load(Relaxed),
            refresh_failures_kept_old: self.refresh_failures_kept_old.load(Relaxed),
            singleflight_waits: self.singleflight_waits.load(Relaxed),
            latency_us: load(&self.latency).collect(),
        }
    }
}

impl Counters {
    /// As one JSON object; the latency buckets are named by their upper
    /// bound in µs (`le_1000`, …, `inf`).
    pub fn to_json(&self) -> String {
        let map = |pairs: &[(&str, u64)]| {
            serde_json::Value::Object(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), serde_json::Value::from(*v)))
                    .collect(),
            )
        };
        let buckets: Vec<(String, u64)> = LATENCY_BUCKETS_US
            .iter()
            .map(|b| format!("le_{b}"))
            .chain(["inf".to_string()])
            .zip(self.latency_us.iter().copied())
            .collect();
        let buckets: Vec<(&str, u64)> = buckets.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        serde_json::json!({
            "requests": map(&self.requests),
            "errors": map(&self.errors),
            "retries": self.retries,
            "cache_hits": self.cache_hits,
            "cache_misses": self.cache_misses,
            "refreshes": self.refreshes,
            "refresh_failures_kept_old": self.refresh_failures_kept_old,
            "singleflight_waits": self.singleflight_waits,
            "latency_us": map(&buckets),
        })
        .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_buckets() {
        let c = CounterSet::default();
        c.request("client_credentials", 800);
        c.request("client_credentials", 20_000);
        c.request("urn:example:custom", 9_000_000);
        c.error(ErrorKind::OAuth);
        c.cache_hit();
        let s = c.snapshot();
        assert_eq!(s.requests[2], ("client_credentials", 2));
        assert_eq!(s.requests[4], ("other", 1));
        assert_eq!(s.latency_us, vec![1, 0, 0, 1, 0, 0, 0, 0, 1]);
        let json: serde_json::Value = serde_json::from_str(&s.to_json()).unwrap();
        assert_eq!(json["errors"]["oauth"], 1);
        assert_eq!(json["cache_hits"], 1);
        assert_eq!(json["latency_us"]["le_50000"], 1);
        assert_eq!(json["latency_us"]["inf"], 1);
    }
}
