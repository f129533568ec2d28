use std::collections::VecDeque;

use super::TimeMs;

/// One raw entry. A NaN value marks a gap (a missed poll): no flag or enum tag, so an entry
/// stays 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Sample {
    pub(crate) t: TimeMs,
    pub(crate) v: f64,
}

impl Sample {
    pub(crate) fn is_gap(self) -> bool {
        self.v.is_nan()
    }
}

/// Full-resolution samples for a sliding time window, in a ring that grows up to its bound.
#[derive(Debug)]
pub(crate) struct RawTier {
    samples: VecDeque<Sample>,
    capacity: usize,
    window_ms: i64,
    /// Everything pushed at or after this time is still here. Starts at `MIN` (nothing lost
    /// yet), so a young series is served from raw whatever the requested range.
    retained_from: TimeMs,
}

impl RawTier {
    pub(crate) fn new(capacity: usize, window_ms: i64) -> Self {
        let capacity = capacity.max(1);
        Self {
            samples: VecDeque::new(),
            capacity,
            window_ms,
            retained_from: TimeMs::MIN,
        }
    }

    pub(crate) fn push(&mut self, t: TimeMs, v: f64) {
        self.trim_before(t.saturating_sub(self.window_ms));
        if self.samples.len() >= self.capacity
            && let Some(old) = self.samples.pop_front()
        {
            self.retained_from = old.t.saturating_add(1);
        }
        super::grow_toward(&mut self.samples, self.capacity);
        self.samples.push_back(Sample { t, v });
    }

    /// Records a gap. Runs of gaps collapse into one marker: one is enough to break the line,
    /// and a long outage must not flush real samples out of the ring.
    pub(crate) fn push_gap(&mut self, t: TimeMs) {
        match self.samples.back() {
            Some(last) if !last.is_gap() => self.push(t, f64::NAN),
            _ => {}
        }
    }

    /// Drops entries older than `cutoff`; returns whether any were dropped.
    pub(crate) fn trim_before(&mut self, cutoff: TimeMs) -> bool {
        let mut dropped = false;
        while let Some(front) = self.samples.front()
            && front.t < cutoff
        {
            self.retained_from = front.t.saturating_add(1);
            self.samples.pop_front();
            dropped = true;
        }
        dropped
    }

    /// Says that nothing before `t` is here (a series promoted from the coarse tier).
    pub(crate) fn forget_before(&mut self, t: TimeMs) {
        self.retained_from = self.retained_from.max(t);
    }

    pub(crate) fn window_ms(&self) -> i64 {
        self.window_ms
    }

    pub(crate) fn retained_from(&self) -> TimeMs {
        self.retained_from
    }

    pub(crate) fn samples(&self) -> &VecDeque<Sample> {
        &self.samples
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.samples.capacity() * size_of::<Sample>()
    }
}
