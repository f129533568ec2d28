//! The workloads table (sortable, filterable in place, only visible rows laid out) and the bulk
//! bar that scales every ticked Deployment/StatefulSet in one confirmed step.

use super::theme;
use super::widgets;
use crate::actions::Action;
use crate::actions::plan::MAX_REPLICAS;
use crate::model::snapshot::{DockerDetails, Workload, WorkloadKind, WorkloadRef};
use egui_extras::{Column, TableBuilder};
use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap};

/// Height of a table row without the spacing between rows.
pub const ROW_HEIGHT: f32 = 20.0;

/// A keyboard move of the selected row, as k9s and Lens users expect: arrows move by one row,
/// Page Up/Down by a page of visible rows, Home/End to the first and last; the view follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowMove {
    Up,
    Down,
    PageUp,
    PageDown,
    First,
    Last,
}

impl RowMove {
    /// Reads (and consumes) a move key, unless a text field has the keyboard.
    pub fn from_keys(ctx: &egui::Context) -> Option<Self> {
        if ctx.egui_wants_keyboard_input() {
            return None;
        }
        ctx.input_mut(|i| {
            [
                (egui::Key::ArrowUp, Self::Up),
                (egui::Key::ArrowDown, Self::Down),
                (egui::Key::PageUp, Self::PageUp),
                (egui::Key::PageDown, Self::PageDown),
                (egui::Key::Home, Self::First),
                (egui::Key::End, Self::Last),
            ]
            .into_iter()
            .find(|(key, _)| i.consume_key(egui::Modifiers::NONE, *key))
            .map(|(_, m)| m)
        })
    }

    /// The row to select after this move from `current` (no selection counts as the first row).
    pub fn apply(self, current: Option<usize>, rows: usize, page: usize) -> Option<usize> {
        let last = rows.checked_sub(1)?;
        let at = current.unwrap_or(0).min(last);
        let page = page.max(1);
        Some(match (self, current) {
            (Self::Up | Self::Down, None) => 0,
            (Self::Up, Some(_)) => at.saturating_sub(1),
            (Self::Down, Some(_)) => (at + 1).min(last),
            (Self::PageUp, _) => at.saturating_sub(page),
            (Self::PageDown, _) => (at + page).min(last),
            (Self::First, _) => 0,
            (Self::Last, _) => last,
        })
    }
}

/// What the table needs besides its rows: selection, where to scroll, its height, and which
/// endpoints' rows are stale (greyed, with the age of the view they come from).
pub struct TableView<'a> {
    pub current: Option<&'a WorkloadRef>,
    pub scroll_to: Option<usize>,
    pub height: f32,
    /// Endpoint id → "34 s old" for endpoints whose last poll failed.
    pub stale: &'a HashMap<String, String>,
    /// The clock, for the age of rows that are stale on their own (a context not answering).
    pub now: i64,
    /// Linked nginx upstreams, shown on their workload's row.
    pub load_balancers: &'a [crate::connectors::nginx::status::LinkReport],
    /// Lock identity → holder: colleagues' actions running now (team mode).
    pub in_progress: &'a HashMap<String, String>,
}

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
        self.apply_by(rows, |w| *w);
    }

    /// Sort any rows that hold a workload, by this key.
    pub fn apply_by<T>(&self, rows: &mut [T], of: impl Fn(&T) -> &Workload) {
        let by = |a: &T, b: &T| -> Ordering {
            let (a, b) = (of(a), of(b));
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
/// The Workloads table's rows in their shown order, as (endpoint, row) indices into the
/// fleet's snapshots. Sorting 10,000 rows by name on every frame took about half of a frame's
/// CPU in the 150,000-pod relist bench (comparing ids that share long prefixes); the order
/// changes only with a new snapshot, the filter or the sort, so it is made once for them.
#[derive(Default)]
pub struct RowOrder {
    made_for: Option<(u64, String, WorkloadSort)>,
    order: Vec<(usize, usize)>,
}

impl RowOrder {
    /// The rows `filter` (lower case, on name or namespace/project) lets through, in `sort`'s
    /// order: references into the snapshots, no copies.
    pub fn rows<'a>(
        &mut self,
        fleet: &'a crate::app::FleetState,
        filter: &str,
        sort: WorkloadSort,
    ) -> Vec<&'a Workload> {
        let lists: Vec<&'a [Workload]> = fleet
            .endpoints
            .iter()
            .map(|e| match &e.snapshot {
                Some(crate::model::snapshot::Snapshot::Workloads(list)) => list.as_slice(),
                _ => &[],
            })
            .collect();
        let current = matches!(&self.made_for,
            Some((generation, f, s)) if *generation == fleet.generation && f == filter && *s == sort);
        // The default order of lists that arrive sorted: endpoints by id, then each one's rows
        // as they are (no comparison of the rows' long ids, no touch of 10,000 rows).
        let presorted = filter.is_empty()
            && sort == WorkloadSort::default()
            && fleet.endpoints.iter().all(|e| match &e.snapshot {
                Some(crate::model::snapshot::Snapshot::Workloads(list)) => list.sorted_by_id,
                _ => true,
            });
        if !current && presorted {
            let mut endpoints: Vec<usize> = (0..lists.len()).collect();
            endpoints.sort_by(|a, b| {
                fleet.endpoints[*a]
                    .info
                    .id
                    .cmp(&fleet.endpoints[*b].info.id)
            });
            self.order = endpoints
                .into_iter()
                .flat_map(|e| (0..lists[e].len()).map(move |r| (e, r)))
                .collect();
            self.made_for = Some((fleet.generation, filter.to_string(), sort));
        } else if !current {
            let mut rows: Vec<((usize, usize), &Workload)> = lists
                .iter()
                .enumerate()
                .flat_map(|(e, list)| list.iter().enumerate().map(move |(r, w)| ((e, r), w)))
                .filter(|(_, w)| {
                    filter.is_empty()
                        || w.id.name.to_lowercase().contains(filter)
                        || w.id.scope.to_lowercase().contains(filter)
                })
                .collect();
            sort.apply_by(&mut rows, |(_, w)| *w);
            self.order = rows.into_iter().map(|(at, _)| at).collect();
            self.made_for = Some((fleet.generation, filter.to_string(), sort));
        }
        self.order
            .iter()
            .filter_map(|&(e, r)| lists.get(e).and_then(|l| l.get(r)))
            .collect()
    }
}

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
        // Any, not all, on every frame: at 10,000 rows a walk of them all cost a millisecond
        // a frame; the whole list is gathered only on a click.
        let any_shown = rows.iter().any(|w| bulk_scalable(w));
        if ui
            .add_enabled(any_shown, egui::Button::new("Select all shown"))
            .on_hover_text("Tick every Deployment and StatefulSet the filter shows (filter by namespace to select a whole namespace)")
            .clicked()
        {
            selected.extend(rows.iter().filter(|w| bulk_scalable(w)).map(|w| w.id.clone()));
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

/// Rows that fit in a table body of `height` points: the size of a Page Up/Down step.
pub fn rows_per_page(ui: &egui::Ui, height: f32) -> usize {
    let row = ROW_HEIGHT + ui.spacing().item_spacing.y;
    ((height / row).floor() as usize).max(1)
}

/// Draws the table; returns the workload whose row was clicked.
pub fn table_ui(
    ui: &mut egui::Ui,
    rows: &[&Workload],
    view: &TableView<'_>,
    ticked: &mut BTreeSet<WorkloadRef>,
    sort: &mut WorkloadSort,
) -> Option<WorkloadRef> {
    let mut clicked = None;
    let current = view.current;
    let mut table = TableBuilder::new(ui)
        .id_salt("workloads_table")
        .striped(true)
        .sense(egui::Sense::click())
        .min_scrolled_height(view.height)
        .max_scroll_height(view.height);
    if let Some(row) = view.scroll_to {
        table = table.scroll_to_row(row, None);
    }
    table
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
            body.rows(ROW_HEIGHT, rows.len(), |mut row| {
                let w = rows[row.index()];
                row.set_selected(current == Some(&w.id));
                // The last view of an endpoint that stopped answering: greyed, with its age.
                let stale_row = w
                    .stale_since
                    .map(|t| format!("{} s old", (view.now - t).max(0) / 1000));
                let stale = view.stale.get(&w.id.endpoint).or(stale_row.as_ref());
                let grey = |ui: &mut egui::Ui| {
                    if stale.is_some() {
                        let weak = ui.visuals().weak_text_color();
                        ui.visuals_mut().override_text_color = Some(weak);
                    }
                };
                row.col(|ui| {
                    grey(ui);
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
                    grey(ui);
                    ui.label(w.id.kind.label());
                });
                row.col(|ui| {
                    grey(ui);
                    match stale {
                        Some(age) => {
                            ui.label(format!("{} · {age}", w.id.scope))
                                .on_hover_text(format!("Stale: the endpoint stopped answering; this is its last view, {age}."));
                        }
                        None => {
                            ui.label(&w.id.scope);
                        }
                    }
                });
                row.col(|ui| {
                    grey(ui);
                    // The badge sits beside the name: a cell's vertical layout would put it on a
                    // line of its own, where it reads as the next row's.
                    ui.horizontal(|ui| {
                        if ui
                            .selectable_label(current == Some(&w.id), &w.id.name)
                            .clicked()
                        {
                            clicked = Some(w.id.clone());
                        }
                        for lb in view.load_balancers.iter().filter(|l| l.workload_ref == w.id) {
                            super::health_lb::row_badge_ui(ui, lb);
                        }
                        if let Some(holder) = super::in_progress::on_workload(view.in_progress, &w.id) {
                            super::in_progress::badge_ui(ui, holder);
                        }
                    });
                });
                row.col(|ui| {
                    grey(ui);
                    ui.label(w.desired.to_string());
                });
                row.col(|ui| {
                    grey(ui);
                    let color = if stale.is_some() {
                        ui.visuals().weak_text_color()
                    } else if w.ready < w.desired {
                        theme::WARN
                    } else {
                        ui.visuals().text_color()
                    };
                    ui.colored_label(color, w.ready.to_string());
                });
                row.col(|ui| {
                    grey(ui);
                    ui.label(w.updated.to_string());
                });
                row.col(|ui| {
                    grey(ui);
                    ui.label(widgets::percent(w.cpu_percent));
                });
                row.col(|ui| {
                    grey(ui);
                    ui.label(widgets::percent(w.memory_percent));
                });
                row.col(|ui| {
                    grey(ui);
                    health_cell_ui(ui, w.docker.as_deref());
                });
                row.col(|ui| {
                    grey(ui);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::FleetState;
    use crate::model::snapshot::Snapshot;

    fn w(scope: &str, name: &str, desired: u32) -> Workload {
        Workload {
            id: WorkloadRef::new("k8s", scope, WorkloadKind::Deployment, name),
            revision: None,
            resource_version: None,
            stale_since: None,
            desired,
            ready: desired,
            available: desired,
            updated: desired,
            cpu_percent: None,
            memory_percent: None,
            autoscaler: None,
            fixed_host_port: None,
            pending_reason: None,
            docker: None,
            scale_denied: None,
            autoscale_denied: None,
        }
    }

    fn fleet(lists: Vec<Vec<Workload>>) -> FleetState {
        let mut fleet = FleetState::default();
        let infos = (0..lists.len())
            .map(|i| crate::engine::EndpointInfo {
                id: format!("k8s-{i}"),
                label: format!("cluster {i}"),
                area: crate::engine::Area::Workloads,
                demo: false,
            })
            .collect();
        fleet.reset(infos);
        for (e, list) in fleet.endpoints.iter_mut().zip(lists) {
            e.snapshot = Some(Snapshot::Workloads(list.into()));
        }
        fleet
    }

    fn names(rows: &[&Workload]) -> Vec<String> {
        rows.iter().map(|w| w.id.name.clone()).collect()
    }

    /// The order is made once per snapshot, filter and sort, and made again when any of the
    /// three changes (a new snapshot is known by the fleet's generation).
    #[test]
    fn lists_the_engine_found_sorted_keep_their_order_as_sorting_would() {
        let by_scope = WorkloadSort::default();
        // Lists the engine found in order, each of its own endpoint: the default order is the
        // endpoints' then the rows' as they are, the same as sorting them.
        let mut sorted = fleet(vec![
            vec![w("a", "api", 5), w("b", "web", 3)],
            vec![w("a", "cron", 1)],
        ]);
        for (i, e) in sorted.endpoints.iter_mut().enumerate() {
            if let Some(Snapshot::Workloads(list)) = &mut e.snapshot {
                for row in list.rows.iter_mut() {
                    row.id.endpoint = format!("k8s-{i}");
                }
                list.sorted_by_id = true;
            }
        }
        let presorted = names(&RowOrder::default().rows(&sorted, "", by_scope));
        assert_eq!(presorted, ["api", "web", "cron"]);
        for e in &mut sorted.endpoints {
            if let Some(Snapshot::Workloads(list)) = &mut e.snapshot {
                list.sorted_by_id = false;
            }
        }
        sorted.generation += 1;
        assert_eq!(
            names(&RowOrder::default().rows(&sorted, "", by_scope)),
            presorted
        );
    }

    #[test]
    fn the_order_follows_new_snapshots_filters_and_sorts() {
        let mut fleet = fleet(vec![
            vec![w("b", "web", 3), w("a", "api", 5)],
            vec![w("a", "cron", 1)],
        ]);
        let mut order = RowOrder::default();
        let by_scope = WorkloadSort::default();
        let by_desired = WorkloadSort {
            key: SortKey::Desired,
            descending: true,
        };
        assert_eq!(
            names(&order.rows(&fleet, "", by_scope)),
            ["api", "cron", "web"]
        );
        assert_eq!(
            names(&order.rows(&fleet, "", by_desired)),
            ["api", "web", "cron"]
        );
        assert_eq!(names(&order.rows(&fleet, "c", by_desired)), ["cron"]);
        // A new snapshot with other rows (and fewer of them): the order is made again.
        fleet.endpoints[0].snapshot = Some(Snapshot::Workloads(vec![w("c", "worker", 9)].into()));
        fleet.generation += 1;
        assert_eq!(
            names(&order.rows(&fleet, "", by_desired)),
            ["worker", "cron"]
        );
        // The same generation, the same answer, without sorting again.
        let made = order.made_for.clone();
        assert_eq!(
            names(&order.rows(&fleet, "", by_desired)),
            ["worker", "cron"]
        );
        assert_eq!(order.made_for, made);
    }
}
