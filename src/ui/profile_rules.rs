//! The profile form's advisor section: every rule with an on/off toggle and its threshold and
//! duration; a change is stored as a `[[profile.rules]]` entry holding only what differs.

use crate::advisor::default_rules;
use crate::advisor::rules::{RuleConfig, merge_rules};
use crate::profiles::Profile;

pub fn rules_editor_ui(ui: &mut egui::Ui, profile: &mut Profile) {
    ui.collapsing("Advisor rules", |ui| {
        ui.checkbox(
            &mut profile.advisor.notifications,
            "Desktop notification when a rule fires while the window is in the background",
        );
        ui.weak("Built-in rules are the scaling guides' triggers. Add new rules in profiles.toml ([[profile.rules]] with id, metric, threshold…).");
        let builtin = default_rules();
        let merged = merge_rules(builtin.clone(), &profile.rules);
        let mut reset = None;
        egui::Grid::new("advisor_rules")
            .num_columns(5)
            .striped(true)
            .show(ui, |ui| {
                ui.strong("Rule (on/off)");
                ui.strong("Metric");
                ui.strong("Threshold");
                ui.strong("Duration (s)");
                ui.end_row();
                for rule in &merged {
                    let mut enabled = rule.enabled;
                    let mut threshold = rule.threshold;
                    let mut duration = rule.duration_secs;
                    let toggled = ui
                        .checkbox(&mut enabled, rule.id.as_str())
                        .on_hover_text("on or off for this profile")
                        .changed();
                    ui.label(format!(
                        "{} {}",
                        rule.selector.metric,
                        rule.comparison.symbol()
                    ))
                    .on_hover_text(&rule.title);
                    let t = ui
                        .add(egui::DragValue::new(&mut threshold).speed(1.0))
                        .changed();
                    let d = ui
                        .add(egui::DragValue::new(&mut duration).speed(10.0).range(0..=86_400))
                        .changed();
                    let config = profile.rules.iter().position(|c| c.id == rule.id);
                    if config.is_some() && builtin.iter().any(|b| b.id == rule.id) {
                        if ui.small_button("Reset").on_hover_text("Back to the built-in rule").clicked() {
                            reset = config;
                        }
                    } else {
                        ui.label("");
                    }
                    ui.end_row();
                    if toggled || t || d {
                        let i = config.unwrap_or_else(|| {
                            profile.rules.push(RuleConfig {
                                id: rule.id.clone(),
                                ..RuleConfig::default()
                            });
                            profile.rules.len() - 1
                        });
                        let c = &mut profile.rules[i];
                        if toggled {
                            c.enabled = Some(enabled);
                        }
                        if t {
                            c.threshold = Some(threshold);
                        }
                        if d {
                            c.duration_secs = Some(duration);
                        }
                    }
                }
            });
        if let Some(i) = reset {
            profile.rules.remove(i);
        }
    });
}
