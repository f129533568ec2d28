//! Pending pods in the fit check's words. When the scheduler has said why it cannot place a
//! pod (its `PodScheduled=False` message, "0/3 nodes are available: …"), verification repeats
//! that. When it has not (yet), the new replicas would stay "Pending" with no reason; the fit
//! check on the same capacity view the plan used then says what is short: "3 Pending:
//! insufficient cpu: each needs 500m, the largest free room is 300m".

use crate::capacity::{apply_limit_range, fit_replicas};
use crate::model::snapshot::Workload;
use crate::model::workloads::WorkloadList;

/// Whether a workload's pending reason is a Pending pod without the scheduler's own message:
/// the forms the Kubernetes connector gives one ("pod web-x Pending: Unschedulable", "pod web-x
/// Pending: not scheduled yet"; with a message it reads "pod web-x Pending: Unschedulable: 0/3
/// nodes are available: …"). No reason at all is not one: no pod is known to be Pending.
pub(super) fn scheduler_silent(reason: Option<&str>) -> bool {
    let Some(reason) = reason else {
        return false;
    };
    let Some((_, after)) = reason.split_once(" Pending: ") else {
        return false;
    };
    !after.contains(": ")
}

/// The fit check's reason for the workload's Pending replicas, when they do not all find room
/// on the nodes as the snapshot shows them; `None` when there is no capacity data, no replica
/// waits for a node, or they all fit (the scheduler is merely slow).
pub(super) fn pending_words(list: &WorkloadList, w: &Workload) -> Option<String> {
    let view = list.capacity.as_deref()?;
    let waiting = view.waiting.get(&w.id).copied().filter(|n| *n > 0)?;
    let (context, ns) =
        w.id.scope
            .rsplit_once('/')
            .unwrap_or((w.id.endpoint.as_str(), w.id.scope.as_str()));
    let ctx = view.contexts.get(context)?;
    let nodes: Vec<_> = ctx
        .nodes
        .as_ref()
        .ok()?
        .iter()
        .map(|n| n.room.clone())
        .collect();
    let (needs, _) = apply_limit_range(view.needs.get(&w.id)?.clone(), ctx.limit_ranges.get(ns));
    let report = fit_replicas(&nodes, &needs, waiting);
    let why = report.shortfall.as_deref()?;
    let stuck = report.pending();
    Some(if stuck == waiting {
        format!("{stuck} Pending: {why} (the fit check's reason: the scheduler has not said why)")
    } else {
        format!(
            "{waiting} Pending, room for {} of them: {stuck} stay Pending: {why} (the fit \
             check's reason: the scheduler has not said why)",
            report.fitting
        )
    })
}

/// The workload's pending reason for a verification text: the fit check's words when the
/// scheduler's are absent and the fit check finds no room, else what the connector reported.
pub(super) fn pending_reason(list: &WorkloadList, w: &Workload) -> Option<String> {
    if scheduler_silent(w.pending_reason.as_deref())
        && let Some(words) = pending_words(list, w)
    {
        return Some(words);
    }
    w.pending_reason.clone()
}

#[cfg(test)]
mod tests {
    use super::scheduler_silent;

    #[test]
    fn a_scheduler_message_is_told_from_its_absence() {
        assert!(!scheduler_silent(None));
        assert!(scheduler_silent(Some("pod web-1 Pending: Unschedulable")));
        assert!(scheduler_silent(Some(
            "pod web-1 Pending: not scheduled yet"
        )));
        assert!(!scheduler_silent(Some(
            "pod web-1 Pending: Unschedulable: 0/3 nodes are available: 3 Insufficient cpu."
        )));
        assert!(!scheduler_silent(Some(
            "pod web-1: ImagePullBackOff: Back-off pulling image"
        )));
        assert!(!scheduler_silent(Some(
            "ReplicaFailure: exceeded quota: compute"
        )));
    }
}
