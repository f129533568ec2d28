use super::*;
use crate::model::capacity::{
    LimitRangeDefaults, NodeRoom, NodeSelectorRequirement, QuotaRoom, ReplicaNeeds, Taint,
    TaintEffect, Toleration,
};
use std::collections::BTreeMap;

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

fn node(name: &str, cpu_milli: u64, memory: u64) -> NodeRoom {
    NodeRoom {
        name: name.into(),
        allocatable_cpu_milli: cpu_milli,
        allocatable_memory_bytes: memory,
        allocatable_pods: 110,
        requested_cpu_milli: 0,
        requested_memory_bytes: 0,
        pods: 0,
        labels: BTreeMap::new(),
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

#[test]
fn all_fit_spread_like_least_allocated() {
    let nodes = [node("node-a", 2000, 8 * GIB), node("node-b", 2000, 8 * GIB)];
    let r = fit_replicas(&nodes, &needs(500, 256 * MIB), 4);
    assert!(r.fits());
    assert_eq!(
        r.placement,
        vec![("node-a".to_string(), 2), ("node-b".to_string(), 2)]
    );
    assert_eq!(r.verdict, "fits: 4 of 4 new replicas (node-a 2, node-b 2)");
}

#[test]
fn partial_fit_names_the_short_resource_and_the_largest_room() {
    let mut a = node("node-a", 2000, 8 * GIB);
    a.requested_cpu_milli = 1700; // 300m free
    let mut b = node("node-b", 2000, 8 * GIB);
    b.requested_cpu_milli = 1000; // 1000m free: two replicas of 500m
    let r = fit_replicas(&[a, b], &needs(500, 256 * MIB), 5);
    assert_eq!(r.fitting, 2);
    assert_eq!(r.pending(), 3);
    assert_eq!(
        r.verdict,
        "only 2 of 5 new replicas fit (node-b 2): 3 would stay Pending (insufficient cpu: each \
         needs 500m, the largest free room is 300m)"
    );
}

#[test]
fn memory_and_pod_count_limit_too() {
    let mut a = node("node-a", 8000, GIB);
    a.allocatable_pods = 3;
    a.pods = 2;
    let r = fit_replicas(&[a], &needs(100, 256 * MIB), 3);
    assert_eq!(r.fitting, 1);
    assert!(
        r.verdict.contains("every node is at its pod limit"),
        "{}",
        r.verdict
    );

    let r = fit_replicas(&[node("node-a", 8000, GIB)], &needs(100, 600 * MIB), 2);
    assert_eq!(r.fitting, 1);
    assert!(
        r.verdict
            .contains("insufficient memory: each needs 600.0 MiB"),
        "{}",
        r.verdict
    );
}

#[test]
fn taints_block_unless_tolerated_and_prefer_no_schedule_never_blocks() {
    let mut gpu = node("gpu-1", 8000, 32 * GIB);
    gpu.taints.push(Taint {
        key: "dedicated".into(),
        value: Some("gpu".into()),
        effect: TaintEffect::NoSchedule,
    });
    let mut soft = node("soft-1", 1000, 4 * GIB);
    soft.taints.push(Taint {
        key: "spot".into(),
        value: None,
        effect: TaintEffect::PreferNoSchedule,
    });
    let nodes = [gpu, soft];
    let r = fit_replicas(&nodes, &needs(500, 256 * MIB), 4);
    assert_eq!(r.fitting, 2, "only soft-1, whose taint is a preference");
    assert_eq!(
        r.excluded.get("untolerated taint dedicated=gpu:NoSchedule"),
        Some(&1)
    );
    assert!(
        r.verdict
            .contains("1 node untolerated taint dedicated=gpu:NoSchedule")
    );

    let mut tolerant = needs(500, 256 * MIB);
    tolerant.tolerations.push(Toleration {
        key: Some("dedicated".into()),
        exists: false,
        value: Some("gpu".into()),
        effect: Some(TaintEffect::NoSchedule),
    });
    assert!(fit_replicas(&nodes, &tolerant, 4).fits());
    // A value that differs does not tolerate; Exists tolerates any value.
    tolerant.tolerations[0].value = Some("tpu".into());
    assert_eq!(fit_replicas(&nodes, &tolerant, 4).fitting, 2);
    tolerant.tolerations[0].exists = true;
    assert!(fit_replicas(&nodes, &tolerant, 4).fits());
}

#[test]
fn cordoned_and_not_ready_nodes_are_not_used() {
    let mut cordoned = node("node-a", 4000, 8 * GIB);
    cordoned.unschedulable = true;
    let mut sick = node("node-b", 4000, 8 * GIB);
    sick.ready = false;
    let r = fit_replicas(&[cordoned, sick], &needs(500, 256 * MIB), 1);
    assert_eq!(r.fitting, 0);
    assert_eq!(
        r.verdict,
        "none of 1 new replica fits: 1 would stay Pending (1 node cordoned; 1 node not ready)"
    );
}

#[test]
fn node_selector_and_required_affinity() {
    let mut a = node("node-a", 4000, 8 * GIB);
    a.labels.insert("pool".into(), "web".into());
    a.labels.insert("gen".into(), "5".into());
    let mut b = node("node-b", 4000, 8 * GIB);
    b.labels.insert("pool".into(), "batch".into());
    let nodes = [a, b];

    let mut sel = needs(1000, GIB);
    sel.node_selector.insert("pool".into(), "web".into());
    let r = fit_replicas(&nodes, &sel, 6);
    assert_eq!(r.fitting, 4);
    assert_eq!(r.placement, vec![("node-a".to_string(), 4)]);
    assert!(
        r.verdict
            .contains("1 node not matching the node selector/affinity")
    );

    sel.node_selector.insert("pool".into(), "gpu".into());
    assert_eq!(
        fit_replicas(&nodes, &sel, 1).fitting,
        0,
        "selector matches no node"
    );

    let mut aff = needs(1000, GIB);
    aff.required_node_terms = vec![
        vec![NodeSelectorRequirement::Gt("gen".into(), 6)],
        vec![
            NodeSelectorRequirement::In("pool".into(), vec!["batch".into()]),
            NodeSelectorRequirement::DoesNotExist("gen".into()),
        ],
    ];
    let r = fit_replicas(&nodes, &aff, 1);
    assert_eq!(
        r.placement,
        vec![("node-b".to_string(), 1)],
        "second term matches b only"
    );
}

#[test]
fn no_requests_is_said_as_unknown() {
    let r = fit_replicas(&[node("node-a", 1000, GIB)], &ReplicaNeeds::default(), 2);
    assert!(r.fits());
    assert!(
        r.verdict
            .contains("unknown room: the template requests no cpu or memory")
    );
}

#[test]
fn limit_range_fills_missing_requests() {
    let lr = LimitRangeDefaults {
        name: "defaults".into(),
        default_request_cpu_milli: None,
        default_request_memory_bytes: Some(128 * MIB),
        default_limit_cpu_milli: Some(250),
        default_limit_memory_bytes: Some(512 * MIB),
    };
    let (n, notes) = apply_limit_range(ReplicaNeeds::default(), Some(&lr));
    assert_eq!(
        n.cpu_milli,
        Some(250),
        "default limit stands in for the request"
    );
    assert_eq!(
        n.memory_bytes,
        Some(128 * MIB),
        "defaultRequest wins over default"
    );
    assert_eq!(notes.len(), 2);
    let (kept, notes) = apply_limit_range(needs(100, MIB), Some(&lr));
    assert_eq!((kept.cpu_milli, kept.memory_bytes), (Some(100), Some(MIB)));
    assert!(notes.is_empty());
}

#[test]
fn quota_refuses_what_the_api_server_would_reject() {
    let quota = QuotaRoom {
        name: "compute".into(),
        hard_requests_cpu_milli: Some(4000),
        used_requests_cpu_milli: 3000,
        hard_pods: Some(20),
        used_pods: 10,
        ..QuotaRoom::default()
    };
    assert_eq!(quota_refusal(&quota, &needs(500, MIB), 2), None);
    let why = quota_refusal(&quota, &needs(500, MIB), 3).expect("over cpu");
    assert_eq!(
        why,
        "ResourceQuota compute would be exceeded: requests.cpu would be 4500m of 4 (used 3); \
         the API server would reject the new pods"
    );
    let why = quota_refusal(&quota, &ReplicaNeeds::default(), 1).expect("no cpu request");
    assert!(why.contains("pods without a cpu request are rejected"));
    assert!(
        quota_refusal(&quota, &needs(1, MIB), 11)
            .unwrap()
            .contains("pods would be 21 of 20")
    );
}

#[test]
fn many_nodes_are_summarised() {
    let nodes: Vec<NodeRoom> = (0..8).map(|i| node(&format!("n{i}"), 1000, GIB)).collect();
    let r = fit_replicas(&nodes, &needs(1000, MIB), 8);
    assert!(r.fits());
    assert!(
        r.verdict.ends_with("n4 1, 3 on 3 more nodes)"),
        "{}",
        r.verdict
    );
}

#[test]
fn finished_pods_hold_no_room() {
    let mut nodes = vec![node("node-a", 2000, GIB), node("node-b", 2000, GIB)];
    nodes[0].pods = 99; // replaced, not added to
    let pod = |node, cpu, finished| BoundPod {
        node,
        cpu_milli: cpu,
        memory_bytes: MIB,
        finished,
    };
    sum_bound_pods(
        &mut nodes,
        [
            pod("node-a", 500, false),
            pod("node-a", 700, true),
            pod("node-b", 300, false),
            pod("gone", 300, false),
        ],
    );
    assert_eq!((nodes[0].requested_cpu_milli, nodes[0].pods), (500, 1));
    assert_eq!(
        (
            nodes[1].requested_cpu_milli,
            nodes[1].requested_memory_bytes
        ),
        (300, MIB)
    );
}
