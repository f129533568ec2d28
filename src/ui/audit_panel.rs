//! Audit: every action's record, filtered, exportable as spreadsheet-safe CSV.

use super::widgets::panel_header_ui;
use crate::actions::audit::{AuditOutcome, AuditRecord};
use crate::app::ScaleboardApp;
use crate::engine::Command;
use crate::engine::files::FileJob;
use egui_extras::{Column, TableBuilder};

const OUTCOMES: [AuditOutcome; 9] = AuditOutcome::ALL;

pub fn audit_panel_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    panel_header_ui(ui, app, "Audit");
    ui.horizontal(|ui| {
        ui.label("Filter:");
        ui.add(
            egui::TextEdit::singleline(&mut app.audit.filter.text)
                .hint_text("target, action, profile, user"),
        );
        egui::ComboBox::from_label("Outcome")
            .selected_text(app.audit.filter.outcome.map_or("any", |o| o.label()))
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut app.audit.filter.outcome, None, "any");
                for o in OUTCOMES {
                    ui.selectable_value(&mut app.audit.filter.outcome, Some(o), o.label());
                }
            });
        if ui.button("Reload").clicked() {
            app.request_audit();
        }
    });
    if !app.audit.loaded {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Reading the audit log…");
        });
        return;
    }
    if app.audit.unreadable_lines > 0 {
        ui.colored_label(
            super::theme::WARN,
            format!(
                "{} line(s) of the audit log could not be read.",
                app.audit.unreadable_lines
            ),
        );
    }
    let shown: Vec<AuditRecord> = app
        .audit
        .records
        .iter()
        .rev()
        .filter(|r| app.audit.filter.matches(r))
        .cloned()
        .collect();
    ui.horizontal(|ui| {
        ui.label(format!(
            "{} of {} records",
            shown.len(),
            app.audit.records.len()
        ));
        ui.label("Export to:");
        ui.add(egui::TextEdit::singleline(&mut app.audit.export_path).desired_width(320.0));
        if ui
            .add_enabled(!app.audit.picking_path, egui::Button::new("Browse…"))
            .on_hover_text(
                "Opens the desktop's save dialog (xdg-desktop-portal). Without a portal \
                 nothing opens: type the path in the field instead.",
            )
            .clicked()
        {
            app.audit.picking_path = true;
            let suggested = app.audit.export_path.clone().into();
            app.send(Command::Files(FileJob::PickAuditCsvPath { suggested }));
        }
        if app.audit.picking_path {
            ui.spinner();
        }
        if ui.button("Export CSV").clicked() {
            let path = app.audit.export_path.clone().into();
            app.send(Command::Files(FileJob::ExportAuditCsv {
                path,
                records: shown.clone(),
            }));
        }
    });
    if shown.is_empty() {
        ui.weak("No audit record matches.");
        return;
    }
    TableBuilder::new(ui)
        .id_salt("audit_table")
        .striped(true)
        .column(Column::auto().at_least(140.0))
        .columns(Column::auto().at_least(70.0), 3)
        .column(Column::auto().at_least(200.0))
        .columns(Column::auto().at_least(110.0), 2)
        .column(Column::auto().at_least(80.0))
        .column(Column::remainder())
        .header(20.0, |mut h| {
            for t in [
                "When (UTC)",
                "User",
                "Profile",
                "Action",
                "Target",
                "Before",
                "After",
                "Outcome",
                "Detail",
            ] {
                h.col(|ui| {
                    ui.strong(t);
                });
            }
        })
        .body(|body| {
            body.rows(20.0, shown.len(), |mut row| {
                let r = &shown[row.index()];
                let forced = if r.forced { " (forced)" } else { "" };
                let cells = [
                    r.when.format("%Y-%m-%d %H:%M:%S").to_string(),
                    r.os_user.clone(),
                    r.profile.clone(),
                    r.action.clone(),
                    r.target.clone(),
                    r.before.clone(),
                    r.after.clone(),
                    format!("{}{forced}", r.outcome.label()),
                    r.detail.clone(),
                ];
                for c in cells {
                    row.col(|ui| {
                        ui.label(c);
                    });
                }
            });
        });
}
