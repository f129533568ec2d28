use std::ops::Range;

use super::coarse::CoarseSeries;
use super::downsample::{self, Downsampled};
use super::raw::RawTier;
use super::tier::BucketTier;
use super::{StoreConfig, TimeMs};

/// How many recent poll intervals feed the median used for gap detection: enough to shrug
/// off a couple of outages, small enough to follow a changed poll rate within seconds.
const INTERVALS: usize = 8;

/// Everything kept for one series; each buffer grows up to its bound (see `grow_toward`).
#[derive(Debug)]
pub(crate) struct Series {
    pub(crate) raw: RawTier,
    pub(crate) tiers: Vec<BucketTier>,
    /// Newest timestamp seen, sample or gap; anything older is out of order.
    last_t: TimeMs,
    last_real: Option<(TimeMs, f64)>,
    gap_since_real: bool,
    /// Recent intervals between consecutive real samples (0 = not yet seen), a ring.
    intervals: [u32; INTERVALS],
    next_interval: usize,
    pub(crate) version: u64,
    /// One of a fleet's many workload series: moved to the coarse tier when the fleet is large
    /// and the operator does not look at it.
    pub(crate) bulk: bool,
}

impl Series {
    pub(crate) fn new(config: &StoreConfig) -> Self {
        Self {
            raw: RawTier::new(config.raw_capacity, config.raw_window_ms),
            tiers: config
                .tiers
                .iter()
                .map(|&tier| BucketTier::new(tier))
                .collect(),
            last_t: TimeMs::MIN,
            last_real: None,
            gap_since_real: false,
            intervals: [0; INTERVALS],
            next_interval: 0,
            version: 0,
            bulk: false,
        }
    }

    /// A full series that starts where a coarse one ends: its buckets go into every tier at
    /// least as wide (so a plot of the last hour still shows them), and the finer buffers say
    /// they hold nothing before now, so a view reaching back is served from a tier that does.
    pub(crate) fn promoted(config: &StoreConfig, coarse: &CoarseSeries) -> Self {
        let mut series = Self::new(config);
        let width = config.coarse.bucket_ms;
        let mut prev_end = None;
        for (start, p) in coarse.buckets(config.coarse) {
            for tier in series.tiers.iter_mut().filter(|t| t.bucket_ms() >= width) {
                if prev_end.is_some_and(|end| end < start) {
                    tier.push_gap();
                }
                tier.push(start, f64::from(p.min));
                tier.push(start, f64::from(p.max));
            }
            prev_end = Some(start + width);
        }
        let from = coarse.last_t().saturating_add(1);
        series.raw.forget_before(from);
        for tier in series.tiers.iter_mut().filter(|t| t.bucket_ms() < width) {
            tier.forget_before(from);
        }
        series.last_t = coarse.last_t();
        series.last_real = coarse.latest();
        // The intervals ring restarts: the first full-rate samples set the rhythm.
        series.gap_since_real = true;
        series.version = coarse.version;
        series
    }

    /// This series at the coarse tier: from the finest tier no wider than a coarse bucket that
    /// reaches back as far as the coarse tier keeps (else the one reaching furthest), so
    /// nothing the coarse tier could hold is lost.
    pub(crate) fn demoted(&self, config: &StoreConfig) -> CoarseSeries {
        let coarse = config.coarse;
        let mut out = CoarseSeries::new(coarse);
        let width = coarse.bucket_ms;
        let narrow = || self.tiers.iter().filter(move |t| t.bucket_ms() <= width);
        let source = narrow()
            .find(|t| t.keep_ms() >= coarse.keep_ms)
            .or_else(|| narrow().max_by_key(|t| t.keep_ms()));
        match source {
            Some(tier) => {
                for b in tier.buckets() {
                    out.add(coarse, b.start.div_euclid(coarse.bucket_ms), b.min, b.max);
                }
            }
            None => {
                for s in self.raw.samples().iter().filter(|s| !s.is_gap()) {
                    let v = s.v as f32;
                    out.add(coarse, s.t.div_euclid(coarse.bucket_ms), v, v);
                }
            }
        }
        out.continue_from(self.last_t, self.last_real, self.version);
        out
    }

    /// Pushes a real (finite) sample stamped `version`; returns false if it is older than
    /// what we have.
    pub(crate) fn push(&mut self, t: TimeMs, v: f64, version: u64) -> bool {
        if t < self.last_t {
            return false;
        }
        if let Some((prev, _)) = self.last_real
            && !self.gap_since_real
        {
            self.intervals[self.next_interval] = u32::try_from(t - prev).unwrap_or(u32::MAX);
            self.next_interval = (self.next_interval + 1) % INTERVALS;
        }
        self.version = version;
        self.last_t = t;
        self.last_real = Some((t, v));
        self.gap_since_real = false;
        self.raw.push(t, v);
        for tier in &mut self.tiers {
            tier.push(t, v);
        }
        true
    }

    /// Pushes a gap stamped `version`; returns false if it is older than what we have.
    pub(crate) fn push_gap(&mut self, t: TimeMs, version: u64) -> bool {
        if t < self.last_t {
            return false;
        }
        self.version = version;
        self.last_t = t;
        self.gap_since_real = true;
        self.raw.push_gap(t);
        for tier in &mut self.tiers {
            tier.push_gap();
        }
        true
    }

    pub(crate) fn latest(&self) -> Option<(TimeMs, f64)> {
        self.last_real
    }

    pub(crate) fn last_t(&self) -> TimeMs {
        self.last_t
    }

    /// Drops what `now` has aged out of each buffer; returns whether anything went.
    pub(crate) fn prune(&mut self, now: TimeMs, max_age_ms: i64) -> bool {
        let oldest = now.saturating_sub(max_age_ms);
        let raw_cutoff = now.saturating_sub(self.raw.window_ms()).max(oldest);
        let mut dropped = self.raw.trim_before(raw_cutoff);
        for tier in &mut self.tiers {
            let cutoff = now.saturating_sub(tier.keep_ms()).max(oldest);
            dropped |= tier.trim_ended_before(cutoff);
        }
        dropped
    }

    /// Median of the recent poll intervals, if any were seen.
    fn median_interval_ms(&self) -> Option<i64> {
        let mut seen = self.intervals;
        seen.sort_unstable();
        let first = seen.iter().position(|&dt| dt > 0)?;
        let seen = &seen[first..];
        Some(i64::from(seen[seen.len() / 2]))
    }

    /// Raw samples further apart than this are drawn as a break.
    fn raw_gap_ms(&self, gap_after_ms: i64) -> i64 {
        let typical = self.median_interval_ms().unwrap_or(0);
        gap_after_ms.max(typical.saturating_mul(3))
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.raw.heap_bytes()
            + self.tiers.capacity() * size_of::<BucketTier>()
            + self.tiers.iter().map(BucketTier::heap_bytes).sum::<usize>()
    }

    /// Serves `range` from the finest buffer that still holds everything since `range.start`;
    /// if none does, from the coarsest, which reaches back furthest.
    pub(crate) fn downsample(
        &self,
        range: Range<TimeMs>,
        columns: usize,
        gap_after_ms: i64,
    ) -> Downsampled {
        let raw_gap_ms = self.raw_gap_ms(gap_after_ms);
        if self.raw.retained_from() <= range.start || self.tiers.is_empty() {
            return downsample::raw(self.raw.samples(), range, columns, raw_gap_ms);
        }
        let tier = self
            .tiers
            .iter()
            .find(|tier| tier.retained_from() <= range.start)
            .or_else(|| self.tiers.last());
        match tier {
            Some(tier) => {
                let width = tier.bucket_ms();
                // A missing bucket is a break, unless the poll interval itself is longer than
                // a bucket, in which case only a break in the raw sense counts.
                let gap_ms = (width + width / 2).max(raw_gap_ms.saturating_add(width));
                downsample::buckets(tier.buckets(), width, range, columns, gap_ms)
            }
            None => Downsampled::default(),
        }
    }
}
