//! Docker engines in the Clusters panel: per engine its CPUs and memory against what the
//! running containers hold (memory by reservation, else limit; CPU by limit), how that was
//! counted, a Swarm's nodes with their resources and availability, and per Compose or Swarm
//! service how many more replicas fit (the plans' fit rules, computed when the view changes).

use super::clusters_panel::bar_ui;
use super::clusters_summary::EngineSummary;
use super::theme;
use crate::model::capacity::{EngineCapacity, format_cpu_milli};
use crate::model::units::format_bytes;
use egui::RichText;

pub fn engines_ui(ui: &mut egui::Ui, engines: &[EngineSummary]) {
    for e in engines {
        let Some(engine) = e.engine() else { continue };
        egui::CollapsingHeader::new(
            RichText::new(format!("{} · {}", e.endpoint_label, engine.name)).strong(),
        )
        .id_salt(("engine", &e.endpoint_label))
        .default_open(true)
        .show(ui, |ui| engine_ui(ui, e, engine));
    }
}

fn engine_ui(ui: &mut egui::Ui, e: &EngineSummary, engine: &EngineCapacity) {
    match &engine.host {
        None => {
            ui.colored_label(theme::WARN, format!("size unknown: {}", engine.counted));
        }
        Some(host) => {
            bar_ui(
                ui,
                "CPU",
                host.requested_cpu_milli,
                host.allocatable_cpu_milli,
                &format!(
                    "limits {} of {} cores",
                    format_cpu_milli(host.requested_cpu_milli),
                    format_cpu_milli(host.allocatable_cpu_milli)
                ),
            );
            bar_ui(
                ui,
                "Memory",
                host.requested_memory_bytes,
                host.allocatable_memory_bytes,
                &format!(
                    "{} of {} held, {} free",
                    format_bytes(host.requested_memory_bytes),
                    format_bytes(host.allocatable_memory_bytes),
                    format_bytes(host.free_memory_bytes())
                ),
            );
            ui.weak(format!("Counted: {}.", engine.counted));
        }
    }
    match &engine.swarm_nodes {
        Ok(nodes) if !nodes.is_empty() => {
            egui::Grid::new(("swarm nodes", &e.endpoint_label))
                .striped(true)
                .show(ui, |ui| {
                    for title in [
                        "Swarm node",
                        "Role",
                        "State",
                        "Availability",
                        "CPU reserved",
                        "Memory reserved",
                        "Tasks",
                    ] {
                        ui.strong(title);
                    }
                    ui.end_row();
                    for n in nodes {
                        ui.label(&n.name);
                        ui.label(n.labels.get("node.role").map_or("?", String::as_str));
                        if n.ready {
                            ui.label("ready");
                        } else {
                            ui.colored_label(theme::BAD, "NOT READY");
                        }
                        if n.unschedulable {
                            ui.colored_label(theme::WARN, "drained or paused");
                        } else {
                            ui.label("active");
                        }
                        ui.label(format!(
                            "{} / {}",
                            format_cpu_milli(n.requested_cpu_milli),
                            format_cpu_milli(n.allocatable_cpu_milli)
                        ));
                        ui.label(format!(
                            "{} / {}",
                            format_bytes(n.requested_memory_bytes),
                            format_bytes(n.allocatable_memory_bytes)
                        ));
                        ui.label(n.pods.to_string());
                        ui.end_row();
                    }
                });
        }
        Ok(_) => {}
        Err(why) => {
            ui.weak(format!("Swarm: {why}."));
        }
    }
    if e.services.is_empty() {
        return;
    }
    egui::Grid::new(("services", &e.endpoint_label))
        .striped(true)
        .show(ui, |ui| {
            for title in ["Service", "Replicas", "More fit", "Each", "Limited by"] {
                ui.strong(title);
            }
            ui.end_row();
            for (service, replicas, fit) in &e.services {
                ui.label(service);
                ui.label(replicas.to_string());
                match fit.more_fit {
                    Some(n) => ui.label(format!("{n} more fit")),
                    None => ui.colored_label(theme::WARN, "not judged"),
                };
                ui.label(&fit.each);
                ui.label(&fit.limit);
                ui.end_row();
            }
        });
}
