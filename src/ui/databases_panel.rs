//! Databases: topology (primary -> replicas) with lag in bytes first, and Promote.

use super::charts::{PlotLine, time_plot_ui};
use super::theme;
use super::widgets::{self, panel_header_ui};
use crate::actions::Action;
use crate::actions::plan::{format_bytes, format_lsn};
use crate::app::ScaleboardApp;
use crate::engine::Area;
use crate::metrics::SeriesKey;
use crate::model::snapshot::{DatabaseSnapshot, DbRole, DbServer, ReplicationSlot};
use crate::profiles::Thresholds;

pub fn databases_panel_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    panel_header_ui(ui, app, "Databases");
    widgets::endpoint_status_ui(ui, app, Area::Databases);
    let clusters: Vec<(String, DatabaseSnapshot)> = app
        .fleet
        .databases()
        .map(|(e, db)| (e.info.id.clone(), db.clone()))
        .collect();
    let has_patroni = app.fleet.patroni_snapshots().next().is_some();
    if clusters.is_empty() && !has_patroni && app.fleet.mysql_clusters().next().is_none() {
        if !super::pgbouncer_view::pgbouncer_endpoints_ui(app, ui) {
            widgets::nothing_here_ui(
                ui,
                "No PostgreSQL, Patroni, MySQL/MariaDB or PgBouncer endpoint is polled. Add a PostgreSQL cluster (primary DSN and replica DSNs), a Patroni cluster (REST API URLs), a MySQL/MariaDB cluster (primary URL and replica URLs) or a PgBouncer admin console to the profile, or open the demo fleet.",
            );
        }
        return;
    }
    let limits = app.profiles.active.thresholds.clone();
    for (endpoint, db) in &clusters {
        ui.heading(format!("Cluster {}", db.cluster));
        if let Some(holder) = super::in_progress::on_endpoint(&app.fleet.in_progress, endpoint) {
            super::in_progress::line_ui(ui, holder);
        }
        if db.primaries().count() > 1 {
            let names: Vec<&str> = db.primaries().map(|s| s.name.as_str()).collect();
            ui.colored_label(
                theme::BAD,
                egui::RichText::new(format!(
                    "TWO PRIMARIES: {} all accept writes. Fence all but one now (stop it or block it at the load balancer).",
                    names.join(", ")
                ))
                .strong(),
            );
        } else if db.primaries().count() == 0 {
            ui.colored_label(
                theme::BAD,
                format!(
                    "No primary answers. Last known primary position: {}.",
                    db.last_primary_lsn.map_or("unknown".into(), format_lsn)
                ),
            );
        }
        let mut promote = None;
        let policy = app.policy();
        // Promote only where it can run: a reachable replica that Patroni does not manage
        // (Patroni's members are switched over in its own view).
        let promotable: Vec<bool> = db
            .servers
            .iter()
            .map(|s| {
                s.reachable
                    && s.in_recovery
                    && !app.profiles.active.read_only
                    && !crate::actions::plan::promote_belongs_to_patroni(
                        &app.fleet, &policy, endpoint, s,
                    )
            })
            .collect();
        egui::Grid::new(("db_grid", endpoint))
            .striped(true)
            .num_columns(11)
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
                    "Size",
                    "Timeline",
                    "",
                ] {
                    ui.strong(h);
                }
                ui.end_row();
                for (s, can_promote) in db.servers.iter().zip(&promotable) {
                    server_row_ui(ui, app, &limits, s);
                    if *can_promote && ui.button("Promote…").clicked() {
                        promote = Some(Action::PromoteReplica {
                            endpoint: endpoint.clone(),
                            cluster: db.cluster.clone(),
                            replica: s.name.clone(),
                        });
                    }
                    ui.end_row();
                }
            });
        slots_ui(ui, db, &limits);
        if !db.seen_by_primary.is_empty() {
            ui.label(egui::RichText::new("Seen by primary, not in this profile").strong());
            for r in &db.seen_by_primary {
                ui.label(format!(
                    "  {} from {}: {} ({}), replay {}",
                    r.application_name,
                    r.client_addr.as_deref().unwrap_or("local socket"),
                    r.state,
                    r.sync_state,
                    r.replay_lsn.map_or("—".into(), format_lsn)
                ));
            }
        }
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
    super::patroni_view::patroni_clusters_ui(app, ui);
    // MySQL/MariaDB clusters draw themselves (ui/mysql_view.rs).
    super::mysql_view::mysql_clusters_ui(app, ui);
    super::pgbouncer_view::pgbouncer_endpoints_ui(app, ui);
}

fn server_row_ui(ui: &mut egui::Ui, app: &mut ScaleboardApp, limits: &Thresholds, s: &DbServer) {
    if ui
        .selectable_label(app.selected_server.as_ref() == Some(&s.name), &s.name)
        .on_hover_text(s.version.as_deref().unwrap_or("version unknown"))
        .clicked()
    {
        app.selected_server = Some(s.name.clone());
    }
    let text = ui.visuals().text_color();
    if !s.reachable {
        ui.colored_label(theme::BAD, s.role_text());
        ui.colored_label(theme::BAD, s.error.as_deref().unwrap_or("no answer"));
        for _ in 0..8 {
            ui.label("—");
        }
        return;
    }
    if s.second_primary {
        ui.colored_label(
            theme::BAD,
            egui::RichText::new("SECOND PRIMARY").strong(),
        )
        .on_hover_text("It accepts writes while another primary on a newer timeline does too (both, when their timelines are equal): the stale one, to fence.");
    } else if s.role != s.profile_role {
        ui.colored_label(
            theme::WARN,
            format!("{} (profile: {})", s.role.label(), s.profile_role.label()),
        );
    } else {
        ui.label(s.role.label());
    }
    if let Some(slow) = &s.slow {
        ui.colored_label(theme::WARN, "slow: waiting for its answer")
            .on_hover_text(slow.as_str());
    } else if !s.in_recovery {
        ui.label("accepting writes");
    } else if s.replay_paused {
        ui.colored_label(theme::WARN, "replay PAUSED");
    } else {
        ui.label(s.wal_receiver.as_deref().unwrap_or("no WAL receiver"));
    }
    ui.monospace(format_lsn(s.lsn));
    let lag_color = if s.lag_bytes.unwrap_or(0) > limits.replication_lag_bytes {
        theme::WARN
    } else {
        text
    };
    ui.colored_label(lag_color, s.lag_bytes.map_or("—".into(), format_bytes));
    ui.label(s.lag_seconds.map_or("—".into(), |l| format!("{l:.1}")));
    let pct = s.connections_percent();
    let color = if pct > limits.connections_percent {
        theme::WARN
    } else {
        text
    };
    ui.colored_label(
        color,
        format!("{} / {} ({pct:.0} %)", s.connections, s.max_connections),
    );
    ui.label(format!("{:.0}", s.tps));
    let size_color = if s.size_bytes > limits.database_size_bytes {
        theme::WARN
    } else {
        text
    };
    ui.colored_label(size_color, format_bytes(s.size_bytes));
    ui.label(s.timeline_text()).on_hover_text(
        "A replica's timeline comes from its WAL receiver; unknown while no receiver runs.",
    );
}

/// Replication slots; an inactive slot that retains WAL is a warning (it fills the disk).
fn slots_ui(ui: &mut egui::Ui, db: &DatabaseSnapshot, limits: &Thresholds) {
    let slots: Vec<(&str, &ReplicationSlot)> = db
        .servers
        .iter()
        .flat_map(|s| s.slots.iter().map(move |slot| (s.name.as_str(), slot)))
        .collect();
    if slots.is_empty() {
        return;
    }
    ui.label(egui::RichText::new("Replication slots").strong());
    for (server, slot) in slots {
        let retained = slot.retained_bytes.unwrap_or(0);
        let text = format!(
            "  {server}: {} ({}) {} retains {}{}",
            slot.name,
            slot.slot_type,
            if slot.active { "active," } else { "INACTIVE," },
            format_bytes(retained),
            slot.wal_status
                .as_deref()
                .map_or(String::new(), |w| format!(", WAL {w}"))
        );
        if !slot.active && retained > 0 {
            ui.colored_label(theme::WARN, text).on_hover_text(
                "An inactive slot keeps WAL on the primary until its consumer returns: drop it if that replica is gone.",
            );
        } else if retained > limits.replication_lag_bytes {
            ui.colored_label(theme::WARN, text);
        } else {
            ui.label(text);
        }
    }
}
