//! Workloads: one list of Kubernetes workloads and Compose services, sortable by filter, with
//! live plots of the selected one and the Scale / Autoscale forms.

use super::charts::{PlotLine, time_plot_ui};
use super::theme;
use super::widgets::{self, panel_header_ui};
use crate::actions::Action;
use crate::app::{AutoscaleForm, ScaleForm, ScaleboardApp};
use crate::connectors::snapshot::{Workload, WorkloadKind};
use crate::engine::Area;
use crate::metrics::SeriesKey;
use egui_extras::{Column, TableBuilder};

pub fn workloads_panel_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    panel_header_ui(ui, app, "Workloads");
    widgets::endpoint_status_ui(ui, app, Area::Workloads);
    if app.fleet.in_area(Area::Workloads).next().is_none() {
        widgets::nothing_here_ui(
            ui,
            "No workload endpoint in this profile. Kubernetes and Docker Compose connectors are not built yet (issues #4 and #5); the demo fleet shows what they will look like.",
        );
        return;
    }
    ui.horizontal(|ui| {
        ui.label("Filter:");
        ui.add(egui::TextEdit::singleline(&mut app.workload_filter).hint_text("name or namespace"));
    });
    let filter = app.workload_filter.to_lowercase();
    let rows: Vec<Workload> = app
        .fleet
        .workloads()
        .filter(|w| {
            filter.is_empty()
                || w.id.name.to_lowercase().contains(&filter)
                || w.id.scope.to_lowercase().contains(&filter)
        })
        .cloned()
        .collect();
    table_ui(app, ui, &rows);
    ui.separator();
    let selected = app
        .selected_workload
        .clone()
        .and_then(|id| rows.iter().find(|w| w.id == id).cloned());
    if let Some(w) = selected {
        details_ui(app, ui, &w);
    } else {
        ui.weak("Select a workload to see its plots and to scale it.");
    }
}

fn table_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui, rows: &[Workload]) {
    let mut clicked = None;
    TableBuilder::new(ui)
        .id_salt("workloads_table")
        .striped(true)
        .sense(egui::Sense::click())
        .max_scroll_height(260.0)
        .column(Column::auto().at_least(120.0))
        .column(Column::auto().at_least(110.0))
        .column(Column::remainder().at_least(140.0))
        .columns(Column::auto().at_least(60.0), 5)
        .column(Column::auto().at_least(150.0))
        .header(20.0, |mut h| {
            for title in [
                "Kind",
                "Namespace / project",
                "Name",
                "Desired",
                "Ready",
                "Updated",
                "CPU",
                "Memory",
                "Autoscaler",
            ] {
                h.col(|ui| {
                    ui.strong(title);
                });
            }
        })
        // Only visible rows are laid out, so 10,000 workloads cost what 20 do.
        .body(|body| {
            body.rows(20.0, rows.len(), |mut row| {
                let w = &rows[row.index()];
                row.set_selected(app.selected_workload.as_ref() == Some(&w.id));
                row.col(|ui| {
                    ui.label(w.kind.label());
                });
                row.col(|ui| {
                    ui.label(&w.id.scope);
                });
                row.col(|ui| {
                    if ui
                        .selectable_label(app.selected_workload.as_ref() == Some(&w.id), &w.id.name)
                        .clicked()
                    {
                        clicked = Some(w.id.clone());
                    }
                });
                row.col(|ui| {
                    ui.label(w.desired.to_string());
                });
                row.col(|ui| {
                    let color = if w.ready < w.desired {
                        theme::WARN
                    } else {
                        ui.visuals().text_color()
                    };
                    ui.colored_label(color, w.ready.to_string());
                });
                row.col(|ui| {
                    ui.label(w.updated.to_string());
                });
                row.col(|ui| {
                    ui.label(widgets::percent(w.cpu_percent));
                });
                row.col(|ui| {
                    ui.label(widgets::percent(w.memory_percent));
                });
                row.col(|ui| {
                    ui.label(w.autoscaler.as_ref().map_or_else(
                        || "—".to_string(),
                        |h| {
                            format!(
                                "{}–{} @ {} %",
                                h.min_replicas, h.max_replicas, h.target_cpu_percent
                            )
                        },
                    ));
                });
                if row.response().clicked() {
                    clicked = Some(w.id.clone());
                }
            });
        });
    if let Some(id) = clicked {
        app.selected_workload = Some(id);
        app.actions.scale_form = None;
        app.actions.autoscale_form = None;
    }
}

fn details_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui, w: &Workload) {
    ui.horizontal(|ui| {
        ui.heading(format!("{} {}", w.kind.label(), w.id));
        if let Some(reason) = &w.pending_reason {
            ui.colored_label(theme::WARN, reason);
        }
    });
    if let Some(h) = &w.autoscaler {
        let last = h.last_scale_at.map_or("never".to_string(), |t| {
            format!("{} s ago", (app.clock.now_ms() - t).max(0) / 1000)
        });
        ui.label(format!(
            "Autoscaler {}: min {}, max {}, target CPU {} %, current {}, last scaled {last}",
            h.name,
            h.min_replicas,
            h.max_replicas,
            h.target_cpu_percent,
            widgets::percent(h.current_cpu_percent)
        ));
    }
    actions_ui(app, ui, w);
    let t = w.id.target();
    let now = app.clock.now_ms();
    let range = app.view.range;
    ui.columns(2, |cols| {
        let lines = [
            PlotLine {
                key: SeriesKey::new(&t, "replicas"),
                label: "desired",
            },
            PlotLine {
                key: SeriesKey::new(&t, "ready"),
                label: "ready",
            },
        ];
        time_plot_ui(
            &mut cols[0],
            "wl_replicas",
            "Replicas",
            "count",
            &lines,
            &app.store,
            &mut app.charts,
            range,
            now,
            180.0,
        );
        let lines = [
            PlotLine {
                key: SeriesKey::new(&t, "cpu_percent"),
                label: "CPU",
            },
            PlotLine {
                key: SeriesKey::new(&t, "memory_percent"),
                label: "memory",
            },
        ];
        time_plot_ui(
            &mut cols[1],
            "wl_cpu",
            "CPU and memory per replica",
            "% of request",
            &lines,
            &app.store,
            &mut app.charts,
            range,
            now,
            180.0,
        );
    });
}

fn actions_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui, w: &Workload) {
    if app.profiles.active.read_only {
        ui.colored_label(theme::WARN, "Read-only profile: scaling is not offered.");
        return;
    }
    ui.horizontal(|ui| {
        if ui.button("Scale…").clicked() {
            app.actions.scale_form = Some(ScaleForm {
                workload: w.id.clone(),
                replicas: w.desired,
            });
            app.actions.autoscale_form = None;
        }
        if w.kind != WorkloadKind::ComposeService && ui.button("Autoscale…").clicked() {
            let (min, max, cpu) = w
                .autoscaler
                .as_ref()
                .map_or((w.desired.max(1), w.desired.max(1) * 2, 70), |h| {
                    (h.min_replicas, h.max_replicas, h.target_cpu_percent)
                });
            app.actions.autoscale_form = Some(AutoscaleForm {
                workload: w.id.clone(),
                min,
                max,
                cpu,
            });
            app.actions.scale_form = None;
        }
    });
    let mut propose = None;
    if let Some(form) = app
        .actions
        .scale_form
        .as_mut()
        .filter(|f| f.workload == w.id)
    {
        ui.horizontal(|ui| {
            ui.label("Replicas:");
            ui.add(
                egui::DragValue::new(&mut form.replicas)
                    .range(0..=crate::actions::plan::MAX_REPLICAS),
            );
            if ui.button("Preview scale").clicked() {
                propose = Some(Action::ScaleWorkload {
                    workload: form.workload.clone(),
                    replicas: form.replicas,
                });
            }
        });
    }
    if let Some(form) = app
        .actions
        .autoscale_form
        .as_mut()
        .filter(|f| f.workload == w.id)
    {
        ui.horizontal(|ui| {
            ui.label("Min");
            ui.add(egui::DragValue::new(&mut form.min).range(1..=1000));
            ui.label("Max");
            ui.add(egui::DragValue::new(&mut form.max).range(1..=1000));
            ui.label("Target CPU %");
            ui.add(egui::DragValue::new(&mut form.cpu).range(1..=100));
            if ui.button("Preview autoscaler").clicked() {
                propose = Some(Action::SetAutoscaler {
                    workload: form.workload.clone(),
                    min_replicas: form.min,
                    max_replicas: form.max,
                    target_cpu_percent: form.cpu,
                });
            }
        });
    }
    if let Some(action) = propose {
        app.propose(action);
    }
}
