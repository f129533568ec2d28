//! `scaleboard cost list` and `scaleboard cost report --model NAME --format F --out FILE [--live
//! [--what-if WORKLOAD=N]…]`: a what-if adds its scenario to the report and prints whether it
//! fits, and the nodes it would take with their monthly cost.
//! The built-in seeds' template is always available by name, even with nothing saved.

use crate::actions::plan::FleetView;
use crate::advisor::fit_advice::{FitAdvice, fit_advice};
use crate::cost::{CostModelStore, CostReport, LiveInventory, ReportFormat, ReportInput};
use crate::engine::{Command, ConnectRequest, EngineConfig, EngineHandle};
use crate::model::clock::SystemClock;
use crate::profiles::store::write_atomic;
use crate::profiles::{AppDirs, Profile};
use std::collections::BTreeMap;
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

/// A what-if replica count of the live fleet and whether it fits (see
/// [`crate::advisor::fit_advice`]).
#[derive(Debug, serde::Serialize)]
pub struct WhatIfLine {
    /// The workload's name in the live inventory.
    pub workload: String,
    pub replicas_now: u32,
    pub replicas: u32,
    /// For a scale up: whether it fits, and the nodes it would take and their monthly cost.
    pub fit: Option<FitAdvice>,
}

impl WhatIfLine {
    /// "what-if demo-prod: nexus/deployment/search-index 2 → 5: only 2 of 3 new replicas fit —
    /// needs 1 more node of 3.9 CPU / 14.9 GiB (m5.xlarge): +$140.16/month".
    pub fn words(&self) -> String {
        let mut s = format!(
            "what-if {} {} → {}",
            self.workload, self.replicas_now, self.replicas
        );
        if let Some(f) = &self.fit {
            s.push_str(&format!(": {}", f.words()));
        }
        s
    }
}

/// The live fleet for a report, with what-if replica counts.
pub struct LiveWhatIf {
    pub inventory: LiveInventory,
    /// By inventory name, for the report's what-if scenario.
    pub what_if: BTreeMap<String, u32>,
    pub lines: Vec<WhatIfLine>,
}

/// One line per what-if, as [`WhatIfLine::words`] says it.
pub fn print_what_if(lines: &[WhatIfLine], mut out: impl Write) -> anyhow::Result<()> {
    for line in lines {
        writeln!(out, "{}", line.words())?;
    }
    Ok(())
}

/// `NAME=N` of `--what-if`.
pub fn parse_what_if(s: &str) -> anyhow::Result<(String, u32)> {
    let (name, n) = s
        .rsplit_once('=')
        .ok_or_else(|| anyhow::anyhow!("--what-if \"{s}\": expected WORKLOAD=REPLICAS"))?;
    let n: u32 = n
        .trim()
        .parse()
        .map_err(|_| anyhow::anyhow!("--what-if \"{s}\": \"{n}\" is not a replica count"))?;
    Ok((name.trim().to_owned(), n))
}

/// The inventory name `asked` means: the name itself, the workload's series target
/// (`endpoint/scope/kind/name`), or its bare name when only one workload has it.
fn resolve<'a>(
    asked: &str,
    workloads: &[&'a crate::model::snapshot::Workload],
) -> anyhow::Result<&'a crate::model::snapshot::Workload> {
    let exact: Vec<_> = workloads
        .iter()
        .filter(|w| w.id.full() == asked || w.id.target() == asked)
        .collect();
    let found: Vec<_> = if exact.is_empty() {
        workloads.iter().filter(|w| w.id.name == asked).collect()
    } else {
        exact
    };
    match found.as_slice() {
        [w] => Ok(**w),
        [] => anyhow::bail!("--what-if: no workload \"{asked}\" in the live fleet"),
        many => anyhow::bail!(
            "--what-if: \"{asked}\" names {} workloads; use one of: {}",
            many.len(),
            many.iter()
                .map(|w| w.id.full())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Counts the fleet of a profile once (every endpoint's first answer) for a live report, and
/// checks each what-if replica count against its workload's capacity, priced with `model`'s
/// node price.
pub fn live_what_if(
    dirs: &AppDirs,
    profile: Profile,
    timeout: Duration,
    asked: &[(String, u32)],
    model: &str,
) -> anyhow::Result<LiveWhatIf> {
    let (inventory, fleet) = live_fleet(dirs, profile, timeout)?;
    let priced = load(dirs).get(model);
    let workloads: Vec<_> = fleet.workloads().collect();
    let mut what_if = BTreeMap::new();
    let mut lines = Vec::new();
    for (name, replicas) in asked {
        let w = resolve(name, &workloads)?;
        what_if.insert(w.id.full(), *replicas);
        lines.push(WhatIfLine {
            workload: w.id.full(),
            replicas_now: w.desired,
            replicas: *replicas,
            fit: fit_advice(
                fleet.capacity(&w.id.endpoint),
                &w.id,
                w.desired,
                *replicas,
                priced.as_ref(),
            ),
        });
    }
    Ok(LiveWhatIf {
        inventory,
        what_if,
        lines,
    })
}

/// Counts the fleet of a profile once (every endpoint's first answer) for a live report.
pub fn live_inventory(
    dirs: &AppDirs,
    profile: Profile,
    timeout: Duration,
) -> anyhow::Result<LiveInventory> {
    Ok(live_fleet(dirs, profile, timeout)?.0)
}

fn live_fleet(
    dirs: &AppDirs,
    profile: Profile,
    timeout: Duration,
) -> anyhow::Result<(LiveInventory, super::scale::CliFleet)> {
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
    let inventory = LiveInventory::from_snapshots(&source, fleet.sorted().into_iter());
    Ok((inventory, fleet))
}

/// Writes a cost report of a model: planned figures, plus the live run rate when `live` is
/// given. Returns a one-line summary.
pub fn report(
    dirs: &AppDirs,
    model: &str,
    format: ReportFormat,
    out_path: &Path,
    live: Option<LiveInventory>,
    what_if: BTreeMap<String, u32>,
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
    input.what_if = what_if;
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
