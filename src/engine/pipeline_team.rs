//! The team store's two places in the pipeline, kept apart from `pipeline.rs`:
//! the change lock between the re-check and the intent, and the store as the second audit sink
//! after the local log. Without `[profile.team]` both are no-ops.

use crate::actions::Plan;
use crate::actions::audit::{AuditOutcome, AuditRecord};
use crate::team::{LockError, LockHold, TeamStore};
use std::sync::Arc;

/// What the lock step decided.
pub(crate) enum Gate {
    /// Go on; the hold (if any) must live until the outcome is recorded. The note, when the
    /// lock was taken over, goes into the audit records as an overridden guard.
    Go(Option<Box<LockHold>>, Option<String>),
    /// Write nothing: record this outcome and detail.
    Stop(AuditOutcome, String),
}

/// "scale nexus/api 3 → 5".
pub(crate) fn summary(plan: &Plan) -> String {
    format!(
        "{} {} {} → {}",
        plan.action.kind(),
        plan.action.target_path(),
        plan.before,
        plan.after
    )
}

/// Takes the target's change lock right before the intent, or takes it over from the console
/// holding it when the operator typed a reason (`takeover`).
pub(crate) async fn lock_step(
    team: Option<&Arc<TeamStore>>,
    plan: &Plan,
    record_id: &str,
    takeover: Option<&str>,
) -> Gate {
    let Some(team) = team else {
        return Gate::Go(None, None);
    };
    let identity = plan.action.lock_identity();
    let takeover = takeover.map(str::trim).filter(|r| !r.is_empty());
    match team.take_lock(&identity, record_id, &summary(plan)).await {
        Ok(hold) => Gate::Go(Some(Box::new(hold)), None),
        Err(LockError::Held(holder)) => match takeover {
            Some(reason) => {
                let from = LockError::Held(holder).to_string();
                let taken = team
                    .take_over(&identity, record_id, &summary(plan), reason, &from)
                    .await;
                match taken {
                    Ok(hold) => Gate::Go(
                        Some(Box::new(hold)),
                        Some(format!("change lock taken over ({from}): {reason}")),
                    ),
                    Err(e) => Gate::Stop(
                        AuditOutcome::NotRun,
                        format!("not run: the change lock could not be taken over: {e}"),
                    ),
                }
            }
            None => Gate::Stop(
                AuditOutcome::Refused,
                format!(
                    "refused: {}; nothing was changed. Plan again once it has finished, or \
                     take the lock over with a reason.",
                    LockError::Held(holder)
                ),
            ),
        },
        Err(LockError::Unreachable(why)) if team.require() => Gate::Stop(
            AuditOutcome::NotRun,
            format!("not run: no action without a shared record: {why}; nothing was changed"),
        ),
        // require = false: the action runs unlocked; its records wait in the pending file.
        Err(LockError::Unreachable(why)) => {
            log::warn!("running without a change lock: {why}");
            Gate::Go(None, None)
        }
    }
}

/// Shares the intent before the write: `Err` (only with `require = true`) means nothing may run.
pub(crate) async fn share_intent(
    team: Option<&Arc<TeamStore>>,
    intent: &AuditRecord,
) -> Result<(), String> {
    let Some(team) = team else {
        return Ok(());
    };
    match team.share_or_queue(intent).await {
        Ok(()) => Ok(()),
        Err(why) if team.require() => Err(format!(
            "not run: no action without a shared record: {why}; nothing was changed"
        )),
        Err(why) => {
            log::warn!("intent {}: {why}", intent.id);
            Ok(())
        }
    }
}

/// Shares any other record after the local log has it; a failure leaves it queued and is noted
/// in the detail the operator sees (the local record is already written and stays as it is).
pub(crate) async fn share_record(team: Option<&Arc<TeamStore>>, record: &mut AuditRecord) {
    if let Some(team) = team
        && let Err(why) = team.share_or_queue(record).await
    {
        record.detail.push_str(&format!(" ({why})"));
    }
}
