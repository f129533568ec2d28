//! Cost: the calculator. Models list (duplicate / rename / delete), assumptions, a summary per
//! scenario with both MRR ratios, charts, the scenario editor, live run rate with what-if, and
//! report export. Edits stay in a draft until "Save"; files are written by the engine.

use super::cost_charts::cost_charts_ui;
use super::cost_tables::{decimal_ui, live_ui, scenario_editor_ui};
use super::theme;
use super::widgets::panel_header_ui;
use crate::app::ScaleboardApp;
use crate::cost::money::{format_delta_minor, format_minor};
use crate::cost::totals::{format_percent_exact, format_percent_seed};
use crate::cost::{ReportFormat, SEED_TEMPLATE_NAME};
use egui::RichText;

pub fn cost_panel_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    panel_header_ui(ui, app, "Cost");
    app.cost_ensure_loaded();
    models_bar_ui(app, ui);
    ui.separator();
    assumptions_ui(app, ui);
    ui.add_space(6.0);
    summary_ui(app, ui);
    ui.add_space(6.0);
    cost_charts_ui(&app.cost.draft, ui);
    ui.separator();
    let problems = app.cost.draft.problems();
    for p in &problems {
        ui.colored_label(theme::BAD, p.to_string());
    }
    if scenario_editor_ui(&mut app.cost, ui) {
        app.cost.dirty = true;
    }
    ui.separator();
    live_ui(app, ui);
    ui.separator();
    export_ui(app, ui);
}

fn models_bar_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    if let Some(d) = &app.cost.damaged {
        ui.colored_label(
            theme::BAD,
            format!("The cost model file is damaged and was left untouched; saving is off until it is fixed: {d}"),
        );
    }
    let models = app.cost.models();
    ui.horizontal_wrapped(|ui| {
        ui.label("Model:");
        let current = app.cost.draft_source.clone();
        let mut open: Option<String> = None;
        egui::ComboBox::from_id_salt("cost_model")
            .selected_text(&current)
            .show_ui(ui, |ui| {
                for m in &models {
                    let label = if app.cost.is_saved(&m.name) {
                        m.name.clone()
                    } else {
                        format!("{} (built in)", m.name)
                    };
                    if ui.selectable_label(m.name == current, label).clicked() {
                        open = Some(m.name.clone());
                    }
                }
            });
        if let Some(name) = open {
            app.cost.open(&name);
            app.cost.what_if.clear();
        }
        let saved = app.cost.is_saved(&current);
        if !saved {
            ui.weak(if current == SEED_TEMPLATE_NAME {
                "built-in template from the seeds' cost calculator"
            } else {
                "not saved"
            });
        }
        let can_save = app.cost.damaged.is_none() && (app.cost.dirty || !saved);
        if ui
            .add_enabled(can_save, egui::Button::new("Save"))
            .on_hover_text("Write the model to cost-models.toml in the config dir")
            .clicked()
        {
            app.cost_save();
        }
        if app.cost.dirty {
            ui.colored_label(theme::WARN, "unsaved changes");
            if ui.button("Discard").clicked() {
                app.cost.open(&current);
            }
        }
        ui.separator();
        ui.add(
            egui::TextEdit::singleline(&mut app.cost.new_name)
                .hint_text("new name")
                .desired_width(140.0),
        );
        let new_name = app.cost.new_name.trim().to_owned();
        let name_ok = !new_name.is_empty() && !models.iter().any(|m| m.name == new_name);
        if ui
            .add_enabled(name_ok, egui::Button::new("Duplicate"))
            .clicked()
        {
            app.cost_duplicate(new_name.clone());
            app.cost.new_name.clear();
        }
        if ui
            .add_enabled(name_ok, egui::Button::new("Rename"))
            .on_hover_text("A built-in model is saved under the new name")
            .clicked()
        {
            app.cost_rename(new_name);
            app.cost.new_name.clear();
        }
        if ui
            .add_enabled(saved, egui::Button::new("Delete"))
            .on_hover_text("Built-in models cannot be deleted")
            .clicked()
        {
            app.cost_delete();
        }
    });
}

fn assumptions_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    let m = &mut app.cost.draft;
    let mut changed = false;
    ui.horizontal_wrapped(|ui| {
        ui.label("Currency");
        changed |= ui
            .add(egui::TextEdit::singleline(&mut m.currency).desired_width(40.0))
            .changed();
        ui.label("Hours per month");
        changed |= decimal_ui(
            ui,
            egui::Id::unique("cost_hours"),
            &mut m.hours_per_month,
            50.0,
        );
        ui.label("Target: under")
            .on_hover_text("Infrastructure cost as a share of MRR");
        changed |= decimal_ui(
            ui,
            egui::Id::unique("cost_target"),
            &mut m.target_percent_of_mrr,
            40.0,
        );
        ui.label("% of MRR   Prices as of");
        changed |= ui
            .add(egui::TextEdit::singleline(&mut m.prices_as_of).desired_width(200.0))
            .changed();
    });
    if changed {
        app.cost.dirty = true;
    }
}

fn summary_ui(app: &ScaleboardApp, ui: &mut egui::Ui) {
    let m = &app.cost.draft;
    let comps = m.components();
    let totals = m.totals();
    ui.label(RichText::new("Monthly cost per scenario").strong());
    egui::Grid::new("cost_summary")
        .striped(true)
        .num_columns(comps.len() + 6)
        .show(ui, |ui| {
            ui.strong("Scenario");
            for c in &comps {
                ui.strong(c.label());
            }
            ui.strong("Total / month");
            ui.strong("Change");
            ui.strong("MRR");
            ui.strong("% of MRR").on_hover_text(
                "As the seeds' calculator prints it: bc scale=1, truncated to one decimal",
            );
            ui.strong("exact %")
                .on_hover_text("The exact ratio, to four decimals");
            ui.end_row();
            for t in &totals {
                ui.label(&t.name);
                for (_, minor) in &t.component_minor {
                    ui.label(format_minor(*minor, &m.currency));
                }
                ui.strong(format_minor(t.total_minor, &m.currency));
                ui.label(
                    t.delta_from_previous_minor
                        .map_or_else(String::new, |d| format_delta_minor(d, &m.currency)),
                );
                ui.label(
                    t.mrr_minor
                        .map_or("—".into(), |v| format_minor(v, &m.currency)),
                );
                let color = match t.within_target {
                    Some(false) => theme::BAD,
                    Some(true) => theme::GOOD,
                    None => ui.visuals().text_color(),
                };
                ui.colored_label(
                    color,
                    t.percent_of_mrr_exact
                        .map_or("—".into(), |p| format!("{} %", format_percent_seed(p))),
                );
                ui.label(
                    t.percent_of_mrr_exact
                        .map_or("—".into(), |p| format!("{} %", format_percent_exact(p))),
                );
                ui.end_row();
            }
        });
    ui.weak(format!(
        "Shown: % of MRR by the seeds' rule (truncated to one decimal), exact ratio beside it. \
         Target: under {} %. Instance-hour prices assume {} h per month.",
        m.target_percent_of_mrr, m.hours_per_month
    ));
}

fn export_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    ui.label(RichText::new("Export a report").strong());
    ui.horizontal_wrapped(|ui| {
        egui::ComboBox::from_id_salt("cost_export_format")
            .selected_text(app.cost.export_format.label())
            .show_ui(ui, |ui| {
                for f in ReportFormat::ALL {
                    ui.selectable_value(&mut app.cost.export_format, f, f.label());
                }
            });
        ui.add(
            egui::TextEdit::singleline(&mut app.cost.export_path)
                .hint_text("file to write")
                .desired_width(320.0),
        );
        if ui
            .add_enabled(!app.cost.picking_path, egui::Button::new("Browse…"))
            .on_hover_text(
                "Opens the desktop's save dialog (xdg-desktop-portal). Without a portal \
                 nothing opens: type the path in the field instead.",
            )
            .clicked()
        {
            app.cost_pick_path();
        }
        if app.cost.picking_path {
            ui.spinner();
            ui.weak("waiting for the save dialog (no portal? type the path)");
        }
        ui.checkbox(
            &mut app.cost.include_live,
            "include live run rate and what-if",
        );
    });
    ui.horizontal(|ui| {
        let path_ok = !app.cost.export_path.trim().is_empty();
        let format = app.cost.export_format;
        if ui
            .add_enabled(
                path_ok,
                egui::Button::new(format!("Export {}", format.label())),
            )
            .clicked()
        {
            let path = app.cost.export_path_for(format);
            app.cost.export_path = path.display().to_string();
            app.cost_export(format, path);
        }
        if ui
            .add_enabled(path_ok, egui::Button::new("Export all four formats"))
            .on_hover_text("Same file name, extensions .csv, .json, .html, .pdf")
            .clicked()
        {
            for f in ReportFormat::ALL {
                let path = app.cost.export_path_for(f);
                app.cost_export(f, path);
            }
        }
    });
    for (format, path) in &app.cost.exporting {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label(format!(
                "Writing {} report to {}…",
                format.label(),
                path.display()
            ));
        });
    }
    match &app.cost.last_export {
        Some(Ok(text)) => {
            ui.colored_label(theme::GOOD, text);
        }
        Some(Err(text)) => {
            ui.colored_label(theme::BAD, text);
        }
        None => {}
    }
}
