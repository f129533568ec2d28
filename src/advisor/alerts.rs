//! Alert states (pending → firing → resolved, each with since-when) and a bounded history of the
//! transitions, exportable as CSV.

use super::rules::{Comparison, Severity};
use crate::model::snapshot::TimeMs;
use std::collections::{BTreeMap, VecDeque};

/// History entries kept (the oldest go first).
pub const HISTORY: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertState {
    Pending,
    Firing,
    Resolved,
}

impl AlertState {
    pub fn label(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Firing => "firing",
            Self::Resolved => "resolved",
        }
    }
}

/// One rule breached (or about to be) on one series.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    pub rule_id: String,
    pub title: String,
    pub severity: Severity,
    pub target: String,
    pub metric: String,
    pub state: AlertState,
    /// When the condition was first seen breached (start of pending).
    pub started: TimeMs,
    /// When it entered its current state.
    pub since: TimeMs,
    /// The rule's value over its duration, as last judged.
    pub value: f64,
    pub threshold: f64,
    pub comparison: Comparison,
    /// "cpu_percent > 80 (avg over 30 min)".
    pub condition: String,
    /// Set while the series has no data to judge (a gap): the alert stays as it was.
    pub note: Option<String>,
    /// The rule's words (also the proposal for advice-only rules).
    pub advice: String,
}

impl Alert {
    pub fn key(&self) -> (String, String) {
        (self.rule_id.clone(), self.target.clone())
    }

    /// "cpu_percent of demo/prod/deployment/api is 91.2 (> 80, avg over 30 min)".
    pub fn observed(&self) -> String {
        format!(
            "{} of {} is {} ({})",
            self.metric,
            self.target,
            super::rules::trim_number(self.value),
            self.condition
        )
    }
}

/// One transition, as kept in the history.
#[derive(Clone, Debug, PartialEq)]
pub struct Transition {
    pub at: TimeMs,
    pub rule_id: String,
    pub severity: Severity,
    pub target: String,
    pub state: AlertState,
    pub value: f64,
    pub threshold: f64,
}

/// The active alerts and what happened to them.
#[derive(Clone, Debug, Default)]
pub struct AlertBook {
    /// Rule id -> target -> alert: looked up with borrowed strings, so the common case (a
    /// series that breaches nothing) allocates nothing.
    active: BTreeMap<String, BTreeMap<String, Alert>>,
    history: VecDeque<Transition>,
    /// Bumped on every change, so views cache what they derive from the book.
    version: u64,
}

impl AlertBook {
    pub fn active(&self) -> impl Iterator<Item = &Alert> {
        self.active.values().flat_map(BTreeMap::values)
    }

    pub fn get(&self, rule_id: &str, target: &str) -> Option<&Alert> {
        self.active.get(rule_id)?.get(target)
    }

    pub fn firing(&self) -> impl Iterator<Item = &Alert> {
        self.active().filter(|a| a.state == AlertState::Firing)
    }

    pub fn history(&self) -> impl DoubleEndedIterator<Item = &Transition> {
        self.history.iter()
    }

    pub fn version(&self) -> u64 {
        self.version
    }

    /// Firing and pending alerts, most severe first, then oldest first.
    pub fn sorted(&self) -> Vec<&Alert> {
        let mut list: Vec<&Alert> = self.active().collect();
        list.sort_by(|a, b| {
            (b.state == AlertState::Firing)
                .cmp(&(a.state == AlertState::Firing))
                .then(b.severity.cmp(&a.severity))
                .then(a.since.cmp(&b.since))
                .then(a.target.cmp(&b.target))
        });
        list
    }

    /// Worst firing severity among alerts whose target starts with `prefix`.
    pub fn worst_firing_under(&self, prefix: &str) -> Option<Severity> {
        self.firing()
            .filter(|a| a.target.starts_with(prefix))
            .map(|a| a.severity)
            .max()
    }

    pub(super) fn active_mut(&mut self, rule_id: &str, target: &str) -> Option<&mut Alert> {
        self.active.get_mut(rule_id)?.get_mut(target)
    }

    pub(super) fn insert(&mut self, alert: Alert) {
        self.record(&alert, alert.state, alert.since);
        self.active
            .entry(alert.rule_id.clone())
            .or_default()
            .insert(alert.target.clone(), alert);
    }

    pub(super) fn remove(&mut self, rule_id: &str, target: &str) -> Option<Alert> {
        self.version += 1;
        let targets = self.active.get_mut(rule_id)?;
        let gone = targets.remove(target);
        if targets.is_empty() {
            self.active.remove(rule_id);
        }
        gone
    }

    pub(super) fn record(&mut self, alert: &Alert, state: AlertState, at: TimeMs) {
        self.version += 1;
        if self.history.len() >= HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(Transition {
            at,
            rule_id: alert.rule_id.clone(),
            severity: alert.severity,
            target: alert.target.clone(),
            state,
            value: alert.value,
            threshold: alert.threshold,
        });
    }

    /// Drops the alert of a series that went away, recording it as resolved (no value since).
    pub(super) fn expire(&mut self, rule_id: &str, target: &str, at: TimeMs) -> bool {
        match self.remove(rule_id, target) {
            Some(mut a) => {
                if a.state == AlertState::Firing {
                    a.state = AlertState::Resolved;
                    a.since = at;
                    self.record(&a, AlertState::Resolved, at);
                }
                true
            }
            None => false,
        }
    }

    pub(super) fn touch(&mut self) {
        self.version += 1;
    }

    /// Drops every alert of rules no longer present (after a profile change).
    pub(super) fn retain_rules(&mut self, ids: &[&str]) {
        self.active.retain(|rule, _| ids.contains(&rule.as_str()));
        self.version += 1;
    }

    /// Drops the alerts whose target `keep` refuses (endpoints that went away).
    pub(super) fn retain_targets(&mut self, keep: impl Fn(&str) -> bool) {
        for targets in self.active.values_mut() {
            targets.retain(|target, _| keep(target));
        }
        self.active.retain(|_, targets| !targets.is_empty());
        self.version += 1;
    }

    /// The history as CSV (oldest first), cells neutralised against spreadsheet formulas.
    pub fn history_csv(&self) -> String {
        let mut w = csv::Writer::from_writer(Vec::new());
        let _ = w.write_record([
            "time",
            "rule",
            "severity",
            "target",
            "state",
            "value",
            "threshold",
        ]);
        for t in &self.history {
            let when = chrono::DateTime::from_timestamp_millis(t.at)
                .map(|d| d.to_rfc3339())
                .unwrap_or_default();
            let _ = w.write_record([
                when,
                crate::csv_safe::neutralise(&t.rule_id),
                t.severity.label().to_string(),
                crate::csv_safe::neutralise(&t.target),
                t.state.label().to_string(),
                format!("{}", t.value),
                format!("{}", t.threshold),
            ]);
        }
        w.into_inner()
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .unwrap_or_default()
    }
}

/// What the window reads every frame, rebuilt only when the book changes: the alerts in panel
/// order and the worst firing severity per endpoint (for tiles).
#[derive(Debug, Default)]
pub struct AlertIndex {
    version: Option<u64>,
    /// (rule, target) in [`AlertBook::sorted`] order.
    pub sorted: Vec<(String, String)>,
    /// Endpoint id -> (worst firing severity, firing alerts).
    pub firing_by_endpoint: BTreeMap<String, (Severity, usize)>,
}

impl AlertIndex {
    /// Rebuilds from `book` if it changed since the last call; returns whether it did.
    pub fn refresh(&mut self, book: &AlertBook) -> bool {
        if self.version == Some(book.version()) {
            return false;
        }
        self.version = Some(book.version());
        self.sorted = book.sorted().into_iter().map(Alert::key).collect();
        self.firing_by_endpoint.clear();
        for a in book.firing() {
            let e = self
                .firing_by_endpoint
                .entry(super::endpoint_of(&a.target).to_string())
                .or_insert((a.severity, 0));
            e.0 = e.0.max(a.severity);
            e.1 += 1;
        }
        true
    }
}
