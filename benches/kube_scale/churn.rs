//! Steady churn (issue #25): a 30,000-pod cluster whose pods change 200 times a second (each
//! event a whole 7.9 KB pod, as the kubelet's status updates send them), watched by one
//! connector polled at the profile's default refresh, with the Workloads panel drawing at
//! 60 Hz. Measured over 30 s, once without events and once with them: the engine's CPU time
//! (its runtime's threads, from /proc) as a share of one core, the frames, and whether the
//! watch kept up (no relist, no re-watch).

use super::envelope::{endpoint, workloads_cluster};
use super::fake_kube::{self, FakeKube, Res};
use super::frames::{self, Window};
use super::pod_json::{Layout, generator};
use scaleboard::connectors::kubernetes::KubernetesConnector;
use scaleboard::model::snapshot::Snapshot;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const RATE: u32 = 200;
const WINDOW: Duration = Duration::from_secs(30);
/// Events go round this many pods, spread over the cluster.
const CHURNED: usize = 1_000;

fn is_pod_list(r: &str) -> bool {
    r.starts_with("GET /api/v1/pods?") && !r.contains("watch=true")
}

fn is_pod_watch(r: &str) -> bool {
    r.starts_with("GET /api/v1/pods?") && r.contains("watch=true")
}

/// The cluster with its pods stored (so they can change and be watched): small objects at
/// first; each event replaces one with its whole 7.9 KB form.
fn churn_cluster(layout: &Layout) -> FakeKube {
    let kube = workloads_cluster(layout);
    for i in 0..layout.pods() {
        let (ns, rs, name, _) = layout.pod_place(i);
        kube.put(&fake_kube::pod(
            &ns,
            &name,
            "ReplicaSet",
            &rs,
            "100m",
            "256Mi",
        ));
    }
    kube.compact();
    kube
}

/// Change pods at [`RATE`] a second until `stop`; returns how many events were sent.
fn drive(kube: &FakeKube, layout: Layout, stop: &AtomicBool, sent: &AtomicUsize) {
    let make = generator(layout);
    let period = Duration::from_secs(1) / RATE;
    let stride = (layout.pods() / CHURNED).max(1);
    let mut next = Instant::now();
    let mut k = 0usize;
    while !stop.load(Ordering::Relaxed) {
        let i = (k % CHURNED) * stride % layout.pods();
        let (ns, _, name, _) = layout.pod_place(i);
        let mut pod = make(i);
        pod["status"]["containerStatuses"][0]["restartCount"] = (k % 50).into();
        kube.modify(Res::Pods, &ns, &name, |v| *v = pod);
        k += 1;
        sent.store(k, Ordering::Relaxed);
        if k.is_multiple_of(1_000) {
            // The replay history is not needed: the watch is current.
            kube.compact();
        }
        next += period;
        let now = Instant::now();
        if next > now {
            std::thread::sleep(next - now);
        }
    }
}

pub fn run(layout: &Layout) {
    let started = Instant::now();
    let kube = churn_cluster(layout);
    eprintln!(
        "churn: {} deployments, {} stored pods, {} nodes set up in {:.1} s",
        layout.workloads,
        layout.pods(),
        layout.nodes,
        started.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    std::fs::write(&kubeconfig, fake_kube::kubeconfig(&[("c0", &kube)])).unwrap();
    let rt = frames::engine_runtime();
    let connector = Arc::new(KubernetesConnector::new(endpoint(
        &kubeconfig,
        &["c0".to_string()],
    )));
    let deadline = Instant::now() + Duration::from_secs(300);
    let snapshot = loop {
        let (_, out) = rt.block_on(frames::spawn_poll(&rt, &connector)).unwrap();
        if let Ok(out) = out
            && let Snapshot::Workloads(list) = &out.snapshot
            && list.len() == layout.workloads
            && list.pod_details_progress().is_none()
            && kube.count_requests(is_pod_watch) > 0
        {
            break out.snapshot;
        }
        assert!(Instant::now() < deadline, "never loaded");
        std::thread::sleep(Duration::from_millis(250));
    };
    let mut window = Window::new();
    window.show(snapshot);
    for rate in [0, RATE] {
        let stop = AtomicBool::new(false);
        let sent = AtomicUsize::new(0);
        let (lists, watches) = (
            kube.count_requests(is_pod_list),
            kube.count_requests(is_pod_watch),
        );
        window.intakes.clear();
        let cpu = frames::engine_cpu();
        let t = Instant::now();
        let run = std::thread::scope(|s| {
            if rate > 0 {
                s.spawn(|| drive(&kube, *layout, &stop, &sent));
            }
            let run = frames::frames_and_polls(
                &rt,
                &connector,
                &mut window,
                |_| {},
                || t.elapsed() >= WINDOW,
            );
            stop.store(true, Ordering::Relaxed);
            run
        });
        let wall = t.elapsed();
        let cpu = frames::engine_cpu().saturating_sub(cpu);
        let events = sent.load(Ordering::Relaxed);
        eprintln!(
            "churn at {:.0} pod events/s over {:.1} s ({events} events of a whole pod, {} pods \
             in {} workloads): engine CPU {:.2} s = {:.1} % of one core; {}; {}; {}; pod LISTs \
             meanwhile {} (0: no relist), pod watches opened {}",
            events as f64 / wall.as_secs_f64(),
            wall.as_secs_f64(),
            layout.pods(),
            layout.workloads,
            cpu.as_secs_f64(),
            100.0 * cpu.as_secs_f64() / wall.as_secs_f64(),
            run.polls_words(),
            run.frames_words(),
            frames::Run::intake_words(&window),
            kube.count_requests(is_pod_list) - lists,
            kube.count_requests(is_pod_watch) - watches,
        );
    }
    drop(connector);
}
