//! The Audit panel's Team view (team mode): the history every operator's console shares, with
//! who did it (operator@host) and from which profile, a page at a time from the team store.
//! Filter and paging run in SQL on the engine's side; this only draws the page it was given.

use crate::actions::audit::AuditOutcome;
use crate::app::{ScaleboardApp, TEAM_PAGE_ROWS};
use crate::team::TeamRow;
use egui_extras::{Column, TableBuilder};

const ROW_HEIGHT: f32 = 20.0;
const COLUMNS: [&str; 11] = [
    "When (UTC)",
    "Operator",
    "Host",
    "Profile",
    "Action",
    "Target",
    "Before",
    "After",
    "Record",
    "Outcome",
    "Detail",
];

/// The outcome filter's wording in the Team view, where intents are rows of their own.
fn outcome_filter_label(o: AuditOutcome) -> &'static str {
    match o {
        AuditOutcome::Intent => "Started (intent records)",
        o => o.label(),
    }
}

pub fn team_view_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    ui.horizontal(|ui| {
        let label = ui.label("Filter:");
        ui.add(
            egui::TextEdit::singleline(&mut app.audit.team.text)
                .hint_text("operator, host, profile, action, target"),
        )
        .labelled_by(label.id);
        let team = &mut app.audit.team;
        egui::ComboBox::new("team_audit_outcome", "Outcome")
            .selected_text(team.outcome.map_or("any", outcome_filter_label))
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut team.outcome, None, "any");
                for o in AuditOutcome::ALL {
                    ui.selectable_value(&mut team.outcome, Some(o), outcome_filter_label(o));
                }
            });
        if ui.button("Reload").clicked() {
            team.mark_stale();
        }
    });
    app.pump_team_audit();
    let team = &mut app.audit.team;
    if let Some(why) = &team.error {
        ui.colored_label(
            super::theme::BAD,
            format!(
                "The team's history could not be read: {why}. This console's own records are \
                 in the Local view; the rows below (if any) are from the last read that worked."
            ),
        );
    }
    if !team.loaded() {
        ui.horizontal(|ui| {
            ui.spinner();
            ui.label("Loading the team's history…");
        });
        return;
    }
    ui.horizontal(|ui| {
        if ui
            .add_enabled(team.page > 0, egui::Button::new("← Newer"))
            .clicked()
        {
            team.newer();
        }
        let first = team.page as i64 * TEAM_PAGE_ROWS;
        ui.label(if team.rows.is_empty() {
            format!("Page {}", team.page + 1)
        } else {
            format!(
                "Page {}: records {}–{}, newest first",
                team.page + 1,
                first + 1,
                first + team.rows.len() as i64
            )
        });
        if ui
            .add_enabled(team.can_go_older(), egui::Button::new("Older →"))
            .clicked()
        {
            team.older();
        }
        if team.in_flight {
            ui.spinner();
            ui.weak(if team.filtering() {
                "Filtering…"
            } else {
                "Loading…"
            });
        }
    });
    if team.rows.is_empty() {
        ui.weak("No team audit record matches.");
        return;
    }
    table_ui(&team.rows, ui);
}

fn table_ui(rows: &[TeamRow], ui: &mut egui::Ui) {
    TableBuilder::new(ui)
        .id_salt("team_audit_table")
        .striped(true)
        .column(Column::auto().at_least(140.0))
        .columns(Column::auto().at_least(70.0), 4)
        .column(Column::auto().at_least(200.0))
        .columns(Column::auto().at_least(100.0), 2)
        .columns(Column::auto().at_least(60.0), 2)
        .column(Column::remainder())
        .header(20.0, |mut h| {
            for t in COLUMNS {
                h.col(|ui| {
                    ui.strong(t);
                });
            }
        })
        .body(|body| {
            body.rows(ROW_HEIGHT, rows.len(), |mut row| {
                let r = &rows[row.index()];
                for cell in cells(r) {
                    row.col(|ui| {
                        // One line per row; the whole text shows on hover.
                        ui.add(egui::Label::new(cell).truncate());
                    });
                }
            });
        });
}

fn cells(r: &TeamRow) -> [egui::WidgetText; 11] {
    let outcome: egui::WidgetText = if r.phase == "intent" {
        "Started".into()
    } else {
        let parsed: Option<AuditOutcome> =
            serde_json::from_value(serde_json::Value::String(r.outcome.clone())).ok();
        match parsed {
            Some(o @ (AuditOutcome::Failed | AuditOutcome::Unknown | AuditOutcome::TimedOut)) => {
                egui::RichText::new(o.label())
                    .color(super::theme::WARN)
                    .into()
            }
            Some(o) => o.label().into(),
            None => r.outcome.as_str().into(),
        }
    };
    [
        r.when.format("%Y-%m-%d %H:%M:%S").to_string().into(),
        r.operator.as_str().into(),
        r.host.as_str().into(),
        r.profile.as_str().into(),
        r.action.as_str().into(),
        r.target.as_str().into(),
        r.before.as_str().into(),
        r.after.as_str().into(),
        r.phase.as_str().into(),
        outcome,
        r.detail.as_str().into(),
    ]
}
