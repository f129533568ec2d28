//! Capacity as the scheduler sees it: nodes with their allocatable room and what is already
//! requested on them, and what one new replica asks for. Units are in the names (milli-CPU,
//! bytes) because a mix-up of cores and millicores is the classic capacity bug.

use std::collections::{BTreeMap, HashMap};

/// A taint's effect. `PreferNoSchedule` never keeps a pod off a node, the other two do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TaintEffect {
    NoSchedule,
    PreferNoSchedule,
    NoExecute,
}

impl TaintEffect {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "NoSchedule" => Some(Self::NoSchedule),
            "PreferNoSchedule" => Some(Self::PreferNoSchedule),
            "NoExecute" => Some(Self::NoExecute),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::NoSchedule => "NoSchedule",
            Self::PreferNoSchedule => "PreferNoSchedule",
            Self::NoExecute => "NoExecute",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Taint {
    pub key: String,
    pub value: Option<String>,
    pub effect: TaintEffect,
}

impl Taint {
    /// `key=value:Effect`, as `kubectl describe node` prints it.
    pub fn text(&self) -> String {
        match &self.value {
            Some(v) => format!("{}={v}:{}", self.key, self.effect.label()),
            None => format!("{}:{}", self.key, self.effect.label()),
        }
    }
}

/// A pod's toleration. `key: None` with `exists` tolerates every taint (of `effect`, or of
/// every effect when that is `None`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Toleration {
    pub key: Option<String>,
    /// `operator: Exists`; otherwise `Equal` (the API's default).
    pub exists: bool,
    pub value: Option<String>,
    pub effect: Option<TaintEffect>,
}

/// One `matchExpressions` entry of a required node affinity term.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeSelectorRequirement {
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
    Gt(String, i64),
    Lt(String, i64),
}

/// A node as placement needs it. Requested figures are the sum over the non-terminated pods
/// bound to the node (what the scheduler's resource-fit filter subtracts), not usage.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeRoom {
    pub name: String,
    pub allocatable_cpu_milli: u64,
    pub allocatable_memory_bytes: u64,
    pub allocatable_pods: u64,
    pub requested_cpu_milli: u64,
    pub requested_memory_bytes: u64,
    pub pods: u64,
    pub labels: BTreeMap<String, String>,
    pub taints: Vec<Taint>,
    /// `spec.unschedulable` (cordoned).
    pub unschedulable: bool,
    /// The `Ready` condition is `True`.
    pub ready: bool,
}

impl NodeRoom {
    pub fn free_cpu_milli(&self) -> u64 {
        self.allocatable_cpu_milli
            .saturating_sub(self.requested_cpu_milli)
    }

    pub fn free_memory_bytes(&self) -> u64 {
        self.allocatable_memory_bytes
            .saturating_sub(self.requested_memory_bytes)
    }

    pub fn free_pods(&self) -> u64 {
        self.allocatable_pods.saturating_sub(self.pods)
    }
}

/// What one new replica asks of a node: its pod template's requests (LimitRange defaults
/// already applied where the template has none) and its placement rules.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReplicaNeeds {
    /// `None`: the template requests no CPU (the replica fits on CPU anywhere).
    pub cpu_milli: Option<u64>,
    pub memory_bytes: Option<u64>,
    pub node_selector: BTreeMap<String, String>,
    pub tolerations: Vec<Toleration>,
    /// `requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms`: a node must match
    /// one term, a term matches when every requirement holds. Empty = no rule.
    pub required_node_terms: Vec<Vec<NodeSelectorRequirement>>,
    /// Rules the template has that the fit check does not simulate (pod affinity and
    /// anti-affinity, topology spread constraints, host ports, matchFields): named in the verdict.
    pub rules_not_applied: Vec<String>,
}

/// A namespace's ResourceQuota as far as new pods touch it: hard limits and what is used.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct QuotaRoom {
    pub name: String,
    pub hard_requests_cpu_milli: Option<u64>,
    pub used_requests_cpu_milli: u64,
    pub hard_requests_memory_bytes: Option<u64>,
    pub used_requests_memory_bytes: u64,
    pub hard_pods: Option<u64>,
    pub used_pods: u64,
}

/// A LimitRange's container defaults: what a container without requests is given.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LimitRangeDefaults {
    pub name: String,
    pub default_request_cpu_milli: Option<u64>,
    pub default_request_memory_bytes: Option<u64>,
    /// `default` (limits): the request too when no `defaultRequest` is set, as the LimitRanger
    /// admission plugin does.
    pub default_limit_cpu_milli: Option<u64>,
    pub default_limit_memory_bytes: Option<u64>,
}

/// CPU in Kubernetes' own notation: `500m`, `2`, `1.5`.
pub fn format_cpu_milli(milli: u64) -> String {
    if milli.is_multiple_of(1000) {
        format!("{}", milli / 1000)
    } else {
        format!("{milli}m")
    }
}

/// Whether a cluster autoscaler could add nodes for replicas that do not fit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AutoscalerPresence {
    /// Seen running: what was seen ("Deployment kube-system/cluster-autoscaler").
    Seen(String),
    /// The place it would run in is visible and it is not there.
    NotSeen,
    /// It could not be looked for (kube-system is not visible to this user).
    #[default]
    Unknown,
}

/// A node for the capacity view: its room (requested sums filled in from the bound pods) and
/// the pressure conditions that are `True` (for display; placement does not read them).
#[derive(Clone, Debug, PartialEq)]
pub struct NodeInfo {
    pub room: NodeRoom,
    pub pressure: Vec<String>,
    /// What the node uses now, from metrics-server (`metrics.k8s.io` NodeMetrics); `None`
    /// where it does not run or has no sample for the node yet.
    pub used: Option<NodeUsage>,
}

/// A node's current usage as metrics-server reports it (not requests: what runs there uses).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeUsage {
    pub cpu_milli: u64,
    pub memory_bytes: u64,
}

/// One Kubernetes context's capacity as the last poll saw it.
#[derive(Clone, Debug, PartialEq)]
pub struct ContextCapacity {
    /// The nodes, sorted by name; `Err` says why they cannot be seen ("may not list nodes").
    pub nodes: Result<Vec<NodeInfo>, String>,
    /// Requests of pods in namespaces that are not watched are not in the nodes' sums: a
    /// note when pods are watched only in some namespaces.
    pub partial_pods: Option<String>,
    /// ResourceQuotas per namespace.
    pub quotas: BTreeMap<String, Vec<QuotaRoom>>,
    /// Why quotas or LimitRanges could not be read (the check then runs without them).
    pub admission_unknown: Option<String>,
    /// The LimitRange container defaults per namespace (the first by name that has some).
    pub limit_ranges: BTreeMap<String, LimitRangeDefaults>,
    pub autoscaler: AutoscalerPresence,
    /// Why the nodes carry no usage ("metrics-server not installed"); `None` when they do.
    pub usage_note: Option<String>,
}

/// The capacity side of a workload endpoint's snapshot: per context (by name) its nodes,
/// quotas, LimitRanges and autoscaler, and per workload (by `"{scope}/{kind}/{name}"` of its
/// [`crate::model::snapshot::WorkloadRef`]) what one replica needs.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CapacityView {
    pub contexts: BTreeMap<String, ContextCapacity>,
    pub needs: HashMap<crate::model::snapshot::WorkloadRef, ReplicaNeeds>,
    /// Replicas of a workload that exist but are bound to no node yet (Pending): they need
    /// room before any new one does.
    pub waiting: HashMap<crate::model::snapshot::WorkloadRef, u64>,
    /// Docker: the engine's room (one per Docker endpoint), and per service its limits.
    pub engine: Option<EngineCapacity>,
    pub docker_limits: HashMap<crate::model::snapshot::WorkloadRef, DockerLimits>,
}

/// A Docker engine's room: its CPUs and memory (`docker info`, or each Swarm node's
/// resources) and what the running containers already hold of it.
#[derive(Clone, Debug, PartialEq)]
pub struct EngineCapacity {
    /// "Docker engine unix:///run/docker.sock", "the local Docker engine": as plans name it.
    pub name: String,
    /// Compose: one room, the engine's host, with a pod limit that never binds. Swarm: one
    /// room per node, labels as constraints name them (`node.labels.K`, `node.role`,
    /// `node.hostname`); drained or paused nodes are `unschedulable`.
    pub host: Option<NodeRoom>,
    pub swarm_nodes: Result<Vec<NodeRoom>, String>,
    /// How the host's requested memory was counted: "3 running containers: 2 by their memory
    /// reservation, 1 by its limit (no reservation), 0 with neither (not counted)".
    pub counted: String,
}

/// What one replica of a Compose or Swarm service sets, from its existing containers (Compose)
/// or its spec (Swarm). Reservations feed [`ReplicaNeeds`]; limits are said when they are all
/// there is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DockerLimits {
    pub memory_limit_bytes: Option<u64>,
    pub cpu_limit_milli: Option<u64>,
}
