//! The profile data model: what one saved connection profile holds.
//!
//! Every struct uses `#[serde(default)]`, so files written by older versions (with fewer fields)
//! still load; missing values take the defaults documented on each field. Passwords and tokens are
//! never part of the model: endpoints only carry a [`SecretRef`] naming a keyring entry.

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// One mebibyte, the default replication-lag limit.
pub const MIB: u64 = 1024 * 1024;
/// One gibibyte.
pub const GIB: u64 = 1024 * MIB;

/// Keyring service name used for every Scaleboard secret.
pub const SECRET_SERVICE: &str = "scaleboard";

/// Default refresh interval, in seconds.
pub const DEFAULT_REFRESH_SECS: u32 = 2;
/// Allowed refresh intervals, in seconds.
pub const REFRESH_RANGE: std::ops::RangeInclusive<u32> = 1..=60;

/// A saved set of endpoints to watch, with the thresholds that colour them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Profile {
    /// Unique, non-empty display name.
    pub name: String,
    /// Uses the built-in demo fleet instead of real endpoints.
    pub demo: bool,
    /// How often every endpoint is polled, 1..=60 seconds (default 2).
    pub refresh_interval_secs: u32,
    /// Read-only profiles allow no action at all.
    pub read_only: bool,
    pub kubernetes: Vec<KubernetesEndpoint>,
    pub compose: Vec<ComposeEndpoint>,
    pub postgres: Vec<PostgresEndpoint>,
    /// MySQL / MariaDB replication clusters (`[[mysql]]`).
    pub mysql: Vec<MysqlEndpoint>,
    pub redis: Vec<RedisEndpoint>,
    pub rabbitmq: Option<RabbitMqEndpoint>,
    pub health: Vec<HealthEndpoint>,
    pub prometheus: Option<PrometheusEndpoint>,
    pub pgbouncer: Vec<PgbouncerEndpoint>,
    pub patroni: Vec<PatroniEndpoint>,
    /// nginx load balancers whose upstreams follow linked workloads (`[[profile.nginx]]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub nginx: Vec<NginxEndpoint>,
    pub thresholds: Thresholds,
    /// Changes to the advisor's built-in rules and added rules (`[[profile.rules]]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<crate::advisor::RuleConfig>,
    /// `[profile.advisor]`: desktop notifications on or off.
    pub advisor: crate::advisor::AdvisorSettings,
    /// `[profile.team]`: the shared audit history and change locks on PostgreSQL (team mode).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<TeamStoreSettings>,
}

impl Default for Profile {
    fn default() -> Self {
        Self {
            name: String::new(),
            demo: false,
            refresh_interval_secs: DEFAULT_REFRESH_SECS,
            read_only: false,
            kubernetes: Vec::new(),
            compose: Vec::new(),
            postgres: Vec::new(),
            mysql: Vec::new(),
            redis: Vec::new(),
            rabbitmq: None,
            health: Vec::new(),
            prometheus: None,
            pgbouncer: Vec::new(),
            patroni: Vec::new(),
            nginx: Vec::new(),
            thresholds: Thresholds::default(),
            rules: Vec::new(),
            advisor: crate::advisor::AdvisorSettings::default(),
            team: None,
        }
    }
}

impl Profile {
    /// An empty, non-demo profile with the given name and default settings.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Self::default()
        }
    }

    /// The profile offered when none is saved: the built-in demo fleet.
    pub fn demo_default() -> Self {
        Self {
            name: "Demo fleet".to_owned(),
            demo: true,
            ..Self::default()
        }
    }

    /// Every endpoint in this profile, as (kind, name), in a stable order.
    pub fn endpoint_names(&self) -> Vec<(EndpointKind, String)> {
        let mut out = Vec::new();
        out.extend(
            self.kubernetes
                .iter()
                .map(|e| (EndpointKind::Kubernetes, e.name.clone())),
        );
        out.extend(
            self.compose
                .iter()
                .map(|e| (EndpointKind::Compose, e.name.clone())),
        );
        out.extend(
            self.postgres
                .iter()
                .map(|e| (EndpointKind::Postgres, e.name.clone())),
        );
        out.extend(
            self.mysql
                .iter()
                .map(|e| (EndpointKind::Mysql, e.name.clone())),
        );
        out.extend(
            self.redis
                .iter()
                .map(|e| (EndpointKind::Redis, e.name.clone())),
        );
        out.extend(
            self.rabbitmq
                .iter()
                .map(|e| (EndpointKind::RabbitMq, e.name.clone())),
        );
        out.extend(
            self.health
                .iter()
                .map(|e| (EndpointKind::Health, e.name.clone())),
        );
        out.extend(
            self.prometheus
                .iter()
                .map(|e| (EndpointKind::Prometheus, e.name.clone())),
        );
        out.extend(
            self.pgbouncer
                .iter()
                .map(|e| (EndpointKind::Pgbouncer, e.name.clone())),
        );
        out.extend(
            self.patroni
                .iter()
                .map(|e| (EndpointKind::Patroni, e.name.clone())),
        );
        out
    }

    /// Every keyring entry this profile refers to (passwords and tokens), in a stable order.
    pub fn secret_refs(&self) -> Vec<SecretRef> {
        let mut out = Vec::new();
        out.extend(self.postgres.iter().filter_map(|e| e.password.clone()));
        out.extend(self.mysql.iter().filter_map(|e| e.password.clone()));
        out.extend(self.redis.iter().filter_map(|e| e.password.clone()));
        out.extend(self.rabbitmq.iter().filter_map(|e| e.password.clone()));
        out.extend(self.prometheus.iter().filter_map(|e| e.token.clone()));
        out.extend(self.pgbouncer.iter().filter_map(|e| e.password.clone()));
        out.extend(self.patroni.iter().filter_map(|e| e.password.clone()));
        out
    }
}

/// The kinds of endpoint a profile can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointKind {
    Kubernetes,
    Compose,
    Postgres,
    Redis,
    RabbitMq,
    Health,
    Prometheus,
    Pgbouncer,
    Mysql,
    Patroni,
}

impl EndpointKind {
    /// All kinds, in display order.
    pub const ALL: [Self; 10] = [
        Self::Kubernetes,
        Self::Compose,
        Self::Postgres,
        Self::Redis,
        Self::RabbitMq,
        Self::Health,
        Self::Prometheus,
        Self::Pgbouncer,
        Self::Mysql,
        Self::Patroni,
    ];

    /// A human label, e.g. "PostgreSQL".
    pub fn label(self) -> &'static str {
        match self {
            Self::Kubernetes => "Kubernetes",
            Self::Compose => "Docker Compose",
            Self::Postgres => "PostgreSQL",
            Self::Redis => "Redis",
            Self::RabbitMq => "RabbitMQ",
            Self::Health => "Health check",
            Self::Prometheus => "Prometheus",
            Self::Pgbouncer => "PgBouncer",
            Self::Mysql => "MySQL/MariaDB",
            Self::Patroni => "Patroni",
        }
    }
}

impl fmt::Display for EndpointKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// Names a secret kept in the OS keyring (or, when that is unavailable, in memory for this run).
/// Only this reference is written to the profile file, never the secret itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(default)]
pub struct SecretRef {
    /// Keyring service, normally [`SECRET_SERVICE`] ("scaleboard").
    pub service: String,
    /// Keyring account, e.g. "prod/postgres/main".
    pub account: String,
}

impl Default for SecretRef {
    fn default() -> Self {
        Self {
            service: SECRET_SERVICE.to_owned(),
            account: String::new(),
        }
    }
}

impl SecretRef {
    /// A reference in the "scaleboard" service.
    pub fn new(account: impl Into<String>) -> Self {
        Self {
            service: SECRET_SERVICE.to_owned(),
            account: account.into(),
        }
    }

    /// The conventional account for an endpoint: "<profile>/<kind>/<endpoint>".
    pub fn for_endpoint(profile: &str, kind: EndpointKind, endpoint: &str) -> Self {
        let kind = match kind {
            EndpointKind::Kubernetes => "kubernetes",
            EndpointKind::Compose => "compose",
            EndpointKind::Postgres => "postgres",
            EndpointKind::Redis => "redis",
            EndpointKind::RabbitMq => "rabbitmq",
            EndpointKind::Health => "health",
            EndpointKind::Prometheus => "prometheus",
            EndpointKind::Pgbouncer => "pgbouncer",
            EndpointKind::Mysql => "mysql",
            EndpointKind::Patroni => "patroni",
        };
        Self::new(format!("{profile}/{kind}/{endpoint}"))
    }
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.service, self.account)
    }
}

/// A Kubernetes cluster reached through a kubeconfig.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct KubernetesEndpoint {
    pub name: String,
    /// Kubeconfig file; `None` means the usual lookup (`KUBECONFIG`, then `~/.kube/config`).
    pub kubeconfig: Option<PathBuf>,
    /// Contexts to watch; empty means the current context.
    pub contexts: Vec<String>,
    /// Namespaces to watch; empty means all the user can list.
    pub namespaces: Vec<String>,
}

/// A Docker engine running Compose projects.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct ComposeEndpoint {
    pub name: String,
    /// e.g. "unix:///var/run/docker.sock"; `None` means `DOCKER_HOST` or the default socket.
    pub docker_host: Option<String>,
    /// Compose projects to watch; empty means all.
    pub projects: Vec<String>,
    /// A named Docker context (`docker context ls`); wins over `docker_host` when set.
    pub docker_context: Option<String>,
}

/// A PostgreSQL primary with its replicas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostgresEndpoint {
    pub name: String,
    /// URL (`postgres://user@host/db`) or libpq key/value string, without a password.
    pub primary_dsn: String,
    pub replica_dsns: Vec<String>,
    pub password: Option<SecretRef>,
    /// A replica lagging more than this is not offered for promotion (default 1 MiB).
    pub max_failover_lag_bytes: u64,
}

impl Default for PostgresEndpoint {
    fn default() -> Self {
        Self {
            name: String::new(),
            primary_dsn: String::new(),
            replica_dsns: Vec::new(),
            password: None,
            max_failover_lag_bytes: MIB,
        }
    }
}

/// The schema the team store uses when the profile names none.
pub const TEAM_DEFAULT_SCHEMA: &str = "scaleboard";

/// `[profile.team]`: a PostgreSQL database every operator's console shares, holding the team's
/// audit history and the change locks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TeamStoreSettings {
    /// URL or libpq key/value string, without a password (keyring, `PGPASSWORD` or pgpass).
    pub dsn: String,
    /// Schema holding the tables (default "scaleboard"); created by `scaleboard team init`.
    pub schema: String,
    /// true: no action runs without its record in the team store. false: when the store cannot
    /// be reached the action runs and its records are sent later ("not shared yet").
    pub require: bool,
    /// Keyring entry of the password; default `<profile>/postgres/team`.
    pub password: Option<SecretRef>,
}

impl Default for TeamStoreSettings {
    fn default() -> Self {
        Self {
            dsn: String::new(),
            schema: TEAM_DEFAULT_SCHEMA.to_owned(),
            require: true,
            password: None,
        }
    }
}

/// A PgBouncer admin console (its `pgbouncer` database), read with the simple query protocol.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PgbouncerEndpoint {
    pub name: String,
    /// `postgres://admin@host:6432/pgbouncer` or `host=… port=6432 user=…`, without a password;
    /// the database defaults to `pgbouncer`. The user must be in `admin_users` or `stats_users`.
    pub dsn: String,
    pub password: Option<SecretRef>,
    /// A pool whose busy server connections reach this percentage of its limit (`pool_size`,
    /// `default_pool_size`, `max_db_connections`) is degraded; default: the profile's
    /// `connections_percent` threshold (80).
    pub pool_warn_percent: Option<f64>,
}

/// A MySQL or MariaDB source with its replicas.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MysqlEndpoint {
    pub name: String,
    /// `mysql://user@host:3306` without a password; `?name=db1` names the server in the window.
    pub primary_url: String,
    pub replica_urls: Vec<String>,
    pub password: Option<SecretRef>,
    /// A replica further behind than this (seconds) is not offered for promotion (default 5).
    pub max_failover_lag_seconds: u64,
}

impl Default for MysqlEndpoint {
    fn default() -> Self {
        Self {
            name: String::new(),
            primary_url: String::new(),
            replica_urls: Vec::new(),
            password: None,
            max_failover_lag_seconds: 5,
        }
    }
}

/// The default port of Patroni's REST API.
pub const PATRONI_DEFAULT_PORT: u16 = 8008;

/// A Patroni cluster, read and switched over through its members' REST APIs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PatroniEndpoint {
    pub name: String,
    /// REST API base URLs of any members, e.g. "http://db1:8008"; the first that answers is read
    /// and the others are asked when it does not.
    pub urls: Vec<String>,
    /// Instead of (or besides) `urls`: the name of a `[[postgres]]` endpoint of this profile;
    /// its servers' hosts are asked at `port`.
    pub discover_from: Option<String>,
    /// REST API port used with `discover_from` (default 8008).
    pub port: u16,
    /// Basic-auth user of the REST API (`restapi.authentication.username`).
    pub username: Option<String>,
    /// Basic-auth password, from the keyring (or environment / credentials file).
    pub password: Option<SecretRef>,
    /// A PEM file with the CA that signed the REST API's certificate (https URLs).
    pub ca_file: Option<PathBuf>,
    /// The Patroni configuration file shown in `patronictl -c …` equivalent commands.
    pub patronictl_config: Option<String>,
}

impl Default for PatroniEndpoint {
    fn default() -> Self {
        Self {
            name: String::new(),
            urls: Vec::new(),
            discover_from: None,
            port: PATRONI_DEFAULT_PORT,
            username: None,
            password: None,
            ca_file: None,
            patronictl_config: None,
        }
    }
}

/// A Redis server (or the seed node of a Redis Cluster).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RedisEndpoint {
    pub name: String,
    /// e.g. "redis://host:6379/0" or "rediss://app@host:6380" (ACL user), without a password.
    pub url: String,
    pub password: Option<SecretRef>,
    /// Job queues kept in this server's keys; empty means the endpoint is watched as a cache only.
    pub queues: Vec<RedisQueue>,
}

/// Which job library wrote a Redis-backed queue, so its keys can be read the way it writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueuePreset {
    /// BullMQ: `bull:Q:wait` (list), `:active` (list), `:delayed`, `:prioritized`, `:failed`,
    /// `:completed` (sorted sets), `:id` (counter of added jobs).
    #[default]
    Bullmq,
    /// Sidekiq: `queue:Q` (list), `retry`, `schedule`, `dead` (sorted sets, shared by all queues).
    Sidekiq,
    /// Laravel: `queues:Q` (list), `queues:Q:delayed`, `queues:Q:reserved` (sorted sets).
    Laravel,
    /// Celery: a list named after the queue.
    Celery,
    /// One key of any type: list (LLEN), sorted set (ZCARD) or stream (XLEN and consumer groups).
    Custom,
}

/// One queue read from Redis keys.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RedisQueue {
    pub preset: QueuePreset,
    /// The queue's name as the library knows it (for `custom`: a display name).
    pub name: String,
    /// BullMQ: key prefix (default "bull"); Laravel: key prefix (default "queues");
    /// `custom`: the key itself (default: the name).
    pub key: Option<String>,
    /// The workload whose replicas consume this queue, for worker-scaling advice.
    pub linked_workload: Option<QueueWorkload>,
    /// Jobs one worker finishes per second, used when it cannot be measured yet.
    pub jobs_per_worker_per_sec: Option<f64>,
}

/// The workload that consumes a queue: `endpoint` is the profile's Kubernetes or Compose endpoint
/// name, `scope` a context/namespace or Compose project, `name` the deployment or service.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueWorkload {
    pub endpoint: String,
    pub scope: String,
    pub name: String,
    /// `Deployment`, `StatefulSet`, `ComposeService` or `SwarmService`; when left out, a
    /// `context/namespace` scope means a Deployment, `swarm` a Swarm service, anything else a
    /// Compose service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kind: Option<crate::model::snapshot::WorkloadKind>,
}

impl QueueWorkload {
    /// The workload's full identity, its kind given or inferred from the scope.
    pub fn workload_ref(&self) -> crate::model::snapshot::WorkloadRef {
        use crate::model::snapshot::{WorkloadKind, WorkloadRef};
        let kind = self.kind.unwrap_or(if self.scope.contains('/') {
            WorkloadKind::Deployment
        } else if self.scope == "swarm" {
            WorkloadKind::SwarmService
        } else {
            WorkloadKind::ComposeService
        });
        WorkloadRef::new(&self.endpoint, &self.scope, kind, &self.name)
    }
}

/// Links one RabbitMQ queue to the workload that consumes it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueLink {
    pub queue: String,
    pub workload: QueueWorkload,
    /// Jobs one worker finishes per second, used when it cannot be measured yet.
    pub jobs_per_worker_per_sec: Option<f64>,
}

/// A RabbitMQ management API.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct RabbitMqEndpoint {
    pub name: String,
    /// e.g. "http://rabbit:15672", without credentials.
    pub management_url: String,
    pub user: String,
    pub password: Option<SecretRef>,
    /// `None` means all vhosts.
    pub vhost: Option<String>,
    /// Queues to show; empty means all (of the vhost).
    pub queues: Vec<String>,
    /// Queues linked to the workloads that consume them, for worker-scaling advice.
    pub links: Vec<QueueLink>,
}

/// An HTTP health check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct HealthEndpoint {
    pub name: String,
    pub url: String,
    /// Default 200.
    pub expected_status: u16,
    pub body_contains: Option<String>,
    /// Checks with the same group are shown together.
    pub group: Option<String>,
    /// Default 2000.
    pub timeout_ms: u64,
    /// Seconds between probes of this check; 0 (default) means the profile's refresh interval.
    pub interval_secs: u32,
    /// Verify the server certificate (default true). Turn off only for a test endpoint.
    pub tls_verify: bool,
    /// A PEM file with extra CA certificates to trust (e.g. an internal CA).
    pub ca_file: Option<PathBuf>,
    /// nginx `stub_status` page of the load balancer this check goes through, e.g.
    /// "http://lb:8080/nginx_status": its connection counters and requests/s are shown with it.
    pub nginx_stub_status: Option<String>,
}

impl Default for HealthEndpoint {
    fn default() -> Self {
        Self {
            name: String::new(),
            url: String::new(),
            expected_status: 200,
            body_contains: None,
            group: None,
            timeout_ms: 2000,
            interval_secs: 0,
            tls_verify: true,
            ca_file: None,
            nginx_stub_status: None,
        }
    }
}

/// An nginx load balancer: where its configuration is, how it is tested and reloaded, and
/// which of its upstreams front which workload.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct NginxEndpoint {
    pub name: String,
    /// The main configuration file on this machine (its `include`s are followed).
    pub config: Option<PathBuf>,
    /// Instead of `config`: a container running nginx, read with `docker exec C nginx -T`.
    pub container: Option<String>,
    /// The Docker engine of `container` (`DOCKER_HOST` form); default: the environment's.
    pub docker_host: Option<String>,
    /// nginx's pid file, to read the master pid (re-checked before a write) and the time of
    /// its last reload; default: the `pid` directive of the configuration.
    pub pid_file: Option<PathBuf>,
    /// Command line that checks the configuration (default `nginx -t`, or `docker exec C
    /// nginx -t` with `container`).
    pub test_command: Option<String>,
    /// Command line that reloads it (default `nginx -s reload`, or through `docker exec`);
    /// shown in every plan that changes an upstream.
    pub reload_command: Option<String>,
    /// `stub_status` page, read to wait until a leaving server's connections have drained.
    pub stub_status_url: Option<String>,
    /// Longest wait for connections to drain on the way down, in seconds (default 30).
    pub drain_timeout_secs: u32,
    /// Which upstream fronts which workload.
    pub links: Vec<UpstreamLink>,
}

/// How an upstream names a workload's replicas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UpstreamAddressing {
    /// One `server IP:port` per replica, the container's address on `network`.
    #[default]
    ContainerIp,
    /// One `server HOST:PORT` per replica, `PORT` being the host port the replica publishes.
    Published,
    /// One `server NAME:port` (Docker's DNS): nginx resolves it at start and reload only.
    Dns,
}

/// `upstream` ↔ workload, and the port the replicas serve on.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct UpstreamLink {
    /// The upstream block's name.
    pub upstream: String,
    /// The Compose service or Swarm service behind it.
    pub workload: QueueWorkload,
    /// The port the replicas listen on (container port; with `published`, the container port
    /// whose host port is used).
    pub port: u16,
    pub addressing: UpstreamAddressing,
    /// `container_ip`: the Docker network nginx reaches them on (default: the first one).
    pub network: Option<String>,
    /// `published`: the host name or address nginx uses (default 127.0.0.1); `dns`: the name.
    pub host: Option<String>,
}

/// A Prometheus server for latency and error-rate queries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PrometheusEndpoint {
    pub name: String,
    pub url: String,
    /// Bearer token, if the server needs one.
    pub token: Option<SecretRef>,
    /// Ready-made queries for the usual scaling triggers.
    pub presets: Vec<PromPreset>,
    /// Queries of your own.
    pub queries: Vec<PromQuery>,
    /// How much history a range query loads when the endpoint first connects (default 900 s).
    pub history_secs: u32,
}

impl Default for PrometheusEndpoint {
    fn default() -> Self {
        Self {
            name: String::new(),
            url: String::new(),
            token: None,
            presets: Vec::new(),
            queries: Vec::new(),
            history_secs: 900,
        }
    }
}

/// One PromQL query plotted on the health panel.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct PromQuery {
    /// Unique within the endpoint; names the plot and the series.
    pub name: String,
    pub expr: String,
    /// Shown on the plot's axis, e.g. "%", "ms", "req/s".
    pub unit: String,
}

/// Queries for the seed scaling triggers, written for the usual exporters' labels: cAdvisor and
/// kube-state-metrics (per pod), node_exporter (per instance), and `http_requests_total` /
/// `http_request_duration_seconds` with a `service` label (per service).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PromPreset {
    PodCpuPercent,
    PodMemoryPercent,
    NodeCpuPercent,
    NodeMemoryPercent,
    RequestRate,
    ErrorRatePercent,
    P95LatencyMs,
}

impl PromPreset {
    pub const ALL: [Self; 7] = [
        Self::PodCpuPercent,
        Self::PodMemoryPercent,
        Self::NodeCpuPercent,
        Self::NodeMemoryPercent,
        Self::RequestRate,
        Self::ErrorRatePercent,
        Self::P95LatencyMs,
    ];

    /// The query this preset runs.
    pub fn query(self) -> PromQuery {
        let (name, expr, unit) = match self {
            Self::PodCpuPercent => (
                "pod CPU % of request",
                "100 * sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{container!=\"\", container!=\"POD\"}[2m])) / sum by (namespace, pod) (kube_pod_container_resource_requests{resource=\"cpu\"})",
                "%",
            ),
            Self::PodMemoryPercent => (
                "pod memory % of limit",
                "100 * sum by (namespace, pod) (container_memory_working_set_bytes{container!=\"\", container!=\"POD\"}) / sum by (namespace, pod) (kube_pod_container_resource_limits{resource=\"memory\"})",
                "%",
            ),
            Self::NodeCpuPercent => (
                "node CPU %",
                "100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode=\"idle\"}[2m])))",
                "%",
            ),
            Self::NodeMemoryPercent => (
                "node memory %",
                "100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)",
                "%",
            ),
            Self::RequestRate => (
                "request rate",
                "sum by (service) (rate(http_requests_total[1m]))",
                "req/s",
            ),
            Self::ErrorRatePercent => (
                "error rate",
                "100 * sum by (service) (rate(http_requests_total{status=~\"5..\"}[5m])) / sum by (service) (rate(http_requests_total[5m]))",
                "%",
            ),
            Self::P95LatencyMs => (
                "p95 latency",
                "1000 * histogram_quantile(0.95, sum by (service, le) (rate(http_request_duration_seconds_bucket[5m])))",
                "ms",
            ),
        };
        PromQuery {
            name: name.to_owned(),
            expr: expr.to_owned(),
            unit: unit.to_owned(),
        }
    }
}

impl PrometheusEndpoint {
    /// Presets first, then custom queries, in the order the profile lists them.
    pub fn all_queries(&self) -> Vec<PromQuery> {
        let mut out: Vec<PromQuery> = self.presets.iter().map(|p| p.query()).collect();
        out.extend(self.queries.iter().cloned());
        out
    }
}

/// Levels above which a value is shown as a warning and counted against scaling guards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Thresholds {
    /// Default 70.
    pub cpu_percent: f64,
    /// Default 80.
    pub memory_percent: f64,
    /// Default 80.
    pub connections_percent: f64,
    /// Default 1 MiB.
    pub replication_lag_bytes: u64,
    /// Default 50 GiB.
    pub database_size_bytes: u64,
    /// Default 80.
    pub cache_memory_percent: f64,
    /// Hit ratio below this (0..=1) is a warning. Default 0.8.
    pub cache_hit_ratio_floor: f64,
    /// Default 1000 messages.
    pub queue_depth: u64,
    /// Worker-scaling advice sizes workers to drain a backlog within this time. Default 10 min.
    pub queue_drain_target_minutes: f64,
    /// Default 2000 ms.
    pub p95_latency_ms: u64,
    /// Default 2.0 %.
    pub error_rate_percent: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            cpu_percent: 70.0,
            memory_percent: 80.0,
            connections_percent: 80.0,
            replication_lag_bytes: MIB,
            database_size_bytes: 50 * GIB,
            cache_memory_percent: 80.0,
            cache_hit_ratio_floor: 0.8,
            queue_depth: 1000,
            queue_drain_target_minutes: 10.0,
            p95_latency_ms: 2000,
            error_rate_percent: 2.0,
        }
    }
}
