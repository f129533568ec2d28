//! Colours and the light/dark switch.

use egui::Color32;

pub fn apply(ctx: &egui::Context, dark: bool) {
    ctx.set_theme(if dark {
        egui::Theme::Dark
    } else {
        egui::Theme::Light
    });
}

pub fn health_color(state: crate::health::HealthState) -> Color32 {
    use crate::health::HealthState;
    match state {
        HealthState::Ok => GOOD,
        HealthState::Connecting => Color32::from_rgb(0x8b, 0x94, 0x9e),
        HealthState::Degraded => WARN,
        HealthState::Stale => Color32::from_rgb(0xa0, 0x7a, 0x3c),
        HealthState::Down => BAD,
    }
}

pub const WARN: Color32 = Color32::from_rgb(0xd2, 0x99, 0x22);
pub const BAD: Color32 = Color32::from_rgb(0xf8, 0x51, 0x49);
pub const GOOD: Color32 = Color32::from_rgb(0x3f, 0xb9, 0x50);
pub const DEMO: Color32 = Color32::from_rgb(0xa3, 0x71, 0xf7);

/// No red and no amber: series colours follow a name's hash, and a healthy "ready" line drawn
/// in the colour of an alert reads as one.
const PALETTE: [Color32; 8] = [
    Color32::from_rgb(0x58, 0xa6, 0xff),
    Color32::from_rgb(0x3f, 0xb9, 0x50),
    Color32::from_rgb(0xbc, 0x8c, 0x5e),
    Color32::from_rgb(0xf7, 0x78, 0xba),
    Color32::from_rgb(0xa3, 0x71, 0xf7),
    Color32::from_rgb(0x39, 0xc5, 0xcf),
    Color32::from_rgb(0x9e, 0xa8, 0x3a),
    Color32::from_rgb(0x8b, 0x94, 0x9e),
];

/// Colours a plot can tell apart; `charts::SeriesColors` picks among them by series name.
pub const PALETTE_LEN: usize = PALETTE.len();

/// The `i`th palette colour (wrapping): for fixed categories (cost parts); plots of members use
/// `charts::series_color` / `charts::SeriesColors`, which follow the name, not the position.
pub fn series_color(i: usize) -> Color32 {
    PALETTE[i % PALETTE.len()]
}
