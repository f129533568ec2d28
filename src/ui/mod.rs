//! Everything that draws. One file per panel plus shared widgets; functions that draw end in
//! `_ui`. Panels read `ScaleboardApp` state and ask it to act; they never do I/O.

mod about;
pub mod alerts_panel;
mod audit_panel;
mod audit_team_view;
mod cache_panel;
pub mod chart_style;
pub mod charts;
mod close_dialog;
pub mod clusters_engines;
pub mod clusters_panel;
pub mod clusters_plots;
pub mod clusters_summary;
mod confirm_dialog;
mod cost_charts;
mod cost_panel;
mod cost_tables;
mod databases_panel;
pub mod fonts;
mod health_lb;
mod health_panel;
mod in_progress;
mod mysql_view;
mod notifications;
pub mod overview_panel;
mod overview_tiles;
mod patroni_view;
mod pgbouncer_view;
mod profile_editor;
mod profile_mysql;
mod profile_nginx;
mod profile_patroni;
mod profile_pgbouncer;
mod profile_prometheus;
mod profile_queues;
mod profile_rules;
mod profiles_panel;
pub mod queues_panel;
mod shortcuts;
mod status_bar;
pub mod theme;
mod widgets;
mod workloads_panel;
pub mod workloads_table;

use crate::app::{PanelId, ScaleboardApp, TimeRange};

/// The whole window, once per frame.
pub fn root_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    fonts::install(ui.ctx());
    theme::apply(ui.ctx(), app.view.dark);
    shortcuts::handle_keys(app, ui.ctx());
    top_bar_ui(app, ui);
    status_bar::status_bar_ui(app, ui);
    nav_ui(app, ui);
    egui::CentralPanel::default().show(ui, |ui| {
        actions_strip_ui(app, ui);
        egui::ScrollArea::vertical()
            .auto_shrink([false, false])
            .show(ui, |ui| match app.view.panel {
                PanelId::Overview => overview_panel::overview_panel_ui(app, ui),
                PanelId::Workloads => workloads_panel::workloads_panel_ui(app, ui),
                PanelId::Databases => databases_panel::databases_panel_ui(app, ui),
                PanelId::Cache => cache_panel::cache_panel_ui(app, ui),
                PanelId::Queues => queues_panel::queues_panel_ui(app, ui),
                PanelId::Health => health_panel::health_panel_ui(app, ui),
                PanelId::Cost => cost_panel::cost_panel_ui(app, ui),
                PanelId::Audit => audit_panel::audit_panel_ui(app, ui),
                PanelId::Profiles => profiles_panel::profiles_panel_ui(app, ui),
                PanelId::Alerts => alerts_panel::alerts_panel_ui(app, ui),
                PanelId::Clusters => clusters_panel::clusters_panel_ui(app, ui),
            });
    });
    confirm_dialog::confirm_dialog_ui(app, ui.ctx());
    close_dialog::close_dialog_ui(app, ui.ctx());
    shortcuts::shortcuts_window_ui(app, ui.ctx());
    about::about_window_ui(app, ui.ctx());
    notifications::notifications_ui(app, ui.ctx());
}

fn top_bar_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    let title = if app.is_demo() {
        format!("Scaleboard — {} — DEMO", app.profiles.active.name)
    } else {
        format!("Scaleboard — {}", app.profiles.active.name)
    };
    if app.view.window_title != title {
        ui.ctx()
            .send_viewport_cmd(egui::ViewportCommand::Title(title.clone()));
        app.view.window_title = title;
    }
    egui::Panel::top("top_bar").show(ui, |ui| {
        ui.horizontal(|ui| {
            ui.strong("Scaleboard");
            ui.label(&app.profiles.active.name);
            if app.is_demo() {
                widgets::demo_badge_ui(ui);
            }
            if app.profiles.active.read_only {
                ui.colored_label(theme::WARN, "read-only");
            }
            ui.separator();
            ui.label("Range:");
            for range in TimeRange::ALL {
                ui.selectable_value(&mut app.view.range, range, range.label());
            }
            ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
                about::help_menu_ui(app, ui);
                let theme_label = if app.view.dark {
                    "Light theme"
                } else {
                    "Dark theme"
                };
                if ui.button(theme_label).clicked() {
                    app.view.dark = !app.view.dark;
                }
                let bell = format!("Notifications ({})", app.notifications.unread);
                if ui.button(bell).clicked() {
                    app.view.show_notifications = !app.view.show_notifications;
                    app.notifications.unread = 0;
                }
            });
        });
    });
}

fn nav_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    egui::Panel::left("nav")
        .resizable(false)
        .exact_size(140.0)
        .show(ui, |ui| {
            ui.add_space(6.0);
            for panel in PanelId::NAV {
                let response = ui
                    .selectable_label(app.view.panel == panel, panel.label())
                    .on_hover_text(panel.shortcut());
                if response.clicked() {
                    app.open_panel(panel);
                }
            }
        });
}

/// Actions in flight (grace countdown with Cancel, verification) and recent results.
fn actions_strip_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    let mut cancel = None;
    let mut replan = None;
    let mut dismiss = Vec::new();
    // Buttons first and text truncated (full text on hover): a long verification detail must
    // never push Cancel or Dismiss off the window, nor widen the panel below.
    let text = |ui: &mut egui::Ui, t: egui::WidgetText| {
        ui.add(egui::Label::new(t).truncate());
    };
    for a in &app.actions.running {
        ui.horizontal(|ui| match (&a.stage, &a.record) {
            (_, Some(record)) => {
                if ui.small_button("Dismiss").clicked() {
                    dismiss.push(a.id);
                }
                let color = match record.outcome {
                    crate::actions::audit::AuditOutcome::Succeeded => theme::GOOD,
                    _ => theme::WARN,
                };
                if record.outcome == crate::actions::audit::AuditOutcome::NotRun
                    && let Some(action) = &a.action
                    && ui.small_button("Plan again").clicked()
                {
                    replan = Some(action.clone());
                    dismiss.push(a.id);
                }
                text(
                    ui,
                    egui::RichText::new(format!(
                        "{} — {}",
                        a.title,
                        record.outcome_text().headline
                    ))
                    .color(color)
                    .into(),
                );
            }
            (Some(crate::engine::ActionStage::Grace { remaining }), None) => {
                if ui.button("Cancel").clicked() {
                    cancel = Some(a.id);
                }
                ui.add(egui::Spinner::new());
                text(
                    ui,
                    format!("{}: starts in {} s", a.title, remaining.as_secs()).into(),
                );
            }
            (Some(crate::engine::ActionStage::Rechecking), None) => {
                ui.add(egui::Spinner::new());
                text(
                    ui,
                    format!("{}: reading the target again before the write…", a.title).into(),
                );
            }
            (Some(crate::engine::ActionStage::Executing), None) => {
                ui.add(egui::Spinner::new());
                text(ui, format!("{}: executing…", a.title).into());
            }
            (Some(crate::engine::ActionStage::Verifying { observed }), None) => {
                ui.add(egui::Spinner::new());
                text(ui, format!("{}: verifying — {observed}", a.title).into());
            }
            (None, None) => {
                ui.add(egui::Spinner::new());
                text(ui, format!("{}: queued", a.title).into());
            }
        });
    }
    if let Some(id) = cancel {
        app.cancel_action(id);
    }
    if let Some(action) = replan {
        app.propose(action);
    }
    app.actions.running.retain(|a| !dismiss.contains(&a.id));
    if !app.actions.running.is_empty() {
        ui.separator();
    }
}

impl ScaleboardApp {
    pub fn open_panel(&mut self, panel: PanelId) {
        self.view.panel = panel;
        if panel == PanelId::Audit {
            self.request_audit();
        }
    }
}
