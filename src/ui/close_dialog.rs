//! Closing the window while actions run: the operator chooses to wait, to cancel them, or to
//! leave — never a silent drop of a change in flight.

use crate::app::{CloseChoice, ScaleboardApp};

/// Intercepts the window's close request while actions are in flight, asks what to do, and
/// closes once the choice is fulfilled.
pub fn close_dialog_ui(app: &mut ScaleboardApp, ctx: &egui::Context) {
    let in_flight = app.actions.in_flight().count();
    if ctx.input(|i| i.viewport().close_requested()) && in_flight > 0 {
        match app.actions.close {
            Some(CloseChoice::Leave) => {}
            Some(_) => ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose),
            None => {
                ctx.send_viewport_cmd(egui::ViewportCommand::CancelClose);
                app.actions.close_asked = true;
            }
        }
    }
    match app.actions.close {
        Some(CloseChoice::Wait | CloseChoice::Cancel) if in_flight == 0 => {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            return;
        }
        Some(CloseChoice::Leave) if app.actions.in_grace() == 0 => {
            ctx.send_viewport_cmd(egui::ViewportCommand::Close);
            return;
        }
        _ => {}
    }
    if !app.actions.close_asked {
        return;
    }
    let mut choice = None;
    let modal = egui::Modal::new(egui::Id::unique("close_with_actions")).show(ctx, |ui| {
        ui.set_max_width(520.0);
        ui.heading(format!(
            "{in_flight} action{} still running",
            if in_flight == 1 { " is" } else { "s are" }
        ));
        for a in app.actions.in_flight() {
            ui.label(&a.title);
        }
        ui.label(
            "Wait: the window closes once every action has its audit record. \
             Cancel: each action is cancelled through the pipeline (what a running command \
             already changed stays changed), then the window closes. \
             Leave: actions still in their grace period are cancelled; those already writing \
             are abandoned, and the next start reports their outcome as unknown.",
        );
        ui.horizontal(|ui| {
            if ui.button("Wait for them").clicked() {
                choice = Some(CloseChoice::Wait);
            }
            if ui.button("Cancel them and close").clicked() {
                choice = Some(CloseChoice::Cancel);
            }
            if ui.button("Leave them and close").clicked() {
                choice = Some(CloseChoice::Leave);
            }
            if ui.button("Keep the window open").clicked() {
                app.actions.close_asked = false;
            }
        });
    });
    if modal.should_close() {
        app.actions.close_asked = false;
    }
    if let Some(choice) = choice {
        app.actions.close_asked = false;
        app.actions.close = Some(choice);
        let ids: Vec<_> = app
            .actions
            .running
            .iter()
            .filter(|a| a.record.is_none())
            .filter(|a| {
                choice == CloseChoice::Cancel
                    || (choice == CloseChoice::Leave
                        && matches!(
                            a.stage,
                            None | Some(crate::engine::ActionStage::Grace { .. })
                        ))
            })
            .map(|a| a.id)
            .collect();
        for id in ids {
            app.cancel_action(id);
        }
    }
}
