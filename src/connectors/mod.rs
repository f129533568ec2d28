//! One module per system. A connector turns one profile endpoint into [`crate::model::snapshot::Snapshot`]s
//! and carries out actions on it. Errors are typed and never panic.

pub mod demo;
pub mod docker;
pub mod http;
pub mod http_probe;
pub mod kubernetes;
pub mod mysql;
pub mod nginx;
pub mod patroni;
pub mod pgbouncer;
pub mod postgres;
pub mod prometheus;
pub mod queue_advice;
pub mod rabbitmq;
pub mod redis;
pub mod registry;
pub mod secret_cell;

use crate::model::action::Action;
use crate::model::clock::BoxFuture;
use crate::model::endpoint::EndpointInfo;
use crate::model::exec::Execution;
use crate::model::snapshot::{Sample, Snapshot};

pub struct PollOutput {
    pub snapshot: Snapshot,
    pub samples: Vec<Sample>,
    /// Things the operator should hear about that do not make the endpoint fail (e.g.
    /// "metrics-server not installed"); the poll loop reports each distinct one once.
    pub notices: Vec<String>,
}

pub use crate::model::error::ConnectorError;

pub trait Connector: Send + Sync {
    fn info(&self) -> &EndpointInfo;
    /// One poll: at most one is in flight per endpoint (the engine's poll loop awaits it).
    fn poll(&self) -> BoxFuture<'_, Result<PollOutput, ConnectorError>>;
    /// Carry out an approved action with the preconditions the re-check read; the returned text
    /// (command output, API reply) goes into the audit record. Never retries a conflict.
    fn execute<'a>(&'a self, run: Execution<'a>) -> BoxFuture<'a, Result<String, ConnectorError>>;
    /// Read the action's targets fresh from the system, never from a cache, and only them (a
    /// cheap read, not a second full poll): the engine's re-check right before the write, and
    /// verification after it. `Ok(None)`: this connector cannot re-check (the plan says so).
    fn read_fresh<'a>(
        &'a self,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<Option<Snapshot>, ConnectorError>> {
        let _ = action;
        Box::pin(async { Ok(None) })
    }
    /// Ask the system to validate the action without applying it (Kubernetes `dryRun=All`), so
    /// admission and validation errors show in the plan before the operator confirms.
    /// `Ok(None)`: this connector has no such check.
    fn dry_run<'a>(
        &'a self,
        action: &'a Action,
    ) -> BoxFuture<'a, Result<Option<String>, ConnectorError>> {
        let _ = action;
        Box::pin(async { Ok(None) })
    }
    /// Load balancers this endpoint simulates itself (the demo's nginx), sent with each poll;
    /// real nginx endpoints are read by the engine's own watch instead. `None`: none here.
    fn load_balancers(&self) -> Option<Vec<nginx::status::LinkReport>> {
        None
    }
    /// The operator unticked the load-balancer step of `action`: for a connector that
    /// simulates the load balancer too (the demo), so its scale leaves the upstream alone.
    fn leave_load_balancer(&self, action: &Action) {
        let _ = action;
    }
}

/// One line describing a snapshot, for the CLI's status output.
pub fn summary(snapshot: &Snapshot) -> String {
    match snapshot {
        Snapshot::Workloads(list) => {
            let replicas: u32 = list.iter().map(|w| w.desired).sum();
            let ready: u32 = list.iter().map(|w| w.ready).sum();
            let mut line = format!(
                "{} {}, {ready}/{replicas} {} ready",
                list.len(),
                crate::model::units::noun(list.len() as u64, "workload", "workloads"),
                crate::model::units::noun(u64::from(replicas), "replica", "replicas")
            );
            // Every context is named with its state, also when all are ok.
            if !list.sources.is_empty() {
                let states: Vec<String> = list
                    .sources
                    .iter()
                    .map(|s| format!("{} {}", s.name, s.state.label()))
                    .collect();
                line.push_str(&format!("; {}", states.join(", ")));
            }
            if let Some(words) = list.pod_details_words() {
                line.push_str(&format!("; {words}"));
            }
            line
        }
        Snapshot::Databases(db) => {
            let lag = db.servers.iter().filter_map(|s| s.lag_bytes).max();
            let mut line = format!(
                "{}: {} servers, {} primary, max lag {}: {}",
                db.cluster,
                db.servers.len(),
                db.primaries().count(),
                lag.map_or("—".into(), crate::model::units::format_bytes),
                db.topology_line()
            );
            for s in db.servers.iter().filter(|s| s.error.is_some()) {
                line.push_str(&format!(
                    "; {}: {}",
                    s.name,
                    s.error.as_deref().unwrap_or_default()
                ));
            }
            line
        }
        Snapshot::Mysql(db) => mysql::summary(db),
        Snapshot::Cache(nodes) => nodes
            .iter()
            .map(|n| match &n.error {
                Some(e) => format!("{}: {e}", n.name),
                None => format!("{} hit {:.1} %", n.name, n.hit_ratio.unwrap_or(0.0) * 100.0),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Snapshot::Queues(list) => list
            .iter()
            .map(|q| match &q.error {
                Some(e) => format!("{}: {e}", q.name),
                None => format!("{} {}", q.name, q.depth),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Snapshot::Health(list) => {
            let up = list.iter().filter(|h| h.up).count();
            format!("{up}/{} up", list.len())
        }
        Snapshot::Prometheus(p) => {
            let series: usize = p.queries.iter().map(|q| q.series.len()).sum();
            let failed: Vec<String> = p
                .queries
                .iter()
                .filter_map(|q| q.error.as_ref().map(|e| format!("{}: {e}", q.name)))
                .collect();
            let mut line = format!("{} queries, {series} series", p.queries.len());
            if !failed.is_empty() {
                line.push_str(&format!("; failed: {}", failed.join("; ")));
            }
            line
        }
        Snapshot::Pgbouncer(p) => pgbouncer::summary(p),
        Snapshot::Patroni(p) => format!(
            "Patroni {}: {} members, {}",
            p.cluster,
            p.members.len(),
            p.topology_line()
        ),
    }
}
