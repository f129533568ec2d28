//! Toasts for new notifications (each shown once) and the notifications list.

use super::theme;
use crate::app::{Level, ScaleboardApp};

fn color(level: Level) -> egui::Color32 {
    match level {
        Level::Info => theme::GOOD,
        Level::Warning => theme::WARN,
        Level::Error => theme::BAD,
    }
}

pub fn notifications_ui(app: &mut ScaleboardApp, ctx: &egui::Context) {
    let now = app.clock.now_ms();
    let toasts: Vec<_> = app.notifications.toasts(now).take(4).cloned().collect();
    if !toasts.is_empty() {
        egui::Area::new(egui::Id::unique("toasts"))
            .anchor(egui::Align2::RIGHT_BOTTOM, [-12.0, -36.0])
            .show(ctx, |ui| {
                for n in toasts {
                    egui::Frame::popup(ui.style()).show(ui, |ui| {
                        ui.set_max_width(420.0);
                        ui.colored_label(color(n.level), &n.text);
                    });
                }
            });
    }
    let mut open = app.view.show_notifications;
    egui::Window::new("Notifications")
        .open(&mut open)
        .default_width(520.0)
        .show(ctx, |ui| {
            if app.notifications.list.is_empty() {
                ui.weak("Nothing yet.");
            }
            egui::ScrollArea::vertical()
                .max_height(400.0)
                .show(ui, |ui| {
                    for n in app.notifications.list.iter().rev() {
                        ui.horizontal_wrapped(|ui| {
                            let when = chrono::DateTime::from_timestamp_millis(n.at)
                                .map(|t| t.format("%H:%M:%S").to_string())
                                .unwrap_or_default();
                            ui.weak(when);
                            ui.colored_label(color(n.level), &n.text);
                        });
                    }
                });
            if ui.button("Clear").clicked() {
                app.notifications.list.clear();
            }
        });
    app.view.show_notifications = open;
}
