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
    /// When the value was true, if not at the poll's own time: Prometheus range and instant
    /// results carry the server's evaluation timestamps.
    pub at: Option<TimeMs>,
}

impl Sample {
    pub fn new(target: impl Into<String>, metric: &'static str, value: f64) -> Self {
        Self {
            target: target.into(),
            metric,
            value,
            at: None,
        }
    }

    /// A sample with its own timestamp.
    pub fn at(target: impl Into<String>, metric: &'static str, value: f64, at: TimeMs) -> Self {
        Self {
            at: Some(at),
            ..Self::new(target, metric, value)
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
    Prometheus(PromSnapshot),
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
    pub role: String,
    pub hit_ratio: Option<f64>,
    pub used_memory_bytes: u64,
    pub max_memory_bytes: u64,
    pub eviction_policy: String,
    pub evictions_per_sec: f64,
    pub ops_per_sec: f64,
    pub connected_clients: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Queue {
    pub name: String,
    pub source: String,
    pub depth: u64,
    pub consumers: u32,
    pub in_per_sec: f64,
    pub out_per_sec: f64,
    pub linked_workload: Option<WorkloadRef>,
}

/// One HTTP health check as of its latest probe, with statistics over its sliding window.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct HealthCheck {
    pub name: String,
    pub url: String,
    pub group: Option<String>,
    pub up: bool,
    pub status_code: Option<u16>,
    /// Latency of the latest probe that got an answer (None: it timed out or failed).
    pub latency_ms: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Share of the window's probes that failed (wrong status, missing body text, no answer).
    pub error_rate_percent: f64,
    /// Probes in the window the statistics are computed over.
    pub window_probes: usize,
    /// Days until the server certificate's notAfter (HTTPS only; negative when expired).
    pub cert_expiry_days: Option<f64>,
    /// Why the latest probe failed, in plain words.
    pub error: Option<String>,
    /// nginx `stub_status` counters, when the check names a status page.
    pub nginx: Option<NginxStatus>,
}

/// nginx `stub_status`: connection gauges and the request counter, with a rate from deltas.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct NginxStatus {
    pub active: u64,
    pub reading: u64,
    pub writing: u64,
    pub waiting: u64,
    pub accepts: u64,
    pub handled: u64,
    pub requests: u64,
    /// From the change of `requests` since the previous poll (None on the first one).
    pub requests_per_sec: Option<f64>,
    /// Why the status page could not be read, if it could not.
    pub error: Option<String>,
}

/// What one poll of a Prometheus server saw: each configured query with its series.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct PromSnapshot {
    pub url: String,
    pub queries: Vec<PromQueryResult>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct PromQueryResult {
    pub name: String,
    pub expr: String,
    pub unit: String,
    /// Prometheus's own error text when the query failed (e.g. a PromQL parse error).
    pub error: Option<String>,
    pub series: Vec<PromSeries>,
}

/// One series of a query's result; `target` names it in the metric store (metric `value`).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct PromSeries {
    /// The label set as PromQL writes it, e.g. `{instance="a:9090", job="api"}`.
    pub labels: String,
    pub target: String,
    pub value: Option<f64>,
    pub at: Option<TimeMs>,
}
