//! The fit check at Kubernetes' published limits (issue #22): 5,000 nodes and 150,000 bound
//! pods. Measures summing the pods' requests per node, placing 1,000 new replicas with a
//! nodeSelector and a toleration (three node pools, one tainted, some nodes cordoned), and the
//! advisor's whole question for one priced scale up (`scale_fit`: the fit, and the nodes it
//! would take when it does not fit) from a context's capacity view.
//! See BENCHMARKS.md for figures.

#![allow(clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use scaleboard::capacity::{BoundPod, fit_replicas, scale_fit, sum_bound_pods};
use scaleboard::model::capacity::{
    AutoscalerPresence, CapacityView, ContextCapacity, NodeInfo, NodeRoom, ReplicaNeeds, Taint,
    TaintEffect, Toleration,
};
use scaleboard::model::snapshot::{WorkloadKind, WorkloadRef};
use std::collections::BTreeMap;
use std::hint::black_box;

const NODES: usize = 5_000;
const PODS: usize = 150_000;

fn cluster() -> (Vec<NodeRoom>, Vec<String>) {
    let nodes: Vec<NodeRoom> = (0..NODES)
        .map(|i| {
            let pool = ["web", "batch", "gpu"][i % 3];
            let mut labels = BTreeMap::new();
            labels.insert("pool".to_string(), pool.to_string());
            labels.insert("kubernetes.io/hostname".to_string(), format!("node-{i:05}"));
            NodeRoom {
                name: format!("node-{i:05}"),
                allocatable_cpu_milli: 16_000,
                allocatable_memory_bytes: 64 << 30,
                allocatable_pods: 110,
                requested_cpu_milli: 0,
                requested_memory_bytes: 0,
                pods: 0,
                labels,
                taints: if pool == "gpu" {
                    vec![Taint {
                        key: "dedicated".into(),
                        value: Some("gpu".into()),
                        effect: TaintEffect::NoSchedule,
                    }]
                } else {
                    Vec::new()
                },
                unschedulable: i % 97 == 0,
                ready: i % 211 != 0,
            }
        })
        .collect();
    let names = nodes.iter().map(|n| n.name.clone()).collect();
    (nodes, names)
}

fn bench(c: &mut Criterion) {
    let (mut nodes, names) = cluster();
    let pods = || {
        (0..PODS).map(|i| BoundPod {
            node: names[i % NODES].as_str(),
            cpu_milli: 250 + (i % 7) as u64 * 250,
            memory_bytes: (256 + (i % 5) as u64 * 256) << 20,
            finished: i % 50 == 0,
        })
    };
    c.bench_function("sum 150,000 pods onto 5,000 nodes", |b| {
        b.iter(|| sum_bound_pods(black_box(&mut nodes), pods()));
    });
    sum_bound_pods(&mut nodes, pods());
    let mut needs = ReplicaNeeds {
        cpu_milli: Some(500),
        memory_bytes: Some(512 << 20),
        ..ReplicaNeeds::default()
    };
    needs.node_selector.insert("pool".into(), "web".into());
    needs.tolerations.push(Toleration {
        key: Some("dedicated".into()),
        exists: true,
        value: None,
        effect: None,
    });
    c.bench_function("fit 1,000 replicas on 5,000 nodes", |b| {
        b.iter(|| fit_replicas(black_box(&nodes), black_box(&needs), 1_000));
    });
    let report = fit_replicas(&nodes, &needs, 1_000);
    println!("{}", report.verdict);

    // The advisor's check of one scale up, as it runs for each priced proposal: from 10 to
    // 1,010 replicas (fits), and to 60,010 (does not: the nodes it would take are counted too).
    let id = WorkloadRef::new("k8s", "prod/shop", WorkloadKind::Deployment, "web");
    let mut labels = BTreeMap::new();
    for i in 0..12 {
        labels.insert(format!("example.com/label-{i}"), format!("value-{i}"));
    }
    let infos: Vec<NodeInfo> = nodes
        .iter()
        .map(|n| {
            let mut room = n.clone();
            // A real node's dozen labels (zone, instance type, OS, arch …), cloned per check
            // before this bench's change.
            room.labels.extend(labels.clone());
            NodeInfo {
                room,
                pressure: Vec::new(),
                used: None,
            }
        })
        .collect();
    let view = CapacityView {
        contexts: [(
            "prod".to_string(),
            ContextCapacity {
                nodes: Ok(infos),
                partial_pods: None,
                quotas: BTreeMap::new(),
                admission_unknown: None,
                limit_ranges: BTreeMap::new(),
                autoscaler: AutoscalerPresence::NotSeen,
                usage_note: None,
            },
        )]
        .into(),
        needs: [(id.clone(), needs.clone())].into(),
        ..CapacityView::default()
    };
    for (what, replicas) in [("fits", 1_010), ("does not fit", 60_010)] {
        c.bench_function(&format!("advisor scale fit on 5,000 nodes, {what}"), |b| {
            b.iter(|| scale_fit(black_box(&view), &id, 10, replicas));
        });
        let fit = scale_fit(&view, &id, 10, replicas).unwrap().unwrap();
        println!("{} — {}", fit.short(), fit.nodes.words());
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
