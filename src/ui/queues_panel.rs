//! Queues: depth vs consumers, and whether the backlog drains or grows, in words.

use super::charts::metric_grid_ui;
use super::theme;
use super::widgets::{self, panel_header_ui};
use crate::app::ScaleboardApp;
use crate::engine::Area;
use crate::model::snapshot::Queue;

pub use crate::connectors::queue_advice::drain_estimate;
use crate::connectors::queue_advice::{Advice, AdviceInput, worker_advice};

/// The advice for one queue and the action that applies it, when it can be applied.
pub fn queue_advice(app: &ScaleboardApp, q: &Queue) -> (Advice, Option<crate::actions::Action>) {
    let linked = q
        .linked_workload
        .as_ref()
        .and_then(|id| app.fleet.workloads().find(|w| &w.id == id));
    let workers = linked.map_or(q.consumers.unwrap_or(0), |w| w.ready);
    let target_secs = app.profiles.active.thresholds.queue_drain_target_minutes * 60.0;
    let advice = worker_advice(&AdviceInput::from_queue(q, workers, target_secs));
    let action = match (&advice, &q.linked_workload) {
        (Advice::Scale { to, .. }, Some(workload)) if q.error.is_none() => {
            Some(crate::actions::Action::ScaleWorkload {
                workload: workload.clone(),
                replicas: *to,
            })
        }
        _ => None,
    };
    (advice, action)
}

/// "waiting 10 · active 2 · group g: lag 5, pending 2, 1 consumer".
fn breakdown(q: &Queue) -> String {
    let mut parts: Vec<String> = q
        .parts
        .iter()
        .map(|p| format!("{} {}", p.label, p.count))
        .collect();
    for g in &q.groups {
        parts.push(format!(
            "group {}: lag {}, pending {}, {} consumer{}",
            g.name,
            g.lag.map_or("?".into(), |l| l.to_string()),
            g.pending,
            g.consumers,
            if g.consumers == 1 { "" } else { "s" }
        ));
    }
    parts.join(" · ")
}

fn rate(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.1}"))
}

pub fn queues_panel_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    panel_header_ui(ui, app, "Queues");
    widgets::endpoint_status_ui(ui, app, Area::Queues);
    let queues: Vec<(String, Queue)> = app
        .fleet
        .queues()
        .map(|(e, q)| (format!("{}/{}", e.info.id, q.name), q.clone()))
        .collect();
    if queues.is_empty() {
        widgets::nothing_here_ui(
            ui,
            "No queue source is polled. Add queues to a Redis endpoint or a RabbitMQ management URL in the profile; the demo fleet shows what they look like.",
        );
        return;
    }
    let limit = app.profiles.active.thresholds.queue_depth;
    let advice: Vec<(Advice, Option<crate::actions::Action>)> =
        queues.iter().map(|(_, q)| queue_advice(app, q)).collect();
    let mut proposal = None;
    // What an operator acts on comes first (depth, outlook, advice with its Apply); the detail
    // columns follow, and the table scrolls sideways when the window is narrower than it.
    egui::ScrollArea::horizontal()
        .id_salt("queue_table_scroll")
        .auto_shrink([false, true])
        .show(ui, |ui| {
            egui::Grid::new("queue_grid").striped(true).show(ui, |ui| {
                for h in [
                    "Queue",
                    "Depth",
                    "Outlook",
                    "Advice",
                    "Workers",
                    "Consumers",
                    "In/s",
                    "Out/s",
                    "Source",
                    "Breakdown",
                ] {
                    ui.strong(h);
                }
                ui.end_row();
                for ((_, q), (advice, action)) in queues.iter().zip(&advice) {
                    ui.label(&q.name);
                    ui.colored_label(
                        if q.depth > limit {
                            theme::WARN
                        } else {
                            ui.visuals().text_color()
                        },
                        q.depth.to_string(),
                    );
                    let outlook = drain_estimate(q);
                    if q.error.is_some() || outlook.starts_with("grows") {
                        ui.colored_label(theme::WARN, outlook);
                    } else {
                        ui.label(outlook);
                    }
                    ui.horizontal(|ui| {
                        if let Some(action) = action
                            && ui
                                .button("Apply")
                                .on_hover_text(
                                    "Open this scale action in the pipeline: preview, confirm, audit",
                                )
                                .clicked()
                        {
                            proposal = Some(action.clone());
                        }
                        ui.label(advice.words());
                    });
                    ui.label(
                        q.linked_workload
                            .as_ref()
                            .map_or("—".into(), ToString::to_string),
                    );
                    ui.label(q.consumers.map_or("—".into(), |c| c.to_string()));
                    ui.label(rate(q.in_per_sec));
                    ui.label(rate(q.out_per_sec));
                    ui.label(&q.source);
                    let parts = breakdown(q);
                    ui.add_sized(
                        [260.0, ui.spacing().interact_size.y],
                        egui::Label::new(parts.as_str()).truncate(),
                    )
                    .on_hover_text(parts);
                    ui.end_row();
                }
            });
        });
    if let Some(action) = proposal {
        app.propose(action);
    }
    let plots = [
        ("q_depth", "Depth", "jobs", "depth"),
        ("q_cons", "Consumers", "count", "consumers"),
        ("q_in", "Incoming", "jobs/s", "in_per_sec"),
        ("q_out", "Processed", "jobs/s", "out_per_sec"),
    ];
    let targets = |_: &str| -> Vec<(String, String)> {
        queues
            .iter()
            .map(|(t, x)| (t.clone(), x.name.clone()))
            .collect()
    };
    metric_grid_ui(ui, app, &plots, &targets);
}
