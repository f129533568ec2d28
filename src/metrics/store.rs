use std::collections::BTreeMap;
use std::ops::Range;

use super::downsample::Downsampled;
use super::series::Series;
use super::{SeriesKey, StoreConfig, TimeMs};

/// Every series of the console, bounded in count and in size per series.
///
/// Owned by the UI thread; all methods are cheap enough to call from a frame: `push` is O(1)
/// plus a map lookup, and `downsample` only walks the visible part of one buffer.
#[derive(Debug)]
pub struct MetricStore {
    config: StoreConfig,
    series: BTreeMap<SeriesKey, Series>,
    /// Store-wide modification counter: a series' version is the clock at its last change, so
    /// a series that is dropped and re-created never repeats a version a plot cache has seen.
    clock: u64,
    dropped_out_of_order: u64,
    evicted_series: u64,
    refused_series: u64,
    /// While full: before this sample time no series can be idle enough to evict, so a new
    /// series is refused without scanning the map (O(1) per refused sample).
    refuse_until: TimeMs,
}

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
        // Downsampling relies on finest-first order to pick the finest covering tier.
        config.tiers.sort_by_key(|tier| tier.bucket_ms);
        config.max_series = config.max_series.max(1);
        Self {
            config,
            series: BTreeMap::new(),
            clock: 0,
            dropped_out_of_order: 0,
            evicted_series: 0,
            refused_series: 0,
            refuse_until: TimeMs::MIN,
        }
    }

    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Records a sample. A non-finite value is recorded as a gap; a sample older than the
    /// series' newest entry is dropped and counted in [`Self::dropped_out_of_order`].
    pub fn push(&mut self, key: &SeriesKey, t: TimeMs, value: f64) {
        if !value.is_finite() {
            self.push_gap(key, t);
            return;
        }
        self.clock += 1;
        let clock = self.clock;
        let pushed = if let Some(series) = self.series.get_mut(key) {
            series.push(t, value, clock)
        } else if let Some(series) = self.insert(key, t, false) {
            series.push(t, value, clock)
        } else {
            self.refused_series += 1;
            return;
        };
        if !pushed {
            self.dropped_out_of_order += 1;
        }
    }

    /// Records a missed poll: the plot breaks here instead of drawing a zero. A series that
    /// does not exist yet is not created for it.
    pub fn push_gap(&mut self, key: &SeriesKey, t: TimeMs) {
        self.clock += 1;
        let clock = self.clock;
        if let Some(series) = self.series.get_mut(key)
            && !series.push_gap(t, clock)
        {
            self.dropped_out_of_order += 1;
        }
    }

    /// Records a gap in every series of `target`, for a poll that failed as a whole.
    pub fn push_gap_for_target(&mut self, target: &str, t: TimeMs) {
        self.clock += 1;
        let clock = self.clock;
        let from = SeriesKey::new(target, "");
        for (_, series) in self
            .series
            .range_mut(from..)
            .take_while(|(key, _)| key.target == target)
        {
            if !series.push_gap(t, clock) {
                self.dropped_out_of_order += 1;
            }
        }
    }

    /// Drops data older than each buffer's window (and than `max_age_ms`) as of `now`, and
    /// forgets series whose last real sample is older than `max_age_ms`.
    pub fn prune(&mut self, now: TimeMs) {
        self.clock += 1;
        let clock = self.clock;
        let max_age_ms = self.config.max_age_ms;
        let oldest = now.saturating_sub(max_age_ms);
        self.series
            .retain(|_, series| series.latest().is_some_and(|(t, _)| t >= oldest));
        for series in self.series.values_mut() {
            if series.prune(now, max_age_ms) {
                series.version = clock;
            }
        }
    }

    /// The newest real sample; gaps after it do not hide it.
    pub fn latest(&self, key: &SeriesKey) -> Option<(TimeMs, f64)> {
        self.series.get(key).and_then(Series::latest)
    }

    /// Changes whenever the series does (push, gap or prune); 0 for an unknown series.
    pub fn version(&self, key: &SeriesKey) -> u64 {
        self.series.get(key).map_or(0, |series| series.version)
    }

    pub fn contains(&self, key: &SeriesKey) -> bool {
        self.series.contains_key(key)
    }

    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// Keys in order: by target, then metric.
    pub fn keys(&self) -> impl Iterator<Item = &SeriesKey> {
        self.series.keys()
    }

    /// Samples dropped because they were older than their series' newest entry.
    pub fn dropped_out_of_order(&self) -> u64 {
        self.dropped_out_of_order
    }

    /// Like [`Self::push`], for a series the operator is looking at (the selected workload):
    /// when the store is full it evicts the stalest series even if that one is still live.
    pub fn push_pinned(&mut self, key: &SeriesKey, t: TimeMs, value: f64) {
        if !self.series.contains_key(key) && value.is_finite() {
            self.insert(key, t, true);
        }
        self.push(key, t, value);
    }

    /// New series refused because the store was full of live ones.
    pub fn refused_series(&self) -> u64 {
        self.refused_series
    }

    /// Series evicted to stay within [`StoreConfig::max_series`].
    pub fn evicted_series(&self) -> u64 {
        self.evicted_series
    }

    /// Bytes held by the store: its own struct, every buffer's capacity (which grows with what
    /// a series holds and stops at its bound), key strings, and the map's nodes.
    pub fn memory_bytes(&self) -> usize {
        // BTreeMap nodes hold up to 11 entries and end up about half full when keys arrive in
        // order, so count two entry slots per entry, plus the edge pointers of internal nodes.
        let entry = size_of::<SeriesKey>() + size_of::<Series>();
        let map = self.series.len() * (2 * entry + size_of::<usize>());
        let heap: usize = self
            .series
            .iter()
            .map(|(key, series)| key.heap_bytes() + series.heap_bytes())
            .sum();
        size_of::<Self>() + map + heap
    }

    /// At most two points per pixel column over `range` (x in seconds), from the finest
    /// buffer that still holds all of it. `tier_bucket_ms` says which one was used.
    pub fn downsample(&self, key: &SeriesKey, range: Range<TimeMs>, columns: usize) -> Downsampled {
        match self.series.get(key) {
            Some(series) if columns > 0 && range.start < range.end => {
                series.downsample(range, columns, self.config.gap_after_ms)
            }
            _ => Downsampled::default(),
        }
    }

    #[cfg(test)]
    pub(crate) fn series(&self, key: &SeriesKey) -> Option<&Series> {
        self.series.get(key)
    }

    /// Creates a series, evicting the stalest one if the store is full. The O(n) scan only
    /// runs when a new series arrives at the limit, which is rare by design.
    /// A new series, if there is room: when full, the stalest series goes if it has been idle
    /// for [`StoreConfig::evict_idle_ms`] (or `force`), else `None`.
    fn insert(&mut self, key: &SeriesKey, t: TimeMs, force: bool) -> Option<&mut Series> {
        if self.series.len() >= self.config.max_series {
            if !force && t < self.refuse_until {
                return None;
            }
            let (stalest, last_t) = self
                .series
                .iter()
                .min_by_key(|(_, series)| series.last_t())
                .map(|(key, series)| (key.clone(), series.last_t()))?;
            let idle_enough = last_t <= t.saturating_sub(self.config.evict_idle_ms);
            if !force && !idle_enough {
                self.refuse_until = last_t.saturating_add(self.config.evict_idle_ms);
                return None;
            }
            self.series.remove(&stalest);
            self.evicted_series += 1;
        }
        Some(
            self.series
                .entry(key.clone())
                .or_insert_with(|| Series::new(&self.config)),
        )
    }
}
