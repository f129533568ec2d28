//! UI-side state of the action pipeline: the open confirmation dialog and the actions in flight.

use crate::actions::audit::AuditRecord;
use crate::actions::{ActionId, DryRunOutcome, GuardLevel, Plan};
use crate::engine::ActionStage;
use crate::model::snapshot::WorkloadRef;
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
    /// When the dry run was asked (clock ms): past [`DRY_RUN_WAIT_MS`] it becomes a warning.
    pub dry_run_asked_ms: i64,
    /// Frames this dialog has been drawn: Enter confirms only a dialog that was already on
    /// screen, so the Enter that opened it (on a focused "Preview…" button) cannot confirm it.
    pub frames_shown: u32,
    /// Set when the plan applies a proposal of the scaling advisor: the rule, the observed
    /// values and the cost change, written into the audit records.
    pub advice: Option<String>,
    /// The target sits behind a linked nginx upstream: what will change there, and whether
    /// the operator keeps the load-balancer steps (the default) or scales alone.
    pub load_balancer: Option<LbChoice>,
    /// Another console holds the target's change lock (team mode): "in progress:
    /// OPERATOR@HOST since … — what", as the preview's refusing guard says it.
    pub held_by: Option<String>,
    /// The operator chose "Take over…": the reason typed so far (required, recorded).
    pub takeover_reason: Option<String>,
}

/// The load-balancer part of a scale in the confirmation dialog.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LbChoice {
    /// e.g. "nginx front, upstream nexus_api".
    pub label: String,
    /// Steps and the upstream diff, as `scaleboard scale` prints them.
    pub preview: Vec<String>,
    pub follow: bool,
}

/// How long the dialog waits for the server's dry-run verdict before it says "no verdict" and
/// lets the operator confirm with a warning (the engine's own limit is shorter; this covers an
/// engine that never answers).
pub const DRY_RUN_WAIT_MS: i64 = 20_000;

impl ConfirmDialog {
    pub fn new(plan: Plan, dry_run_pending: Option<u64>, now_ms: i64) -> Self {
        Self {
            plan,
            typed_name: String::new(),
            forced: false,
            dry_run_pending,
            dry_run_note: None,
            dry_run_asked_ms: now_ms,
            frames_shown: 0,
            advice: None,
            load_balancer: None,
            held_by: None,
            takeover_reason: None,
        }
    }

    pub fn name_ok(&self) -> bool {
        !self.plan.dangerous || self.typed_name.trim() == self.plan.action.target_name()
    }

    /// A plan is complete once the server's dry-run verdict is in (or given up on).
    pub fn plan_complete(&self) -> bool {
        self.dry_run_pending.is_none()
    }

    /// Never while another console holds the target's change lock: the engine would refuse
    /// it; taking the lock over is the way, with a reason.
    pub fn can_confirm(&self) -> bool {
        self.held_by.is_none()
            && self.plan_complete()
            && self.name_ok()
            && self.plan.confirmable(self.forced)
    }

    /// The reason typed to take the change lock over, once it is not blank.
    pub fn takeover_reason(&self) -> Option<&str> {
        self.takeover_reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
    }

    /// Taking over may run: a reason is typed, and the holder's lock is the only refusal (or
    /// the operator forced the others; the engine runs a take-over as forced).
    pub fn can_take_over(&self) -> bool {
        let Some(holder) = self.held_by.as_deref() else {
            return false;
        };
        let other_refusals = self
            .plan
            .guards
            .iter()
            .any(|g| g.level == GuardLevel::Refuse && !g.reason.starts_with(holder));
        self.takeover_reason().is_some()
            && (self.forced || !other_refusals)
            && self.plan_complete()
            && self.name_ok()
    }

    /// Gives up on a dry run that has not answered in [`DRY_RUN_WAIT_MS`]: a warning, not a
    /// refusal.
    pub fn expire_dry_run(&mut self, now_ms: i64) {
        if self.dry_run_pending.is_some() && now_ms - self.dry_run_asked_ms >= DRY_RUN_WAIT_MS {
            self.dry_run_pending = None;
            let outcome =
                DryRunOutcome::NoAnswer(format!("no answer within {} s", DRY_RUN_WAIT_MS / 1000));
            if let Some(guard) = outcome.guard() {
                self.plan.guards.push(guard);
            }
            self.dry_run_note = Some(outcome.note().to_string());
        }
    }
}

pub struct RunningAction {
    pub id: ActionId,
    pub title: String,
    pub stage: Option<ActionStage>,
    pub record: Option<AuditRecord>,
    /// The action itself, so one that was not run (changed since planned) can be planned again.
    pub action: Option<crate::actions::Action>,
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
    /// (min, max, cpu) as pre-filled from the existing autoscaler: a field still at its
    /// pre-filled value was not set by the operator and keeps the autoscaler's value at the
    /// time of the preview, whatever it became meanwhile.
    pub prefilled: Option<(u32, u32, u32)>,
}

impl AutoscaleForm {
    /// (min, max, cpu) to propose: the operator's changes over `current` (the autoscaler as the
    /// latest snapshot shows it); without one, the form's values.
    pub fn values(&self, current: Option<&crate::model::snapshot::Autoscaler>) -> (u32, u32, u32) {
        let (Some((min0, max0, cpu0)), Some(h)) = (self.prefilled, current) else {
            return (self.min, self.max, self.cpu);
        };
        let pick = |typed: u32, prefilled: u32, now: u32| {
            if typed == prefilled { now } else { typed }
        };
        (
            pick(self.min, min0, h.min_replicas),
            pick(self.max, max0, h.max_replicas),
            pick(self.cpu, cpu0, h.target_cpu_percent),
        )
    }
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
    /// The window was asked to close while actions ran: the question is on screen.
    pub close_asked: bool,
    /// What the operator chose; the window closes once it is fulfilled.
    pub close: Option<CloseChoice>,
}

/// What to do with running actions when the window closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseChoice {
    /// Close once every action has finished.
    Wait,
    /// Cancel them all, close once their records are written.
    Cancel,
    /// Cancel those still in their grace period, abandon the rest, close.
    Leave,
}

impl ActionsState {
    /// Actions still waiting out their grace period (nothing written yet).
    pub fn in_grace(&self) -> usize {
        self.running
            .iter()
            .filter(|a| {
                a.record.is_none() && matches!(a.stage, None | Some(ActionStage::Grace { .. }))
            })
            .count()
    }

    pub fn next_id(&mut self) -> ActionId {
        self.next_id += 1;
        ActionId(self.next_id)
    }

    pub fn started(&mut self, id: ActionId, title: String, action: crate::actions::Action) {
        self.running.push_back(RunningAction {
            id,
            title,
            stage: None,
            record: None,
            action: Some(action),
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
