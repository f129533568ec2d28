//! MySQL/MariaDB clusters in the Databases panel: servers with role, read-only flags, replica
//! threads, lag (unknown said as such), positions, errors, connections and queries/s; the
//! topology line; lag, backlog and qps plots; Promote through the confirm dialog.

use super::charts::{ChartCache, PlotLine, time_plot_ui};
use super::theme;
use crate::actions::Action;
use crate::app::ScaleboardApp;
use crate::app::TimeRange;
use crate::metrics::{MetricStore, SeriesKey};
use crate::model::mysql::{MysqlServer, MysqlSnapshot};
use crate::model::snapshot::DbRole;

/// What drawing a cluster needs from the app besides the fleet, borrowed beside it so the
/// snapshots are drawn in place (never cloned per frame).
struct Ctx<'a> {
    read_only_profile: bool,
    limit_pct: f64,
    store: &'a MetricStore,
    charts: &'a mut ChartCache,
    range: TimeRange,
    now: i64,
    /// The Promote button clicked this frame, proposed once drawing is done.
    promote: Option<Action>,
    /// Colleagues' actions running now (team mode).
    in_progress: &'a std::collections::HashMap<String, String>,
}

/// Every MySQL/MariaDB cluster the fleet polls.
pub fn mysql_clusters_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    let mut ctx = Ctx {
        read_only_profile: app.profiles.active.read_only,
        limit_pct: app.profiles.active.thresholds.connections_percent,
        store: &app.store,
        charts: &mut app.charts,
        range: app.view.range,
        now: app.clock.now_ms(),
        promote: None,
        in_progress: &app.fleet.in_progress,
    };
    for (e, db) in app.fleet.mysql_clusters() {
        cluster_ui(&mut ctx, ui, &e.info.id, db);
    }
    if let Some(action) = ctx.promote.take() {
        app.propose(action);
    }
}

fn cluster_ui(ctx: &mut Ctx<'_>, ui: &mut egui::Ui, endpoint: &str, db: &MysqlSnapshot) {
    let flavor = db
        .servers
        .iter()
        .find(|s| s.reachable)
        .map_or("MySQL/MariaDB", |s| s.flavor.label());
    ui.heading(format!("{flavor} cluster {}", db.cluster));
    if let Some(holder) = super::in_progress::on_endpoint(ctx.in_progress, endpoint) {
        super::in_progress::line_ui(ui, holder);
    }
    let writable: Vec<&str> = db.writable().map(|s| s.name.as_str()).collect();
    if writable.len() > 1 {
        // Which to fence is decided by replication positions (the connector's topology).
        let stale: Vec<String> = db
            .servers
            .iter()
            .filter(|s| s.second_writable)
            .filter_map(|s| s.behind_newest.map(|n| format!("{} ({n} behind)", s.name)))
            .collect();
        let advice = if stale.is_empty() {
            "Their positions do not tell which is newer: compare them and fence all but one \
             now (SET GLOBAL read_only=ON, or stop it)."
                .to_string()
        } else {
            format!(
                "Behind by GTID, so the one to fence: {} (SET GLOBAL read_only=ON, or stop it).",
                stale.join(", ")
            )
        };
        ui.colored_label(
            theme::BAD,
            egui::RichText::new(format!(
                "TWO WRITABLE SERVERS: {} all accept writes. {advice}",
                writable.join(", ")
            ))
            .strong(),
        );
    } else if writable.is_empty() {
        ui.colored_label(
            theme::BAD,
            format!(
                "No writable source answers. Last known source position: {}.",
                db.last_source_position.as_deref().unwrap_or("unknown")
            ),
        );
    }
    ui.label(egui::RichText::new(db.topology_line()).monospace());
    let (read_only_profile, limit_pct) = (ctx.read_only_profile, ctx.limit_pct);
    let mut promote = None;
    egui::Grid::new(("mysql_grid", endpoint))
        .striped(true)
        .num_columns(9)
        .show(ui, |ui| {
            for h in [
                "Server",
                "Role",
                "read_only",
                "Replica threads",
                "Lag",
                "Applied / received",
                "Connections",
                "Queries/s",
                "",
            ] {
                ui.strong(h);
            }
            ui.end_row();
            for s in &db.servers {
                server_row_ui(ui, s, db.max_failover_lag_seconds, limit_pct);
                if s.reachable
                    && s.replica.is_some()
                    && !read_only_profile
                    && ui.button("Promote…").clicked()
                {
                    promote = Some(Action::PromoteMysqlReplica {
                        endpoint: endpoint.to_string(),
                        cluster: db.cluster.clone(),
                        replica: s.name.clone(),
                    });
                }
                ui.end_row();
            }
        });
    for s in &db.servers {
        if let Some(r) = &s.replica {
            for e in [&r.last_io_error, &r.last_sql_error].into_iter().flatten() {
                ui.colored_label(theme::WARN, format!("{}: {e}", s.name));
            }
        }
    }
    if promote.is_some() {
        ctx.promote = promote;
    }
    plots_ui(ctx, ui, endpoint, db);
}

fn server_row_ui(ui: &mut egui::Ui, s: &MysqlServer, lag_limit: u64, limit_pct: f64) {
    ui.label(&s.name).on_hover_text(format!(
        "{} {}",
        s.address,
        s.version.as_deref().unwrap_or("version unknown")
    ));
    if !s.reachable {
        ui.colored_label(theme::BAD, s.role_text());
        ui.colored_label(theme::BAD, s.error.as_deref().unwrap_or("no answer"));
        for _ in 0..5 {
            ui.label("—");
        }
        return;
    }
    let role = match (&s.replica, s.role) {
        (Some(_), _) => "replica",
        (None, DbRole::Primary) => "source",
        (None, DbRole::Replica) => "read-only, no source",
    };
    if s.second_writable {
        let text = match s.behind_newest {
            Some(n) => format!("SECOND WRITABLE ({n} behind)"),
            None => "SECOND WRITABLE".to_string(),
        };
        ui.colored_label(theme::BAD, egui::RichText::new(text).strong());
    } else if s.role != s.profile_role {
        ui.colored_label(
            theme::WARN,
            format!("{role} (profile: {})", s.profile_role.label()),
        );
    } else {
        ui.label(role);
    }
    let mut ro = if s.read_only { "ON" } else { "OFF" }.to_string();
    if let Some(sro) = s.super_read_only {
        ro.push_str(if sro { ", super ON" } else { ", super OFF" });
    }
    ui.label(ro);
    match &s.replica {
        None => {
            ui.label("—");
        }
        Some(r) => {
            let text = format!(
                "IO {}, SQL {}",
                r.io_running,
                if r.sql_running { "Yes" } else { "No" }
            );
            if r.io_running() && r.sql_running {
                ui.label(text)
            } else {
                ui.colored_label(theme::WARN, text)
            }
            .on_hover_text(format!("from {}: {}", r.source, r.io_state));
        }
    }
    let lag = s.lag_text();
    if s.replica.is_some() && s.lag_seconds.is_none_or(|l| l > lag_limit as f64) {
        ui.colored_label(theme::WARN, lag);
    } else {
        ui.label(lag);
    }
    let applied = s.applied_position().unwrap_or("—");
    let positions = match (s.received_position(), s.relay_backlog, &s.replica) {
        (Some(recv), Some(n), _) if n > 0 => format!("{applied} / {recv} ({n} waiting)"),
        (Some(recv), _, _) => format!("{applied} / {recv}"),
        // Without GTIDs: the source's binlog executed up to / read up to.
        (None, _, Some(r)) => format!(
            "{}:{} / {}:{}",
            r.exec_log_file, r.exec_log_pos, r.read_log_file, r.read_log_pos
        ),
        (None, _, None) => applied.to_string(),
    };
    ui.monospace(positions);
    let pct = s.connections_percent();
    let text = match pct {
        Some(pct) => format!("{} / {} ({pct:.0} %)", s.connections, s.max_connections),
        None => format!("{} / max unknown", s.connections),
    };
    if pct.is_some_and(|p| p >= limit_pct) {
        ui.colored_label(theme::WARN, text);
    } else {
        ui.label(text);
    }
    ui.label(s.qps.map_or("—".into(), |q| format!("{q:.0}")));
}

fn plots_ui(ctx: &mut Ctx<'_>, ui: &mut egui::Ui, endpoint: &str, db: &MysqlSnapshot) {
    let (now, range) = (ctx.now, ctx.range);
    let names = |replicas: bool| -> Vec<(String, String)> {
        db.servers
            .iter()
            .filter(|s| !replicas || s.replica.is_some() || s.role == DbRole::Replica)
            .map(|s| (format!("{endpoint}/{}", s.name), s.name.clone()))
            .collect()
    };
    let replicas = names(true);
    let all = names(false);
    let mk = |v: &[(String, String)], metric: &'static str| -> Vec<(SeriesKey, String)> {
        v.iter()
            .map(|(t, n)| (SeriesKey::new(t, metric), n.clone()))
            .collect()
    };
    let plots = [
        (
            "my_lag_s",
            "Replication lag",
            "seconds",
            mk(&replicas, "lag_seconds"),
        ),
        (
            "my_backlog",
            "Received, not applied",
            "transactions",
            mk(&replicas, "relay_backlog"),
        ),
        ("my_qps", "Queries", "per second", mk(&all, "qps")),
        (
            "my_conn",
            "Connections",
            "% of max_connections",
            mk(&all, "connections_percent"),
        ),
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
                ctx.store,
                ctx.charts,
                range,
                now,
                150.0,
            );
        }
    });
}
