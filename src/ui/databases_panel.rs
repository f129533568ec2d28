//! Databases: topology (primary -> replicas) with lag in bytes first, and Promote.

use super::charts::{PlotLine, time_plot_ui};
use super::theme;
use super::widgets::{self, panel_header_ui};
use crate::actions::Action;
use crate::actions::plan::{format_bytes, format_lsn};
use crate::app::ScaleboardApp;
use crate::connectors::snapshot::{DatabaseSnapshot, DbRole};
use crate::engine::Area;
use crate::metrics::SeriesKey;

pub fn databases_panel_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    panel_header_ui(ui, app, "Databases");
    widgets::endpoint_status_ui(ui, app, Area::Databases);
    let clusters: Vec<(String, DatabaseSnapshot)> = app
        .fleet
        .databases()
        .map(|(e, db)| (e.info.id.clone(), db.clone()))
        .collect();
    if clusters.is_empty() {
        widgets::nothing_here_ui(
            ui,
            "No PostgreSQL endpoint is polled. The PostgreSQL connector is not built yet (issue #3); the demo fleet shows what it will look like.",
        );
        return;
    }
    let limits = app.profiles.active.thresholds.clone();
    for (endpoint, db) in &clusters {
        ui.heading(format!("Cluster {}", db.cluster));
        if db.primaries().count() > 1 {
            ui.colored_label(
                theme::BAD,
                "TWO PRIMARIES: more than one server accepts writes. Fence one now.",
            );
        }
        let mut promote = None;
        egui::Grid::new(("db_grid", endpoint))
            .striped(true)
            .num_columns(9)
            .show(ui, |ui| {
                for h in [
                    "Server",
                    "Role",
                    "State",
                    "LSN",
                    "Lag",
                    "Lag (s)",
                    "Connections",
                    "TPS",
                    "Timeline",
                    "",
                ] {
                    ui.strong(h);
                }
                ui.end_row();
                for s in &db.servers {
                    let role = match (s.reachable, s.role) {
                        (false, _) => "unreachable",
                        (true, DbRole::Primary) => "primary",
                        (true, DbRole::Replica) => "  replica",
                    };
                    if ui
                        .selectable_label(app.selected_server.as_ref() == Some(&s.name), &s.name)
                        .clicked()
                    {
                        app.selected_server = Some(s.name.clone());
                    }
                    ui.label(role);
                    ui.label(if s.in_recovery {
                        "streaming"
                    } else {
                        "accepting writes"
                    });
                    ui.monospace(format_lsn(s.lsn));
                    let lag_color = if s.lag_bytes.unwrap_or(0) > limits.replication_lag_bytes {
                        theme::WARN
                    } else {
                        ui.visuals().text_color()
                    };
                    ui.colored_label(lag_color, s.lag_bytes.map_or("—".into(), format_bytes));
                    ui.label(s.lag_seconds.map_or("—".into(), |l| format!("{l:.1}")));
                    let pct =
                        100.0 * f64::from(s.connections) / f64::from(s.max_connections.max(1));
                    let color = if pct > limits.connections_percent {
                        theme::WARN
                    } else {
                        ui.visuals().text_color()
                    };
                    ui.colored_label(
                        color,
                        format!("{} / {} ({pct:.0} %)", s.connections, s.max_connections),
                    );
                    ui.label(format!("{:.0}", s.tps));
                    ui.label(s.timeline.to_string());
                    if s.role == DbRole::Replica
                        && s.reachable
                        && !app.profiles.active.read_only
                        && ui.button("Promote…").clicked()
                    {
                        promote = Some(Action::PromoteReplica {
                            endpoint: endpoint.clone(),
                            cluster: db.cluster.clone(),
                            replica: s.name.clone(),
                        });
                    }
                    ui.end_row();
                }
            });
        if let Some(action) = promote {
            app.propose(action);
        }
        let now = app.clock.now_ms();
        let range = app.view.range;
        let replicas: Vec<(String, String)> = db
            .servers
            .iter()
            .filter(|s| s.role == DbRole::Replica)
            .map(|s| (format!("{endpoint}/{}", s.name), s.name.clone()))
            .collect();
        let all: Vec<(String, String)> = db
            .servers
            .iter()
            .map(|s| (format!("{endpoint}/{}", s.name), s.name.clone()))
            .collect();
        let mk = |v: &[(String, String)], metric: &'static str| -> Vec<(SeriesKey, String)> {
            v.iter()
                .map(|(t, n)| (SeriesKey::new(t, metric), n.clone()))
                .collect()
        };
        let plots = [
            (
                "db_lag_b",
                "Replication lag",
                "bytes",
                mk(&replicas, "lag_bytes"),
            ),
            (
                "db_lag_s",
                "Replication lag",
                "seconds",
                mk(&replicas, "lag_seconds"),
            ),
            ("db_tps", "Transactions", "per second", mk(&all, "tps")),
            ("db_conn", "Connections", "count", mk(&all, "connections")),
        ];
        ui.columns(2, |cols| {
            for (i, (id, title, unit, series)) in plots.iter().enumerate() {
                let lines: Vec<PlotLine<'_>> = series
                    .iter()
                    .map(|(k, l)| PlotLine {
                        key: k.clone(),
                        label: l,
                    })
                    .collect();
                time_plot_ui(
                    &mut cols[i % 2],
                    &format!("{id}{endpoint}"),
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
}
