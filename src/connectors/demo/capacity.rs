//! The demo cluster's capacity: eight nodes of realistic sizes (six general m5.xlarge-like
//! nodes, one under memory pressure, one cordoned; a tainted GPU pool of two), the pods of the
//! other namespaces, a ResourceQuota and a LimitRange on the demo namespace and no cluster
//! autoscaler, so every fit message of a scale plan can be seen without a cluster. The
//! workloads' pods follow their replicas: new ones are placed by the same fit check the plans
//! use, and those that find no room stay Pending.

use super::sim::{DemoFleet, NAMESPACE, SimWorkload};
use crate::capacity::{apply_limit_range, fit_replicas};
use crate::model::capacity::{
    AutoscalerPresence, CapacityView, ContextCapacity, DockerLimits, EngineCapacity,
    LimitRangeDefaults, NodeInfo, NodeRoom, NodeUsage, QuotaRoom, ReplicaNeeds, Taint, TaintEffect,
};
use crate::model::snapshot::WorkloadRef;
use std::collections::{BTreeMap, HashMap};

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;
/// An m5.xlarge-like node (4 vCPU, 16 GiB) after the kubelet's and the system's reservations.
const GENERAL_CPU: u64 = 3_920;
const GENERAL_MEMORY: u64 = 16 * GIB - 1_126 * MIB;
/// The DaemonSets on every node (kube-proxy, CNI, log shipper, node exporter).
const DAEMONS: (u64, u64, u64) = (450, 600 * MIB, 4);
pub const QUOTA: &str = "nexus-quota";
pub const LIMIT_RANGE: &str = "nexus-defaults";

/// What one replica of each demo Kubernetes workload requests; `None` where its template sets
/// none (the LimitRange fills it in), and on which general nodes (1-based) its first replicas
/// run.
fn template(name: &str) -> (Option<u64>, Option<u64>, &'static [usize]) {
    match name {
        "api-gateway" => (Some(500), Some(512 * MIB), &[1, 3, 5]),
        "writer-service" => (Some(1_000), Some(GIB), &[2, 4, 6]),
        "sheets-service" => (Some(500), Some(768 * MIB), &[4, 1]),
        "auth-service" => (Some(250), Some(256 * MIB), &[6, 5]),
        "search-index" => (Some(1_500), Some(4 * GIB), &[3, 4]),
        // No requests in its template: the LimitRange's defaults apply.
        _ => (None, None, &[5, 6, 2]),
    }
}

/// Pods of other namespaces: (general node, cpu milli, memory). The GPU pool's are separate.
const OTHERS: [(usize, u64, u64); 6] = [
    (1, 500, 512 * MIB), // ingress-nginx
    (5, 500, 512 * MIB), // ingress-nginx
    (1, 100, 70 * MIB),  // coredns
    (3, 100, 70 * MIB),  // coredns
    (2, 1_000, 4 * GIB), // monitoring/prometheus
    (3, 250, 512 * MIB), // monitoring/grafana
];

fn general(i: usize) -> NodeInfo {
    let zone = ["eu-west-1a", "eu-west-1b", "eu-west-1c"][(i - 1) % 3];
    let name = format!("demo-prod-node-{i}");
    let labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), name.clone()),
        (
            "node.kubernetes.io/instance-type".into(),
            "m5.xlarge".into(),
        ),
        ("topology.kubernetes.io/zone".into(), zone.into()),
        ("pool".into(), "general".into()),
    ]);
    let mut node = NodeInfo {
        room: NodeRoom {
            name,
            allocatable_cpu_milli: GENERAL_CPU,
            allocatable_memory_bytes: GENERAL_MEMORY,
            allocatable_pods: 110,
            requested_cpu_milli: DAEMONS.0,
            requested_memory_bytes: DAEMONS.1,
            pods: DAEMONS.2,
            labels,
            taints: Vec::new(),
            unschedulable: false,
            ready: true,
        },
        pressure: Vec::new(),
        used: None,
    };
    match i {
        // The node lifecycle controller taints a node under memory pressure, so the scheduler
        // keeps new pods off it.
        4 => {
            node.pressure.push("MemoryPressure".into());
            node.room.taints.push(Taint {
                key: "node.kubernetes.io/memory-pressure".into(),
                value: None,
                effect: TaintEffect::NoSchedule,
            });
        }
        6 => {
            node.room.unschedulable = true;
            node.room.taints.push(Taint {
                key: "node.kubernetes.io/unschedulable".into(),
                value: None,
                effect: TaintEffect::NoSchedule,
            });
        }
        _ => {}
    }
    node
}

fn gpu(i: usize, busy: bool) -> NodeInfo {
    let name = format!("demo-prod-gpu-{i}");
    let labels = BTreeMap::from([
        ("kubernetes.io/hostname".to_string(), name.clone()),
        (
            "node.kubernetes.io/instance-type".into(),
            "g4dn.2xlarge".into(),
        ),
        ("topology.kubernetes.io/zone".into(), "eu-west-1a".into()),
        ("pool".into(), "gpu".into()),
    ]);
    // A training job on the first one; the second waits for the next.
    let (job_cpu, job_memory, job_pods) = if busy {
        (6_000, 24 * GIB, 1)
    } else {
        (0, 0, 0)
    };
    NodeInfo {
        room: NodeRoom {
            name,
            allocatable_cpu_milli: 7_910,
            allocatable_memory_bytes: 30 * GIB,
            allocatable_pods: 29,
            requested_cpu_milli: DAEMONS.0 + job_cpu,
            requested_memory_bytes: DAEMONS.1 + job_memory,
            pods: DAEMONS.2 + job_pods,
            labels,
            taints: vec![Taint {
                key: "dedicated".into(),
                value: Some("gpu".into()),
                effect: TaintEffect::NoSchedule,
            }],
            unschedulable: false,
            ready: true,
        },
        pressure: Vec::new(),
        used: None,
    }
}

fn limit_range() -> LimitRangeDefaults {
    LimitRangeDefaults {
        name: LIMIT_RANGE.into(),
        default_request_cpu_milli: Some(500),
        default_request_memory_bytes: Some(512 * MIB),
        default_limit_cpu_milli: Some(1_000),
        default_limit_memory_bytes: Some(GIB),
    }
}

/// The demo cluster's capacity view for the fleet's current replicas, and per workload name
/// how many of its replicas find no room (Pending).
pub fn view(fleet: &DemoFleet, endpoint: &str) -> (CapacityView, HashMap<&'static str, u32>) {
    let mut nodes: Vec<NodeInfo> = (1..=6).map(general).collect();
    nodes.push(gpu(1, true));
    nodes.push(gpu(2, false));
    let take = |room: &mut NodeRoom, cpu: u64, memory: u64| {
        room.requested_cpu_milli += cpu;
        room.requested_memory_bytes += memory;
        room.pods += 1;
    };
    for (i, cpu, memory) in OTHERS {
        take(&mut nodes[i - 1].room, cpu, memory);
    }
    let range = limit_range();
    let kube: Vec<&SimWorkload> = fleet.workloads.iter().filter(|w| !w.compose).collect();
    let mut needs = HashMap::new();
    let mut quota = QuotaRoom {
        name: QUOTA.into(),
        hard_requests_cpu_milli: Some(16_000),
        hard_requests_memory_bytes: Some(32 * GIB),
        hard_pods: Some(30),
        ..QuotaRoom::default()
    };
    // First the replicas that were running before any scale, where they run; then the new
    // ones, placed by the fit check on the room that is left.
    let mut extra = Vec::new();
    for w in &kube {
        let (cpu, memory, spots) = template(w.name);
        let declared = ReplicaNeeds {
            cpu_milli: cpu,
            memory_bytes: memory,
            ..ReplicaNeeds::default()
        };
        let (admitted, _) = apply_limit_range(declared.clone(), Some(&range));
        let (c, m) = (
            admitted.cpu_milli.unwrap_or(0),
            admitted.memory_bytes.unwrap_or(0),
        );
        quota.used_requests_cpu_milli += c * u64::from(w.desired);
        quota.used_requests_memory_bytes += m * u64::from(w.desired);
        quota.used_pods += u64::from(w.desired);
        let settled = (w.desired as usize).min(spots.len());
        for &i in &spots[..settled] {
            take(&mut nodes[i - 1].room, c, m);
        }
        let id = WorkloadRef::new(endpoint, w.scope, w.kind(), w.name);
        extra.push((id.clone(), w.name, admitted, w.desired as usize - settled));
        needs.insert(id, declared);
    }
    let mut pending = HashMap::new();
    let mut waiting = HashMap::new();
    for (id, name, admitted, count) in extra.into_iter().filter(|e| e.3 > 0) {
        let rooms: Vec<NodeRoom> = nodes.iter().map(|n| n.room.clone()).collect();
        let report = fit_replicas(&rooms, &admitted, count as u64);
        for (node, placed) in &report.placement {
            if let Some(n) = nodes.iter_mut().find(|n| &n.room.name == node) {
                for _ in 0..*placed {
                    take(
                        &mut n.room,
                        admitted.cpu_milli.unwrap_or(0),
                        admitted.memory_bytes.unwrap_or(0),
                    );
                }
            }
        }
        if report.pending() > 0 {
            pending.insert(name, report.pending() as u32);
            waiting.insert(id, report.pending());
        }
    }
    usage(fleet, &mut nodes);
    nodes.sort_by(|a, b| a.room.name.cmp(&b.room.name));
    let context = ContextCapacity {
        nodes: Ok(nodes),
        partial_pods: None,
        quotas: BTreeMap::from([(NAMESPACE.to_string(), vec![quota])]),
        admission_unknown: None,
        limit_ranges: BTreeMap::from([(NAMESPACE.to_string(), range)]),
        autoscaler: AutoscalerPresence::NotSeen,
        usage_note: None,
    };
    let view = CapacityView {
        contexts: BTreeMap::from([(endpoint.to_string(), context)]),
        needs,
        waiting,
        ..CapacityView::default()
    };
    (view, pending)
}

/// What the demo nodes use, as metrics-server would say: the requests scaled by the fleet's
/// current load (usage against requests, which follows the daily curve) and a per-node spread;
/// the node under memory pressure uses nearly all of its memory.
fn usage(fleet: &DemoFleet, nodes: &mut [NodeInfo]) {
    let kube: Vec<f64> = fleet
        .workloads
        .iter()
        .filter(|w| !w.compose)
        .map(|w| w.cpu_percent)
        .collect();
    let load = (kube.iter().sum::<f64>() / kube.len().max(1) as f64 / 100.0).clamp(0.2, 1.3);
    for (i, n) in nodes.iter_mut().enumerate() {
        let r = &n.room;
        let spread = 0.8 + 0.1 * (i % 4) as f64;
        let memory = if n.pressure.iter().any(|p| p == "MemoryPressure") {
            r.allocatable_memory_bytes as f64 * 0.96
        } else {
            r.requested_memory_bytes as f64 * (0.7 + 0.05 * (i % 5) as f64)
        };
        n.used = Some(NodeUsage {
            cpu_milli: ((r.requested_cpu_milli as f64 * load * spread) as u64)
                .min(r.allocatable_cpu_milli),
            memory_bytes: (memory as u64).min(r.allocatable_memory_bytes),
        });
    }
}

/// What one replica of each demo Compose service sets: (memory reservation, memory limit,
/// cpu limit milli), as `deploy.resources` in the scaling guides' Compose file would.
fn compose_resources(name: &str) -> (Option<u64>, Option<u64>, Option<u64>) {
    match name {
        "web" => (Some(128 * MIB), Some(256 * MIB), Some(500)),
        // The guides' backend: 0.5 CPU, 256 MB reserved.
        "api" => (Some(256 * MIB), Some(512 * MIB), Some(1_000)),
        // A limit only: it holds its limit of the host.
        _ => (None, Some(GIB), Some(1_000)),
    }
}

/// Containers of other projects on the demo engine: (memory reservation, memory limit).
const ENGINE_OTHERS: [(Option<u64>, Option<u64>); 3] = [
    (None, Some(2 * GIB)),   // a PostgreSQL for the staging stack
    (Some(512 * MIB), None), // Redis
    (None, None),            // a log shipper with neither
];

/// The demo Compose endpoint's engine: an 8-CPU, 16 GiB host whose running containers hold
/// memory by reservation or limit, and per service what one replica reserves and limits.
pub fn engine_view(fleet: &DemoFleet, endpoint: &str) -> CapacityView {
    let mut view = CapacityView::default();
    let (mut by_reservation, mut by_limit, mut neither) = (0, 0, 0);
    let mut held = 0;
    let mut cpu_limits = 0;
    let mut running = 0;
    let mut count = |reservation: Option<u64>, limit: Option<u64>, n: u64| {
        match (reservation, limit) {
            (Some(r), _) => {
                by_reservation += n;
                held += r * n;
            }
            (None, Some(l)) => {
                by_limit += n;
                held += l * n;
            }
            (None, None) => neither += n,
        }
        running += n;
    };
    for w in fleet.workloads.iter().filter(|w| w.compose) {
        let (reservation, limit, cpu) = compose_resources(w.name);
        count(reservation, limit, u64::from(w.desired));
        cpu_limits += cpu.unwrap_or(0) * u64::from(w.desired);
        let id = WorkloadRef::new(endpoint, w.scope, w.kind(), w.name);
        view.needs.insert(
            id.clone(),
            ReplicaNeeds {
                memory_bytes: reservation,
                ..ReplicaNeeds::default()
            },
        );
        view.docker_limits.insert(
            id,
            DockerLimits {
                memory_limit_bytes: limit,
                cpu_limit_milli: cpu,
            },
        );
    }
    for (reservation, limit) in ENGINE_OTHERS {
        count(reservation, limit, 1);
    }
    let host = NodeRoom {
        name: "demo-staging-host".into(),
        allocatable_cpu_milli: 8_000,
        allocatable_memory_bytes: 16 * GIB - 400 * MIB,
        allocatable_pods: u64::MAX,
        requested_cpu_milli: cpu_limits,
        requested_memory_bytes: held,
        pods: running,
        labels: BTreeMap::new(),
        taints: Vec::new(),
        unschedulable: false,
        ready: true,
    };
    view.engine = Some(EngineCapacity {
        name: "the demo Docker engine (DEMO)".into(),
        host: Some(host),
        swarm_nodes: Err("this engine is not a Swarm manager".into()),
        counted: format!(
            "{running} running {}: {by_reservation} by their memory reservation, \
             {by_limit} by their memory limit (no reservation), {neither} with neither (not \
             counted)",
            crate::model::units::noun(running, "container", "containers")
        ),
    });
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> DemoFleet {
        DemoFleet::new(42, 14 * 3_600_000)
    }

    fn nodes(view: &CapacityView) -> &[NodeInfo] {
        view.contexts["demo-prod"].nodes.as_ref().unwrap()
    }

    #[test]
    fn requested_sums_follow_the_replicas() {
        let mut fleet = demo();
        let (before, _) = view(&fleet, "demo-prod");
        let sum =
            |v: &CapacityView| -> u64 { nodes(v).iter().map(|n| n.room.requested_cpu_milli).sum() };
        fleet
            .workload_mut(NAMESPACE, "auth-service")
            .unwrap()
            .desired = 3;
        let (after, pending) = view(&fleet, "demo-prod");
        assert_eq!(sum(&after), sum(&before) + 250);
        assert!(pending.is_empty());
        let quota = &after.contexts["demo-prod"].quotas[NAMESPACE][0];
        let quota_before = &before.contexts["demo-prod"].quotas[NAMESPACE][0];
        assert_eq!(quota.used_pods, quota_before.used_pods + 1);
    }

    #[test]
    fn replicas_past_the_room_stay_pending() {
        let mut fleet = demo();
        fleet
            .workload_mut(NAMESPACE, "search-index")
            .unwrap()
            .desired = 8;
        let (v, pending) = view(&fleet, "demo-prod");
        let unplaced = pending.get("search-index").copied().unwrap_or(0);
        assert!(unplaced > 0);
        // The plans' fit check places them before any new replica.
        let id = v.waiting.keys().find(|w| w.name == "search-index").unwrap();
        assert_eq!(v.waiting[id], u64::from(unplaced));
    }

    #[test]
    fn the_compose_engine_holds_what_its_containers_reserve_or_limit() {
        let mut fleet = demo();
        let v = engine_view(&fleet, "demo-staging");
        let host = v.engine.as_ref().unwrap().host.clone().unwrap();
        // web 1 × 128 MiB + api 2 × 256 MiB + worker 2 × 1 GiB + PostgreSQL 2 GiB + Redis 512 MiB.
        assert_eq!(
            host.requested_memory_bytes,
            128 * MIB + 512 * MIB + 4 * GIB + 512 * MIB
        );
        assert_eq!(host.pods, 8);
        fleet
            .workload_mut(super::super::sim::COMPOSE_PROJECT, "api")
            .unwrap()
            .desired = 4;
        let more = engine_view(&fleet, "demo-staging");
        let host4 = more.engine.unwrap().host.unwrap();
        assert_eq!(
            host4.requested_memory_bytes,
            host.requested_memory_bytes + 512 * MIB
        );
    }

    #[test]
    fn the_cluster_shows_each_problem() {
        let (v, _) = view(&demo(), "demo-prod");
        let n = nodes(&v);
        assert_eq!(n.len(), 8);
        assert!(n.iter().any(|n| n.room.unschedulable));
        assert!(n.iter().any(|n| n.pressure == ["MemoryPressure"]));
        assert_eq!(
            n.iter()
                .filter(|n| n.room.taints.iter().any(|t| t.key == "dedicated"))
                .count(),
            2
        );
        assert!(n.windows(2).all(|w| w[0].room.name < w[1].room.name));
    }
}
