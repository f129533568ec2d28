//! The cost panel's state and the app operations it triggers. Files are read and written by the
//! engine (`FileJob`s); this only keeps what the panel shows and edits.

use super::{FleetState, Level, ScaleboardApp};
use crate::actions::Action;
use crate::advisor::fit_advice::{FitAdvice, fit_advice};
use crate::cost::store::all_models;
use crate::cost::{
    CostModel, LiveInventory, ReportFormat, ReportInput, SEED_TEMPLATE_NAME, seed_template,
};
use crate::engine::Command;
use crate::engine::files::FileJob;
use crate::profiles::ProfileFileError;
use std::collections::BTreeMap;
use std::path::PathBuf;

pub struct CostState {
    /// Models in `cost-models.toml`, as the engine last reported them.
    pub saved: Vec<CostModel>,
    pub damaged: Option<ProfileFileError>,
    /// The load was asked for (the first time the panel was shown).
    pub load_requested: bool,
    pub loaded: bool,
    /// The model being edited (a copy; saved only on "Save").
    pub draft: CostModel,
    /// The name the draft had when it was opened or last saved.
    pub draft_source: String,
    pub dirty: bool,
    /// Name typed for rename / duplicate.
    pub new_name: String,
    /// Replica counts changed in the calculator, by live workload name. Never applied by itself.
    pub what_if: BTreeMap<String, u32>,
    /// Add the live run rate (and what-if) to exported reports.
    pub include_live: bool,
    pub export_format: ReportFormat,
    pub export_path: String,
    /// Exports under way: (format, path).
    pub exporting: Vec<(ReportFormat, PathBuf)>,
    pub picking_path: bool,
    pub last_export: Option<Result<String, String>>,
    pub selected_scenario: usize,
    /// The fit of each what-if scale up, by live workload name, with what it was worked out
    /// from (see [`WhatIfFit`]); recomputed only when the count or the capacity view changes.
    pub what_if_fits: BTreeMap<String, WhatIfFit>,
}

/// The fit of one what-if replica count, unpriced (the panel prices it with the draft's node
/// price on every frame, which costs nothing).
#[derive(Clone, Debug)]
pub struct WhatIfFit {
    pub replicas: u32,
    /// The capacity view it was checked against: held, so a new view is never taken for it.
    view: Option<std::sync::Arc<crate::model::capacity::CapacityView>>,
    pub advice: Option<FitAdvice>,
}

impl CostState {
    pub fn new(export_dir: &std::path::Path) -> Self {
        Self {
            saved: Vec::new(),
            damaged: None,
            load_requested: false,
            loaded: false,
            draft: seed_template(),
            draft_source: SEED_TEMPLATE_NAME.to_owned(),
            dirty: false,
            new_name: String::new(),
            what_if: BTreeMap::new(),
            include_live: true,
            export_format: ReportFormat::Pdf,
            export_path: export_dir.join("cost-report.pdf").display().to_string(),
            exporting: Vec::new(),
            picking_path: false,
            last_export: None,
            selected_scenario: 0,
            what_if_fits: BTreeMap::new(),
        }
    }

    /// Saved models, then built-in ones.
    pub fn models(&self) -> Vec<CostModel> {
        all_models(&self.saved)
    }

    pub fn is_saved(&self, name: &str) -> bool {
        self.saved.iter().any(|m| m.name == name)
    }

    /// Opens a model for editing (discarding unsaved edits of the current one).
    pub fn open(&mut self, name: &str) {
        if let Some(m) = self.models().into_iter().find(|m| m.name == name) {
            self.draft = m;
            name.clone_into(&mut self.draft_source);
            self.dirty = false;
            self.selected_scenario = 0;
        }
    }

    /// The export path with its extension set to the chosen format.
    pub fn export_path_for(&self, format: ReportFormat) -> PathBuf {
        PathBuf::from(self.export_path.trim()).with_extension(format.extension())
    }
}

/// The fleet as plain counts for the cost model (see [`LiveInventory::from_snapshots`]).
pub fn live_inventory(fleet: &FleetState, source: &str) -> LiveInventory {
    LiveInventory::from_snapshots(
        source,
        fleet.endpoints.iter().filter_map(|e| e.snapshot.as_ref()),
    )
}

impl ScaleboardApp {
    /// Where the live counts come from, as reports name it.
    pub fn cost_live_source(&self) -> String {
        if self.fleet.is_demo() {
            "demo fleet (simulated)".to_owned()
        } else {
            format!("profile \"{}\"", self.profiles.active.name)
        }
    }

    pub fn cost_live_inventory(&self) -> LiveInventory {
        live_inventory(&self.fleet, &self.cost_live_source())
    }

    /// Reads the saved models once, when the panel is first shown.
    pub fn cost_ensure_loaded(&mut self) {
        if !self.cost.load_requested {
            self.cost.load_requested = true;
            self.send(Command::Files(FileJob::LoadCostModels));
        }
    }

    pub fn cost_save(&mut self) {
        let previous = self
            .cost
            .is_saved(&self.cost.draft_source)
            .then(|| self.cost.draft_source.clone());
        let model = Box::new(self.cost.draft.clone());
        self.send(Command::Files(FileJob::SaveCostModel {
            previous_name: previous,
            model,
        }));
    }

    pub fn cost_duplicate(&mut self, new_name: String) {
        let name = self.cost.draft_source.clone();
        self.send(Command::Files(FileJob::DuplicateCostModel {
            name,
            new_name,
        }));
    }

    /// Renames the open model: a saved one is renamed in the file; an unsaved or built-in one is
    /// renamed in the editor and saved under the new name.
    pub fn cost_rename(&mut self, new_name: String) {
        self.cost.draft.name.clone_from(&new_name);
        self.cost_save();
        self.cost.draft_source = new_name;
    }

    pub fn cost_delete(&mut self) {
        let name = self.cost.draft_source.clone();
        self.send(Command::Files(FileJob::DeleteCostModel(name)));
    }

    fn cost_report_input(&self) -> ReportInput {
        let mut input = ReportInput::planned(
            self.cost.draft.clone(),
            chrono::DateTime::from_timestamp_millis(self.clock.now_ms()).unwrap_or_default(),
        );
        if self.cost.include_live {
            input.live = Some(self.cost_live_inventory());
            input.what_if = self.cost.what_if.clone();
        }
        input
    }

    pub fn cost_export(&mut self, format: ReportFormat, path: PathBuf) {
        if self.cost.exporting.iter().any(|(_, p)| p == &path) {
            return;
        }
        self.cost.exporting.push((format, path.clone()));
        let input = Box::new(self.cost_report_input());
        self.send(Command::Files(FileJob::ExportCostReport {
            input,
            format,
            path,
        }));
    }

    pub fn cost_pick_path(&mut self) {
        let format = self.cost.export_format;
        self.cost.picking_path = true;
        let suggested = self.cost.export_path_for(format);
        self.send(Command::Files(FileJob::PickReportPath {
            format,
            suggested,
        }));
    }

    /// The fit of every what-if scale up, priced with the draft's node prices: (workload
    /// name, fit). The fit check runs again only when a count or a capacity view changed,
    /// never on every frame.
    pub fn cost_what_if_fits(&mut self) -> Vec<(String, FitAdvice)> {
        let what_if = &self.cost.what_if;
        self.cost
            .what_if_fits
            .retain(|name, _| what_if.contains_key(name));
        let mut out = Vec::new();
        for (name, &replicas) in &self.cost.what_if {
            let Some(w) = self.fleet.workloads().find(|w| &w.id.full() == name) else {
                continue;
            };
            let view = self.fleet.endpoints.iter().find_map(|e| match &e.snapshot {
                Some(crate::model::snapshot::Snapshot::Workloads(list))
                    if e.info.id == w.id.endpoint =>
                {
                    list.capacity.clone()
                }
                _ => None,
            });
            let cached = self.cost.what_if_fits.get(name).filter(|f| {
                f.replicas == replicas
                    && match (&f.view, &view) {
                        (Some(a), Some(b)) => std::sync::Arc::ptr_eq(a, b),
                        (None, None) => true,
                        _ => false,
                    }
            });
            let advice = match cached {
                Some(f) => f.advice.clone(),
                None => {
                    let advice = fit_advice(view.as_deref(), &w.id, w.desired, replicas, None);
                    self.cost.what_if_fits.insert(
                        name.clone(),
                        WhatIfFit {
                            replicas,
                            view: view.clone(),
                            advice: advice.clone(),
                        },
                    );
                    advice
                }
            };
            if let Some(mut advice) = advice {
                advice.price(&self.cost.draft);
                out.push((name.clone(), advice));
            }
        }
        out
    }

    /// The clusters of the fleet's capacity views (Kubernetes contexts, Docker engines), as
    /// per-cluster node prices name them.
    pub fn cost_clusters(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .fleet
            .endpoints
            .iter()
            .filter_map(|e| match &e.snapshot {
                Some(crate::model::snapshot::Snapshot::Workloads(list)) => list.capacity.as_deref(),
                _ => None,
            })
            .flat_map(|v| {
                v.contexts
                    .keys()
                    .cloned()
                    .chain(v.engine.iter().map(|e| e.name.clone()))
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// "Apply": propose the what-if replica count through the action pipeline (plan, confirm,
    /// grace, execute, verify, audit). Nothing changes until the operator confirms.
    pub fn cost_apply_what_if(&mut self, workload: &str) {
        let Some(&replicas) = self.cost.what_if.get(workload) else {
            return;
        };
        let target = self
            .fleet
            .workloads()
            .find(|w| w.id.full() == workload)
            .map(|w| w.id.clone());
        match target {
            Some(id) => self.propose(Action::ScaleWorkload {
                workload: id,
                replicas,
            }),
            None => {
                let now = self.clock.now_ms();
                self.notifications.push(
                    now,
                    Level::Warning,
                    format!("{workload} is no longer in the fleet; nothing to apply."),
                );
            }
        }
    }
}
