use serde::{Deserialize, Serialize};

const SECOND_MS: i64 = 1_000;
const MINUTE_MS: i64 = 60 * SECOND_MS;
const HOUR_MS: i64 = 60 * MINUTE_MS;

/// Bounds of a [`MetricStore`](super::MetricStore). Every bound here turns into a fixed
/// allocation per series: full series cost at most their bound times `max_full_series`,
/// coarse ones at most `coarse_budget_bytes`.
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
    /// Most series kept at full resolution (raw plus `tiers`). Past it, the stalest full series
    /// is moved to the coarse tier if it has been idle for `evict_idle_ms` (or the operator
    /// needs the room); otherwise the new series starts coarse. Nothing is dropped for it.
    pub max_full_series: usize,
    /// When the full class is full, only a series idle this long gives up its place to a new
    /// one; a fleet reporting more live series than the limit would else churn on every poll.
    /// The coarse class makes room the same way when its budget is spent.
    pub evict_idle_ms: i64,
    /// The tier every other workload series is kept at once a fleet is large: one min/max
    /// point per `bucket_ms` for `keep_ms`, 8 bytes a point, allocated at its bound.
    pub coarse: TierConfig,
    /// Bytes the coarse class may hold: every coarse series costs the same (its ring at its
    /// bound, its key, its map entry), so this is the count of coarse series times that cost.
    /// A series refused past it is counted and named, never silently lost.
    pub coarse_budget_bytes: usize,
    /// While a fleet reports at most this many workload ("bulk") series, every one is kept at
    /// full resolution. Past it, only the series of the workloads the operator pinned,
    /// selected or sees plotted stay full; the others move to the coarse tier (for good, until
    /// the store is replaced with the profile, so a fleet near the limit does not flap).
    pub bulk_full_max: usize,
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
            max_full_series: 5_000,
            evict_idle_ms: 5 * MINUTE_MS,
            coarse: TierConfig {
                bucket_ms: MINUTE_MS,
                keep_ms: 3 * HOUR_MS,
            },
            coarse_budget_bytes: 80 << 20,
            bulk_full_max: 1_000,
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
