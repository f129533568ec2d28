//! Incremental evaluation of one rule over one series: a bounded window of buckets covering the
//! rule's duration, updated in O(1) amortised per sample, judged without walking raw samples.
//!
//! Why buckets: a 1 h average at 1 s polls is 3,600 samples per series; [`BUCKETS`] running
//! min/max/sum buckets give the same average, minimum and maximum to within one bucket's width
//! at the window's old edge, for a fixed ~1.3 KiB per series whatever the poll rate.

use super::rules::{Aggregation, Comparison};
use crate::model::snapshot::TimeMs;
use std::collections::VecDeque;

/// Buckets per duration (the window holds at most this many plus one).
pub const BUCKETS: i64 = 32;
/// A pause between samples longer than this many typical intervals is a gap.
const GAP_INTERVALS: i64 = 3;
/// ... and never shorter than this (polls jitter; a slow endpoint answers late).
pub const MIN_GAP_MS: i64 = 15_000;

#[derive(Clone, Copy, Debug)]
struct Bucket {
    start: TimeMs,
    min: f64,
    max: f64,
    sum: f64,
    count: u32,
}

/// What one series says about one rule right now.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// Fewer than two samples since the series began or since its last gap: never judged.
    NotEnoughData(String),
    /// Judged on less than the rule's duration (only enough to be pending).
    Partial { value: f64, breached: bool },
    /// Judged on the whole duration.
    Full { value: f64, breached: bool },
}

impl Verdict {
    pub fn value(&self) -> Option<f64> {
        match self {
            Self::NotEnoughData(_) => None,
            Self::Partial { value, .. } | Self::Full { value, .. } => Some(*value),
        }
    }
}

/// The samples of one series over one rule's duration.
#[derive(Clone, Debug)]
pub struct Window {
    duration_ms: i64,
    bucket_ms: i64,
    buckets: VecDeque<Bucket>,
    /// Sum and count over `buckets`, so an average costs O(1) per sample (recomputed from the
    /// buckets whenever one leaves, so rounding never accumulates).
    sum: f64,
    count: u64,
    last: Option<(TimeMs, f64)>,
    /// Interval between the last two samples, for gap detection.
    last_interval_ms: Option<i64>,
    /// Start of the unbroken run of samples the window holds.
    run_since: Option<TimeMs>,
    run_samples: u32,
    /// Why the window was last emptied, for "not enough data".
    reset_reason: Option<String>,
}

impl Window {
    pub fn new(duration_ms: i64) -> Self {
        let duration_ms = duration_ms.max(0);
        Self {
            duration_ms,
            bucket_ms: (duration_ms / BUCKETS).max(1),
            buckets: VecDeque::new(),
            sum: 0.0,
            count: 0,
            last: None,
            last_interval_ms: None,
            run_since: None,
            run_samples: 0,
            reset_reason: None,
        }
    }

    /// Adds a sample; returns false if it was older than the newest one (dropped).
    pub fn push(&mut self, t: TimeMs, v: f64) -> bool {
        if !v.is_finite() {
            self.gap(t);
            return true;
        }
        if let Some((lt, _)) = self.last {
            if t <= lt {
                return false;
            }
            let dt = t - lt;
            let limit = self.gap_after_ms();
            if dt > limit {
                self.reset(format!("no sample for {} s", dt / 1000));
            } else {
                self.last_interval_ms = Some(dt);
            }
        }
        if self.run_since.is_none() {
            self.run_since = Some(t);
        }
        self.run_samples = self.run_samples.saturating_add(1);
        self.last = Some((t, v));
        self.sum += v;
        self.count += 1;
        match self.buckets.back_mut() {
            Some(b) if t - b.start < self.bucket_ms => {
                b.min = b.min.min(v);
                b.max = b.max.max(v);
                b.sum += v;
                b.count += 1;
            }
            _ => self.buckets.push_back(Bucket {
                start: t,
                min: v,
                max: v,
                sum: v,
                count: 1,
            }),
        }
        // Keep the buckets that hold samples within the duration (the oldest may straddle it).
        let oldest = t - self.duration_ms;
        let mut dropped = false;
        while self.buckets.len() > 1 && self.buckets[1].start <= oldest {
            self.buckets.pop_front();
            dropped = true;
        }
        if dropped {
            self.sum = self.buckets.iter().map(|b| b.sum).sum();
            self.count = self.buckets.iter().map(|b| u64::from(b.count)).sum();
        }
        true
    }

    /// A missed poll: the window starts over, so the rule is never judged across the gap.
    pub fn gap(&mut self, t: TimeMs) {
        if self.last.is_some_and(|(lt, _)| t < lt) {
            return;
        }
        self.reset("the series had a gap (a missed poll)".into());
        // The next sample must not count the gap as an interval.
        self.last = None;
    }

    /// The series went quiet (no sample for longer than a gap, while its endpoint still
    /// answers): the window starts over like after a missed poll, saying since when.
    pub fn silent(&mut self, why: String) {
        self.reset(why);
        self.last = None;
    }

    /// How long without a sample is a gap for this series: [`GAP_INTERVALS`] of its usual
    /// interval, never below [`MIN_GAP_MS`]. The first interval of a run has no usual one to
    /// compare with: a sparse series (a Prometheus range of a long rule, one point every few
    /// minutes) is still one run as long as its points are closer than an eighth of the
    /// duration.
    pub fn gap_after_ms(&self) -> i64 {
        self.last_interval_ms
            .map_or((self.duration_ms / 8).max(MIN_GAP_MS), |i| {
                (i * GAP_INTERVALS).max(MIN_GAP_MS)
            })
    }

    fn reset(&mut self, why: String) {
        self.buckets.clear();
        self.sum = 0.0;
        self.count = 0;
        self.run_since = None;
        self.run_samples = 0;
        self.last_interval_ms = None;
        self.reset_reason = Some(why);
    }

    /// Start of the unbroken run the window is judged on.
    pub fn run_since(&self) -> Option<TimeMs> {
        self.run_since
    }

    /// Newest sample.
    pub fn last(&self) -> Option<(TimeMs, f64)> {
        self.last
    }

    /// Buckets held (bounded by [`BUCKETS`] + 1 for any poll rate).
    pub fn len(&self) -> usize {
        self.buckets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }

    /// The rule's value and whether it breaches, over the newest samples.
    pub fn judge(
        &self,
        aggregation: Aggregation,
        comparison: Comparison,
        threshold: f64,
    ) -> Verdict {
        let (Some((t, last)), Some(since)) = (self.last, self.run_since) else {
            return Verdict::NotEnoughData(
                self.reset_reason
                    .clone()
                    .unwrap_or_else(|| "no sample yet".into()),
            );
        };
        if self.run_samples < 2 {
            return Verdict::NotEnoughData(match &self.reset_reason {
                Some(why) => format!("{why}; waiting for a second sample"),
                None => "only one sample so far".into(),
            });
        }
        let value = match aggregation {
            Aggregation::Last => last,
            Aggregation::Avg => self.sum / self.count.max(1) as f64,
            // "Every sample breaches" is decided by the one closest to the good side.
            Aggregation::All => match comparison {
                Comparison::Above => self.buckets.iter().map(|b| b.min).fold(f64::MAX, f64::min),
                Comparison::Below => self.buckets.iter().map(|b| b.max).fold(f64::MIN, f64::max),
            },
        };
        let breached = comparison.breached(value, threshold);
        if t - since >= self.duration_ms {
            Verdict::Full { value, breached }
        } else {
            Verdict::Partial { value, breached }
        }
    }

    /// How much of the duration the unbroken run covers, in ms.
    pub fn covered_ms(&self) -> i64 {
        match (self.last, self.run_since) {
            (Some((t, _)), Some(s)) => (t - s).min(self.duration_ms),
            _ => 0,
        }
    }
}
