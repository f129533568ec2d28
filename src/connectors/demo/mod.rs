//! The built-in demo fleet: a connector like any other, backed by an in-process simulation, so
//! the app shows a living fleet with nothing installed. Everything it reports is labelled DEMO.

pub mod capacity;
pub mod lb;
pub mod mysql;
mod patroni;
pub mod pgbouncer;
mod rng;
pub mod sim;

use super::{Connector, ConnectorError, PollOutput};
use crate::model::action::Action;
use crate::model::clock::{BoxFuture, Clock};
use crate::model::endpoint::{Area, EndpointInfo};
use crate::model::snapshot::{
    CacheNode, DatabaseSnapshot, DbRole, DbServer, HealthCheck, Queue, Sample, Snapshot, Workload,
    WorkloadRef,
};
use sim::DemoFleet;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

pub const K8S_ENDPOINT: &str = "demo-prod";
pub const COMPOSE_ENDPOINT: &str = "demo-staging";
pub const PG_ENDPOINT: &str = "demo-postgres";
pub const REDIS_ENDPOINT: &str = "demo-redis";
pub const QUEUES_ENDPOINT: &str = "demo-queues";
pub const HEALTH_ENDPOINT: &str = "demo-health";
pub const PG_CLUSTER: &str = "orders-db";
pub const PATRONI_ENDPOINT: &str = "demo-patroni";

/// History the demo hands over with its first poll, so a newcomer's plots are not empty.
const BACKFILL_MS: i64 = 15 * 60 * 1000;
/// One backfilled sample per series every this often (the store's 10 s tier is finer than needed).
const BACKFILL_STEP_MS: i64 = 5_000;

/// The simulation shared by every demo endpoint, advanced to the clock's time on each poll.
pub struct DemoWorld {
    fleet: Mutex<DemoFleet>,
    clock: Arc<dyn Clock>,
    /// Per endpoint: the samples of the simulated past, taken by its first poll.
    history: Mutex<HashMap<&'static str, Vec<Sample>>>,
}

impl DemoWorld {
    pub fn new(seed: u64, clock: Arc<dyn Clock>) -> Arc<Self> {
        // The simulation starts in the past and is run up to now, recording what each endpoint
        // would have reported: the same model, so the history joins the live data seamlessly.
        let now = clock.now_ms();
        let mut fleet = DemoFleet::new(seed, now - BACKFILL_MS);
        let mut history: HashMap<&'static str, Vec<Sample>> = HashMap::new();
        let mut t = now - BACKFILL_MS;
        while t < now {
            fleet.advance_to(t);
            for id in ENDPOINTS {
                let past = output(&fleet, id)
                    .samples
                    .into_iter()
                    .map(|s| Sample { at: Some(t), ..s });
                history.entry(id).or_default().extend(past);
            }
            t += BACKFILL_STEP_MS;
        }
        Arc::new(Self {
            fleet: Mutex::new(fleet),
            clock,
            history: Mutex::new(history),
        })
    }

    /// The lock is never held across an await: every use is a short synchronous step.
    fn lock(&self) -> MutexGuard<'_, DemoFleet> {
        let mut fleet = self
            .fleet
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        fleet.advance_to(self.clock.now_ms());
        fleet
    }

    /// One connector per demo endpoint, in the order panels list them.
    pub fn connectors(self: &Arc<Self>) -> Vec<Arc<dyn Connector>> {
        [
            (
                K8S_ENDPOINT,
                "demo-prod (Kubernetes, DEMO)",
                Area::Workloads,
            ),
            (
                COMPOSE_ENDPOINT,
                "demo-staging (Compose, DEMO)",
                Area::Workloads,
            ),
            (PG_ENDPOINT, "orders-db (PostgreSQL, DEMO)", Area::Databases),
            (
                PATRONI_ENDPOINT,
                "billing-ha (Patroni, DEMO)",
                Area::Databases,
            ),
            (REDIS_ENDPOINT, "cache-main (Redis, DEMO)", Area::Cache),
            (QUEUES_ENDPOINT, "job queues (DEMO)", Area::Queues),
            (HEALTH_ENDPOINT, "health endpoints (DEMO)", Area::Health),
            (
                pgbouncer::ENDPOINT,
                "orders-db pool (PgBouncer, DEMO)",
                Area::Databases,
            ),
            (
                mysql::MYSQL_ENDPOINT,
                "accounts-db (MariaDB, DEMO)",
                Area::Databases,
            ),
        ]
        .into_iter()
        .map(|(id, label, area)| {
            Arc::new(DemoConnector {
                world: Arc::clone(self),
                info: EndpointInfo {
                    id: id.into(),
                    label: label.into(),
                    area,
                    demo: true,
                },
            }) as Arc<dyn Connector>
        })
        .collect()
    }
}

pub struct DemoConnector {
    world: Arc<DemoWorld>,
    info: EndpointInfo,
}

impl Connector for DemoConnector {
    fn info(&self) -> &EndpointInfo {
        &self.info
    }

    fn poll(&self) -> BoxFuture<'_, Result<PollOutput, ConnectorError>> {
        let fleet = self.world.lock();
        let mut out = output(&fleet, &self.info.id);
        drop(fleet);
        let past = self
            .world
            .history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(self.info.id.as_str());
        if let Some(mut past) = past {
            past.append(&mut out.samples);
            out.samples = past;
        }
        Box::pin(std::future::ready(Ok(out)))
    }

    /// The simulated state as it is now (the simulation advances on its own clock, not on reads).
    fn read_fresh<'a>(
        &'a self,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<Option<Snapshot>, ConnectorError>> {
        let _ = action;
        let fleet = self.world.lock();
        let snapshot = output(&fleet, &self.info.id).snapshot;
        drop(fleet);
        Box::pin(std::future::ready(Ok(Some(snapshot))))
    }

    /// The demo's simulated nginx, reported with the Compose endpoint's polls.
    fn load_balancers(&self) -> Option<Vec<crate::connectors::nginx::status::LinkReport>> {
        (self.info.id == COMPOSE_ENDPOINT).then(|| lb::reports(&self.world.lock()))
    }

    fn leave_load_balancer(&self, action: &Action) {
        if self.info.id == COMPOSE_ENDPOINT {
            self.world.lock().nginx.leave(action);
        }
    }

    fn execute<'a>(
        &'a self,
        run: crate::model::exec::Execution<'a>,
    ) -> BoxFuture<'a, Result<String, ConnectorError>> {
        let action = run.action;
        let result = apply(&mut self.world.lock(), action);
        Box::pin(std::future::ready(result))
    }
}

const ENDPOINTS: [&str; 9] = [
    K8S_ENDPOINT,
    COMPOSE_ENDPOINT,
    PG_ENDPOINT,
    PATRONI_ENDPOINT,
    REDIS_ENDPOINT,
    QUEUES_ENDPOINT,
    HEALTH_ENDPOINT,
    pgbouncer::ENDPOINT,
    mysql::MYSQL_ENDPOINT,
];

/// What one demo endpoint reports for the fleet's current state.
pub(crate) fn output(fleet: &DemoFleet, endpoint: &str) -> PollOutput {
    match endpoint {
        K8S_ENDPOINT => workloads(fleet, K8S_ENDPOINT, false),
        COMPOSE_ENDPOINT => workloads(fleet, COMPOSE_ENDPOINT, true),
        PG_ENDPOINT => databases(fleet),
        PATRONI_ENDPOINT => PollOutput {
            samples: fleet.patroni.samples(PATRONI_ENDPOINT),
            snapshot: Snapshot::Patroni(Box::new(fleet.patroni.snapshot.clone())),
            notices: Vec::new(),
        },
        REDIS_ENDPOINT => cache(fleet),
        QUEUES_ENDPOINT => queues(fleet),
        pgbouncer::ENDPOINT => {
            let (snapshot, samples) = pgbouncer::snapshot(&fleet.pgbouncer);
            PollOutput {
                snapshot: Snapshot::Pgbouncer(snapshot),
                samples,
                notices: Vec::new(),
            }
        }
        mysql::MYSQL_ENDPOINT => {
            let (snapshot, samples) = mysql::output(&fleet.mysql, fleet.now_ms);
            PollOutput {
                snapshot,
                samples,
                notices: Vec::new(),
            }
        }
        _ => health(fleet),
    }
}

fn apply(fleet: &mut DemoFleet, action: &Action) -> Result<String, ConnectorError> {
    if matches!(
        action,
        Action::PatroniSwitchover { .. }
            | Action::PatroniFailover { .. }
            | Action::PatroniCancelSwitchover { .. }
    ) {
        return fleet.patroni.apply(action);
    }
    let missing = |w: &WorkloadRef| ConnectorError::Failed(format!("{w} does not exist"));
    match action {
        Action::PromoteMysqlReplica { .. } => mysql::apply(&mut fleet.mysql, action),
        Action::ScaleWorkload { workload, replicas } => {
            let w = fleet
                .workload_mut(&workload.scope, &workload.name)
                .ok_or_else(|| missing(workload))?;
            let before = w.desired;
            w.desired = *replicas;
            w.ready = w.ready.min(*replicas);
            let upstream = if *workload == lb::workload_ref() {
                lb::follow_scale(fleet, action, before, *replicas)
            } else {
                String::new()
            };
            Ok(format!(
                "DEMO: {} scaled {before} -> {replicas}{upstream}",
                workload.name
            ))
        }
        Action::SetAutoscaler {
            workload,
            min_replicas,
            max_replicas,
            target_cpu_percent,
        } => {
            let w = fleet
                .workload_mut(&workload.scope, &workload.name)
                .ok_or_else(|| missing(workload))?;
            let hpa = w
                .autoscaler
                .get_or_insert_with(|| crate::model::snapshot::Autoscaler {
                    name: workload.name.clone(),
                    min_replicas: 1,
                    max_replicas: 1,
                    target_cpu_percent: 70,
                    current_cpu_percent: None,
                    last_scale_at: None,
                    metrics: Vec::new(),
                });
            hpa.min_replicas = *min_replicas;
            hpa.max_replicas = *max_replicas;
            hpa.target_cpu_percent = *target_cpu_percent;
            w.desired = w.desired.clamp(*min_replicas, *max_replicas);
            Ok(format!(
                "DEMO: autoscaler {} set to min {min_replicas}, max {max_replicas}, CPU {target_cpu_percent} %",
                workload.name
            ))
        }
        Action::ScaleComposeServices {
            project, services, ..
        } => {
            let mut done = Vec::new();
            for (service, replicas) in services {
                let w = fleet.workload_mut(project, service).ok_or_else(|| {
                    ConnectorError::Failed(format!("{project}/{service} does not exist"))
                })?;
                done.push(format!("{service} {} -> {replicas}", w.desired));
                w.desired = *replicas;
                w.ready = w.ready.min(*replicas);
            }
            Ok(format!("DEMO: scaled {}", done.join(", ")))
        }
        Action::ScaleWorkloads { targets, .. } => {
            // Check every target first: a bulk scale either applies to all or to none.
            if let Some((id, _)) = targets
                .iter()
                .find(|(id, _)| fleet.workload_mut(&id.scope, &id.name).is_none())
            {
                return Err(missing(id));
            }
            let mut done = Vec::new();
            for (id, replicas) in targets {
                if let Some(w) = fleet.workload_mut(&id.scope, &id.name) {
                    done.push(format!("{} {} -> {replicas}", id.name, w.desired));
                    w.desired = *replicas;
                    w.ready = w.ready.min(*replicas);
                }
            }
            Ok(format!("DEMO: scaled {}", done.join(", ")))
        }
        Action::DeleteAutoscaler { workload } => {
            let w = fleet
                .workload_mut(&workload.scope, &workload.name)
                .ok_or_else(|| missing(workload))?;
            match w.autoscaler.take() {
                Some(h) => Ok(format!("DEMO: autoscaler {} deleted", h.name)),
                None => Err(ConnectorError::Failed(format!(
                    "{workload} has no autoscaler"
                ))),
            }
        }
        Action::PromoteReplica { replica, .. } => {
            let timeline = fleet
                .databases
                .iter()
                .map(|d| d.timeline)
                .max()
                .unwrap_or(1)
                + 1;
            let Some(candidate) = fleet.databases.iter().position(|d| d.name == replica) else {
                return Err(ConnectorError::Failed(format!("{replica} does not exist")));
            };
            if fleet.databases[candidate].primary {
                return Err(ConnectorError::Failed(format!(
                    "{replica} is not in recovery"
                )));
            }
            for (i, d) in fleet.databases.iter_mut().enumerate() {
                if i == candidate {
                    d.primary = true;
                    d.timeline = timeline;
                    d.replay_factor = 1.0;
                } else if d.primary {
                    // The demo fences the old primary so the fleet never keeps two.
                    d.primary = false;
                    d.reachable = false;
                } else {
                    d.timeline = timeline;
                }
            }
            Ok(format!(
                "DEMO: SELECT pg_promote(wait => true) on {replica}: t"
            ))
        }
        Action::PatroniSwitchover { .. }
        | Action::PatroniFailover { .. }
        | Action::PatroniCancelSwitchover { .. } => fleet.patroni.apply(action),
    }
}

fn workloads(fleet: &DemoFleet, endpoint: &str, compose: bool) -> PollOutput {
    let mut samples = Vec::new();
    // The Kubernetes side has nodes: replicas that find no room on them stay Pending.
    let (capacity, pending) = if compose {
        let view = capacity::engine_view(fleet, endpoint);
        (Some(Arc::new(view)), HashMap::new())
    } else {
        let (view, pending) = capacity::view(fleet, endpoint);
        samples.extend(crate::capacity::series::capacity_samples(
            endpoint,
            &view,
            &|_| true,
        ));
        (Some(Arc::new(view)), pending)
    };
    let list: Vec<Workload> = fleet
        .workloads
        .iter()
        .filter(|w| w.compose == compose)
        .map(|w| {
            let id = WorkloadRef::new(endpoint, w.scope, w.kind(), w.name);
            let unplaced = pending.get(w.name).copied().unwrap_or(0);
            let ready = w.ready.min(w.desired - unplaced.min(w.desired));
            let target = id.target();
            samples.push(Sample::new(&target, "replicas", f64::from(w.desired)));
            samples.push(Sample::new(&target, "ready", f64::from(ready)));
            samples.push(Sample::new(&target, "cpu_percent", w.cpu_percent));
            samples.push(Sample::new(&target, "memory_percent", w.memory_percent));
            Workload {
                id,
                revision: None,
                resource_version: None,
                stale_since: None,
                desired: w.desired,
                ready,
                available: ready,
                updated: w.desired,
                cpu_percent: Some(w.cpu_percent),
                memory_percent: Some(w.memory_percent),
                autoscaler: w.autoscaler.clone(),
                fixed_host_port: w.fixed_host_port,
                pending_reason: if unplaced > 0 {
                    Some(format!(
                        "DEMO: {unplaced} pods Pending (FailedScheduling: no node has room for them)"
                    ))
                } else {
                    (w.ready < w.desired)
                        .then(|| "DEMO: pods starting (ContainerCreating)".to_string())
                },
                docker: None,
                scale_denied: None,
                autoscale_denied: None,
            }
        })
        .collect();
    let mut list: crate::model::workloads::WorkloadList = list.into();
    list.capacity = capacity;
    PollOutput {
        snapshot: Snapshot::Workloads(list),
        samples,
        notices: Vec::new(),
    }
}

fn databases(fleet: &DemoFleet) -> PollOutput {
    let primary_lsn = fleet
        .databases
        .iter()
        .filter(|d| d.primary && d.reachable)
        .map(|d| d.lsn)
        .max();
    let mut samples = Vec::new();
    let servers = fleet
        .databases
        .iter()
        .map(|d| {
            let target = format!("{PG_ENDPOINT}/{}", d.name);
            let lag_bytes = match (d.primary, primary_lsn) {
                (false, Some(p)) if d.reachable => Some(p.saturating_sub(d.lsn)),
                _ => None,
            };
            if d.reachable {
                samples.push(Sample::new(&target, "tps", d.tps));
                samples.push(Sample::new(
                    &target,
                    "connections",
                    f64::from(d.connections),
                ));
                samples.push(Sample::new(
                    &target,
                    "connections_percent",
                    100.0 * f64::from(d.connections) / f64::from(d.max_connections.max(1)),
                ));
                if let Some(lag) = lag_bytes {
                    samples.push(Sample::new(&target, "lag_bytes", lag as f64));
                    samples.push(Sample::new(&target, "lag_seconds", d.lag_seconds));
                }
            }
            DbServer {
                name: d.name.into(),
                role: if d.primary {
                    DbRole::Primary
                } else {
                    DbRole::Replica
                },
                role_seen: true,
                reachable: d.reachable,
                in_recovery: !d.primary,
                lsn: d.lsn,
                lag_bytes,
                lag_seconds: lag_bytes.map(|_| d.lag_seconds),
                connections: d.connections,
                max_connections: d.max_connections,
                tps: d.tps,
                size_bytes: 18 << 30,
                timeline: Some(d.timeline),
                profile_role: if d.primary {
                    DbRole::Primary
                } else {
                    DbRole::Replica
                },
                version: Some("15.0 (demo)".into()),
                ..DbServer::default()
            }
        })
        .collect();
    PollOutput {
        snapshot: Snapshot::Databases(DatabaseSnapshot {
            cluster: PG_CLUSTER.into(),
            servers,
            last_primary_lsn: primary_lsn,
            ..DatabaseSnapshot::default()
        }),
        samples,
        notices: Vec::new(),
    }
}

fn cache(fleet: &DemoFleet) -> PollOutput {
    let c = &fleet.cache;
    let target = format!("{REDIS_ENDPOINT}/cache-main");
    let memory_percent = 100.0 * c.used_memory_bytes as f64 / c.max_memory_bytes as f64;
    PollOutput {
        samples: vec![
            Sample::new(&target, "hit_ratio", c.hit_ratio),
            Sample::new(&target, "memory_percent", memory_percent),
            Sample::new(&target, "ops_per_sec", c.ops_per_sec),
            Sample::new(&target, "evictions_per_sec", c.evictions_per_sec),
        ],
        snapshot: Snapshot::Cache(vec![CacheNode {
            name: "cache-main".into(),
            role: "master".into(),
            hit_ratio: Some(c.hit_ratio),
            used_memory_bytes: c.used_memory_bytes,
            max_memory_bytes: c.max_memory_bytes,
            eviction_policy: "allkeys-lru".into(),
            evictions_per_sec: c.evictions_per_sec,
            ops_per_sec: c.ops_per_sec,
            connected_clients: c.clients,
            expired_per_sec: 0.0,
            fragmentation_ratio: Some(1.1),
            blocked_clients: 0,
            keys_per_db: Vec::new(),
            replication: None,
            cluster: None,
            error: None,
            queue_store: false,
        }]),
        notices: Vec::new(),
    }
}

fn queues(fleet: &DemoFleet) -> PollOutput {
    let mut samples = Vec::new();
    let list = fleet
        .queues
        .iter()
        .map(|q| {
            let worker = fleet.workloads.iter().find(|w| w.name == q.worker);
            let target = format!("{QUEUES_ENDPOINT}/{}", q.name);
            let consumers = worker.map_or(0, |w| w.ready);
            samples.push(Sample::new(&target, "depth", q.depth.round()));
            samples.push(Sample::new(&target, "consumers", f64::from(consumers)));
            samples.push(Sample::new(&target, "in_per_sec", q.in_per_sec));
            samples.push(Sample::new(&target, "out_per_sec", q.out_per_sec));
            Queue {
                consumers: Some(consumers),
                in_per_sec: Some(q.in_per_sec),
                out_per_sec: Some(q.out_per_sec),
                growth_per_sec: Some(q.in_per_sec - q.out_per_sec),
                jobs_per_worker_per_sec: Some(q.per_worker_per_sec),
                linked_workload: worker.map(|w| {
                    let endpoint = if w.compose {
                        COMPOSE_ENDPOINT
                    } else {
                        K8S_ENDPOINT
                    };
                    WorkloadRef::new(endpoint, w.scope, w.kind(), w.name)
                }),
                ..Queue::new(q.name, q.source, q.depth.round() as u64)
            }
        })
        .collect();
    PollOutput {
        snapshot: Snapshot::Queues(list),
        samples,
        notices: Vec::new(),
    }
}

fn health(fleet: &DemoFleet) -> PollOutput {
    let mut samples = Vec::new();
    let list = fleet
        .probes
        .iter()
        .map(|p| {
            let target = format!("{HEALTH_ENDPOINT}/{}", p.name);
            if p.up {
                samples.push(Sample::new(&target, "latency_ms", p.latency_ms));
                samples.push(Sample::new(&target, "p50_ms", p.p95_ms / 2.2));
                samples.push(Sample::new(&target, "p95_ms", p.p95_ms));
                samples.push(Sample::new(&target, "p99_ms", p.p95_ms * 1.4));
            }
            samples.push(Sample::new(
                &target,
                "error_rate_percent",
                p.error_rate_percent,
            ));
            HealthCheck {
                name: p.name.into(),
                url: p.url.into(),
                group: p.group.map(Into::into),
                up: p.up,
                status_code: Some(if p.up { 200 } else { 503 }),
                latency_ms: p.up.then_some(p.latency_ms),
                p50_ms: p.up.then_some(p.p95_ms / 2.2),
                p95_ms: p.up.then_some(p.p95_ms),
                p99_ms: p.up.then_some(p.p95_ms * 1.4),
                error_rate_percent: p.error_rate_percent,
                window_probes: 60,
                ..HealthCheck::default()
            }
        })
        .collect();
    PollOutput {
        snapshot: Snapshot::Health(list),
        samples,
        notices: Vec::new(),
    }
}
