//! Execution half of the action pipeline: grace period (cancellable) → re-check against fresh
//! state → intent record (fsynced) → execute with the plan's preconditions → verify → outcome
//! record. Planning and confirmation happened before the command reached the engine.

use super::EventSink;
use super::pipeline_team;
use super::types::{ActionStage, Event};
use crate::actions::audit::{AuditLog, AuditOutcome, AuditRecord, os_user};
use crate::actions::recheck::{Recheck, recheck};
use crate::actions::verify::{Verification, check};
use crate::actions::{ActionId, GuardLevel, Plan};
use crate::connectors::{Connector, ConnectorError};
use crate::model::clock::Clock;
use crate::model::exec::Execution;
use crate::model::snapshot::Snapshot;
use crate::team::TeamStore;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

const VERIFY_EVERY: Duration = Duration::from_secs(1);
const EXECUTE_TIMEOUT: Duration = Duration::from_secs(120);

pub(crate) struct ActionRun {
    pub id: ActionId,
    pub plan: Plan,
    pub forced: bool,
    pub connector: Arc<dyn Connector>,
    pub sink: EventSink,
    pub clock: Arc<dyn Clock>,
    pub grace: Duration,
    pub verify_timeout: Duration,
    pub poll_timeout: Duration,
    pub audit: Arc<AuditLog>,
    pub poll_now: Arc<Notify>,
    /// The advisor's citation when the operator applied one of its proposals.
    pub advice: Option<String>,
    /// The profile's team store (`[profile.team]`): change lock and second audit sink.
    pub team: Option<Arc<TeamStore>>,
    /// The operator's typed reason to take over a change lock another console holds.
    pub takeover: Option<String>,
    /// Load-balancer steps around the write, when the target sits behind a linked nginx
    /// upstream (see `pipeline_lb`).
    pub lb: Option<Arc<super::pipeline_lb::LbSteps>>,
}

fn cancelled(cancel: &watch::Receiver<bool>) -> bool {
    *cancel.borrow()
}

/// Resolves once the operator cancels; never if the sender goes away without cancelling.
async fn wait_cancelled(cancel: &mut watch::Receiver<bool>) {
    if cancel.wait_for(|c| *c).await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// What the re-check found, for the execute step.
enum Fresh {
    /// The connector read the target: its snapshot carries the write's preconditions.
    Read(Snapshot),
    /// The connector cannot re-check; the plan said so.
    NotOffered,
}

impl ActionRun {
    pub async fn run(mut self, mut cancel: watch::Receiver<bool>) {
        let record_id = crate::actions::audit::new_id();
        // 1. Grace period, counted down in steps so the UI can show the remaining time.
        let mut remaining = self.grace;
        while !remaining.is_zero() {
            self.progress(ActionStage::Grace { remaining }).await;
            let step = remaining.min(Duration::from_secs(1));
            tokio::select! {
                () = self.clock.sleep(step) => remaining -= step,
                _ = cancel.changed() => {}
            }
            if cancelled(&cancel) {
                let detail =
                    "cancelled by the operator during the grace period; nothing was changed";
                return self
                    .finish(&record_id, AuditOutcome::Cancelled, detail.into())
                    .await;
            }
        }
        // 2. Re-check: read the target fresh and plan again; anything changed → write nothing.
        self.progress(ActionStage::Rechecking).await;
        let fresh = tokio::select! {
            fresh = self.recheck() => fresh,
            () = wait_cancelled(&mut cancel) => {
                let detail = "cancelled by the operator during the re-check; nothing was changed";
                return self.finish(&record_id, AuditOutcome::Cancelled, detail.into()).await;
            }
        };
        let fresh = match fresh {
            Ok(fresh) => fresh,
            Err(why) => return self.finish(&record_id, AuditOutcome::NotRun, why).await,
        };
        // Team mode: the target's change lock, held until the outcome is recorded.
        let takeover = self.takeover.as_deref();
        let lock = pipeline_team::lock_step(self.team.as_ref(), &self.plan, &record_id, takeover);
        let _lock = match lock.await {
            pipeline_team::Gate::Go(hold, None) => hold,
            // Recorded as an overridden guard of this forced action.
            pipeline_team::Gate::Go(hold, Some(note)) => {
                self.plan.guards.push(crate::actions::Guard::refuse(note));
                hold
            }
            pipeline_team::Gate::Stop(outcome, detail) => {
                return self.finish(&record_id, outcome, detail).await;
            }
        };
        // 3. Intent, synced to disk before anything is written to the system: if the process
        // dies from here on, the next start reports the outcome as unknown.
        let mut intent = record(
            &record_id,
            &self.plan,
            self.forced,
            AuditOutcome::Intent,
            "about to run".into(),
            self.clock.now_ms(),
        );
        intent.advice.clone_from(&self.advice);
        let shared = intent.clone();
        if let Err(problem) = append(&self.audit, intent).await {
            let detail = format!(
                "the intent record could not be written to {} ({problem}); nothing was changed",
                self.audit.path().display()
            );
            return self.report(failed_record(&record_id, &self, detail)).await;
        }
        if let Err(why) = pipeline_team::share_intent(self.team.as_ref(), &shared).await {
            return self.finish(&record_id, AuditOutcome::NotRun, why).await;
        }
        // 4. Execute with the preconditions the re-check read. Cancelling now drops the
        // connector's future, which kills its child process (connectors spawn them with
        // `kill_on_drop`).
        self.progress(ActionStage::Executing).await;
        let run = Execution {
            action: &self.plan.action,
            command_line: self.plan.command_line.as_ref(),
            fresh: match &fresh {
                Fresh::Read(s) => Some(s),
                Fresh::NotOffered => None,
            },
        };
        let execute = async {
            match &self.lb {
                Some(lb) => {
                    let limit = EXECUTE_TIMEOUT + super::pipeline_lb::extra_time(lb);
                    let steps = lb.execute(&record_id, self.connector.as_ref(), run);
                    tokio::time::timeout(limit, steps).await
                }
                None => tokio::time::timeout(EXECUTE_TIMEOUT, self.connector.execute(run)).await,
            }
        };
        let result = tokio::select! {
            result = execute => Some(result),
            () = wait_cancelled(&mut cancel) => None,
        };
        let output = match result {
            Some(Ok(Ok(output))) => output,
            Some(Ok(Err(e))) => {
                let (outcome, detail) = match &e {
                    ConnectorError::Conflict(_) => (
                        AuditOutcome::NotRun,
                        format!("not run: {e}; plan again to see the new state"),
                    ),
                    e if e.outcome_unknown() => (
                        AuditOutcome::Unknown,
                        format!(
                            "outcome unknown: {e}; check {}",
                            self.plan.action.target_path()
                        ),
                    ),
                    e => (AuditOutcome::Failed, e.to_string()),
                };
                return self.finish(&record_id, outcome, detail).await;
            }
            Some(Err(_)) => {
                let detail = format!(
                    "outcome unknown: no answer within {} s and the request was abandoned; check {}",
                    EXECUTE_TIMEOUT.as_secs(),
                    self.plan.action.target_path()
                );
                return self.finish(&record_id, AuditOutcome::Unknown, detail).await;
            }
            None => {
                let detail = "cancelled by the operator while executing; the command was \
                              stopped, and what it had already changed stays changed";
                return self
                    .finish(&record_id, AuditOutcome::Cancelled, detail.into())
                    .await;
            }
        };
        // The poll loop refreshes the window's view; verification reads only the target.
        self.poll_now.notify_waiters();
        // 5. Verify until the observed state matches the intent.
        let (outcome, detail) = self.verify(&fresh, &output).await;
        self.poll_now.notify_waiters();
        self.finish(&record_id, outcome, detail).await;
    }

    /// Reads the target fresh and compares; `Err` says in words why nothing may be written.
    async fn recheck(&self) -> Result<Fresh, String> {
        let read = tokio::time::timeout(
            self.poll_timeout,
            self.connector.read_fresh(&self.plan.action),
        )
        .await;
        match read {
            Ok(Ok(Some(snapshot))) => match recheck(&self.plan, &snapshot, self.forced).0 {
                Recheck::Unchanged => Ok(Fresh::Read(snapshot)),
                Recheck::Changed(changes) => Err(format!(
                    "not run: changed since planned: {}. Plan again to see the new state.",
                    changes.join("; ")
                )),
            },
            Ok(Ok(None)) => Ok(Fresh::NotOffered),
            Ok(Err(e)) => Err(format!(
                "not run: the target could not be read again right before the write ({e}); \
                 nothing was changed"
            )),
            Err(_) => Err(format!(
                "not run: the target did not answer the re-check within {} s; nothing was changed",
                self.poll_timeout.as_secs_f32()
            )),
        }
    }

    /// Reads the target (only the target) until it shows the intent or time runs out.
    async fn verify(&self, fresh: &Fresh, output: &str) -> (AuditOutcome, String) {
        let deadline = self.clock.now_ms()
            + i64::try_from(self.verify_timeout.as_millis()).unwrap_or(i64::MAX);
        let mut last = Verification::Pending("nothing observed yet".into());
        loop {
            if let Some(snapshot) = self.observe(fresh).await {
                last = check(&self.plan.action, &snapshot);
                if let Verification::Done(seen) = &last {
                    return (
                        AuditOutcome::Succeeded,
                        format!("{output}; verified: {seen}"),
                    );
                }
            }
            if self.clock.now_ms() >= deadline {
                let secs = self.verify_timeout.as_secs();
                return match last {
                    Verification::Applied(seen) => (
                        AuditOutcome::AppliedNotReady,
                        format!("{output}; applied, not ready yet after {secs} s: {seen}"),
                    ),
                    Verification::Pending(seen) | Verification::Done(seen) => (
                        AuditOutcome::TimedOut,
                        format!("{output}; not verified within {secs} s: {seen}"),
                    ),
                };
            }
            let observed = match &last {
                Verification::Applied(s) => format!("applied, not ready yet: {s}"),
                Verification::Pending(s) | Verification::Done(s) => s.clone(),
            };
            self.progress(ActionStage::Verifying { observed }).await;
            self.clock.sleep(VERIFY_EVERY).await;
        }
    }

    /// One observation for verification: a read of the target alone when the connector offers
    /// one, else the next snapshot of the endpoint's own poll loop (never a second full poll).
    async fn observe(&self, fresh: &Fresh) -> Option<Snapshot> {
        match fresh {
            Fresh::Read(_) => {
                let read = self.connector.read_fresh(&self.plan.action);
                match tokio::time::timeout(self.poll_timeout, read).await {
                    Ok(Ok(Some(snapshot))) => Some(snapshot),
                    _ => None,
                }
            }
            Fresh::NotOffered => {
                let read = self.connector.poll();
                match tokio::time::timeout(self.poll_timeout, read).await {
                    Ok(Ok(out)) => Some(out.snapshot),
                    _ => None,
                }
            }
        }
    }

    async fn progress(&self, stage: ActionStage) {
        self.sink
            .emit(Event::ActionProgress { id: self.id, stage })
            .await;
    }

    async fn finish(&self, record_id: &str, outcome: AuditOutcome, detail: String) {
        let mut record = record(
            record_id,
            &self.plan,
            self.forced,
            outcome,
            detail,
            self.clock.now_ms(),
        );
        record.advice.clone_from(&self.advice);
        write_and_report(&self.sink, &self.audit, self.team.as_ref(), self.id, record).await;
    }

    async fn report(&self, record: AuditRecord) {
        self.sink
            .emit(Event::ActionFinished {
                id: self.id,
                record: Box::new(record),
            })
            .await;
    }
}

fn failed_record(record_id: &str, run: &ActionRun, detail: String) -> AuditRecord {
    let mut r = record(
        record_id,
        &run.plan,
        run.forced,
        AuditOutcome::Failed,
        detail,
        run.clock.now_ms(),
    );
    r.advice.clone_from(&run.advice);
    r
}

fn record(
    record_id: &str,
    plan: &Plan,
    forced: bool,
    outcome: AuditOutcome,
    detail: String,
    now_ms: i64,
) -> AuditRecord {
    AuditRecord {
        id: record_id.to_string(),
        when: chrono::DateTime::from_timestamp_millis(now_ms).unwrap_or_default(),
        os_user: os_user(),
        profile: plan.profile.clone(),
        action: plan.action.kind().into(),
        target: plan.action.target_path(),
        before: plan.before.clone(),
        after: plan.after.clone(),
        command: plan.command.clone(),
        outcome,
        detail,
        forced,
        overridden_guards: if forced {
            plan.guards
                .iter()
                .filter(|g| g.level == GuardLevel::Refuse)
                .map(|g| g.reason.clone())
                .collect()
        } else {
            Vec::new()
        },
        advice: None,
    }
}

/// Appends and syncs one record off the async threads.
async fn append(audit: &Arc<AuditLog>, record: AuditRecord) -> Result<(), String> {
    let log = Arc::clone(audit);
    match tokio::task::spawn_blocking(move || log.append(&record)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// The record is written before the UI hears of the result: an action the log does not hold
/// must not look finished.
async fn write_and_report(
    sink: &EventSink,
    audit: &Arc<AuditLog>,
    team: Option<&Arc<TeamStore>>,
    id: ActionId,
    mut record: AuditRecord,
) {
    if let Err(problem) = append(audit, record.clone()).await {
        let path = audit.path().display();
        record
            .detail
            .push_str(&format!(" (AUDIT LOG WRITE FAILED: {problem})"));
        sink.emit(Event::Notice(format!(
            "Could not write the audit record to {path}: {problem}"
        )))
        .await;
    }
    pipeline_team::share_record(team, &mut record).await;
    sink.emit(Event::ActionFinished {
        id,
        record: Box::new(record),
    })
    .await;
}

/// An action the engine will not run: still recorded, so refusals are visible in the audit.
#[allow(clippy::too_many_arguments)] // one record, every field it needs
pub(crate) async fn finish_refused(
    sink: &EventSink,
    audit: &Arc<AuditLog>,
    team: Option<&Arc<TeamStore>>,
    now: i64,
    id: ActionId,
    plan: &Plan,
    forced: bool,
    why: &str,
    advice: Option<String>,
) {
    let mut record = record(
        &format!("{now}-{}", id.0),
        plan,
        forced,
        AuditOutcome::Refused,
        format!("refused: {why}"),
        now,
    );
    record.advice = advice;
    write_and_report(sink, audit, team, id, record).await;
}
