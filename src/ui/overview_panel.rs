//! Overview: a tile per area with its status, and the six plots an operator checks first.

use super::charts::{PlotLine, time_plot_ui};
use super::theme;
use super::widgets::{self, panel_header_ui};
use crate::app::{PanelId, ScaleboardApp};
use crate::engine::Area;
use crate::metrics::SeriesKey;
use crate::model::snapshot::DbRole;

const MAX_LINES: usize = 8;

pub fn overview_panel_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    panel_header_ui(ui, app, "Overview");
    tiles_ui(app, ui);
    ui.add_space(8.0);
    let now = app.clock.now_ms();
    let range = app.view.range;
    // A name that several contexts or namespaces share is labelled with its scope.
    let shown: Vec<&crate::model::snapshot::Workload> =
        app.fleet.workloads().take(MAX_LINES).collect();
    let workloads: Vec<(SeriesKey, SeriesKey, String)> = shown
        .iter()
        .map(|w| {
            let t = w.id.target();
            let shared = shown
                .iter()
                .filter(|o| o.id.name == w.id.name)
                .nth(1)
                .is_some();
            (
                SeriesKey::new(&t, "replicas"),
                SeriesKey::new(&t, "cpu_percent"),
                if shared {
                    w.id.to_string()
                } else {
                    w.id.name.clone()
                },
            )
        })
        .collect();
    let replicas: Vec<(SeriesKey, String)> = app
        .fleet
        .databases()
        .flat_map(|(e, db)| {
            db.servers
                .iter()
                .filter(|s| s.role == DbRole::Replica)
                .map(move |s| {
                    (
                        SeriesKey::new(format!("{}/{}", e.info.id, s.name), "lag_bytes"),
                        s.name.clone(),
                    )
                })
        })
        .collect();
    let caches: Vec<(SeriesKey, String)> = app
        .fleet
        .cache_nodes()
        .map(|(e, n)| {
            (
                SeriesKey::new(format!("{}/{}", e.info.id, n.name), "hit_ratio"),
                n.name.clone(),
            )
        })
        .collect();
    let queues: Vec<(SeriesKey, String)> = app
        .fleet
        .queues()
        .map(|(e, q)| {
            (
                SeriesKey::new(format!("{}/{}", e.info.id, q.name), "depth"),
                q.name.clone(),
            )
        })
        .collect();
    let checks: Vec<(SeriesKey, String)> = app
        .fleet
        .health_checks()
        .take(MAX_LINES)
        .map(|(e, h)| {
            (
                SeriesKey::new(format!("{}/{}", e.info.id, h.name), "p95_ms"),
                h.name.clone(),
            )
        })
        .collect();
    let lines = |v: &[(SeriesKey, String)]| -> Vec<(SeriesKey, String)> { v.to_vec() };
    type PlotSpec<'a> = (&'a str, &'a str, &'a str, Vec<(SeriesKey, String)>);
    let plots: [PlotSpec<'_>; 6] = [
        (
            "ov_replicas",
            "Replicas",
            "count",
            workloads
                .iter()
                .map(|(r, _, n)| (r.clone(), n.clone()))
                .collect(),
        ),
        (
            "ov_cpu",
            "CPU per replica",
            "% of request",
            workloads
                .iter()
                .map(|(_, c, n)| (c.clone(), n.clone()))
                .collect(),
        ),
        ("ov_lag", "Replication lag", "bytes", lines(&replicas)),
        ("ov_hit", "Cache hit ratio", "ratio", lines(&caches)),
        ("ov_depth", "Queue depth", "jobs", lines(&queues)),
        ("ov_p95", "p95 latency", "ms", lines(&checks)),
    ];
    let width = ui.available_width();
    // Two rows of plots share the height left under the tiles.
    let plot_height =
        ((ui.clip_rect().bottom() - ui.cursor().top() - 90.0) / 2.0).clamp(140.0, 340.0);
    let columns = if width > 900.0 { 3 } else { 2 };
    egui::Grid::new("overview_plots")
        .num_columns(columns)
        .min_col_width(width / columns as f32 - 12.0)
        .show(ui, |ui| {
            for (i, (id, title, unit, series)) in plots.iter().enumerate() {
                ui.vertical(|ui| {
                    ui.set_width(width / columns as f32 - 16.0);
                    let plot_lines: Vec<PlotLine<'_>> = series
                        .iter()
                        .map(|(key, label)| PlotLine {
                            key: key.clone(),
                            label,
                        })
                        .collect();
                    time_plot_ui(
                        ui,
                        id,
                        title,
                        unit,
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

fn tiles_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    let workloads: Vec<_> = app.fleet.workloads().collect();
    let not_ready = workloads.iter().filter(|w| w.ready < w.desired).count();
    let replicas: u32 = workloads.iter().map(|w| w.desired).sum();
    let max_lag = app
        .fleet
        .databases()
        .flat_map(|(_, db)| db.servers.iter().filter_map(|s| s.lag_bytes))
        .max();
    let primaries: usize = app
        .fleet
        .databases()
        .map(|(_, db)| db.primaries().count())
        .sum();
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
            format!("{} workloads, {replicas} replicas", workloads.len()),
            (not_ready > 0).then(|| format!("{not_ready} not ready")),
        ),
        (
            PanelId::Databases,
            Area::Databases,
            format!(
                "{primaries} primary, max lag {}",
                max_lag.map_or("—".into(), crate::actions::plan::format_bytes)
            ),
            (primaries > 1).then(|| "TWO PRIMARIES".to_string()),
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
            egui::Frame::group(ui.style()).show(ui, |ui| {
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
                    if app.fleet.area_status(area).is_none() {
                        ui.weak("no endpoint");
                    } else {
                        ui.label(summary);
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
