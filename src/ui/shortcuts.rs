//! Keyboard access: Ctrl+1…9, Ctrl+0 and Ctrl+K switch panels, `?` lists every shortcut, Escape closes dialogs.

use crate::app::{PanelId, ScaleboardApp};
use egui::{Key, Modifiers};

const DIGITS: [Key; 10] = [
    Key::Num1,
    Key::Num2,
    Key::Num3,
    Key::Num4,
    Key::Num5,
    Key::Num6,
    Key::Num7,
    Key::Num8,
    Key::Num9,
    Key::Num0,
];

pub const SHORTCUTS: &[(&str, &str)] = &[
    (
        "Ctrl+1 … Ctrl+9",
        "Overview, Workloads, Databases, Cache, Queues, Health, Cost, Audit, Profiles",
    ),
    ("Ctrl+0", "Alerts (the scaling advisor)"),
    ("Ctrl+K", "Clusters (nodes, capacity, quotas)"),
    ("?", "Show or hide this list"),
    ("Ctrl+R", "Poll every endpoint now"),
    ("Ctrl+T", "Switch light / dark theme"),
    ("Ctrl+N", "Show notifications"),
    (
        "Escape",
        "Close the open dialog (cancels nothing that already started)",
    ),
    ("Enter", "Confirm in the confirmation dialog when allowed"),
];

pub fn handle_keys(app: &mut ScaleboardApp, ctx: &egui::Context) {
    // Read focus before taking the input lock: the context's lock is not re-entrant.
    let typing = ctx.memory(|m| m.focused().is_some());
    let (panel, clusters, help, refresh, theme, notes, escape) = ctx.input_mut(|i| {
        let panel = DIGITS
            .iter()
            .position(|k| i.consume_key(Modifiers::COMMAND, *k));
        let help = !typing
            && i.events
                .iter()
                .any(|e| matches!(e, egui::Event::Text(t) if t == "?"));
        (
            panel,
            i.consume_key(Modifiers::COMMAND, Key::K),
            help,
            i.consume_key(Modifiers::COMMAND, Key::R),
            i.consume_key(Modifiers::COMMAND, Key::T),
            i.consume_key(Modifiers::COMMAND, Key::N),
            i.consume_key(Modifiers::NONE, Key::Escape),
        )
    });
    if let Some(i) = panel {
        app.open_panel(PanelId::ALL[i]);
    }
    if clusters {
        app.open_panel(PanelId::Clusters);
    }
    if help {
        app.view.show_shortcuts = !app.view.show_shortcuts;
    }
    if refresh {
        app.send(crate::engine::Command::PollNow);
    }
    if theme {
        app.view.dark = !app.view.dark;
    }
    if notes {
        app.view.show_notifications = !app.view.show_notifications;
        app.notifications.unread = 0;
    }
    if escape {
        app.actions.dialog = None;
        app.view.show_shortcuts = false;
        app.about.open = false;
    }
}

pub fn shortcuts_window_ui(app: &mut ScaleboardApp, ctx: &egui::Context) {
    let mut open = app.view.show_shortcuts;
    egui::Window::new("Keyboard shortcuts")
        .open(&mut open)
        .collapsible(false)
        .show(ctx, |ui| {
            egui::Grid::new("shortcuts").striped(true).show(ui, |ui| {
                for (keys, what) in SHORTCUTS {
                    ui.monospace(*keys);
                    ui.label(*what);
                    ui.end_row();
                }
            });
            if ui.button("About Scaleboard…").clicked() {
                app.about.open = true;
            }
        });
    app.view.show_shortcuts = open && app.view.show_shortcuts;
}
