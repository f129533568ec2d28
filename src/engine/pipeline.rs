//! Execution half of the action pipeline: grace period (cancellable) -> execute -> verify →
//! audit. Planning and confirmation happened before the command reached the engine.

use super::EventSink;
use super::clock::Clock;
use super::types::{ActionStage, Event};
use crate::actions::audit::{AuditLog, AuditOutcome, AuditRecord, os_user};
use crate::actions::verify::{Verification, check};
use crate::actions::{ActionId, GuardLevel, Plan};
use crate::connectors::Connector;
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

impl ActionRun {
    pub async fn run(self, mut cancel: watch::Receiver<bool>) {
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
                return self.finish(AuditOutcome::Cancelled, detail.into()).await;
            }
        }
        // 2. Execute. Cancelling now drops the connector's future, which kills its child
        // process (connectors spawn them with `kill_on_drop`).
        self.progress(ActionStage::Executing).await;
        let execute =
            tokio::time::timeout(EXECUTE_TIMEOUT, self.connector.execute(&self.plan.action));
        let result = tokio::select! {
            result = execute => Some(result),
            () = wait_cancelled(&mut cancel) => None,
        };
        let output = match result {
            Some(Ok(Ok(output))) => output,
            Some(Ok(Err(e))) => return self.finish(AuditOutcome::Failed, e.to_string()).await,
            Some(Err(_)) => {
                let detail = format!(
                    "no answer within {} s; the command was stopped",
                    EXECUTE_TIMEOUT.as_secs()
                );
                return self.finish(AuditOutcome::Failed, detail).await;
            }
            None => {
                let detail = "cancelled by the operator while executing; the command was \
                              stopped, and what it had already changed stays changed";
                return self.finish(AuditOutcome::Cancelled, detail.into()).await;
            }
        };
        // 3. Verify until the observed state matches the intent.
        let deadline = self.clock.now_ms()
            + i64::try_from(self.verify_timeout.as_millis()).unwrap_or(i64::MAX);
        let mut observed = String::from("nothing observed yet");
        loop {
            if let Ok(Ok(out)) =
                tokio::time::timeout(self.poll_timeout, self.connector.poll()).await
            {
                let verdict = check(&self.plan.action, &out.snapshot);
                self.sink
                    .emit(Event::Snapshot {
                        endpoint: self.connector.info().id.clone(),
                        at: self.clock.now_ms(),
                        snapshot: out.snapshot,
                        samples: out.samples,
                    })
                    .await;
                match verdict {
                    Verification::Done(seen) => {
                        self.poll_now.notify_waiters();
                        let detail = format!("{output}; verified: {seen}");
                        return self.finish(AuditOutcome::Succeeded, detail).await;
                    }
                    Verification::Pending(seen) => observed = seen,
                }
            }
            if self.clock.now_ms() >= deadline {
                let detail = format!(
                    "{output}; not verified within {} s: {observed}",
                    self.verify_timeout.as_secs()
                );
                return self.finish(AuditOutcome::TimedOut, detail).await;
            }
            self.progress(ActionStage::Verifying {
                observed: observed.clone(),
            })
            .await;
            self.clock.sleep(VERIFY_EVERY).await;
        }
    }

    async fn progress(&self, stage: ActionStage) {
        self.sink
            .emit(Event::ActionProgress { id: self.id, stage })
            .await;
    }

    async fn finish(&self, outcome: AuditOutcome, detail: String) {
        let record = record(
            self.id,
            &self.plan,
            self.forced,
            outcome,
            detail,
            self.clock.now_ms(),
        );
        write_and_report(&self.sink, &self.audit, self.id, record).await;
    }
}

fn record(
    id: ActionId,
    plan: &Plan,
    forced: bool,
    outcome: AuditOutcome,
    detail: String,
    now_ms: i64,
) -> AuditRecord {
    AuditRecord {
        id: format!("{now_ms}-{}", id.0),
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
    }
}

/// The record is written before the UI hears of the result: an action the log does not hold
/// must not look finished.
async fn write_and_report(
    sink: &EventSink,
    audit: &Arc<AuditLog>,
    id: ActionId,
    mut record: AuditRecord,
) {
    let log = Arc::clone(audit);
    let to_write = record.clone();
    let written = tokio::task::spawn_blocking(move || log.append(&to_write)).await;
    let problem = match written {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(e) => Some(e.to_string()),
    };
    if let Some(problem) = problem {
        let path = audit.path().display();
        record
            .detail
            .push_str(&format!(" (AUDIT LOG WRITE FAILED: {problem})"));
        sink.emit(Event::Notice(format!(
            "Could not write the audit record to {path}: {problem}"
        )))
        .await;
    }
    sink.emit(Event::ActionFinished {
        id,
        record: Box::new(record),
    })
    .await;
}

/// An action the engine will not run: still recorded, so refusals are visible in the audit.
pub(crate) async fn finish_refused(
    sink: &EventSink,
    audit: &Arc<AuditLog>,
    now: i64,
    id: ActionId,
    plan: &Plan,
    forced: bool,
    why: &str,
) {
    let record = record(
        id,
        plan,
        forced,
        AuditOutcome::Refused,
        format!("refused: {why}"),
        now,
    );
    write_and_report(sink, audit, id, record).await;
}
