//! The confirmation step of the action pipeline: the plan in full, guards in words, typed name
//! for dangerous actions, and an explicit force for refused guards.

use super::theme;
use crate::actions::GuardLevel;
use crate::app::ScaleboardApp;
use egui::RichText;

pub fn confirm_dialog_ui(app: &mut ScaleboardApp, ctx: &egui::Context) {
    let Some(dialog) = app.actions.dialog.as_mut() else {
        return;
    };
    let mut confirm = false;
    let mut close = false;
    let mut alternative = None;
    let mut take_over = false;
    let modal = egui::Modal::new(egui::Id::unique("confirm_action")).show(ctx, |ui| {
        ui.set_max_width(560.0);
        let plan = &dialog.plan;
        // The dialog's buttons other than Confirm: Enter on one of them is not a confirmation.
        let mut other_buttons: Vec<egui::Id> = Vec::new();
        ui.heading(&plan.title);
        if app.profiles.active.demo {
            ui.label(RichText::new("DEMO fleet: nothing real changes").color(theme::DEMO));
        }
        // A bulk plan can name thousands of workloads: the lists scroll instead of growing.
        egui::ScrollArea::vertical()
            .id_salt("plan_lists")
            .max_height(160.0)
            .show(ui, |ui| {
                egui::Grid::new("plan_grid").num_columns(2).show(ui, |ui| {
                    ui.label("Profile");
                    ui.label(&plan.profile);
                    ui.end_row();
                    ui.label("Before");
                    ui.add(egui::Label::new(&plan.before).wrap());
                    ui.end_row();
                    ui.label("After");
                    ui.add(egui::Label::new(RichText::new(&plan.after).strong()).wrap());
                    ui.end_row();
                });
            });
        if let Some(advice) = &dialog.advice {
            ui.add(
                egui::Label::new(RichText::new(format!("Proposed by the {advice}")).italics())
                    .wrap(),
            );
        }
        ui.label("Equivalent command:");
        ui.horizontal(|ui| {
            ui.add(egui::Label::new(RichText::new(&plan.command).monospace()).wrap());
            let copy = ui.small_button("Copy");
            if copy.clicked() {
                ui.ctx().copy_text(plan.command.clone());
            }
            other_buttons.push(copy.id);
        });
        ui.separator();
        for g in &plan.guards {
            let (icon, color) = match g.level {
                GuardLevel::Pass => ("OK", theme::GOOD),
                GuardLevel::Warn => ("WARNING", theme::WARN),
                GuardLevel::Refuse => ("REFUSED", theme::BAD),
            };
            ui.horizontal_wrapped(|ui| {
                ui.label(RichText::new(icon).strong().color(color));
                ui.label(&g.reason);
            });
        }
        // One row of constant height while the answer is awaited and after: the modal is
        // centred, so a row that came and went would move the fields under the pointer.
        if dialog.dry_run_pending.is_some() || dialog.dry_run_note.is_some() {
            ui.horizontal(|ui| {
                ui.set_min_height(ui.spacing().interact_size.y);
                match &dialog.dry_run_note {
                    None => {
                        ui.spinner();
                        ui.weak("Asking the server for a dry run (nothing is changed)…");
                    }
                    Some(note) => {
                        ui.weak(note);
                    }
                }
            });
        }
        if let Some(alt) = &plan.alternative {
            let r = ui.button(&alt.label);
            if r.clicked() {
                alternative = Some(alt.action.clone());
            }
            other_buttons.push(r.id);
        }
        if let Some(lb) = dialog.load_balancer.as_mut() {
            ui.separator();
            let r = ui.checkbox(
                &mut lb.follow,
                format!("Load balancer: update {} in the same action", lb.label),
            );
            other_buttons.push(r.id);
            if lb.follow {
                for line in &lb.preview {
                    ui.monospace(line);
                }
            } else {
                ui.weak("The upstream is left as it is: the Health panel will show the drift.");
            }
            ui.separator();
        }
        if plan.refused() {
            let r = ui.checkbox(&mut dialog.forced, "Force: I understand the refusal and take responsibility (recorded in the audit log)");
            other_buttons.push(r.id);
        }
        if dialog.held_by.is_some() {
            take_over = take_over_ui(dialog, ui, &mut other_buttons);
        }
        ui.weak(dialog.plan.recheck_note());
        let plan = &dialog.plan;
        let first_frame = dialog.frames_shown == 0;
        if plan.dangerous {
            let name = plan.action.target_name();
            let label = ui.label(format!("Type \"{name}\" to confirm:"));
            let field = ui
                .add(egui::TextEdit::singleline(&mut dialog.typed_name).hint_text(name.as_str()))
                .labelled_by(label.id);
            if first_frame {
                field.request_focus();
            }
        }
        ui.separator();
        ui.horizontal(|ui| {
            let label = if dialog.forced { "Confirm (forced)" } else { "Confirm" };
            let enabled = dialog.can_confirm();
            let button = ui.add_enabled(enabled, egui::Button::new(label));
            let close_button = ui.button("Close");
            if close_button.clicked() {
                close = true;
            }
            // Enter confirms only a dialog that was on screen before this frame (the Enter that
            // opened it from a focused "Preview…" button cannot confirm it), never from a key
            // held down (repeats), and not while focus is on another of the dialog's buttons.
            let focused = ui.ctx().memory(|m| m.focused());
            let elsewhere = focused.is_some_and(|f| other_buttons.contains(&f) || f == close_button.id);
            let enter = !first_frame
                && !elsewhere
                && ui.input(|i| {
                    i.events.iter().any(|e| {
                        matches!(
                            e,
                            egui::Event::Key {
                                key: egui::Key::Enter,
                                pressed: true,
                                repeat: false,
                                ..
                            }
                        )
                    })
                });
            if (button.clicked() && !first_frame) || (enabled && enter) {
                confirm = true;
            }
            if !dialog.plan_complete() {
                ui.weak("Confirm waits for the server's dry-run verdict.");
            }
            ui.weak("After confirming you have 5 s to cancel.");
        });
    });
    dialog.frames_shown = dialog.frames_shown.saturating_add(1);
    if modal.should_close() {
        close = true;
    }
    if let Some(action) = alternative {
        app.propose(action);
    } else if take_over {
        app.take_over();
    } else if confirm {
        app.confirm();
    } else if close {
        app.actions.dialog = None;
    }
}

/// Another console holds the target's change lock: "Take over…" opens a reason field (required,
/// recorded in the team store and the audit); returns true when the operator takes over.
fn take_over_ui(
    dialog: &mut crate::app::ConfirmDialog,
    ui: &mut egui::Ui,
    other_buttons: &mut Vec<egui::Id>,
) -> bool {
    ui.separator();
    let Some(reason) = dialog.takeover_reason.as_mut() else {
        let r = ui.button("Take over…").on_hover_text(
            "Take the change lock over from the console holding it, with a reason that is \
             recorded in the team store and in the audit. Only when you know that action is \
             stuck or abandoned.",
        );
        other_buttons.push(r.id);
        if r.clicked() {
            dialog.takeover_reason = Some(String::new());
        }
        return false;
    };
    ui.label(
        "Taking over runs this plan although another console holds the lock; its operator \
         sees it in the team's history. The run counts as forced.",
    );
    let label = ui.label("Reason for taking over (required):");
    ui.add(
        egui::TextEdit::singleline(reason).hint_text("e.g. their console froze during incident 42"),
    )
    .labelled_by(label.id);
    let enabled = dialog.can_take_over();
    let r = ui.add_enabled(enabled, egui::Button::new("Take over and run"));
    other_buttons.push(r.id);
    if dialog.takeover_reason().is_none() {
        ui.weak("Type a reason to take over.");
    }
    r.clicked()
}
