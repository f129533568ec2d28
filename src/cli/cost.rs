//! `scaleboard cost list` and `scaleboard cost report --model NAME --format F --out FILE`.
//! The built-in seeds' template is always available by name, even with nothing saved.

use crate::cost::{CostModelStore, CostReport, ReportFormat, ReportInput};
use crate::profiles::AppDirs;
use crate::profiles::store::write_atomic;
use std::io::Write;
use std::path::Path;

fn load(dirs: &AppDirs) -> CostModelStore {
    let store = CostModelStore::load(&dirs.config_dir);
    if let Some(d) = store.damaged() {
        eprintln!("warning: the cost model file is damaged and was left untouched: {d}");
    }
    store
}

/// One line per model: name, where it comes from, scenarios and their totals.
pub fn list(dirs: &AppDirs, mut out: impl Write) -> anyhow::Result<()> {
    let store = load(dirs);
    for m in store.all() {
        let origin = if store.is_built_in_only(&m.name) {
            "built in"
        } else {
            "saved"
        };
        let totals: Vec<String> = m
            .totals()
            .iter()
            .map(|t| {
                format!(
                    "{} {}",
                    t.name,
                    crate::cost::money::format_minor(t.total_minor, &m.currency)
                )
            })
            .collect();
        writeln!(
            out,
            "{}\t({origin}, {})\t{}",
            m.name,
            m.currency,
            totals.join("; ")
        )?;
    }
    Ok(())
}

/// Writes a planned-cost report of a model. Returns a one-line summary.
pub fn report(
    dirs: &AppDirs,
    model: &str,
    format: ReportFormat,
    out_path: &Path,
) -> anyhow::Result<String> {
    let store = load(dirs);
    let Some(m) = store.get(model) else {
        let names: Vec<String> = store.all().into_iter().map(|m| m.name).collect();
        anyhow::bail!(
            "no cost model is named \"{model}\" (available: {})",
            names.join(", ")
        );
    };
    let input = ReportInput::planned(m, chrono::Utc::now());
    let report = CostReport::build(&input).map_err(anyhow::Error::msg)?;
    let bytes = report.render(format).map_err(anyhow::Error::msg)?;
    write_atomic(out_path, &bytes)
        .map_err(|e| anyhow::anyhow!("could not write {}: {e}", out_path.display()))?;
    Ok(format!(
        "{} report of \"{model}\" written to {} ({} bytes)",
        format.label(),
        out_path.display(),
        bytes.len()
    ))
}
