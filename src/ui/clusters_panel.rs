//! Clusters: per Kubernetes context its capacity (requested against allocatable CPU, memory and
//! pods), its nodes with their problems first, its quotas and whether a cluster autoscaler
//! could add nodes. Sums and the node order are computed when a snapshot's capacity view
//! changes (keyed by its `Arc`), never per frame, and the nodes table lays out only the rows
//! in view: 5,000 nodes cost what 20 do.

use super::theme;
use super::widgets::{self, panel_header_ui};
use crate::app::{FleetState, ScaleboardApp};
use crate::model::capacity::{
    AutoscalerPresence, CapacityView, ContextCapacity, NodeInfo, format_cpu_milli,
};
use crate::model::snapshot::Snapshot;
use crate::model::units::format_bytes;
use egui::RichText;
use egui_extras::{Column, TableBuilder};
use std::sync::Arc;

const ROW_HEIGHT: f32 = 20.0;
/// The nodes table never grows past this many rows; it scrolls beyond.
const MAX_TABLE_ROWS: usize = 15;

/// Requested and allocatable sums of one context and its node counts by problem.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Totals {
    pub nodes: usize,
    pub allocatable_cpu_milli: u64,
    pub requested_cpu_milli: u64,
    pub allocatable_memory_bytes: u64,
    pub requested_memory_bytes: u64,
    pub allocatable_pods: u64,
    pub pods: u64,
    pub not_ready: usize,
    pub cordoned: usize,
    pub under_pressure: usize,
}

impl Totals {
    fn of(nodes: &[NodeInfo]) -> Self {
        let mut t = Self {
            nodes: nodes.len(),
            ..Self::default()
        };
        for n in nodes {
            let r = &n.room;
            t.allocatable_cpu_milli += r.allocatable_cpu_milli;
            t.requested_cpu_milli += r.requested_cpu_milli;
            t.allocatable_memory_bytes += r.allocatable_memory_bytes;
            t.requested_memory_bytes += r.requested_memory_bytes;
            t.allocatable_pods += r.allocatable_pods;
            t.pods += r.pods;
            t.not_ready += usize::from(!r.ready);
            t.cordoned += usize::from(r.unschedulable);
            t.under_pressure += usize::from(!n.pressure.is_empty());
        }
        t
    }

    pub fn cpu_percent(&self) -> Option<f64> {
        share(self.requested_cpu_milli, self.allocatable_cpu_milli)
    }

    pub fn memory_percent(&self) -> Option<f64> {
        share(self.requested_memory_bytes, self.allocatable_memory_bytes)
    }

    /// "1 not ready, 1 cordoned, 1 under pressure", or `None` when every node is fine.
    pub fn problems(&self) -> Option<String> {
        let parts: Vec<String> = [
            (self.not_ready, "not ready"),
            (self.cordoned, "cordoned"),
            (self.under_pressure, "under pressure"),
        ]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

fn share(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| 100.0 * part as f64 / whole as f64)
}

/// One context of one workload endpoint, summed and ordered.
#[derive(Clone, Debug)]
pub struct ClusterSummary {
    pub endpoint_label: String,
    pub context: String,
    pub view: Arc<CapacityView>,
    pub totals: Totals,
    /// Indices into the context's nodes: problems first (not ready, pressure, cordoned), then
    /// the fullest, then by name.
    pub order: Vec<usize>,
}

impl ClusterSummary {
    pub fn capacity(&self) -> &ContextCapacity {
        &self.view.contexts[&self.context]
    }
}

/// The summaries of every context in view, recomputed only when a capacity view changes.
#[derive(Default)]
pub struct ClustersCache {
    /// Per workload endpoint with capacity: its id and the address of its view.
    key: Vec<(String, usize)>,
    pub clusters: Vec<ClusterSummary>,
}

impl ClustersCache {
    /// Cheap when nothing changed: one pointer compare per workload endpoint.
    pub fn refresh(&mut self, fleet: &FleetState) {
        let views: Vec<(&str, &str, &Arc<CapacityView>)> = fleet
            .endpoints
            .iter()
            .filter_map(|e| match &e.snapshot {
                Some(Snapshot::Workloads(list)) => list
                    .capacity
                    .as_ref()
                    .map(|v| (e.info.id.as_str(), e.info.label.as_str(), v)),
                _ => None,
            })
            .collect();
        // The cache holds every view it was computed from, so an address cannot be reused by a
        // newer view while it is the key.
        let unchanged = views.len() == self.key.len()
            && views
                .iter()
                .zip(&self.key)
                .all(|((id, _, v), (kid, kptr))| id == kid && Arc::as_ptr(v) as usize == *kptr);
        if unchanged {
            return;
        }
        self.key = views
            .iter()
            .map(|(id, _, v)| (id.to_string(), Arc::as_ptr(v) as usize))
            .collect();
        self.clusters = views
            .iter()
            .flat_map(|(_, label, view)| {
                view.contexts.iter().map(|(context, c)| {
                    let nodes = c.nodes.as_deref().unwrap_or_default();
                    ClusterSummary {
                        endpoint_label: label.to_string(),
                        context: context.clone(),
                        view: Arc::clone(view),
                        totals: Totals::of(nodes),
                        order: problems_first(nodes),
                    }
                })
            })
            .collect();
    }
}

/// Node indices with the problems on top.
fn problems_first(nodes: &[NodeInfo]) -> Vec<usize> {
    let rank = |n: &NodeInfo| {
        if !n.room.ready {
            0
        } else if !n.pressure.is_empty() {
            1
        } else if n.room.unschedulable {
            2
        } else {
            3
        }
    };
    let fullness = |n: &NodeInfo| {
        let r = &n.room;
        let cpu = share(r.requested_cpu_milli, r.allocatable_cpu_milli).unwrap_or(0.0);
        let memory = share(r.requested_memory_bytes, r.allocatable_memory_bytes).unwrap_or(0.0);
        cpu.max(memory)
    };
    let mut order: Vec<usize> = (0..nodes.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&nodes[a], &nodes[b]);
        rank(a)
            .cmp(&rank(b))
            .then_with(|| fullness(b).total_cmp(&fullness(a)))
            .then_with(|| a.room.name.cmp(&b.room.name))
    });
    order
}

pub fn clusters_panel_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    panel_header_ui(ui, app, "Clusters");
    app.clusters.refresh(&app.fleet);
    if app.clusters.clusters.is_empty() {
        widgets::nothing_here_ui(
            ui,
            "No Kubernetes context with capacity data yet: nodes, quotas and the cluster \
             autoscaler show here once a Kubernetes endpoint has answered.",
        );
        return;
    }
    for c in &app.clusters.clusters {
        egui::CollapsingHeader::new(
            RichText::new(format!("{} · context {}", c.endpoint_label, c.context)).strong(),
        )
        .id_salt(("cluster", &c.endpoint_label, &c.context))
        .default_open(true)
        .show(ui, |ui| cluster_ui(ui, c));
    }
}

fn cluster_ui(ui: &mut egui::Ui, c: &ClusterSummary) {
    let ctx = c.capacity();
    let t = &c.totals;
    match &ctx.nodes {
        Err(why) => {
            ui.colored_label(theme::WARN, format!("nodes not visible: {why}"));
        }
        Ok(nodes) => {
            bar_ui(
                ui,
                "CPU",
                t.requested_cpu_milli,
                t.allocatable_cpu_milli,
                &format!(
                    "{} of {} cores requested, {} free",
                    cores(t.requested_cpu_milli),
                    cores(t.allocatable_cpu_milli),
                    cores(
                        t.allocatable_cpu_milli
                            .saturating_sub(t.requested_cpu_milli)
                    )
                ),
            );
            bar_ui(
                ui,
                "Memory",
                t.requested_memory_bytes,
                t.allocatable_memory_bytes,
                &format!(
                    "{} of {} requested, {} free",
                    format_bytes(t.requested_memory_bytes),
                    format_bytes(t.allocatable_memory_bytes),
                    format_bytes(
                        t.allocatable_memory_bytes
                            .saturating_sub(t.requested_memory_bytes)
                    )
                ),
            );
            bar_ui(
                ui,
                "Pods",
                t.pods,
                t.allocatable_pods,
                &format!("{} of {} pods", t.pods, t.allocatable_pods),
            );
            ui.horizontal_wrapped(|ui| {
                ui.label(format!("{} nodes", t.nodes));
                if let Some(p) = t.problems() {
                    ui.colored_label(theme::WARN, p);
                }
            });
            nodes_table_ui(ui, c, nodes);
        }
    }
    autoscaler_ui(ui, &ctx.autoscaler);
    for note in [&ctx.partial_pods, &ctx.admission_unknown]
        .into_iter()
        .flatten()
    {
        ui.colored_label(theme::WARN, format!("Note: {note}"));
    }
    quotas_ui(ui, c, ctx);
}

fn bar_ui(ui: &mut egui::Ui, what: &str, part: u64, whole: u64, text: &str) {
    let fraction = if whole == 0 {
        0.0
    } else {
        (part as f64 / whole as f64).min(1.0) as f32
    };
    ui.horizontal(|ui| {
        ui.add_sized([70.0, ROW_HEIGHT], egui::Label::new(what));
        let color = if fraction >= 0.9 {
            theme::BAD
        } else if fraction >= 0.75 {
            theme::WARN
        } else {
            theme::GOOD
        };
        ui.add(
            egui::ProgressBar::new(fraction)
                .desired_width((ui.available_width() - 8.0).clamp(120.0, 480.0))
                .fill(color.gamma_multiply(0.7))
                .text(format!("{text} ({:.0} %)", fraction * 100.0)),
        );
    });
}

fn autoscaler_ui(ui: &mut egui::Ui, a: &AutoscalerPresence) {
    match a {
        AutoscalerPresence::Seen(what) => {
            ui.label(format!(
                "Cluster autoscaler: running ({what}); it may add nodes for replicas that do not fit."
            ));
        }
        AutoscalerPresence::NotSeen => {
            ui.colored_label(
                theme::WARN,
                "Cluster autoscaler: not running; replicas that do not fit stay Pending until room \
                 is made.",
            );
        }
        AutoscalerPresence::Unknown => {
            ui.weak("Cluster autoscaler: unknown (kube-system is not visible).");
        }
    }
}

fn quotas_ui(ui: &mut egui::Ui, c: &ClusterSummary, ctx: &ContextCapacity) {
    if ctx.quotas.is_empty() && ctx.limit_ranges.is_empty() {
        ui.weak("No ResourceQuota or LimitRange in the watched namespaces.");
        return;
    }
    let used = |used: String, hard: Option<String>| match hard {
        Some(h) => format!("{used} of {h}"),
        None => format!("{used} (no limit)"),
    };
    egui::Grid::new(("quotas", &c.endpoint_label, &c.context))
        .striped(true)
        .show(ui, |ui| {
            for title in [
                "Namespace",
                "Quota",
                "requests.cpu",
                "requests.memory",
                "pods",
            ] {
                ui.strong(title);
            }
            ui.end_row();
            for (ns, quotas) in &ctx.quotas {
                for q in quotas {
                    ui.label(ns);
                    ui.label(&q.name);
                    ui.label(used(
                        format_cpu_milli(q.used_requests_cpu_milli),
                        q.hard_requests_cpu_milli.map(format_cpu_milli),
                    ));
                    ui.label(used(
                        format_bytes(q.used_requests_memory_bytes),
                        q.hard_requests_memory_bytes.map(format_bytes),
                    ));
                    ui.label(used(
                        q.used_pods.to_string(),
                        q.hard_pods.map(|p| p.to_string()),
                    ));
                    ui.end_row();
                }
            }
            for (ns, lr) in &ctx.limit_ranges {
                ui.label(ns);
                ui.label(format!("LimitRange {}", lr.name));
                let cpu = lr.default_request_cpu_milli.or(lr.default_limit_cpu_milli);
                let memory = lr
                    .default_request_memory_bytes
                    .or(lr.default_limit_memory_bytes);
                ui.label(cpu.map_or("—".into(), |c| format!("default {}", format_cpu_milli(c))));
                ui.label(memory.map_or("—".into(), |m| format!("default {}", format_bytes(m))));
                ui.label("");
                ui.end_row();
            }
        });
}

fn nodes_table_ui(ui: &mut egui::Ui, c: &ClusterSummary, nodes: &[NodeInfo]) {
    let rows = c.order.len().min(MAX_TABLE_ROWS);
    let height = rows as f32 * (ROW_HEIGHT + ui.spacing().item_spacing.y);
    ui.push_id(("nodes", &c.endpoint_label, &c.context), |ui| {
        // One line per row: a wrapped cell would make rows taller than the rows laid out.
        ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
        TableBuilder::new(ui)
            .striped(true)
            .min_scrolled_height(height)
            .max_scroll_height(height)
            .column(Column::auto().at_least(150.0))
            .columns(Column::auto().at_least(60.0), 3)
            .column(Column::initial(220.0).at_least(120.0).clip(true))
            .columns(Column::auto().at_least(150.0), 2)
            .column(Column::auto().at_least(60.0))
            .header(ROW_HEIGHT, |mut h| {
                for title in [
                    "Node",
                    "Ready",
                    "Cordoned",
                    "Pressure",
                    "Taints",
                    "CPU requested",
                    "Memory requested",
                    "Pods",
                ] {
                    h.col(|ui| {
                        ui.strong(title);
                    });
                }
            })
            .body(|body| {
                body.rows(ROW_HEIGHT, c.order.len(), |mut row| {
                    let n = &nodes[c.order[row.index()]];
                    let r = &n.room;
                    row.col(|ui| {
                        ui.label(&r.name);
                    });
                    row.col(|ui| {
                        if r.ready {
                            ui.label("ready");
                        } else {
                            ui.colored_label(theme::BAD, "NOT READY");
                        }
                    });
                    row.col(|ui| {
                        if r.unschedulable {
                            ui.colored_label(theme::WARN, "cordoned");
                        } else {
                            ui.weak("—");
                        }
                    });
                    row.col(|ui| {
                        if n.pressure.is_empty() {
                            ui.weak("—");
                        } else {
                            ui.colored_label(theme::WARN, n.pressure.join(", "));
                        }
                    });
                    row.col(|ui| {
                        let taints: Vec<String> = r.taints.iter().map(|t| t.text()).collect();
                        let text = if taints.is_empty() {
                            "—".to_string()
                        } else {
                            taints.join(", ")
                        };
                        ui.add(egui::Label::new(text).truncate());
                    });
                    row.col(|ui| {
                        ui.label(format!(
                            "{} / {}{}",
                            format_cpu_milli(r.requested_cpu_milli),
                            format_cpu_milli(r.allocatable_cpu_milli),
                            percent_suffix(r.requested_cpu_milli, r.allocatable_cpu_milli)
                        ));
                    });
                    row.col(|ui| {
                        ui.label(format!(
                            "{} / {}{}",
                            format_bytes(r.requested_memory_bytes),
                            format_bytes(r.allocatable_memory_bytes),
                            percent_suffix(r.requested_memory_bytes, r.allocatable_memory_bytes)
                        ));
                    });
                    row.col(|ui| {
                        ui.label(format!("{} / {}", r.pods, r.allocatable_pods));
                    });
                });
            });
    });
}

/// Cores with one decimal: sums of thousands of millicores read better so.
fn cores(milli: u64) -> String {
    format!("{:.1}", milli as f64 / 1000.0)
}

fn percent_suffix(part: u64, whole: u64) -> String {
    share(part, whole).map_or(String::new(), |p| format!(" ({p:.0} %)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::capacity::NodeRoom;

    fn node(name: &str, ready: bool, pressure: bool, cordoned: bool, cpu: u64) -> NodeInfo {
        NodeInfo {
            room: NodeRoom {
                name: name.into(),
                allocatable_cpu_milli: 4000,
                allocatable_memory_bytes: 1 << 34,
                allocatable_pods: 110,
                requested_cpu_milli: cpu,
                requested_memory_bytes: 0,
                pods: 3,
                labels: Default::default(),
                taints: Vec::new(),
                unschedulable: cordoned,
                ready,
            },
            pressure: if pressure {
                vec!["DiskPressure".into()]
            } else {
                Vec::new()
            },
        }
    }

    #[test]
    fn problems_come_first_then_the_fullest() {
        let nodes = [
            node("a", true, false, false, 100),
            node("b", true, false, true, 100),
            node("c", true, true, false, 100),
            node("d", false, false, false, 100),
            node("e", true, false, false, 3000),
        ];
        let names: Vec<&str> = problems_first(&nodes)
            .into_iter()
            .map(|i| nodes[i].room.name.as_str())
            .collect();
        assert_eq!(names, ["d", "c", "b", "e", "a"]);
        let t = Totals::of(&nodes);
        assert_eq!(
            t.problems().as_deref(),
            Some("1 not ready, 1 cordoned, 1 under pressure")
        );
        assert_eq!(t.requested_cpu_milli, 3400);
    }

    /// A fleet with one Kubernetes endpoint whose view has one context of `n` nodes.
    fn fleet_with(view: Arc<CapacityView>) -> FleetState {
        let mut fleet = FleetState::default();
        fleet.reset(vec![crate::engine::EndpointInfo {
            id: "k8s".into(),
            label: "prod (Kubernetes)".into(),
            area: crate::engine::Area::Workloads,
            demo: false,
        }]);
        let mut list = crate::model::workloads::WorkloadList::default();
        list.capacity = Some(view);
        fleet.endpoints[0].snapshot = Some(Snapshot::Workloads(list));
        fleet
    }

    fn view_of(n: usize) -> Arc<CapacityView> {
        let nodes = (0..n)
            .map(|i| {
                node(
                    &format!("node-{i:05}"),
                    i % 97 != 0,
                    i % 101 == 0,
                    false,
                    100,
                )
            })
            .collect();
        let context = ContextCapacity {
            nodes: Ok(nodes),
            partial_pods: None,
            quotas: Default::default(),
            admission_unknown: None,
            limit_ranges: Default::default(),
            autoscaler: AutoscalerPresence::Unknown,
        };
        Arc::new(CapacityView {
            contexts: [("prod".to_string(), context)].into(),
            needs: Default::default(),
        })
    }

    #[test]
    fn five_thousand_nodes_are_summed_once_per_view_not_per_frame() {
        let view = view_of(5_000);
        let mut fleet = fleet_with(Arc::clone(&view));
        let mut cache = ClustersCache::default();
        cache.refresh(&fleet);
        assert_eq!(cache.clusters.len(), 1);
        let c = &cache.clusters[0];
        assert_eq!(c.totals.nodes, 5_000);
        assert_eq!(c.totals.not_ready, 52);
        assert_eq!(c.order.len(), 5_000);
        assert!(!nodes_of(c)[c.order[0]].room.ready, "problems first");
        // Same view: the summaries are kept, not rebuilt (the order vector is the same one).
        let order = c.order.as_ptr();
        for _ in 0..3 {
            cache.refresh(&fleet);
        }
        assert_eq!(cache.clusters[0].order.as_ptr(), order);
        // A new view (the next poll) is summed again.
        let mut next = (*view).clone();
        if let Ok(nodes) = &mut next.contexts.get_mut("prod").unwrap().nodes {
            nodes.truncate(10);
        }
        fleet = fleet_with(Arc::new(next));
        cache.refresh(&fleet);
        assert_eq!(cache.clusters[0].totals.nodes, 10);
    }

    fn nodes_of(c: &ClusterSummary) -> &[NodeInfo] {
        c.capacity().nodes.as_deref().unwrap()
    }
}
