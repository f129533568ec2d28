//! PgBouncer pools in the Databases panel: one table row per (database, user) pool with its
//! clients and servers, clients waiting highlighted, the pool's use as a percentage of its limit,
//! the per-database query and transaction times, and plots per pool. Reading only.

use super::charts::{PlotLine, time_plot_ui};
use super::theme;
use crate::app::ScaleboardApp;
use crate::metrics::SeriesKey;
use crate::model::pgbouncer::{PgbouncerPool, PgbouncerSnapshot};
use crate::model::snapshot::Snapshot;

/// Table rows drawn per PgBouncer: the busiest pools (waiting clients, then use); a bouncer with
/// hundreds of pools is read from the top, and the rest are counted.
const MAX_ROWS: usize = 50;
/// Pools with a line on the plots: the busiest few, so a plot stays readable.
const MAX_PLOTTED: usize = 6;

/// Pools busiest first: clients waiting, then use of the pool's limit, then name.
fn busiest_first(p: &PgbouncerSnapshot) -> Vec<&PgbouncerPool> {
    let mut pools: Vec<&PgbouncerPool> = p.pools.iter().collect();
    pools.sort_by(|a, b| {
        b.cl_waiting
            .cmp(&a.cl_waiting)
            .then(
                b.usage_percent()
                    .unwrap_or(0.0)
                    .total_cmp(&a.usage_percent().unwrap_or(0.0)),
            )
            .then_with(|| a.name().cmp(&b.name()))
    });
    pools
}

/// Every PgBouncer endpoint's pools; nothing when the profile has none. Returns whether it drew.
pub fn pgbouncer_endpoints_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) -> bool {
    let list: Vec<(String, PgbouncerSnapshot)> = app
        .fleet
        .endpoints
        .iter()
        .filter_map(|e| match &e.snapshot {
            Some(Snapshot::Pgbouncer(p)) => Some((e.info.id.clone(), p.clone())),
            _ => None,
        })
        .collect();
    for (endpoint, p) in &list {
        ui.add_space(8.0);
        pgbouncer_ui(app, ui, endpoint, p);
    }
    !list.is_empty()
}

fn pgbouncer_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui, endpoint: &str, p: &PgbouncerSnapshot) {
    let warn = p
        .pool_warn_percent
        .unwrap_or(app.profiles.active.thresholds.connections_percent);
    ui.heading(format!("PgBouncer {endpoint}"));
    ui.label(format!(
        "{} at {} — {} clients of max_client_conn {}, default_pool_size {}, max_db_connections {}, pool_mode {}",
        p.version.as_deref().unwrap_or("PgBouncer"),
        p.address,
        p.clients(),
        opt(p.config.max_client_conn),
        opt(p.config.default_pool_size),
        p.config
            .max_db_connections
            .filter(|m| *m > 0)
            .map_or("unlimited".into(), |m| m.to_string()),
        p.config.pool_mode.as_deref().unwrap_or("?"),
    ));
    let waiting = p.clients_waiting();
    if waiting > 0 {
        ui.colored_label(
            theme::WARN,
            egui::RichText::new(format!(
                "{waiting} clients waiting for a server connection: the pool is saturated (raise its pool size, or the database is too slow)"
            ))
            .strong(),
        );
    }
    if p.pools.is_empty() {
        ui.label("No pools yet: PgBouncer opens a pool when the first client connects.");
    }
    egui::Grid::new(("pgb_pools", endpoint))
        .striped(true)
        .num_columns(11)
        .show(ui, |ui| {
            for h in [
                "Pool",
                "Mode",
                "Clients active",
                "Clients waiting",
                "Max wait",
                "Servers active",
                "Idle",
                "Used",
                "Pool use",
                "Avg query",
                "Avg xact",
            ] {
                ui.strong(h);
            }
            ui.end_row();
            let text = ui.visuals().text_color();
            for pool in busiest_first(p).into_iter().take(MAX_ROWS) {
                ui.label(pool.name());
                ui.label(&pool.pool_mode);
                ui.label(pool.cl_active.to_string());
                if pool.cl_waiting > 0 {
                    ui.colored_label(
                        theme::WARN,
                        egui::RichText::new(format!("{} clients waiting", pool.cl_waiting))
                            .strong(),
                    );
                } else {
                    ui.label("0");
                }
                let wait_color = if pool.maxwait_secs >= 1.0 {
                    theme::WARN
                } else {
                    text
                };
                ui.colored_label(wait_color, format!("{:.2} s", pool.maxwait_secs));
                ui.label(pool.sv_active.to_string());
                ui.label(pool.sv_idle.to_string());
                ui.label(pool.sv_used.to_string());
                match (pool.usage_percent(), pool.pool_limit) {
                    (Some(pct), Some(limit)) => {
                        let color = if pct >= warn { theme::WARN } else { text };
                        ui.colored_label(
                            color,
                            format!("{} / {limit} ({pct:.0} %)", pool.servers_busy()),
                        )
                        .on_hover_text(format!(
                            "Busy server connections of the pool's limit ({}); {} open in all; \
                             warned at {warn:.0} %",
                            pool.limit_source.map_or("unknown", |s| s.setting()),
                            pool.servers()
                        ));
                    }
                    _ => {
                        ui.label(format!("{} / ?", pool.servers_busy()));
                    }
                }
                let stats = p.database(&pool.database).and_then(|d| d.stats.as_ref());
                ui.label(stats.map_or("—".into(), |s| {
                    format!("{:.1} ms", s.avg_query_time_us / 1000.0)
                }));
                ui.label(stats.map_or("—".into(), |s| {
                    format!("{:.1} ms", s.avg_xact_time_us / 1000.0)
                }));
                ui.end_row();
            }
        });
    if p.pools.len() > MAX_ROWS {
        ui.label(format!(
            "… and {} quieter pools (the busiest {MAX_ROWS} are shown)",
            p.pools.len() - MAX_ROWS
        ));
    }
    for db in p.databases.iter().filter(|d| d.paused || d.disabled) {
        ui.colored_label(
            theme::WARN,
            format!(
                "database {} is {}",
                db.name,
                if db.paused { "PAUSED" } else { "DISABLED" }
            ),
        );
    }
    plots_ui(app, ui, endpoint, p);
}

fn plots_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui, endpoint: &str, p: &PgbouncerSnapshot) {
    let pools: Vec<(String, String)> = busiest_first(p)
        .into_iter()
        .take(MAX_PLOTTED)
        .map(|pool| (format!("{endpoint}/{}", pool.name()), pool.name()))
        .collect();
    let databases: Vec<(String, String)> = p
        .databases
        .iter()
        .filter(|d| d.stats.is_some())
        .take(MAX_PLOTTED)
        .map(|d| (format!("{endpoint}/{}", d.name), d.name.clone()))
        .collect();
    let lines = |v: &[(String, String)], metrics: &[(&'static str, &str)]| {
        v.iter()
            .flat_map(|(t, n)| {
                metrics.iter().map(move |(m, what)| {
                    (
                        SeriesKey::new(t.as_str(), *m),
                        if what.is_empty() {
                            n.clone()
                        } else {
                            format!("{n} {what}")
                        },
                    )
                })
            })
            .collect::<Vec<_>>()
    };
    let plots = [
        (
            "pgb_clients",
            "Clients",
            "count",
            lines(
                &pools,
                &[("clients_active", "active"), ("clients_waiting", "waiting")],
            ),
        ),
        (
            "pgb_servers",
            "Server connections",
            "count",
            lines(
                &pools,
                &[
                    ("servers_active", "active"),
                    ("servers_idle", "idle"),
                    ("servers_used", "used"),
                ],
            ),
        ),
        (
            "pgb_wait",
            "Max wait",
            "seconds",
            lines(&pools, &[("max_wait_seconds", "")]),
        ),
        (
            "pgb_times",
            "Average query and transaction time",
            "ms",
            lines(
                &databases,
                &[("avg_query_ms", "query"), ("avg_xact_ms", "xact")],
            ),
        ),
    ];
    let now = app.clock.now_ms();
    let range = app.view.range;
    ui.columns(2, |cols| {
        for (i, (id, title, unit, series)) in plots.iter().enumerate() {
            let plot_lines: Vec<PlotLine<'_>> = series
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
                &plot_lines,
                &app.store,
                &mut app.charts,
                range,
                now,
                150.0,
            );
        }
    });
}

fn opt(v: Option<u32>) -> String {
    v.map_or("?".into(), |v| v.to_string())
}
