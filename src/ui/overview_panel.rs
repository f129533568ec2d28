//! Overview: a tile per area with its status, the fleet's totals, and plots of the whole fleet
//! and of the few members that matter (worst first, plus pins); areas without an endpoint take
//! one line, not empty plots.

use super::charts::{PlotLine, time_plot_ui};
use super::theme;
use super::widgets::panel_header_ui;
use crate::app::ScaleboardApp;
use crate::app::overview::{CpuSource, FLEET_TARGET, Rank, TOP};
use crate::engine::Area;
use crate::metrics::SeriesKey;
use crate::model::snapshot::DbRole;

/// Lines per plot of databases, caches, queues and checks: the worst few by their own measure.
const MAX_LINES: usize = 5;

/// One plot of the Overview: (plot id, title, unit, lines as (series, legend label)).
pub struct OverviewPlot {
    pub id: &'static str,
    pub title: String,
    pub unit: &'static str,
    pub lines: Vec<(SeriesKey, String)>,
    /// Why there is nothing (or only part of the fleet) to plot, in one line: drawn instead of
    /// an empty plot when there are no lines, under the plot's title otherwise.
    pub note: Option<String>,
}

/// The worst `MAX_LINES` of a list by `score` (highest first), ties by name.
fn worst<T>(items: Vec<(f64, SeriesKey, String, T)>) -> Vec<(SeriesKey, String)> {
    let mut items = items;
    items.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.2.cmp(&b.2)));
    items
        .into_iter()
        .take(MAX_LINES)
        .map(|(_, k, l, _)| (k, l))
        .collect()
}

/// What the Overview plots, given the current fleet: the fleet's totals, the top workloads by
/// the chosen measure and by CPU (plus pins), and the worst few of every other area that has
/// an endpoint. Areas without an endpoint get no plot. Public for the UI tests.
pub fn overview_plots(app: &ScaleboardApp) -> Vec<OverviewPlot> {
    let mut plots = Vec::new();
    let has = |area| app.fleet.in_area(area).next().is_some();
    let ranked =
        |list: &[crate::app::overview::Ranked], metric: &str| -> Vec<(SeriesKey, String)> {
            list.iter()
                .map(|r| {
                    let pin = if r.pinned { " (pinned)" } else { "" };
                    (
                        SeriesKey::new(r.id.target(), metric),
                        format!("{} — {}{pin}", r.label, r.why),
                    )
                })
                .collect()
        };
    if has(Area::Workloads) {
        // No workload has ever been seen: no totals to draw, one line instead.
        let never = app.overview.totals.all.workloads == 0
            && !app.store.contains(&SeriesKey::new(FLEET_TARGET, "desired"));
        plots.push(OverviewPlot {
            id: "ov_fleet",
            title: format!(
                "Replicas, whole fleet ({} workloads)",
                app.overview.totals.all.workloads
            ),
            unit: "count",
            lines: if never {
                Vec::new()
            } else {
                vec![
                    (SeriesKey::new(FLEET_TARGET, "desired"), "desired".into()),
                    (SeriesKey::new(FLEET_TARGET, "ready"), "ready".into()),
                    (
                        SeriesKey::new(FLEET_TARGET, "not_ready"),
                        "not ready".into(),
                    ),
                ]
            },
            note: never.then(|| {
                why_empty(
                    app,
                    Area::Workloads,
                    "No replicas to plot: no workload in view",
                )
            }),
        });
        // Ranked by readiness: their ready count (the desired one is in the label); by change:
        // the replica count that changed.
        let (what, metric) = match app.view.overview_rank {
            Rank::BiggestChange => ("Replicas", "replicas"),
            _ => ("Ready replicas", "ready"),
        };
        let cpu_note = cpu_note(app);
        let no_workloads = app.overview.totals.all.workloads == 0;
        let lines = ranked(&app.overview.by_rank, metric);
        let note = match app.view.overview_rank {
            _ if !lines.is_empty() => None,
            _ if no_workloads => Some(why_empty(app, Area::Workloads, "No workload to rank")),
            Rank::NotReady => Some("Every replica is ready: no workload to rank.".to_owned()),
            Rank::FurthestFromDesired => {
                Some("Every workload is at its desired count: none to rank.".to_owned())
            }
            Rank::BiggestChange => {
                Some("No replica count changed in the selected range.".to_owned())
            }
            Rank::HighestCpu => cpu_note.clone(),
        };
        plots.push(OverviewPlot {
            id: "ov_replicas",
            title: format!("{what}: top {TOP} by {}", app.view.overview_rank.label()),
            unit: "count",
            lines,
            note,
        });
        let lines = ranked(&app.overview.by_cpu, "cpu_percent");
        let note = if lines.is_empty() && no_workloads {
            Some(why_empty(app, Area::Workloads, "No CPU to plot"))
        } else {
            cpu_note
        };
        plots.push(OverviewPlot {
            id: "ov_cpu",
            title: format!("CPU per replica: top {TOP}"),
            unit: "% of request",
            lines,
            note,
        });
    }
    if has(Area::Databases) {
        let lag = app
            .fleet
            .databases()
            .flat_map(|(e, db)| {
                db.servers
                    .iter()
                    .filter(|s| s.role == DbRole::Replica)
                    .map(move |s| {
                        (
                            s.lag_bytes.unwrap_or(0) as f64,
                            SeriesKey::new(format!("{}/{}", e.info.id, s.name), "lag_bytes"),
                            s.name.clone(),
                            (),
                        )
                    })
            })
            .collect::<Vec<_>>();
        // Patroni members report their lag in bytes of WAL too (MySQL/MariaDB only in seconds,
        // on their own view).
        let patroni = app.fleet.patroni_snapshots().flat_map(|(e, p)| {
            p.members.iter().filter_map(move |m| {
                m.lag_bytes.map(|lag| {
                    (
                        lag as f64,
                        SeriesKey::new(format!("{}/{}", e.info.id, m.name), "lag_bytes"),
                        m.name.clone(),
                        (),
                    )
                })
            })
        });
        let lines = worst(lag.into_iter().chain(patroni).collect());
        let note = lines.is_empty().then(|| {
            why_empty(
                app,
                Area::Databases,
                "No replication lag to plot: no PostgreSQL or Patroni replica in view",
            )
        });
        plots.push(OverviewPlot {
            id: "ov_lag",
            title: "Replication lag, largest".into(),
            unit: "bytes",
            lines,
            note,
        });
    }
    if has(Area::Cache) {
        let hit = app
            .fleet
            .cache_nodes()
            .filter(|(_, n)| !n.queue_store)
            .map(|(e, n)| {
                (
                    -n.hit_ratio.unwrap_or(1.0),
                    SeriesKey::new(format!("{}/{}", e.info.id, n.name), "hit_ratio"),
                    n.name.clone(),
                    (),
                )
            })
            .collect();
        let lines = worst(hit);
        let note = lines.is_empty().then(|| {
            why_empty(
                app,
                Area::Cache,
                "No hit ratio to plot: no cache server in view (a Redis used only for queues has none)",
            )
        });
        plots.push(OverviewPlot {
            id: "ov_hit",
            title: "Cache hit ratio, lowest".into(),
            unit: "ratio",
            lines,
            note,
        });
    }
    if has(Area::Queues) {
        let depth = app
            .fleet
            .queues()
            .map(|(e, q)| {
                (
                    q.depth as f64,
                    SeriesKey::new(format!("{}/{}", e.info.id, q.name), "depth"),
                    q.name.clone(),
                    (),
                )
            })
            .collect();
        let lines = worst(depth);
        let note = lines.is_empty().then(|| {
            why_empty(
                app,
                Area::Queues,
                "No queue depth to plot: no queue in view",
            )
        });
        plots.push(OverviewPlot {
            id: "ov_depth",
            title: "Queue depth, deepest".into(),
            unit: "jobs",
            lines,
            note,
        });
    }
    if has(Area::Health) {
        let p95 = app
            .fleet
            .health_checks()
            .map(|(e, h)| {
                let key = SeriesKey::new(format!("{}/{}", e.info.id, h.name), "p95_ms");
                let latest = app.store.latest(&key).map_or(0.0, |(_, v)| v);
                let down = if h.up { 0.0 } else { 1e12 };
                (latest + down, key, h.name.clone(), ())
            })
            .collect();
        let lines = worst(p95);
        let note = lines.is_empty().then(|| {
            why_empty(
                app,
                Area::Health,
                "No latency to plot: no health check in view",
            )
        });
        plots.push(OverviewPlot {
            id: "ov_p95",
            title: "p95 latency, slowest".into(),
            unit: "ms",
            lines,
            note,
        });
    }
    plots
}

/// Why a plot of `area` has nothing to draw: the area's endpoints that are not answering, by
/// name, else `otherwise` ("No queue depth to plot: no queue in view").
fn why_empty(app: &ScaleboardApp, area: Area, otherwise: &str) -> String {
    use crate::health::HealthState;
    let silent: Vec<&str> = app
        .fleet
        .in_area(area)
        .filter(|e| e.snapshot.is_none() || e.health.state == HealthState::Down)
        .map(|e| e.info.id.as_str())
        .collect();
    if silent.is_empty() {
        return format!("{otherwise}.");
    }
    let what = otherwise.split(':').next().unwrap_or(otherwise);
    format!(
        "{what}: {} {} not answering.",
        silent.join(", "),
        if silent.len() == 1 { "is" } else { "are" }
    )
}

/// Why the CPU plot lacks some or all of the fleet: the contexts where metrics-server is not
/// installed (as their API server said), and other sources that report no CPU usage.
fn cpu_note(app: &ScaleboardApp) -> Option<String> {
    let missing = &app.overview.cpu_missing;
    if missing.is_empty() {
        return None;
    }
    let (no_server, other): (Vec<&CpuSource>, Vec<&CpuSource>) = missing.iter().partition(|s| {
        s.context
            .as_ref()
            .is_some_and(|c| app.overview.no_metrics_server.contains_key(c))
    });
    let mut parts = Vec::new();
    if !no_server.is_empty() {
        let names: Vec<&str> = no_server
            .iter()
            .filter_map(|s| s.context.as_deref())
            .collect();
        parts.push(format!(
            "metrics-server is not installed in context{} {}",
            if names.len() == 1 { "" } else { "s" },
            names.join(", ")
        ));
    }
    if !other.is_empty() {
        let names: Vec<String> = other.iter().map(|s| s.words()).collect();
        parts.push(format!(
            "{} report{} no CPU usage yet",
            names.join(", "),
            if names.len() == 1 { "s" } else { "" }
        ));
    }
    let whole_fleet = missing.len() == app.overview.cpu_sources;
    Some(if whole_fleet {
        format!("No CPU metrics: {}.", parts.join("; "))
    } else {
        format!(
            "No CPU metrics for part of the fleet: {}.",
            parts.join("; ")
        )
    })
}

pub fn overview_panel_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    panel_header_ui(ui, app, "Overview");
    let now = app.clock.now_ms();
    let range = app.view.range;
    app.overview.refresh(
        &app.fleet,
        &app.store,
        app.view.overview_rank,
        &app.view.pinned,
        range,
        now,
    );
    super::overview_tiles::tiles_ui(app, ui);
    // Areas without an endpoint collapse into one line instead of empty plots.
    let missing: Vec<&str> = [
        (Area::Workloads, "workloads"),
        (Area::Databases, "databases"),
        (Area::Cache, "caches"),
        (Area::Queues, "queues"),
        (Area::Health, "health checks"),
    ]
    .into_iter()
    .filter(|(area, _)| app.fleet.in_area(*area).next().is_none())
    .map(|(_, name)| name)
    .collect();
    if app.fleet.in_area(Area::Workloads).next().is_some() {
        ui.add_space(6.0);
        fleet_summary_ui(app, ui);
    }
    if !missing.is_empty() {
        ui.weak(format!(
            "No endpoint for {} in this profile.",
            missing.join(", ")
        ));
    }
    ui.add_space(6.0);
    let plots = overview_plots(app);
    let width = ui.available_width();
    let columns = if width > 900.0 { 3 } else { 2 };
    let rows = plots.len().div_ceil(columns).max(1);
    // The plots share the height left under the tiles and totals.
    let plot_height = ((ui.clip_rect().bottom() - ui.cursor().top() - 45.0 * rows as f32)
        / rows as f32)
        .clamp(140.0, 340.0);
    egui::Grid::new("overview_plots")
        .num_columns(columns)
        .min_col_width(width / columns as f32 - 12.0)
        .show(ui, |ui| {
            for (i, plot) in plots.iter().enumerate() {
                ui.vertical(|ui| {
                    ui.set_width(width / columns as f32 - 16.0);
                    if plot.lines.is_empty()
                        && let Some(note) = &plot.note
                    {
                        // No source: one line saying why, not an empty axis.
                        ui.add(egui::Label::new(note).wrap());
                        return;
                    }
                    if let Some(note) = &plot.note {
                        ui.add(egui::Label::new(egui::RichText::new(note).weak()).wrap());
                    }
                    let plot_lines: Vec<PlotLine<'_>> = plot
                        .lines
                        .iter()
                        .map(|(key, label)| PlotLine {
                            key: key.clone(),
                            label,
                        })
                        .collect();
                    time_plot_ui(
                        ui,
                        plot.id,
                        &plot.title,
                        plot.unit,
                        &plot_lines,
                        &app.store,
                        &mut app.charts,
                        range,
                        now,
                        plot_height,
                    );
                });
                if (i + 1) % columns == 0 {
                    ui.end_row();
                }
            }
        });
}

/// "3,006 workloads · 9,018 desired · 8,990 ready · 12 not ready", the measure the plots rank
/// by, the pins, and the worst contexts/namespaces (or projects) with their totals.
fn fleet_summary_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    let all = app.overview.totals.all.clone();
    ui.horizontal_wrapped(|ui| {
        ui.strong(format!(
            "Fleet: {} workloads · {} desired · {} ready",
            group(all.workloads as u64),
            group(all.desired),
            group(all.ready)
        ));
        if all.not_ready > 0 {
            ui.colored_label(
                theme::WARN,
                format!("{} not ready", group(all.not_ready as u64)),
            );
        }
        ui.separator();
        egui::ComboBox::from_label("plots rank workloads by")
            .selected_text(app.view.overview_rank.label())
            .show_ui(ui, |ui| {
                for rank in Rank::ALL {
                    ui.selectable_value(&mut app.view.overview_rank, rank, rank.label());
                }
            });
        let mut unpin = None;
        for id in &app.view.pinned {
            if ui
                .small_button(format!("{} ×", id.name))
                .on_hover_text(format!("Pinned: {id}. Click to unpin."))
                .clicked()
            {
                unpin = Some(id.clone());
            }
        }
        if let Some(id) = unpin {
            app.view.pinned.remove(&id);
        }
        if app.view.pinned.is_empty() {
            ui.weak("(pin a workload from its Workloads details to keep it on the plots)");
        }
    });
    let scopes = &app.overview.totals.scopes;
    if scopes.len() > 1 {
        egui::CollapsingHeader::new(format!(
            "By context / namespace or project ({})",
            scopes.len()
        ))
        .id_salt("overview_scopes")
        .default_open(true)
        .show(ui, |ui| {
            egui::Grid::new("overview_scope_grid")
                .striped(true)
                .show(ui, |ui| {
                    for h in ["Scope", "Workloads", "Desired", "Ready", "Not ready"] {
                        ui.strong(h);
                    }
                    ui.end_row();
                    for s in scopes.iter().take(SCOPE_ROWS) {
                        ui.label(&s.label);
                        ui.label(group(s.workloads as u64));
                        ui.label(group(s.desired));
                        ui.label(group(s.ready));
                        if s.not_ready > 0 {
                            ui.colored_label(theme::WARN, group(s.not_ready as u64));
                        } else {
                            ui.label("0");
                        }
                        ui.end_row();
                    }
                });
            if scopes.len() > SCOPE_ROWS {
                let rest = &scopes[SCOPE_ROWS..];
                let all_ready = rest.iter().all(|s| s.not_ready == 0);
                ui.weak(format!(
                    "… and {} more{}",
                    rest.len(),
                    if all_ready {
                        ", all with every replica ready"
                    } else {
                        ""
                    }
                ))
                .on_hover_text("Worst first; the Workloads panel filters by namespace or project.");
            }
        });
    }
}

/// Scopes listed under the fleet line, worst first.
const SCOPE_ROWS: usize = 6;

/// 12,345 → "12,345".
fn group(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
