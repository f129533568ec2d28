//! Overview: a tile per area with its status, the fleet's totals, and plots of the whole fleet
//! and of the few members that matter (worst first, plus pins); areas without an endpoint take
//! one line, not empty plots.

use super::charts::{PlotLine, time_plot_ui};
use super::theme;
use super::widgets::{self, panel_header_ui};
use crate::app::overview::{FLEET_TARGET, Rank, TOP};
use crate::app::{PanelId, ScaleboardApp};
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
        plots.push(OverviewPlot {
            id: "ov_fleet",
            title: format!(
                "Replicas, whole fleet ({} workloads)",
                app.overview.totals.all.workloads
            ),
            unit: "count",
            lines: vec![
                (SeriesKey::new(FLEET_TARGET, "desired"), "desired".into()),
                (SeriesKey::new(FLEET_TARGET, "ready"), "ready".into()),
                (
                    SeriesKey::new(FLEET_TARGET, "not_ready"),
                    "not ready".into(),
                ),
            ],
        });
        // Ranked by readiness: their ready count (the desired one is in the label); by change:
        // the replica count that changed.
        let (what, metric) = match app.view.overview_rank {
            Rank::BiggestChange => ("Replicas", "replicas"),
            _ => ("Ready replicas", "ready"),
        };
        plots.push(OverviewPlot {
            id: "ov_replicas",
            title: format!("{what}: top {TOP} by {}", app.view.overview_rank.label()),
            unit: "count",
            lines: ranked(&app.overview.by_rank, metric),
        });
        plots.push(OverviewPlot {
            id: "ov_cpu",
            title: format!("CPU per replica: top {TOP}"),
            unit: "% of request",
            lines: ranked(&app.overview.by_cpu, "cpu_percent"),
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
            .collect();
        plots.push(OverviewPlot {
            id: "ov_lag",
            title: "Replication lag, largest".into(),
            unit: "bytes",
            lines: worst(lag),
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
        plots.push(OverviewPlot {
            id: "ov_hit",
            title: "Cache hit ratio, lowest".into(),
            unit: "ratio",
            lines: worst(hit),
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
        plots.push(OverviewPlot {
            id: "ov_depth",
            title: "Queue depth, deepest".into(),
            unit: "jobs",
            lines: worst(depth),
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
        plots.push(OverviewPlot {
            id: "ov_p95",
            title: "p95 latency, slowest".into(),
            unit: "ms",
            lines: worst(p95),
        });
    }
    plots
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
    tiles_ui(app, ui);
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

/// The Databases tile: how many clusters of each kind, the largest PostgreSQL lag and PgBouncer
/// clients waiting; the warning names a cluster with no writer or two (each cluster is judged on
/// its own: two clusters with one primary each are fine).
fn databases_tile(app: &ScaleboardApp) -> (String, Option<String>) {
    let fleet = &app.fleet;
    let mut problems = Vec::new();
    let mut clusters = 0;
    for (_, db) in fleet.databases() {
        clusters += 1;
        match db.primaries().count() {
            0 => problems.push(format!("{}: no primary", db.cluster)),
            1 => {}
            _ => problems.push(format!("{}: TWO PRIMARIES", db.cluster)),
        }
    }
    for (_, p) in fleet.patroni_snapshots() {
        clusters += 1;
        if p.leader().is_none() {
            problems.push(format!("{}: no leader", p.cluster));
        }
    }
    for (_, db) in fleet.mysql_clusters() {
        clusters += 1;
        match db.servers.iter().filter(|s| s.writable()).count() {
            0 => problems.push(format!("{}: no writable source", db.cluster)),
            1 => {}
            _ => problems.push(format!("{}: TWO WRITABLE SERVERS", db.cluster)),
        }
    }
    // PostgreSQL and Patroni lag in bytes of WAL; MySQL/MariaDB only knows seconds.
    let max_lag = fleet
        .databases()
        .flat_map(|(_, db)| db.servers.iter().filter_map(|s| s.lag_bytes))
        .chain(
            fleet
                .patroni_snapshots()
                .flat_map(|(_, p)| p.members.iter().filter_map(|m| m.lag_bytes)),
        )
        .max();
    let max_lag_secs = fleet
        .mysql_clusters()
        .flat_map(|(_, db)| db.servers.iter().filter_map(|s| s.lag_seconds))
        .fold(None, |m: Option<f64>, l| Some(m.map_or(l, |m| m.max(l))));
    let waiting: u32 = fleet
        .endpoints
        .iter()
        .filter_map(|e| match &e.snapshot {
            Some(crate::model::snapshot::Snapshot::Pgbouncer(p)) => Some(p.clients_waiting()),
            _ => None,
        })
        .sum();
    let mut line = format!(
        "{clusters} cluster{}, max lag {}",
        if clusters == 1 { "" } else { "s" },
        max_lag.map_or("—".into(), crate::actions::plan::format_bytes)
    );
    if let Some(secs) = max_lag_secs {
        line.push_str(&format!(" / {secs:.0} s"));
    }
    if waiting > 0 {
        line.push_str(&format!(", {waiting} clients waiting in pools"));
    }
    (line, (!problems.is_empty()).then(|| problems.join("; ")))
}

fn tiles_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    // Fleet totals come from the overview's cache (recomputed when the fleet changes), not from
    // a walk over every workload each frame.
    let totals = &app.overview.totals.all;
    let (count, replicas, not_ready) = (totals.workloads, totals.desired, totals.not_ready);
    let (databases_line, databases_warning) = databases_tile(app);
    let hit = app
        .fleet
        .cache_nodes()
        .filter(|(_, n)| !n.queue_store)
        .filter_map(|(_, n)| n.hit_ratio)
        .fold(None, |m: Option<f64>, h| Some(m.map_or(h, |m| m.min(h))));
    let depth: u64 = app.fleet.queues().map(|(_, q)| q.depth).sum();
    let (up, total) = app
        .fleet
        .health_checks()
        .fold((0, 0), |(u, t), (_, h)| (u + usize::from(h.up), t + 1));
    let tiles = [
        (
            PanelId::Workloads,
            Area::Workloads,
            format!("{count} workloads, {replicas} replicas"),
            (not_ready > 0).then(|| format!("{not_ready} not ready")),
        ),
        (
            PanelId::Databases,
            Area::Databases,
            databases_line,
            databases_warning,
        ),
        (
            PanelId::Cache,
            Area::Cache,
            format!(
                "hit ratio {}",
                hit.map_or("—".into(), |h| format!("{:.1} %", h * 100.0))
            ),
            None,
        ),
        (
            PanelId::Queues,
            Area::Queues,
            format!("{depth} jobs waiting"),
            (depth > app.profiles.active.thresholds.queue_depth)
                .then(|| "backlog over threshold".to_string()),
        ),
        (
            PanelId::Health,
            Area::Health,
            format!("{up}/{total} endpoints up"),
            (up < total).then(|| format!("{} down", total - up)),
        ),
    ];
    ui.horizontal_wrapped(|ui| {
        for (panel, area, summary, problem) in tiles {
            if app.fleet.in_area(area).next().is_none() {
                continue;
            }
            // A tile turns amber (warning) or red (critical) while an advisor rule fires on it.
            let alerts = app.firing_in_area(area);
            let mut frame = egui::Frame::group(ui.style());
            if let Some((severity, _)) = alerts {
                frame = frame.stroke(egui::Stroke::new(
                    2.0,
                    super::alerts_panel::severity_color(severity),
                ));
            }
            frame.show(ui, |ui| {
                ui.set_min_width(190.0);
                ui.vertical(|ui| {
                    let health = app
                        .fleet
                        .area_health(area)
                        .map(|(s, r)| (s, r.map(str::to_owned)));
                    ui.horizontal(|ui| {
                        match &health {
                            Some((state, reason)) => widgets::dot_ui(
                                ui,
                                theme::health_color(*state),
                                reason.as_deref().unwrap_or(state.label()),
                            ),
                            None => {
                                widgets::dot_ui(ui, ui.visuals().weak_text_color(), "no endpoint");
                            }
                        }
                        if ui.link(panel.label()).clicked() {
                            app.open_panel(panel);
                        }
                    });
                    if health.is_none() {
                        ui.weak("no endpoint");
                    } else {
                        ui.label(summary);
                    }
                    if let Some((severity, n)) = alerts
                        && ui
                            .link(
                                egui::RichText::new(format!(
                                    "{n} alert{} firing",
                                    if n == 1 { "" } else { "s" }
                                ))
                                .color(super::alerts_panel::severity_color(severity)),
                            )
                            .clicked()
                    {
                        app.open_panel(PanelId::Alerts);
                    }
                    if let Some(p) = problem {
                        ui.colored_label(theme::WARN, p);
                    } else if let Some((state, Some(reason))) = health
                        && state != crate::health::HealthState::Ok
                    {
                        ui.add(
                            egui::Label::new(
                                egui::RichText::new(reason).color(theme::health_color(state)),
                            )
                            .truncate(),
                        );
                    }
                });
            });
        }
    });
}
