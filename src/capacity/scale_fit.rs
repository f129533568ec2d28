//! Will a proposed replica count fit, and if not, how many nodes would it take? The advisor's
//! and the cost what-if's question about one workload, answered from its endpoint's
//! [`CapacityView`] by the checks the scale plans run: for Kubernetes the LimitRange defaults,
//! the ResourceQuota and the node fit (Pending replicas placed first); for Swarm the per-node
//! fit on its nodes; for Compose the engine's free memory against the reservations.

use super::nodes_needed::{NodesNeeded, nodes_needed};
use super::{apply_limit_range, fit_replicas, quota_refusal};
use crate::model::capacity::{CapacityView, NodeRoom};
use crate::model::snapshot::{WorkloadKind, WorkloadRef};
use crate::model::units::format_bytes;

/// The fit of one scale up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScaleFit {
    /// Replicas that need a place: the new ones plus those already Pending.
    pub wanted: u64,
    pub fitting: u64,
    /// The fit check's verdict in words.
    pub verdict: String,
    /// A ResourceQuota that would reject the new pods (more nodes would not help).
    pub quota: Option<String>,
    pub nodes: NodesNeeded,
    /// The cluster the nodes would join, as the per-node price is keyed: the Kubernetes
    /// context, or the Docker engine's name.
    pub cluster: String,
}

impl ScaleFit {
    pub fn fits(&self) -> bool {
        self.quota.is_none() && self.fitting >= self.wanted
    }

    /// "fits", "only 4 of 10 new replicas fit", "refused by ResourceQuota …".
    pub fn short(&self) -> String {
        if let Some(q) = &self.quota {
            return format!("would be refused: {q}");
        }
        let what = if self.wanted == 1 {
            "new replica"
        } else {
            "new replicas"
        };
        if self.fitting >= self.wanted {
            format!("fits ({} of {} {what})", self.fitting, self.wanted)
        } else if self.fitting == 0 {
            format!("does not fit (none of {} {what})", self.wanted)
        } else {
            format!("only {} of {} {what} fit", self.fitting, self.wanted)
        }
    }
}

/// The fit of scaling `id` from `current` to `replicas`: `Ok(None)` when it is not a scale up,
/// `Err` with why when it cannot be checked.
pub fn scale_fit(
    view: &CapacityView,
    id: &WorkloadRef,
    current: u32,
    replicas: u32,
) -> Result<Option<ScaleFit>, String> {
    if replicas <= current {
        return Ok(None);
    }
    let new = u64::from(replicas - current);
    match id.kind {
        WorkloadKind::ComposeService => compose_fit(view, id, new).map(Some),
        WorkloadKind::SwarmService => swarm_fit(view, id, new).map(Some),
        _ => kube_fit(view, id, new).map(Some),
    }
}

fn kube_fit(view: &CapacityView, id: &WorkloadRef, new: u64) -> Result<ScaleFit, String> {
    // Scopes are "{context}/{namespace}"; the demo's are a bare namespace of the context named
    // like its endpoint (as the plans read them).
    let (context, ns) = id
        .scope
        .rsplit_once('/')
        .unwrap_or((id.endpoint.as_str(), id.scope.as_str()));
    let ctx = view
        .contexts
        .get(context)
        .ok_or_else(|| format!("context {context} has no capacity data"))?;
    let nodes = ctx.nodes.as_ref().map_err(Clone::clone)?;
    let declared = view.needs.get(id).ok_or("its pod template was not read")?;
    let (needs, _) = apply_limit_range(declared.clone(), ctx.limit_ranges.get(ns));
    let quota = ctx
        .quotas
        .get(ns)
        .into_iter()
        .flatten()
        .find_map(|q| quota_refusal(q, &needs, new));
    let rooms: Vec<&NodeRoom> = nodes.iter().map(|n| &n.room).collect();
    let waiting = view.waiting.get(id).copied().unwrap_or(0);
    let report = fit_replicas(&rooms, &needs, new + waiting);
    Ok(ScaleFit {
        wanted: report.wanted,
        fitting: report.fitting,
        nodes: nodes_needed(&rooms, &needs, report.pending()),
        verdict: report.verdict,
        quota,
        cluster: context.to_string(),
    })
}

fn swarm_fit(view: &CapacityView, id: &WorkloadRef, new: u64) -> Result<ScaleFit, String> {
    let engine = view.engine.as_ref().ok_or("no engine capacity data")?;
    let nodes = engine
        .swarm_nodes
        .as_ref()
        .map_err(|e| format!("the Swarm nodes could not be read ({e})"))?;
    let needs = view.needs.get(id).ok_or("its service spec was not read")?;
    if needs.cpu_milli.is_none() && needs.memory_bytes.is_none() {
        return Err("no reservations (Swarm places tasks by room only with them)".into());
    }
    let report = fit_replicas(nodes, needs, new);
    Ok(ScaleFit {
        wanted: report.wanted,
        fitting: report.fitting,
        nodes: nodes_needed(nodes, needs, report.pending()),
        verdict: report.verdict.replace(" cordoned", " drained or paused"),
        quota: None,
        cluster: engine.name.clone(),
    })
}

/// Compose runs on one host: what does not fit over-commits it, and no node count helps.
fn compose_fit(view: &CapacityView, id: &WorkloadRef, new: u64) -> Result<ScaleFit, String> {
    let engine = view.engine.as_ref().ok_or("no engine capacity data")?;
    let host = engine
        .host
        .as_ref()
        .ok_or_else(|| format!("the engine's size is unknown ({})", engine.counted))?;
    let each = view
        .needs
        .get(id)
        .and_then(|n| n.memory_bytes)
        .ok_or("no memory reservation to check against the engine")?;
    let free = host.free_memory_bytes();
    let fitting = (free / each.max(1)).min(new);
    let short = (new - fitting) * each;
    Ok(ScaleFit {
        wanted: new,
        fitting,
        verdict: format!(
            "{fitting} of {new} fit in {}'s free memory (each reserves {}, {} free)",
            engine.name,
            format_bytes(each),
            format_bytes(free)
        ),
        quota: None,
        nodes: if fitting == new {
            NodesNeeded::None
        } else {
            NodesNeeded::Unknown(format!(
                "Compose runs on one host: it needs {} more memory there, not more nodes",
                format_bytes(short)
            ))
        },
        cluster: engine.name.clone(),
    })
}
