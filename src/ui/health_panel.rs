//! Health: endpoint checks and load-balancer groups with latency plots.

use super::charts::{PlotLine, time_plot_ui};
use super::theme;
use super::widgets::{self, panel_header_ui};
use crate::app::ScaleboardApp;
use crate::connectors::snapshot::HealthCheck;
use crate::engine::Area;
use crate::metrics::SeriesKey;

pub fn health_panel_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    panel_header_ui(ui, app, "Health");
    widgets::endpoint_status_ui(ui, app, Area::Health);
    let checks: Vec<(String, HealthCheck)> = app
        .fleet
        .health_checks()
        .map(|(e, h)| (format!("{}/{}", e.info.id, h.name), h.clone()))
        .collect();
    if checks.is_empty() {
        widgets::nothing_here_ui(
            ui,
            "No health endpoint is probed. HTTP probes, nginx and Prometheus are not built yet (issue #7); the demo fleet shows what they will look like.",
        );
        return;
    }
    let t = app.profiles.active.thresholds.clone();
    egui::Grid::new("health_grid").striped(true).show(ui, |ui| {
        for h in [
            "Endpoint", "Group", "Status", "Code", "Latency", "p95", "Errors",
        ] {
            ui.strong(h);
        }
        ui.end_row();
        for (_, h) in &checks {
            ui.label(&h.name).on_hover_text(&h.url);
            ui.label(h.group.as_deref().unwrap_or("—"));
            if h.up {
                ui.colored_label(theme::GOOD, "up");
            } else {
                ui.colored_label(theme::BAD, "DOWN");
            }
            ui.label(h.status_code.map_or("—".into(), |c| c.to_string()));
            ui.label(h.latency_ms.map_or("—".into(), |l| format!("{l:.0} ms")));
            let slow = h.p95_ms.is_some_and(|p| p > t.p95_latency_ms as f64);
            ui.colored_label(
                if slow {
                    theme::WARN
                } else {
                    ui.visuals().text_color()
                },
                h.p95_ms.map_or("—".into(), |l| format!("{l:.0} ms")),
            );
            ui.colored_label(
                if h.error_rate_percent > t.error_rate_percent {
                    theme::WARN
                } else {
                    ui.visuals().text_color()
                },
                format!("{:.1} %", h.error_rate_percent),
            );
            ui.end_row();
        }
    });
    let now = app.clock.now_ms();
    let range = app.view.range;
    let plots = [
        ("h_lat", "Latency", "ms", "latency_ms"),
        ("h_p95", "p95 latency", "ms", "p95_ms"),
        ("h_err", "Error rate", "%", "error_rate_percent"),
    ];
    ui.columns(2, |cols| {
        for (i, (id, title, unit, metric)) in plots.iter().enumerate() {
            let lines: Vec<PlotLine<'_>> = checks
                .iter()
                .map(|(t, h)| PlotLine {
                    key: SeriesKey::new(t, *metric),
                    label: &h.name,
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
