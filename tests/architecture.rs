//! The thread model relies on only `app/` and `ui/` touching egui: backends stay UI-agnostic.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

use std::path::Path;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn only_app_and_ui_import_egui() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 20, "found only {} source files", files.len());
    let mut offenders = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        if rel.starts_with("app/") || rel.starts_with("ui/") {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if ["egui", "eframe", "egui_plot", "egui_extras"]
                .iter()
                .any(|c| code.contains(&format!("{c}::")) || code.contains(&format!("use {c}")))
            {
                offenders.push(format!("src/{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "egui outside app/ and ui/:\n{}",
        offenders.join("\n")
    );
}

/// Lines of `src/<dir>` that name `crate::<module>` for a module they must not depend on.
fn crate_uses(dir: &str, forbidden: &[&str]) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src.join(dir), &mut files);
    assert!(!files.is_empty(), "no source files under src/{dir}");
    let mut offenders = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for m in forbidden {
                if code.contains(&format!("crate::{m}::")) || code.contains(&format!("crate::{m};"))
                {
                    offenders.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    offenders
}

#[test]
fn the_model_depends_on_nothing_else_in_the_crate() {
    let offenders = crate_uses(
        "model",
        &[
            "actions",
            "app",
            "cli",
            "connectors",
            "cost",
            "engine",
            "metrics",
            "profiles",
            "ui",
            "advisor",
        ],
    );
    assert!(offenders.is_empty(), "{}", offenders.join("\n"));
}

#[test]
fn connectors_depend_on_the_model_not_on_the_engine_or_the_pipeline() {
    let offenders = crate_uses(
        "connectors",
        &["actions", "app", "cli", "cost", "engine", "ui"],
    );
    assert!(offenders.is_empty(), "{}", offenders.join("\n"));
}

#[test]
fn the_advisor_is_pure_logic_without_the_ui_the_engine_or_the_cli() {
    let offenders = crate_uses("advisor", &["app", "cli", "engine", "ui"]);
    assert!(offenders.is_empty(), "{}", offenders.join("\n"));
}
