//! Samples on their way from the engine's events into the metric store. A poll of a large fleet
//! brings 40,000 workload samples at 10,000 workloads, and each push is a hashed lookup plus a
//! write into one of 40,000 rings spread over ~70 MB (cache misses, ~300 ns): about 12 ms, most
//! of a frame. So samples wait here, in arrival order, and each frame moves them into the store
//! for at most [`BUDGET`]; a small fleet's poll (a few thousand samples) still lands in the
//! frame that received it, a large one's over a few frames (the coarse tier keeps one point a
//! minute, so a plot never shows the difference).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::metrics::{MetricStore, SeriesKey, TimeMs};

/// Time a frame spends moving samples into the store.
pub const BUDGET: Duration = Duration::from_millis(3);

/// At most this many samples wait (ten polls of a 10,000-workload fleet); past it the oldest
/// are dropped and counted: the queue is bounded like every buffer of the window.
const MAX_WAITING: usize = 400_000;

/// How many pushes between two looks at the clock.
const CHECK_EVERY: usize = 256;

struct Waiting {
    key: SeriesKey,
    t: TimeMs,
    /// NaN: a gap (a missed poll), which never creates a series.
    value: f64,
    /// One of a fleet's many workload series ([`MetricStore::push_bulk`]).
    bulk: bool,
}

#[derive(Default)]
pub struct SampleIntake {
    waiting: VecDeque<Waiting>,
    dropped: u64,
}

impl SampleIntake {
    pub fn sample(&mut self, key: SeriesKey, t: TimeMs, value: f64, bulk: bool) {
        if self.waiting.len() >= MAX_WAITING {
            self.waiting.pop_front();
            self.dropped += 1;
        }
        self.waiting.push_back(Waiting {
            key,
            t,
            value,
            bulk,
        });
    }

    /// A gap in `key` at `t`, in order with the samples before it (pushed directly, it would
    /// make a waiting older sample look out of order).
    pub fn gap(&mut self, key: SeriesKey, t: TimeMs) {
        self.sample(key, t, f64::NAN, false);
    }

    /// Moves waiting samples into `store`, oldest first, until none wait or `deadline` has
    /// passed (at least one batch, so a slow frame still makes progress).
    pub fn drain_into(&mut self, store: &mut MetricStore, deadline: Instant) {
        let mut since_check = 0;
        while let Some(w) = self.waiting.pop_front() {
            if !w.value.is_finite() {
                store.push_gap(&w.key, w.t);
            } else if w.bulk {
                store.push_bulk(&w.key, w.t, w.value);
            } else {
                store.push(&w.key, w.t, w.value);
            }
            since_check += 1;
            if since_check == CHECK_EVERY {
                since_check = 0;
                if Instant::now() >= deadline {
                    break;
                }
            }
        }
    }

    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Samples dropped because too many waited (never in practice: a frame takes in ~10,000).
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: TimeMs = 1_700_000_000_000;

    #[test]
    fn a_small_poll_lands_at_once_and_a_large_one_over_frames_in_order() {
        let mut store = MetricStore::default();
        let mut intake = SampleIntake::default();
        let key = SeriesKey::new("prod/shop/deployment/web", "replicas");
        intake.sample(key.clone(), T0, 3.0, true);
        intake.drain_into(&mut store, Instant::now() + BUDGET);
        assert_eq!(store.latest(&key), Some((T0, 3.0)));
        assert_eq!(intake.waiting(), 0);

        // More than fits in a zero budget: one batch now, the rest later, in order; the gap
        // after them lands after them (not before, which would drop them as out of order).
        for i in 0..1_000 {
            intake.sample(key.clone(), T0 + 1_000 * (i + 1), 4.0, true);
        }
        intake.gap(key.clone(), T0 + 2_000_000);
        intake.drain_into(&mut store, Instant::now());
        assert_eq!(intake.waiting(), 1_001 - CHECK_EVERY);
        while intake.waiting() > 0 {
            intake.drain_into(&mut store, Instant::now());
        }
        assert_eq!(store.latest(&key), Some((T0 + 1_000_000, 4.0)));
        assert_eq!(store.dropped_out_of_order(), 0);
        assert_eq!(intake.dropped(), 0);
    }

    #[test]
    fn the_queue_is_bounded() {
        let mut intake = SampleIntake::default();
        let key = SeriesKey::new("t", "m");
        for i in 0..(MAX_WAITING as i64 + 10) {
            intake.sample(key.clone(), T0 + i, 1.0, false);
        }
        assert_eq!(intake.waiting(), MAX_WAITING);
        assert_eq!(intake.dropped(), 10);
    }
}
