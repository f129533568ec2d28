//! Try the Kubernetes panel without a cluster: starts two fake API servers ("prod-eu" and
//! "prod-us", the protocol-level fake the tests use) with workloads, HPAs, pods (one stuck
//! Pending) and pod metrics on prod-eu, writes a kubeconfig and a Scaleboard profile using it,
//! and keeps serving until Ctrl-C. Then, in another terminal:
//!
//! ```text
//! cargo run --example fake_clusters -- /tmp/sb
//! SCALEBOARD_CONFIG_DIR=/tmp/sb/config cargo run -- --profile fake-clusters
//! ```

#![allow(clippy::unwrap_used)]

#[path = "../tests/support/fake_kube.rs"]
mod fake_kube;

use fake_kube::{FakeKube, deployment, hpa, pod, replicaset, statefulset, unschedulable, waiting};

fn populate(kube: &FakeKube, scale: i32, metrics: bool) {
    let workloads = [
        ("shop", "web", 4 * scale, "250m", "256Mi"),
        ("shop", "api", 3 * scale, "500m", "512Mi"),
        ("shop", "checkout", 2, "250m", "256Mi"),
        ("billing", "invoicer", 2, "100m", "128Mi"),
        ("billing", "reporter", 1, "100m", "128Mi"),
        ("jobs", "writer-service", 3, "1", "1Gi"),
    ];
    for (ns, name, replicas, cpu, memory) in workloads {
        kube.put(&deployment(ns, name, replicas, replicas));
        let rs = replicaset(ns, name, "7d4f9", replicas);
        let rs_name = rs.metadata.name.clone().unwrap();
        kube.put(&rs);
        for i in 0..replicas {
            let pod_name = format!("{rs_name}-{i}");
            kube.put(&pod(ns, &pod_name, "ReplicaSet", &rs_name, cpu, memory));
            if metrics {
                let used = format!("{}m", 60 + 37 * (i % 5) + name.len() as i32 * 11);
                kube.put_pod_metrics(ns, &pod_name, &used, "96Mi");
            }
        }
    }
    kube.put(&hpa("shop", "api", 2, 12, 70));
    kube.put(&statefulset("jobs", "ledger", 3, 3));
    for i in 0..3 {
        kube.put(&pod(
            "jobs",
            &format!("ledger-{i}"),
            "StatefulSet",
            "ledger",
            "500m",
            "2Gi",
        ));
    }
    // One workload short of a replica, with the scheduler's reason.
    kube.put(&deployment("billing", "exporter", 2, 1));
    kube.put(&replicaset("billing", "exporter", "5c8", 2));
    kube.put(&pod(
        "billing",
        "exporter-5c8-a",
        "ReplicaSet",
        "exporter-5c8",
        "2",
        "1Gi",
    ));
    kube.put(&unschedulable(
        pod(
            "billing",
            "exporter-5c8-b",
            "ReplicaSet",
            "exporter-5c8",
            "2",
            "1Gi",
        ),
        "0/3 nodes are available: 3 Insufficient cpu.",
    ));
    kube.put(&waiting(
        pod(
            "shop",
            "checkout-7d4f9-9",
            "ReplicaSet",
            "checkout-7d4f9",
            "250m",
            "256Mi",
        ),
        "ImagePullBackOff",
    ));
}

fn main() {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "/tmp/scaleboard-fake".into()),
    );
    let config = dir.join("config");
    std::fs::create_dir_all(&config).unwrap();
    let eu = FakeKube::start();
    let us = FakeKube::start();
    populate(&eu, 2, true);
    populate(&us, 1, false);
    // The clusters settle like real rollouts do: spec -> ready after each change.
    let kubeconfig = dir.join("kubeconfig.yaml");
    std::fs::write(
        &kubeconfig,
        fake_kube::kubeconfig(&[("prod-eu", &eu), ("prod-us", &us)]),
    )
    .unwrap();
    std::fs::write(
        config.join("profiles.toml"),
        format!(
            "[[profile]]\nname = \"fake-clusters\"\nrefresh_interval_secs = 1\n\n\
             [[profile.kubernetes]]\nname = \"clusters\"\nkubeconfig = \"{}\"\n\
             contexts = [\"prod-eu\", \"prod-us\"]\n",
            kubeconfig.display()
        ),
    )
    .unwrap();
    println!("prod-eu: {}  prod-us: {}", eu.url(), us.url());
    println!("kubeconfig: {}", kubeconfig.display());
    println!(
        "run: SCALEBOARD_CONFIG_DIR={} cargo run -- --profile fake-clusters",
        config.display()
    );
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
