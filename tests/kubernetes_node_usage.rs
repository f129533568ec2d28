//! Node usage from metrics-server against the strict fake API server: where metrics.k8s.io is
//! served, each node carries what it uses and the context's capacity series include "used";
//! where it is not (404) or its backend is down (503), the capacity view says so, the
//! connector does not ask again on every poll, and `scaleboard capacity` prints the reason.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use scaleboard::connectors::Connector;
use scaleboard::connectors::kubernetes::KubernetesConnector;
use scaleboard::model::capacity::{CapacityView, NodeUsage};
use scaleboard::model::snapshot::Snapshot;
use scaleboard::profiles::KubernetesEndpoint;
use std::time::{Duration, Instant};
use support::fake_kube::{self, FakeKube};

const NODE_METRICS: &str = "GET /apis/metrics.k8s.io/v1beta1/nodes?";

struct Cluster {
    kube: FakeKube,
    dir: tempfile::TempDir,
    kubeconfig: std::path::PathBuf,
}

/// Context "prod": two 4-core nodes, web's two replicas (500m, 512Mi) bound one on each.
fn cluster() -> Cluster {
    let kube = FakeKube::start();
    for n in ["node-a", "node-b"] {
        kube.put(&fake_kube::node(n, "4", "8Gi", "110"));
    }
    kube.put(&fake_kube::deployment("shop", "web", 2, 2));
    kube.put(&fake_kube::replicaset("shop", "web", "abc", 2));
    for (i, n) in ["node-a", "node-b"].iter().enumerate() {
        let p = fake_kube::pod(
            "shop",
            &format!("web-abc-{i}"),
            "ReplicaSet",
            "web-abc",
            "500m",
            "512Mi",
        );
        kube.put(&fake_kube::bound(p, n));
    }
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    std::fs::write(&kubeconfig, fake_kube::kubeconfig(&[("prod", &kube)])).unwrap();
    Cluster {
        kube,
        dir,
        kubeconfig,
    }
}

impl Cluster {
    fn connector(&self) -> KubernetesConnector {
        KubernetesConnector::new(KubernetesEndpoint {
            name: "k8s".into(),
            kubeconfig: Some(self.kubeconfig.clone()),
            contexts: vec!["prod".into()],
            namespaces: Vec::new(),
        })
    }

    /// `scaleboard capacity --profile cap [--json]`.
    fn cli(&self, json: bool) -> String {
        let config = self.dir.path().join("config");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(
            config.join("profiles.toml"),
            format!(
                "[[profile]]\nname = \"cap\"\n[[profile.kubernetes]]\nname = \"k8s\"\n\
                 kubeconfig = \"{}\"\ncontexts = [\"prod\"]\n",
                self.kubeconfig.display()
            ),
        )
        .unwrap();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_scaleboard"));
        cmd.env("SCALEBOARD_CONFIG_DIR", &config)
            .env("SCALEBOARD_DATA_DIR", self.dir.path().join("data"))
            .env("SCALEBOARD_KEYRING", "off")
            .args(["capacity", "--profile", "cap", "--timeout", "20"]);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// Poll until the context's nodes are listed; returns that poll's view and samples.
async fn poll_nodes(
    connector: &KubernetesConnector,
) -> (
    std::sync::Arc<CapacityView>,
    Vec<scaleboard::model::snapshot::Sample>,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = connector.poll().await.unwrap();
        let Snapshot::Workloads(list) = out.snapshot else {
            panic!("not a workload snapshot")
        };
        let view = list.capacity.clone().unwrap();
        if view.contexts["prod"].nodes.is_ok() {
            return (view, out.samples);
        }
        assert!(Instant::now() < deadline, "the nodes never arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn used_of(view: &CapacityView, node: &str) -> Option<NodeUsage> {
    view.contexts["prod"]
        .nodes
        .as_ref()
        .unwrap()
        .iter()
        .find(|n| n.room.name == node)
        .unwrap()
        .used
}

fn sample(samples: &[scaleboard::model::snapshot::Sample], metric: &str) -> Option<f64> {
    samples
        .iter()
        .find(|s| s.target == "k8s/capacity/prod" && s.metric == metric)
        .map(|s| s.value)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_usage_from_metrics_server_reaches_the_nodes_the_series_and_the_cli() {
    let c = cluster();
    c.kube.put_node_metrics("node-a", "1500m", "3Gi");
    // metrics-server writes nanocores and kibibytes.
    c.kube.put_node_metrics("node-b", "250000000n", "1048576Ki");
    let connector = c.connector();
    let (view, samples) = poll_nodes(&connector).await;
    assert_eq!(
        used_of(&view, "node-a"),
        Some(NodeUsage {
            cpu_milli: 1500,
            memory_bytes: 3 << 30
        })
    );
    assert_eq!(
        used_of(&view, "node-b"),
        Some(NodeUsage {
            cpu_milli: 250,
            memory_bytes: 1 << 30
        })
    );
    assert_eq!(view.contexts["prod"].usage_note, None);
    assert_eq!(sample(&samples, "cpu_used_cores"), Some(1.75));
    assert_eq!(sample(&samples, "memory_used_gib"), Some(4.0));
    assert_eq!(sample(&samples, "cpu_requested_cores"), Some(1.0));
    assert_eq!(sample(&samples, "cpu_allocatable_cores"), Some(8.0));
    assert_eq!(sample(&samples, "memory_allocatable_gib"), Some(16.0));
    // Asked again on the next poll: usage follows the nodes.
    c.kube.put_node_metrics("node-a", "3", "3Gi");
    let (view, _) = poll_nodes(&connector).await;
    assert_eq!(used_of(&view, "node-a").unwrap().cpu_milli, 3000);
    drop(connector);

    let text = tokio::task::spawn_blocking(move || {
        let text = c.cli(false);
        let json: serde_json::Value = serde_json::from_str(&c.cli(true)).unwrap();
        (text, json)
    })
    .await
    .unwrap();
    let (text, json) = text;
    assert!(
        text.contains(
            "  used        cpu 3.2 of 8.0 cores (41 %), memory 4.0 GiB of 16.0 GiB (25 %)"
        ),
        "{text}"
    );
    let used = &json["contexts"][0]["used"];
    assert_eq!(used["cpu_milli"], 3250, "{json:#}");
    assert_eq!(used["memory_bytes"], 4_u64 << 30);
    assert_eq!(used["nodes_reporting"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_metrics_server_the_view_says_so_and_is_not_asked_every_poll() {
    let c = cluster();
    let connector = c.connector();
    let (view, samples) = poll_nodes(&connector).await;
    let note = view.contexts["prod"].usage_note.clone().unwrap();
    assert!(
        note.starts_with("metrics-server not installed (metrics.k8s.io is not served)"),
        "{note}"
    );
    assert_eq!(used_of(&view, "node-a"), None);
    // No "used" sample: the plot shows a gap, never a false zero; the rest is plotted.
    assert_eq!(sample(&samples, "cpu_used_cores"), None);
    assert_eq!(sample(&samples, "cpu_requested_cores"), Some(1.0));
    for _ in 0..5 {
        let (view, _) = poll_nodes(&connector).await;
        assert_eq!(
            view.contexts["prod"].usage_note.as_deref(),
            Some(note.as_str())
        );
    }
    assert_eq!(
        c.kube.count_requests(|r| r.starts_with(NODE_METRICS)),
        1,
        "{:#?}",
        c.kube.requests()
    );
    drop(connector);
    let text = tokio::task::spawn_blocking(move || c.cli(false))
        .await
        .unwrap();
    assert!(
        text.contains("  used        not shown: metrics-server not installed"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registered_metrics_server_that_does_not_answer_is_said_as_unavailable() {
    let c = cluster();
    c.kube.put_node_metrics("node-a", "1", "1Gi");
    c.kube.state().metrics_unavailable = true;
    let connector = c.connector();
    let (view, _) = poll_nodes(&connector).await;
    let note = view.contexts["prod"].usage_note.clone().unwrap();
    // The client retries a 503 until the read's time-out: either way it reads as unavailable.
    assert!(
        note.starts_with("metrics-server unavailable (metrics.k8s.io "),
        "{note}"
    );
    assert_eq!(used_of(&view, "node-a"), None);
    let asked = c.kube.count_requests(|r| r.starts_with(NODE_METRICS));
    assert!(asked >= 1);
    for _ in 0..3 {
        let (view, _) = poll_nodes(&connector).await;
        assert_eq!(
            view.contexts["prod"].usage_note.as_deref(),
            Some(note.as_str())
        );
    }
    assert_eq!(
        c.kube.count_requests(|r| r.starts_with(NODE_METRICS)),
        asked
    );
}
