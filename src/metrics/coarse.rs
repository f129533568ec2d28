use std::collections::VecDeque;
use std::ops::Range;

use super::downsample::{self, Downsampled};
use super::{TierConfig, TimeMs};

/// One coarse bucket: the extremes of its samples, so a dip of ready replicas inside a minute
/// still shows. No timestamp (the ring has a fixed stride) and no mean: 8 bytes a point, which
/// is what lets every workload of a 10,000-workload fleet keep a few hours of history.
/// An empty bucket (no sample, a missed poll, a stale context) is NaN and breaks the line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct CoarsePoint {
    pub(crate) min: f32,
    pub(crate) max: f32,
}

impl CoarsePoint {
    const EMPTY: Self = Self {
        min: f32::NAN,
        max: f32::NAN,
    };

    pub(crate) fn is_empty(self) -> bool {
        self.min.is_nan()
    }
}

/// A series kept at the coarse tier: a fixed-stride ring of [`CoarsePoint`]s, allocated once
/// at its bound so the store's budget is exact (bytes per series × series). The width and the
/// bound live in the store's config, not here, to keep the struct small.
#[derive(Debug)]
pub(crate) struct CoarseSeries {
    points: VecDeque<CoarsePoint>,
    /// Bucket index (`t / bucket_ms`) of `points[0]`.
    first_slot: i64,
    last_t: TimeMs,
    last_real: Option<(TimeMs, f64)>,
    pub(crate) version: u64,
}

impl CoarseSeries {
    pub(crate) fn new(tier: TierConfig) -> Self {
        Self {
            points: VecDeque::with_capacity(tier.capacity()),
            first_slot: 0,
            last_t: TimeMs::MIN,
            last_real: None,
            version: 0,
        }
    }

    /// Folds a real sample into its bucket; false if it is older than what we have.
    pub(crate) fn push(&mut self, tier: TierConfig, t: TimeMs, v: f64, version: u64) -> bool {
        if t < self.last_t {
            return false;
        }
        self.last_t = t;
        self.last_real = Some((t, v));
        self.version = version;
        self.add(tier, t.div_euclid(tier.bucket_ms), v as f32, v as f32);
        true
    }

    /// A missed poll: nothing is stored; a bucket left empty by it breaks the line.
    pub(crate) fn push_gap(&mut self, t: TimeMs, version: u64) -> bool {
        if t < self.last_t {
            return false;
        }
        self.last_t = t;
        self.version = version;
        true
    }

    /// Widens bucket `slot` by `[min, max]`, opening it (and empty ones before it) if new.
    /// Slots never go backwards: callers feed time in order.
    pub(crate) fn add(&mut self, tier: TierConfig, slot: i64, min: f32, max: f32) {
        let capacity = tier.capacity();
        let next = self.first_slot + self.points.len() as i64;
        if self.points.is_empty() || slot - next >= capacity as i64 {
            self.points.clear();
            self.first_slot = slot;
        } else if slot < next {
            let index = usize::try_from(slot - self.first_slot).unwrap_or(0);
            if let Some(p) = self.points.get_mut(index) {
                if p.is_empty() {
                    *p = CoarsePoint { min, max };
                } else {
                    p.min = p.min.min(min);
                    p.max = p.max.max(max);
                }
            }
            return;
        } else {
            for _ in next..slot {
                self.push_point(CoarsePoint::EMPTY, capacity);
            }
        }
        self.push_point(CoarsePoint { min, max }, capacity);
    }

    fn push_point(&mut self, point: CoarsePoint, capacity: usize) {
        if self.points.len() >= capacity {
            self.points.pop_front();
            self.first_slot += 1;
        }
        self.points.push_back(point);
    }

    /// Drops buckets that ended at or before `cutoff`; returns whether any went.
    pub(crate) fn trim_ended_before(&mut self, tier: TierConfig, cutoff: TimeMs) -> bool {
        let mut dropped = false;
        while !self.points.is_empty() && (self.first_slot + 1) * tier.bucket_ms <= cutoff {
            self.points.pop_front();
            self.first_slot += 1;
            dropped = true;
        }
        dropped
    }

    /// Buckets in time order with their start, empty ones left out.
    pub(crate) fn buckets(&self, tier: TierConfig) -> impl Iterator<Item = (TimeMs, CoarsePoint)> {
        let first = self.first_slot;
        self.points
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.is_empty())
            .map(move |(i, &p)| ((first + i as i64) * tier.bucket_ms, p))
    }

    pub(crate) fn latest(&self) -> Option<(TimeMs, f64)> {
        self.last_real
    }

    pub(crate) fn last_t(&self) -> TimeMs {
        self.last_t
    }

    /// Carries the newest sample over from a series being demoted, so `latest` and the
    /// out-of-order check do not change with the resolution.
    pub(crate) fn continue_from(
        &mut self,
        last_t: TimeMs,
        last_real: Option<(TimeMs, f64)>,
        version: u64,
    ) {
        self.last_t = last_t;
        self.last_real = last_real;
        self.version = version;
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.points.capacity() * size_of::<CoarsePoint>()
    }

    pub(crate) fn downsample(
        &self,
        tier: TierConfig,
        range: Range<TimeMs>,
        columns: usize,
    ) -> Downsampled {
        downsample::coarse(
            &self.points,
            self.first_slot,
            tier.bucket_ms,
            range,
            columns,
        )
    }
}
