//! The fit check of a Kubernetes scale up, through the CLI's plan (`scaleboard scale` without
//! a confirmation) against the strict fake API server: nodes with their allocatable room and
//! bound pods, taints, cordons, a ResourceQuota, a LimitRange, and a user who may not list
//! nodes. The words are those the operator reads before anything is written.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use k8s_openapi::api::core::v1::{PodStatus, Taint};
use support::fake_kube::{self, FakeKube};

/// One cluster "prod" with namespace "shop" and its Deployment "web" (2 replicas, each
/// requesting 500m and 512Mi, bound to node-a and node-b).
struct Cluster {
    kube: FakeKube,
    dir: tempfile::TempDir,
}

fn cluster(nodes: &[&str]) -> Cluster {
    let kube = FakeKube::start();
    for n in nodes {
        kube.put(&fake_kube::node(n, "4", "8Gi", "110"));
    }
    web(&kube, 2, Some("500m"), Some("512Mi"));
    for (i, n) in nodes.iter().take(2).enumerate() {
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
    Cluster {
        kube,
        dir: tempfile::tempdir().unwrap(),
    }
}

fn web(kube: &FakeKube, replicas: i32, cpu: Option<&str>, memory: Option<&str>) {
    let mut d = fake_kube::deployment("shop", "web", replicas, replicas);
    fake_kube::template_requests(&mut d.spec.as_mut().unwrap().template, cpu, memory);
    kube.put(&d);
    kube.put(&fake_kube::replicaset("shop", "web", "abc", replicas));
}

/// `scaleboard scale --profile cap prod/shop/deployment/web N`, not confirmed: the plan as
/// printed, with its guards.
fn plan_text(c: &Cluster, kubeconfig: &str, replicas: u32) -> String {
    plan_args(
        c,
        kubeconfig,
        &["prod/shop/deployment/web", &replicas.to_string()],
    )
}

fn plan_args(c: &Cluster, kubeconfig: &str, target: &[&str]) -> String {
    use std::io::Write;
    let config = c.dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let path = c.dir.path().join("kubeconfig.yaml");
    std::fs::write(&path, kubeconfig).unwrap();
    std::fs::write(
        config.join("profiles.toml"),
        format!(
            "[[profile]]\nname = \"cap\"\n[[profile.kubernetes]]\nname = \"k8s\"\n\
             kubeconfig = \"{}\"\ncontexts = [\"prod\"]\n",
            path.display()
        ),
    )
    .unwrap();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_scaleboard"))
        .env("SCALEBOARD_CONFIG_DIR", &config)
        .env("SCALEBOARD_DATA_DIR", c.dir.path().join("data"))
        .args(["scale", "--profile", "cap"])
        .args(target)
        .args(["--grace", "0"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // A wrong name typed: nothing is written whatever the plan says.
    child.stdin.take().unwrap().write_all(b"no\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        c.kube
            .state()
            .writes_by(Some("scaleboard"))
            .iter()
            .all(|w| w.dry_run),
        "{text}"
    );
    text
}

fn plan_for(c: &Cluster, replicas: u32) -> String {
    plan_text(c, &fake_kube::kubeconfig(&[("prod", &c.kube)]), replicas)
}

/// `scaleboard autoscale … --max N` with the same profile (written by an earlier plan).
fn autoscale_text(c: &Cluster, max: u32) -> String {
    let config = c.dir.path().join("config");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scaleboard"))
        .env("SCALEBOARD_CONFIG_DIR", &config)
        .env("SCALEBOARD_DATA_DIR", c.dir.path().join("data"))
        .args([
            "autoscale",
            "--profile",
            "cap",
            "prod/shop/deployment/web",
            "--min",
            "2",
            "--max",
            &max.to_string(),
            "--grace",
            "0",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn a_scale_that_fits_names_its_placement() {
    let c = cluster(&["node-a", "node-b"]);
    let out = plan_for(&c, 7);
    assert!(
        out.contains(
            "[ok] Fit of prod/shop/deployment/web: fits: 5 of 5 new replicas (node-a 3, node-b 2)."
        ),
        "{out}"
    );
    assert!(out.contains("Checked: resource fit on requests"), "{out}");
    assert!(out.contains("not simulated: "), "{out}");
}

#[test]
fn a_scale_that_does_not_fit_says_how_many_stay_pending_and_that_no_autoscaler_helps() {
    let c = cluster(&["node-a", "node-b"]);
    // Each node: 4 cores, 500m taken: 7 more each, 14 in all; 18 are asked for.
    let out = plan_for(&c, 20);
    assert!(
        out.contains(
            "[WARN] Fit of prod/shop/deployment/web: only 14 of 18 new replicas fit (node-a 7, \
             node-b 7): 4 would stay Pending (insufficient cpu: each needs 500m, the largest \
             free room is 0); no cluster autoscaler is running to add nodes"
        ),
        "{out}"
    );

    // With a cluster autoscaler in kube-system, the same shortfall may be made up.
    c.kube.put(&fake_kube::deployment(
        "kube-system",
        "cluster-autoscaler",
        1,
        1,
    ));
    let out = plan_for(&c, 20);
    assert!(
        out.contains("4 would stay Pending (insufficient cpu: each needs 500m, the largest free room is 0); a cluster autoscaler may add nodes for them (Deployment kube-system/cluster-autoscaler)."),
        "{out}"
    );
    // A managed autoscaler runs out of sight; its status ConfigMap says it is there.
    let c = cluster(&["node-a", "node-b"]);
    c.kube.put(&k8s_openapi::api::core::v1::ConfigMap {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some("cluster-autoscaler-status".into()),
            namespace: Some("kube-system".into()),
            ..Default::default()
        },
        data: Some(
            [(
                "status".to_string(),
                "Cluster-wide: Health: Healthy".to_string(),
            )]
            .into(),
        ),
        ..Default::default()
    });
    let out = plan_for(&c, 20);
    assert!(
        out.contains("a cluster autoscaler may add nodes for them (ConfigMap kube-system/cluster-autoscaler-status)."),
        "{out}"
    );
}

#[test]
fn a_taint_the_template_does_not_tolerate_keeps_replicas_off_its_node() {
    let c = cluster(&["node-a", "node-b"]);
    let mut b = fake_kube::node("node-b", "4", "8Gi", "110");
    b.spec.as_mut().unwrap().taints = Some(vec![Taint {
        key: "dedicated".into(),
        value: Some("gpu".into()),
        effect: "NoSchedule".into(),
        time_added: None,
    }]);
    c.kube.put(&b);
    let out = plan_for(&c, 10);
    assert!(
        out.contains(
            "[WARN] Fit of prod/shop/deployment/web: only 7 of 8 new replicas fit (node-a 7): 1 \
             would stay Pending (insufficient cpu: each needs 500m, the largest free room is 0; \
             1 node untolerated taint dedicated=gpu:NoSchedule)"
        ),
        "{out}"
    );
}

#[test]
fn a_cordoned_node_is_not_used() {
    let c = cluster(&["node-a", "node-b"]);
    let mut b = fake_kube::node("node-b", "4", "8Gi", "110");
    b.spec.as_mut().unwrap().unschedulable = Some(true);
    c.kube.put(&b);
    let out = plan_for(&c, 4);
    assert!(
        out.contains("[ok] Fit of prod/shop/deployment/web: fits: 2 of 2 new replicas (node-a 2)."),
        "{out}"
    );
    let out = plan_for(&c, 10);
    assert!(
        out.contains("only 7 of 8 new replicas fit (node-a 7): 1 would stay Pending (insufficient cpu: each needs 500m, the largest free room is 0; 1 node cordoned)"),
        "{out}"
    );
}

#[test]
fn finished_pods_hold_no_room() {
    let kube = FakeKube::start();
    kube.put(&fake_kube::node("node-a", "2", "8Gi", "110"));
    web(&kube, 1, Some("500m"), Some("512Mi"));
    let running = fake_kube::pod(
        "shop",
        "web-abc-0",
        "ReplicaSet",
        "web-abc",
        "500m",
        "512Mi",
    );
    kube.put(&fake_kube::bound(running, "node-a"));
    // Three finished Job pods of 500m each on the same node: they take nothing any more.
    for (i, phase) in ["Succeeded", "Failed", "Succeeded"].iter().enumerate() {
        let mut p = fake_kube::pod("shop", &format!("job-{i}"), "Job", "job", "500m", "64Mi");
        p.status = Some(PodStatus {
            phase: Some((*phase).into()),
            ..PodStatus::default()
        });
        kube.put(&fake_kube::bound(p, "node-a"));
    }
    let c = Cluster {
        kube,
        dir: tempfile::tempdir().unwrap(),
    };
    let out = plan_for(&c, 4);
    assert!(
        out.contains("[ok] Fit of prod/shop/deployment/web: fits: 3 of 3 new replicas (node-a 3)."),
        "{out}"
    );
}

#[test]
fn a_quota_that_would_be_exceeded_refuses() {
    let c = cluster(&["node-a", "node-b"]);
    c.kube.put(&fake_kube::quota(
        "shop",
        "compute",
        &[("pods", "10"), ("requests.cpu", "8")],
        &[("pods", "2"), ("requests.cpu", "1")],
    ));
    let out = plan_for(&c, 12);
    assert!(
        out.contains(
            "[REFUSED] ResourceQuota compute would be exceeded: pods would be 12 of 10 (used 2); \
             the API server would reject the new pods (scale of prod/shop/deployment/web to 12)."
        ),
        "{out}"
    );
    // Within the quota: no refusal.
    let out = plan_for(&c, 6);
    assert!(!out.contains("[REFUSED]"), "{out}");
    assert!(out.contains("fits: 4 of 4 new replicas"), "{out}");
}

#[test]
fn a_template_without_requests_takes_the_limit_range_default_or_says_unknown() {
    let c = cluster(&["node-a"]);
    web(&c.kube, 2, None, None);
    let out = plan_for(&c, 4);
    assert!(
        out.contains("fits: 2 of 2 new replicas (node-a 2) — unknown room: the template requests no cpu or memory, only the pod count was checked"),
        "{out}"
    );
    c.kube
        .put(&fake_kube::limit_range("shop", "defaults", "2", "1Gi"));
    // 4 cores, 500m taken by the bound pod: 3500m free, 2 cores each: one fits.
    let out = plan_for(&c, 4);
    assert!(
        out.contains(
            "[WARN] Fit of prod/shop/deployment/web: only 1 of 2 new replicas fit (node-a 1): 1 \
             would stay Pending (insufficient cpu: each needs 2, the largest free room is 1500m)"
        ),
        "{out}"
    );
    assert!(
        out.contains("Requests used: cpu request 2 from LimitRange defaults, memory request"),
        "{out}"
    );
}

#[test]
fn a_user_who_may_not_list_nodes_is_told_the_fit_was_not_checked() {
    let c = cluster(&["node-a", "node-b"]);
    c.kube.state().only_namespaces = Some(["shop".to_string()].into());
    let out = plan_text(
        &c,
        &fake_kube::kubeconfig_with_namespaces(&[("prod", &c.kube, "shop")]),
        7,
    );
    assert!(
        out.contains(
            "[WARN] Fit of prod/shop/deployment/web not checked: may not list nodes: fit check \
             unavailable."
        ),
        "{out}"
    );
    assert!(!out.contains("fits: "), "{out}");
}

/// The re-check right before the write plans again on fresh state: a quota used up between
/// plan and write refuses then, and nothing is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_recheck_before_the_write_runs_the_fit_check_again() {
    use scaleboard::actions::recheck::{Recheck, recheck};
    use scaleboard::actions::{Action, PlanPolicy, plan};
    use scaleboard::connectors::Connector;
    use scaleboard::connectors::kubernetes::KubernetesConnector;
    use scaleboard::model::snapshot::{Snapshot, WorkloadKind, WorkloadRef};
    let c = cluster(&["node-a", "node-b"]);
    c.kube.put(&fake_kube::quota(
        "shop",
        "compute",
        &[("pods", "10")],
        &[("pods", "2")],
    ));
    let path = c.dir.path().join("kubeconfig.yaml");
    std::fs::write(&path, fake_kube::kubeconfig(&[("prod", &c.kube)])).unwrap();
    let connector = KubernetesConnector::new(scaleboard::profiles::KubernetesEndpoint {
        name: "k8s".into(),
        kubeconfig: Some(path),
        contexts: vec!["prod".into()],
        namespaces: Vec::new(),
    });
    let out = connector.poll().await.unwrap();
    let action = Action::ScaleWorkload {
        workload: WorkloadRef::new("k8s", "prod/shop", WorkloadKind::Deployment, "web"),
        replicas: 6,
    };
    let policy = PlanPolicy {
        profile: "cap".into(),
        read_only: false,
        max_failover_lag_bytes: 1 << 20,
        kube_context: None,
        patroni_links: Vec::new(),
    };
    let view = scaleboard::actions::recheck::FreshView {
        endpoint: "k8s",
        snapshot: &out.snapshot,
    };
    let planned = plan(action.clone(), &view, &policy);
    assert!(!planned.refused(), "{:?}", planned.guards);
    assert!(
        planned
            .guards
            .iter()
            .any(|g| g.reason.contains("fits: 4 of 4 new replicas")),
        "{:?}",
        planned.guards
    );
    // Another team's pods take the quota meanwhile.
    c.kube.put(&fake_kube::quota(
        "shop",
        "compute",
        &[("pods", "10")],
        &[("pods", "9")],
    ));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let Some(fresh @ Snapshot::Workloads(_)) = connector.read_fresh(&action).await.unwrap()
        else {
            panic!("no fresh read");
        };
        if let (Recheck::Changed(why), _) = recheck(&planned, &fresh, false) {
            assert_eq!(
                why,
                [
                    "a guard refuses now: ResourceQuota compute would be exceeded: pods would be \
                  13 of 10 (used 9); the API server would reject the new pods (scale of \
                  prod/shop/deployment/web to 6)."
                ]
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the quota change never counted"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[test]
fn an_autoscaler_max_the_cluster_cannot_run_is_warned_about() {
    let c = cluster(&["node-a", "node-b"]);
    plan_for(&c, 2);
    let out = autoscale_text(&c, 20);
    assert!(
        out.contains(
            "[WARN] At maxReplicas 20: Fit of prod/shop/deployment/web: only 14 of 18 new \
             replicas fit (node-a 7, node-b 7): 4 would stay Pending"
        ),
        "{out}"
    );
    let out = autoscale_text(&c, 10);
    assert!(
        out.contains("[ok] At maxReplicas 10: Fit of prod/shop/deployment/web: fits: 8 of 8 new replicas (node-a 4, node-b 4)."),
        "{out}"
    );
}

#[test]
fn a_bulk_scale_places_its_workloads_one_after_the_other() {
    let kube = FakeKube::start();
    kube.put(&fake_kube::node("node-a", "4", "8Gi", "110"));
    web(&kube, 1, Some("500m"), Some("512Mi"));
    let p = fake_kube::pod(
        "shop",
        "web-abc-0",
        "ReplicaSet",
        "web-abc",
        "500m",
        "512Mi",
    );
    kube.put(&fake_kube::bound(p, "node-a"));
    let mut api = fake_kube::deployment("shop", "api", 1, 1);
    fake_kube::template_requests(
        &mut api.spec.as_mut().unwrap().template,
        Some("500m"),
        Some("512Mi"),
    );
    kube.put(&api);
    let c = Cluster {
        kube,
        dir: tempfile::tempdir().unwrap(),
    };
    // 3500m free: 7 replicas of 500m. Each scale up of 4 fits alone, not both together.
    let config = fake_kube::kubeconfig(&[("prod", &c.kube)]);
    let out = plan_args(&c, &config, &["prod/shop", "5", "--all"]);
    assert!(
        out.contains("[WARN] Fit of prod/shop/deployment/web: only 3 of 4 new replicas fit (node-a 3): 1 would stay Pending"),
        "{out}"
    );
    assert!(!out.contains("Fit of prod/shop/deployment/api"), "{out}");

    // Without node access, one line says the fit was not checked.
    c.kube.state().only_namespaces = Some(["shop".to_string()].into());
    let config = fake_kube::kubeconfig_with_namespaces(&[("prod", &c.kube, "shop")]);
    let out = plan_args(&c, &config, &["prod/shop", "5", "--all"]);
    assert!(
        out.contains("[WARN] Fit of 2 scale ups in context prod not checked: may not list nodes: fit check unavailable."),
        "{out}"
    );
}

#[test]
fn replicas_already_pending_are_placed_with_the_new_ones() {
    let kube = FakeKube::start();
    // 2 cores: two replicas of 500m run there, room for two more.
    kube.put(&fake_kube::node("node-a", "2", "8Gi", "110"));
    web(&kube, 4, Some("500m"), Some("512Mi"));
    for i in 0..4 {
        let p = fake_kube::pod(
            "shop",
            &format!("web-abc-{i}"),
            "ReplicaSet",
            "web-abc",
            "500m",
            "512Mi",
        );
        // Two are bound; two wait for a node (the scheduler found no room yet).
        if i < 2 {
            kube.put(&fake_kube::bound(p, "node-a"));
        } else {
            kube.put(&fake_kube::unschedulable(
                p,
                "0/1 nodes are available: 1 Insufficient cpu.",
            ));
        }
    }
    let c = Cluster {
        kube,
        dir: tempfile::tempdir().unwrap(),
    };
    let out = plan_for(&c, 5);
    assert!(
        out.contains(
            "[WARN] Fit of prod/shop/deployment/web: only 2 of 3 new replicas fit (node-a 2): 1 \
             would stay Pending (insufficient cpu: each needs 500m, the largest free room is 0)"
        ),
        "{out}"
    );
    assert!(
        out.contains("(2 of them already exist, Pending without a node)"),
        "{out}"
    );
}
