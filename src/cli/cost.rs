//! `scaleboard cost list` and `scaleboard cost report --model NAME --format F --out FILE [--live]`.
//! The built-in seeds' template is always available by name, even with nothing saved.

use crate::cost::{CostModelStore, CostReport, LiveInventory, ReportFormat, ReportInput};
use crate::engine::{Command, ConnectRequest, EngineConfig, EngineHandle};
use crate::model::clock::SystemClock;
use crate::profiles::store::write_atomic;
use crate::profiles::{AppDirs, Profile};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

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

/// Counts the fleet of a profile once (every endpoint's first answer) for a live report.
pub fn live_inventory(
    dirs: &AppDirs,
    profile: Profile,
    timeout: Duration,
) -> anyhow::Result<LiveInventory> {
    let source = if profile.demo {
        "demo fleet (simulated)".to_owned()
    } else {
        format!("profile \"{}\"", profile.name)
    };
    let config = EngineConfig::new(
        Arc::new(SystemClock),
        dirs.config_dir.clone(),
        dirs.data_dir.clone(),
    );
    let mut engine = EngineHandle::start(config, Arc::new(|| {}))?;
    engine.send(Command::Connect(Box::new(ConnectRequest {
        profile,
        demo_seed: 42,
    })))?;
    let fleet = super::scale::first_snapshots(&mut engine, timeout, &mut std::io::stderr())?;
    Ok(LiveInventory::from_snapshots(
        &source,
        fleet.sorted().into_iter(),
    ))
}

/// Writes a cost report of a model: planned figures, plus the live run rate when `live` is
/// given. Returns a one-line summary.
pub fn report(
    dirs: &AppDirs,
    model: &str,
    format: ReportFormat,
    out_path: &Path,
    live: Option<LiveInventory>,
) -> anyhow::Result<String> {
    let store = load(dirs);
    let Some(m) = store.get(model) else {
        let names: Vec<String> = store.all().into_iter().map(|m| m.name).collect();
        anyhow::bail!(
            "no cost model is named \"{model}\" (available: {})",
            names.join(", ")
        );
    };
    let mut input = ReportInput::planned(m, chrono::Utc::now());
    input.live = live;
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
