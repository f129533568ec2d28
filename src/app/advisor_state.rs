//! The window's side of the scaling advisor: the rules of the active profile fed with every
//! sample as events arrive (never per frame), the proposals of active alerts (recomputed only
//! when an alert changes or the fleet moved), and one desktop notification per firing.

use super::ScaleboardApp;
use crate::advisor::fit_advice::index_capacity;
use crate::advisor::recommend::{CostContext, Facts, Proposal, index_wanted_workloads, propose};
use crate::advisor::rules::{ProposalKind, Rule};
use crate::advisor::{Advisor, AlertState, default_rules, rules::merge_rules};
use crate::cost::live::LiveInventory;
use crate::model::snapshot::Queue;
use std::collections::{BTreeMap, BTreeSet};

/// Proposals of active alerts are refreshed at least this often (replica counts move).
const PROPOSAL_REFRESH_MS: i64 = 5_000;

#[derive(Default)]
pub struct AdvisorState {
    pub advisor: Advisor,
    /// Panel order and per-endpoint firing counts, rebuilt only when the book changes.
    pub index: crate::advisor::AlertIndex,
    /// By (rule, target), for every active alert.
    pub proposals: BTreeMap<(String, String), Proposal>,
    /// Active alerts with nothing to apply and nothing else to do (a workload idle but already
    /// at the rule's minimum): the Alerts panel folds them into one summary row per reason.
    pub parked: BTreeMap<(String, String), Parked>,
    built_from: u64,
    built_at: i64,
    /// Firing alerts already notified (cleared when they resolve): once per firing.
    notified: BTreeSet<(String, String)>,
    /// Measured cost of feeding samples to the rules (for BENCHMARKS and the About window).
    pub intake_samples: u64,
    pub intake_nanos: u64,
    /// The fleet as the cost model counts it, and the fleet generation it was counted at: the
    /// alerts change over the few frames a large poll's samples take, and each change rebuilds
    /// the proposals.
    inventory: std::cell::RefCell<Option<(u64, std::sync::Arc<LiveInventory>)>>,
}

/// By (rule, target), the key of an alert.
type ByAlert<T> = BTreeMap<(String, String), T>;

/// Why an active alert's proposal has nothing to apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Parked {
    /// A scale-down rule on a workload already at (or under) the rule's minimum.
    AtMinimum,
    /// A scale-up rule on a workload without autoscaler already at the rule's maximum.
    AtMaximum,
    /// A CPU scale-up rule on a workload whose HPA reaches the count within its own max.
    AutoscalerScales,
}

impl Parked {
    /// "6 workloads idle but at their minimum".
    pub fn summary(self, n: usize) -> String {
        let workloads = if n == 1 { "workload" } else { "workloads" };
        match self {
            Self::AtMinimum => format!("{n} {workloads} idle but at their minimum"),
            Self::AtMaximum => format!("{n} {workloads} busy but at their maximum"),
            Self::AutoscalerScales => {
                format!("{n} {workloads} busy, scaled by their autoscaler within its max")
            }
        }
    }

    /// The alert's reason for having nothing to apply, if it is one of these.
    fn of(rule: &Rule, proposal: &Proposal, facts: &Facts<'_>) -> Option<Self> {
        if proposal.action.is_some() {
            return None;
        }
        let w = facts.workloads.get(&proposal.target)?;
        match rule.propose {
            ProposalKind::ScaleDown if w.desired <= rule.min_replicas => Some(Self::AtMinimum),
            ProposalKind::ScaleUp
                if w.autoscaler.is_some() && rule.selector.metric == "cpu_percent" =>
            {
                Some(Self::AutoscalerScales)
            }
            ProposalKind::ScaleUp if w.autoscaler.is_none() && w.desired >= rule.max_replicas => {
                Some(Self::AtMaximum)
            }
            _ => None,
        }
    }
}

impl AdvisorState {
    /// Mean cost of one sample's evaluation, in nanoseconds.
    pub fn mean_intake_ns(&self) -> f64 {
        self.intake_nanos as f64 / self.intake_samples.max(1) as f64
    }
}

impl ScaleboardApp {
    /// The active profile's rules (built-in ones with its changes).
    pub fn advisor_sync_rules(&mut self) {
        let rules = merge_rules(default_rules(), &self.profiles.active.rules);
        self.advisor.advisor.set_rules(rules);
        self.advisor.built_from = u64::MAX;
    }

    /// Proposals are rebuilt after the next events (e.g. the saved cost models changed).
    pub fn advisor_invalidate_proposals(&mut self) {
        self.advisor.built_from = u64::MAX;
    }

    pub fn advisor_set_endpoints(&mut self) {
        let eps: Vec<(String, crate::model::endpoint::Area)> = self
            .fleet
            .endpoints
            .iter()
            .map(|e| (e.info.id.clone(), e.info.area))
            .collect();
        self.advisor_sync_rules();
        self.advisor.advisor.set_endpoints(eps);
    }

    /// After the events of a frame: proposals for alerts that changed, notifications for new
    /// firings.
    pub fn advisor_after_events(&mut self, focused: bool) {
        let now = self.clock.now_ms();
        // Chart marks follow the alert index's version: rebuilt when the book changes, never
        // on the proposals' timer.
        if self.advisor.index.refresh(&self.advisor.advisor.book) {
            self.refresh_chart_marks();
        }
        // While a large poll's samples are still on their way to the rules (a few frames), the
        // book moves each frame: the proposals are made once, when they are all in.
        if self.sample_intake.waiting() > 0 {
            return;
        }
        let version = self.advisor.advisor.book.version();
        let stale = now - self.advisor.built_at >= PROPOSAL_REFRESH_MS
            && self.advisor.advisor.book.active().next().is_some();
        if version == self.advisor.built_from && !stale {
            return;
        }
        self.advisor.built_from = version;
        self.advisor.built_at = now;
        (self.advisor.proposals, self.advisor.parked) = self.build_proposals();
        self.advisor_notify(focused);
    }

    fn refresh_chart_marks(&mut self) {
        use crate::ui::alerts_panel::severity_color;
        use crate::ui::charts::RuleMark;
        let advisor = &self.advisor.advisor;
        let rules = advisor
            .rules()
            .iter()
            .filter(|r| r.enabled)
            .map(|r| RuleMark {
                selector: r.selector.clone(),
                threshold: r.threshold,
                label: format!(
                    "{} {} {}",
                    r.id,
                    r.comparison.symbol(),
                    crate::advisor::rules::trim_number(r.threshold)
                ),
                color: severity_color(r.severity),
            })
            .collect();
        let areas = self
            .fleet
            .endpoints
            .iter()
            .map(|e| (e.info.id.clone(), e.info.area))
            .collect();
        let firing = advisor.book.firing().map(|a| {
            (
                crate::metrics::SeriesKey::new(&a.target, &a.metric),
                a.since,
                severity_color(a.severity),
            )
        });
        self.charts.marks.set(rules, areas, firing);
    }

    /// [`Self::cost_live_inventory`], counted once per fleet generation.
    fn counted_inventory(&self) -> std::sync::Arc<LiveInventory> {
        let mut cached = self.advisor.inventory.borrow_mut();
        match &*cached {
            Some((generation, inventory)) if *generation == self.fleet.generation => {
                std::sync::Arc::clone(inventory)
            }
            _ => {
                let inventory = std::sync::Arc::new(self.cost_live_inventory());
                *cached = Some((self.fleet.generation, std::sync::Arc::clone(&inventory)));
                inventory
            }
        }
    }

    fn build_proposals(&self) -> (ByAlert<Proposal>, ByAlert<Parked>) {
        let queues: Vec<(&str, &Queue)> = self
            .fleet
            .queues()
            .map(|(e, q)| (e.info.id.as_str(), q))
            .collect();
        let advisor = &self.advisor.advisor;
        // The fleet as the cost model counts it (a line per workload: milliseconds at 10,000
        // workloads), only when an alert's proposal is priced.
        let priced = advisor.book.active().any(|a| {
            advisor.rule(&a.rule_id).is_some_and(|r| {
                matches!(
                    r.propose,
                    ProposalKind::ScaleUp | ProposalKind::ScaleDown | ProposalKind::DrainQueue
                )
            })
        });
        let inventory = if priced {
            self.counted_inventory()
        } else {
            std::sync::Arc::default()
        };
        // The same rule as `scaleboard advise`: a saved model, never the panel's unsaved draft.
        let last_used = self
            .cost
            .is_saved(&self.cost.draft_source)
            .then_some(self.cost.draft_source.as_str());
        let model = &crate::cost::store::advisor_model(&self.cost.saved, last_used);
        // The Cost panel's chosen phase, when it is a phase of this model.
        let phase = (model.name == self.cost.draft_source)
            .then(|| model.scenarios.get(self.cost.selected_scenario))
            .flatten()
            .filter(|s| s.mrr_per_month.is_some())
            .map(|s| s.name.as_str());
        let linked: Vec<String> = queues
            .iter()
            .filter_map(|(_, q)| q.linked_workload.as_ref().map(|id| id.target()))
            .collect();
        let wanted = advisor
            .book
            .active()
            .map(|a| a.target.as_str())
            .chain(linked.iter().map(String::as_str));
        let facts = Facts {
            workloads: index_wanted_workloads(self.fleet.workloads(), wanted),
            queues: &queues,
            drain_target_secs: self.profiles.active.thresholds.queue_drain_target_minutes * 60.0,
            cost: priced.then(|| CostContext::new(model, &inventory, phase)),
            capacity: index_capacity(
                self.fleet
                    .endpoints
                    .iter()
                    .filter_map(|e| Some((e.info.id.as_str(), e.snapshot.as_ref()?))),
            ),
            load_balancers: &self.fleet.load_balancers,
        };
        let mut proposals = BTreeMap::new();
        let mut parked = BTreeMap::new();
        for alert in advisor.book.active() {
            let Some(rule) = advisor.rule(&alert.rule_id) else {
                continue;
            };
            let proposal = propose(rule, alert, &facts);
            if let Some(why) = Parked::of(rule, &proposal, &facts) {
                parked.insert(alert.key(), why);
            }
            proposals.insert(alert.key(), proposal);
        }
        (proposals, parked)
    }

    fn advisor_notify(&mut self, focused: bool) {
        let firing: BTreeSet<(String, String)> = self
            .advisor
            .advisor
            .book
            .firing()
            .map(crate::advisor::Alert::key)
            .collect();
        self.advisor.notified.retain(|k| firing.contains(k));
        let fresh: Vec<(String, String)> = firing
            .into_iter()
            .filter(|k| !self.advisor.notified.contains(k))
            .collect();
        for key in fresh {
            self.advisor.notified.insert(key.clone());
            if focused || !self.profiles.active.advisor.notifications {
                continue;
            }
            let Some(alert) = self.advisor.advisor.book.get(&key.0, &key.1) else {
                continue;
            };
            let body = self.advisor.proposals.get(&key).map_or_else(
                || alert.observed(),
                |p| format!("{}\n{}", alert.observed(), p.line),
            );
            let summary = format!("Scaleboard {}: {}", alert.severity.label(), alert.title);
            self.send(crate::engine::Command::DesktopNotify { summary, body });
        }
    }

    /// "Apply" on a proposal: the normal pipeline's plan and confirmation dialog, with the
    /// advice kept for the audit record.
    pub fn apply_proposal(&mut self, rule_id: &str, target: &str) {
        let key = (rule_id.to_string(), target.to_string());
        let (Some(proposal), Some(alert)) = (
            self.advisor.proposals.get(&key).cloned(),
            self.advisor.advisor.book.get(rule_id, target).cloned(),
        ) else {
            return;
        };
        let Some(action) = proposal.action.clone() else {
            return;
        };
        self.propose(action);
        if let Some(dialog) = self.actions.dialog.as_mut() {
            dialog.advice = Some(proposal.citation(&alert));
        }
    }

    /// Firing alerts under an endpoint or target prefix: the worst severity, for tiles.
    pub fn alert_level_under(&self, prefix: &str) -> Option<crate::advisor::Severity> {
        self.advisor.advisor.book.worst_firing_under(prefix)
    }

    /// The worst severity and the number of firing alerts on the endpoints of `area`.
    pub fn firing_in_area(
        &self,
        area: crate::model::endpoint::Area,
    ) -> Option<(crate::advisor::Severity, usize)> {
        let mut worst = None;
        let mut count = 0;
        for e in self.fleet.in_area(area) {
            if let Some((severity, n)) = self.advisor.index.firing_by_endpoint.get(&e.info.id) {
                count += n;
                worst = worst.max(Some(*severity));
            }
        }
        worst.map(|w| (w, count))
    }

    pub fn active_alert_count(&self) -> (usize, usize) {
        let book = &self.advisor.advisor.book;
        let firing = book.firing().count();
        let pending = book
            .active()
            .filter(|a| a.state == AlertState::Pending)
            .count();
        (firing, pending)
    }
}
