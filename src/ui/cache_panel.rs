//! Cache: Redis nodes with hit ratio, memory vs maxmemory, evictions.

use super::charts::{PlotLine, time_plot_ui};
use super::theme;
use super::widgets::{self, panel_header_ui};
use crate::actions::plan::format_bytes;
use crate::app::ScaleboardApp;
use crate::engine::Area;
use crate::metrics::SeriesKey;

pub fn cache_panel_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    panel_header_ui(ui, app, "Cache");
    widgets::endpoint_status_ui(ui, app, Area::Cache);
    let nodes: Vec<(String, crate::connectors::snapshot::CacheNode)> = app
        .fleet
        .cache_nodes()
        .map(|(e, n)| (format!("{}/{}", e.info.id, n.name), n.clone()))
        .collect();
    if nodes.is_empty() {
        widgets::nothing_here_ui(
            ui,
            "No Redis endpoint is polled. The Redis connector is not built yet (issue #6); the demo fleet shows what it will look like.",
        );
        return;
    }
    let t = app.profiles.active.thresholds.clone();
    egui::Grid::new("cache_grid").striped(true).show(ui, |ui| {
        for h in [
            "Node",
            "Role",
            "Hit ratio",
            "Memory",
            "Policy",
            "Ops/s",
            "Evictions/s",
            "Clients",
        ] {
            ui.strong(h);
        }
        ui.end_row();
        for (_, n) in &nodes {
            ui.label(&n.name);
            ui.label(&n.role);
            let hit_low = n.hit_ratio.is_some_and(|h| h < t.cache_hit_ratio_floor);
            ui.colored_label(
                if hit_low {
                    theme::WARN
                } else {
                    ui.visuals().text_color()
                },
                n.hit_ratio
                    .map_or("—".into(), |h| format!("{:.1} %", h * 100.0)),
            );
            let pct = 100.0 * n.used_memory_bytes as f64 / n.max_memory_bytes.max(1) as f64;
            ui.colored_label(
                if pct > t.cache_memory_percent {
                    theme::WARN
                } else {
                    ui.visuals().text_color()
                },
                format!(
                    "{} / {} ({pct:.0} %)",
                    format_bytes(n.used_memory_bytes),
                    format_bytes(n.max_memory_bytes)
                ),
            );
            ui.label(&n.eviction_policy);
            ui.label(format!("{:.0}", n.ops_per_sec));
            ui.colored_label(
                if n.evictions_per_sec > 0.0 {
                    theme::WARN
                } else {
                    ui.visuals().text_color()
                },
                format!("{:.1}", n.evictions_per_sec),
            );
            ui.label(n.connected_clients.to_string());
            ui.end_row();
        }
    });
    let now = app.clock.now_ms();
    let range = app.view.range;
    let plots = [
        ("c_hit", "Hit ratio", "ratio", "hit_ratio"),
        ("c_mem", "Memory", "% of maxmemory", "memory_percent"),
        ("c_ops", "Operations", "per second", "ops_per_sec"),
        ("c_ev", "Evictions", "per second", "evictions_per_sec"),
    ];
    ui.columns(2, |cols| {
        for (i, (id, title, unit, metric)) in plots.iter().enumerate() {
            let lines: Vec<PlotLine<'_>> = nodes
                .iter()
                .map(|(t, n)| PlotLine {
                    key: SeriesKey::new(t, *metric),
                    label: &n.name,
                })
                .collect();
            time_plot_ui(
                &mut cols[i % 2],
                id,
                title,
                unit,
                &lines,
                &app.store,
                &mut app.charts,
                range,
                now,
                150.0,
            );
        }
    });
}
