//! UI-side state of the action pipeline: the open confirmation dialog and the actions in flight.

use crate::actions::audit::AuditRecord;
use crate::actions::{ActionId, Plan};
use crate::connectors::snapshot::WorkloadRef;
use crate::engine::ActionStage;
use std::collections::VecDeque;

/// Finished actions kept on screen (the audit log keeps them all).
const KEEP_FINISHED: usize = 20;

pub struct ConfirmDialog {
    pub plan: Plan,
    pub typed_name: String,
    pub forced: bool,
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

    pub fn get_mut(&mut self, id: ActionId) -> Option<&mut RunningAction> {
        self.running.iter_mut().find(|a| a.id == id)
    }

    pub fn in_flight(&self) -> impl Iterator<Item = &RunningAction> {
        self.running.iter().filter(|a| a.record.is_none())
    }
}
