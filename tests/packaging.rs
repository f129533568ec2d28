//! Packaging (issue #13): the files in `packaging/` agree with the code and with Cargo.toml's
//! `[package.metadata.deb]`, the binary generates its man pages and completions without a home
//! directory, and the About window shows where this run keeps its files. The system-level checks
//! (desktop-file-validate, appstreamcli, man -l, shells, dpkg, lintian) are in
//! `scripts/check-packaging.sh`.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use egui_kittest::kittest::Queryable;
use scaleboard::app::about::{APP_ID, WINDOW_ICON_PNG, window_icon};
use std::path::{Path, PathBuf};
use std::process::Command;

const ICON_SIZES: [u32; 9] = [16, 22, 24, 32, 48, 64, 128, 256, 512];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    (be(&bytes[16..20]), be(&bytes[20..24]))
}

fn desktop_value(entry: &str, key: &str) -> String {
    entry
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in the desktop entry"))
        .to_owned()
}

#[test]
fn desktop_entry_matches_the_window_and_the_binary() {
    let entry = read("packaging/scaleboard.desktop");
    assert!(root().join(format!("packaging/{APP_ID}.desktop")).is_file());
    assert_eq!(desktop_value(&entry, "StartupWMClass"), APP_ID);
    assert_eq!(desktop_value(&entry, "Exec"), env!("CARGO_PKG_NAME"));
    assert_eq!(desktop_value(&entry, "Icon"), APP_ID);
    assert_eq!(desktop_value(&entry, "Terminal"), "false");
}

#[test]
fn metainfo_and_changelog_carry_this_version() {
    let version = env!("CARGO_PKG_VERSION");
    let meta = read("packaging/dev.scaleboard.scaleboard.metainfo.xml");
    assert!(
        meta.contains(&format!("<release version=\"{version}\"")),
        "{meta}"
    );
    assert!(meta.contains(&format!(
        "<launchable type=\"desktop-id\">{APP_ID}.desktop</launchable>"
    )));
    assert!(meta.contains(&format!("<project_license>{}<", env!("CARGO_PKG_LICENSE"))));
    let changelog = read("packaging/debian/changelog");
    assert!(
        changelog.starts_with(&format!("scaleboard ({version}-1) ")),
        "packaging/debian/changelog must start with this version: {changelog}"
    );
    let copyright = read("packaging/debian/copyright");
    assert!(copyright.contains("Files: assets/fonts/DejaVuSans.ttf"));
    assert!(copyright.contains("License: bitstream-vera\n Permission is hereby granted"));
}

#[test]
fn every_icon_size_is_rendered_and_packaged() {
    let manifest = read("Cargo.toml");
    for size in ICON_SIZES {
        let rel = format!("packaging/icons/scaleboard-{size}.png");
        let bytes = std::fs::read(root().join(&rel)).unwrap();
        assert_eq!(png_size(&bytes), (size, size), "{rel}");
        let asset = format!(
            "[\"{rel}\", \"usr/share/icons/hicolor/{size}x{size}/apps/{APP_ID}.png\", \"644\"]"
        );
        assert!(
            manifest.contains(&asset),
            "Cargo.toml does not package {rel}"
        );
    }
    assert!(manifest.contains("\"packaging/icons/scaleboard.svg\""));
    // Nothing in packaging/ that the package forgets.
    for entry in std::fs::read_dir(root().join("packaging/icons")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".png") || name.ends_with(".svg") {
            assert!(
                manifest.contains(&format!("\"packaging/icons/{name}\"")),
                "{name}"
            );
        }
    }
}

#[test]
fn window_icon_is_the_packaged_256_px_render() {
    let packaged = std::fs::read(root().join("packaging/icons/scaleboard-256.png")).unwrap();
    assert_eq!(WINDOW_ICON_PNG, packaged.as_slice());
    let icon = window_icon().expect("the embedded icon decodes");
    assert_eq!((icon.width, icon.height), (256, 256));
    assert_eq!(icon.rgba.len(), 256 * 256 * 4);
    // Opaque in the middle (drawn), transparent in the corner (rounded square).
    let alpha = |x: usize, y: usize| icon.rgba[(y * 256 + x) * 4 + 3];
    assert_eq!(alpha(128, 128), 255);
    assert_eq!(alpha(0, 0), 0);
}

/// The binary with no home directory and no config dir: what a package build sees.
fn bare_binary() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scaleboard"));
    for var in [
        "HOME",
        "XDG_CONFIG_HOME",
        "XDG_DATA_HOME",
        "SCALEBOARD_CONFIG_DIR",
        "SCALEBOARD_DATA_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn subcommands() -> Vec<String> {
    let help = stdout_of(bare_binary().arg("--help"));
    let list: Vec<String> = help
        .split("Commands:\n")
        .nth(1)
        .unwrap()
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_owned)
        .collect();
    for expected in ["status", "scale", "autoscale", "promote", "audit", "cost"] {
        assert!(list.iter().any(|c| c == expected), "{expected} in {list:?}");
    }
    list
}

#[test]
fn man_pages_name_every_subcommand_without_a_home_directory() {
    let subs = subcommands();
    let page = stdout_of(bare_binary().arg("man"));
    assert!(
        page.starts_with(".ie") || page.contains(".TH scaleboard 1"),
        "{page}"
    );
    for sub in &subs {
        assert!(
            page.contains(&format!("scaleboard\\-{sub}(1)")),
            "scaleboard(1) does not name {sub}"
        );
    }
    assert!(page.contains(".SH FILES") && page.contains(".SH ENVIRONMENT"));

    let dir = tempfile::tempdir().unwrap();
    let listed = stdout_of(bare_binary().args(["man", "--out-dir"]).arg(dir.path()));
    let mut written: Vec<PathBuf> = listed.lines().map(PathBuf::from).collect();
    written.sort();
    for sub in subs.iter().map(|s| format!("scaleboard-{s}.1")) {
        assert!(
            written.contains(&dir.path().join(&sub)),
            "{sub} not written"
        );
    }
    assert!(written.contains(&dir.path().join("scaleboard-cost-report.1")));
    for file in &written {
        assert!(std::fs::read_to_string(file).unwrap().contains(".TH "));
    }
}

#[test]
fn completions_cover_the_subcommands_in_every_shell() {
    let subs = subcommands();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let script = stdout_of(bare_binary().args(["completions", shell]));
        for sub in &subs {
            assert!(
                script.contains(sub.as_str()),
                "{shell} completion lacks {sub}"
            );
        }
    }
    let out = bare_binary()
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "an unknown shell is refused");
}

#[test]
fn about_under_the_help_menu_shows_version_licence_and_paths() {
    let mut t = support::start(None, None);
    t.harness.get_by_label("?").click();
    t.harness.run_steps(2);
    t.harness.get_by_label("About Scaleboard…").click();
    t.run_until("about open", |a| a.about.open);
    let about = t.app().about.clone();
    let config = support::config_dir(&t.dir);
    let data = support::data_dir(&t.dir);
    assert_eq!(about.profiles_file, config.join("profiles.toml"));
    assert_eq!(about.cost_models_file, config.join("cost-models.toml"));
    assert_eq!(about.audit_log, data.join("audit.jsonl"));
    t.harness
        .get_by_label(&format!("Scaleboard {}", env!("CARGO_PKG_VERSION")));
    for path in [
        &about.profiles_file,
        &about.cost_models_file,
        &about.audit_log,
    ] {
        t.harness.get_by_label(&path.display().to_string());
    }
    t.harness.get_by_label_contains(env!("CARGO_PKG_LICENSE"));
    t.harness.key_press(egui::Key::Escape);
    t.run_until("about closed by Escape", |a| !a.about.open);

    // The `?` key's shortcut list links to About too.
    t.harness.event(egui::Event::Text("?".into()));
    t.run_until("shortcuts open", |a| a.view.show_shortcuts);
    t.harness.get_by_label("About Scaleboard…").click();
    t.run_until("about open from the shortcut list", |a| a.about.open);
}
