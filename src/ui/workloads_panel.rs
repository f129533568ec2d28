//! Workloads: one list of Kubernetes workloads, Compose services and Swarm services, sortable by
//! filter, with live plots of the selected one and the Scale / Autoscale / project scale forms.

use super::charts::{PlotLine, time_plot_ui};
use super::theme;
use super::widgets::{self, panel_header_ui};
use crate::actions::Action;
use crate::app::{AutoscaleForm, ProjectScaleForm, ScaleForm, ScaleboardApp};
use crate::connectors::snapshot::{DockerDetails, Workload, WorkloadKind};
use crate::engine::Area;
use crate::metrics::SeriesKey;
use egui_extras::{Column, TableBuilder};

pub fn workloads_panel_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    panel_header_ui(ui, app, "Workloads");
    widgets::endpoint_status_ui(ui, app, Area::Workloads);
    if app.fleet.in_area(Area::Workloads).next().is_none() {
        widgets::nothing_here_ui(
            ui,
            "No workload endpoint in this profile. Add a Docker engine (Compose and Swarm) to the profile; the Kubernetes connector is not built yet (issue #4). The demo fleet shows what they look like.",
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
        .column(Column::auto().at_least(110.0))
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
                "Health / restarts",
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
                    health_cell_ui(ui, w.docker.as_deref());
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
        app.actions.project_form = None;
    }
}

/// "2 ok, 1 starting · 3 restarts" for Docker services; "—" where there is nothing to say.
fn health_cell_ui(ui: &mut egui::Ui, docker: Option<&DockerDetails>) {
    let Some(d) = docker else {
        ui.label("—");
        return;
    };
    let health = d.health.map_or_else(
        || "no check".to_string(),
        |h| {
            let mut parts = vec![format!("{} ok", h.healthy)];
            if h.starting > 0 {
                parts.push(format!("{} starting", h.starting));
            }
            if h.unhealthy > 0 {
                parts.push(format!("{} unhealthy", h.unhealthy));
            }
            parts.join(", ")
        },
    );
    let text = format!("{health} · {} restarts", d.restarts);
    let bad = d.health.is_some_and(|h| h.unhealthy > 0) || d.restarts > 0;
    let color = if bad {
        theme::WARN
    } else {
        ui.visuals().text_color()
    };
    ui.colored_label(color, text);
}

/// What Docker adds to a selected Compose or Swarm service: containers, files, guards' facts.
fn docker_details_ui(ui: &mut egui::Ui, d: &DockerDetails) {
    let mut facts = Vec::new();
    facts.push(format!("{} restarts", d.restarts));
    if let Some(bytes) = d.memory_bytes {
        facts.push(format!(
            "memory {}",
            crate::actions::plan::format_bytes(bytes)
        ));
    }
    if let Some(name) = &d.container_name {
        facts.push(format!("container_name \"{name}\" (one container only)"));
    }
    if d.global_mode {
        facts.push("global mode (one per node)".into());
    }
    ui.label(facts.join(" · "));
    if !d.containers.is_empty() {
        ui.weak(format!("Containers: {}", d.containers.join(", ")));
    }
    if let Some(c) = &d.compose {
        ui.weak(format!(
            "Files: {} in {} · {}",
            c.config_files.join(", "),
            c.working_dir,
            match c.cli {
                Some(crate::connectors::snapshot::ComposeCli::V2) => "docker compose (v2)",
                Some(crate::connectors::snapshot::ComposeCli::V1) => "docker-compose (v1)",
                None => "no compose command installed",
            }
        ));
        for warning in &c.file_warnings {
            ui.colored_label(theme::WARN, warning);
        }
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
    if let Some(d) = &w.docker {
        docker_details_ui(ui, d);
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
            app.actions.project_form = None;
        }
        let docker = matches!(
            w.kind,
            WorkloadKind::ComposeService | WorkloadKind::SwarmService
        );
        if w.kind == WorkloadKind::ComposeService && ui.button("Scale project…").clicked() {
            let services = app
                .fleet
                .workloads()
                .filter(|o| {
                    o.kind == WorkloadKind::ComposeService
                        && o.id.endpoint == w.id.endpoint
                        && o.id.scope == w.id.scope
                })
                .map(|o| (o.id.name.clone(), o.desired))
                .collect();
            app.actions.project_form = Some(ProjectScaleForm {
                endpoint: w.id.endpoint.clone(),
                project: w.id.scope.clone(),
                services,
            });
            app.actions.scale_form = None;
            app.actions.autoscale_form = None;
        }
        if !docker && ui.button("Autoscale…").clicked() {
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
            app.actions.project_form = None;
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
    if let Some(form) = app
        .actions
        .project_form
        .as_mut()
        .filter(|f| f.endpoint == w.id.endpoint && f.project == w.id.scope)
    {
        ui.horizontal_wrapped(|ui| {
            ui.label(format!("Project {}:", form.project));
            for (service, n) in &mut form.services {
                ui.label(service.as_str());
                ui.add(egui::DragValue::new(n).range(0..=crate::actions::plan::MAX_REPLICAS));
            }
            if ui.button("Preview project scale").clicked() {
                propose = Some(Action::ScaleComposeServices {
                    endpoint: form.endpoint.clone(),
                    project: form.project.clone(),
                    services: form.services.clone(),
                });
            }
        });
    }
    if let Some(action) = propose {
        app.propose(action);
    }
}
