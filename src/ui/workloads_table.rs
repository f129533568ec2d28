//! The workloads table (sortable, filterable in place, only visible rows laid out) and the bulk
//! bar that scales every ticked Deployment/StatefulSet in one confirmed step.

use super::theme;
use super::widgets;
use crate::actions::Action;
use crate::actions::plan::MAX_REPLICAS;
use crate::model::snapshot::{DockerDetails, Workload, WorkloadKind, WorkloadRef};
use egui_extras::{Column, TableBuilder};
use std::cmp::Ordering;
use std::collections::BTreeSet;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortKey {
    /// Namespace (or project), then name: the order the fleet arrives in.
    #[default]
    Scope,
    Name,
    Desired,
    Ready,
    Cpu,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WorkloadSort {
    pub key: SortKey,
    pub descending: bool,
}

impl WorkloadSort {
    pub fn apply(&self, rows: &mut [&Workload]) {
        let by = |a: &&Workload, b: &&Workload| -> Ordering {
            match self.key {
                SortKey::Scope => a.id.cmp(&b.id),
                SortKey::Name => a.id.name.cmp(&b.id.name).then_with(|| a.id.cmp(&b.id)),
                SortKey::Desired => a.desired.cmp(&b.desired).then_with(|| a.id.cmp(&b.id)),
                SortKey::Ready => {
                    // Least ready first: the rows that need attention.
                    let gap = |w: &Workload| i64::from(w.desired) - i64::from(w.ready);
                    gap(b).cmp(&gap(a)).then_with(|| a.id.cmp(&b.id))
                }
                SortKey::Cpu => a
                    .cpu_percent
                    .unwrap_or(-1.0)
                    .total_cmp(&b.cpu_percent.unwrap_or(-1.0))
                    .then_with(|| a.id.cmp(&b.id)),
            }
        };
        if self.descending {
            rows.sort_unstable_by(|a, b| by(b, a));
        } else {
            rows.sort_unstable_by(by);
        }
    }

    fn click(&mut self, key: SortKey) {
        if self.key == key {
            self.descending = !self.descending;
        } else {
            *self = Self {
                key,
                descending: false,
            };
        }
    }
}

/// Kubernetes kinds can be scaled together; Compose projects have their own project form.
pub fn bulk_scalable(w: &Workload) -> bool {
    matches!(
        w.id.kind,
        WorkloadKind::Deployment | WorkloadKind::StatefulSet
    )
}

/// "N selected · Scale to [n] · Preview": returns the bulk action when asked for.
pub fn bulk_bar_ui(
    ui: &mut egui::Ui,
    rows: &[&Workload],
    selected: &mut BTreeSet<WorkloadRef>,
    replicas: &mut u32,
    read_only: bool,
) -> Option<Action> {
    let mut action = None;
    ui.horizontal_wrapped(|ui| {
        let shown: Vec<&WorkloadRef> = rows
            .iter()
            .filter(|w| bulk_scalable(w))
            .map(|w| &w.id)
            .collect();
        if ui
            .add_enabled(!shown.is_empty(), egui::Button::new("Select all shown"))
            .on_hover_text("Tick every Deployment and StatefulSet the filter shows (filter by namespace to select a whole namespace)")
            .clicked()
        {
            selected.extend(shown.iter().map(|id| (*id).clone()));
        }
        if selected.is_empty() {
            ui.weak("Tick workloads to scale several at once.");
            return;
        }
        if ui.button("Clear selection").clicked() {
            selected.clear();
            return;
        }
        ui.label(format!("{} selected", selected.len()));
        if read_only {
            ui.colored_label(theme::WARN, "Read-only profile: scaling is not offered.");
            return;
        }
        ui.label("scale all to");
        ui.add(egui::DragValue::new(replicas).range(0..=MAX_REPLICAS));
        let endpoints: BTreeSet<&str> = selected.iter().map(|w| w.endpoint.as_str()).collect();
        let one_endpoint = endpoints.len() == 1;
        if ui
            .add_enabled(one_endpoint, egui::Button::new("Preview bulk scale"))
            .on_disabled_hover_text("The selection spans several endpoints: scale one at a time.")
            .clicked()
            && let Some(first) = selected.first()
        {
            action = Some(Action::ScaleWorkloads {
                endpoint: first.endpoint.clone(),
                targets: selected.iter().map(|id| (id.clone(), *replicas)).collect(),
            });
        }
    });
    action
}

/// Draws the table; returns the workload whose row was clicked.
pub fn table_ui(
    ui: &mut egui::Ui,
    rows: &[&Workload],
    current: Option<&WorkloadRef>,
    ticked: &mut BTreeSet<WorkloadRef>,
    sort: &mut WorkloadSort,
) -> Option<WorkloadRef> {
    let mut clicked = None;
    TableBuilder::new(ui)
        .id_salt("workloads_table")
        .striped(true)
        .sense(egui::Sense::click())
        .max_scroll_height(260.0)
        .column(Column::exact(22.0))
        .column(Column::auto().at_least(90.0))
        .column(Column::auto().at_least(180.0))
        .column(Column::remainder().at_least(140.0))
        .columns(Column::auto().at_least(60.0), 5)
        .column(Column::auto().at_least(110.0))
        .column(Column::auto().at_least(150.0))
        .header(20.0, |mut h| {
            let titles: [(&str, Option<SortKey>); 11] = [
                ("", None),
                ("Kind", None),
                ("Namespace / project", Some(SortKey::Scope)),
                ("Name", Some(SortKey::Name)),
                ("Desired", Some(SortKey::Desired)),
                ("Ready", Some(SortKey::Ready)),
                ("Updated", None),
                ("CPU", Some(SortKey::Cpu)),
                ("Memory", None),
                ("Health / restarts", None),
                ("Autoscaler", None),
            ];
            for (title, key) in titles {
                h.col(|ui| match key {
                    Some(key) => {
                        let arrow = match (sort.key == key, sort.descending) {
                            (false, _) => "",
                            (true, false) => " (asc)",
                            (true, true) => " (desc)",
                        };
                        if ui
                            .add(
                                egui::Button::new(
                                    egui::RichText::new(format!("{title}{arrow}")).strong(),
                                )
                                .frame(false),
                            )
                            .on_hover_text("Sort by this column; click again to reverse")
                            .clicked()
                        {
                            sort.click(key);
                        }
                    }
                    None => {
                        ui.strong(title);
                    }
                });
            }
        })
        // Only visible rows are laid out, so 10,000 workloads cost what 20 do.
        .body(|body| {
            body.rows(20.0, rows.len(), |mut row| {
                let w = rows[row.index()];
                row.set_selected(current == Some(&w.id));
                row.col(|ui| {
                    if bulk_scalable(w) {
                        let mut on = ticked.contains(&w.id);
                        if ui
                            .checkbox(&mut on, "")
                            .on_hover_text("Include in a bulk scale")
                            .changed()
                        {
                            if on {
                                ticked.insert(w.id.clone());
                            } else {
                                ticked.remove(&w.id);
                            }
                        }
                    }
                });
                row.col(|ui| {
                    ui.label(w.id.kind.label());
                });
                row.col(|ui| {
                    ui.label(&w.id.scope);
                });
                row.col(|ui| {
                    if ui
                        .selectable_label(current == Some(&w.id), &w.id.name)
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
                            let now = h
                                .current_cpu_percent
                                .map_or(String::new(), |c| format!(" (now {c:.0} %)"));
                            format!(
                                "{}–{} @ {} %{now}",
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
    clicked
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
