//! Clusters: per Kubernetes context its capacity (requested against allocatable CPU, memory and
//! pods), its nodes with their problems first, its quotas and whether a cluster autoscaler
//! could add nodes. Sums and the node order are computed when a snapshot's capacity view
//! changes (keyed by its `Arc`), never per frame, and the nodes table lays out only the rows
//! in view: 5,000 nodes cost what 20 do.

use super::clusters_summary::{ClusterSummary, share};
use super::theme;
use super::widgets::{self, panel_header_ui};
use crate::app::ScaleboardApp;
use crate::model::capacity::{AutoscalerPresence, ContextCapacity, NodeInfo, format_cpu_milli};
use crate::model::units::format_bytes;
use egui::RichText;
use egui_extras::{Column, TableBuilder};

const ROW_HEIGHT: f32 = 20.0;
/// The nodes table never grows past this many rows; it scrolls beyond.
const MAX_TABLE_ROWS: usize = 15;

pub fn clusters_panel_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    panel_header_ui(ui, app, "Clusters");
    app.clusters.refresh(&app.fleet);
    if app.clusters.clusters.is_empty() && app.clusters.engines.is_empty() {
        widgets::nothing_here_ui(
            ui,
            "No Kubernetes context or Docker engine with capacity data yet: nodes, quotas, \
             engines and the cluster autoscaler show here once a workload endpoint has answered.",
        );
        return;
    }
    // Taken out for the frame so the plots may borrow the app's store and chart cache.
    let clusters = std::mem::take(&mut app.clusters);
    for c in &clusters.clusters {
        egui::CollapsingHeader::new(
            RichText::new(format!("{} · context {}", c.endpoint_label, c.context)).strong(),
        )
        .id_salt(("cluster", &c.endpoint_label, &c.context))
        .default_open(true)
        .show(ui, |ui| {
            cluster_ui(ui, c);
            if c.capacity().nodes.is_ok() {
                super::clusters_plots::capacity_plots_ui(app, ui, &c.endpoint_id, &c.context);
            }
        });
    }
    super::clusters_engines::engines_ui(ui, &clusters.engines);
    app.clusters = clusters;
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
            usage_ui(ui, t, ctx.usage_note.as_deref());
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

pub(super) fn bar_ui(ui: &mut egui::Ui, what: &str, part: u64, whole: u64, text: &str) {
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

/// Used against allocatable, beside the requested bars: usage above requests is what
/// requests do not show (and below, what they reserve for nothing).
fn usage_ui(ui: &mut egui::Ui, t: &super::clusters_summary::Totals, note: Option<&str>) {
    if t.nodes_with_usage == 0 {
        ui.weak(format!(
            "Used: {}.",
            note.unwrap_or("no usage reported yet (metrics-server)")
        ));
        return;
    }
    let of = if t.nodes_with_usage < t.nodes {
        format!(
            " ({} of {} nodes report usage)",
            t.nodes_with_usage, t.nodes
        )
    } else {
        String::new()
    };
    bar_ui(
        ui,
        "CPU used",
        t.used_cpu_milli,
        t.allocatable_cpu_milli,
        &format!(
            "{} of {} cores used{of}",
            cores(t.used_cpu_milli),
            cores(t.allocatable_cpu_milli)
        ),
    );
    bar_ui(
        ui,
        "Mem. used",
        t.used_memory_bytes,
        t.allocatable_memory_bytes,
        &format!(
            "{} of {} used{of}",
            format_bytes(t.used_memory_bytes),
            format_bytes(t.allocatable_memory_bytes)
        ),
    );
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
            .columns(Column::auto().at_least(80.0), 2)
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
                    "CPU used",
                    "Memory used",
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
                    row.col(|ui| match n.used {
                        Some(u) => {
                            ui.label(format!(
                                "{}{}",
                                format_cpu_milli(u.cpu_milli),
                                percent_suffix(u.cpu_milli, r.allocatable_cpu_milli)
                            ));
                        }
                        None => {
                            ui.weak("—");
                        }
                    });
                    row.col(|ui| match n.used {
                        Some(u) => {
                            ui.label(format!(
                                "{}{}",
                                format_bytes(u.memory_bytes),
                                percent_suffix(u.memory_bytes, r.allocatable_memory_bytes)
                            ));
                        }
                        None => {
                            ui.weak("—");
                        }
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
