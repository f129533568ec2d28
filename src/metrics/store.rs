use std::cell::Cell;
use std::collections::{BTreeSet, HashMap};
use std::ops::Range;

use super::classes::{Refusals, Resolution};
use super::coarse::CoarseSeries;
use super::downsample::Downsampled;
use super::series::Series;
use super::{SeriesKey, StoreConfig, TimeMs};

/// Every series of the console, in two classes: **full** (raw samples plus the tiers) for
/// what the operator looks at and for the few series of databases, queues and probes, and
/// **coarse** (one min/max point per bucket, a fixed ring) for the many workload series of a
/// large fleet. Each class is bounded: full by count, coarse by bytes. A series that finds no
/// room at full resolution is kept coarse; one that finds no room even there is counted and
/// named (see [`Self::summary`]), never silently lost.
///
/// Owned by the UI thread; all methods are cheap enough to call from a frame: `push` is O(1)
/// plus a hashed lookup, and `downsample` only walks the visible part of one buffer. Moving a
/// series between classes walks its own buckets once (a few thousand at most).
///
/// Why hashed maps and not ordered ones: at 10,000 workloads a poll pushes 40,000 samples on
/// the UI thread, and a `BTreeMap` of string keys that share long prefixes ("ctx/ns/deployment/…")
/// made each push ~16 string comparisons deep (19.6 ms a poll, over a frame). The few walks
/// by target (selection changes, a failed poll's gaps) scan instead; they are rare.
#[derive(Debug)]
pub struct MetricStore {
    pub(super) config: StoreConfig,
    pub(super) full: SeriesMap<Series>,
    pub(super) coarse: SeriesMap<CoarseSeries>,
    /// Targets whose series stay full: the workloads the operator pinned, selected or sees
    /// plotted (see [`Self::set_watched`]).
    pub(super) watched: BTreeSet<String>,
    /// The fleet reported more than `bulk_full_max` workload series: from now on only watched
    /// ones are full.
    pub(super) coarse_mode: bool,
    /// Full bulk series coarse mode still has to move to the coarse tier, one per bulk push.
    pub(super) to_demote: Vec<SeriesKey>,
    /// Full series with the bulk flag.
    pub(super) full_bulk: usize,
    /// Bytes the coarse class holds, kept exact as series come and go.
    pub(super) coarse_bytes: usize,
    /// Store-wide modification counter: a series' version is the clock at its last change, so
    /// a series that is dropped and re-created never repeats a version a plot cache has seen.
    pub(super) clock: u64,
    dropped_out_of_order: u64,
    /// Full series moved to the coarse tier to make room (their data kept, down-sampled).
    pub(super) demoted_series: u64,
    /// Idle coarse series dropped to make room within the budget.
    pub(super) evicted_series: u64,
    pub(super) refusals: Refusals,
    /// While the full class is full: before this sample time no full series can be idle
    /// enough to give up its place, so a new one goes coarse without scanning (O(1)).
    pub(super) full_busy_until: TimeMs,
    /// The same for the coarse budget: before this, a new coarse series is refused in O(1).
    pub(super) coarse_busy_until: TimeMs,
    /// [`Self::memory_bytes`] as of the last prune, for the status bar (no walk per frame).
    pub(super) memory_at_prune: usize,
    /// `(clock, count)` of full series of watched targets, for [`Self::summary`] on every
    /// frame without a walk per frame (the clock moves with every push, so once a poll).
    pub(super) full_watched_at: Cell<Option<(u64, usize)>>,
}

/// foldhash: the hasher the Kubernetes caches use too; SipHash's DoS resistance buys nothing
/// for keys our own engine makes.
pub(super) type SeriesMap<V> = HashMap<SeriesKey, V, foldhash::fast::RandomState>;

impl Default for MetricStore {
    fn default() -> Self {
        Self::new(StoreConfig::default())
    }
}

impl MetricStore {
    pub fn new(mut config: StoreConfig) -> Self {
        for tier in &mut config.tiers {
            tier.bucket_ms = tier.bucket_ms.max(1);
        }
        config.coarse.bucket_ms = config.coarse.bucket_ms.max(1);
        // Downsampling relies on finest-first order to pick the finest covering tier.
        config.tiers.sort_by_key(|tier| tier.bucket_ms);
        config.max_full_series = config.max_full_series.max(1);
        Self {
            config,
            full: SeriesMap::default(),
            coarse: SeriesMap::default(),
            watched: BTreeSet::new(),
            coarse_mode: false,
            to_demote: Vec::new(),
            full_bulk: 0,
            coarse_bytes: 0,
            clock: 0,
            dropped_out_of_order: 0,
            demoted_series: 0,
            evicted_series: 0,
            refusals: Refusals::default(),
            full_busy_until: TimeMs::MIN,
            coarse_busy_until: TimeMs::MIN,
            memory_at_prune: 0,
            full_watched_at: Cell::new(None),
        }
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Records a sample of a series that is one of its kind (a database's lag, a probe's
    /// latency): kept at full resolution while the full class has room, else coarse.
    /// A non-finite value is recorded as a gap; a sample older than the series' newest entry
    /// is dropped and counted in [`Self::dropped_out_of_order`].
    pub fn push(&mut self, key: &SeriesKey, t: TimeMs, value: f64) {
        self.push_as(key, t, value, false);
    }

    /// Records a sample of one of a fleet's many workload series (replicas, ready, CPU,
    /// memory): full while the fleet is small or the operator watches its target, else coarse.
    pub fn push_bulk(&mut self, key: &SeriesKey, t: TimeMs, value: f64) {
        self.push_as(key, t, value, true);
    }

    /// Like [`Self::push`], for a series the operator is looking at (the selected workload,
    /// the fleet's totals): it is full, promoted if it was coarse, and when the full class is
    /// full the stalest unwatched full series moves to the coarse tier to make room.
    pub fn push_pinned(&mut self, key: &SeriesKey, t: TimeMs, value: f64) {
        if !self.full.contains_key(key) && value.is_finite() {
            self.make_full(key, t);
        }
        self.push(key, t, value);
    }

    fn push_as(&mut self, key: &SeriesKey, t: TimeMs, value: f64, bulk: bool) {
        if !value.is_finite() {
            self.push_gap(key, t);
            return;
        }
        self.clock += 1;
        let clock = self.clock;
        let coarse_tier = self.config.coarse;
        let pushed = if let Some(series) = self.full.get_mut(key) {
            series.push(t, value, clock)
        } else if let Some(series) = self.coarse.get_mut(key) {
            series.push(coarse_tier, t, value, clock)
        } else {
            match self.insert(key, t, bulk) {
                Some(Resolution::Full) => self
                    .full
                    .get_mut(key)
                    .is_some_and(|s| s.push(t, value, clock)),
                Some(Resolution::Coarse) => self
                    .coarse
                    .get_mut(key)
                    .is_some_and(|s| s.push(coarse_tier, t, value, clock)),
                None => {
                    self.refusals.refuse(key);
                    return;
                }
            }
        };
        if !pushed {
            self.dropped_out_of_order += 1;
        }
        if bulk {
            self.demote_pending();
        }
    }

    /// Records a missed poll: the plot breaks here instead of drawing a zero. A series that
    /// does not exist yet is not created for it.
    pub fn push_gap(&mut self, key: &SeriesKey, t: TimeMs) {
        self.clock += 1;
        let clock = self.clock;
        let pushed = if let Some(series) = self.full.get_mut(key) {
            series.push_gap(t, clock)
        } else if let Some(series) = self.coarse.get_mut(key) {
            series.push_gap(t, clock)
        } else {
            true
        };
        if !pushed {
            self.dropped_out_of_order += 1;
        }
    }

    /// Records a gap in every series of `target`, for a poll that failed as a whole (a walk
    /// of every series: rare).
    pub fn push_gap_for_target(&mut self, target: &str, t: TimeMs) {
        self.clock += 1;
        let clock = self.clock;
        let mut refused = 0;
        for (_, series) in self.full.iter_mut().filter(|(key, _)| key.target == target) {
            refused += u64::from(!series.push_gap(t, clock));
        }
        for (_, series) in self
            .coarse
            .iter_mut()
            .filter(|(key, _)| key.target == target)
        {
            refused += u64::from(!series.push_gap(t, clock));
        }
        self.dropped_out_of_order += refused;
    }

    /// Drops data older than each buffer's window (and than `max_age_ms`) as of `now`, and
    /// forgets series whose last real sample is older than `max_age_ms`.
    pub fn prune(&mut self, now: TimeMs) {
        self.clock += 1;
        let clock = self.clock;
        let max_age_ms = self.config.max_age_ms;
        let oldest = now.saturating_sub(max_age_ms);
        self.full
            .retain(|_, series| series.latest().is_some_and(|(t, _)| t >= oldest));
        self.full_bulk = self.full.values().filter(|s| s.bulk).count();
        for series in self.full.values_mut() {
            if series.prune(now, max_age_ms) {
                series.version = clock;
            }
        }
        let coarse_tier = self.config.coarse;
        let cutoff = now.saturating_sub(coarse_tier.keep_ms).max(oldest);
        let mut freed = 0;
        self.coarse.retain(|key, series| {
            let live = series.latest().is_some_and(|(t, _)| t >= oldest);
            if !live {
                freed += super::classes::coarse_cost(key, series);
            }
            live
        });
        self.coarse_bytes -= freed;
        for series in self.coarse.values_mut() {
            if series.trim_ended_before(coarse_tier, cutoff) {
                series.version = clock;
            }
        }
        self.memory_at_prune = self.memory_bytes();
    }

    /// The newest real sample; gaps after it do not hide it.
    pub fn latest(&self, key: &SeriesKey) -> Option<(TimeMs, f64)> {
        match self.full.get(key) {
            Some(series) => series.latest(),
            None => self.coarse.get(key).and_then(CoarseSeries::latest),
        }
    }

    /// Changes whenever the series does (push, gap, prune, a change of resolution); 0 for an
    /// unknown series.
    pub fn version(&self, key: &SeriesKey) -> u64 {
        match self.full.get(key) {
            Some(series) => series.version,
            None => self.coarse.get(key).map_or(0, |series| series.version),
        }
    }

    pub fn contains(&self, key: &SeriesKey) -> bool {
        self.full.contains_key(key) || self.coarse.contains_key(key)
    }

    /// At which resolution the series is kept, if it is.
    pub fn resolution(&self, key: &SeriesKey) -> Option<Resolution> {
        if self.full.contains_key(key) {
            Some(Resolution::Full)
        } else if self.coarse.contains_key(key) {
            Some(Resolution::Coarse)
        } else {
            None
        }
    }

    pub fn series_count(&self) -> usize {
        self.full.len() + self.coarse.len()
    }

    /// Every key once, whatever its resolution, in no particular order.
    pub fn keys(&self) -> impl Iterator<Item = &SeriesKey> {
        self.full.keys().chain(self.coarse.keys())
    }

    /// Samples dropped because they were older than their series' newest entry.
    pub fn dropped_out_of_order(&self) -> u64 {
        self.dropped_out_of_order
    }

    /// Series not recorded at any resolution now, because the coarse budget was spent on
    /// live series (each counted once, however many samples it sent).
    pub fn refused_series(&self) -> u64 {
        self.refusals.count() as u64
    }

    /// Idle coarse series dropped to make room within the coarse budget.
    pub fn evicted_series(&self) -> u64 {
        self.evicted_series
    }

    /// Full series moved to the coarse tier (idle for a while, or no longer watched).
    pub fn demoted_series(&self) -> u64 {
        self.demoted_series
    }

    /// Bytes held by the store: its own struct, every buffer's capacity (which grows with what
    /// a series holds and stops at its bound), key strings, and the maps' nodes. Walks every
    /// full series: for a frame, use [`Self::summary`] (as of the last prune).
    pub fn memory_bytes(&self) -> usize {
        let entry = size_of::<SeriesKey>() + size_of::<Series>();
        // The hash table's buckets (capacity is 7/8 of them), each an entry slot plus a control
        // byte, allocated whether filled or not.
        let map = self.full.capacity() * 8 / 7 * (entry + 1);
        let heap: usize = self
            .full
            .iter()
            .map(|(key, series)| key.heap_bytes() + series.heap_bytes())
            .sum();
        size_of::<Self>() + map + heap + self.coarse_bytes + self.refusals.heap_bytes()
    }

    /// At most two points per pixel column over `range` (x in seconds), from the finest
    /// buffer that still holds all of it. `tier_bucket_ms` says which one was used.
    pub fn downsample(&self, key: &SeriesKey, range: Range<TimeMs>, columns: usize) -> Downsampled {
        if columns == 0 || range.start >= range.end {
            return Downsampled::default();
        }
        if let Some(series) = self.full.get(key) {
            series.downsample(range, columns, self.config.gap_after_ms)
        } else if let Some(series) = self.coarse.get(key) {
            series.downsample(self.config.coarse, range, columns)
        } else {
            Downsampled::default()
        }
    }

    #[cfg(test)]
    pub(crate) fn series(&self, key: &SeriesKey) -> Option<&Series> {
        self.full.get(key)
    }
}
