//! A Docker engine's room for the scale plans' fit check: its size (`docker info`), what its
//! running containers reserve, what one replica of each Compose service reserves (from its
//! containers' `HostConfig`), and for Swarm each node's resources and the services' reservations
//! and placement constraints. Pure: parses what the CLI printed and sums it.
//!
//! Compose (v1 1.29 as Debian ships it, and v2) maps `deploy.resources.limits.memory` to
//! `HostConfig.Memory`, `limits.cpus` to `NanoCpus` and `reservations.memory` to
//! `MemoryReservation`; `reservations.cpus` reaches no container (v1 warns that it is ignored,
//! v2 drops it: a CPU reservation is a Swarm notion). So a Compose replica's fit is judged on
//! memory only.

use super::parse::{Container, Resources};
use crate::model::capacity::{
    CapacityView, DockerLimits, EngineCapacity, NodeRoom, NodeSelectorRequirement, ReplicaNeeds,
};
use crate::model::snapshot::{WorkloadKind, WorkloadRef};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// `docker info --format '{{json .}}'`: the engine's CPUs and memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineSize {
    pub cpus: u64,
    pub memory_bytes: u64,
}

pub fn engine_size(json: &str) -> Result<EngineSize, String> {
    let v: Value = serde_json::from_str(json.trim())
        .map_err(|e| format!("docker info printed no JSON: {e}"))?;
    let cpus = v.get("NCPU").and_then(Value::as_u64);
    let memory = v.get("MemTotal").and_then(Value::as_u64);
    match (cpus, memory) {
        (Some(cpus), Some(memory_bytes)) if cpus > 0 && memory_bytes > 0 => {
            Ok(EngineSize { cpus, memory_bytes })
        }
        _ => Err("docker info shows no NCPU or MemTotal".into()),
    }
}

/// A Swarm service's spec as placement reads it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SwarmSpec {
    pub reserve_cpu_milli: Option<u64>,
    pub reserve_memory_bytes: Option<u64>,
    pub limits: DockerLimits,
    /// `Placement.Constraints` as written: `node.labels.zone==eu`.
    pub constraints: Vec<String>,
}

/// `docker service inspect` output: each service's spec, by name.
pub fn swarm_specs(json: &str) -> HashMap<String, SwarmSpec> {
    let list: Vec<Value> = serde_json::from_str(json).unwrap_or_default();
    list.iter()
        .filter_map(|s| {
            let name = s.pointer("/Spec/Name")?.as_str()?.to_string();
            let n = |p: &str| {
                s.pointer(&format!("/Spec/TaskTemplate/Resources/{p}"))
                    .and_then(Value::as_u64)
                    .filter(|n| *n > 0)
            };
            let constraints = s
                .pointer("/Spec/TaskTemplate/Placement/Constraints")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|c| c.as_str().map(String::from))
                .collect();
            let spec = SwarmSpec {
                reserve_cpu_milli: n("Reservations/NanoCPUs").map(|c| c / 1_000_000),
                reserve_memory_bytes: n("Reservations/MemoryBytes"),
                limits: DockerLimits {
                    memory_limit_bytes: n("Limits/MemoryBytes"),
                    cpu_limit_milli: n("Limits/NanoCPUs").map(|c| c / 1_000_000),
                },
                constraints,
            };
            Some((name, spec))
        })
        .collect()
}

/// `docker node inspect` output: one room per node, by hostname, nothing requested yet.
pub fn swarm_nodes(json: &str) -> Result<Vec<NodeRoom>, String> {
    let list: Vec<Value> = serde_json::from_str(json)
        .map_err(|e| format!("docker node inspect printed no JSON: {e}"))?;
    let mut out: Vec<NodeRoom> = list
        .iter()
        .map(|n| {
            let s = |p: &str| n.pointer(p).and_then(Value::as_str).unwrap_or_default();
            let hostname = s("/Description/Hostname").to_string();
            let mut labels: BTreeMap<String, String> = n
                .pointer("/Spec/Labels")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
                .map(|(k, v)| {
                    (
                        format!("node.labels.{k}"),
                        v.as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            labels.insert("node.role".into(), s("/Spec/Role").to_string());
            labels.insert("node.hostname".into(), hostname.clone());
            labels.insert("node.id".into(), s("/ID").to_string());
            labels.insert(
                "node.platform.os".into(),
                s("/Description/Platform/OS").to_string(),
            );
            let u = |p: &str| n.pointer(p).and_then(Value::as_u64).unwrap_or(0);
            NodeRoom {
                name: hostname,
                allocatable_cpu_milli: u("/Description/Resources/NanoCPUs") / 1_000_000,
                allocatable_memory_bytes: u("/Description/Resources/MemoryBytes"),
                allocatable_pods: u64::MAX,
                requested_cpu_milli: 0,
                requested_memory_bytes: 0,
                pods: 0,
                labels,
                taints: Vec::new(),
                // Drained and paused nodes take no new task.
                unschedulable: s("/Spec/Availability") != "active",
                ready: s("/Status/State") == "ready",
            }
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// `docker node ps --format '{{.Name}} {{.Node}}'` lines: (service, node hostname) per task.
pub fn node_tasks(lines: &str) -> Vec<(String, String)> {
    lines
        .lines()
        .filter_map(|l| {
            let mut words = l.split_whitespace().filter(|w| *w != "\\_");
            let (task, node) = (words.next()?, words.next()?);
            let (service, _slot) = task.rsplit_once('.')?;
            Some((service.to_string(), node.to_string()))
        })
        .collect()
}

/// Add each running task's reservation to its node.
pub fn add_tasks(
    nodes: &mut [NodeRoom],
    tasks: &[(String, String)],
    specs: &HashMap<String, SwarmSpec>,
) {
    for (service, node) in tasks {
        let Some(n) = nodes.iter_mut().find(|n| &n.name == node) else {
            continue;
        };
        let spec = specs.get(service);
        n.requested_cpu_milli += spec.and_then(|s| s.reserve_cpu_milli).unwrap_or(0);
        n.requested_memory_bytes += spec.and_then(|s| s.reserve_memory_bytes).unwrap_or(0);
        n.pods += 1;
    }
}

/// A constraint as a placement rule; `Err` keeps the text of one that is not simulated.
fn constraint(c: &str) -> Result<NodeSelectorRequirement, String> {
    let (key, value, equal) = match (c.split_once("!="), c.split_once("==")) {
        (Some((k, v)), _) => (k, v, false),
        (None, Some((k, v))) => (k, v, true),
        _ => return Err(c.to_string()),
    };
    let key = key.trim();
    let known = key.starts_with("node.labels.")
        || ["node.role", "node.hostname", "node.id", "node.platform.os"].contains(&key);
    if !known {
        return Err(c.to_string());
    }
    let values = vec![value.trim().to_string()];
    Ok(if equal {
        NodeSelectorRequirement::In(key.to_string(), values)
    } else {
        NodeSelectorRequirement::NotIn(key.to_string(), values)
    })
}

/// What one task of a Swarm service needs of a node.
pub fn swarm_needs(spec: &SwarmSpec) -> ReplicaNeeds {
    let mut term = Vec::new();
    let mut not_applied = Vec::new();
    for c in &spec.constraints {
        match constraint(c) {
            Ok(r) => term.push(r),
            Err(c) => not_applied.push(format!("constraint {c}")),
        }
    }
    ReplicaNeeds {
        cpu_milli: spec.reserve_cpu_milli,
        memory_bytes: spec.reserve_memory_bytes,
        required_node_terms: if term.is_empty() {
            Vec::new()
        } else {
            vec![term]
        },
        rules_not_applied: not_applied,
        ..Default::default()
    }
}

/// What a running container holds of the host's memory: its reservation, else its limit.
fn held(r: &Resources) -> Option<u64> {
    r.memory_reservation.or(r.memory_limit)
}

/// The engine's host as one room: allocatable = its CPUs and memory, requested = what the
/// running containers reserve (by reservation, or by limit where none is set), and a pod limit
/// that never binds. CPU is requested by limits (no container carries a CPU reservation).
pub fn host_room(name: &str, size: EngineSize, all: &[Container]) -> (NodeRoom, String) {
    let running: Vec<&Container> = all.iter().filter(|c| c.running).collect();
    let by_reservation = running
        .iter()
        .filter(|c| c.resources.memory_reservation.is_some())
        .count();
    let by_limit = running
        .iter()
        .filter(|c| c.resources.memory_reservation.is_none() && c.resources.memory_limit.is_some())
        .count();
    let neither = running.len() - by_reservation - by_limit;
    let room = NodeRoom {
        name: name.to_string(),
        allocatable_cpu_milli: size.cpus * 1000,
        allocatable_memory_bytes: size.memory_bytes,
        allocatable_pods: u64::MAX,
        requested_cpu_milli: running
            .iter()
            .filter_map(|c| c.resources.cpu_limit_milli)
            .sum(),
        requested_memory_bytes: running.iter().filter_map(|c| held(&c.resources)).sum(),
        pods: running.len() as u64,
        labels: BTreeMap::new(),
        taints: Vec::new(),
        unschedulable: false,
        ready: true,
    };
    let counted = format!(
        "{} running {}: {by_reservation} by their memory reservation, {by_limit} by \
         their memory limit (no reservation), {neither} with neither (not counted)",
        running.len(),
        crate::model::units::noun(running.len() as u64, "container", "containers")
    );
    (room, counted)
}

/// Per Compose service (of `endpoint`), what one replica sets: its newest container's
/// resources (the latest `up` created it).
pub fn compose_needs(endpoint: &str, containers: &[Container], view: &mut CapacityView) {
    let mut newest: BTreeMap<(&str, &str), &Container> = BTreeMap::new();
    for c in containers {
        if let Some(key) = c.compose_service() {
            let e = newest.entry(key).or_insert(c);
            if c.created_ms > e.created_ms {
                *e = c;
            }
        }
    }
    for ((project, service), c) in newest {
        let id = WorkloadRef::new(endpoint, project, WorkloadKind::ComposeService, service);
        let r = c.resources;
        view.needs.insert(
            id.clone(),
            ReplicaNeeds {
                memory_bytes: r.memory_reservation,
                ..Default::default()
            },
        );
        view.docker_limits.insert(
            id,
            DockerLimits {
                memory_limit_bytes: r.memory_limit,
                cpu_limit_milli: r.cpu_limit_milli,
            },
        );
    }
}

/// Per Swarm service, what one task needs.
pub fn swarm_service_needs(
    endpoint: &str,
    specs: &HashMap<String, SwarmSpec>,
    view: &mut CapacityView,
) {
    for (name, spec) in specs {
        let id = WorkloadRef::new(
            endpoint,
            super::SWARM_SCOPE,
            WorkloadKind::SwarmService,
            name,
        );
        view.needs.insert(id.clone(), swarm_needs(spec));
        view.docker_limits.insert(id, spec.limits.clone());
    }
}

/// A Swarm's nodes (or why they could not be read) and its services' specs.
pub type SwarmRoom = (Result<Vec<NodeRoom>, String>, HashMap<String, SwarmSpec>);

/// The capacity side of a poll or a fresh read.
pub fn view(
    endpoint: &str,
    engine: &str,
    size: Result<EngineSize, String>,
    all: &[Container],
    swarm: Option<SwarmRoom>,
) -> CapacityView {
    let mut view = CapacityView::default();
    compose_needs(endpoint, all, &mut view);
    let (host, counted) = match size {
        Ok(size) => {
            let (room, counted) = host_room(engine, size, all);
            (Some(room), counted)
        }
        Err(why) => (None, why),
    };
    let swarm_nodes = match swarm {
        Some((nodes, specs)) => {
            swarm_service_needs(endpoint, &specs, &mut view);
            nodes
        }
        None => Err("this engine is not a Swarm manager".into()),
    };
    view.engine = Some(EngineCapacity {
        name: engine.to_string(),
        host,
        swarm_nodes,
        counted,
    });
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_nodes_specs_and_tasks() {
        let size = engine_size(r#"{"NCPU":2,"MemTotal":8254611456,"Name":"h"}"#).unwrap();
        assert_eq!(size.cpus, 2);
        assert!(engine_size("{}").is_err());
        let nodes = swarm_nodes(
            r#"[{"ID":"n1","Spec":{"Labels":{"zone":"eu"},"Role":"manager","Availability":"drain"},
                "Description":{"Hostname":"h1","Platform":{"OS":"linux"},
                  "Resources":{"NanoCPUs":2000000000,"MemoryBytes":1073741824}},
                "Status":{"State":"ready"}}]"#,
        )
        .unwrap();
        assert_eq!(nodes[0].allocatable_cpu_milli, 2000);
        assert!(nodes[0].unschedulable);
        assert_eq!(nodes[0].labels["node.labels.zone"], "eu");
        let specs = swarm_specs(
            r#"[{"Spec":{"Name":"api","TaskTemplate":{"Resources":{"Reservations":
                {"MemoryBytes":268435456,"NanoCPUs":500000000}},
                "Placement":{"Constraints":["node.role==manager","node.labels.zone != us","engine.labels.x==y"]}}}}]"#,
        );
        let needs = swarm_needs(&specs["api"]);
        assert_eq!(needs.cpu_milli, Some(500));
        assert_eq!(needs.required_node_terms[0].len(), 2);
        assert_eq!(
            needs.rules_not_applied,
            vec!["constraint engine.labels.x==y"]
        );
        let mut two = swarm_nodes(
            r#"[{"ID":"a","Spec":{"Labels":{"zone":"eu"},"Role":"worker","Availability":"active"},
                "Description":{"Hostname":"a","Resources":{"NanoCPUs":2000000000,"MemoryBytes":1073741824}},
                "Status":{"State":"ready"}},
               {"ID":"b","Spec":{"Labels":{"zone":"us"},"Role":"worker","Availability":"active"},
                "Description":{"Hostname":"b","Resources":{"NanoCPUs":2000000000,"MemoryBytes":1073741824}},
                "Status":{"State":"ready"}}]"#,
        )
        .unwrap();
        // A running task of api on a holds 256 MiB there; the zone constraint keeps b out.
        add_tasks(&mut two, &[("api".into(), "a".into())], &specs);
        assert_eq!(two[0].requested_memory_bytes, 268_435_456);
        let mut eu = specs["api"].clone();
        eu.constraints = vec!["node.labels.zone==eu".into()];
        let report = crate::capacity::fit_replicas(&two, &swarm_needs(&eu), 5);
        assert_eq!(report.fitting, 3, "{}", report.verdict);
        assert_eq!(report.excluded.values().sum::<u64>(), 1);
        assert_eq!(
            node_tasks("api.1 h1\nweb.x7 h2\n"),
            vec![("api".into(), "h1".into()), ("web".into(), "h2".into())]
        );
    }
}
