//! Verification in the fit check's words: a scale beyond the nodes' room, run through the CLI
//! (`scaleboard scale --yes`) against the strict fake API server, whose new pods stay Pending.
//! Without the scheduler's own message, the outcome names what is short; with it, the
//! scheduler's message is what the operator reads.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use k8s_openapi::api::core::v1::{Pod, PodStatus};
use std::time::{Duration, Instant};
use support::fake_kube::{self, FakeKube, Res};

/// Two nodes of 800m, each running one replica of "web" (500m, 256Mi): 300m free on each.
fn cluster() -> FakeKube {
    let kube = FakeKube::start();
    kube.state().auto_ready = false;
    for n in ["node-a", "node-b"] {
        kube.put(&fake_kube::node(n, "800m", "8Gi", "110"));
    }
    let mut d = fake_kube::deployment("shop", "web", 2, 2);
    fake_kube::template_requests(
        &mut d.spec.as_mut().unwrap().template,
        Some("500m"),
        Some("256Mi"),
    );
    kube.put(&d);
    kube.put(&fake_kube::replicaset("shop", "web", "abc", 2));
    for (i, n) in ["node-a", "node-b"].iter().enumerate() {
        kube.put(&fake_kube::bound(web_pod(i), n));
    }
    kube
}

fn web_pod(i: usize) -> Pod {
    fake_kube::pod(
        "shop",
        &format!("web-abc-{i}"),
        "ReplicaSet",
        "web-abc",
        "500m",
        "256Mi",
    )
}

/// A new pod no node has taken; `scheduler` is the PodScheduled=False message, when any.
fn pending_pod(i: usize, scheduler: Option<&str>) -> Pod {
    match scheduler {
        Some(message) => fake_kube::unschedulable(web_pod(i), message),
        None => {
            let mut p = web_pod(i);
            p.status = Some(PodStatus {
                phase: Some("Pending".into()),
                ..PodStatus::default()
            });
            p
        }
    }
}

/// Scale web to `replicas` through the CLI; once the Deployment holds the new count, the
/// "controller" creates the new pods with `make_pod` (they stay Pending). Returns the CLI's
/// output and the audit log.
fn scale(
    kube: &FakeKube,
    dir: &std::path::Path,
    replicas: usize,
    make_pod: fn(usize) -> Pod,
) -> (String, String) {
    let config = dir.join("config");
    std::fs::create_dir_all(&config).unwrap();
    let kubeconfig = dir.join("kubeconfig.yaml");
    std::fs::write(&kubeconfig, fake_kube::kubeconfig(&[("prod", kube)])).unwrap();
    std::fs::write(
        config.join("profiles.toml"),
        format!(
            "[[profile]]\nname = \"cap\"\n[[profile.kubernetes]]\nname = \"k8s\"\n\
             kubeconfig = \"{}\"\ncontexts = [\"prod\"]\n",
            kubeconfig.display()
        ),
    )
    .unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_scaleboard"))
        .env("SCALEBOARD_CONFIG_DIR", &config)
        .env("SCALEBOARD_DATA_DIR", dir.join("data"))
        .args(["scale", "--profile", "cap", "prod/shop/deployment/web"])
        .arg(replicas.to_string())
        .args(["--grace", "0", "--verify-timeout", "5", "--yes"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let want = kube
            .get(Res::Deployments, "shop", "web")
            .and_then(|d| d["spec"]["replicas"].as_u64());
        if want == Some(replicas as u64) {
            break;
        }
        assert!(Instant::now() < deadline, "the scale was never written");
        std::thread::sleep(Duration::from_millis(50));
    }
    for i in 0..replicas {
        if kube
            .get(Res::Pods, "shop", &format!("web-abc-{i}"))
            .is_none()
        {
            kube.put(&make_pod(i));
        }
    }
    let out = child.wait_with_output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let audit = std::fs::read_to_string(dir.join("data").join("audit.jsonl")).unwrap_or_default();
    (text, audit)
}

#[test]
fn pending_pods_without_a_scheduler_message_are_reported_with_the_fit_checks_reason() {
    let kube = cluster();
    let dir = tempfile::tempdir().unwrap();
    let (out, audit) = scale(&kube, dir.path(), 5, |i| pending_pod(i, None));
    let reason = "3 Pending: insufficient cpu: each needs 500m, the largest free room is 300m \
                  (the fit check's reason: the scheduler has not said why)";
    assert!(
        out.contains(&format!(
            "applied, not ready yet after 5 s: 5 desired, 2 ready; {reason}"
        )),
        "{out}"
    );
    assert!(audit.contains(reason), "{audit}");
}

#[test]
fn a_message_less_unschedulable_condition_also_gets_the_fit_reason() {
    let kube = cluster();
    let dir = tempfile::tempdir().unwrap();
    let (out, _) = scale(&kube, dir.path(), 4, |i| pending_pod(i, Some("")));
    assert!(
        out.contains(
            "4 desired, 2 ready; 2 Pending: insufficient cpu: each needs 500m, the largest free \
             room is 300m (the fit check's reason"
        ),
        "{out}"
    );
}

#[test]
fn the_schedulers_own_message_is_used_when_it_gives_one() {
    let kube = cluster();
    let dir = tempfile::tempdir().unwrap();
    let (out, audit) = scale(&kube, dir.path(), 5, |i| {
        pending_pod(i, Some("0/2 nodes are available: 2 Insufficient cpu."))
    });
    assert!(
        out.contains(
            "5 desired, 2 ready; pod web-abc-2 Pending: Unschedulable: 0/2 nodes are available: \
             2 Insufficient cpu."
        ),
        "{out}"
    );
    assert!(!out.contains("the fit check's reason"), "{out}");
    assert!(!audit.contains("the fit check's reason"), "{audit}");
}
