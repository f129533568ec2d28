//! UI-side state of the action pipeline: the open confirmation dialog and the actions in flight.

use crate::actions::audit::AuditRecord;
use crate::actions::{ActionId, DryRunOutcome, Plan};
use crate::connectors::snapshot::WorkloadRef;
use crate::engine::ActionStage;
use std::collections::{BTreeSet, VecDeque};

/// Finished actions kept on screen (the audit log keeps them all).
const KEEP_FINISHED: usize = 20;

pub struct ConfirmDialog {
    pub plan: Plan,
    pub typed_name: String,
    pub forced: bool,
    /// The server-side dry run asked for this plan, while its answer is awaited.
    pub dry_run_pending: Option<u64>,
    /// What became of it, in words, once answered (the verdict itself joins the guards).
    pub dry_run_note: Option<String>,
}

impl ConfirmDialog {
    pub fn name_ok(&self) -> bool {
        !self.plan.dangerous || self.typed_name.trim() == self.plan.action.target_name()
    }

    pub fn can_confirm(&self) -> bool {
        self.name_ok() && self.plan.confirmable(self.forced)
    }
}

pub struct RunningAction {
    pub id: ActionId,
    pub title: String,
    pub stage: Option<ActionStage>,
    pub record: Option<AuditRecord>,
}

/// Inputs of the scale and autoscale forms, prefilled from the selected workload.
pub struct ScaleForm {
    pub workload: WorkloadRef,
    pub replicas: u32,
}

/// Several services of one Compose project scaled in one step.
pub struct ProjectScaleForm {
    pub endpoint: String,
    pub project: String,
    /// (service, replicas), prefilled with the current counts.
    pub services: Vec<(String, u32)>,
}

pub struct AutoscaleForm {
    pub workload: WorkloadRef,
    pub min: u32,
    pub max: u32,
    pub cpu: u32,
}

#[derive(Default)]
pub struct ActionsState {
    next_id: u64,
    pub dialog: Option<ConfirmDialog>,
    pub running: VecDeque<RunningAction>,
    pub scale_form: Option<ScaleForm>,
    pub autoscale_form: Option<AutoscaleForm>,
    pub project_form: Option<ProjectScaleForm>,
    /// Workloads ticked for a bulk scale, and the count they would all get.
    pub bulk_selected: BTreeSet<WorkloadRef>,
    pub bulk_replicas: u32,
}

impl ActionsState {
    pub fn next_id(&mut self) -> ActionId {
        self.next_id += 1;
        ActionId(self.next_id)
    }

    pub fn started(&mut self, id: ActionId, title: String) {
        self.running.push_back(RunningAction {
            id,
            title,
            stage: None,
            record: None,
        });
        while self.running.len() > KEEP_FINISHED {
            match self.running.iter().position(|a| a.record.is_some()) {
                Some(i) => {
                    self.running.remove(i);
                }
                None => break,
            }
        }
    }

    /// A key for a dry-run request; answers with another key (an older dialog) are dropped.
    pub fn next_dry_run_key(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The server's dry run answered: its verdict joins the plan's guards, so the dialog, the
    /// confirmation rule and the audit record all see it.
    pub fn dry_run_answer(&mut self, key: u64, outcome: &DryRunOutcome) {
        let Some(dialog) = self
            .dialog
            .as_mut()
            .filter(|d| d.dry_run_pending == Some(key))
        else {
            return;
        };
        dialog.dry_run_pending = None;
        dialog.plan.guards.extend(outcome.guard());
        dialog.dry_run_note = Some(outcome.note().to_string());
    }

    pub fn get_mut(&mut self, id: ActionId) -> Option<&mut RunningAction> {
        self.running.iter_mut().find(|a| a.id == id)
    }

    pub fn in_flight(&self) -> impl Iterator<Item = &RunningAction> {
        self.running.iter().filter(|a| a.record.is_none())
    }
}
