//! Samples on their way from the engine's events into the rules and the metric store. A poll of
//! a large fleet brings 40,000 workload samples at 10,000 workloads; each is judged by the rules
//! that watch its metric (a hashed lookup and a window push) and pushed into one of 40,000 rings
//! spread over ~70 MB (cache misses, ~300 ns): together 15–20 ms, more than a frame. So a poll's
//! samples wait here as one batch (taking a poll in costs nothing per sample), and each frame
//! moves samples on for at most [`BUDGET`], oldest first; a small fleet's poll (a few thousand
//! samples) still lands in the frame that received it, a large one's over a few frames (the
//! coarse tier keeps one point a minute, so a plot never shows the difference, and a rule's
//! window is minutes long).
//!
//! Gaps (a missed poll) wait in the same queue, so they always land after the samples before
//! them, for the rules and the store alike.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::advisor::Advisor;
use crate::metrics::{MetricStore, SeriesKey, TimeMs};
use crate::model::snapshot::Sample;

/// Time a frame spends moving samples on.
pub const BUDGET: Duration = Duration::from_millis(3);

/// At most this many samples wait (ten polls of a 10,000-workload fleet); past it the oldest
/// are dropped and counted: the queue is bounded like every buffer of the window.
const MAX_WAITING: usize = 400_000;

/// How many samples between two looks at the clock.
const CHECK_EVERY: usize = 256;

/// The series every workload reports (Kubernetes and Docker connectors alike): many of a kind,
/// kept coarse when the fleet is large ([`MetricStore::push_bulk`]).
const WORKLOAD_METRICS: [&str; 4] = ["replicas", "ready", "cpu_percent", "memory_percent"];

enum Entry {
    /// One poll's samples, not yet seen; `at` is the poll's time for samples without their own.
    Poll {
        samples: std::vec::IntoIter<Sample>,
        at: TimeMs,
        workloads: bool,
        /// Workload samples in it, told to the store before its first sample goes in (then 0).
        bulk: usize,
    },
    /// A gap in one series (a missed poll): never creates a series.
    Gap { key: SeriesKey, t: TimeMs },
    /// A missed poll of a whole endpoint: every window of the rules under it starts over and
    /// every series under it gets a gap, as of the moment the queue reaches it.
    EndpointGap { endpoint: String, at: TimeMs },
}

#[derive(Default)]
pub struct SampleIntake {
    queue: VecDeque<Entry>,
    /// Samples and gaps waiting in `queue`.
    waiting: usize,
    dropped: u64,
}

impl SampleIntake {
    /// A poll's samples, queued as they are. `workloads`: they come from a workload list.
    pub fn poll(&mut self, samples: Vec<Sample>, at: TimeMs, workloads: bool) {
        if samples.is_empty() {
            return;
        }
        self.waiting += samples.len();
        let bulk = if workloads {
            samples
                .iter()
                .filter(|s| WORKLOAD_METRICS.contains(&s.metric))
                .count()
        } else {
            0
        };
        self.queue.push_back(Entry::Poll {
            samples: samples.into_iter(),
            at,
            workloads,
            bulk,
        });
        self.bound();
    }

    /// A gap in `key` at `t`, in order with the samples before it (pushed directly, it would
    /// make a waiting older sample look out of order).
    pub fn gap(&mut self, key: SeriesKey, t: TimeMs) {
        self.waiting += 1;
        self.queue.push_back(Entry::Gap { key, t });
        self.bound();
    }

    /// A missed poll of `endpoint` at `at`, for the rules and every series under it.
    pub fn endpoint_gap(&mut self, endpoint: String, at: TimeMs) {
        self.waiting += 1;
        self.queue.push_back(Entry::EndpointGap { endpoint, at });
        self.bound();
    }

    /// Drops the oldest samples past [`MAX_WAITING`] (never in practice: a frame moves ~10,000).
    fn bound(&mut self) {
        while self.waiting > MAX_WAITING {
            let Some(front) = self.queue.front_mut() else {
                break;
            };
            let emptied = match front {
                Entry::Poll { samples, .. } => {
                    // A poll whose last sample was just taken can still be at the front.
                    let n = (self.waiting - MAX_WAITING).min(samples.len());
                    if n > 0 {
                        samples.nth(n - 1);
                    }
                    self.waiting -= n;
                    self.dropped += n as u64;
                    samples.len() == 0
                }
                Entry::Gap { .. } | Entry::EndpointGap { .. } => {
                    self.waiting -= 1;
                    self.dropped += 1;
                    true
                }
            };
            if emptied {
                self.queue.pop_front();
            }
        }
    }

    /// Moves waiting samples into `advisor` and `store`, oldest first, until none wait or
    /// `deadline` has passed (at least one batch, so a slow frame still makes progress).
    /// Returns how many samples the rules saw.
    pub fn drain_into(
        &mut self,
        store: &mut MetricStore,
        advisor: &mut Advisor,
        deadline: Instant,
    ) -> u64 {
        let mut observed = 0;
        let mut since_check = 0;
        while let Some(front) = self.queue.front_mut() {
            match front {
                Entry::Poll {
                    samples,
                    at,
                    workloads,
                    bulk,
                } => {
                    if *bulk > 0 {
                        store.expect_bulk_series(std::mem::take(bulk));
                    }
                    let Some(s) = samples.next() else {
                        self.queue.pop_front();
                        continue;
                    };
                    self.waiting -= 1;
                    observed += 1;
                    let t = s.at.unwrap_or(*at);
                    // The rules see every sample once, here; nothing is judged per frame.
                    advisor.observe(&s.target, s.metric, t, s.value);
                    let bulk = *workloads && WORKLOAD_METRICS.contains(&s.metric);
                    let key = SeriesKey::new(s.target, s.metric);
                    if bulk {
                        store.push_bulk(&key, t, s.value);
                    } else {
                        store.push(&key, t, s.value);
                    }
                }
                Entry::Gap { .. } => {
                    let Some(Entry::Gap { key, t }) = self.queue.pop_front() else {
                        unreachable!("the front is a gap");
                    };
                    self.waiting -= 1;
                    store.push_gap(&key, t);
                }
                Entry::EndpointGap { .. } => {
                    let Some(Entry::EndpointGap { endpoint, at }) = self.queue.pop_front() else {
                        unreachable!("the front is an endpoint's gap");
                    };
                    self.waiting -= 1;
                    advisor.gap(&endpoint, at);
                    // Its series as the store has them now (every sample before the gap is
                    // in), each gap then moved on within the budget like a sample.
                    let prefix = format!("{endpoint}/");
                    let keys: Vec<SeriesKey> = store
                        .keys()
                        .filter(|k| k.target.starts_with(&prefix) || k.target == endpoint)
                        .cloned()
                        .collect();
                    self.waiting += keys.len();
                    for key in keys.into_iter().rev() {
                        self.queue.push_front(Entry::Gap { key, t: at });
                    }
                }
            }
            since_check += 1;
            if since_check == CHECK_EVERY {
                since_check = 0;
                if Instant::now() >= deadline {
                    break;
                }
            }
        }
        observed
    }

    pub fn waiting(&self) -> usize {
        self.waiting
    }

    /// Samples dropped because too many waited.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: TimeMs = 1_700_000_000_000;
    const TARGET: &str = "prod/shop/deployment/web";

    fn poll(intake: &mut SampleIntake, t: TimeMs, value: f64) {
        intake.poll(vec![Sample::new(TARGET, "replicas", value)], t, true);
    }

    #[test]
    fn a_small_poll_lands_at_once_and_a_large_one_over_frames_in_order() {
        let mut store = MetricStore::default();
        let mut advisor = Advisor::default();
        let mut intake = SampleIntake::default();
        let key = SeriesKey::new(TARGET, "replicas");
        poll(&mut intake, T0, 3.0);
        let seen = intake.drain_into(&mut store, &mut advisor, Instant::now() + BUDGET);
        assert_eq!(seen, 1);
        assert_eq!(store.latest(&key), Some((T0, 3.0)));
        assert_eq!(intake.waiting(), 0);

        // More than fits in a zero budget: one batch now, the rest later, in order; the gap
        // after them lands after them (not before, which would drop them as out of order).
        for i in 0..1_000 {
            poll(&mut intake, T0 + 1_000 * (i + 1), 4.0);
        }
        intake.gap(key.clone(), T0 + 2_000_000);
        intake.drain_into(&mut store, &mut advisor, Instant::now());
        assert_eq!(intake.waiting(), 1_001 - CHECK_EVERY);
        while intake.waiting() > 0 {
            intake.drain_into(&mut store, &mut advisor, Instant::now());
        }
        assert_eq!(store.latest(&key), Some((T0 + 1_000_000, 4.0)));
        assert_eq!(store.dropped_out_of_order(), 0);
        assert_eq!(intake.dropped(), 0);
    }

    /// A poll of more workload series than the store keeps full goes coarse from its first
    /// sample: none is made full only to be moved (demoted) a moment later. A small fleet's
    /// stay full.
    #[test]
    fn a_large_fleets_first_poll_goes_coarse_from_its_first_sample() {
        let limit = crate::metrics::StoreConfig::default().bulk_full_max;
        for (workloads, full, coarse) in [(limit / 4, limit, 0), (limit, 0, 4 * limit)] {
            let mut store = MetricStore::default();
            let mut advisor = Advisor::default();
            let mut intake = SampleIntake::default();
            let samples: Vec<Sample> = (0..workloads)
                .flat_map(|i| {
                    WORKLOAD_METRICS
                        .map(|m| Sample::new(format!("prod/shop/deployment/w{i}"), m, 1.0))
                })
                .collect();
            intake.poll(samples, T0, true);
            while intake.waiting() > 0 {
                intake.drain_into(&mut store, &mut advisor, Instant::now());
            }
            let summary = store.summary();
            assert_eq!(
                (summary.full, summary.coarse),
                (full, coarse),
                "{workloads}"
            );
            assert_eq!(store.demoted_series(), 0);
        }
    }

    #[test]
    fn an_endpoints_gap_reaches_the_series_its_waiting_samples_made() {
        let mut store = MetricStore::default();
        let mut advisor = Advisor::default();
        let mut intake = SampleIntake::default();
        // The first poll of a series is still waiting when the endpoint goes down: the gap must
        // still land in it, after its sample.
        poll(&mut intake, T0, 3.0);
        intake.endpoint_gap("prod".into(), T0 + 2_000);
        poll(&mut intake, T0 + 4_000, 5.0);
        assert_eq!(intake.waiting(), 3);
        while intake.waiting() > 0 {
            intake.drain_into(&mut store, &mut advisor, Instant::now());
        }
        let key = SeriesKey::new(TARGET, "replicas");
        // Raw samples on a plot 1,000 columns wide: the gap splits them into two segments.
        let plot = store.downsample(&key, T0..T0 + 10_000, 1_000);
        assert_eq!(plot.segments.len(), 2, "{:?}", plot.segments);
        assert_eq!(plot.point_count(), 2);
        assert_eq!(store.dropped_out_of_order(), 0);
    }

    #[test]
    fn the_queue_is_bounded() {
        let mut intake = SampleIntake::default();
        let many: Vec<Sample> = (0..MAX_WAITING - 5)
            .map(|_| Sample::new(TARGET, "replicas", 1.0))
            .collect();
        intake.poll(many, T0, true);
        intake.poll(
            (0..15).map(|_| Sample::new(TARGET, "ready", 1.0)).collect(),
            T0 + 1,
            true,
        );
        assert_eq!(intake.waiting(), MAX_WAITING);
        assert_eq!(intake.dropped(), 10);
        intake.gap(SeriesKey::new(TARGET, "replicas"), T0 + 2);
        assert_eq!(intake.waiting(), MAX_WAITING);
        assert_eq!(intake.dropped(), 11);

        // A frame that stopped right after a poll's last sample leaves it, empty, at the
        // front: the bound passes over it.
        let mut intake = SampleIntake::default();
        let (mut store, mut advisor) = (MetricStore::default(), Advisor::default());
        intake.poll(
            (0..CHECK_EVERY)
                .map(|_| Sample::new(TARGET, "replicas", 1.0))
                .collect(),
            T0,
            true,
        );
        intake.drain_into(&mut store, &mut advisor, Instant::now());
        assert_eq!((intake.waiting(), intake.queue.len()), (0, 1));
        intake.poll(
            (0..MAX_WAITING + 1)
                .map(|_| Sample::new(TARGET, "ready", 1.0))
                .collect(),
            T0 + 1,
            true,
        );
        assert_eq!(intake.waiting(), MAX_WAITING);
        assert_eq!(intake.dropped(), 1);
    }
}
