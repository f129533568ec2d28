//! The fit check at Kubernetes' published limits (issue #22): 5,000 nodes and 150,000 bound
//! pods. Measures summing the pods' requests per node, and placing 1,000 new replicas with a
//! nodeSelector and a toleration (three node pools, one tainted, some nodes cordoned).
//! See BENCHMARKS.md for figures.

#![allow(clippy::unwrap_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use scaleboard::capacity::{BoundPod, fit_replicas, sum_bound_pods};
use scaleboard::model::capacity::{NodeRoom, ReplicaNeeds, Taint, TaintEffect, Toleration};
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
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench
}
criterion_main!(benches);
