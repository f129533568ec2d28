//! A 410 Gone at 150,000 pods (issue #25): once every pod is in, the API server ends every
//! watch and compacts its history (as after an etcd compaction or a restart), so every watch
//! resumes into 410 Gone and lists again — 300 pages of pods. Meanwhile the engine polls at the
//! profile's default refresh and the Workloads panel draws at 60 Hz. Measured: whether every
//! poll during the relist still shows what was there before (every workload, pod details in,
//! the stuck reasons of ten crash-looping pods), how long until the pods are listed and watched
//! again, the polls and frames meanwhile, and the live heap at its highest (the relist builds
//! its map beside the one shown).

use super::envelope::{cluster, endpoint};
use super::fake_kube::{self, FakeKube};
use super::frames::{self, Window};
use super::live_bytes;
use super::pod_json::Layout;
use scaleboard::connectors::PollOutput;
use scaleboard::connectors::kubernetes::KubernetesConnector;
use scaleboard::model::snapshot::Snapshot;
use std::cell::Cell;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Workloads with one crash-looping pod each (and one replica short).
const STUCK: usize = 10;

fn is_pod_watch(r: &str) -> bool {
    r.starts_with("GET /api/v1/pods?") && r.contains("watch=true")
}

fn is_pod_list(r: &str) -> bool {
    r.starts_with("GET /api/v1/pods?") && !r.contains("watch=true")
}

/// The generated cluster, plus [`STUCK`] workloads each short of one replica whose extra pod
/// keeps crashing.
fn relist_cluster(layout: &Layout) -> FakeKube {
    let kube = cluster(*layout);
    let n = i32::try_from(layout.pods_per_workload).unwrap();
    for k in 0..STUCK {
        let w = k * (layout.workloads / STUCK);
        let (ns, name) = (layout.namespace(w), layout.workload(w));
        kube.put(&fake_kube::deployment(&ns, &name, n, n - 1));
        let rs = format!("{name}-6b7c9f8d4");
        let pod = fake_kube::pod(
            &ns,
            &format!("{rs}-crash"),
            "ReplicaSet",
            &rs,
            "100m",
            "256Mi",
        );
        kube.put(&fake_kube::crash_looping(pod, 1, 7));
    }
    kube.compact();
    kube
}

/// Every workload shown, pod details in, the crash loops named.
fn whole(out: &PollOutput, workloads: usize) -> Result<(), String> {
    let Snapshot::Workloads(list) = &out.snapshot else {
        return Err("not workloads".into());
    };
    let crashing = list
        .iter()
        .filter(|w| {
            w.pending_reason
                .as_deref()
                .is_some_and(|r| r.contains("CrashLoopBackOff"))
        })
        .count();
    if list.len() != workloads {
        return Err(format!("{} of {workloads} workloads", list.len()));
    }
    if let Some((n, m)) = list.pod_details_progress() {
        return Err(format!("pod details loading ({n} of {m})"));
    }
    if crashing != STUCK {
        return Err(format!("{crashing} of {STUCK} crash loops named"));
    }
    Ok(())
}

pub fn run(layout: &Layout) {
    let started = Instant::now();
    let kube = relist_cluster(layout);
    let workloads = layout.workloads;
    eprintln!(
        "relist: {workloads} deployments, {} generated pods (+{STUCK} crash-looping), {} nodes \
         set up in {:.1} s",
        layout.pods(),
        layout.nodes,
        started.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    std::fs::write(&kubeconfig, fake_kube::kubeconfig(&[("c0", &kube)])).unwrap();
    let rt = frames::engine_runtime();
    let live_before = live_bytes();
    let connector = Arc::new(KubernetesConnector::new(endpoint(
        &kubeconfig,
        &["c0".to_string()],
    )));
    let deadline = Instant::now() + Duration::from_secs(600);
    let snapshot = loop {
        let (_, out) = rt.block_on(frames::spawn_poll(&rt, &connector)).unwrap();
        if let Ok(out) = out
            && whole(&out, workloads).is_ok()
            && kube.count_requests(is_pod_watch) > 0
        {
            break out.snapshot;
        }
        assert!(Instant::now() < deadline, "never loaded");
        std::thread::sleep(Duration::from_secs(1));
    };
    let loaded_heap = live_bytes().saturating_sub(live_before);
    let mut window = Window::new();
    window.show(snapshot);
    let (watches, lists) = (
        kube.count_requests(is_pod_watch),
        kube.count_requests(is_pod_list),
    );
    let t = Instant::now();
    let expired: Cell<Option<Instant>> = Cell::new(None);
    let recovered: Cell<Option<Duration>> = Cell::new(None);
    let mut peak = loaded_heap;
    let mut problems: Vec<String> = Vec::new();
    let mut polls_during = 0usize;
    let run = frames::frames_and_polls(
        &rt,
        &connector,
        &mut window,
        |out| {
            if expired.get().is_some() && recovered.get().is_none() {
                polls_during += 1;
                if let Err(e) = whole(out, workloads) {
                    problems.push(e);
                }
            }
        },
        || {
            peak = peak.max(live_bytes().saturating_sub(live_before));
            if expired.get().is_none() && t.elapsed() >= Duration::from_secs(3) {
                kube.expire_watches();
                expired.set(Some(Instant::now()));
            }
            // Listed again and watched: the re-watch that got 410, then the watch after the
            // relist.
            if let Some(at) = expired.get()
                && recovered.get().is_none()
                && kube.count_requests(is_pod_watch) >= watches + 2
            {
                recovered.set(Some(at.elapsed()));
            }
            assert!(Instant::now() < deadline, "never recovered");
            // Two more polls after the recovery.
            recovered
                .get()
                .zip(expired.get())
                .is_some_and(|(r, at)| at.elapsed() > r + frames::REFRESH * 2)
        },
    );
    let pages = kube.count_requests(is_pod_list) - lists;
    eprintln!(
        "410 Gone at {} pods: listed and watched again {:.2} s after the expiry ({pages} pod \
         LIST pages); {polls_during} polls during the relist, {}; {}; {}; {}; live heap {:.1} \
         MiB once loaded, {:.1} MiB at the highest",
        layout.pods() + STUCK,
        recovered.get().unwrap_or_default().as_secs_f64(),
        if problems.is_empty() {
            "every one showed all workloads with their pod details and crash loops".to_string()
        } else {
            format!("{} did not: {problems:?}", problems.len())
        },
        run.polls_words(),
        run.frames_words(),
        frames::Run::intake_words(&window),
        loaded_heap as f64 / 1_048_576.0,
        peak as f64 / 1_048_576.0,
    );
    drop(connector);
}
