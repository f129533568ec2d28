//! Health: endpoint checks and load-balancer groups (healthy count, latency spread), nginx
//! counters, certificate expiry, latency and error plots, and Prometheus series — all on the
//! same time axis as every other plot.

use super::charts::{PlotLine, metric_grid_ui, time_plot_ui};
use super::theme;
use super::widgets::{self, panel_header_ui};
use crate::app::ScaleboardApp;
use crate::engine::Area;
use crate::metrics::SeriesKey;
use crate::model::snapshot::{HealthCheck, PromQueryResult};
use std::collections::BTreeMap;

/// A certificate closer to expiry than this is shown as a warning.
const CERT_WARN_DAYS: f64 = 14.0;

pub fn health_panel_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    panel_header_ui(ui, app, "Health");
    widgets::endpoint_status_ui(ui, app, Area::Health);
    let checks: Vec<(String, HealthCheck)> = app
        .fleet
        .health_checks()
        .map(|(e, h)| (format!("{}/{}", e.info.id, h.name), h.clone()))
        .collect();
    let queries: Vec<PromQueryResult> = app
        .fleet
        .prometheus()
        .flat_map(|(_, p)| p.queries.iter().cloned())
        .collect();
    let lbs = app.fleet.load_balancers.clone();
    if checks.is_empty() && queries.is_empty() && lbs.is_empty() {
        widgets::nothing_here_ui(
            ui,
            "No health endpoint or Prometheus query has answered yet. Add health URLs and a Prometheus server to a profile (Profiles panel, Edit); the demo fleet shows what they look like.",
        );
        return;
    }
    egui::ScrollArea::vertical().show(ui, |ui| {
        super::health_lb::load_balancers_ui(ui, &lbs);
        if !checks.is_empty() {
            groups_ui(ui, &checks);
            checks_grid_ui(app, ui, &checks);
            nginx_ui(ui, &checks);
            check_plots_ui(app, ui, &checks);
        }
        if !queries.is_empty() {
            ui.separator();
            prometheus_ui(app, ui, &queries);
        }
    });
}

/// One line per load-balancer group: healthy count and the spread of latency across replicas.
fn groups_ui(ui: &mut egui::Ui, checks: &[(String, HealthCheck)]) {
    let mut groups: BTreeMap<&str, Vec<&HealthCheck>> = BTreeMap::new();
    for (_, h) in checks {
        if let Some(g) = &h.group {
            groups.entry(g.as_str()).or_default().push(h);
        }
    }
    for (group, members) in groups {
        let up = members.iter().filter(|h| h.up).count();
        ui.horizontal(|ui| {
            let color = if up == members.len() {
                theme::GOOD
            } else if up == 0 {
                theme::BAD
            } else {
                theme::WARN
            };
            ui.colored_label(color, format!("{group}: {up}/{} healthy", members.len()));
            let p50s: Vec<f64> = members.iter().filter_map(|h| h.p50_ms).collect();
            if let (Some(lo), Some(hi)) = (
                p50s.iter().copied().reduce(f64::min),
                p50s.iter().copied().reduce(f64::max),
            ) {
                ui.weak(format!("p50 latency {lo:.0} to {hi:.0} ms across replicas"));
            }
        });
    }
}

fn ms(v: Option<f64>) -> String {
    v.map_or("—".into(), |l| format!("{l:.0} ms"))
}

fn checks_grid_ui(app: &ScaleboardApp, ui: &mut egui::Ui, checks: &[(String, HealthCheck)]) {
    let t = &app.profiles.active.thresholds;
    let normal = ui.visuals().text_color();
    egui::Grid::new("health_grid").striped(true).show(ui, |ui| {
        for h in [
            "Endpoint",
            "Group",
            "Status",
            "Code",
            "Latency",
            "p50",
            "p95",
            "p99",
            "Errors",
            "Cert",
            "Last error",
        ] {
            ui.strong(h);
        }
        ui.end_row();
        for (_, h) in checks {
            ui.label(&h.name).on_hover_text(&h.url);
            ui.label(h.group.as_deref().unwrap_or("—"));
            if h.up {
                ui.colored_label(theme::GOOD, "up");
            } else {
                ui.colored_label(theme::BAD, "DOWN");
            }
            ui.label(h.status_code.map_or("—".into(), |c| c.to_string()));
            ui.label(ms(h.latency_ms));
            ui.label(ms(h.p50_ms));
            let slow = h.p95_ms.is_some_and(|p| p > t.p95_latency_ms as f64);
            ui.colored_label(if slow { theme::WARN } else { normal }, ms(h.p95_ms));
            ui.label(ms(h.p99_ms));
            let errors = h.error_rate_percent > t.error_rate_percent;
            ui.colored_label(
                if errors { theme::WARN } else { normal },
                format!("{:.1} %", h.error_rate_percent),
            )
            .on_hover_text(format!("over the last {} probes", h.window_probes));
            match h.cert_expiry_days {
                Some(d) => {
                    let color = if d < 0.0 {
                        theme::BAD
                    } else if d < CERT_WARN_DAYS {
                        theme::WARN
                    } else {
                        normal
                    };
                    ui.colored_label(color, format!("{d:.0} days"))
                        .on_hover_text("days until the server certificate expires");
                }
                None => {
                    ui.label("—");
                }
            }
            ui.label(h.error.as_deref().unwrap_or(""));
            ui.end_row();
        }
    });
}

fn nginx_ui(ui: &mut egui::Ui, checks: &[(String, HealthCheck)]) {
    for (_, h) in checks {
        let Some(n) = &h.nginx else { continue };
        match &n.error {
            Some(e) => {
                ui.colored_label(theme::BAD, format!("{} nginx status: {e}", h.name));
            }
            None => {
                let rate = n.requests_per_sec.map_or("—".into(), |r| format!("{r:.1}"));
                ui.label(format!(
                    "{} nginx: {} active connections (reading {}, writing {}, waiting {}), {rate} requests/s",
                    h.name, n.active, n.reading, n.writing, n.waiting
                ));
            }
        }
    }
}

fn check_plots_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui, checks: &[(String, HealthCheck)]) {
    let mut plots = vec![
        ("h_lat", "Latency", "ms", "latency_ms"),
        ("h_p50", "p50 latency", "ms", "p50_ms"),
        ("h_p95", "p95 latency", "ms", "p95_ms"),
        ("h_err", "Error rate", "%", "error_rate_percent"),
    ];
    if checks.iter().any(|(_, h)| h.nginx.is_some()) {
        plots.push(("h_rps", "nginx requests", "req/s", "requests_per_sec"));
        plots.push((
            "h_act",
            "nginx active connections",
            "connections",
            "nginx_active",
        ));
    }
    let targets = |metric: &str| -> Vec<(String, String)> {
        let nginx_metric = matches!(metric, "requests_per_sec" | "nginx_active");
        checks
            .iter()
            .filter(|(_, h)| !nginx_metric || h.nginx.is_some())
            .map(|(t, x)| (t.clone(), x.name.clone()))
            .collect()
    };
    metric_grid_ui(ui, app, &plots, &targets);
}

/// Each Prometheus query: its error in Prometheus's words, or a plot of its series.
fn prometheus_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui, queries: &[PromQueryResult]) {
    ui.strong("Prometheus");
    let now = app.clock.now_ms();
    let range = app.view.range;
    for q in queries.iter().filter(|q| q.error.is_some()) {
        ui.colored_label(
            theme::BAD,
            format!("{}: {}", q.name, q.error.as_deref().unwrap_or_default()),
        )
        .on_hover_text(&q.expr);
    }
    let plotted: Vec<&PromQueryResult> = queries.iter().filter(|q| q.error.is_none()).collect();
    ui.columns(2, |cols| {
        for (i, q) in plotted.iter().enumerate() {
            let col = &mut cols[i % 2];
            if q.series.is_empty() {
                col.label(format!("{} ({})", q.name, q.unit));
                col.weak("no series match this query");
                continue;
            }
            let lines: Vec<PlotLine<'_>> = q
                .series
                .iter()
                .map(|s| PlotLine {
                    key: SeriesKey::new(&s.target, crate::connectors::prometheus::VALUE_METRIC),
                    label: if s.labels == "{}" { &q.name } else { &s.labels },
                })
                .collect();
            time_plot_ui(
                col,
                &format!("prom_{}", q.name),
                &q.name,
                &q.unit,
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
