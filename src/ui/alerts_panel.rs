//! Alerts: what the scaling advisor's rules see across every endpoint, firing first (critical
//! before warning, oldest first), each with its one-line proposal and an Apply button that opens
//! the normal confirmation dialog. Nothing is applied without the operator. Alerts with nothing
//! to apply (a workload idle but already at its minimum) fold into one row per reason.

use super::theme;
use super::widgets::{self, panel_header_ui};
use crate::advisor::recommend::Proposal;
use crate::advisor::{Alert, AlertState, Severity};
use crate::app::Parked;
use crate::app::ScaleboardApp;
use std::collections::BTreeMap;

/// Rows drawn at most: more alerts than this is a fleet-wide incident, read from the top.
const MAX_ROWS: usize = 200;
/// Width of the proposal column, in points: two lines for a long queue proposal.
const PROPOSAL_WIDTH: f32 = 440.0;
const MIN_PROPOSAL_WIDTH: f32 = 120.0;

pub fn severity_color(severity: Severity) -> egui::Color32 {
    match severity {
        Severity::Warning => theme::WARN,
        Severity::Critical => theme::BAD,
    }
}

pub fn alerts_panel_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    panel_header_ui(ui, app, "Alerts");
    let (firing, pending) = app.active_alert_count();
    ui.label(format!(
        "{firing} firing, {pending} pending — rules from the scaling guides (see Rules below); proposals are applied only after you confirm them."
    ));
    let now = app.clock.now_ms();
    let read_only = app.profiles.active.read_only;
    let mut apply = None;
    egui::ScrollArea::vertical().show(ui, |ui| {
        // Panel order comes from the index (rebuilt when the book changes, not per frame);
        // a fleet in trouble everywhere shows its worst alerts first, at most MAX_ROWS.
        let book = &app.advisor.advisor.book;
        let parked = &app.advisor.parked;
        let mut rows: Vec<&Alert> = Vec::new();
        // Alerts with nothing to apply and nothing to do, by reason: one summary row each.
        let mut groups: BTreeMap<Parked, Vec<&Alert>> = BTreeMap::new();
        let mut more = 0;
        for (rule, target) in &app.advisor.index.sorted {
            let Some(alert) = book.get(rule, target) else {
                continue;
            };
            match parked.get(&alert.key()) {
                Some(why) => groups.entry(*why).or_default().push(alert),
                None if rows.len() < MAX_ROWS => rows.push(alert),
                None => more += 1,
            }
        }
        if rows.is_empty() && groups.is_empty() {
            widgets::nothing_here_ui(
                ui,
                "No rule is firing or pending. Rules judge each series once it has two samples and only over unbroken data.",
            );
        }
        let proposals = &app.advisor.proposals;
        if !rows.is_empty() {
            egui::Grid::new("alerts_grid")
                .striped(true)
                .num_columns(7)
                .show(ui, |ui| {
                    header_ui(ui);
                    for alert in rows {
                        if row_ui(ui, alert, proposals.get(&alert.key()), now, read_only) {
                            apply = Some(alert.key());
                        }
                    }
                });
        }
        for (why, alerts) in groups {
            let firing = alerts
                .iter()
                .filter(|a| a.state == AlertState::Firing)
                .count();
            egui::CollapsingHeader::new(why.summary(alerts.len()))
                .id_salt(("parked_alerts", why))
                .default_open(false)
                .show(ui, |ui| {
                    ui.weak(format!(
                        "{firing} firing, {} pending; nothing to apply: {}",
                        alerts.len() - firing,
                        match why {
                            Parked::AtMinimum => "each is already at its rule's minimum replicas",
                            Parked::AtMaximum => "each is already at its rule's maximum replicas",
                            Parked::AutoscalerScales => "each one's autoscaler can reach the count by itself",
                        }
                    ));
                    egui::Grid::new(("alerts_parked_grid", why))
                        .striped(true)
                        .num_columns(7)
                        .show(ui, |ui| {
                            header_ui(ui);
                            for alert in alerts.into_iter().take(MAX_ROWS) {
                                row_ui(ui, alert, proposals.get(&alert.key()), now, read_only);
                            }
                        });
                });
        }
        if more > 0 {
            ui.weak(format!("… and {more} more (the history below has every transition)"));
        }
        ui.separator();
        rules_ui(app, ui);
        history_ui(app, ui, now);
    });
    if let Some((rule, target)) = apply {
        app.apply_proposal(&rule, &target);
    }
}

fn header_ui(ui: &mut egui::Ui) {
    for h in [
        "Severity", "State", "Rule", "Target", "Observed", "", "Proposal",
    ] {
        ui.strong(h);
    }
    ui.end_row();
}

/// One alert's row; true when its Apply button was clicked.
fn row_ui(
    ui: &mut egui::Ui,
    alert: &Alert,
    proposal: Option<&Proposal>,
    now: i64,
    read_only: bool,
) -> bool {
    let color = if alert.state == AlertState::Firing {
        severity_color(alert.severity)
    } else {
        ui.visuals().weak_text_color()
    };
    ui.colored_label(color, alert.severity.label());
    ui.label(format!(
        "{} for {}",
        alert.state.label(),
        ago(now, alert.since)
    ))
    .on_hover_text(format!("breached for {}", ago(now, alert.started)));
    ui.label(&alert.title).on_hover_text(&alert.condition);
    ui.label(&alert.target);
    let mut observed = crate::advisor::recommend::value_words(alert);
    if let Some(note) = &alert.note {
        observed.push_str(&format!(" ({note})"));
    }
    ui.label(observed).on_hover_text(&alert.condition);
    let mut clicked = false;
    match proposal.filter(|p| p.action.is_some()) {
        Some(_) => {
            let button = ui
                .add_enabled(
                    !read_only && alert.state == AlertState::Firing,
                    egui::Button::new("Apply…"),
                )
                .on_hover_text("Plan it: the confirmation dialog shows the command and the guards")
                .on_disabled_hover_text(if read_only {
                    "the profile is read-only"
                } else {
                    "only firing alerts are applied"
                });
            clicked = button.clicked();
        }
        None => {
            ui.label("");
        }
    }
    // The proposal wraps instead of pushing its cost off the window.
    let line = proposal.map_or(alert.advice.as_str(), |p| p.line.as_str());
    ui.vertical(|ui| {
        // Up to the panel's right edge on a narrow window, never narrower than a few words.
        ui.set_max_width(
            PROPOSAL_WIDTH
                .min(ui.available_width())
                .max(MIN_PROPOSAL_WIDTH),
        );
        ui.add(egui::Label::new(line).wrap());
    });
    ui.end_row();
    clicked
}

fn rules_ui(app: &ScaleboardApp, ui: &mut egui::Ui) {
    egui::CollapsingHeader::new("Rules")
        .default_open(false)
        .show(ui, |ui| {
            ui.weak("Built-in rules are the guides' triggers; change, disable or add rules in the profile (Profiles, Edit, or [[profile.rules]] in profiles.toml).");
            egui::Grid::new("rules_grid").striped(true).show(ui, |ui| {
                for rule in app.advisor.advisor.rules() {
                    ui.label(if rule.enabled { "on" } else { "off" });
                    ui.label(&rule.id);
                    ui.label(&rule.title);
                    ui.label(rule.condition());
                    ui.colored_label(severity_color(rule.severity), rule.severity.label());
                    ui.weak(&rule.source);
                    ui.end_row();
                }
            });
        });
}

fn history_ui(app: &ScaleboardApp, ui: &mut egui::Ui, now: i64) {
    egui::CollapsingHeader::new("History")
        .default_open(false)
        .show(ui, |ui| {
            let book = &app.advisor.advisor.book;
            if ui
                .button("Copy history as CSV")
                .on_hover_text("Every transition kept (the newest 1,000), for a spreadsheet")
                .clicked()
            {
                ui.ctx().copy_text(book.history_csv());
            }
            egui::Grid::new("alert_history")
                .striped(true)
                .show(ui, |ui| {
                    for t in book.history().rev().take(200) {
                        ui.label(format!("{} ago", ago(now, t.at)));
                        ui.label(&t.rule_id);
                        ui.label(&t.target);
                        ui.label(t.state.label());
                        ui.label(crate::advisor::rules::trim_number(t.value));
                        ui.end_row();
                    }
                });
        });
}

/// "45 s", "14 min", "2.5 h" since `t`.
fn ago(now: i64, t: i64) -> String {
    crate::connectors::queue_advice::duration_words(((now - t).max(0) / 1000) as f64)
}
