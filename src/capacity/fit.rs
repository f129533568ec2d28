//! Will N more replicas fit? The scheduler's filters (node ready and not cordoned, taints and
//! tolerations, nodeSelector and required node affinity, resource fit on requests and the pod
//! count) applied to a snapshot of the nodes, then a placement that spreads like the default
//! LeastAllocated score. Pure: no I/O, so plans, the advisor and verification share it.

use crate::model::capacity::{
    NodeRoom, NodeSelectorRequirement, ReplicaNeeds, Taint, TaintEffect, Toleration,
    format_cpu_milli,
};
use crate::model::units::format_bytes;
use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap};

/// The outcome of a fit check for `wanted` new replicas.
#[derive(Clone, Debug, PartialEq)]
pub struct FitReport {
    pub wanted: u64,
    pub fitting: u64,
    /// Where the fitting replicas would go, most first.
    pub placement: Vec<(String, u64)>,
    /// Why nodes were left out, as the scheduler counts them: ("cordoned", 2).
    pub excluded: BTreeMap<String, u64>,
    /// One line in words: "fits: 5 of 5 new replicas (node-a 3, node-b 2)".
    pub verdict: String,
    /// Why the rest would stay Pending ("insufficient cpu: each needs 500m, the largest free
    /// room is 300m"), when some do; verification says it for pods the scheduler left
    /// Pending without a message of its own.
    pub shortfall: Option<String>,
    pub rules_applied: Vec<&'static str>,
    pub rules_not_applied: Vec<String>,
}

impl FitReport {
    pub fn fits(&self) -> bool {
        self.fitting >= self.wanted
    }

    pub fn pending(&self) -> u64 {
        self.wanted.saturating_sub(self.fitting)
    }
}

const UNSCHEDULABLE_TAINT: &str = "node.kubernetes.io/unschedulable";

/// Whether `t` tolerates `taint`, by the API's rules (an empty key with Exists matches every
/// key; an empty effect matches every effect).
pub fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if t.effect.is_some_and(|e| e != taint.effect) {
        return false;
    }
    match &t.key {
        None => t.exists,
        Some(k) if k != &taint.key => false,
        Some(_) if t.exists => true,
        Some(_) => t.value.as_deref().unwrap_or("") == taint.value.as_deref().unwrap_or(""),
    }
}

fn requirement_holds(req: &NodeSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    use NodeSelectorRequirement as R;
    match req {
        R::In(k, values) => labels.get(k).is_some_and(|v| values.contains(v)),
        R::NotIn(k, values) => labels.get(k).is_none_or(|v| !values.contains(v)),
        R::Exists(k) => labels.contains_key(k),
        R::DoesNotExist(k) => !labels.contains_key(k),
        R::Gt(k, n) => labels
            .get(k)
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|v| v > *n),
        R::Lt(k, n) => labels
            .get(k)
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|v| v < *n),
    }
}

/// The first filter that keeps a replica off this node, in the scheduler's words, or `None`.
fn filter_out(node: &NodeRoom, needs: &ReplicaNeeds) -> Option<String> {
    if !node.ready {
        return Some("not ready".into());
    }
    if node.unschedulable {
        let cordon = Taint {
            key: UNSCHEDULABLE_TAINT.into(),
            value: None,
            effect: TaintEffect::NoSchedule,
        };
        if !needs.tolerations.iter().any(|t| tolerates(t, &cordon)) {
            return Some("cordoned".into());
        }
    }
    if let Some(taint) = node.taints.iter().find(|taint| {
        taint.effect != TaintEffect::PreferNoSchedule
            && !needs.tolerations.iter().any(|t| tolerates(t, taint))
    }) {
        return Some(format!("untolerated taint {}", taint.text()));
    }
    let selector_ok = needs
        .node_selector
        .iter()
        .all(|(k, v)| node.labels.get(k) == Some(v));
    let affinity_ok = needs.required_node_terms.is_empty()
        || needs
            .required_node_terms
            .iter()
            .any(|term| term.iter().all(|r| requirement_holds(r, &node.labels)));
    if !selector_ok || !affinity_ok {
        return Some("not matching the node selector/affinity".into());
    }
    None
}

/// Whether the scheduler's filters (ready, cordon, taints, selector and affinity) let a
/// replica with `needs` onto `node`, room aside.
pub fn admits(node: &NodeRoom, needs: &ReplicaNeeds) -> bool {
    filter_out(node, needs).is_none()
}

/// Free room left on a node as placement goes on.
#[derive(Clone, Copy)]
struct Room {
    cpu: u64,
    memory: u64,
    pods: u64,
    alloc_cpu: u64,
    alloc_memory: u64,
}

impl Room {
    fn of(n: &NodeRoom) -> Self {
        Self {
            cpu: n.free_cpu_milli(),
            memory: n.free_memory_bytes(),
            pods: n.free_pods(),
            alloc_cpu: n.allocatable_cpu_milli,
            alloc_memory: n.allocatable_memory_bytes,
        }
    }

    fn takes_one(&self, needs: &ReplicaNeeds) -> bool {
        self.pods >= 1
            && needs.cpu_milli.is_none_or(|c| self.cpu >= c)
            && needs.memory_bytes.is_none_or(|m| self.memory >= m)
    }

    fn place(&mut self, needs: &ReplicaNeeds) {
        self.pods -= 1;
        self.cpu -= needs.cpu_milli.unwrap_or(0);
        self.memory -= needs.memory_bytes.unwrap_or(0);
    }

    /// LeastAllocated: the mean free share of CPU and memory, in millionths (an integer, so
    /// the heap orders it exactly and ties go to the node name).
    fn score(&self) -> u64 {
        let share = |free: u64, alloc: u64| {
            if alloc == 0 {
                0
            } else {
                (u128::from(free) * 1_000_000 / u128::from(alloc)) as u64
            }
        };
        (share(self.cpu, self.alloc_cpu) + share(self.memory, self.alloc_memory)) / 2
    }
}

#[derive(PartialEq, Eq)]
struct Candidate {
    score: u64,
    index: usize,
}

impl Ord for Candidate {
    fn cmp(&self, other: &Self) -> Ordering {
        // Higher score first; on a tie the lower index (nodes come sorted by name).
        self.score
            .cmp(&other.score)
            .then_with(|| other.index.cmp(&self.index))
    }
}

impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Place `wanted` new replicas with `needs` on `nodes` and say the outcome in words.
/// `nodes` may be the rooms themselves or references to them: a check at 5,000 nodes need not
/// clone each node's labels and taints first.
pub fn fit_replicas<N: Borrow<NodeRoom>>(
    nodes: &[N],
    needs: &ReplicaNeeds,
    wanted: u64,
) -> FitReport {
    let mut excluded: BTreeMap<String, u64> = BTreeMap::new();
    let mut eligible: Vec<(&NodeRoom, Room)> = Vec::new();
    for node in nodes.iter().map(Borrow::borrow) {
        match filter_out(node, needs) {
            Some(why) => *excluded.entry(why).or_default() += 1,
            None => eligible.push((node, Room::of(node))),
        }
    }
    eligible.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    let mut heap: BinaryHeap<Candidate> = eligible
        .iter()
        .enumerate()
        .filter(|(_, (_, room))| room.takes_one(needs))
        .map(|(index, (_, room))| Candidate {
            score: room.score(),
            index,
        })
        .collect();
    let mut counts = vec![0_u64; eligible.len()];
    let mut fitting = 0;
    while fitting < wanted {
        let Some(best) = heap.pop() else { break };
        let room = &mut eligible[best.index].1;
        room.place(needs);
        counts[best.index] += 1;
        fitting += 1;
        if room.takes_one(needs) {
            heap.push(Candidate {
                score: room.score(),
                index: best.index,
            });
        }
    }
    let mut placement: Vec<(String, u64)> = eligible
        .iter()
        .zip(&counts)
        .filter(|(_, c)| **c > 0)
        .map(|((n, _), c)| (n.name.clone(), *c))
        .collect();
    placement.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let rooms: Vec<Room> = eligible.iter().map(|(_, r)| *r).collect();
    let shortfall = (fitting < wanted).then(|| shortfall(&rooms, &excluded, needs));
    let verdict = verdict(wanted, fitting, &placement, shortfall.as_deref(), needs);
    let mut rules_not_applied = needs.rules_not_applied.clone();
    rules_not_applied.push("preferred affinity and taints (preferences, they never block)".into());
    FitReport {
        wanted,
        fitting,
        placement,
        excluded,
        verdict,
        shortfall,
        rules_applied: vec![
            "resource fit on requests (cpu, memory, pod count)",
            "node ready and not cordoned",
            "taints and tolerations",
            "nodeSelector and required node affinity",
        ],
        rules_not_applied,
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn placement_text(placement: &[(String, u64)]) -> String {
    const SHOWN: usize = 5;
    let mut parts: Vec<String> = placement
        .iter()
        .take(SHOWN)
        .map(|(n, c)| format!("{n} {c}"))
        .collect();
    if placement.len() > SHOWN {
        parts.push(format!(
            "{} on {} more nodes",
            placement[SHOWN..].iter().map(|(_, c)| c).sum::<u64>(),
            placement.len() - SHOWN
        ));
    }
    parts.join(", ")
}

/// Why the rest would stay Pending: what the largest free room lacks, then the nodes left out.
fn shortfall(rooms: &[Room], excluded: &BTreeMap<String, u64>, needs: &ReplicaNeeds) -> String {
    let mut why = Vec::new();
    if !rooms.is_empty() {
        let max_cpu = rooms.iter().map(|r| r.cpu).max().unwrap_or(0);
        let max_memory = rooms.iter().map(|r| r.memory).max().unwrap_or(0);
        if let Some(c) = needs.cpu_milli.filter(|c| *c > max_cpu) {
            why.push(format!(
                "insufficient cpu: each needs {}, the largest free room is {}",
                format_cpu_milli(c),
                format_cpu_milli(max_cpu)
            ));
        }
        if let Some(m) = needs.memory_bytes.filter(|m| *m > max_memory) {
            why.push(format!(
                "insufficient memory: each needs {}, the largest free room is {}",
                format_bytes(m),
                format_bytes(max_memory)
            ));
        }
        if rooms.iter().all(|r| r.pods == 0) {
            why.push("every node is at its pod limit".into());
        }
        if why.is_empty() {
            why.push(format!(
                "no node has {} free at once",
                [
                    needs
                        .cpu_milli
                        .map(|c| format!("{} cpu", format_cpu_milli(c))),
                    needs
                        .memory_bytes
                        .map(|m| format!("{} memory", format_bytes(m))),
                    Some("a pod slot".into()),
                ]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" and ")
            ));
        }
    }
    for (reason, count) in excluded {
        why.push(format!("{} {reason}", plural(*count, "node", "nodes")));
    }
    if why.is_empty() {
        why.push("no node in the cluster".into());
    }
    why.join("; ")
}

fn verdict(
    wanted: u64,
    fitting: u64,
    placement: &[(String, u64)],
    shortfall: Option<&str>,
    needs: &ReplicaNeeds,
) -> String {
    let unknown = needs.cpu_milli.is_none() && needs.memory_bytes.is_none();
    let caveat = if unknown {
        " — unknown room: the template requests no cpu or memory, only the pod count was checked"
    } else {
        ""
    };
    let new = if wanted == 1 {
        "new replica"
    } else {
        "new replicas"
    };
    if fitting >= wanted {
        return format!(
            "fits: {fitting} of {wanted} {new} ({}){caveat}",
            placement_text(placement)
        );
    }
    let pending = wanted - fitting;
    let why = shortfall.unwrap_or_default();
    if fitting == 0 {
        format!(
            "none of {wanted} {new} fit{}: {} would stay Pending ({why}){caveat}",
            if wanted == 1 { "s" } else { "" },
            pending
        )
    } else {
        format!(
            "only {fitting} of {wanted} {new} fit ({}): {pending} would stay Pending ({why}){caveat}",
            placement_text(placement)
        )
    }
}
