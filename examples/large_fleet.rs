//! A large fleet to look at the Overview and the Workloads table with (and to take the README's
//! screenshot): three fake Kubernetes API servers ("prod-eu", "prod-us", "staging", the
//! protocol-level fake the tests use) with 1,000 Deployments each over 20 namespaces, a few of
//! them short of replicas, and pods with metrics for some. Writes a kubeconfig and a profile,
//! then serves until Ctrl-C:
//!
//! ```text
//! cargo run --example large_fleet -- /tmp/sb-large
//! SCALEBOARD_CONFIG_DIR=/tmp/sb-large/config cargo run -- --profile large-fleet
//! ```

#![allow(clippy::unwrap_used)]

#[path = "../tests/support/fake_kube.rs"]
mod fake_kube;

use fake_kube::{FakeKube, deployment, pod, replicaset};

const PER_CONTEXT: usize = 1000;
const NAMESPACES: usize = 20;

fn populate(kube: &FakeKube, seed: usize) {
    for i in 0..PER_CONTEXT {
        let ns = format!("team-{:02}", (i * 7 + seed) % NAMESPACES);
        let name = format!("svc-{i:04}");
        let replicas = 1 + ((i * 13 + seed) % 5) as i32;
        // About one in 150 is short of replicas, a few by a lot.
        let ready = if (i + seed * 11).is_multiple_of(150) {
            replicas / 3
        } else {
            replicas
        };
        kube.put(&deployment(&ns, &name, replicas, ready));
        // Pods with metrics for one in 25: enough for a CPU ranking.
        if i.is_multiple_of(25) {
            let rs = replicaset(&ns, &name, "7d4f9", replicas);
            let rs_name = rs.metadata.name.clone().unwrap();
            kube.put(&rs);
            for p in 0..replicas {
                let pod_name = format!("{rs_name}-{p}");
                kube.put(&pod(
                    &ns,
                    &pod_name,
                    "ReplicaSet",
                    &rs_name,
                    "250m",
                    "256Mi",
                ));
                let used = format!("{}m", 40 + (i * 37 + p as usize * 11 + seed) % 220);
                kube.put_pod_metrics(&ns, &pod_name, &used, "96Mi");
            }
        }
    }
}

fn main() {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "/tmp/scaleboard-large".into()),
    );
    let config = dir.join("config");
    std::fs::create_dir_all(&config).unwrap();
    let names = ["prod-eu", "prod-us", "staging"];
    let servers: Vec<FakeKube> = names.iter().map(|_| FakeKube::start()).collect();
    for (seed, kube) in servers.iter().enumerate() {
        populate(kube, seed);
    }
    let kubeconfig = dir.join("kubeconfig.yaml");
    let contexts: Vec<(&str, &FakeKube)> = names.iter().copied().zip(&servers).collect();
    std::fs::write(&kubeconfig, fake_kube::kubeconfig(&contexts)).unwrap();
    std::fs::write(
        config.join("profiles.toml"),
        format!(
            "[[profile]]\nname = \"large-fleet\"\nrefresh_interval_secs = 2\n\n\
             [[profile.kubernetes]]\nname = \"clusters\"\nkubeconfig = \"{}\"\n\
             contexts = [\"prod-eu\", \"prod-us\", \"staging\"]\n",
            kubeconfig.display()
        ),
    )
    .unwrap();
    println!("kubeconfig: {}", kubeconfig.display());
    println!(
        "run: SCALEBOARD_CONFIG_DIR={} cargo run -- --profile large-fleet",
        config.display()
    );
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}
