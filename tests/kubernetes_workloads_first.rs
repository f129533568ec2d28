//! Workloads first (issue #25): the first view is built from the workload objects and their
//! status alone and is emitted as soon as those lists are in, saying that pod details are
//! loading; pods follow and update restarts and stuck reasons in place. Against the
//! protocol-level fake API server with 30,000 pods whose every LIST answers 5 s late.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use scaleboard::connectors::Connector;
use scaleboard::connectors::kubernetes::KubernetesConnector;
use scaleboard::engine::{Command, ConnectRequest, EngineConfig, EngineHandle, Event};
use scaleboard::model::clock::ManualClock;
use scaleboard::model::snapshot::{Snapshot, Workload};
use scaleboard::model::workloads::{POD_DETAILS, WorkloadList};
use scaleboard::profiles::{KubernetesEndpoint, Profile};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::fake_kube::{self, FakeKube};

const PODS_LATE: Duration = Duration::from_secs(5);
/// The words a short workload says until its pods are in.
const LOADING_REASON: &str = "pod details loading (why it is short shows when its pods are in)";

/// 3,000 Deployments in 100 namespaces, each with its ReplicaSet and 10 pods (30,000 pods).
/// Two are short of ready: `fill-00000` has a pod whose image cannot be pulled, `fill-00001` a
/// pod in a crash loop with 5 restarts. Every pod LIST answers [`PODS_LATE`] late.
fn cluster() -> FakeKube {
    let kube = FakeKube::start();
    kube.state().auto_ready = false;
    let mut pods = Vec::with_capacity(30_000);
    for d in 0..3_000 {
        let ns = format!("team-{:03}", d % 100);
        let name = format!("fill-{d:05}");
        let ready = if d < 2 { 9 } else { 10 };
        kube.put(&fake_kube::deployment(&ns, &name, 10, ready));
        let rs = fake_kube::replicaset(&ns, &name, "6b7c9", 10);
        let rs_name = rs.metadata.name.clone().unwrap();
        kube.put(&rs);
        for p in 0..10 {
            let pod = fake_kube::pod(
                &ns,
                &format!("{rs_name}-{p}"),
                "ReplicaSet",
                &rs_name,
                "250m",
                "256Mi",
            );
            pods.push(match (d, p) {
                (0, 0) => fake_kube::waiting(pod, "ImagePullBackOff"),
                (1, 0) => fake_kube::crash_looping(pod, 1, 5),
                _ => pod,
            });
        }
    }
    kube.put_all(&pods);
    kube.compact();
    kube.state()
        .list_delay_by_resource
        .insert("pods", PODS_LATE);
    kube
}

fn kubeconfig(dir: &Path, kube: &FakeKube) -> PathBuf {
    let path = dir.join("kubeconfig.yaml");
    std::fs::write(&path, fake_kube::kubeconfig(&[("east", kube)])).unwrap();
    path
}

fn endpoint(kubeconfig: PathBuf) -> KubernetesEndpoint {
    KubernetesEndpoint {
        name: "k8s".into(),
        kubeconfig: Some(kubeconfig),
        contexts: vec!["east".into()],
        namespaces: Vec::new(),
    }
}

fn row<'a>(list: &'a WorkloadList, name: &str) -> &'a Workload {
    list.iter().find(|w| w.id.name == name).unwrap()
}

#[test]
fn the_workloads_view_comes_before_the_pods_and_the_pods_update_it_in_place() {
    let kube = cluster();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig(dir.path(), &kube);
    let clock = ManualClock::new(1_793_628_000_000);
    let config = EngineConfig::new(
        clock.clone(),
        dir.path().join("config"),
        dir.path().join("data"),
    );
    let mut engine = EngineHandle::start(config, Arc::new(|| {})).unwrap();
    let mut profile = Profile::named("k8s-test");
    profile.kubernetes.push(endpoint(kubeconfig));
    let started = Instant::now();
    engine
        .send(Command::Connect(Box::new(ConnectRequest {
            profile,
            demo_seed: 1,
        })))
        .unwrap();
    // Every snapshot of the endpoint in the order the engine sent them, with when it came.
    let mut snapshots: Vec<(Duration, WorkloadList)> = Vec::new();
    let deadline = started + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "pod details never arrived");
        let Some(event) = engine.recv_timeout(Duration::from_millis(50)) else {
            clock.advance(Duration::from_secs(1));
            continue;
        };
        if let Event::Snapshot {
            endpoint,
            snapshot: Snapshot::Workloads(list),
            ..
        } = event
            && endpoint == "k8s"
        {
            let done = list.pod_details_progress().is_none();
            snapshots.push((started.elapsed(), list));
            if done {
                break;
            }
        }
    }
    let (at, first) = &snapshots[0];
    // The first view: every workload with its counts, before any pod could have arrived.
    assert!(*at < PODS_LATE, "the first view took {at:?}");
    assert_eq!(first.len(), 3_000);
    assert_eq!(
        first.pod_details_words().as_deref(),
        Some("pod details loading (0 of 1 context in)")
    );
    let progress = &first.sources[0].progress;
    assert!(progress.is_loading(POD_DETAILS), "{progress:?}");
    assert!(progress.loaded.contains(&"workloads"), "{progress:?}");
    let short = row(first, "fill-00000");
    assert_eq!((short.desired, short.ready), (10, 9));
    assert_eq!(short.pending_reason.as_deref(), Some(LOADING_REASON));
    assert_eq!(row(first, "fill-00002").pending_reason, None);
    // Then the pods: the same rows, now with why they are short and the restarts.
    let (_, last) = snapshots.last().unwrap();
    assert_eq!(last.len(), 3_000);
    let ids = |l: &WorkloadList| l.iter().map(|w| w.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(first), ids(last), "rows are updated in place");
    assert!(last.sources[0].progress.loaded.contains(&POD_DETAILS));
    let image = row(last, "fill-00000").pending_reason.clone().unwrap();
    assert!(image.contains(": ImagePullBackOff"), "{image}");
    let crash = row(last, "fill-00001").pending_reason.clone().unwrap();
    assert!(
        crash.contains("CrashLoopBackOff") && crash.contains("5 restarts"),
        "{crash}"
    );
    assert_eq!(row(last, "fill-00002").pending_reason, None);
    engine.send(Command::Shutdown).ok();
}

/// One poll of a fresh connector answers with the workloads while the pods are late, and the
/// command line's summary says what is still loading.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_does_not_wait_for_late_pods_and_says_what_is_loading() {
    let kube = FakeKube::start();
    kube.put(&fake_kube::deployment("nexus", "web", 3, 2));
    let rs = fake_kube::replicaset("nexus", "web", "6b7c9", 3);
    kube.put(&rs);
    let pod = fake_kube::pod(
        "nexus",
        "web-6b7c9-a",
        "ReplicaSet",
        "web-6b7c9",
        "1",
        "1Gi",
    );
    kube.put(&fake_kube::waiting(pod, "ErrImagePull"));
    kube.state()
        .list_delay_by_resource
        .insert("pods", Duration::from_secs(3));
    let dir = tempfile::tempdir().unwrap();
    let connector = KubernetesConnector::new(endpoint(kubeconfig(dir.path(), &kube)));
    let t = Instant::now();
    let out = connector.poll().await.unwrap();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    let Snapshot::Workloads(list) = &out.snapshot else {
        panic!("not workloads")
    };
    assert_eq!(
        row(list, "web").pending_reason.as_deref(),
        Some(LOADING_REASON)
    );
    let summary = scaleboard::connectors::summary(&out.snapshot);
    assert_eq!(
        summary,
        "1 workload, 2/3 replicas ready; context east ok; pod details loading (0 of 1 context in)"
    );
    assert_eq!(
        list.sources[0].progress.words().as_deref(),
        Some("workloads, autoscalers, nodes, quotas and limit ranges in; pod details loading")
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let out = connector.poll().await.unwrap();
        let Snapshot::Workloads(list) = &out.snapshot else {
            panic!("not workloads")
        };
        if list.pod_details_progress().is_none() {
            let why = row(list, "web").pending_reason.clone().unwrap();
            assert!(why.contains("ErrImagePull"), "{why}");
            assert!(list.sources[0].progress.loading.is_empty());
            break;
        }
        assert!(Instant::now() < deadline, "pods never arrived");
    }
}

/// `scaleboard status` waits (within its time-out) for the pod details, so a short workload's
/// entry says why it is short rather than "pod details loading".
#[test]
fn status_waits_for_the_pod_details() {
    let kube = FakeKube::start();
    kube.put(&fake_kube::deployment("nexus", "web", 3, 2));
    kube.put(&fake_kube::replicaset("nexus", "web", "6b7c9", 3));
    let pod = fake_kube::pod(
        "nexus",
        "web-6b7c9-a",
        "ReplicaSet",
        "web-6b7c9",
        "1",
        "1Gi",
    );
    kube.put(&fake_kube::waiting(pod, "ImagePullBackOff"));
    kube.state()
        .list_delay_by_resource
        .insert("pods", Duration::from_secs(3));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = kubeconfig(dir.path(), &kube);
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::write(
        config.join("profiles.toml"),
        format!(
            "[[profile]]\nname = \"k8s-test\"\n[[profile.kubernetes]]\nname = \"k8s\"\n\
             kubeconfig = \"{}\"\ncontexts = [\"east\"]\n",
            kubeconfig.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_scaleboard"))
        .env("SCALEBOARD_CONFIG_DIR", &config)
        .env("SCALEBOARD_DATA_DIR", dir.path().join("data"))
        .env("SCALEBOARD_KEYRING", "off")
        .env_remove("RUST_LOG")
        .args([
            "--profile",
            "k8s-test",
            "status",
            "--json",
            "--timeout",
            "20",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("ImagePullBackOff"), "{stdout}");
    assert!(!stdout.contains("pod details loading"), "{stdout}");
}

/// A 410 Gone in the middle of the pods' relist (the API server compacted its history again, so
/// the relist's continue token expired): the relist starts over, and every poll meanwhile
/// still shows what the last complete list showed — every workload, pod details in, the crash
/// loop that holds `fill-00000` back — never "pod details loading" or an emptied row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_410_during_the_pods_relist_keeps_the_previous_rows() {
    let kube = FakeKube::start();
    kube.state().auto_ready = false;
    // 1,500 pods: three pages of 500.
    let mut pods = Vec::new();
    for d in 0..300 {
        let ns = format!("team-{:03}", d % 10);
        let name = format!("fill-{d:05}");
        kube.put(&fake_kube::deployment(
            &ns,
            &name,
            5,
            if d == 0 { 4 } else { 5 },
        ));
        let rs = fake_kube::replicaset(&ns, &name, "6b7c9", 5);
        let rs_name = rs.metadata.name.clone().unwrap();
        kube.put(&rs);
        for p in 0..5 {
            let pod = fake_kube::pod(
                &ns,
                &format!("{rs_name}-{p}"),
                "ReplicaSet",
                &rs_name,
                "250m",
                "256Mi",
            );
            pods.push(if (d, p) == (0, 0) {
                fake_kube::crash_looping(pod, 1, 5)
            } else {
                pod
            });
        }
    }
    kube.put_all(&pods);
    kube.compact();
    let dir = tempfile::tempdir().unwrap();
    let connector = KubernetesConnector::new(endpoint(kubeconfig(dir.path(), &kube)));
    let pod_watches = |kube: &FakeKube| {
        kube.count_requests(|r| r.starts_with("GET /api/v1/pods?") && r.contains("watch=true"))
    };
    let pod_pages = |kube: &FakeKube| {
        kube.count_requests(|r| r.starts_with("GET /api/v1/pods?") && r.contains("continue="))
    };
    // What every poll must show, before, during and after the relists.
    let whole = |list: &WorkloadList| -> Result<(), String> {
        if list.len() != 300 {
            return Err(format!("{} of 300 workloads", list.len()));
        }
        let reason = row(list, "fill-00000").pending_reason.clone();
        if let Some(p) = list.pod_details_progress() {
            return Err(format!("pod details loading: {p:?}"));
        }
        if !reason
            .as_deref()
            .is_some_and(|r| r.contains("CrashLoopBackOff"))
        {
            return Err(format!("fill-00000 says {reason:?}"));
        }
        Ok(())
    };
    let poll = || async {
        match connector.poll().await.unwrap().snapshot {
            Snapshot::Workloads(list) => list,
            other => panic!("{other:?}"),
        }
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while whole(&poll().await).is_err() || pod_watches(&kube) == 0 {
        assert!(Instant::now() < deadline, "never loaded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every LIST page now comes a second late; the server ends every watch and compacts.
    kube.state().list_delay = Duration::from_secs(1);
    let (watches, pages) = (pod_watches(&kube), pod_pages(&kube));
    kube.expire_watches();
    let mut seen = Vec::new();
    // Once the relist has asked for its second page, the history is compacted again: that
    // page's continue token has expired.
    while pod_pages(&kube) == pages {
        assert!(
            Instant::now() < deadline,
            "the relist never reached its second page"
        );
        seen.push(whole(&poll().await));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    kube.expire_watches();
    while kube.state().expired_continues == 0 {
        assert!(Instant::now() < deadline, "no continue token expired");
        seen.push(whole(&poll().await));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    kube.state().list_delay = Duration::ZERO;
    // Listed again from the start and watched: at least the re-watch after each expiry and
    // the watch after the relist.
    while pod_watches(&kube) < watches + 2 {
        assert!(Instant::now() < deadline, "never watched again");
        seen.push(whole(&poll().await));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    seen.push(whole(&poll().await));
    let failed: Vec<&String> = seen.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(
        failed.is_empty(),
        "{} of {} polls lost rows: {failed:?}",
        failed.len(),
        seen.len()
    );
    assert!(
        seen.len() >= 10,
        "only {} polls during the relists",
        seen.len()
    );
}
