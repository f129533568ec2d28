//! What a firing alert proposes, in one line with its monthly cost, and the action that applies
//! it (through the normal pipeline: nothing here applies anything).

use super::alerts::Alert;
use super::fit_advice::{CapacityIndex, FitAdvice, fit_advice};
use super::rules::{ProposalKind, Rule, trim_number};
use crate::actions::Action;
use crate::connectors::queue_advice::{Advice, AdviceInput, worker_advice};
use crate::cost::live::LiveInventory;
use crate::cost::{CostModel, money, totals};
use crate::model::snapshot::{Queue, Workload, WorkloadKind};
use rust_decimal::Decimal;
use std::cell::OnceCell;
use std::collections::HashMap;

/// The HPA's formula: `ceil(current × observed / target)`, clamped to `min..=max`.
pub fn hpa_replicas(current: u32, observed: f64, target: f64, min: u32, max: u32) -> u32 {
    let max = max.max(min);
    if !(observed.is_finite() && target > 0.0) {
        return current.clamp(min, max);
    }
    let raw = (f64::from(current.max(1)) * observed / target).ceil();
    let wanted = if raw >= f64::from(u32::MAX) {
        u32::MAX
    } else {
        raw.max(0.0) as u32
    };
    wanted.clamp(min, max)
}

/// A proposal's change in the monthly run rate.
#[derive(Clone, Debug, PartialEq)]
pub struct CostChange {
    pub currency: String,
    pub before_minor: i64,
    pub after_minor: i64,
    /// The phase's MRR it is compared with (minor units), when the model states one.
    pub mrr_minor: Option<i64>,
    pub phase: Option<String>,
}

impl CostChange {
    pub fn delta_minor(&self) -> i64 {
        self.after_minor.saturating_sub(self.before_minor)
    }

    fn percent(&self, minor: i64) -> Option<Decimal> {
        self.mrr_minor
            .and_then(|m| totals::percent_of_mrr_exact(minor, m))
    }

    /// "+$96.00/month, 6.4 % → 7.7 % of MRR" (savings read "-$48.00/month (saves …)").
    pub fn words(&self) -> String {
        let delta = money::format_delta_minor(self.delta_minor(), &self.currency);
        let mut s = format!("{delta}/month");
        if self.delta_minor() < 0 {
            s = format!(
                "{delta}/month (saves {}/month)",
                money::format_minor(-self.delta_minor(), &self.currency)
            );
        }
        if let (Some(a), Some(b)) = (
            self.percent(self.before_minor),
            self.percent(self.after_minor),
        ) {
            s.push_str(&format!(
                ", {} % → {} % of MRR",
                totals::format_percent_seed(a),
                totals::format_percent_seed(b)
            ));
        }
        s
    }
}

/// The fleet's run rate line by line, minor units: the inventory's workloads in order, then
/// its fixed lines (database servers, cache nodes), as [`crate::cost::live::LivePricing::scenario`]
/// lists them; and their sum.
struct LineMinors {
    lines: Vec<i64>,
    total: i64,
}

/// What the cost model needs to price a change: the model, the fleet as counted now, and the
/// phase (scenario) whose MRR the run rate is compared with.
pub struct CostContext<'a> {
    pub model: &'a CostModel,
    pub inventory: &'a LiveInventory,
    /// Scenario name; the first scenario with an MRR when `None`.
    pub phase: Option<&'a str>,
    /// The fleet's run rate as it is, line by line (in the inventory's order), worked out once
    /// for every proposal priced with it.
    before: OnceCell<LineMinors>,
}

impl<'a> CostContext<'a> {
    pub fn new(model: &'a CostModel, inventory: &'a LiveInventory, phase: Option<&'a str>) -> Self {
        Self {
            model,
            inventory,
            phase,
            before: OnceCell::new(),
        }
    }

    /// Each line of the fleet as it is, priced as its scenario would be, without describing
    /// every line: workloads of one price and replica count cost the same.
    fn line_minors(&self) -> LineMinors {
        let pricing = &self.model.live_pricing;
        let mut memo: HashMap<(Decimal, crate::cost::Unit, u32), i64> = HashMap::new();
        let mut lines: Vec<i64> = self
            .inventory
            .workloads
            .iter()
            .map(|w| {
                let price = pricing.replica_price(&w.name);
                *memo
                    .entry((price.price_per_unit, price.unit, w.replicas))
                    .or_insert_with(|| {
                        let line = pricing.workload_line(&w.name, &w.kind, w.replicas);
                        self.model.line_monthly_minor(&line)
                    })
            })
            .collect();
        let fixed = LiveInventory {
            database_servers: self.inventory.database_servers,
            cache_nodes: self.inventory.cache_nodes,
            ..LiveInventory::default()
        };
        let fixed = pricing.scenario(&fixed, "live");
        lines.extend(fixed.lines.iter().map(|l| self.model.line_monthly_minor(l)));
        let total = lines.iter().fold(0_i64, |a, m| a.saturating_add(*m));
        LineMinors { lines, total }
    }

    /// The monthly run rate before and after setting `workload` (its inventory name) to
    /// `replicas`.
    pub fn change(&self, workload: &str, replicas: u32) -> CostChange {
        let pricing = &self.model.live_pricing;
        let before = self.before.get_or_init(|| self.line_minors());
        // The same total as pricing the whole changed fleet again (which at 10,000 workloads
        // took milliseconds per proposal): only the changed workload's lines differ, summed as
        // `scenario_totals` sums.
        let mut after_lines = before.lines.clone();
        for (minor, w) in after_lines.iter_mut().zip(&self.inventory.workloads) {
            if w.name == workload {
                *minor = self
                    .model
                    .line_monthly_minor(&pricing.workload_line(&w.name, &w.kind, replicas));
            }
        }
        let before_minor = before.total;
        let after_minor = after_lines.iter().fold(0_i64, |a, m| a.saturating_add(*m));
        let phase = self
            .model
            .scenarios
            .iter()
            .filter(|s| s.mrr_per_month.is_some())
            .find(|s| self.phase.is_none_or(|p| p == s.name));
        let mrr_minor = phase
            .and_then(|s| s.mrr_per_month)
            .and_then(|m| money::to_minor(m, &self.model.currency));
        CostChange {
            currency: self.model.currency.clone(),
            before_minor,
            after_minor,
            mrr_minor,
            phase: phase.map(|s| s.name.clone()),
        }
    }
}

/// A firing alert's recommendation.
#[derive(Clone, Debug, PartialEq)]
pub struct Proposal {
    pub rule_id: String,
    pub target: String,
    /// One line: "writer-service 3 → 5: +$96.00/month, 6.4 % → 7.7 % of MRR".
    pub line: String,
    /// What "Apply" plans; `None` for advice.
    pub action: Option<Action>,
    pub cost: Option<CostChange>,
    /// For a scale up: whether it fits, and the nodes it would take when it does not.
    pub fit: Option<FitAdvice>,
}

impl Proposal {
    /// The words the audit record keeps when the proposal is applied.
    pub fn citation(&self, alert: &Alert) -> String {
        let mut s = format!(
            "advisor rule \"{}\" ({}) {}: {}",
            alert.rule_id,
            alert.severity.label(),
            alert.state.label(),
            alert.observed()
        );
        if let Some(c) = &self.cost {
            s.push_str(&format!("; cost change {}", c.words()));
        }
        if let Some(f) = &self.fit {
            s.push_str(&format!("; {}", f.words()));
        }
        s
    }
}

/// What the fleet knows that proposals need.
pub struct Facts<'a> {
    /// By series target ([`crate::model::snapshot::WorkloadRef::target`]): one lookup per alert.
    pub workloads: HashMap<String, &'a Workload>,
    /// (endpoint id, queue): a queue's series target is `endpoint/name`.
    pub queues: &'a [(&'a str, &'a Queue)],
    /// The profile's queue drain target, seconds.
    pub drain_target_secs: f64,
    pub cost: Option<CostContext<'a>>,
    /// Capacity views by workload endpoint id: what a scale up is checked against.
    pub capacity: CapacityIndex<'a>,
    /// The linked nginx upstreams as last read: what a drift proposal names.
    pub load_balancers: &'a [crate::connectors::nginx::status::LinkReport],
}

impl Facts<'_> {
    /// The fit of scaling `w` to `replicas` (priced with the cost model's node price).
    fn fit(&self, w: &Workload, replicas: u32) -> Option<FitAdvice> {
        fit_advice(
            self.capacity.get(w.id.endpoint.as_str()).copied(),
            &w.id,
            w.desired,
            replicas,
            self.cost.as_ref().map(|c| c.model),
        )
    }
}

/// Workloads keyed by their series target, for [`Facts::workloads`].
pub fn index_workloads<'a>(
    workloads: impl IntoIterator<Item = &'a Workload>,
) -> HashMap<String, &'a Workload> {
    workloads.into_iter().map(|w| (w.id.target(), w)).collect()
}

/// [`index_workloads`] for the `wanted` targets only (the alerts' and the queues' workloads):
/// the window rebuilds proposals while a fleet of 10,000 workloads moves, and a target string
/// per workload each time would cost milliseconds for the few alerts there are.
pub fn index_wanted_workloads<'a, 'w>(
    workloads: impl IntoIterator<Item = &'a Workload>,
    wanted: impl IntoIterator<Item = &'w str>,
) -> HashMap<String, &'a Workload> {
    // By the last part of the target, which is the workload's name (names hold no '/').
    let mut by_name: HashMap<&str, Vec<&str>> = HashMap::new();
    for target in wanted {
        let name = target.rsplit('/').next().unwrap_or(target);
        by_name.entry(name).or_default().push(target);
    }
    if by_name.is_empty() {
        return HashMap::new();
    }
    workloads
        .into_iter()
        .filter_map(|w| {
            let name = w.id.name.rsplit('/').next().unwrap_or(&w.id.name);
            let target = by_name.get(name)?.iter().find(|t| w.id.is_target(t))?;
            Some(((*target).to_owned(), w))
        })
        .collect()
}

/// The proposal for a firing (or pending) alert.
pub fn propose(rule: &Rule, alert: &Alert, facts: &Facts<'_>) -> Proposal {
    let mut p = Proposal {
        rule_id: rule.id.clone(),
        target: alert.target.clone(),
        line: String::new(),
        action: None,
        cost: None,
        fit: None,
    };
    match rule.propose {
        ProposalKind::Advice => {
            p.line = format!("{}: {}", short_target(&alert.target), rule.advice);
        }
        ProposalKind::LoadBalancer => {
            p.line =
                super::lb_drift::proposal_line(facts.load_balancers, &alert.target, &rule.advice);
        }
        ProposalKind::ScaleUp | ProposalKind::ScaleDown => {
            let Some(w) = facts.workloads.get(&alert.target).copied() else {
                p.line = format!(
                    "{}: {} (workload not in view)",
                    short_target(&alert.target),
                    rule.advice
                );
                return p;
            };
            scale_proposal(rule, alert, w, facts, &mut p);
        }
        ProposalKind::DrainQueue => {
            let found = facts.queues.iter().find(|(endpoint, q)| {
                alert
                    .target
                    .strip_prefix(endpoint)
                    .and_then(|r| r.strip_prefix('/'))
                    == Some(q.name.as_str())
            });
            let Some((_, q)) = found else {
                p.line = format!("{}: {}", short_target(&alert.target), rule.advice);
                return p;
            };
            queue_proposal(rule, q, facts, &mut p);
        }
    }
    p
}

fn scale_proposal(rule: &Rule, alert: &Alert, w: &Workload, facts: &Facts<'_>, p: &mut Proposal) {
    let current = w.desired;
    let name = &w.id.name;
    let up = rule.propose == ProposalKind::ScaleUp;
    let cpu_rule = rule.selector.metric == "cpu_percent";
    if let Some(hpa) = w.autoscaler.as_ref().filter(|_| !cpu_rule) {
        // The HPA formula is about its CPU target: memory % (or anything else) fed into it
        // would be a made-up count, and a plain scale would be undone by the HPA.
        let memory_too = hpa
            .metrics
            .iter()
            .any(|m| m.to_ascii_lowercase().contains("memory"));
        p.line = if memory_too {
            format!(
                "{name}: its HPA also scales on memory; raise its max ({}) if {} stays high",
                hpa.max_replicas, rule.selector.metric
            )
        } else {
            format!(
                "{name}: the HPA scales on CPU only: add a memory metric to it or raise replicas \
                 (its min {})",
                hpa.min_replicas
            )
        };
        return;
    }
    if let Some(hpa) = w.autoscaler.as_ref().filter(|_| up) {
        // An HPA owns the count: a scale would be undone, so its ceiling is what to raise.
        let needed = hpa_replicas(
            current,
            alert.value,
            f64::from(hpa.target_cpu_percent.max(1)),
            hpa.min_replicas,
            crate::actions::plan::MAX_REPLICAS,
        );
        if needed <= hpa.max_replicas {
            p.line = format!(
                "{name}: the HPA can reach {needed} within its max {} and scales by itself",
                hpa.max_replicas
            );
            return;
        }
        p.action = Some(Action::SetAutoscaler {
            workload: w.id.clone(),
            min_replicas: hpa.min_replicas,
            max_replicas: needed,
            target_cpu_percent: hpa.target_cpu_percent,
        });
        p.cost = facts.cost.as_ref().map(|c| c.change(&w.id.full(), needed));
        p.fit = facts.fit(w, needed);
        p.line = format!("{name}: raise the HPA max {} → {needed}", hpa.max_replicas);
    } else {
        let to = hpa_replicas(
            current,
            alert.value,
            rule.target_percent,
            rule.min_replicas,
            rule.max_replicas,
        );
        let to = if up { to.max(current) } else { to.min(current) };
        if to == current {
            p.line = if up {
                format!(
                    "{name}: already at {current}, the rule's max is {}",
                    rule.max_replicas
                )
            } else {
                format!(
                    "{name}: already at {current}, the rule's min is {}",
                    rule.min_replicas
                )
            };
            return;
        }
        p.action = Some(Action::ScaleWorkload {
            workload: w.id.clone(),
            replicas: to,
        });
        p.cost = facts.cost.as_ref().map(|c| c.change(&w.id.full(), to));
        p.fit = facts.fit(w, to);
        p.line = format!("{name} {current} → {to}");
        if w.id.kind == WorkloadKind::ComposeService {
            p.line.push_str(&format!(" (--scale {name}={to})"));
        }
    }
    if let Some(c) = &p.cost {
        p.line.push_str(&format!(": {}", c.words()));
    }
    push_fit(p);
}

/// "…; only 4 of 10 new replicas fit — needs 2 more nodes of …: +$280.32/month".
fn push_fit(p: &mut Proposal) {
    if let Some(f) = &p.fit {
        p.line.push_str(&format!("; {}", f.words()));
    }
}

fn queue_proposal(rule: &Rule, q: &Queue, facts: &Facts<'_>, p: &mut Proposal) {
    let linked = q
        .linked_workload
        .as_ref()
        .and_then(|id| facts.workloads.get(&id.target()).copied());
    let workers = linked.map_or(q.consumers.unwrap_or(0), |w| w.ready);
    let advice = worker_advice(&AdviceInput::from_queue(
        q,
        workers,
        facts.drain_target_secs,
    ));
    match (advice, linked) {
        (Advice::Scale { from, to, .. }, Some(w)) => {
            p.action = Some(Action::ScaleWorkload {
                workload: w.id.clone(),
                replicas: to,
            });
            p.cost = facts.cost.as_ref().map(|c| c.change(&w.id.full(), to));
            p.fit = facts.fit(w, to);
            p.line = format!(
                "{}: scale {} {from} → {to} to drain {} jobs in {}",
                q.name,
                w.id.name,
                q.depth,
                crate::connectors::queue_advice::duration_words(facts.drain_target_secs)
            );
            if let Some(c) = &p.cost {
                p.line.push_str(&format!(": {}", c.words()));
            }
            push_fit(p);
        }
        (Advice::Scale { from, to, .. }, None) => {
            p.line = format!(
                "{}: {from} → {to} workers would drain {} jobs in {} (link a workload to apply)",
                q.name,
                q.depth,
                crate::connectors::queue_advice::duration_words(facts.drain_target_secs)
            );
        }
        (Advice::Enough { workers, .. }, _) => {
            p.line = format!(
                "{}: depth {} but {workers} workers drain it within the target",
                q.name, q.depth
            );
        }
        (Advice::Unknown(why), _) => {
            p.line = format!("{}: {} ({why})", q.name, rule.advice);
        }
    }
}

/// The last two segments of a target, enough to name it in a line.
pub fn short_target(target: &str) -> String {
    let parts: Vec<&str> = target.rsplitn(3, '/').collect();
    match parts.as_slice() {
        [last, prev, _] => format!("{prev}/{last}"),
        _ => target.to_string(),
    }
}

/// "cpu_percent 91.2 > 80" for compact lists.
pub fn value_words(alert: &Alert) -> String {
    format!(
        "{} {} {} {}",
        alert.metric,
        trim_number(alert.value),
        alert.comparison.symbol(),
        trim_number(alert.threshold)
    )
}
