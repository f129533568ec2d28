use super::*;
use crate::model::capacity::{
    CapacityView, ContextCapacity, NodeInfo, NodeRoom, QuotaRoom, ReplicaNeeds, Taint, TaintEffect,
    Toleration,
};
use crate::model::snapshot::{WorkloadKind, WorkloadRef};
use std::collections::BTreeMap;

const GIB: u64 = 1 << 30;

fn node(name: &str, cpu_milli: u64, memory: u64) -> NodeRoom {
    NodeRoom {
        name: name.into(),
        allocatable_cpu_milli: cpu_milli,
        allocatable_memory_bytes: memory,
        allocatable_pods: 110,
        requested_cpu_milli: 0,
        requested_memory_bytes: 0,
        pods: 0,
        labels: BTreeMap::from([(
            "node.kubernetes.io/instance-type".to_string(),
            "m5.xlarge".to_string(),
        )]),
        taints: Vec::new(),
        unschedulable: false,
        ready: true,
    }
}

fn needs(cpu_milli: u64, memory: u64) -> ReplicaNeeds {
    ReplicaNeeds {
        cpu_milli: Some(cpu_milli),
        memory_bytes: Some(memory),
        ..ReplicaNeeds::default()
    }
}

/// Three 4 CPU / 16 GiB nodes, each with 3 CPU already requested.
fn busy_cluster() -> Vec<NodeRoom> {
    ["node-a", "node-b", "node-c"]
        .iter()
        .map(|n| {
            let mut room = node(n, 4_000, 16 * GIB);
            room.requested_cpu_milli = 3_000;
            room
        })
        .collect()
}

#[test]
fn nothing_left_over_needs_no_node() {
    let nodes = busy_cluster();
    let n = needs(1_000, GIB);
    let report = fit_replicas(&nodes, &n, 3);
    assert!(report.fits());
    assert_eq!(
        nodes_needed(&nodes, &n, report.pending()),
        NodesNeeded::None
    );
    assert_eq!(NodesNeeded::None.count(), Some(0));
}

#[test]
fn leftovers_are_placed_on_empty_nodes_of_the_usual_size() {
    let nodes = busy_cluster();
    let n = needs(1_000, GIB);
    // 3 fit (one per node); 7 are left; an empty 4 CPU node takes 4 of them: 2 nodes.
    let report = fit_replicas(&nodes, &n, 10);
    assert_eq!(report.pending(), 7);
    let needed = nodes_needed(&nodes, &n, report.pending());
    let NodesNeeded::More {
        nodes: count,
        size,
        per_node,
    } = &needed
    else {
        panic!("{needed:?}");
    };
    assert_eq!((*count, *per_node), (2, 4));
    assert_eq!(size.nodes_like, 3);
    assert_eq!(
        needed.words(),
        "needs 2 more nodes of 4 CPU / 16.0 GiB (m5.xlarge)"
    );
    // Exactly one node's worth needs one node.
    assert_eq!(nodes_needed(&nodes, &n, 4).count(), Some(1));
}

#[test]
fn a_replica_bigger_than_the_usual_node_can_never_fit_on_it() {
    let nodes = busy_cluster();
    let n = needs(5_000, GIB);
    let needed = nodes_needed(&nodes, &n, 1_000_000);
    assert!(
        matches!(&needed, NodesNeeded::NeverOnSize { why, .. } if why.contains("5 cpu, more than the node's 4")),
        "{needed:?}"
    );
    assert_eq!(needed.count(), None);
    assert!(needed.words().contains("more such nodes would not help"));
}

#[test]
fn no_ready_schedulable_node_leaves_the_count_unknown() {
    let mut nodes = busy_cluster();
    nodes[0].ready = false;
    nodes[1].unschedulable = true;
    nodes[2].ready = false;
    let needed = nodes_needed(&nodes, &needs(100, GIB), 2);
    assert!(
        matches!(&needed, NodesNeeded::Unknown(why) if why.contains("no Ready, schedulable node")),
        "{needed:?}"
    );
    assert!(needed.words().starts_with("nodes needed unknown"));
    assert_eq!(
        nodes_needed::<NodeRoom>(&[], &needs(100, GIB), 2).count(),
        None
    );
}

#[test]
fn the_usual_size_is_the_most_common_among_the_nodes_the_replica_may_use() {
    let mut nodes = busy_cluster();
    // A cordoned big node and a pressured one do not make the size; a fresh node has no
    // condition taint.
    let mut big = node("node-big", 16_000, 64 * GIB);
    big.unschedulable = true;
    nodes.push(big);
    nodes[0].taints.push(Taint {
        key: "node.kubernetes.io/memory-pressure".into(),
        value: None,
        effect: TaintEffect::NoSchedule,
    });
    let (size, template) = usual_node(&nodes, &needs(1_000, GIB)).unwrap();
    assert_eq!((size.cpu_milli, size.nodes_like), (4_000, 3));
    assert!(template.taints.is_empty());

    // A pool of two tainted GPU nodes: a workload that tolerates and selects it is sized on it.
    for name in ["gpu-1", "gpu-2"] {
        let mut g = node(name, 8_000, 32 * GIB);
        g.labels.insert("pool".into(), "gpu".into());
        g.labels.insert(
            "node.kubernetes.io/instance-type".into(),
            "g4dn.2xlarge".into(),
        );
        g.taints.push(Taint {
            key: "dedicated".into(),
            value: Some("gpu".into()),
            effect: TaintEffect::NoSchedule,
        });
        nodes.push(g);
    }
    let mut gpu = needs(3_000, 8 * GIB);
    gpu.node_selector.insert("pool".into(), "gpu".into());
    gpu.tolerations.push(Toleration {
        key: Some("dedicated".into()),
        exists: true,
        value: None,
        effect: None,
    });
    let needed = nodes_needed(&nodes, &gpu, 5);
    assert_eq!(
        needed.words(),
        "needs 3 more nodes of 8 CPU / 32.0 GiB (g4dn.2xlarge)"
    );
    // Pinned to a pool no node belongs to: sized on the usual nodes, which it may never use.
    let mut lost = needs(100, GIB);
    lost.node_selector.insert("pool".into(), "none".into());
    let needed = nodes_needed(&nodes, &lost, 1);
    assert!(
        matches!(&needed, NodesNeeded::NeverOnSize { size, why }
            if size.cpu_milli == 4_000 && why.contains("selector")),
        "{needed:?}"
    );
}

fn kube_view(quota: Option<QuotaRoom>) -> (CapacityView, WorkloadRef) {
    let id = WorkloadRef::new("k", "prod/web", WorkloadKind::Deployment, "api");
    let ctx = ContextCapacity {
        nodes: Ok(busy_cluster()
            .into_iter()
            .map(|room| NodeInfo {
                room,
                pressure: Vec::new(),
                used: None,
            })
            .collect()),
        partial_pods: None,
        quotas: quota
            .map(|q| BTreeMap::from([("web".to_string(), vec![q])]))
            .unwrap_or_default(),
        admission_unknown: None,
        limit_ranges: BTreeMap::new(),
        autoscaler: Default::default(),
        usage_note: None,
    };
    let mut view = CapacityView::default();
    view.contexts.insert("prod".into(), ctx);
    view.needs.insert(id.clone(), needs(1_000, GIB));
    (view, id)
}

#[test]
fn scale_fit_reads_the_workloads_context_and_counts_pending_replicas() {
    let (mut view, id) = kube_view(None);
    assert_eq!(scale_fit(&view, &id, 5, 5), Ok(None));
    let fit = scale_fit(&view, &id, 2, 5).unwrap().unwrap();
    assert!(fit.fits());
    assert_eq!(fit.nodes, NodesNeeded::None);
    assert_eq!(fit.cluster, "prod");
    // Two replicas already Pending take room first: 3 + 2 wanted, 3 fit.
    view.waiting.insert(id.clone(), 2);
    let fit = scale_fit(&view, &id, 2, 5).unwrap().unwrap();
    assert_eq!((fit.wanted, fit.fitting), (5, 3));
    assert_eq!(fit.short(), "only 3 of 5 new replicas fit");
    assert_eq!(fit.nodes.count(), Some(1));
    view.contexts.clear();
    assert_eq!(
        scale_fit(&view, &id, 2, 5),
        Err("context prod has no capacity data".into())
    );
}

#[test]
fn scale_fit_says_a_quota_refusal_which_no_node_helps() {
    let quota = QuotaRoom {
        name: "web-quota".into(),
        hard_pods: Some(4),
        used_pods: 3,
        ..QuotaRoom::default()
    };
    let (view, id) = kube_view(Some(quota));
    let fit = scale_fit(&view, &id, 3, 5).unwrap().unwrap();
    assert!(!fit.fits());
    assert!(
        fit.short().contains("ResourceQuota web-quota"),
        "{}",
        fit.short()
    );
}

#[test]
fn five_thousand_nodes_are_sized_quickly() {
    let nodes: Vec<NodeRoom> = (0..5_000)
        .map(|i| {
            let mut n = node(&format!("node-{i:05}"), 4_000, 16 * GIB);
            n.labels
                .insert("kubernetes.io/hostname".into(), n.name.clone());
            n.requested_cpu_milli = 3_900;
            n
        })
        .collect();
    let n = needs(1_000, GIB);
    let started = std::time::Instant::now();
    let report = fit_replicas(&nodes, &n, 1_000);
    let needed = nodes_needed(&nodes, &n, report.pending());
    let took = started.elapsed();
    assert_eq!(needed.count(), Some(250));
    eprintln!("fit + nodes needed, 5,000 nodes: {took:?}");
    // Debug build on a shared machine: generous, but an accidental per-node fit check would
    // blow it.
    assert!(took < std::time::Duration::from_secs(2), "{took:?}");
}

#[test]
fn compose_says_its_one_host_and_swarm_counts_nodes() {
    use crate::model::capacity::EngineCapacity;
    let mut host = node("docker-host", 8_000, 8 * GIB);
    host.requested_memory_bytes = 7 * GIB;
    let compose = WorkloadRef::new("d", "shop", WorkloadKind::ComposeService, "backend");
    let swarm = WorkloadRef::new("d", "swarm", WorkloadKind::SwarmService, "api");
    let mut view = CapacityView {
        engine: Some(EngineCapacity {
            name: "the local Docker engine".into(),
            host: Some(host),
            swarm_nodes: Ok(busy_cluster()),
            counted: "2 running containers".into(),
        }),
        ..CapacityView::default()
    };
    view.needs.insert(compose.clone(), needs(500, GIB / 2));
    view.needs.insert(swarm.clone(), needs(1_000, GIB));
    // 1 GiB free: two of five fit; Compose cannot use more nodes.
    let fit = scale_fit(&view, &compose, 1, 6).unwrap().unwrap();
    assert_eq!((fit.wanted, fit.fitting), (5, 2));
    assert!(
        matches!(&fit.nodes, NodesNeeded::Unknown(why) if why.contains("one host") && why.contains("1.5 GiB")),
        "{:?}",
        fit.nodes
    );
    // Swarm places by node like the scheduler: 3 fit, 4 left, 4 per empty node.
    let fit = scale_fit(&view, &swarm, 2, 9).unwrap().unwrap();
    assert_eq!((fit.fitting, fit.nodes.count()), (3, Some(1)));
    assert_eq!(fit.cluster, "the local Docker engine");
}
