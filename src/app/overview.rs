//! What the Overview shows of a fleet of any size: totals (the whole fleet, and per context /
//! namespace or project) and the few workloads that matter by a chosen measure, plus the ones
//! the operator pinned — never "the first names in the list". Computed here, drawn by
//! `ui::overview_panel`; cached until the fleet, the range, the measure or the pins change.

use super::{FleetState, ScaleboardApp, TimeRange};
use crate::engine::Area;
use crate::metrics::{MetricStore, SeriesKey};
use crate::model::snapshot::{Snapshot, Workload, WorkloadRef};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// How many workloads a ranked plot shows (pins come on top of these).
pub const TOP: usize = 5;
/// Series target of the whole fleet's totals (metrics "desired", "ready", "not_ready").
pub const FLEET_TARGET: &str = "fleet/workloads";

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Rank {
    /// Most replicas missing (desired − ready).
    #[default]
    NotReady,
    /// Furthest from desired relative to its size, either way (also over-provisioned).
    FurthestFromDesired,
    HighestCpu,
    /// Largest swing of its replica count over the selected range.
    BiggestChange,
}

impl Rank {
    pub const ALL: [Rank; 4] = [
        Self::NotReady,
        Self::FurthestFromDesired,
        Self::HighestCpu,
        Self::BiggestChange,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::NotReady => "most replicas not ready",
            Self::FurthestFromDesired => "furthest from desired",
            Self::HighestCpu => "highest CPU",
            Self::BiggestChange => "biggest change in the range",
        }
    }
}

/// Desired and ready replicas of one context/namespace (or Compose project).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScopeTotals {
    pub label: String,
    pub workloads: usize,
    pub desired: u64,
    pub ready: u64,
    /// Workloads with fewer ready replicas than desired.
    pub not_ready: usize,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct FleetTotals {
    pub all: ScopeTotals,
    /// Worst first: most replicas missing, then largest.
    pub scopes: Vec<ScopeTotals>,
}

/// One workload chosen for a plot, with why.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranked {
    pub id: WorkloadRef,
    /// Name, or scope/name when another shown workload has the same name.
    pub label: String,
    /// "2 of 5 ready", "CPU 93 %", "changed by 6".
    pub why: String,
    pub pinned: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
struct CacheKey {
    stamp: i64,
    endpoints: usize,
    range: i64,
    rank: Option<Rank>,
    pins: u64,
    /// For "biggest change": the window slides, so recompute every few seconds.
    slot: i64,
}

/// The Overview's computed contents.
#[derive(Default)]
pub struct OverviewCache {
    key: Option<CacheKey>,
    pub totals: FleetTotals,
    /// Top workloads by the chosen measure, then the pinned ones.
    pub by_rank: Vec<Ranked>,
    /// Top workloads by CPU per replica, then the pinned ones.
    pub by_cpu: Vec<Ranked>,
    /// Kubernetes contexts whose API server said metrics-server is not installed, with its words
    /// (from the connector's notice): why the CPU plot has nothing for them.
    pub no_metrics_server: BTreeMap<String, String>,
    /// Sources of workloads (a Kubernetes context, a Docker endpoint) none of whose workloads
    /// reports CPU usage, and how many sources there are in all.
    pub cpu_missing: Vec<CpuSource>,
    pub cpu_sources: usize,
}

/// Where workloads come from, for saying where CPU usage is missing.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct CpuSource {
    pub endpoint: String,
    /// The Kubernetes context (Docker endpoints have none).
    pub context: Option<String>,
}

impl CpuSource {
    /// "context east", "endpoint docker".
    pub fn words(&self) -> String {
        match &self.context {
            Some(c) => format!("context {c}"),
            None => format!("endpoint {}", self.endpoint),
        }
    }
}

/// Sources without CPU usage (sorted), and the number of sources: one pass, no allocation per
/// workload (30,000 of them are walked only when the fleet changed).
fn cpu_sources(fleet: &FleetState) -> (Vec<CpuSource>, usize) {
    use crate::model::snapshot::WorkloadKind;
    let mut seen: HashMap<(&str, Option<&str>), bool> = HashMap::new();
    for w in fleet.workloads() {
        let context = matches!(
            w.id.kind,
            WorkloadKind::Deployment | WorkloadKind::StatefulSet
        )
        .then(|| w.id.scope.split('/').next().unwrap_or(""));
        *seen.entry((w.id.endpoint.as_str(), context)).or_default() |= w.cpu_percent.is_some();
    }
    let mut missing: Vec<CpuSource> = seen
        .iter()
        .filter(|(_, has)| !**has)
        .map(|((endpoint, context), _)| CpuSource {
            endpoint: (*endpoint).to_owned(),
            context: context.map(str::to_owned),
        })
        .collect();
    missing.sort();
    (missing, seen.len())
}

/// Contexts remembered without metrics-server at most (a profile has a handful).
const MAX_NO_METRICS: usize = 64;

/// The words of the Kubernetes connector's notice, "context NAME: metrics-server not installed
/// (WHY); …", as the engine forwards it ("LABEL: " in front).
const NO_METRICS_SERVER: &str = ": metrics-server not installed";

impl OverviewCache {
    /// Recompute if anything it depends on changed.
    pub fn refresh(
        &mut self,
        fleet: &FleetState,
        store: &MetricStore,
        rank: Rank,
        pinned: &BTreeSet<WorkloadRef>,
        range: TimeRange,
        now_ms: i64,
    ) {
        let key = CacheKey {
            stamp: fleet
                .in_area(Area::Workloads)
                .filter_map(|e| e.updated_at)
                .sum(),
            endpoints: fleet.endpoints.len(),
            range: range.millis(),
            rank: Some(rank),
            pins: pinned
                .iter()
                .map(|p| hash_of(&p.target()))
                .fold(0, u64::wrapping_add)
                ^ pinned.len() as u64,
            slot: if rank == Rank::BiggestChange {
                now_ms / 5_000
            } else {
                0
            },
        };
        if self.key == Some(key) {
            return;
        }
        self.key = Some(key);
        self.totals = fleet_totals(fleet);
        self.by_rank = top_workloads(fleet, store, rank, pinned, range, now_ms);
        self.by_cpu = top_workloads(fleet, store, Rank::HighestCpu, pinned, range, now_ms);
        (self.cpu_missing, self.cpu_sources) = cpu_sources(fleet);
    }

    /// Remember a context without metrics-server from an engine notice (other notices pass).
    pub fn note_notice(&mut self, text: &str) {
        let Some(at) = text.find(NO_METRICS_SERVER) else {
            return;
        };
        let Some(start) = text[..at].rfind("context ") else {
            return;
        };
        let context = text[start + "context ".len()..at].trim();
        let rest = &text[at + NO_METRICS_SERVER.len()..];
        let why = rest
            .trim_start()
            .strip_prefix('(')
            .and_then(|r| r.split_once(')'))
            .map_or("", |(why, _)| why);
        if context.is_empty() || self.no_metrics_server.len() >= MAX_NO_METRICS {
            return;
        }
        self.no_metrics_server
            .insert(context.to_owned(), why.trim().to_owned());
    }

    /// Workloads whose series the Overview draws: kept in the store even when it is full.
    pub fn watched(&self) -> impl Iterator<Item = &WorkloadRef> {
        self.by_rank.iter().chain(&self.by_cpu).map(|r| &r.id)
    }
}

fn hash_of(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

/// Totals of the whole fleet and of every scope, worst scope first.
pub fn fleet_totals(fleet: &FleetState) -> FleetTotals {
    let several_endpoints = fleet
        .endpoints
        .iter()
        .filter(|e| matches!(e.snapshot, Some(Snapshot::Workloads(_))))
        .count()
        > 1;
    let mut all = ScopeTotals {
        label: "whole fleet".into(),
        ..ScopeTotals::default()
    };
    let mut scopes: HashMap<(&str, &str), ScopeTotals> = HashMap::new();
    for w in fleet.workloads() {
        for t in [
            &mut all,
            scopes
                .entry((w.id.endpoint.as_str(), w.id.scope.as_str()))
                .or_insert_with(|| ScopeTotals {
                    label: if several_endpoints {
                        format!("{}: {}", w.id.endpoint, w.id.scope)
                    } else {
                        w.id.scope.clone()
                    },
                    ..ScopeTotals::default()
                }),
        ] {
            t.workloads += 1;
            t.desired += u64::from(w.desired);
            t.ready += u64::from(w.ready);
            t.not_ready += usize::from(w.ready < w.desired);
        }
    }
    let mut scopes: Vec<ScopeTotals> = scopes.into_values().collect();
    scopes.sort_by(|a, b| {
        let missing = |s: &ScopeTotals| s.desired.saturating_sub(s.ready);
        missing(b)
            .cmp(&missing(a))
            .then(b.not_ready.cmp(&a.not_ready))
            .then(b.desired.cmp(&a.desired))
            .then(a.label.cmp(&b.label))
    });
    FleetTotals { all, scopes }
}

/// The `TOP` workloads by `rank` (ties go to the larger workload, never to the first name),
/// then every pinned workload not already among them.
pub fn top_workloads(
    fleet: &FleetState,
    store: &MetricStore,
    rank: Rank,
    pinned: &BTreeSet<WorkloadRef>,
    range: TimeRange,
    now_ms: i64,
) -> Vec<Ranked> {
    let change = |w: &Workload| -> f64 {
        let key = SeriesKey::new(w.id.target(), "replicas");
        if !store.contains(&key) {
            return 0.0;
        }
        let down = store.downsample(&key, (now_ms - range.millis())..now_ms + 1, 1);
        let ys = down.segments.iter().flatten().map(|[_, y]| *y);
        let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| {
            (lo.min(y), hi.max(y))
        });
        if hi >= lo { hi - lo } else { 0.0 }
    };
    let score = |w: &Workload| -> f64 {
        match rank {
            Rank::NotReady => f64::from(w.desired.saturating_sub(w.ready)),
            Rank::FurthestFromDesired => {
                (f64::from(w.ready) - f64::from(w.desired)).abs() / f64::from(w.desired.max(1))
            }
            Rank::HighestCpu => w.cpu_percent.unwrap_or(-1.0),
            Rank::BiggestChange => change(w),
        }
    };
    // Only what matters: a measure of zero (every replica ready, no change) is not a reason to
    // be on the plot, so a healthy fleet shows fewer lines rather than the first names.
    let mut scored: Vec<(f64, &Workload)> = fleet
        .workloads()
        .map(|w| (score(w), w))
        .filter(|(s, _)| rank == Rank::HighestCpu && *s >= 0.0 || *s > 0.0)
        .collect();
    let by = |a: &(f64, &Workload), b: &(f64, &Workload)| {
        b.0.total_cmp(&a.0)
            .then(b.1.desired.cmp(&a.1.desired))
            .then(a.1.id.cmp(&b.1.id))
    };
    // Partial selection: 30,000 workloads cost a linear pass, not a sort.
    if scored.len() > TOP {
        scored.select_nth_unstable_by(TOP - 1, by);
        scored.truncate(TOP);
    }
    scored.sort_by(by);
    let mut chosen: Vec<(&Workload, f64, bool)> = scored
        .into_iter()
        .map(|(s, w)| (w, s, pinned.contains(&w.id)))
        .collect();
    for id in pinned {
        if !chosen.iter().any(|(w, _, _)| &w.id == id)
            && let Some(w) = fleet.workloads().find(|w| &w.id == id)
        {
            chosen.push((w, score(w), true));
        }
    }
    let names: Vec<&str> = chosen.iter().map(|(w, _, _)| w.id.name.as_str()).collect();
    chosen
        .iter()
        .map(|(w, s, pinned)| {
            let shared = names.iter().filter(|n| **n == w.id.name).count() > 1;
            Ranked {
                id: w.id.clone(),
                label: if shared {
                    w.id.to_string()
                } else {
                    w.id.name.clone()
                },
                why: match rank {
                    Rank::NotReady | Rank::FurthestFromDesired => {
                        format!("{} of {} ready", w.ready, w.desired)
                    }
                    Rank::HighestCpu => w
                        .cpu_percent
                        .map_or("CPU —".into(), |c| format!("CPU {c:.0} %")),
                    Rank::BiggestChange => format!("changed by {s:.0}"),
                },
                pinned: *pinned,
            }
        })
        .collect()
}

impl ScaleboardApp {
    /// The workloads whose series the store keeps at full resolution: the selected one, the
    /// pinned ones and the ones the Overview plots. A dozen names, compared with what the
    /// store has; only a change moves series between resolutions.
    pub(super) fn tell_store_what_is_watched(&mut self) {
        let watched: BTreeSet<String> = self
            .selected_workload
            .iter()
            .chain(&self.view.pinned)
            .chain(self.overview.watched())
            .map(WorkloadRef::target)
            .collect();
        self.store.set_watched(watched);
    }

    /// After new snapshots: the whole fleet's desired and ready replicas as two series, and the
    /// Overview's watched workloads given series even when the store is full of others.
    pub(super) fn record_overview_series(&mut self) {
        let stamp = self
            .fleet
            .in_area(Area::Workloads)
            .filter(|e| matches!(e.snapshot, Some(Snapshot::Workloads(_))))
            .filter_map(|e| e.updated_at)
            .max();
        let Some(stamp) = stamp else {
            return;
        };
        if stamp > self.totals_at {
            self.totals_at = stamp;
            let (desired, ready) = self.fleet.workloads().fold((0u64, 0u64), |(d, r), w| {
                (d + u64::from(w.desired), r + u64::from(w.ready))
            });
            self.store.push_pinned(
                &SeriesKey::new(FLEET_TARGET, "desired"),
                stamp,
                desired as f64,
            );
            self.store
                .push_pinned(&SeriesKey::new(FLEET_TARGET, "ready"), stamp, ready as f64);
            self.store.push_pinned(
                &SeriesKey::new(FLEET_TARGET, "not_ready"),
                stamp,
                desired.saturating_sub(ready) as f64,
            );
        }
        // While a poll's samples wait in the intake, the series are on their way: a point put
        // here would come before them and make them look out of order.
        if self.sample_intake.waiting() > 0 {
            return;
        }
        // Checked every frame for a dozen workloads at most; the fleet is searched (once, for
        // all of them) only when one is missing and the fleet or the missing set changed.
        let missing: Vec<WorkloadRef> = self
            .view
            .pinned
            .iter()
            .chain(self.overview.watched())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .filter(|id| {
                let t = id.target();
                !(self.store.contains(&SeriesKey::new(&t, "replicas"))
                    && self.store.contains(&SeriesKey::new(&t, "ready")))
            })
            .cloned()
            .collect();
        if missing.is_empty() {
            return;
        }
        let searched = (self.fleet.generation, missing);
        if self.watched_filled_for.as_ref() == Some(&searched) {
            return;
        }
        let missing = &searched.1;
        for w in self.fleet.workloads().filter(|w| missing.contains(&w.id)) {
            let t = w.id.target();
            let values = [
                ("replicas", Some(f64::from(w.desired))),
                ("ready", Some(f64::from(w.ready))),
                ("cpu_percent", w.cpu_percent),
            ];
            for (metric, value) in values {
                let key = SeriesKey::new(&t, metric);
                if let Some(v) = value
                    && !self.store.contains(&key)
                {
                    self.store.push_bulk(&key, stamp, v);
                }
            }
        }
        self.watched_filled_for = Some(searched);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_metrics_server_notice_names_its_context() {
        let mut cache = OverviewCache::default();
        // As the engine forwards the Kubernetes connector's notice: "LABEL: notice".
        cache.note_notice(
            "Kubernetes k8s: context arn:aws:eks:eu-west-1:1234:cluster/prod: metrics-server not \
             installed (the server could not find the requested resource); CPU and memory stay \
             empty",
        );
        cache.note_notice("Kubernetes k8s: context east: watching 3 namespaces");
        assert_eq!(
            cache
                .no_metrics_server
                .get("arn:aws:eks:eu-west-1:1234:cluster/prod"),
            Some(&"the server could not find the requested resource".to_owned())
        );
        assert_eq!(cache.no_metrics_server.len(), 1);
    }
}
