//! Profiles: switch, create, edit, duplicate, delete; damaged files are shown, never rewritten;
//! profiles with errors are listed with each error's line and column, and never connected.

use super::profile_editor::profile_editor_ui;
use super::theme;
use super::widgets::panel_header_ui;
use crate::app::ScaleboardApp;
use crate::engine::Command;
use crate::engine::files::FileJob;
use crate::profiles::{KeyringStatus, Profile};

pub fn profiles_panel_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    panel_header_ui(ui, app, "Profiles");
    if let Some(damaged) = &app.profiles.damaged {
        ui.colored_label(
            theme::BAD,
            format!("The profile file is damaged and was left untouched: {damaged}"),
        );
        ui.label("Fix the file by hand (or move it away) and restart; until then nothing is saved, and the demo fleet stays available.");
        ui.separator();
    }
    if profile_errors_ui(app, ui) {
        app.send(Command::Files(FileJob::ReloadProfiles));
    }
    match &app.profiles.keyring {
        Some(KeyringStatus::Unavailable(why)) => {
            ui.colored_label(
                theme::WARN,
                crate::profiles::secrets::without_keyring_words(
                    why,
                    crate::profiles::secrets::process_credentials_file()
                        .as_ref()
                        .map(|f| f.path()),
                ),
            );
        }
        Some(KeyringStatus::Available) => {
            ui.weak("Secrets are stored in the OS keyring; profiles.toml holds only their names.");
        }
        None => {
            ui.weak("Secrets go to the OS keyring; profiles.toml holds only their names.");
        }
    }
    if app.profiles.editor.is_some() {
        profile_editor_ui(app, ui);
        return;
    }
    let mut switch_to = None;
    let mut edit = None;
    let mut duplicate = None;
    let mut delete = None;
    let active = app.profiles.active.name.clone();
    let demo = Profile::demo_default();
    egui::Grid::new("profiles_grid")
        .striped(true)
        .show(ui, |ui| {
            for h in ["Profile", "Endpoints", "Refresh", "Mode", ""] {
                ui.strong(h);
            }
            ui.end_row();
            let builtin = std::iter::once((&demo, true));
            for (p, is_builtin) in builtin.chain(app.profiles.list.iter().map(|p| (p, false))) {
                if p.name == active {
                    ui.strong(format!("{} (active)", p.name));
                } else {
                    ui.label(&p.name);
                }
                ui.label(if p.demo {
                    "built-in demo fleet".into()
                } else {
                    format!("{} endpoint(s)", p.endpoint_names().len())
                });
                ui.label(format!("{} s", p.refresh_interval_secs));
                ui.label(if p.read_only {
                    "read-only"
                } else {
                    "read-write"
                });
                ui.horizontal(|ui| {
                    if ui
                        .add_enabled(p.name != active, egui::Button::new("Switch"))
                        .on_hover_text(format!("Switch to {}", p.name))
                        .clicked()
                    {
                        switch_to = Some(p.clone());
                    }
                    if !is_builtin {
                        if ui
                            .button("Edit")
                            .on_hover_text(format!("Edit {}", p.name))
                            .clicked()
                        {
                            edit = Some(p.clone());
                        }
                        if ui
                            .button("Duplicate")
                            .on_hover_text(format!("Duplicate {}", p.name))
                            .clicked()
                        {
                            duplicate = Some(p.name.clone());
                        }
                        if ui
                            .button("Delete")
                            .on_hover_text(format!("Delete {}", p.name))
                            .clicked()
                        {
                            delete = Some(p.name.clone());
                        }
                    }
                });
                ui.end_row();
            }
        });
    if ui.button("New profile").clicked() {
        let mut name = "New profile".to_string();
        let mut n = 2;
        while app.profiles.list.iter().any(|p| p.name == name) {
            name = format!("New profile {n}");
            n += 1;
        }
        app.profiles.editor = Some((None, Profile::named(name)));
    }
    if let Some(p) = switch_to {
        app.switch_profile(p);
    }
    if let Some(p) = edit {
        app.profiles.editor = Some((Some(p.name.clone()), p));
    }
    if let Some(name) = duplicate {
        let mut new_name = format!("{name} copy");
        let mut n = 2;
        while app.profiles.list.iter().any(|p| p.name == new_name) {
            new_name = format!("{name} copy {n}");
            n += 1;
        }
        app.send(Command::Files(FileJob::DuplicateProfile { name, new_name }));
    }
    if let Some(name) = delete {
        app.send(Command::Files(FileJob::DeleteProfile(name)));
    }
}

/// Profiles refused on load and problems of the file itself, each with its line and column.
/// True when the operator asks to read the file again.
fn profile_errors_ui(app: &ScaleboardApp, ui: &mut egui::Ui) -> bool {
    let issues = &app.profiles.issues;
    if issues.is_empty() {
        return false;
    }
    let mut reload = false;
    ui.horizontal_wrapped(|ui| {
        ui.colored_label(
            theme::BAD,
            "Parts of profiles.toml were not loaded. Fix them in the file, then reload; \
             a profile with errors is never connected, the others work as usual.",
        );
        if ui
            .button("Reload profiles.toml")
            .on_hover_text("Read the file again; connected profiles stay connected")
            .clicked()
        {
            reload = true;
        }
    });
    for issue in &issues.file {
        ui.colored_label(theme::BAD, format!("profiles.toml, {issue}"));
    }
    for rejected in &issues.rejected {
        ui.colored_label(
            theme::BAD,
            format!(
                "{} (line {}): not loaded, not connected",
                rejected.label(),
                rejected.line
            ),
        );
        ui.indent(("profile_errors", rejected.index), |ui| {
            for issue in &rejected.issues {
                ui.label(issue.to_string());
            }
        });
    }
    ui.separator();
    reload
}
