//! "About Scaleboard" (under the `?` menu): version, licence and where this run keeps its files.

use crate::app::ScaleboardApp;
use std::path::Path;

/// The `?` menu of the top bar: the shortcut list and About.
pub fn help_menu_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    ui.menu_button("?", |ui| {
        if ui.button("Keyboard shortcuts…").clicked() {
            app.view.show_shortcuts = true;
        }
        if ui.button("About Scaleboard…").clicked() {
            app.about.open = true;
        }
    })
    .response
    .on_hover_text("Keyboard shortcuts (?) and About");
}

fn path_row(ui: &mut egui::Ui, what: &str, path: &Path) {
    let text = path.display().to_string();
    ui.label(what);
    ui.add(egui::Label::new(egui::RichText::new(&text).monospace()).selectable(true));
    if ui
        .small_button("Copy")
        .on_hover_text(format!("Copy the path of the {}", what.to_lowercase()))
        .clicked()
    {
        ui.ctx().copy_text(text);
    }
    ui.end_row();
}

pub fn about_window_ui(app: &mut ScaleboardApp, ctx: &egui::Context) {
    let mut open = app.about.open;
    let about = &app.about;
    egui::Window::new("About Scaleboard")
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .show(ctx, |ui| {
            ui.heading(format!("Scaleboard {}", about.version));
            ui.label(
                "A native desktop scaling console: live fleet plots and safe scaling actions.",
            );
            ui.label(format!(
                "Licence: {}. Embedded font: DejaVu Sans (Bitstream Vera licence).",
                about.license
            ));
            ui.add_space(6.0);
            ui.strong("Where this run keeps its files");
            egui::Grid::new("about_paths")
                .num_columns(3)
                .striped(true)
                .show(ui, |ui| {
                    path_row(ui, "Profiles", &about.profiles_file);
                    path_row(ui, "Cost models", &about.cost_models_file);
                    path_row(ui, "Audit log", &about.audit_log);
                });
            ui.weak(
                "Files appear on first save. Move them with --config-dir or \
                 SCALEBOARD_CONFIG_DIR (profiles, cost models) and SCALEBOARD_DATA_DIR (audit log).",
            );
            ui.add_space(6.0);
            ui.strong("What the plots keep");
            let (short, long) =
                super::status_bar::series_words(&app.store.summary(), app.store.config());
            ui.label(short);
            ui.weak(long);
        });
    app.about.open = open && app.about.open;
}
