//! Typed snapshots: what one poll of one endpoint saw. The UI keeps the latest one per endpoint
//! and shows its age; numbers that should be plotted travel beside it as [`Sample`]s.

use serde::{Deserialize, Serialize};

/// Unix epoch milliseconds, the single time unit shared by engine, store and UI.
pub type TimeMs = i64;

/// One plotted number: (target, metric) names the series in the metric store.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub target: String,
    pub metric: &'static str,
    pub value: f64,
}

impl Sample {
    pub fn new(target: impl Into<String>, metric: &'static str, value: f64) -> Self {
        Self {
            target: target.into(),
            metric,
            value,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Snapshot {
    Workloads(Vec<Workload>),
    Databases(DatabaseSnapshot),
    Cache(Vec<CacheNode>),
    Queues(Vec<Queue>),
    Health(Vec<HealthCheck>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    ComposeService,
}

impl WorkloadKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Deployment => "Deployment",
            Self::StatefulSet => "StatefulSet",
            Self::ComposeService => "Compose service",
        }
    }
}

/// Names a workload across connectors: `scope` is a Kubernetes context/namespace or a Compose
/// project.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WorkloadRef {
    pub endpoint: String,
    pub scope: String,
    pub name: String,
}

impl WorkloadRef {
    /// The series target used in the metric store and the audit record.
    pub fn target(&self) -> String {
        format!("{}/{}/{}", self.endpoint, self.scope, self.name)
    }
}

impl std::fmt::Display for WorkloadRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.scope, self.name)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Autoscaler {
    pub name: String,
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub target_cpu_percent: u32,
    pub current_cpu_percent: Option<f64>,
    pub last_scale_at: Option<TimeMs>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    pub id: WorkloadRef,
    pub kind: WorkloadKind,
    pub desired: u32,
    pub ready: u32,
    pub available: u32,
    pub updated: u32,
    pub cpu_percent: Option<f64>,
    pub memory_percent: Option<f64>,
    pub autoscaler: Option<Autoscaler>,
    /// A published fixed host port: such a Compose service cannot run two containers.
    pub fixed_host_port: Option<u16>,
    /// Why pods or containers are not ready yet, when known.
    pub pending_reason: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DbRole {
    Primary,
    Replica,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DbServer {
    pub name: String,
    pub role: DbRole,
    pub reachable: bool,
    pub in_recovery: bool,
    /// Primary: current WAL LSN. Replica: replay LSN.
    pub lsn: u64,
    pub lag_bytes: Option<u64>,
    pub lag_seconds: Option<f64>,
    pub connections: u32,
    pub max_connections: u32,
    pub tps: f64,
    pub size_bytes: u64,
    pub timeline: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DatabaseSnapshot {
    pub cluster: String,
    pub servers: Vec<DbServer>,
}

impl DatabaseSnapshot {
    pub fn primaries(&self) -> impl Iterator<Item = &DbServer> {
        self.servers
            .iter()
            .filter(|s| s.reachable && !s.in_recovery)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct CacheNode {
    pub name: String,
    /// "master", "replica" (Redis says "slave"), or "unreachable".
    pub role: String,
    /// Keyspace hits / (hits + misses) over the last poll interval; `None` without lookups.
    pub hit_ratio: Option<f64>,
    pub used_memory_bytes: u64,
    /// 0 means no `maxmemory` limit.
    pub max_memory_bytes: u64,
    pub eviction_policy: String,
    pub evictions_per_sec: f64,
    pub ops_per_sec: f64,
    pub connected_clients: u32,
    /// Keys that expired per second over the last interval.
    pub expired_per_sec: f64,
    /// RSS / used memory as Redis reports it.
    pub fragmentation_ratio: Option<f64>,
    /// Clients waiting in a blocking command (BLPOP, XREADGROUP BLOCK ...).
    pub blocked_clients: u32,
    /// (db index, keys) for every database holding keys.
    pub keys_per_db: Vec<(u32, u64)>,
    pub replication: Option<CacheReplication>,
    /// Set when the node is part of a Redis Cluster.
    pub cluster: Option<CacheCluster>,
    /// Why this node could not be read (the rest of the snapshot may still be fine).
    pub error: Option<String>,
}

impl CacheNode {
    /// Used memory as a percentage of `maxmemory`, when a limit is set.
    pub fn memory_percent(&self) -> Option<f64> {
        (self.max_memory_bytes > 0)
            .then(|| 100.0 * self.used_memory_bytes as f64 / self.max_memory_bytes as f64)
    }
}

/// What a Redis node says about replication.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CacheReplication {
    /// The node's own replication offset (`master_repl_offset`).
    pub offset: u64,
    /// A replica: its master's address and whether the link is up.
    pub master: Option<String>,
    pub master_link_up: Option<bool>,
    /// A master: its replicas, with how far behind each one is.
    pub replicas: Vec<CacheReplica>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CacheReplica {
    pub address: String,
    pub state: String,
    pub offset: u64,
    /// Master offset minus replica offset.
    pub lag_bytes: u64,
    /// Seconds since the replica last acknowledged.
    pub lag_secs: Option<u64>,
}

/// Redis Cluster health as one node (the seed) sees it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CacheCluster {
    /// `cluster_state:ok`.
    pub state_ok: bool,
    /// Slots served by a node that is up, of 16384.
    pub slots_ok: u32,
    pub slots_assigned: u32,
    /// Nodes flagged `fail` or `pfail`, as "host:port".
    pub failing_nodes: Vec<String>,
    pub known_nodes: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Queue {
    pub name: String,
    /// Where the queue lives, e.g. "BullMQ on redis cache" or "RabbitMQ /".
    pub source: String,
    /// Jobs waiting to be picked up (the backlog the outlook talks about).
    pub depth: u64,
    /// Consumers attached, when the source can tell (RabbitMQ, stream groups).
    pub consumers: Option<u32>,
    /// Jobs added and finished per second, when measurable.
    pub in_per_sec: Option<f64>,
    pub out_per_sec: Option<f64>,
    /// Change of `depth` per second over the last interval (negative: draining).
    pub growth_per_sec: Option<f64>,
    /// The breakdown the source offers: waiting, active, delayed, failed, unacked...
    pub parts: Vec<QueuePart>,
    /// Redis stream consumer groups.
    pub groups: Vec<StreamGroup>,
    pub linked_workload: Option<WorkloadRef>,
    /// Configured jobs one worker finishes per second, for advice before it can be measured.
    pub jobs_per_worker_per_sec: Option<f64>,
    /// Why this queue could not be read this time (other queues are unaffected).
    pub error: Option<String>,
}

impl Queue {
    /// A queue with only a name, a source and a depth; the rest unknown.
    pub fn new(name: impl Into<String>, source: impl Into<String>, depth: u64) -> Self {
        Self {
            name: name.into(),
            source: source.into(),
            depth,
            consumers: None,
            in_per_sec: None,
            out_per_sec: None,
            growth_per_sec: None,
            parts: Vec::new(),
            groups: Vec::new(),
            linked_workload: None,
            jobs_per_worker_per_sec: None,
            error: None,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct QueuePart {
    pub label: &'static str,
    pub count: u64,
}

/// A consumer group of a Redis stream.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamGroup {
    pub name: String,
    pub consumers: u32,
    /// Delivered but not acknowledged.
    pub pending: u64,
    /// Entries not delivered to the group yet (Redis 7+).
    pub lag: Option<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct HealthCheck {
    pub name: String,
    pub url: String,
    pub group: Option<String>,
    pub up: bool,
    pub status_code: Option<u16>,
    pub latency_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub error_rate_percent: f64,
}
