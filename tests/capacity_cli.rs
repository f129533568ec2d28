//! `scaleboard capacity`, run as a process against a temp config dir: the demo fleet's cluster
//! with its figures, its problem nodes and per workload how many more replicas fit; exit 3 when
//! no capacity can be read.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

use std::process::Command;

fn scaleboard(dir: &tempfile::TempDir) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scaleboard"));
    cmd.env("SCALEBOARD_CONFIG_DIR", dir.path().join("config"))
        .env("SCALEBOARD_KEYRING", "off")
        .env_remove("SCALEBOARD_DATA_DIR");
    cmd
}

#[test]
fn capacity_prints_the_demo_cluster_and_what_fits() {
    let dir = tempfile::tempdir().unwrap();
    let out = scaleboard(&dir)
        .args(["capacity", "--demo"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    for words in [
        "demo-prod (Kubernetes, DEMO) · context demo-prod",
        "nodes       8",
        "cores requested",
        "headroom",
        "problem     demo-prod-node-4: MemoryPressure",
        "problem     demo-prod-node-6: cordoned",
        "autoscaler  not running",
        "quota       nexus/nexus-quota: requests.cpu",
        "nexus/deployment/writer-service",
        "nexus/deployment/queue-worker",
        "more fit (each 500m cpu, 512.0 MiB memory",
        "demo-staging (Compose, DEMO) · the demo Docker engine (DEMO)",
        "cpu         8.0 cores; running containers' limits add up to 4.5",
        "memory      5.1 GiB of 15.6 GiB held by 8 running containers, headroom 10.5 GiB",
        "counted     8 running containers: 4 by their memory reservation, 3 by their memory \
         limit (no reservation), 1 with neither (not counted)",
        "demo-staging/service/api                   2 replicas, 41 more fit (each reserves \
         memory 256.0 MiB; limits memory 512.0 MiB, cpu 1; limited by the engine's free memory, \
         10.5 GiB of 15.6 GiB)",
        "demo-staging/service/worker                2 replicas, cannot be judged: no memory \
         reservation",
    ] {
        assert!(text.contains(words), "{words:?} missing from:\n{text}");
    }
}

#[test]
fn capacity_json_has_the_contexts_and_per_workload_fits() {
    let dir = tempfile::tempdir().unwrap();
    let out = scaleboard(&dir)
        .args(["capacity", "--demo", "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["exit_code"], 0);
    let contexts = report["contexts"].as_array().unwrap();
    assert_eq!(contexts.len(), 1);
    let c = &contexts[0];
    assert_eq!(c["context"], "demo-prod");
    assert_eq!(c["nodes"], 8);
    let alloc = c["allocatable"]["cpu_milli"].as_u64().unwrap();
    let requested = c["requested"]["cpu_milli"].as_u64().unwrap();
    assert_eq!(
        c["headroom"]["cpu_milli"].as_u64().unwrap(),
        alloc - requested
    );
    let engines = report["engines"].as_array().unwrap();
    assert_eq!(engines.len(), 1, "{engines:#?}");
    let e = &engines[0];
    assert_eq!(e["engine"], "the demo Docker engine (DEMO)");
    assert_eq!(e["cpu_milli"], 8_000);
    assert_eq!(e["running_containers"], 8);
    assert_eq!(
        e["headroom_memory_bytes"].as_u64().unwrap(),
        e["memory_bytes"].as_u64().unwrap() - e["held_memory_bytes"].as_u64().unwrap()
    );
    assert_eq!(e["swarm_error"], "this engine is not a Swarm manager");
    let services = e["services"].as_array().unwrap();
    let fit = |name: &str| {
        services
            .iter()
            .find(|s| s["service"] == format!("demo-staging/service/{name}"))
            .unwrap_or_else(|| panic!("{name} missing: {services:#?}"))["more_fit"]
            .clone()
    };
    // 10.5 GiB free over 256 MiB each; the worker reserves nothing, so it is not judged.
    assert_eq!(fit("api"), 41);
    assert_eq!(fit("web"), 83);
    assert!(fit("worker").is_null());
    let workloads = c["workloads"].as_array().unwrap();
    assert_eq!(workloads.len(), 6, "{workloads:#?}");
    for w in workloads {
        assert!(w["more_fit"].is_u64(), "{w:#}");
    }
    // The writer needs a whole core; the quota and the nodes' free room both bound it.
    let writer = workloads
        .iter()
        .find(|w| w["workload"] == "nexus/deployment/writer-service")
        .unwrap();
    let more = writer["more_fit"].as_u64().unwrap();
    assert!((1..=6).contains(&more), "{writer:#}");
}

#[test]
fn capacity_exits_3_when_no_capacity_can_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("profiles.toml"),
        "last_used = \"empty\"\n\n[[profile]]\nname = \"empty\"\n",
    )
    .unwrap();
    let out = scaleboard(&dir)
        .args(["capacity", "--profile", "empty", "--timeout", "3"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains("No Kubernetes context or Docker engine gave capacity data.")
    );
}

#[test]
fn capacity_ends_quietly_when_its_reader_goes_away() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = scaleboard(&dir)
        .args(["capacity", "--demo"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
