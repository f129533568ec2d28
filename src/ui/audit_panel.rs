//! Audit: one row per action (an intent and its outcome are one row), the actions whose
//! outcome is unknown at the top, filtered and paged by the engine, exportable as
//! spreadsheet-safe CSV.
//!
//! A frame costs the visible rows only: the table is virtualised (`body.rows`), the rows come
//! from the loaded page (a few hundred records, never the whole log), and a scroll past the page
//! asks the engine for the page there.

use super::widgets::panel_header_ui;
use crate::actions::audit::{AuditOutcome, AuditRecord};
use crate::app::{AUDIT_PAGE_ROWS, AuditSource, ScaleboardApp};
use crate::engine::Command;
use crate::engine::files::FileJob;
use chrono::{DateTime, Utc};
use egui_extras::{Column, TableBuilder};

const OUTCOMES: [AuditOutcome; 9] = AuditOutcome::ALL;
const ROW_HEIGHT: f32 = 20.0;

/// The outcome filter's wording: an intent shown as a row is one with no outcome.
fn outcome_filter_label(o: AuditOutcome) -> &'static str {
    match o {
        AuditOutcome::Intent => "No outcome recorded (unknown)",
        o => o.label(),
    }
}

pub fn audit_panel_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    panel_header_ui(ui, app, "Audit");
    if app.has_team_store() {
        ui.horizontal(|ui| {
            ui.label("History:");
            let source = &mut app.audit.source;
            ui.selectable_value(source, AuditSource::Local, "Local")
                .on_hover_text("This console's own log (audit.jsonl)");
            ui.selectable_value(source, AuditSource::Team, "Team")
                .on_hover_text("Every console's records, from the profile's team store");
        });
        if app.audit.source == AuditSource::Team {
            super::audit_team_view::team_view_ui(app, ui);
            return;
        }
    }
    unresolved_ui(app, ui);
    ui.horizontal(|ui| {
        ui.label("Filter:");
        ui.add(
            egui::TextEdit::singleline(&mut app.audit.filter.text)
                .hint_text("target, action, profile, user"),
        );
        egui::ComboBox::from_label("Outcome")
            .selected_text(app.audit.filter.outcome.map_or("any", outcome_filter_label))
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut app.audit.filter.outcome, None, "any");
                for o in OUTCOMES {
                    ui.selectable_value(
                        &mut app.audit.filter.outcome,
                        Some(o),
                        outcome_filter_label(o),
                    );
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
        app.pump_audit();
        return;
    }
    if !app.audit.damage.is_empty() {
        ui.colored_label(
            super::theme::WARN,
            format!("The audit log: {}.", app.audit.damage),
        );
    }
    ui.horizontal(|ui| {
        ui.label(format!(
            "{} of {} actions ({} records)",
            app.audit.matching, app.audit.actions, app.audit.total_records
        ));
        if app.audit.filtering() {
            ui.spinner();
            ui.weak("Filtering…");
        }
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
        if ui
            .button("Export CSV")
            .on_hover_text(
                "Every record matching the filter, read from the log: an action that reached \
                 its write has two rows with the same id, its intent and its outcome.",
            )
            .clicked()
        {
            let path = app.audit.export_path.clone().into();
            let filter = app.audit.filter.clone();
            app.send(Command::Files(FileJob::ExportAuditCsv { path, filter }));
        }
    });
    if app.audit.matching == 0 {
        ui.weak("No audit record matches.");
        app.pump_audit();
        return;
    }
    let visible = table_ui(app, ui);
    if let Some((first, last)) = visible
        && !app.audit.covers(first, last)
    {
        app.audit.wanted_first = first.saturating_sub(AUDIT_PAGE_ROWS / 4);
    }
    app.pump_audit();
}

/// The actions whose outcome is unknown, each in words, above the table.
fn unresolved_ui(app: &ScaleboardApp, ui: &mut egui::Ui) {
    let audit = &app.audit;
    if audit.unresolved_total == 0 {
        return;
    }
    egui::Frame::group(ui.style()).show(ui, |ui| {
        let n = audit.unresolved_total;
        ui.colored_label(
            super::theme::WARN,
            egui::RichText::new(if n == 1 {
                "1 action with outcome unknown".to_string()
            } else {
                format!("{n} actions with outcome unknown")
            })
            .strong(),
        );
        ui.label(
            "Each was recorded as about to change its target, and no outcome followed: the \
             process ended (crash, kill, power loss) between the write and its result. Check \
             the target to see whether the change was made. The log is append-only: this \
             entry stays, and what you do next is recorded as a new action.",
        );
        egui::ScrollArea::vertical()
            .id_salt("audit_unresolved")
            .max_height(150.0)
            .show(ui, |ui| {
                for u in &audit.unresolved {
                    ui.colored_label(super::theme::WARN, u.message());
                }
                if n > audit.unresolved.len() {
                    ui.weak(format!(
                        "… and {} more: choose Outcome \"{}\" to list them all.",
                        n - audit.unresolved.len(),
                        outcome_filter_label(AuditOutcome::Intent)
                    ));
                }
            });
    });
}

/// Draws the visible rows; returns the first and last row index drawn.
fn table_ui(app: &ScaleboardApp, ui: &mut egui::Ui) -> Option<(usize, usize)> {
    let audit = &app.audit;
    let mut visible: Option<(usize, usize)> = None;
    TableBuilder::new(ui)
        .id_salt("audit_table")
        .striped(true)
        .column(Column::auto().at_least(140.0))
        .columns(Column::auto().at_least(70.0), 3)
        .column(Column::auto().at_least(200.0))
        .columns(Column::auto().at_least(110.0), 2)
        .column(Column::auto().at_least(150.0))
        .column(Column::remainder())
        .header(20.0, |mut h| {
            for t in [
                "Started (UTC)",
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
            body.rows(ROW_HEIGHT, audit.matching, |mut row| {
                let i = row.index();
                visible = Some(visible.map_or((i, i), |(a, b)| (a.min(i), b.max(i))));
                match audit.row(i) {
                    Some((r, started)) => {
                        for (k, cell) in cells(r, started).into_iter().enumerate() {
                            row.col(|ui| {
                                // One line per row; the whole text shows on hover.
                                let label = ui.add(egui::Label::new(cell).truncate());
                                if k == 0 {
                                    label.on_hover_text(times(r, started));
                                }
                            });
                        }
                    }
                    None => {
                        for _ in 0..9 {
                            row.col(|ui| {
                                ui.weak("…");
                            });
                        }
                    }
                }
            });
        });
    visible
}

/// When the action started and ended, for the first cell's hover.
fn times(r: &AuditRecord, started: Option<DateTime<Utc>>) -> String {
    let fmt = "%Y-%m-%d %H:%M:%S";
    match (r.outcome, started) {
        (AuditOutcome::Intent, _) => format!(
            "Intent recorded {} UTC (id {}); no outcome after it",
            r.when.format(fmt),
            r.id
        ),
        (_, Some(s)) => format!(
            "Intent {} UTC, outcome {} UTC ({} s later); id {}",
            s.format(fmt),
            r.when.format(fmt),
            (r.when - s).num_seconds(),
            r.id
        ),
        (_, None) => format!(
            "Recorded {} UTC, before any write (no intent); id {}",
            r.when.format(fmt),
            r.id
        ),
    }
}

fn cells(r: &AuditRecord, started: Option<DateTime<Utc>>) -> [egui::WidgetText; 9] {
    let when = started.unwrap_or(r.when).format("%Y-%m-%d %H:%M:%S");
    let forced = if r.forced { " (forced)" } else { "" };
    let outcome: egui::WidgetText = match r.outcome {
        AuditOutcome::Intent => egui::RichText::new(format!("Outcome unknown{forced}"))
            .color(super::theme::WARN)
            .into(),
        o => format!("{}{forced}", o.label()).into(),
    };
    let mut detail = match r.outcome {
        AuditOutcome::Intent => format!("no outcome recorded; command {}", r.command),
        _ => r.detail.clone(),
    };
    if let Some(advice) = &r.advice {
        detail.push_str(&format!(" [{advice}]"));
    }
    [
        when.to_string().into(),
        r.os_user.as_str().into(),
        r.profile.as_str().into(),
        r.action.as_str().into(),
        r.target.as_str().into(),
        r.before.as_str().into(),
        r.after.as_str().into(),
        outcome,
        detail.into(),
    ]
}
