//! What the "About Scaleboard" window shows, and the window's identity on the desktop (app id,
//! icon). The paths are worked out once at start-up from the dirs the engine was given; the UI
//! thread only shows them (no file I/O).

use crate::actions::audit::AUDIT_FILE;
use crate::cost::store::COST_MODELS_FILE;
use crate::profiles::store::PROFILES_FILE;
use std::path::{Path, PathBuf};

/// The window's application id: the Wayland app id and the name of the desktop entry
/// (`scaleboard.desktop`); on X11 the window's `WM_CLASS` is the binary's name, also
/// `scaleboard`. `packaging/scaleboard.desktop` says `StartupWMClass=scaleboard` so the
/// launcher groups the window under its entry (`tests/packaging.rs` checks they agree).
pub const APP_ID: &str = "scaleboard";

/// The icon the window shows in its title bar and the task switcher: the 256 px render of
/// `packaging/icons/scaleboard.svg`, the same picture the packages install under hicolor.
pub const WINDOW_ICON_PNG: &[u8] = include_bytes!("../../packaging/icons/scaleboard-256.png");

/// The decoded window icon, or `None` (the toolkit's default) if the PNG cannot be decoded.
pub fn window_icon() -> Option<egui::IconData> {
    match eframe::icon_data::from_png_bytes(WINDOW_ICON_PNG) {
        Ok(icon) => Some(icon),
        Err(e) => {
            log::warn!("window icon not decoded: {e}");
            None
        }
    }
}

/// Version, licence and where this run keeps its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct About {
    /// The About window is open.
    pub open: bool,
    pub version: &'static str,
    pub license: &'static str,
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
    pub profiles_file: PathBuf,
    pub cost_models_file: PathBuf,
    pub audit_log: PathBuf,
}

impl About {
    /// The files under the dirs this run uses (`AppDirs`: `--config-dir`,
    /// `SCALEBOARD_CONFIG_DIR`, `SCALEBOARD_DATA_DIR` or the platform's dirs).
    pub fn new(config_dir: &Path, data_dir: &Path) -> Self {
        Self {
            open: false,
            version: env!("CARGO_PKG_VERSION"),
            license: env!("CARGO_PKG_LICENSE"),
            config_dir: config_dir.to_path_buf(),
            data_dir: data_dir.to_path_buf(),
            profiles_file: config_dir.join(PROFILES_FILE),
            cost_models_file: config_dir.join(COST_MODELS_FILE),
            audit_log: data_dir.join(AUDIT_FILE),
        }
    }
}
