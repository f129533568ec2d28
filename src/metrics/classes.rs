//! Which series are kept at which resolution, and moving them between the two classes.
//!
//! The rule, in words (the status bar says the same): while a fleet reports at most
//! `bulk_full_max` workload series, all of them are full. Past that, the workloads the
//! operator pinned, selected or sees plotted stay full (raw 1 s plus the tiers); every other
//! workload series is coarse (one min/max point per minute for 3 h by default). A workload
//! that becomes watched is promoted, its coarse history kept as the older part of its plot;
//! one that stops being watched is demoted, its data down-sampled into the coarse ring.

use std::collections::BTreeSet;

use super::coarse::{CoarsePoint, CoarseSeries};
use super::series::Series;
use super::store::MetricStore;
use super::{SeriesKey, TimeMs};

/// At which resolution a series is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Raw samples for the recent window, then the configured tiers.
    Full,
    /// One min/max point per [`StoreConfig::coarse`](super::StoreConfig::coarse) bucket.
    Coarse,
}

/// Series named as not recorded at most: enough to say which, bounded like everything else.
const MAX_NAMED: usize = 10_000;

/// Series the store could not take at any resolution (the coarse budget spent on live
/// series), each named once; a series that gets in later leaves the list.
#[derive(Debug, Default)]
pub(crate) struct Refusals {
    keys: BTreeSet<SeriesKey>,
    /// More were refused than `MAX_NAMED`.
    more: bool,
}

impl Refusals {
    pub(crate) fn refuse(&mut self, key: &SeriesKey) {
        if self.keys.contains(key) {
            return;
        }
        if self.keys.len() < MAX_NAMED {
            self.keys.insert(key.clone());
        } else {
            self.more = true;
        }
    }

    fn admit(&mut self, key: &SeriesKey) {
        if !self.keys.is_empty() {
            self.keys.remove(key);
        }
    }

    pub(crate) fn count(&self) -> usize {
        self.keys.len()
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.keys
            .iter()
            .map(|k| 2 * size_of::<SeriesKey>() + k.heap_bytes())
            .sum()
    }
}

/// What the store keeps at which resolution, for the status bar and the about text. Cheap:
/// counts kept as series move (the watched count once per change), memory as of the last prune.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreSummary {
    pub full: usize,
    /// Full series of the workloads the operator pinned, selected or sees plotted.
    pub full_watched: usize,
    pub coarse: usize,
    /// Past `bulk_full_max` workload series: unwatched workloads are coarse.
    pub coarse_mode: bool,
    /// Series not recorded at any resolution now.
    pub not_recorded: usize,
    /// More were refused than could be named.
    pub not_recorded_more: bool,
    /// A few of them, "target metric".
    pub not_recorded_examples: Vec<String>,
    pub coarse_bytes: usize,
    pub coarse_budget_bytes: usize,
    /// Bytes a coarse series costs besides its key's strings.
    pub coarse_series_bytes: usize,
    pub memory_bytes: usize,
}

/// Map entry and ring of a coarse series, at its bound (the ring is allocated at it). Two entry
/// slots: a hash table is between 7/16 and 7/8 full.
pub(crate) fn coarse_fixed_cost(capacity: usize) -> usize {
    2 * (size_of::<SeriesKey>() + size_of::<CoarseSeries>())
        + size_of::<usize>()
        + capacity * size_of::<CoarsePoint>()
}

pub(crate) fn coarse_cost(key: &SeriesKey, series: &CoarseSeries) -> usize {
    2 * (size_of::<SeriesKey>() + size_of::<CoarseSeries>())
        + size_of::<usize>()
        + series.heap_bytes()
        + key.heap_bytes()
}

impl MetricStore {
    /// The targets (workloads) the operator pinned, selected or sees plotted: their series are
    /// full from now on (promoted if coarse); targets no longer in the set are demoted once
    /// the fleet is large. Cheap when nothing changed (a set comparison of a dozen names).
    pub fn set_watched(&mut self, targets: BTreeSet<String>) {
        if targets == self.watched {
            return;
        }
        let added: Vec<String> = targets.difference(&self.watched).cloned().collect();
        let removed: Vec<String> = self.watched.difference(&targets).cloned().collect();
        self.watched = targets;
        // The summary's count of watched full series is keyed by the clock.
        self.clock += 1;
        for target in added {
            for key in keys_of(&self.coarse, &target, |_| true) {
                self.promote(&key);
            }
        }
        if self.coarse_mode {
            for target in removed {
                for key in keys_of(&self.full, &target, |s| s.bulk) {
                    self.demote(&key, TimeMs::MIN);
                }
            }
        }
    }

    pub fn watched(&self) -> &BTreeSet<String> {
        &self.watched
    }

    pub fn summary(&self) -> StoreSummary {
        let full_watched = match self.full_watched_at.get() {
            Some((clock, count)) if clock == self.clock => count,
            _ => {
                let count = self
                    .full
                    .keys()
                    .filter(|k| self.watched.contains(&k.target))
                    .count();
                self.full_watched_at.set(Some((self.clock, count)));
                count
            }
        };
        StoreSummary {
            full: self.full.len(),
            full_watched,
            coarse: self.coarse.len(),
            coarse_mode: self.coarse_mode,
            not_recorded: self.refusals.count(),
            not_recorded_more: self.refusals.more,
            not_recorded_examples: self
                .refusals
                .keys
                .iter()
                .take(3)
                .map(|k| format!("{} {}", k.target, k.metric))
                .collect(),
            coarse_bytes: self.coarse_bytes,
            coarse_budget_bytes: self.config.coarse_budget_bytes,
            coarse_series_bytes: coarse_fixed_cost(self.config.coarse.capacity()),
            memory_bytes: self.memory_at_prune,
        }
    }

    /// Places a new series; `None` when neither class has room.
    pub(super) fn insert(&mut self, key: &SeriesKey, t: TimeMs, bulk: bool) -> Option<Resolution> {
        if bulk && !self.coarse_mode && self.full_bulk >= self.config.bulk_full_max {
            self.enter_coarse_mode();
        }
        let want_full = !bulk || !self.coarse_mode || self.watched.contains(&key.target);
        let placed = if want_full && self.full_room(t, false) {
            let mut series = Series::new(&self.config);
            series.bulk = bulk;
            self.full_bulk += usize::from(bulk);
            self.full.insert(key.clone(), series);
            Some(Resolution::Full)
        } else if self.coarse_room(key, t) {
            self.coarse_bytes +=
                coarse_fixed_cost(self.config.coarse.capacity()) + key.heap_bytes();
            self.coarse
                .insert(key.clone(), CoarseSeries::new(self.config.coarse));
            Some(Resolution::Coarse)
        } else {
            None
        };
        if placed.is_some() {
            self.refusals.admit(key);
        }
        placed
    }

    /// For `push_pinned`: the series is full after this, whatever it costs others.
    pub(super) fn make_full(&mut self, key: &SeriesKey, t: TimeMs) {
        if self.coarse.contains_key(key) {
            self.promote(key);
        } else if self.full_room(t, true) {
            self.full.insert(key.clone(), Series::new(&self.config));
            self.refusals.admit(key);
        }
    }

    /// A poll is about to push `n` bulk series. Past `bulk_full_max` the store goes coarse
    /// before the first of them: otherwise the first 1,000 of a 10,000-workload fleet are made
    /// full (each with its rings for a day) only to be moved to the coarse tier, some 15 ms of
    /// the window's frames.
    /// In coarse mode the coarse map makes room for them at once (at most what the budget
    /// holds): grown by doubling, a map of 30,000 series was rehashed whole inside one batch
    /// of the intake (3 ms), where room made while it is nearly empty costs an allocation.
    pub fn expect_bulk_series(&mut self, n: usize) {
        if n > self.config.bulk_full_max && !self.coarse_mode {
            self.enter_coarse_mode();
        }
        if self.coarse_mode {
            let fits = self.config.coarse_budget_bytes
                / coarse_fixed_cost(self.config.coarse.capacity()).max(1);
            let room = n.min(fits).saturating_sub(self.coarse.len());
            self.coarse.reserve(room);
        }
    }

    /// Past `bulk_full_max` workload series: every unwatched one moves to the coarse tier,
    /// once. They are listed here and moved one per bulk push after (see
    /// [`Self::demote_pending`]): the 1,000 demotions at once took 3–4 ms inside one of the
    /// window's frames, past the intake's budget, which is checked between samples.
    fn enter_coarse_mode(&mut self) {
        self.coarse_mode = true;
        self.to_demote = self
            .full
            .iter()
            .filter(|(k, s)| s.bulk && !self.watched.contains(&k.target))
            .map(|(k, _)| k.clone())
            .collect();
    }

    /// One of the series coarse mode moves to the coarse tier, if it is still full, bulk and
    /// unwatched (it may have been selected meanwhile).
    pub(super) fn demote_pending(&mut self) {
        let Some(key) = self.to_demote.pop() else {
            return;
        };
        let still =
            self.full.get(&key).is_some_and(|s| s.bulk) && !self.watched.contains(&key.target);
        if still {
            self.demote(&key, TimeMs::MIN);
        }
    }

    /// Room for one more full series: when the class is full, the stalest unwatched full
    /// series moves to the coarse tier if it has been idle long enough (or `force`).
    fn full_room(&mut self, t: TimeMs, force: bool) -> bool {
        if self.full.len() < self.config.max_full_series {
            return true;
        }
        if !force && t < self.full_busy_until {
            return false;
        }
        let stalest = self
            .full
            .iter()
            .filter(|(k, _)| !self.watched.contains(&k.target))
            .min_by_key(|(_, s)| s.last_t())
            .map(|(k, s)| (k.clone(), s.last_t()));
        let Some((key, last_t)) = stalest else {
            return false;
        };
        let idle_ms = self.config.evict_idle_ms;
        if !force && last_t > t.saturating_sub(idle_ms) {
            self.full_busy_until = last_t.saturating_add(idle_ms);
            return false;
        }
        self.demote(&key, t);
        true
    }

    /// Room in the coarse budget for `key`: idle coarse series are dropped to make it.
    fn coarse_room(&mut self, key: &SeriesKey, t: TimeMs) -> bool {
        let cost = coarse_fixed_cost(self.config.coarse.capacity()) + key.heap_bytes();
        let budget = self.config.coarse_budget_bytes;
        while self.coarse_bytes + cost > budget {
            if t < self.coarse_busy_until {
                return false;
            }
            let stalest = self
                .coarse
                .iter()
                .min_by_key(|(_, s)| s.last_t())
                .map(|(k, s)| (k.clone(), s.last_t()));
            let Some((stalest, last_t)) = stalest else {
                return false;
            };
            let idle_ms = self.config.evict_idle_ms;
            if last_t > t.saturating_sub(idle_ms) {
                self.coarse_busy_until = last_t.saturating_add(idle_ms);
                return false;
            }
            if let Some(series) = self.coarse.remove(&stalest) {
                self.coarse_bytes -= coarse_cost(&stalest, &series);
                self.evicted_series += 1;
            }
        }
        true
    }

    /// Moves a full series to the coarse tier, its data down-sampled. If even the coarse
    /// budget has no room, it is refused: counted and named like any other.
    fn demote(&mut self, key: &SeriesKey, t: TimeMs) {
        let Some(series) = self.full.remove(key) else {
            return;
        };
        self.full_bulk -= usize::from(series.bulk);
        self.demoted_series += 1;
        self.full_busy_until = TimeMs::MIN;
        if !self.coarse_room(key, t.max(series.last_t())) {
            self.refusals.refuse(key);
            return;
        }
        self.clock += 1;
        let mut coarse = series.demoted(&self.config);
        coarse.version = self.clock;
        self.coarse_bytes += coarse_cost(key, &coarse);
        self.coarse.insert(key.clone(), coarse);
    }

    /// Moves a coarse series to full resolution, its coarse history kept as the older part
    /// of its plot. Makes room by demoting the stalest unwatched full series if it must.
    fn promote(&mut self, key: &SeriesKey) {
        let Some(coarse) = self.coarse.get(key) else {
            return;
        };
        if !self.full_room(coarse.last_t(), true) {
            return;
        }
        let Some(coarse) = self.coarse.remove(key) else {
            return;
        };
        self.coarse_bytes -= coarse_cost(key, &coarse);
        self.coarse_busy_until = TimeMs::MIN;
        self.clock += 1;
        let mut series = Series::promoted(&self.config, &coarse);
        series.version = self.clock;
        series.bulk = true;
        self.full_bulk += 1;
        self.full.insert(key.clone(), series);
    }
}

/// Keys of `target`'s series in `map` that `which` accepts: a walk of the map, done only when
/// the watched set changes (40,000 coarse series: well under a millisecond).
fn keys_of<S>(
    map: &super::store::SeriesMap<S>,
    target: &str,
    which: impl Fn(&S) -> bool,
) -> Vec<SeriesKey> {
    map.iter()
        .filter(|(k, s)| k.target == target && which(s))
        .map(|(k, _)| k.clone())
        .collect()
}
