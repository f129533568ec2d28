//! Cost: the calculator arrives with issue #8; until then the panel says so.

use super::widgets::{self, panel_header_ui};
use crate::app::ScaleboardApp;

pub fn cost_panel_ui(app: &mut ScaleboardApp, ui: &mut egui::Ui) {
    panel_header_ui(ui, app, "Cost");
    widgets::nothing_here_ui(
        ui,
        "The cost calculator and cost reports are not built yet (issue #8).",
    );
}
