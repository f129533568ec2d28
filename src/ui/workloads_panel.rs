//! Workloads: one list of Kubernetes workloads, Compose services and Swarm services, sortable by
//! filter, with live plots of the selected one and the Scale / Autoscale / project scale forms.

use super::charts::{PlotLine, time_plot_ui};
use super::theme;
use super::widgets::{self, panel_header_ui};
use super::workloads_table;
use crate::actions::Action;
use crate::app::{AutoscaleForm, ProjectScaleForm, ScaleForm, ScaleboardApp};
use crate::engine::Area;
use crate::metrics::SeriesKey;
use crate::model::snapshot::{DockerDetails, Workload, WorkloadKind};

pub fn workloads_panel_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    panel_header_ui(ui, app, "Workloads");
    widgets::endpoint_status_ui(ui, app, Area::Workloads);
    for e in app.fleet.in_area(Area::Workloads) {
        for (label, m) in super::status_bar::unwatched_contexts(&e.health) {
            let why = m.reason.as_deref().unwrap_or_default();
            ui.colored_label(
                theme::health_color(m.state),
                format!("{}: {label}: {why}", e.info.id),
            );
        }
    }
    if app.fleet.in_area(Area::Workloads).next().is_none() {
        widgets::nothing_here_ui(
            ui,
            "No workload endpoint in this profile. Add a Kubernetes cluster (contexts of a kubeconfig) or a Docker engine (Compose and Swarm) to the profile; the demo fleet shows what they look like.",
        );
        return;
    }
    ui.horizontal(|ui| {
        ui.label("Filter:");
        ui.add(egui::TextEdit::singleline(&mut app.workload_filter).hint_text("name or namespace"));
    });
    let filter = app.workload_filter.to_lowercase();
    // References, not copies: with 10,000 workloads a per-frame clone would cost more than
    // drawing the visible rows; their order is kept while nothing it depends on changes.
    let rows: Vec<&Workload> = app
        .workload_order
        .rows(&app.fleet, &filter, app.workload_sort);
    let bulk_action = workloads_table::bulk_bar_ui(
        ui,
        &rows,
        &mut app.actions.bulk_selected,
        &mut app.actions.bulk_replicas,
        app.profiles.active.read_only,
    );
    // The table takes the panel's height, leaving room for the selected workload's details.
    let visible = ui.clip_rect().bottom() - ui.cursor().top();
    let height = if app.selected_workload.is_some() {
        (visible - 300.0).max(visible * 0.45)
    } else {
        visible - 40.0
    }
    .max(160.0);
    let page = workloads_table::rows_per_page(ui, height);
    app.view.workload_page_rows = page;
    let mut scroll_to = None;
    let mut moved = None;
    if let Some(step) = workloads_table::RowMove::from_keys(ui.ctx()) {
        let current = app
            .selected_workload
            .as_ref()
            .and_then(|id| rows.iter().position(|w| &w.id == id));
        if let Some(i) = step.apply(current, rows.len(), page) {
            scroll_to = Some(i);
            moved = Some(rows[i].id.clone());
        }
    }
    let now = app.clock.now_ms();
    let stale = stale_endpoints(app, now);
    for (id, age) in &stale {
        ui.colored_label(
            theme::health_color(crate::health::HealthState::Stale),
            format!("{id} is not answering: its rows are greyed and show its last view, {age}."),
        );
    }
    let current = moved.as_ref().or(app.selected_workload.as_ref());
    let lbs = app.fleet.load_balancers.as_slice();
    let clicked = workloads_table::table_ui(
        ui,
        &rows,
        &workloads_table::TableView {
            current,
            scroll_to,
            height,
            stale: &stale,
            now,
            load_balancers: lbs,
            in_progress: &app.fleet.in_progress,
        },
        &mut app.actions.bulk_selected,
        &mut app.workload_sort,
    )
    .or(moved);
    let selected = clicked
        .as_ref()
        .or(app.selected_workload.as_ref())
        .and_then(|id| rows.iter().find(|w| &w.id == id).map(|w| (*w).clone()));
    if let Some(action) = bulk_action {
        app.propose(action);
    }
    if let Some(id) = clicked
        && app.selected_workload.as_ref() != Some(&id)
    {
        app.selected_workload = Some(id);
        app.actions.scale_form = None;
        app.actions.autoscale_form = None;
        app.actions.project_form = None;
    }
    ui.separator();
    if let Some(w) = selected {
        details_ui(app, ui, &w);
    } else {
        ui.weak("Select a workload to see its plots and to scale it.");
    }
}

/// Endpoints whose last poll failed (stale or down) but whose last view is still listed, with
/// the age of that view ("34 s old").
fn stale_endpoints(app: &ScaleboardApp, now: i64) -> std::collections::HashMap<String, String> {
    use crate::health::HealthState;
    app.fleet
        .in_area(Area::Workloads)
        .filter(|e| matches!(e.health.state, HealthState::Stale | HealthState::Down))
        .filter(|e| e.snapshot.is_some())
        .map(|e| {
            let age = e.updated_at.map_or("age unknown".into(), |t| {
                format!("{} s old", (now - t).max(0) / 1000)
            });
            (e.info.id.clone(), age)
        })
        .collect()
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
                Some(crate::model::snapshot::ComposeCli::V2) => "docker compose (v2)",
                Some(crate::model::snapshot::ComposeCli::V1) => "docker-compose (v1)",
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
        ui.heading(format!("{} {}", w.id.kind.label(), w.id));
        let pinned = app.view.pinned.contains(&w.id);
        let label = if pinned {
            "Unpin from overview"
        } else {
            "Pin to overview"
        };
        if ui
            .button(label)
            .on_hover_text("Keep this workload on the Overview's plots beside the top few")
            .clicked()
        {
            if pinned {
                app.view.pinned.remove(&w.id);
            } else {
                app.view.pinned.insert(w.id.clone());
            }
        }
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
        if ui
            .add_enabled(w.scale_denied.is_none(), egui::Button::new("Scale…"))
            .on_disabled_hover_text(w.scale_denied.as_deref().unwrap_or_default())
            .clicked()
        {
            app.actions.scale_form = Some(ScaleForm {
                workload: w.id.clone(),
                replicas: w.desired,
            });
            app.actions.autoscale_form = None;
            app.actions.project_form = None;
        }
        let docker = matches!(
            w.id.kind,
            WorkloadKind::ComposeService | WorkloadKind::SwarmService
        );
        if workloads_table::bulk_scalable(w)
            && ui
                .button("Select namespace")
                .on_hover_text("Tick every Deployment and StatefulSet of this namespace for a bulk scale (e.g. to 0)")
                .clicked()
        {
            let same: Vec<_> = app
                .fleet
                .workloads()
                .filter(|o| {
                    workloads_table::bulk_scalable(o)
                        && o.id.endpoint == w.id.endpoint
                        && o.id.scope == w.id.scope
                })
                .map(|o| o.id.clone())
                .collect();
            app.actions.bulk_selected.extend(same);
        }
        if w.id.kind == WorkloadKind::ComposeService && ui.button("Scale project…").clicked() {
            let services = app
                .fleet
                .workloads()
                .filter(|o| {
                    o.id.kind == WorkloadKind::ComposeService
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
        if !docker
            && ui
                .add_enabled(
                    w.autoscale_denied.is_none(),
                    egui::Button::new("Autoscale…"),
                )
                .on_disabled_hover_text(w.autoscale_denied.as_deref().unwrap_or_default())
                .clicked()
        {
            let prefilled = w
                .autoscaler
                .as_ref()
                .map(|h| (h.min_replicas, h.max_replicas, h.target_cpu_percent));
            let (min, max, cpu) = prefilled.unwrap_or((
                w.desired.max(1),
                w.desired.max(1) * 2,
                crate::actions::plan::NEW_AUTOSCALER_CPU_PERCENT,
            ));
            app.actions.autoscale_form = Some(AutoscaleForm {
                workload: w.id.clone(),
                min,
                max,
                cpu,
                prefilled,
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
            ui.add(
                egui::DragValue::new(&mut form.min)
                    .range(1..=1000)
                    .clamp_existing_to_range(false),
            );
            ui.label("Max");
            ui.add(
                egui::DragValue::new(&mut form.max)
                    .range(1..=1000)
                    .clamp_existing_to_range(false),
            );
            ui.label("Target CPU %");
            ui.add(
                egui::DragValue::new(&mut form.cpu)
                    .range(1..=1000)
                    .clamp_existing_to_range(false),
            );
            if ui.button("Preview autoscaler").clicked() {
                let (min, max, cpu) = form.values(w.autoscaler.as_ref());
                propose = Some(Action::SetAutoscaler {
                    workload: form.workload.clone(),
                    min_replicas: min,
                    max_replicas: max,
                    target_cpu_percent: cpu,
                });
            }
            if w.autoscaler.is_some() && ui.button("Delete autoscaler…").clicked() {
                propose = Some(Action::DeleteAutoscaler {
                    workload: form.workload.clone(),
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
