//! Bounded, tiered time-series store for live plots.
//!
//! The UI thread owns one [`MetricStore`]; the engine's samples are pushed into it as events
//! arrive, and plots read it back through [`MetricStore::downsample`]. Nothing here does I/O or
//! knows about egui.
//!
//! Each series keeps three kinds of buffer, finest first:
//!
//! * **raw**: full-resolution `f64` samples for the last [`StoreConfig::raw_window_ms`]
//!   (10 min by default), capped at [`StoreConfig::raw_capacity`] entries;
//! * **tiers**: min/max/mean/count buckets, by default 10 s buckets kept for 1 h and 60 s
//!   buckets kept for 24 h. Every sample updates the open bucket of every tier as it arrives,
//!   so nothing is ever recomputed from raw data (which is long gone for old buckets anyway).
//!
//! Why tiers: a day of 1 s samples is 86,400 points per series; at a thousand series that is
//! over a gigabyte of raw `(i64, f64)` pairs. Coarser buckets for older data keep a plot of any
//! range down to a few thousand points. Every buffer grows by doubling up to its bound and never
//! past it, so memory follows what a series holds (a few hundred bytes for a new series, about
//! 54 KiB with the defaults once it holds a day) and is bounded by that times
//! [`StoreConfig::max_full_series`].
//!
//! Why two classes: a fleet of 10,000 workloads reports 20,000–40,000 series, and 54 KiB each
//! would be gigabytes. So past [`StoreConfig::bulk_full_max`] workload series, only the ones the
//! operator pinned, selected or sees plotted keep the buffers above; every other workload series
//! is **coarse**: one min/max point per minute for 3 h, 8 bytes a point in a ring allocated at
//! its bound (about 1.7 KB a series with its key), within [`StoreConfig::coarse_budget_bytes`].
//! See `classes.rs` for the rule and the moves between the two.
//!
//! Gaps (missed polls) are stored as gaps, never as zeros, and [`Downsampled`] splits its line
//! segments at them so a plot never draws a line across an outage.

mod classes;
mod coarse;
mod config;
mod downsample;
mod key;
mod raw;
mod series;
mod store;
mod tier;

#[cfg(test)]
mod tests;

pub use classes::{Resolution, StoreSummary};
pub use config::{StoreConfig, TierConfig};
pub use downsample::Downsampled;
pub use key::SeriesKey;
pub use store::MetricStore;

/// A point in time: unix epoch milliseconds.
pub type TimeMs = i64;

/// Makes room for one more entry in a ring bounded at `bound` entries: capacity doubles (from
/// 16) as the ring fills and stops exactly at the bound, so a young or sparse series costs what
/// it holds while a full one costs its bound, and a full ring never reallocates again.
pub(crate) fn grow_toward<T>(ring: &mut std::collections::VecDeque<T>, bound: usize) {
    if ring.len() == ring.capacity() && ring.len() < bound {
        let target = (ring.len() * 2).clamp(16, bound);
        ring.reserve_exact(target - ring.len());
    }
}
