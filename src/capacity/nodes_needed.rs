//! How many nodes of the cluster's usual size would make a scale fit: the replicas the fit
//! check left Pending, placed on hypothetical empty nodes of that size by the same fit rules.
//! The advisor and the cost what-if price the answer. Pure, like the fit check.
//!
//! The usual size is the most common allocatable (cpu, memory) among the Ready, schedulable
//! nodes, counting first only the nodes the replica's rules admit (selector, affinity, taints),
//! so a workload pinned to a GPU pool is sized against that pool. A new node copies the first
//! such node's labels and taints, less the taints the node controller sets for conditions
//! (pressure, not ready, cordoned), which a fresh node does not have.

use super::fit::{admits, fit_replicas};
use crate::model::capacity::{NodeRoom, ReplicaNeeds, Taint, format_cpu_milli};
use crate::model::units::format_bytes;
use std::borrow::Borrow;
use std::collections::BTreeMap;

/// Taints under these prefixes are set by controllers for a node's conditions, not by people.
const CONDITION_TAINTS: [&str; 2] = ["node.kubernetes.io/", "node.cloudprovider.kubernetes.io/"];
const INSTANCE_TYPE_LABELS: [&str; 2] = [
    "node.kubernetes.io/instance-type",
    "beta.kubernetes.io/instance-type",
];

/// A node size as the nodes of a cluster show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeSize {
    pub cpu_milli: u64,
    pub memory_bytes: u64,
    pub pods: u64,
    /// How many Ready, schedulable nodes have it.
    pub nodes_like: usize,
    /// Their instance type, when they all carry the same one.
    pub instance_type: Option<String>,
}

impl NodeSize {
    /// "3.9 CPU / 14.9 GiB (m5.xlarge)".
    pub fn words(&self) -> String {
        let mut s = format!(
            "{} CPU / {}",
            cores(self.cpu_milli),
            format_bytes(self.memory_bytes)
        );
        if let Some(t) = &self.instance_type {
            s.push_str(&format!(" ({t})"));
        }
        s
    }
}

fn cores(milli: u64) -> String {
    if milli.is_multiple_of(1000) {
        format!("{}", milli / 1000)
    } else {
        format!("{:.1}", milli as f64 / 1000.0)
    }
}

/// What it would take to place the replicas that do not fit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodesNeeded {
    /// Nothing is left over: no node is needed.
    None,
    /// `nodes` more nodes of `size`, each taking up to `per_node` of the replicas.
    More {
        nodes: u64,
        size: NodeSize,
        per_node: u64,
    },
    /// Not even one replica fits on an empty node of this size: more of them never help.
    NeverOnSize { size: NodeSize, why: String },
    /// No usual size to reason from (no Ready, schedulable node), said why.
    Unknown(String),
}

impl NodesNeeded {
    pub fn count(&self) -> Option<u64> {
        match self {
            Self::None => Some(0),
            Self::More { nodes, .. } => Some(*nodes),
            Self::NeverOnSize { .. } | Self::Unknown(_) => None,
        }
    }

    /// "needs 2 more nodes of 3.9 CPU / 14.9 GiB (m5.xlarge)", or why no count can be given.
    pub fn words(&self) -> String {
        match self {
            Self::None => "needs no more nodes".into(),
            Self::More { nodes, size, .. } => format!(
                "needs {nodes} more node{} of {}",
                if *nodes == 1 { "" } else { "s" },
                size.words()
            ),
            Self::NeverOnSize { size, why } => {
                format!(
                    "can never fit on a node of {}: {why}; more such nodes would not help",
                    size.words()
                )
            }
            Self::Unknown(why) => format!("nodes needed unknown: {why}"),
        }
    }
}

/// A fresh node like `n`: nothing requested, Ready, not cordoned, no condition taints.
fn fresh(n: &NodeRoom) -> NodeRoom {
    let mut node = n.clone();
    node.name = "new node".into();
    node.requested_cpu_milli = 0;
    node.requested_memory_bytes = 0;
    node.pods = 0;
    node.unschedulable = false;
    node.ready = true;
    node.taints.retain(|t| !is_condition_taint(t));
    node
}

fn is_condition_taint(t: &Taint) -> bool {
    CONDITION_TAINTS.iter().any(|p| t.key.starts_with(p))
}

/// The usual size of the Ready, schedulable nodes and a fresh node of it (see the module doc);
/// `None` when there is no such node.
pub fn usual_node<N: Borrow<NodeRoom>>(
    nodes: &[N],
    needs: &ReplicaNeeds,
) -> Option<(NodeSize, NodeRoom)> {
    let mut usable: Vec<&NodeRoom> = nodes
        .iter()
        .map(Borrow::borrow)
        .filter(|n| n.ready && !n.unschedulable)
        .collect();
    if usable.is_empty() {
        return None;
    }
    usable.sort_by(|a, b| a.name.cmp(&b.name));
    let admitted: Vec<&NodeRoom> = usable
        .iter()
        .copied()
        // A usable node differs from a fresh one of its size only in its condition taints (the
        // filters read no requests): cloned only when it has some, not 5,000 label maps a check.
        .filter(|n| {
            if n.taints.iter().any(is_condition_taint) {
                admits(&fresh(n), needs)
            } else {
                admits(n, needs)
            }
        })
        .collect();
    let pool = if admitted.is_empty() {
        usable
    } else {
        admitted
    };
    let mut sizes: BTreeMap<(u64, u64), Vec<&NodeRoom>> = BTreeMap::new();
    for n in pool {
        sizes
            .entry((n.allocatable_cpu_milli, n.allocatable_memory_bytes))
            .or_default()
            .push(n);
    }
    // Most nodes first; on a tie the larger size (the map's last key among the tied).
    let ((cpu_milli, memory_bytes), like) = sizes
        .into_iter()
        .max_by(|a, b| a.1.len().cmp(&b.1.len()).then(a.0.cmp(&b.0)))?;
    let instance_type = INSTANCE_TYPE_LABELS.iter().find_map(|key| {
        let first = like[0].labels.get(*key)?;
        like.iter()
            .all(|n| n.labels.get(*key) == Some(first))
            .then(|| first.clone())
    });
    let template = fresh(like[0]);
    let size = NodeSize {
        cpu_milli,
        memory_bytes,
        pods: template.allocatable_pods,
        nodes_like: like.len(),
        instance_type,
    };
    Some((size, template))
}

/// Why one replica does not fit on an empty node of this size.
fn never_why(node: &NodeRoom, needs: &ReplicaNeeds) -> String {
    let report = fit_replicas(std::slice::from_ref(node), needs, 1);
    if let Some(reason) = report.excluded.keys().next() {
        return format!("its rules keep it off such nodes ({reason})");
    }
    let mut why = Vec::new();
    if let Some(c) = needs.cpu_milli.filter(|c| *c > node.allocatable_cpu_milli) {
        why.push(format!(
            "each replica requests {} cpu, more than the node's {}",
            format_cpu_milli(c),
            format_cpu_milli(node.allocatable_cpu_milli)
        ));
    }
    if let Some(m) = needs
        .memory_bytes
        .filter(|m| *m > node.allocatable_memory_bytes)
    {
        why.push(format!(
            "each replica requests {} memory, more than the node's {}",
            format_bytes(m),
            format_bytes(node.allocatable_memory_bytes)
        ));
    }
    if node.allocatable_pods == 0 {
        why.push("the node takes no pods".into());
    }
    if why.is_empty() {
        why.push(report.verdict);
    }
    why.join(" and ")
}

/// How many more nodes of the usual size `leftover` replicas with `needs` would take.
/// Every hypothetical node is empty and alike, so one node's share (by the fit check) divides
/// the count: no loop over nodes, and a replica bigger than the node gives
/// [`NodesNeeded::NeverOnSize`] rather than an endless count.
pub fn nodes_needed<N: Borrow<NodeRoom>>(
    nodes: &[N],
    needs: &ReplicaNeeds,
    leftover: u64,
) -> NodesNeeded {
    if leftover == 0 {
        return NodesNeeded::None;
    }
    let Some((size, template)) = usual_node(nodes, needs) else {
        return NodesNeeded::Unknown(
            "no Ready, schedulable node to take the cluster's usual node size from".into(),
        );
    };
    let per_node = fit_replicas(std::slice::from_ref(&template), needs, leftover).fitting;
    if per_node == 0 {
        let why = never_why(&template, needs);
        return NodesNeeded::NeverOnSize { size, why };
    }
    NodesNeeded::More {
        nodes: leftover.div_ceil(per_node),
        size,
        per_node,
    }
}
