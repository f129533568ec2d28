//! The command line against the protocol-level fake API server (issue #21): an autoscaler edit
//! changes only what was given; `status` names every context with its state and exits 2 when
//! one is not watched; stderr carries our own words, one line per state change, never a
//! library's debug structure; a context whose server comes back is live at the first poll that
//! finds it answering.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use scaleboard::connectors::Connector;
use scaleboard::connectors::kubernetes::KubernetesConnector;
use scaleboard::model::snapshot::Snapshot;
use scaleboard::profiles::KubernetesEndpoint;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use support::fake_kube::{self, FakeKube, Res};

/// What one run of the binary gave.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs `scaleboard ARGS` with a profile "k8s-test" whose Kubernetes endpoint "k8s" watches
/// `contexts` of `kubeconfig`; `rust_log` None leaves RUST_LOG unset (the default filter).
fn run(
    dir: &Path,
    kubeconfig: &Path,
    contexts: &[&str],
    args: &[&str],
    rust_log: Option<&str>,
) -> Run {
    let config = dir.join("config");
    std::fs::create_dir_all(&config).unwrap();
    let list: Vec<String> = contexts.iter().map(|c| format!("\"{c}\"")).collect();
    std::fs::write(
        config.join("profiles.toml"),
        format!(
            "[[profile]]\nname = \"k8s-test\"\n[[profile.kubernetes]]\nname = \"k8s\"\n\
             kubeconfig = \"{}\"\ncontexts = [{}]\n",
            kubeconfig.display(),
            list.join(", ")
        ),
    )
    .unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scaleboard"));
    cmd.env("SCALEBOARD_CONFIG_DIR", &config)
        .env("SCALEBOARD_DATA_DIR", dir.join("data"))
        .env("SCALEBOARD_KEYRING", "off")
        .env_remove("RUST_LOG")
        .arg("--profile")
        .arg("k8s-test")
        .args(args)
        .stdin(std::process::Stdio::null());
    if let Some(filter) = rust_log {
        cmd.env("RUST_LOG", filter);
    }
    let out = cmd.output().unwrap();
    Run {
        code: out.status.code().unwrap(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn write_kubeconfig(dir: &Path, contexts: &[(&str, &FakeKube, &str)]) -> PathBuf {
    let path = dir.join("kubeconfig.yaml");
    std::fs::write(&path, fake_kube::kubeconfig_with_namespaces(contexts)).unwrap();
    path
}

/// An HPA on api-gateway with CPU 60 %, a memory target and a scale-down behavior.
fn hpa_60_memory_behavior() -> HorizontalPodAutoscaler {
    let mut value =
        serde_json::to_value(fake_kube::hpa("nexus", "api-gateway", 2, 10, 60)).unwrap();
    value["spec"]["metrics"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "type": "Resource",
            "resource": { "name": "memory", "target": { "type": "Utilization", "averageUtilization": 75 } },
        }));
    value["spec"]["behavior"] = serde_json::json!({
        "scaleDown": {
            "stabilizationWindowSeconds": 300,
            "policies": [{ "type": "Pods", "value": 1, "periodSeconds": 60 }],
        },
    });
    serde_json::from_value(value).unwrap()
}

/// The HPA's spec as stored by the fake server, without the fields an edit may change.
fn spec_besides_min_max(hpa: &Value) -> Value {
    let mut spec = hpa["spec"].clone();
    let map = spec.as_object_mut().unwrap();
    map.remove("minReplicas");
    map.remove("maxReplicas");
    spec
}

#[test]
fn autoscale_with_min_and_max_or_max_alone_changes_only_those() {
    let kube = FakeKube::start();
    kube.put(&fake_kube::deployment("nexus", "api-gateway", 4, 4));
    kube.put(&hpa_60_memory_behavior());
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(dir.path(), &[("east", &kube, "default")]);
    let before = kube.get(Res::Hpas, "nexus", "api-gateway").unwrap();
    let autoscale = |extra: &[&str]| {
        let mut args = vec!["autoscale", "east/nexus/deployment/api-gateway"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--yes", "--grace", "0"]);
        run(dir.path(), &kubeconfig, &["east"], &args, None)
    };

    // --min 3 --max 12 on an HPA whose CPU target is 60 %: the target stays 60 %.
    let out = autoscale(&["--min", "3", "--max", "12"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("CPU target 60 % (unchanged)"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("memory 75 % of requests (unchanged)"),
        "{}",
        out.stdout
    );
    // The kubectl line patches only what changes: no metrics list.
    assert!(
        out.stdout
            .contains("patch hpa api-gateway --type=merge -p '{\"spec\":{\"minReplicas\":3,\"maxReplicas\":12}}'"),
        "{}",
        out.stdout
    );
    let after = kube.get(Res::Hpas, "nexus", "api-gateway").unwrap();
    assert_eq!(after["spec"]["minReplicas"], 3);
    assert_eq!(after["spec"]["maxReplicas"], 12);
    assert_eq!(
        spec_besides_min_max(&after),
        spec_besides_min_max(&before),
        "CPU 60 %, the memory metric and the behavior are as they were"
    );
    // The server records which fields Scaleboard's write set: min and max, not the metrics.
    let managed = after["metadata"]["managedFields"].as_array().unwrap();
    let ours = managed
        .iter()
        .find(|m| m["manager"] == "scaleboard")
        .unwrap_or_else(|| panic!("{managed:?}"));
    let fields = &ours["fieldsV1"]["f:spec"];
    assert!(fields["f:minReplicas"].is_object(), "{ours}");
    assert!(fields.get("f:metrics").is_none(), "{ours}");

    // --max alone: only max changes; min 3 (set above) and CPU 60 % stay.
    let out = autoscale(&["--max", "15"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("min 3 (unchanged)"), "{}", out.stdout);
    let after = kube.get(Res::Hpas, "nexus", "api-gateway").unwrap();
    assert_eq!(after["spec"]["minReplicas"], 3);
    assert_eq!(after["spec"]["maxReplicas"], 15);
    assert_eq!(spec_besides_min_max(&after), spec_besides_min_max(&before));

    // --min alone above the kept max is refused, judged on the merged range; nothing written.
    let out = autoscale(&["--min", "20"]);
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(
        out.stdout.contains("min 20 / max 15 is not a valid range")
            && out
                .stdout
                .contains("max 15 is the autoscaler's current value"),
        "{}",
        out.stdout
    );
    assert_eq!(
        kube.get(Res::Hpas, "nexus", "api-gateway").unwrap()["spec"]["minReplicas"],
        3
    );

    // A new autoscaler without --max is refused with the defaults named; with it, the
    // documented defaults apply (min 1, CPU 80 %).
    kube.put(&fake_kube::deployment("nexus", "worker", 2, 2));
    let target = "east/nexus/deployment/worker";
    let out = run(
        dir.path(),
        &kubeconfig,
        &["east"],
        &["autoscale", target, "--min", "2", "--yes", "--grace", "0"],
        None,
    );
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("has no autoscaler yet: give --max"),
        "{}",
        out.stderr
    );
    let out = run(
        dir.path(),
        &kubeconfig,
        &["east"],
        &["autoscale", target, "--max", "4", "--yes", "--grace", "0"],
        None,
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let created = kube.get(Res::Hpas, "nexus", "worker").unwrap();
    assert_eq!(created["spec"]["minReplicas"], 1);
    assert_eq!(created["spec"]["maxReplicas"], 4);
    assert_eq!(
        created["spec"]["metrics"][0]["resource"]["target"]["averageUtilization"],
        80
    );
}

/// The closed port of a server that was started and stopped.
fn stopped_server() -> FakeKube {
    let dead = FakeKube::start();
    dead.stop();
    dead
}

#[test]
fn status_names_every_context_and_exits_2_when_one_is_not_watched() {
    let east = FakeKube::start();
    east.put(&fake_kube::deployment("nexus", "writer-service", 2, 2));
    let dead = stopped_server();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(
        dir.path(),
        &[("east", &east, "default"), ("dead", &dead, "default")],
    );
    let contexts = ["east", "gone", "dead"];

    let text = run(dir.path(), &kubeconfig, &contexts, &["status"], None);
    assert_eq!(text.code, 2, "{}\n{}", text.stdout, text.stderr);
    let line = text
        .stdout
        .lines()
        .find(|l| l.contains("Kubernetes k8s"))
        .unwrap_or_else(|| panic!("{}", text.stdout));
    assert!(line.starts_with("degraded"), "{line}");
    for expected in [
        "context east: ok",
        "context gone: missing: no context of this name in",
        "context dead: down: no answer from the API server",
    ] {
        assert!(
            text.stdout.lines().any(|l| l.contains(expected)),
            "{expected:?} not in:\n{}",
            text.stdout
        );
    }

    let json = run(
        dir.path(),
        &kubeconfig,
        &contexts,
        &["status", "--json"],
        None,
    );
    assert_eq!(json.code, 2, "{}", json.stderr);
    let reports: Value = serde_json::from_str(&json.stdout).unwrap();
    let report = reports
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["endpoint"] == "k8s")
        .unwrap();
    assert_eq!(report["status"], "degraded", "{report:#}");
    assert_eq!(report["exit_code"], 2, "{report:#}");
    let member = |name: &str| {
        report["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == name)
            .unwrap_or_else(|| panic!("no member {name}: {report:#}"))
            .clone()
    };
    assert_eq!(member("context east")["state"], "ok");
    let gone = member("context gone");
    assert_eq!(gone["state"], "down");
    assert!(
        gone["reason"].as_str().unwrap().starts_with("missing: "),
        "{gone}"
    );
    // The same contexts with their own five-valued state, as the window shows them.
    let context = |name: &str| {
        report["contexts"]
            .as_array()
            .unwrap_or_else(|| panic!("no contexts: {report:#}"))
            .iter()
            .find(|c| c["context"] == name)
            .unwrap_or_else(|| panic!("no context {name}: {report:#}"))
            .clone()
    };
    assert_eq!(context("east")["state"], "ok", "{report:#}");
    assert_eq!(context("gone")["state"], "missing", "{report:#}");
    assert_eq!(context("dead")["state"], "down", "{report:#}");
    let dead_member = member("context dead");
    assert_eq!(dead_member["state"], "down");
    assert!(
        dead_member["reason"]
            .as_str()
            .unwrap()
            .contains("no answer from the API server"),
        "{dead_member}"
    );

    // All contexts fine: exit 0, and the summary line still names each one.
    let ok = run(dir.path(), &kubeconfig, &["east"], &["status"], None);
    assert_eq!(ok.code, 0, "{}\n{}", ok.stdout, ok.stderr);
    assert!(ok.stdout.contains("context east ok"), "{}", ok.stdout);
}

/// Lines that are a library's debug structure, not words.
fn assert_no_dumps(stderr: &str) {
    for line in stderr.lines() {
        for raw in ["Status {", "Custom {", "Some(", "hyper::"] {
            assert!(
                !line.contains(raw),
                "raw {raw:?} in stderr line: {line}\n{stderr}"
            );
        }
    }
}

/// Our log lines about one context (env_logger's `[… LEVEL target] message`).
fn log_lines<'a>(stderr: &'a str, context: &str) -> Vec<&'a str> {
    let about = format!("] context {context}:");
    stderr.lines().filter(|l| l.contains(&about)).collect()
}

#[test]
fn stderr_has_one_line_in_words_per_state_change_and_no_library_dumps() {
    let dir = tempfile::tempdir().unwrap();
    // A server that is down: one line, "lost", whatever the library retried meanwhile.
    let dead = stopped_server();
    let kubeconfig = write_kubeconfig(dir.path(), &[("dead", &dead, "default")]);
    let out = run(dir.path(), &kubeconfig, &["dead"], &["status"], None);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert_no_dumps(&out.stderr);
    let lines = log_lines(&out.stderr, "dead");
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].contains("lost: no answer from the API server"),
        "{}",
        lines[0]
    );

    // A user who may read one namespace only: one line, "forbidden", naming what and where.
    let kube = FakeKube::start();
    kube.put(&fake_kube::deployment("nexus", "writer-service", 2, 2));
    kube.state().only_namespaces = Some(["nexus".to_string()].into());
    let kubeconfig = write_kubeconfig(dir.path(), &[("tenant", &kube, "nexus")]);
    let out = run(dir.path(), &kubeconfig, &["tenant"], &["status"], None);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_no_dumps(&out.stderr);
    let lines = log_lines(&out.stderr, "tenant");
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].contains(
            "forbidden: may not list deployments, statefulsets, horizontalpodautoscalers, pods, \
             replicasets in all namespaces; showing namespace nexus only"
        ),
        "{}",
        lines[0]
    );

    // RUST_LOG still lets the library's own records through for whoever asks for them.
    let out = run(
        dir.path(),
        &kubeconfig,
        &["tenant"],
        &["status"],
        Some("warn"),
    );
    assert!(out.stderr.contains("kube_runtime"), "{}", out.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_returning_server_is_live_at_the_first_poll_that_finds_it_answering() {
    let kube = FakeKube::start();
    kube.put(&fake_kube::deployment("nexus", "writer-service", 3, 3));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(dir.path(), &[("east", &kube, "default")]);
    let connector = KubernetesConnector::new(KubernetesEndpoint {
        name: "k8s".into(),
        kubeconfig: Some(kubeconfig),
        contexts: vec!["east".into()],
        namespaces: Vec::new(),
    });
    connector.poll().await.unwrap();
    kube.stop();
    // Polls while it is away (one per refresh interval); the watches back off meanwhile.
    for _ in 0..4 {
        let Err(err) = connector.poll().await else {
            panic!("a stopped server answered")
        };
        let err = err.to_string();
        assert!(err.contains("no answer from the API server"), "{err}");
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    }
    kube.state().auto_ready = false;
    kube.modify(Res::Deployments, "nexus", "writer-service", |d| {
        d["spec"]["replicas"] = 7.into();
    });
    kube.resume();
    // The first poll after its return: live rows, with the change made while it was away. The
    // poll loop polls at most two intervals apart after failures, so this is "live within
    // two intervals".
    let out = connector.poll().await.unwrap();
    let Snapshot::Workloads(list) = &out.snapshot else {
        panic!("not workloads")
    };
    let writer = list.iter().find(|w| w.id.name == "writer-service").unwrap();
    assert_eq!(writer.stale_since, None, "{writer:?}");
    assert_eq!(writer.desired, 7);
    assert_eq!(list.sources.len(), 1);
    assert_eq!(
        list.sources[0].state,
        scaleboard::model::workloads::SourceState::Ok,
        "{:?}",
        list.sources
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_lists_are_read_again_the_reason_is_the_newest_not_the_old_error() {
    let kube = FakeKube::start();
    kube.put(&fake_kube::deployment("nexus", "writer-service", 3, 3));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = write_kubeconfig(dir.path(), &[("east", &kube, "default")]);
    let connector = KubernetesConnector::new(KubernetesEndpoint {
        name: "k8s".into(),
        kubeconfig: Some(kubeconfig),
        contexts: vec!["east".into()],
        namespaces: Vec::new(),
    });
    connector.poll().await.unwrap();
    kube.stop();
    for _ in 0..3 {
        let Err(err) = connector.poll().await else {
            panic!("a stopped server answered")
        };
        assert!(err.to_string().contains("refused"), "{err}");
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    }
    // Back, but loaded: a relist takes longer than a poll waits for it.
    kube.state().list_delay = std::time::Duration::from_secs(4);
    kube.resume();
    let Err(err) = connector.poll().await else {
        panic!("the relist cannot be done yet")
    };
    let err = err.to_string();
    assert!(
        err.contains("the API server answers again; its lists are being read again"),
        "{err}"
    );
    // The old error is named as what the lists failed with, not as the state of the server.
    assert!(
        !err.contains("east: list deployments in all namespaces: no answer"),
        "{err}"
    );
}
