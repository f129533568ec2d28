//! Load balancers in the Health panel and on workload rows: each linked nginx upstream next to
//! the replicas behind it ("LB: 2 of 3 replicas behind nexus_api; 1 listed server has no
//! replica"), read by the engine each refresh.

use super::theme;
use crate::connectors::nginx::status::LinkReport;
use crate::health::{EXIT_CRITICAL, EXIT_OK, EXIT_WARNING};

pub fn color(code: u8, ui: &egui::Ui) -> egui::Color32 {
    match code {
        EXIT_OK => theme::GOOD,
        EXIT_WARNING => theme::WARN,
        EXIT_CRITICAL => theme::BAD,
        _ => ui.visuals().weak_text_color(),
    }
}

/// One line per linked upstream, with what is missing or orphaned underneath.
pub fn load_balancers_ui(ui: &mut egui::Ui, reports: &[LinkReport]) {
    if reports.is_empty() {
        return;
    }
    ui.heading("Load balancers");
    for r in reports {
        ui.horizontal_wrapped(|ui| {
            ui.label(format!("nginx {} → {}", r.nginx, r.workload));
            ui.colored_label(color(r.exit_code, ui), &r.summary);
        });
        if let Some(d) = &r.drift {
            for m in &d.missing {
                ui.weak(format!("    not behind nginx: {m}"));
            }
            for o in &d.orphans {
                ui.weak(format!("    listed without a replica: {o}"));
            }
        }
    }
    ui.separator();
}

/// The short form on a workload's row: "LB 2/3", the full sentence on hover.
pub fn row_badge_ui(ui: &mut egui::Ui, report: &LinkReport) {
    let text = match &report.drift {
        Some(d) => format!("LB {}/{}", d.behind, d.replicas),
        None => "LB ?".to_string(),
    };
    ui.colored_label(color(report.exit_code, ui), text)
        .on_hover_text(&report.summary);
}
