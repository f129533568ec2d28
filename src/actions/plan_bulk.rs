//! Planning a bulk scale: several Kubernetes workloads (a selection, or a whole namespace) to
//! given counts in one confirmed step, with every target's before/after in the plan and record.

use super::plan::{
    FleetView, Guard, GuardLevel, MAX_REPLICAS, Plan, PlanPolicy, kubectl, resource, unknown_target,
};
use crate::model::action::Action;
use crate::model::snapshot::{Workload, WorkloadKind, WorkloadRef};
use std::collections::BTreeMap;

pub(super) fn plan_scale_workloads(
    action: &Action,
    endpoint: &str,
    targets: &[(WorkloadRef, u32)],
    fleet: &dyn FleetView,
    policy: &PlanPolicy,
) -> Plan {
    let mut guards = Vec::new();
    let mut found: Vec<(&Workload, u32)> = Vec::new();
    // A whole cluster can be selected: duplicates are found in one pass, not pairwise.
    let mut seen = std::collections::HashSet::with_capacity(targets.len());
    for (id, n) in targets {
        if !seen.insert(id) {
            guards.push(Guard::refuse(format!("{id} is listed twice.")));
            continue;
        }
        if id.endpoint != endpoint {
            guards.push(Guard::refuse(format!(
                "{id} belongs to endpoint {}, not {endpoint}.",
                id.endpoint
            )));
            continue;
        }
        match fleet.workload(id) {
            Some(w)
                if matches!(
                    w.id.kind,
                    WorkloadKind::Deployment | WorkloadKind::StatefulSet
                ) =>
            {
                if let Some(reason) = &w.scale_denied {
                    guards.push(Guard::refuse(reason.clone()));
                }
                found.push((w, *n));
            }
            Some(w) => guards.push(Guard::refuse(format!(
                "{id} is a {}; scale Compose projects with the project form.",
                w.id.kind.label()
            ))),
            None => guards.push(Guard::refuse(format!(
                "{id} is not in the latest snapshot."
            ))),
        }
        if *n > MAX_REPLICAS {
            guards.push(Guard::refuse(format!(
                "{id}: {} is above the limit of {MAX_REPLICAS}; this looks like a typo.",
                crate::model::units::replicas(*n)
            )));
        }
    }
    if targets.is_empty() {
        return unknown_target(action, policy, "No workload selected.".into());
    }
    if found.is_empty() {
        let mut plan = unknown_target(action, policy, "None of the workloads is known.".into());
        plan.guards.extend(guards);
        return plan;
    }
    let managed: Vec<String> = found
        .iter()
        .filter_map(|(w, _)| {
            w.autoscaler.as_ref().map(|h| {
                format!(
                    "{} (autoscaler {}, min {})",
                    w.id.name, h.name, h.min_replicas
                )
            })
        })
        .collect();
    if !managed.is_empty() {
        guards.push(Guard::warn(format!(
            "Autoscalers will undo a manual scale of: {}. Edit or delete those autoscalers to \
             keep the new counts.",
            some_of(&managed)
        )));
    }
    let stopping: Vec<&str> = found
        .iter()
        .filter(|(w, n)| *n == 0 && w.desired > 0)
        .map(|(w, _)| w.id.name.as_str())
        .collect();
    if !stopping.is_empty() {
        guards.push(Guard::warn(format!(
            "Scaling to 0 stops every replica of {} workload(s): {}. They will serve nothing.",
            stopping.len(),
            some_of(&stopping)
        )));
    }
    let before_total: u32 = found.iter().map(|(w, _)| w.desired).sum();
    let after_total: u32 = found.iter().map(|(_, n)| *n).sum();
    if before_total > 0 && after_total >= before_total.saturating_mul(3) {
        guards.push(Guard::warn(format!(
            "Big jump: {before_total} -> {after_total} replicas in all. Check capacity and cost."
        )));
    }
    if found.iter().all(|(w, n)| w.desired == *n) && found.len() == targets.len() {
        guards.push(Guard::warn(
            "Every listed workload already wants that many replicas: nothing would change.",
        ));
    }
    // The targets compete for the same nodes: placed one after the other on what is left.
    let ups: Vec<super::plan_fit::Target<'_>> = found
        .iter()
        .map(|(w, n)| super::plan_fit::Target {
            id: &w.id,
            current: w.desired,
            replicas: *n,
        })
        .collect();
    let fit = super::plan_fit::fit_guards_many(fleet, &ups);
    let fitting = fit.iter().filter(|g| g.level == GuardLevel::Pass).count();
    if guards.is_empty() && fitting == fit.len() {
        guards.push(Guard::pass(format!(
            "{} workloads can be scaled in one step.",
            found.len()
        )));
    }
    // A whole namespace may be selected: one line for every scale up that fits, a line each
    // for those that do not.
    if fitting == fit.len() && fitting > 1 {
        guards.push(Guard::pass(format!(
            "Fit: all {fitting} scale ups fit on the nodes' free room, placed one after the other."
        )));
    } else {
        let alone = fit.len() == 1;
        guards.extend(
            fit.into_iter()
                .filter(|g| g.level != GuardLevel::Pass || alone),
        );
    }
    let list = |f: &dyn Fn(&Workload, u32) -> String| {
        found
            .iter()
            .map(|(w, n)| f(w, *n))
            .collect::<Vec<_>>()
            .join(", ")
    };
    // The title names a few; before/after (and so the audit record) name every one.
    const NAMED_IN_TITLE: usize = 6;
    let mut named: Vec<String> = found
        .iter()
        .take(NAMED_IN_TITLE)
        .map(|(w, _)| w.id.to_string())
        .collect();
    if found.len() > NAMED_IN_TITLE {
        named.push(format!("and {} more", found.len() - NAMED_IN_TITLE));
    }
    Plan {
        action: action.clone(),
        title: format!("Scale {} workloads: {}", found.len(), named.join(", ")),
        before: list(&|w, _| format!("{} {}", w.id.name, w.desired)),
        after: list(&|w, n| format!("{} {n}", w.id.name)),
        command: kubectl_lines(&found, policy),
        guards,
        dangerous: true,
        alternative: None,
        profile: policy.profile.clone(),
        command_line: None,
        observed: Vec::new(),
        policy: policy.clone(),
    }
}

/// One `kubectl scale` per (context/namespace, kind, count): kubectl takes several names.
fn kubectl_lines(found: &[(&Workload, u32)], policy: &PlanPolicy) -> String {
    let mut groups: BTreeMap<(String, &'static str, u32), (WorkloadRef, Vec<&str>)> =
        BTreeMap::new();
    for (w, n) in found {
        groups
            .entry((w.id.scope.clone(), resource(w.id.kind), *n))
            .or_insert_with(|| (w.id.clone(), Vec::new()))
            .1
            .push(&w.id.name);
    }
    groups
        .iter()
        .map(|((_, kind, n), (first, names))| {
            format!(
                "{} scale {kind} {} --replicas={n}",
                kubectl(policy, first),
                names.join(" ")
            )
        })
        .collect::<Vec<_>>()
        .join(" && ")
}

/// "a, b, c" — or the first ten and "and N more": a guard stays readable for a whole cluster.
fn some_of<S: AsRef<str>>(names: &[S]) -> String {
    const SHOWN: usize = 10;
    let mut out: Vec<&str> = names.iter().take(SHOWN).map(AsRef::as_ref).collect();
    let more = names.len().saturating_sub(SHOWN);
    let tail = format!("and {more} more");
    if more > 0 {
        out.push(&tail);
    }
    out.join(", ")
}
