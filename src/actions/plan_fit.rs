//! The fit check of a Kubernetes scale up: would the new replicas be admitted (ResourceQuota)
//! and scheduled (nodes' free room, taints, selectors)? A quota that would be exceeded
//! refuses, since the API server would reject the pods; a scale that does not fit warns, more
//! strongly when no cluster autoscaler could add nodes; without node data the plan says the
//! fit was not checked and why. Pure: it reads the capacity view of the snapshot.

use super::plan::{FleetView, Guard};
use crate::capacity::{FitReport, apply_limit_range, fit_replicas, quota_refusal};
use crate::model::capacity::{
    AutoscalerPresence, CapacityView, ContextCapacity, NodeRoom, ReplicaNeeds,
};
use crate::model::snapshot::WorkloadRef;

/// One target of a scale up as the fit check reads it.
#[derive(Clone, Copy)]
pub(super) struct Target<'a> {
    pub id: &'a WorkloadRef,
    pub current: u32,
    pub replicas: u32,
}

/// Guards for scaling one workload from `current` to `replicas`.
pub(super) fn fit_guards(fleet: &dyn FleetView, target: &Target<'_>) -> Vec<Guard> {
    fit_guards_many(fleet, std::slice::from_ref(target))
}

/// Guards for several scale ups at once: they compete for the same nodes, so each target is
/// placed on the room the ones before it left.
pub(super) fn fit_guards_many(fleet: &dyn FleetView, targets: &[Target<'_>]) -> Vec<Guard> {
    let mut guards = Vec::new();
    let mut rooms: std::collections::HashMap<&str, Vec<NodeRoom>> = Default::default();
    // A bulk scale of a whole namespace without node access says so once per context.
    let mut unchecked: std::collections::BTreeMap<&str, (&str, usize)> = Default::default();
    let ups = targets.iter().filter(|t| t.replicas > t.current).count();
    let docker: Vec<Target<'_>> = targets
        .iter()
        .filter(|t| !t.id.kind.is_kubernetes())
        .copied()
        .collect();
    guards.extend(super::plan_docker::fit_guards(fleet, &docker));
    for t in targets.iter().filter(|t| t.replicas > t.current) {
        if !t.id.kind.is_kubernetes() {
            continue;
        }
        let Some(view) = fleet.capacity(&t.id.endpoint) else {
            continue;
        };
        // Kubernetes scopes are "{context}/{namespace}"; the demo's are a bare namespace of the
        // context named like its endpoint (as `plan::kubectl` reads them).
        let (context, ns) =
            t.id.scope
                .rsplit_once('/')
                .unwrap_or((t.id.endpoint.as_str(), t.id.scope.as_str()));
        let Some(ctx) = view.contexts.get(context) else {
            guards.push(Guard::warn(format!(
                "Fit of {} not checked: context {context} has no capacity data.",
                t.id
            )));
            continue;
        };
        let nodes = match &ctx.nodes {
            Ok(nodes) => Some(
                rooms
                    .entry(context)
                    .or_insert_with(|| nodes.iter().map(|n| n.room.clone()).collect()),
            ),
            Err(why) if ups > 1 => {
                unchecked.entry(context).or_insert((why, 0)).1 += 1;
                None
            }
            Err(_) => None,
        };
        guards.extend(one(view, ctx, ns, t, nodes, ups == 1));
    }
    for (context, (why, count)) in unchecked {
        guards.push(Guard::warn(format!(
            "Fit of {count} scale ups in context {context} not checked: {why}. Whether the new \
             replicas find room is unknown."
        )));
    }
    guards
}

fn one(
    view: &CapacityView,
    ctx: &ContextCapacity,
    ns: &str,
    t: &Target<'_>,
    nodes: Option<&mut Vec<NodeRoom>>,
    say_unchecked: bool,
) -> Vec<Guard> {
    let new = u64::from(t.replicas - t.current);
    let id = t.id;
    // Replicas already waiting for a node take the first room that frees up: they are
    // placed with the new ones (the quota already counts them).
    let waiting = view.waiting.get(id).copied().unwrap_or(0);
    let Some(needs) = view.needs.get(id) else {
        return vec![Guard::warn(format!(
            "Fit of {id} not checked: its pod template was not read."
        ))];
    };
    let (needs, filled) = apply_limit_range(needs.clone(), ctx.limit_ranges.get(ns));
    let mut guards: Vec<Guard> = ctx
        .quotas
        .get(ns)
        .into_iter()
        .flatten()
        .filter_map(|q| quota_refusal(q, &needs, new))
        .map(|why| Guard::refuse(format!("{why} (scale of {id} to {}).", t.replicas)))
        .collect();
    let Some(nodes) = nodes else {
        if !say_unchecked {
            return guards;
        }
        let why = ctx.nodes.as_ref().err().map_or("", String::as_str);
        let mut text = format!(
            "Fit of {id} not checked: {why}. Whether the new replicas find room is unknown."
        );
        if let Some(note) = &ctx.admission_unknown {
            text.push_str(&format!(" Note: {note}."));
        }
        guards.push(Guard::warn(text));
        return guards;
    };
    let report = fit_replicas(nodes, &needs, new + waiting);
    take_room(nodes, &report, &needs);
    let mut text = format!("Fit of {id}: {}", report.verdict);
    if waiting > 0 {
        text.push_str(&format!(
            " ({} of them already exist, Pending without a node)",
            waiting
        ));
    }
    if !report.fits() {
        text.push_str(match &ctx.autoscaler {
            AutoscalerPresence::NotSeen => {
                "; no cluster autoscaler is running to add nodes, so they stay Pending until \
                 room is made"
            }
            AutoscalerPresence::Seen(_) => "; a cluster autoscaler may add nodes for them",
            AutoscalerPresence::Unknown => {
                "; whether a cluster autoscaler could add nodes is unknown (kube-system is not \
                 visible)"
            }
        });
        if let AutoscalerPresence::Seen(what) = &ctx.autoscaler {
            text.push_str(&format!(" ({what})"));
        }
    }
    text.push('.');
    if !filled.is_empty() {
        text.push_str(&format!(" Requests used: {}.", filled.join(", ")));
    }
    for note in [&ctx.partial_pods, &ctx.admission_unknown]
        .into_iter()
        .flatten()
    {
        text.push_str(&format!(" Note: {note}."));
    }
    text.push_str(&format!(
        " Checked: {}; not simulated: {}.",
        report.rules_applied.join(", "),
        report.rules_not_applied.join(", ")
    ));
    guards.push(if report.fits() {
        Guard::pass(text)
    } else {
        Guard::warn(text)
    });
    guards
}

/// An autoscaler's `maxReplicas`: could the cluster ever run that many? Only warnings: the
/// autoscaler object itself is valid whatever the room; it is its scale ups that would fail.
pub(super) fn max_guards(
    fleet: &dyn FleetView,
    id: &WorkloadRef,
    current: u32,
    max: u32,
) -> Vec<Guard> {
    let target = Target {
        id,
        current,
        replicas: max,
    };
    fit_guards(fleet, &target)
        .into_iter()
        .map(|g| {
            let text = format!("At maxReplicas {max}: {}", g.reason);
            match g.level {
                super::plan::GuardLevel::Pass => Guard::pass(text),
                _ => Guard::warn(text),
            }
        })
        .collect()
}

/// The room the placed replicas take, for the next target of a bulk scale.
fn take_room(nodes: &mut [NodeRoom], report: &FitReport, needs: &ReplicaNeeds) {
    for (name, count) in &report.placement {
        if let Some(n) = nodes.iter_mut().find(|n| &n.name == name) {
            n.requested_cpu_milli += needs.cpu_milli.unwrap_or(0) * count;
            n.requested_memory_bytes += needs.memory_bytes.unwrap_or(0) * count;
            n.pods += count;
        }
    }
}
