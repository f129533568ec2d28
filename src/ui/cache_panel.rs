//! Cache: Redis nodes with hit ratio, memory vs maxmemory, evictions.

use super::charts::metric_grid_ui;
use super::theme;
use super::widgets::{self, panel_header_ui};
use crate::actions::plan::format_bytes;
use crate::app::ScaleboardApp;
use crate::engine::Area;

pub fn cache_panel_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    panel_header_ui(ui, app, "Cache");
    widgets::endpoint_status_ui(ui, app, Area::Cache);
    let nodes: Vec<(String, crate::model::snapshot::CacheNode)> = app
        .fleet
        .cache_nodes()
        .map(|(e, n)| (format!("{}/{}", e.info.id, n.name), n.clone()))
        .collect();
    if nodes.is_empty() {
        widgets::nothing_here_ui(
            ui,
            "No Redis endpoint is polled. Add one to the profile (a redis:// or rediss:// URL); the demo fleet shows what it looks like.",
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
            "Frag.",
            "Ops/s",
            "Evictions/s",
            "Expired/s",
            "Clients",
            "Keys",
            "Replication / cluster",
        ] {
            ui.strong(h);
        }
        ui.end_row();
        for (_, n) in &nodes {
            ui.label(&n.name);
            if let Some(e) = &n.error {
                ui.colored_label(theme::WARN, &n.role);
                ui.colored_label(theme::WARN, e);
                ui.end_row();
                continue;
            }
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
            let pct = n.memory_percent();
            ui.colored_label(
                if pct.is_some_and(|p| p > t.cache_memory_percent) {
                    theme::WARN
                } else {
                    ui.visuals().text_color()
                },
                match pct {
                    Some(pct) => format!(
                        "{} / {} ({pct:.0} %)",
                        format_bytes(n.used_memory_bytes),
                        format_bytes(n.max_memory_bytes)
                    ),
                    None => format!("{} (no limit)", format_bytes(n.used_memory_bytes)),
                },
            );
            ui.label(&n.eviction_policy);
            ui.label(
                n.fragmentation_ratio
                    .map_or("—".into(), |f| format!("{f:.2}")),
            );
            ui.label(format!("{:.0}", n.ops_per_sec));
            ui.colored_label(
                if n.evictions_per_sec > 0.0 {
                    theme::WARN
                } else {
                    ui.visuals().text_color()
                },
                format!("{:.1}", n.evictions_per_sec),
            );
            ui.label(format!("{:.1}", n.expired_per_sec));
            ui.label(format!(
                "{} ({} blocked)",
                n.connected_clients, n.blocked_clients
            ));
            ui.label(
                n.keys_per_db
                    .iter()
                    .map(|(db, k)| format!("db{db}: {k}"))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
            let (text, warn) = replication_text(n);
            if warn {
                ui.colored_label(theme::WARN, text);
            } else {
                ui.label(text);
            }
            ui.end_row();
        }
    });
    let plots = [
        ("c_hit", "Hit ratio", "ratio", "hit_ratio"),
        ("c_mem", "Memory", "% of maxmemory", "memory_percent"),
        ("c_ops", "Operations", "per second", "ops_per_sec"),
        ("c_ev", "Evictions", "per second", "evictions_per_sec"),
    ];
    let targets = |_: &str| -> Vec<(String, String)> {
        nodes
            .iter()
            .map(|(t, x)| (t.clone(), x.name.clone()))
            .collect()
    };
    metric_grid_ui(ui, app, &plots, &targets);
}

/// Replicas with their lag, a replica's master link, or a cluster's slot coverage; and whether
/// it deserves a warning.
fn replication_text(n: &crate::model::snapshot::CacheNode) -> (String, bool) {
    let mut parts = Vec::new();
    let mut warn = false;
    if let Some(r) = &n.replication {
        if let Some(master) = &r.master {
            let up = r.master_link_up == Some(true);
            warn |= !up;
            parts.push(format!(
                "replica of {master}, link {}, offset {}",
                if up { "up" } else { "down" },
                r.offset
            ));
        }
        for rep in &r.replicas {
            warn |= rep.state != "online";
            parts.push(format!(
                "{} {} lag {} ({} s)",
                rep.address,
                rep.state,
                format_bytes(rep.lag_bytes),
                rep.lag_secs.map_or("?".into(), |s| s.to_string())
            ));
        }
    }
    if let Some(c) = &n.cluster {
        warn |= !c.state_ok || !c.failing_nodes.is_empty();
        let mut text = format!(
            "cluster {}: {}/16384 slots ok, {} nodes",
            if c.state_ok { "ok" } else { "FAIL" },
            c.slots_ok,
            c.known_nodes
        );
        if !c.failing_nodes.is_empty() {
            text.push_str(&format!(", failing: {}", c.failing_nodes.join(", ")));
        }
        parts.push(text);
    }
    if parts.is_empty() {
        ("—".into(), false)
    } else {
        (parts.join("; "), warn)
    }
}
