//! Small shared widgets: status dots, the DEMO badge, panel headers, number formatting.

use super::theme;
use crate::app::ScaleboardApp;
use crate::engine::ConnStatus;
use egui::RichText;

/// A filled circle drawn with the painter (no font has to carry a glyph for it).
pub fn status_dot_ui(ui: &mut egui::Ui, status: ConnStatus) {
    dot_ui(ui, theme::status_color(status), status.label());
}

pub fn health_dot_ui(ui: &mut egui::Ui, health: &crate::health::EndpointHealth) {
    dot_ui(ui, theme::health_color(health.state), &health.line());
}

pub fn dot_ui(ui: &mut egui::Ui, color: egui::Color32, hover: &str) {
    let (rect, response) = ui.allocate_exact_size(egui::vec2(12.0, 12.0), egui::Sense::hover());
    ui.painter().circle_filled(rect.center(), 5.0, color);
    response.on_hover_text(hover);
}

pub fn demo_badge_ui(ui: &mut egui::Ui) {
    ui.label(
        RichText::new(" DEMO ")
            .strong()
            .color(egui::Color32::WHITE)
            .background_color(theme::DEMO),
    )
    .on_hover_text("Simulated data from the built-in demo fleet, not a real system");
}

/// Every panel starts with its title and, on the demo fleet, the DEMO badge.
pub fn panel_header_ui(ui: &mut egui::Ui, app: &ScaleboardApp, title: &str) {
    ui.horizontal(|ui| {
        ui.heading(title);
        if app.is_demo() {
            demo_badge_ui(ui);
        }
    });
    ui.separator();
}

/// Endpoints of an area with their status and the error (once, in words).
pub fn endpoint_status_ui(ui: &mut egui::Ui, app: &ScaleboardApp, area: crate::engine::Area) {
    let now = app.clock.now_ms();
    for e in app.fleet.in_area(area) {
        ui.horizontal(|ui| {
            status_dot_ui(ui, e.status);
            ui.label(&e.info.label);
            ui.weak(age_text(now, e.updated_at));
            if let Some(err) = &e.last_error {
                ui.colored_label(theme::BAD, err);
            }
        });
    }
}

pub fn age_text(now: i64, at: Option<i64>) -> String {
    match at {
        None => "no data yet".into(),
        Some(t) => format!("updated {} s ago", ((now - t).max(0) / 1000)),
    }
}

pub fn percent(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.0} %"))
}

/// Shown by panels whose connectors are not built yet, and when an area has no endpoint.
pub fn nothing_here_ui(ui: &mut egui::Ui, what: &str) {
    ui.add_space(8.0);
    ui.label(RichText::new(what).italics());
}
