use std::collections::VecDeque;

use super::{TierConfig, TimeMs};

/// The top bit of [`Bucket::count_flags`]: a gap was recorded after (or inside) this bucket.
/// Packed into the count so a bucket stays 24 bytes.
const GAP_AFTER: u32 = 1 << 31;
const COUNT_MASK: u32 = !GAP_AFTER;

/// Aggregate of the real samples that fell in `[start, start + bucket_ms)`. `f32` is plenty
/// for drawing (7 significant digits), and halves the size of the dominant buffer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Bucket {
    pub(crate) start: TimeMs,
    pub(crate) min: f32,
    pub(crate) max: f32,
    pub(crate) mean: f32,
    count_flags: u32,
}

impl Bucket {
    fn new(start: TimeMs, v: f64) -> Self {
        let f = v as f32;
        Self {
            start,
            min: f,
            max: f,
            mean: f,
            count_flags: 1,
        }
    }

    pub(crate) fn count(self) -> u32 {
        self.count_flags & COUNT_MASK
    }

    pub(crate) fn gap_after(self) -> bool {
        self.count_flags & GAP_AFTER != 0
    }

    fn add(&mut self, v: f64) {
        let f = v as f32;
        self.min = self.min.min(f);
        self.max = self.max.max(f);
        let n = self.count().saturating_add(1).min(COUNT_MASK);
        // Running mean in f64 so the f32 rounding does not accumulate across the bucket.
        let mean = f64::from(self.mean);
        self.mean = (mean + (v - mean) / f64::from(n)) as f32;
        self.count_flags = (self.count_flags & GAP_AFTER) | n;
    }
}

/// One tier: a ring of buckets that grows up to `keep_ms / bucket_ms + 1` entries.
#[derive(Debug)]
pub(crate) struct BucketTier {
    buckets: VecDeque<Bucket>,
    capacity: usize,
    bucket_ms: i64,
    keep_ms: i64,
    /// End of the newest bucket; `MIN` until the first sample.
    open_end: TimeMs,
    /// Everything at or after this time is still aggregated here (see `RawTier`).
    retained_from: TimeMs,
}

impl BucketTier {
    pub(crate) fn new(config: TierConfig) -> Self {
        let capacity = config.capacity();
        Self {
            buckets: VecDeque::new(),
            capacity,
            bucket_ms: config.bucket_ms.max(1),
            keep_ms: config.keep_ms,
            open_end: TimeMs::MIN,
            retained_from: TimeMs::MIN,
        }
    }

    /// Folds a real sample into its bucket. Callers guarantee `t` never goes backwards.
    pub(crate) fn push(&mut self, t: TimeMs, v: f64) {
        // Time only moves forward, so "before the open bucket's end" means "in it"; this keeps
        // the division for bucket alignment off the common path.
        if t < self.open_end
            && let Some(last) = self.buckets.back_mut()
        {
            last.add(v);
            return;
        }
        let start = t - t.rem_euclid(self.bucket_ms);
        self.open_end = start.saturating_add(self.bucket_ms);
        self.trim_ended_before(t.saturating_sub(self.keep_ms));
        if self.buckets.len() >= self.capacity
            && let Some(old) = self.buckets.pop_front()
        {
            self.retained_from = old.start.saturating_add(self.bucket_ms);
        }
        super::grow_toward(&mut self.buckets, self.capacity);
        self.buckets.push_back(Bucket::new(start, v));
    }

    /// A bucket holding only gaps is simply absent; a gap after real data flags the last
    /// bucket so the line breaks even when the next bucket is adjacent.
    pub(crate) fn push_gap(&mut self) {
        if let Some(last) = self.buckets.back_mut() {
            last.count_flags |= GAP_AFTER;
        }
    }

    /// Drops buckets that ended at or before `cutoff`; returns whether any were dropped.
    pub(crate) fn trim_ended_before(&mut self, cutoff: TimeMs) -> bool {
        let mut dropped = false;
        while let Some(front) = self.buckets.front()
            && front.start.saturating_add(self.bucket_ms) <= cutoff
        {
            self.retained_from = front.start.saturating_add(self.bucket_ms);
            self.buckets.pop_front();
            dropped = true;
        }
        dropped
    }

    /// Says that nothing before `t` is aggregated here (see `RawTier::forget_before`).
    pub(crate) fn forget_before(&mut self, t: TimeMs) {
        self.retained_from = self.retained_from.max(t);
    }

    pub(crate) fn bucket_ms(&self) -> i64 {
        self.bucket_ms
    }

    pub(crate) fn keep_ms(&self) -> i64 {
        self.keep_ms
    }

    pub(crate) fn retained_from(&self) -> TimeMs {
        self.retained_from
    }

    pub(crate) fn buckets(&self) -> &VecDeque<Bucket> {
        &self.buckets
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.buckets.capacity() * size_of::<Bucket>()
    }
}
