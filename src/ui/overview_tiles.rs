//! The Overview's tiles: one per area with an endpoint, its status dot, a summary, the alerts
//! firing on it and its problem in words, in rows that always fit the window.

use super::clusters_summary::{EngineSummary, share};
use super::theme;
use super::widgets;
use crate::app::{PanelId, ScaleboardApp};
use crate::engine::Area;
use crate::model::capacity::NodeRoom;
use crate::model::units;

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

/// One tile: its panel and area, the summary line and the problem to show in amber.
struct Tile {
    panel: PanelId,
    area: Area,
    summary: String,
    problem: Option<String>,
}

/// Narrowest tile, outer width in points: five fit side by side in a 1,024 px window.
const TILE_MIN_WIDTH: f32 = 160.0;

/// The tiles of the areas that have an endpoint, in rows of equal-width tiles that always fit
/// the panel's width (as many per row as fit, at least one). The short summary wraps inside its
/// tile; the status lines (problem, reason) are cut with "…" at the tile's edge, whole on hover,
/// so a long reason never pushes a tile off.
pub(super) fn tiles_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    app.clusters.refresh(&app.fleet);
    let tiles: Vec<Tile> = tiles(app)
        .into_iter()
        .filter(|t| app.fleet.in_area(t.area).next().is_some())
        .collect();
    if tiles.is_empty() {
        return;
    }
    let spacing = ui.spacing().item_spacing.x;
    let available = ui.available_width();
    let columns = (((available + spacing) / (TILE_MIN_WIDTH + spacing)).floor() as usize)
        .clamp(1, tiles.len());
    let width = ((available - spacing * (columns - 1) as f32) / columns as f32).floor();
    let mut tiles = tiles.into_iter().peekable();
    while tiles.peek().is_some() {
        ui.horizontal(|ui| {
            for tile in tiles.by_ref().take(columns) {
                tile_ui(app, ui, tile, width);
            }
        });
    }
}

fn tiles(app: &ScaleboardApp) -> Vec<Tile> {
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
    let mut tiles = vec![
        Tile {
            panel: PanelId::Workloads,
            area: Area::Workloads,
            summary: format!(
                "{count} {}, {}",
                units::noun(count as u64, "workload", "workloads"),
                units::replicas(replicas)
            ),
            problem: (not_ready > 0).then(|| format!("{not_ready} not ready")),
        },
        Tile {
            panel: PanelId::Databases,
            area: Area::Databases,
            summary: databases_line,
            problem: databases_warning,
        },
        Tile {
            panel: PanelId::Cache,
            area: Area::Cache,
            summary: format!(
                "hit ratio {}",
                hit.map_or("—".into(), |h| format!("{:.1} %", h * 100.0))
            ),
            problem: None,
        },
        Tile {
            panel: PanelId::Queues,
            area: Area::Queues,
            summary: format!("{depth} jobs waiting"),
            problem: (depth > app.profiles.active.thresholds.queue_depth)
                .then(|| "backlog over threshold".to_string()),
        },
        Tile {
            panel: PanelId::Health,
            area: Area::Health,
            summary: format!("{up}/{total} endpoints up"),
            problem: (up < total).then(|| format!("{} down", total - up)),
        },
    ];
    if let Some(clusters) = clusters_tile(app) {
        tiles.insert(1, clusters);
    }
    tiles
}

/// The Clusters tile, when a Kubernetes context or a Docker engine has capacity data: per
/// context the share of its allocatable CPU and memory that is requested, per engine the share
/// of its memory the containers hold, and the nodes with problems.
fn clusters_tile(app: &ScaleboardApp) -> Option<Tile> {
    let clusters = &app.clusters.clusters;
    let engines: Vec<(String, Option<String>)> = app
        .clusters
        .engines
        .iter()
        .filter_map(engine_tile_words)
        .collect();
    if clusters.is_empty() && engines.is_empty() {
        return None;
    }
    let summary = clusters
        .iter()
        .map(|c| match &c.capacity().nodes {
            Ok(_) => format!(
                "{}: CPU {}, memory {} requested",
                c.context,
                percent(c.totals.cpu_percent()),
                percent(c.totals.memory_percent())
            ),
            Err(_) => format!("{}: nodes not visible", c.context),
        })
        .chain(engines.iter().map(|(words, _)| words.clone()))
        .collect::<Vec<_>>()
        .join("; ");
    let alone = clusters.len() == 1 && engines.is_empty();
    let problems: Vec<String> = clusters
        .iter()
        .filter_map(|c| {
            let p = c.totals.problems()?;
            Some(if alone {
                p
            } else {
                format!("{}: {p}", c.context)
            })
        })
        .chain(engines.iter().filter_map(|(_, p)| p.clone()))
        .collect();
    Some(Tile {
        panel: PanelId::Clusters,
        area: Area::Workloads,
        summary,
        problem: (!problems.is_empty()).then(|| problems.join("; ")),
    })
}

/// "56 %", or "—" where the whole is unknown.
fn percent(p: Option<f64>) -> String {
    p.map_or("—".into(), |p| format!("{p:.0} %"))
}

/// A Docker engine on the Clusters tile: "demo-staging: memory 41 % held" (of its host, or of
/// a Swarm's nodes), and its Swarm nodes that take no tasks ("1 node down, 1 node drained or
/// paused"); "size unknown" when the engine's size could not be read.
fn engine_tile_words(e: &EngineSummary) -> Option<(String, Option<String>)> {
    let engine = e.engine()?;
    let label = &e.endpoint_label;
    let swarm: &[NodeRoom] = engine.swarm_nodes.as_deref().unwrap_or_default();
    let rooms: Vec<&NodeRoom> = if swarm.is_empty() {
        engine.host.iter().collect()
    } else {
        swarm.iter().collect()
    };
    if rooms.is_empty() {
        return Some((format!("{label}: size unknown"), None));
    }
    let held = rooms.iter().map(|r| r.requested_memory_bytes).sum();
    let total = rooms.iter().map(|r| r.allocatable_memory_bytes).sum();
    let percent = percent(share(held, total));
    let down = swarm.iter().filter(|n| !n.ready).count() as u64;
    let paused = swarm.iter().filter(|n| n.ready && n.unschedulable).count() as u64;
    let problems: Vec<String> = [(down, "down"), (paused, "drained or paused")]
        .into_iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {} {what}", units::noun(n, "node", "nodes")))
        .collect();
    Some((
        format!("{label}: memory {percent} held"),
        (!problems.is_empty()).then(|| format!("{label}: {}", problems.join(", "))),
    ))
}

/// A line cut with "…" at the tile's edge; egui shows the whole text on hover when it is cut.
fn tile_line(ui: &mut egui::Ui, text: impl Into<egui::WidgetText>) -> egui::Response {
    ui.add(egui::Label::new(text).truncate())
}

fn tile_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui, tile: Tile, width: f32) {
    let Tile {
        panel,
        area,
        summary,
        problem,
    } = tile;
    // A tile turns amber (warning) or red (critical) while an advisor rule fires on it.
    let alerts = app.firing_in_area(area);
    let mut frame = egui::Frame::group(ui.style());
    if let Some((severity, _)) = alerts {
        frame = frame.stroke(egui::Stroke::new(
            2.0,
            super::alerts_panel::severity_color(severity),
        ));
    }
    let inner_width = (width - frame.total_margin().sum().x).max(40.0);
    let shown = frame.show(ui, |ui| {
        ui.set_width(inner_width);
        ui.vertical(|ui| {
            ui.set_max_width(inner_width);
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
                tile_line(ui, egui::RichText::new("no endpoint").weak());
            } else {
                ui.add(egui::Label::new(summary).wrap());
            }
            if let Some((severity, n)) = alerts {
                let text = egui::RichText::new(format!(
                    "{n} alert{} firing",
                    if n == 1 { "" } else { "s" }
                ))
                .color(super::alerts_panel::severity_color(severity));
                if ui
                    .add(egui::Link::new(text))
                    .on_hover_text("Open the Alerts panel")
                    .clicked()
                {
                    app.open_panel(PanelId::Alerts);
                }
            }
            if let Some(p) = problem {
                tile_line(ui, egui::RichText::new(p).color(theme::WARN));
            } else if let Some((state, Some(reason))) = health
                && state != crate::health::HealthState::Ok
            {
                tile_line(
                    ui,
                    egui::RichText::new(reason).color(theme::health_color(state)),
                );
            }
        });
    });
    // A named group for screen readers (and the layout tests): "Queues tile".
    shown.response.widget_info(|| {
        egui::WidgetInfo::labeled(
            egui::accesskit::Role::Group,
            true,
            format!("{} tile", panel.label()),
        )
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::capacity::{CapacityView, EngineCapacity};
    use std::sync::Arc;

    const GIB: u64 = 1 << 30;

    fn room(name: &str, held_gib: u64, ready: bool, unschedulable: bool) -> NodeRoom {
        NodeRoom {
            name: name.into(),
            allocatable_cpu_milli: 4_000,
            allocatable_memory_bytes: 8 * GIB,
            allocatable_pods: u64::MAX,
            requested_cpu_milli: 0,
            requested_memory_bytes: held_gib * GIB,
            pods: 1,
            labels: Default::default(),
            taints: Vec::new(),
            unschedulable,
            ready,
        }
    }

    fn engine(host: Option<NodeRoom>, swarm: Vec<NodeRoom>) -> EngineSummary {
        EngineSummary {
            endpoint_label: "staging".into(),
            view: Arc::new(CapacityView {
                engine: Some(EngineCapacity {
                    name: "the local Docker engine".into(),
                    host,
                    swarm_nodes: if swarm.is_empty() {
                        Err("not a Swarm manager".into())
                    } else {
                        Ok(swarm)
                    },
                    counted: "2 running containers".into(),
                }),
                ..CapacityView::default()
            }),
            services: Vec::new(),
        }
    }

    #[test]
    fn an_engine_says_what_its_containers_hold_and_which_nodes_take_no_tasks() {
        let compose = engine(Some(room("host", 2, true, false)), Vec::new());
        assert_eq!(
            engine_tile_words(&compose),
            Some(("staging: memory 25 % held".to_string(), None))
        );
        // A Swarm: its nodes' memory together, the one down and the two drained named.
        let swarm = engine(
            Some(room("host", 0, true, false)),
            vec![
                room("a", 4, true, false),
                room("b", 2, false, false),
                room("c", 0, true, true),
                room("d", 0, true, true),
            ],
        );
        assert_eq!(
            engine_tile_words(&swarm),
            Some((
                "staging: memory 19 % held".to_string(),
                Some("staging: 1 node down, 2 nodes drained or paused".to_string())
            ))
        );
        let unknown = engine(None, Vec::new());
        assert_eq!(
            engine_tile_words(&unknown),
            Some(("staging: size unknown".to_string(), None))
        );
    }
}
