//! The scaling advisor: the guides' triggers as live rules over the metric series, alerts with
//! states and history, and proposals with their monthly cost.
//!
//! No egui and no I/O here. [`Advisor::observe`] is fed every sample as it arrives (the window
//! does it on event intake, `scaleboard advise` from its own polls), costs a hash lookup and an
//! O(1) window update per matching rule, and returns whether any alert changed; nothing is
//! evaluated per frame. Proposals ([`recommend`]) are worked out only when an alert changes.

pub mod alerts;
pub mod defaults;
pub mod eval;
pub mod fit_advice;
pub mod lb_drift;
pub mod recommend;
pub mod rules;

#[cfg(test)]
mod tests;

pub use alerts::{Alert, AlertBook, AlertIndex, AlertState, Transition};
pub use defaults::default_rules;
pub use eval::{Verdict, Window};
pub use rules::{
    AdvisorSettings, Aggregation, Comparison, ProposalKind, Rule, RuleConfig, Selector, Severity,
};

use crate::model::endpoint::Area;
use crate::model::snapshot::TimeMs;
use std::collections::HashMap;

/// Windows kept at most (rule × series); past this the longest-idle windows are evicted, and a
/// new series is refused (counted) only when none is idle.
pub const MAX_WINDOWS: usize = 50_000;
/// A series silent for its rule's duration plus this is gone (a deleted queue or pool, a
/// stale context): its window and alerts are dropped.
pub const EXPIRE_MARGIN_MS: i64 = 5 * 60 * 1000;
/// Silent series are looked for at most this often (on intake, never per frame).
const SWEEP_EVERY_MS: i64 = 2_000;
/// At capacity, idle windows are evicted at most this often, this many at a time.
const EVICT_EVERY_MS: i64 = 1_000;
const EVICT_BATCH: usize = MAX_WINDOWS / 32;

/// One rule's window on one series.
#[derive(Debug)]
struct Watched {
    rule: usize,
    window: Window,
    /// Time of its newest sample (kept across gaps, for silence and eviction).
    last_seen: TimeMs,
    /// Marked silent already (until its next sample).
    silent: bool,
}

/// The rules of the connected profile and their windows over every matching series.
#[derive(Debug, Default)]
pub struct Advisor {
    rules: Vec<Rule>,
    /// Metric name -> indexes of the enabled rules that watch it.
    by_metric: HashMap<String, Vec<usize>>,
    /// Endpoint id (a target's first segment) -> its area.
    areas: HashMap<String, Area>,
    /// Target -> the windows of the rules that watch one of its metrics.
    windows: HashMap<String, Vec<Watched>>,
    window_count: usize,
    refused_windows: u64,
    evicted_windows: u64,
    /// Newest sample time seen: the advisor's clock for silence, expiry and eviction.
    now: TimeMs,
    last_sweep: TimeMs,
    last_evict: Option<TimeMs>,
    pub book: AlertBook,
}

impl Advisor {
    pub fn new(rules: Vec<Rule>) -> Self {
        let mut a = Self::default();
        a.set_rules(rules);
        a
    }

    /// Replaces the rules: windows and alerts of changed rules start over; unchanged rules keep
    /// their windows and alerts (a firing alert must not resolve because another rule changed).
    pub fn set_rules(&mut self, rules: Vec<Rule>) {
        if rules == self.rules {
            return;
        }
        // Old rule index -> new index, for the rules that did not change.
        let kept: Vec<Option<usize>> = self
            .rules
            .iter()
            .map(|old| rules.iter().position(|r| r == old).filter(|_| old.enabled))
            .collect();
        self.by_metric.clear();
        for (i, r) in rules.iter().enumerate() {
            if r.enabled {
                self.by_metric
                    .entry(r.selector.metric.clone())
                    .or_default()
                    .push(i);
            }
        }
        self.rules = rules;
        for list in self.windows.values_mut() {
            list.retain_mut(|w| match kept.get(w.rule).copied().flatten() {
                Some(new) => {
                    w.rule = new;
                    true
                }
                None => false,
            });
        }
        self.windows.retain(|_, list| !list.is_empty());
        self.window_count = self.windows.values().map(Vec::len).sum();
        let ids: Vec<&str> = kept
            .iter()
            .flatten()
            .map(|&i| self.rules[i].id.as_str())
            .collect();
        self.book.retain_rules(&ids);
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// The connected endpoints (their areas scope the rules); forgets every window and alert of
    /// endpoints that went away.
    pub fn set_endpoints(&mut self, endpoints: impl IntoIterator<Item = (String, Area)>) {
        self.areas = endpoints.into_iter().collect();
        let areas = &self.areas;
        self.windows
            .retain(|target, _| areas.contains_key(endpoint_of(target)));
        self.window_count = self.windows.values().map(Vec::len).sum();
        self.book
            .retain_targets(|target| areas.contains_key(endpoint_of(target)));
    }

    /// Whether every watched series has samples over `span_ms`, or over its rule's whole
    /// duration when that is shorter: sampling longer would add nothing to judge. True at once
    /// for series that came with their history (the demo, Prometheus range queries).
    pub fn covers(&self, span_ms: i64) -> bool {
        self.windows.values().flatten().all(|w| {
            let duration = self.rules.get(w.rule).map_or(0, |r| r.duration_secs);
            let need = i64::try_from(duration.saturating_mul(1000))
                .unwrap_or(i64::MAX)
                .min(span_ms);
            w.window.covered_ms() >= need
        })
    }

    pub fn window_count(&self) -> usize {
        self.window_count
    }

    pub fn refused_windows(&self) -> u64 {
        self.refused_windows
    }

    /// Windows dropped to make room for new series (the longest idle first).
    pub fn evicted_windows(&self) -> u64 {
        self.evicted_windows
    }

    /// One sample of one series; returns whether an alert changed state.
    pub fn observe(&mut self, target: &str, metric: &str, t: TimeMs, value: f64) -> bool {
        let mut changed = false;
        if t > self.now {
            self.now = t;
            if t - self.last_sweep >= SWEEP_EVERY_MS {
                self.last_sweep = t;
                changed |= self.sweep(t);
            }
        }
        if !self.by_metric.contains_key(metric) {
            return changed;
        }
        if self.window_count >= MAX_WINDOWS
            && !self.windows.contains_key(target)
            && self
                .last_evict
                .is_none_or(|e| self.now - e >= EVICT_EVERY_MS)
        {
            self.last_evict = Some(self.now);
            changed |= self.evict_idle(self.now);
        }
        changed | self.observe_rules(target, metric, t, value)
    }

    fn observe_rules(&mut self, target: &str, metric: &str, t: TimeMs, value: f64) -> bool {
        let Some(rule_ids) = self.by_metric.get(metric) else {
            return false;
        };
        let area = self.areas.get(endpoint_of(target)).copied();
        let mut changed = false;
        for &ri in rule_ids {
            let rule = &self.rules[ri];
            if rule.selector.area.is_some_and(|a| Some(a) != area)
                || !rule.selector.matches_target(target)
            {
                continue;
            }
            let list = match self.windows.get_mut(target) {
                Some(list) => list,
                None => {
                    if self.window_count >= MAX_WINDOWS {
                        self.refused_windows += 1;
                        continue;
                    }
                    self.windows.entry(target.to_string()).or_default()
                }
            };
            let watched = match list.iter().position(|w| w.rule == ri) {
                Some(i) => &mut list[i],
                None => {
                    if self.window_count >= MAX_WINDOWS {
                        self.refused_windows += 1;
                        continue;
                    }
                    self.window_count += 1;
                    list.push(Watched {
                        rule: ri,
                        window: Window::new(rule.duration_ms()),
                        last_seen: t,
                        silent: false,
                    });
                    list.last_mut().expect("just pushed")
                }
            };
            if !watched.window.push(t, value) {
                continue;
            }
            watched.last_seen = watched.last_seen.max(t);
            watched.silent = false;
            let verdict = watched
                .window
                .judge(rule.aggregation, rule.comparison, rule.threshold);
            changed |= transition(
                &mut self.book,
                rule,
                target,
                &verdict,
                watched.window.run_since(),
                t,
            );
        }
        changed
    }

    /// A missed poll of a whole endpoint: every window under it starts over (never judged
    /// across the gap); firing alerts stay, marked as having no data.
    pub fn gap(&mut self, endpoint: &str, t: TimeMs) -> bool {
        let prefix = format!("{endpoint}/");
        let mut changed = false;
        for (target, list) in &mut self.windows {
            // An endpoint's own totals are targeted by its bare id.
            if !target.starts_with(&prefix) && target != endpoint {
                continue;
            }
            for w in list.iter_mut() {
                w.window.gap(t);
                let rule = &self.rules[w.rule];
                let verdict = w
                    .window
                    .judge(rule.aggregation, rule.comparison, rule.threshold);
                changed |= transition(
                    &mut self.book,
                    rule,
                    target,
                    &verdict,
                    w.window.run_since(),
                    t,
                );
            }
        }
        changed
    }

    /// Series that stopped while their endpoint still answers (a stale Kubernetes context, a
    /// deleted queue or pool): past a gap they are judged like after a missed poll (a firing
    /// alert stays, with "no data since …", never as if its old value were current); past the
    /// rule's duration plus [`EXPIRE_MARGIN_MS`] the window and its alert are dropped.
    fn sweep(&mut self, now: TimeMs) -> bool {
        let mut changed = false;
        let rules = &self.rules;
        let book = &mut self.book;
        let mut dropped = 0;
        for (target, list) in &mut self.windows {
            list.retain_mut(|w| {
                let rule = &rules[w.rule];
                let idle = now - w.last_seen;
                if idle > rule.duration_ms() + EXPIRE_MARGIN_MS {
                    changed |= book.expire(&rule.id, target, now);
                    dropped += 1;
                    return false;
                }
                if !w.silent && idle > w.window.gap_after_ms() {
                    w.silent = true;
                    w.window
                        .silent(format!("no data since {}", clock(w.last_seen)));
                    let verdict = w
                        .window
                        .judge(rule.aggregation, rule.comparison, rule.threshold);
                    changed |= transition(book, rule, target, &verdict, None, now);
                }
                true
            });
        }
        if dropped > 0 {
            self.windows.retain(|_, list| !list.is_empty());
            self.window_count -= dropped;
        }
        changed
    }

    /// At capacity: drops the windows idle the longest (at least a gap's worth; never a series
    /// that is still sampled), with their alerts, so new series are watched.
    fn evict_idle(&mut self, now: TimeMs) -> bool {
        let mut idle: Vec<(TimeMs, String, usize)> = self
            .windows
            .iter()
            .flat_map(|(target, list)| {
                list.iter()
                    .filter(|w| now - w.last_seen > eval::MIN_GAP_MS)
                    .map(move |w| (w.last_seen, target.clone(), w.rule))
            })
            .collect();
        if idle.is_empty() {
            return false;
        }
        idle.sort_unstable_by_key(|(seen, _, _)| *seen);
        let mut changed = false;
        for (_, target, ri) in idle.into_iter().take(EVICT_BATCH) {
            if let Some(list) = self.windows.get_mut(&target) {
                list.retain(|w| w.rule != ri);
                if list.is_empty() {
                    self.windows.remove(&target);
                }
            }
            self.window_count -= 1;
            self.evicted_windows += 1;
            changed |= self.book.expire(&self.rules[ri].id, &target, now);
        }
        changed
    }

    /// What each enabled rule can say about the series it watches: for `scaleboard advise`,
    /// the rules that matched no series or only series without enough data.
    pub fn unjudged(&self) -> Vec<(&Rule, String)> {
        let mut out = Vec::new();
        for (ri, rule) in self.rules.iter().enumerate().filter(|(_, r)| r.enabled) {
            let mut seen = 0;
            let mut judged = 0;
            let mut why = None;
            for list in self.windows.values() {
                for w in list.iter().filter(|w| w.rule == ri) {
                    seen += 1;
                    match w
                        .window
                        .judge(rule.aggregation, rule.comparison, rule.threshold)
                    {
                        Verdict::NotEnoughData(reason) => why = Some(reason),
                        Verdict::Partial { .. } => {
                            why = Some(format!(
                                "the samples cover {} s of its {}",
                                w.window.covered_ms() / 1000,
                                rules::duration_words(rule.duration_secs)
                            ));
                        }
                        Verdict::Full { .. } => judged += 1,
                    }
                }
            }
            if seen == 0 {
                out.push((
                    rule,
                    format!("no series of {} was seen", rule.selector.metric),
                ));
            } else if judged == 0 {
                out.push((rule, why.unwrap_or_else(|| "not enough data".into())));
            }
        }
        out
    }
}

/// The endpoint id of a series target (its first segment).
pub fn endpoint_of(target: &str) -> &str {
    target.split_once('/').map_or(target, |(e, _)| e)
}

/// A sample time as a wall-clock time of day (UTC), for notes.
pub fn clock(t: TimeMs) -> String {
    chrono::DateTime::from_timestamp_millis(t)
        .map(|d| d.format("%H:%M:%S UTC").to_string())
        .unwrap_or_else(|| format!("{t} ms"))
}

/// Moves one alert along pending → firing → resolved from a fresh verdict; true if it changed
/// state (value updates alone do not count).
fn transition(
    book: &mut AlertBook,
    rule: &Rule,
    target: &str,
    verdict: &Verdict,
    run_since: Option<TimeMs>,
    t: TimeMs,
) -> bool {
    let state = book.get(&rule.id, target).map(|a| a.state);
    match (state, verdict) {
        (
            None,
            Verdict::Partial {
                value,
                breached: true,
            }
            | Verdict::Full {
                value,
                breached: true,
            },
        ) => {
            let full = matches!(verdict, Verdict::Full { .. });
            let mut alert = Alert {
                rule_id: rule.id.clone(),
                title: rule.title.clone(),
                severity: rule.severity,
                target: target.to_string(),
                metric: rule.selector.metric.clone(),
                state: AlertState::Pending,
                started: t,
                since: t,
                value: *value,
                threshold: rule.threshold,
                comparison: rule.comparison,
                condition: rule.condition(),
                note: None,
                advice: rule.advice.clone(),
            };
            if full {
                // Breached over the whole duration already (e.g. history handed over at start).
                alert.state = AlertState::Firing;
            }
            book.insert(alert);
            true
        }
        (None, _) => false,
        (
            Some(AlertState::Pending),
            Verdict::Full {
                value,
                breached: true,
            },
        ) => {
            let alert = book.active_mut(&rule.id, target).expect("present");
            alert.state = AlertState::Firing;
            alert.since = t;
            alert.value = *value;
            alert.note = None;
            let a = alert.clone();
            book.record(&a, AlertState::Firing, t);
            true
        }
        (
            Some(AlertState::Pending),
            Verdict::Partial {
                value,
                breached: true,
            },
        ) => {
            if let Some(a) = book.active_mut(&rule.id, target) {
                a.value = *value;
            }
            false
        }
        // Not breached any more, or a gap: pending starts over.
        (Some(AlertState::Pending), _) => {
            book.remove(&rule.id, target);
            true
        }
        (Some(AlertState::Firing), Verdict::NotEnoughData(why)) => {
            let alert = book.active_mut(&rule.id, target).expect("present");
            let changed = alert.note.is_none();
            alert.note = Some(format!("not enough data: {why}"));
            if changed {
                book.touch();
            }
            changed
        }
        // Judged on less than the duration (after a gap, a restart or a rule edit): too little
        // to clear an alert that was judged over the whole duration, so it keeps firing.
        (Some(AlertState::Firing), Verdict::Partial { value, .. }) => {
            let since = run_since.unwrap_or(t);
            let alert = book.active_mut(&rule.id, target).expect("present");
            alert.value = *value;
            let note = format!("partial data since {}", clock(since));
            let changed = alert.note.as_deref() != Some(note.as_str());
            alert.note = Some(note);
            if changed {
                book.touch();
            }
            false
        }
        (Some(AlertState::Firing), Verdict::Full { value, .. }) => {
            if rule
                .comparison
                .cleared(*value, rule.threshold, rule.hysteresis_margin())
            {
                if let Some(mut a) = book.remove(&rule.id, target) {
                    a.value = *value;
                    a.state = AlertState::Resolved;
                    a.since = t;
                    book.record(&a, AlertState::Resolved, t);
                }
                true
            } else {
                let alert = book.active_mut(&rule.id, target).expect("present");
                alert.value = *value;
                let had_note = alert.note.take().is_some();
                if had_note {
                    book.touch();
                }
                had_note
            }
        }
        (Some(AlertState::Resolved), _) => false,
    }
}
