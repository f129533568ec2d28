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
    SwarmService,
}

impl WorkloadKind {
    pub fn label(self) -> &'static str {
        match self {
            Self::Deployment => "Deployment",
            Self::StatefulSet => "StatefulSet",
            Self::ComposeService => "Compose service",
            Self::SwarmService => "Swarm service",
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
    /// What a Docker engine adds (Compose and Swarm services); `None` for other kinds.
    pub docker: Option<Box<DockerDetails>>,
}

/// How to reach a Docker engine from this machine: what the `docker` and compose commands need.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerTarget {
    /// `DOCKER_HOST` for the child processes (`unix://`, `tcp://`, `ssh://`); `None` = inherited.
    pub host: Option<String>,
    /// A named Docker context (`docker --context NAME`); wins over `host` when both are set.
    pub context: Option<String>,
}

/// Which Compose command is installed on this machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ComposeCli {
    /// `docker compose` (the v2 plugin).
    V2,
    /// `docker-compose` (the standalone v1 Python tool).
    V1,
}

/// A Compose project as its containers' labels describe it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComposeProject {
    /// From `com.docker.compose.project.config_files`, resolved against the working dir.
    pub config_files: Vec<String>,
    /// From `com.docker.compose.project.working_dir`.
    pub working_dir: String,
    /// `None` when neither `docker compose` nor `docker-compose` is installed.
    pub cli: Option<ComposeCli>,
    /// Problems with the files, in words: missing, or changed since the containers were created.
    pub file_warnings: Vec<String>,
}

/// Health checks of a service's containers; `None` on the workload when it has no health check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthCounts {
    pub healthy: u32,
    pub unhealthy: u32,
    pub starting: u32,
}

/// Docker-specific facts about a Compose or Swarm service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DockerDetails {
    pub target: DockerTarget,
    /// Set for Compose services.
    pub compose: Option<ComposeProject>,
    /// Names of the service's containers (tasks for Swarm), sorted.
    pub containers: Vec<String>,
    /// The service sets `container_name`, so it can run one container only.
    pub container_name: Option<String>,
    /// `deploy.mode: global` (Compose) or `--mode global` (Swarm): one per node, not scalable.
    pub global_mode: bool,
    pub health: Option<HealthCounts>,
    /// Sum of the containers' restart counts.
    pub restarts: u32,
    /// Sum of the containers' memory use, when stats answered in time.
    pub memory_bytes: Option<u64>,
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
