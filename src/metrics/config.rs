use serde::{Deserialize, Serialize};

const SECOND_MS: i64 = 1_000;
const MINUTE_MS: i64 = 60 * SECOND_MS;
const HOUR_MS: i64 = 60 * MINUTE_MS;

/// Bounds of a [`MetricStore`](super::MetricStore). Every bound here turns into a fixed
/// allocation per series, so the product with `max_series` is the store's memory ceiling.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoreConfig {
    /// How far back full-resolution samples are kept.
    pub raw_window_ms: i64,
    /// Most raw entries (samples and gap markers) kept per series. Sized for the raw window at
    /// 1 Hz plus headroom; faster polling simply shortens the effective raw window, and
    /// downsampling then falls back to the first tier for the older part.
    pub raw_capacity: usize,
    /// Consecutive raw samples further apart than this (or than 3× the series' median poll
    /// interval, whichever is larger) are drawn as a break even without a gap marker.
    pub gap_after_ms: i64,
    /// Coarser tiers; sorted finest first when the store is built.
    pub tiers: Vec<TierConfig>,
    /// Nothing older than this survives [`MetricStore::prune`](super::MetricStore::prune).
    pub max_age_ms: i64,
    /// Series beyond this evict the stalest series, so a misbehaving endpoint that invents
    /// metric names cannot exhaust memory.
    pub max_series: usize,
    /// When the store is full, only a series idle this long makes room for a new one; otherwise
    /// the new series is refused. A fleet reporting more live series than `max_series` (a
    /// cluster of 10,000 workloads) would else churn: evict, allocate, evict on every poll.
    pub evict_idle_ms: i64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            raw_window_ms: 10 * MINUTE_MS,
            raw_capacity: 720,
            gap_after_ms: 5 * SECOND_MS,
            tiers: vec![
                TierConfig {
                    bucket_ms: 10 * SECOND_MS,
                    keep_ms: HOUR_MS,
                },
                TierConfig {
                    bucket_ms: MINUTE_MS,
                    keep_ms: 24 * HOUR_MS,
                },
            ],
            max_age_ms: 24 * HOUR_MS,
            max_series: 5_000,
            evict_idle_ms: 5 * MINUTE_MS,
        }
    }
}

/// One tier of aggregated buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierConfig {
    /// Width of one bucket.
    pub bucket_ms: i64,
    /// How far back buckets are kept.
    pub keep_ms: i64,
}

impl TierConfig {
    /// Buckets needed to cover `keep_ms`, plus the one still filling, so that a view of exactly
    /// `keep_ms` ending now is fully covered by this tier.
    pub(crate) fn capacity(&self) -> usize {
        usize::try_from(self.keep_ms / self.bucket_ms.max(1))
            .unwrap_or(0)
            .saturating_add(1)
    }
}
