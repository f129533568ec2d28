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
    /// Rows, and for Kubernetes the state of each context they come from.
    Workloads(super::workloads::WorkloadList),
    Databases(DatabaseSnapshot),
    Cache(Vec<CacheNode>),
    Queues(Vec<Queue>),
    Health(Vec<HealthCheck>),
    Prometheus(PromSnapshot),
    Pgbouncer(super::pgbouncer::PgbouncerSnapshot),
    /// MySQL / MariaDB replication (`super::mysql`).
    Mysql(super::mysql::MysqlSnapshot),
    /// A Patroni cluster as its REST API reports it.
    Patroni(Box<super::patroni::PatroniSnapshot>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum WorkloadKind {
    #[serde(alias = "deployment")]
    Deployment,
    #[serde(alias = "statefulset")]
    StatefulSet,
    #[serde(alias = "compose")]
    ComposeService,
    #[serde(alias = "swarm")]
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

    /// The kind as one lower-case path segment, as in `kubectl scale deployment/NAME`.
    pub fn slug(self) -> &'static str {
        match self {
            Self::Deployment => "deployment",
            Self::StatefulSet => "statefulset",
            Self::ComposeService | Self::SwarmService => "service",
        }
    }

    pub fn is_kubernetes(self) -> bool {
        matches!(self, Self::Deployment | Self::StatefulSet)
    }
}

/// Names a workload across connectors: `scope` is a Kubernetes context/namespace, a Compose
/// project or the Swarm; `kind` is part of the identity, because a Deployment and a StatefulSet
/// may share a name in one namespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct WorkloadRef {
    pub endpoint: String,
    pub scope: String,
    pub name: String,
    pub kind: WorkloadKind,
}

impl WorkloadRef {
    pub fn new(
        endpoint: impl Into<String>,
        scope: impl Into<String>,
        kind: WorkloadKind,
        name: impl Into<String>,
    ) -> Self {
        Self {
            endpoint: endpoint.into(),
            scope: scope.into(),
            name: name.into(),
            kind,
        }
    }

    /// The series target used in the metric store and the audit record:
    /// `endpoint/scope/kind/name`.
    pub fn target(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.endpoint,
            self.scope,
            self.kind.slug(),
            self.name
        )
    }

    /// Whether `target` is [`Self::target`], without building it.
    pub fn is_target(&self, target: &str) -> bool {
        let rest = [
            self.endpoint.as_str(),
            self.scope.as_str(),
            self.kind.slug(),
        ]
        .iter()
        .try_fold(target, |rest, part| {
            rest.strip_prefix(part)?.strip_prefix('/')
        });
        rest == Some(self.name.as_str())
    }

    /// The display form with the endpoint in front, for places where two endpoints could be
    /// confused (plans, the audit record, notifications).
    pub fn full(&self) -> String {
        format!("{}: {self}", self.endpoint)
    }
}

impl std::fmt::Display for WorkloadRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.scope, self.kind.slug(), self.name)
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
    /// Everything else the autoscaler acts on besides its CPU target, in words ("memory 80 %
    /// of requests", "behavior: scale down at most 1 pod per 60 s"), so a plan shows the whole
    /// before and after, not just CPU.
    #[serde(default)]
    pub metrics: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    pub id: WorkloadRef,
    /// What changes when the workload's spec changes and only then (Kubernetes
    /// `metadata.generation`, a Swarm service's version index, a hash of a Compose project's
    /// files and labels): the re-check before a write compares it with the plan's.
    pub revision: Option<String>,
    /// The object's current version for a write precondition (Kubernetes `resourceVersion`).
    pub resource_version: Option<String>,
    /// Set when this row is the last view of a source that stopped answering (a Kubernetes
    /// context whose API server is gone): since when (epoch ms). Shown greyed with its age,
    /// judged stale, and never plotted as current.
    pub stale_since: Option<TimeMs>,
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
    /// Why this user may not scale the workload (e.g. RBAC denies `patch deployments/scale`).
    pub scale_denied: Option<String>,
    /// Why this user may not create, edit or delete its autoscaler.
    pub autoscale_denied: Option<String>,
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

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DbRole {
    Primary,
    #[default]
    Replica,
}

impl DbRole {
    pub fn label(self) -> &'static str {
        match self {
            Self::Primary => "primary",
            Self::Replica => "replica",
        }
    }
}

/// One row of the primary's `pg_stat_replication`: a standby streaming from it.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ReplicationStat {
    pub application_name: String,
    pub client_addr: Option<String>,
    /// `streaming`, `catchup`, `startup`, `backup`, `stopping`.
    pub state: String,
    /// `async`, `sync`, `potential`, `quorum`.
    pub sync_state: String,
    pub sent_lsn: Option<u64>,
    pub write_lsn: Option<u64>,
    pub flush_lsn: Option<u64>,
    pub replay_lsn: Option<u64>,
    pub write_lag_seconds: Option<f64>,
    pub flush_lag_seconds: Option<f64>,
    pub replay_lag_seconds: Option<f64>,
}

/// One replication slot (`pg_replication_slots`). An inactive slot that retains WAL fills the
/// primary's disk.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct ReplicationSlot {
    pub name: String,
    /// `physical` or `logical`.
    pub slot_type: String,
    pub active: bool,
    /// WAL kept for this slot, from its restart LSN to the current position.
    pub retained_bytes: Option<u64>,
    /// `reserved`, `extended`, `unreserved`, `lost`.
    pub wal_status: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct DbServer {
    pub name: String,
    /// Detected: a reachable server that is not in recovery is a primary, whatever the profile
    /// says. An unreachable server keeps the role it had at its last answer (a crashed primary
    /// is still "primary, unreachable"), else the profile's.
    pub role: DbRole,
    /// How the profile lists this server.
    pub profile_role: DbRole,
    /// `role` was detected (now or at the server's last answer), not taken from the profile.
    pub role_seen: bool,
    pub reachable: bool,
    /// Set while the server's read of this poll is still running within its time-out: the
    /// figures are from its previous answer, and this says since when it is silent. A server
    /// is named unreachable only once its own time-out has passed.
    pub slow: Option<String>,
    pub in_recovery: bool,
    /// Primary: current WAL LSN. Replica: replay LSN.
    pub lsn: u64,
    pub lag_bytes: Option<u64>,
    pub lag_seconds: Option<f64>,
    pub connections: u32,
    pub max_connections: u32,
    pub tps: f64,
    pub size_bytes: u64,
    /// Primary: the timeline it writes on. Replica: the timeline its WAL receiver receives on
    /// (`pg_stat_wal_receiver.received_tli`); `None` while no receiver runs (the last
    /// restartpoint's timeline lags behind after a promotion, so it is not shown as current).
    pub timeline: Option<u32>,
    /// Why the server could not be read, in plain words.
    pub error: Option<String>,
    /// `server_version`, e.g. "15.14 (Debian 15.14-0+deb12u1)".
    pub version: Option<String>,
    /// Listed as a replica in the profile but accepts writes while another primary does too.
    pub second_primary: bool,
    /// Replica: `pg_is_wal_replay_paused()`.
    pub replay_paused: bool,
    /// Replica: `pg_last_wal_receive_lsn()`.
    pub receive_lsn: Option<u64>,
    /// Replica: `pg_last_xact_replay_timestamp()`.
    pub last_replay_at: Option<TimeMs>,
    /// Replica: WAL receiver status and sender, e.g. "streaming from 10.0.0.5:5432"; None when
    /// no WAL receiver runs.
    pub wal_receiver: Option<String>,
    /// What the primary reports about this replica (`pg_stat_replication`), when matched.
    pub replication: Option<ReplicationStat>,
    /// Replication slots on this server (normally the primary's).
    pub slots: Vec<ReplicationSlot>,
    /// The timeline this server was on when last seen in recovery: after a promotion the
    /// current timeline must be higher.
    pub recovery_timeline: Option<u32>,
    /// `data_directory`, when the monitoring user may read it (for `pg_ctl -D`).
    pub data_directory: Option<String>,
    /// `host:port` the server is reached at (from its DSN), matched against Patroni members.
    pub address: Option<String>,
}

impl DbServer {
    /// The timeline in words: a number, or "unknown" (a replica without a WAL receiver).
    pub fn timeline_text(&self) -> String {
        self.timeline
            .map_or_else(|| "unknown".into(), |t| t.to_string())
    }

    /// Unreachable, and a primary when it last answered.
    pub fn last_seen_primary(&self) -> bool {
        !self.reachable && self.role_seen && self.role == DbRole::Primary
    }

    /// The role column in words: "replica", "primary, unreachable" (its last seen role), or
    /// "unreachable (profile: replica)" when it never answered.
    pub fn role_text(&self) -> String {
        match (self.reachable, self.role_seen) {
            (true, _) => self.role.label().to_string(),
            (false, true) => format!("{}, unreachable", self.role.label()),
            (false, false) => format!("unreachable (profile: {})", self.profile_role.label()),
        }
    }

    /// Current connections as a percentage of `max_connections`.
    pub fn connections_percent(&self) -> f64 {
        100.0 * f64::from(self.connections) / f64::from(self.max_connections.max(1))
    }
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct DatabaseSnapshot {
    pub cluster: String,
    pub servers: Vec<DbServer>,
    /// Standbys the primary streams to that the profile does not list.
    pub seen_by_primary: Vec<ReplicationStat>,
    /// The newest primary WAL position this connector has seen (kept while the primary is
    /// down: it is what a promoted replica is compared with).
    pub last_primary_lsn: Option<u64>,
    /// The endpoint's own failover lag limit; planning prefers it to the profile-wide one.
    pub max_failover_lag_bytes: Option<u64>,
}

impl DatabaseSnapshot {
    pub fn primaries(&self) -> impl Iterator<Item = &DbServer> {
        self.servers
            .iter()
            .filter(|s| s.reachable && !s.in_recovery)
    }

    /// The topology on one line: `primary db1 (tl 1) -> db2 lag 0 B, db3 lag 1.2 MiB [paused]`.
    pub fn topology_line(&self) -> String {
        let fmt_bytes = super::units::format_bytes;
        let mut primaries: Vec<String> = self
            .primaries()
            .map(|s| {
                let mut t = format!("primary {} (tl {})", s.name, s.timeline_text());
                if s.second_primary {
                    t.push_str(" SECOND PRIMARY");
                }
                t
            })
            .collect();
        if primaries.is_empty() {
            primaries.push("no primary answers".into());
        }
        // A primary that stopped answering is still the primary that was: said so, not
        // listed among the replicas.
        primaries.extend(
            self.servers
                .iter()
                .filter(|s| s.last_seen_primary())
                .map(|s| format!("primary {} unreachable", s.name)),
        );
        let replicas: Vec<String> = self
            .servers
            .iter()
            .filter(|s| (!s.reachable && !s.last_seen_primary()) || s.in_recovery)
            .map(|s| {
                if !s.reachable {
                    return format!("{} unreachable", s.name);
                }
                let mut t = format!(
                    "{} lag {}",
                    s.name,
                    s.lag_bytes.map_or("—".into(), fmt_bytes)
                );
                if s.replay_paused {
                    t.push_str(" [replay paused]");
                }
                t
            })
            .chain(self.seen_by_primary.iter().map(|r| {
                format!(
                    "{} ({}) seen by primary only",
                    r.application_name,
                    r.client_addr.as_deref().unwrap_or("local")
                )
            }))
            .collect();
        if replicas.is_empty() {
            primaries.join(", ")
        } else {
            format!("{} -> {}", primaries.join(", "), replicas.join(", "))
        }
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
    /// The profile uses this Redis for job queues only: its hit ratio says nothing about
    /// caching, so it is not judged (nor counted) as a cache.
    pub queue_store: bool,
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
    /// Its probe is still running (slower than the poll waits for): `up` and `error` are not
    /// this probe's outcome yet. A one-shot `status` waits for the outcome instead.
    pub in_flight: bool,
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
