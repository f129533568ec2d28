//! `scaleboard capacity` for Docker engines: per engine its CPUs and memory, what the running
//! containers hold of it (memory by reservation or else limit, CPU by limit) and the headroom;
//! for a Swarm each node's resources, what its tasks reserve and its availability; per Compose
//! or Swarm service how many more replicas fit (the plans' fit rules).

use crate::capacity::docker_service_fit;
use crate::model::capacity::{CapacityView, EngineCapacity, NodeRoom, format_cpu_milli};
use crate::model::snapshot::Workload;
use crate::model::units::format_bytes;
use serde::Serialize;
use std::io::Write;

#[derive(Debug, Serialize)]
pub struct EngineReport {
    pub endpoint: String,
    pub label: String,
    /// "Docker engine unix:///run/docker.sock".
    pub engine: String,
    /// Why the engine's size is unknown; the figures below are then empty.
    pub size_error: Option<String>,
    pub cpu_milli: u64,
    pub memory_bytes: u64,
    pub running_containers: u64,
    /// Memory the running containers hold: their reservation, else their limit.
    pub held_memory_bytes: u64,
    /// The running containers' CPU limits added up (no container carries a CPU reservation).
    pub cpu_limits_milli: u64,
    pub headroom_memory_bytes: u64,
    /// How the held memory was counted, in words.
    pub counted: String,
    pub swarm_nodes: Vec<SwarmNodeReport>,
    /// Why there are no Swarm nodes ("this engine is not a Swarm manager").
    pub swarm_error: Option<String>,
    pub services: Vec<ServiceReport>,
}

#[derive(Debug, Serialize)]
pub struct SwarmNodeReport {
    pub node: String,
    pub role: String,
    pub ready: bool,
    /// "active", or "drained or paused" (it takes no new task).
    pub availability: String,
    pub cpu_milli: u64,
    pub memory_bytes: u64,
    pub reserved_cpu_milli: u64,
    pub reserved_memory_bytes: u64,
    pub tasks: u64,
}

#[derive(Debug, Serialize)]
pub struct ServiceReport {
    /// `project/kind/name`.
    pub service: String,
    pub replicas: u32,
    /// How many more fit now; `None` when it cannot be judged (`limit` says why).
    pub more_fit: Option<u64>,
    pub each: String,
    pub limit: String,
}

fn swarm_node(n: &NodeRoom) -> SwarmNodeReport {
    SwarmNodeReport {
        node: n.name.clone(),
        role: n.labels.get("node.role").cloned().unwrap_or_default(),
        ready: n.ready,
        availability: if n.unschedulable {
            "drained or paused".into()
        } else {
            "active".into()
        },
        cpu_milli: n.allocatable_cpu_milli,
        memory_bytes: n.allocatable_memory_bytes,
        reserved_cpu_milli: n.requested_cpu_milli,
        reserved_memory_bytes: n.requested_memory_bytes,
        tasks: n.pods,
    }
}

/// The engine of a Docker endpoint's capacity view, with its services' fits.
pub fn engine_report(
    endpoint: &str,
    label: &str,
    engine: &EngineCapacity,
    view: &CapacityView,
    rows: &[Workload],
) -> EngineReport {
    let host = engine.host.as_ref();
    let services = rows
        .iter()
        .filter(|w| !w.id.kind.is_kubernetes())
        .map(|w| {
            let fit = docker_service_fit(view, &w.id);
            ServiceReport {
                service: w.id.to_string(),
                replicas: w.desired,
                more_fit: fit.more_fit,
                each: fit.each,
                limit: fit.limit,
            }
        })
        .collect();
    EngineReport {
        endpoint: endpoint.into(),
        label: label.into(),
        engine: engine.name.clone(),
        size_error: host.is_none().then(|| engine.counted.clone()),
        cpu_milli: host.map_or(0, |h| h.allocatable_cpu_milli),
        memory_bytes: host.map_or(0, |h| h.allocatable_memory_bytes),
        running_containers: host.map_or(0, |h| h.pods),
        held_memory_bytes: host.map_or(0, |h| h.requested_memory_bytes),
        cpu_limits_milli: host.map_or(0, |h| h.requested_cpu_milli),
        headroom_memory_bytes: host.map_or(0, NodeRoom::free_memory_bytes),
        counted: engine.counted.clone(),
        swarm_nodes: engine
            .swarm_nodes
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(swarm_node)
            .collect(),
        swarm_error: engine.swarm_nodes.as_ref().err().cloned(),
        services,
    }
}

fn cores(milli: u64) -> String {
    format!("{:.1}", milli as f64 / 1000.0)
}

pub fn print_engine(e: &EngineReport, out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "{} · {}", e.label, e.engine)?;
    match &e.size_error {
        Some(why) => writeln!(out, "  size        unknown: {why}")?,
        None => {
            writeln!(
                out,
                "  cpu         {} cores; running containers' limits add up to {}",
                cores(e.cpu_milli),
                cores(e.cpu_limits_milli)
            )?;
            writeln!(
                out,
                "  memory      {} of {} held by {} running {}, headroom {}",
                format_bytes(e.held_memory_bytes),
                format_bytes(e.memory_bytes),
                e.running_containers,
                crate::model::units::noun(e.running_containers, "container", "containers"),
                format_bytes(e.headroom_memory_bytes)
            )?;
            writeln!(out, "  counted     {}", e.counted)?;
        }
    }
    for n in &e.swarm_nodes {
        writeln!(
            out,
            "  swarm node  {} ({}, {}, {}): cpu {} of {} reserved, memory {} of {} reserved, {} tasks",
            n.node,
            if n.role.is_empty() { "?" } else { &n.role },
            if n.ready { "ready" } else { "NOT READY" },
            n.availability,
            format_cpu_milli(n.reserved_cpu_milli),
            format_cpu_milli(n.cpu_milli),
            format_bytes(n.reserved_memory_bytes),
            format_bytes(n.memory_bytes),
            n.tasks
        )?;
    }
    if !e.services.is_empty() {
        writeln!(out, "  services    (how many more replicas fit now)")?;
    }
    for s in &e.services {
        match s.more_fit {
            Some(n) => writeln!(
                out,
                "    {:<40} {:>3} {}, {n} more fit (each {}; limited by {})",
                s.service,
                s.replicas,
                crate::model::units::noun(u64::from(s.replicas), "replica", "replicas"),
                s.each,
                s.limit
            )?,
            None => writeln!(
                out,
                "    {:<40} {:>3} {}, {} (each {})",
                s.service,
                s.replicas,
                crate::model::units::noun(u64::from(s.replicas), "replica", "replicas"),
                s.limit,
                s.each
            )?,
        }
    }
    Ok(())
}
