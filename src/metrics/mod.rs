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
//! range down to a few thousand points, and because every buffer is allocated to its bound when
//! the series is created and never grows, memory is a fixed, predictable cost per series
//! (about 54 KiB with the defaults) times [`StoreConfig::max_series`].
//!
//! Gaps (missed polls) are stored as gaps, never as zeros, and [`Downsampled`] splits its line
//! segments at them so a plot never draws a line across an outage.

mod config;
mod downsample;
mod key;
mod raw;
mod series;
mod store;
mod tier;

#[cfg(test)]
mod tests;

pub use config::{StoreConfig, TierConfig};
pub use downsample::Downsampled;
pub use key::SeriesKey;
pub use store::MetricStore;

/// A point in time: unix epoch milliseconds.
pub type TimeMs = i64;
