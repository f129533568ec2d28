//! Small shared widgets: status dots, the DEMO badge, panel headers, number formatting.

use super::theme;
use crate::app::ScaleboardApp;
use egui::RichText;

/// A filled circle drawn with the painter (no font has to carry a glyph for it).
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
/// One line per endpoint of an area: its health (ok / degraded / stale / down) with the reasons,
/// from the same assessment as the status bar, the overview tiles and `scaleboard status`.
pub fn endpoint_status_ui(ui: &mut egui::Ui, app: &ScaleboardApp, area: crate::engine::Area) {
    use crate::health::HealthState;
    let now = app.clock.now_ms();
    for e in app.fleet.in_area(area) {
        let state = e.health.state;
        let color = theme::health_color(state);
        ui.horizontal_wrapped(|ui| {
            health_dot_ui(ui, &e.health);
            ui.label(&e.info.label);
            ui.colored_label(color, state.label());
            match state {
                // The view below is the last one that arrived: say how old it is.
                HealthState::Stale | HealthState::Down if e.updated_at.is_some() => {
                    ui.colored_label(
                        color,
                        format!(
                            "showing the last view, {} s old",
                            (now - e.updated_at.unwrap_or(now)).max(0) / 1000
                        ),
                    );
                }
                _ => {
                    ui.weak(age_text(now, e.updated_at));
                }
            }
        });
        for reason in e.health.reasons.iter().take(4) {
            ui.horizontal(|ui| {
                ui.add_space(16.0);
                ui.add(egui::Label::new(RichText::new(reason).color(color)).wrap());
            });
        }
        if e.health.reasons.len() > 4 {
            ui.weak(format!("… and {} more", e.health.reasons.len() - 4));
        }
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
