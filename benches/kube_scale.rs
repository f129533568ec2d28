//! Large clusters through the Kubernetes connector and the Workloads panel, served by the
//! protocol-level fake API server (LIST pages of 500 with `limit`/`continue`, as client-go and
//! kubectl ask for them).
//!
//! 1. First full view (issue #16): 3,000 Deployments, their ReplicaSets and 30,000 Pods per
//!    cluster; the time from a fresh connector to a poll that shows every workload with nothing
//!    still loading, for one context and for three (three such clusters), and how much memory
//!    the console grows by.
//! 2. 10,000 Deployments and 30,000 Pods: the initial paginated load, one poll once the watches
//!    are synced (a poll reads the watch caches: folds 30,000 pods under their workloads), and
//!    one UI frame of the Workloads table holding 10,000 rows (sorted, filtered).
//!
//! 3. The envelope (issue #25, `kube_scale/envelope.rs`): 150,000 pods of 7.9 KB in 10,000
//!    workloads on 5,000 nodes, and 30,000 pods in one and five contexts: first view (the
//!    workloads), all pod details in against one bare LIST, memory growth.
//!
//! 4. Steady churn at 30,000 pods and a 410 Gone at 150,000 (`kube_scale/churn.rs`,
//!    `kube_scale/relist.rs`, part of the envelope mode): engine CPU, polls and frames.
//!
//! `SCALEBOARD_BENCH=envelope` runs only 3 and 4 (`SCALEBOARD_ENVELOPE=30k,150k,five,churn,relist`
//! picks parts); `SCALEBOARD_BENCH=classic` only 1 and 2; unset, all.
//! See BENCHMARKS.md for figures.

#![allow(clippy::unwrap_used)]
// The counting allocator below is the one piece of unsafe code: GlobalAlloc is an unsafe trait.
#![allow(unsafe_code)]

#[path = "kube_scale/churn.rs"]
mod churn;
#[path = "kube_scale/envelope.rs"]
mod envelope;
#[path = "../tests/support/fake_kube.rs"]
mod fake_kube;
#[path = "kube_scale/frames.rs"]
mod frames;
#[path = "kube_scale/pod_json.rs"]
mod pod_json;
#[path = "kube_scale/relist.rs"]
mod relist;
#[path = "kube_scale/stream.rs"]
mod stream;

use criterion::{Criterion, criterion_group, criterion_main};
use egui_kittest::Harness;
use scaleboard::app::{AppOptions, PanelId, ScaleboardApp};
use scaleboard::connectors::Connector;
use scaleboard::connectors::kubernetes::KubernetesConnector;
use scaleboard::engine::EngineConfig;
use scaleboard::model::clock::ManualClock;
use scaleboard::model::snapshot::Snapshot;
use scaleboard::profiles::{KubernetesEndpoint, ProfileStore};
use scaleboard::ui::workloads_table::{SortKey, WorkloadSort};
use std::time::{Duration, Instant};

/// Counts live heap bytes, so the connector's own memory can be told apart from what the
/// allocator keeps around (RSS) and from the in-process fake server's transient buffers.
struct Counting;

static LIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is added.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), std::sync::atomic::Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        LIVE.fetch_sub(layout.size(), std::sync::atomic::Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

pub(crate) fn live_bytes() -> usize {
    LIVE.load(std::sync::atomic::Ordering::Relaxed)
}

const NAMESPACES: usize = 100;
const DEPLOYMENTS: usize = 10_000;
const PODS_PER_DEPLOYMENT: usize = 3;

fn big_cluster() -> fake_kube::FakeKube {
    let kube = fake_kube::FakeKube::start();
    for d in 0..DEPLOYMENTS {
        let ns = format!("team-{:03}", d % NAMESPACES);
        let name = format!("svc-{d:05}");
        kube.put(&fake_kube::deployment(&ns, &name, 3, 3));
        let rs = fake_kube::replicaset(&ns, &name, "6b7c9", 3);
        let rs_name = rs.metadata.name.clone().unwrap();
        kube.put(&rs);
        for p in 0..PODS_PER_DEPLOYMENT {
            kube.put(&fake_kube::pod(
                &ns,
                &format!("{rs_name}-{p}"),
                "ReplicaSet",
                &rs_name,
                "250m",
                "256Mi",
            ));
        }
    }
    kube
}

/// One cluster of the first-full-view figures: 3,000 Deployments in 100 namespaces, each with
/// its ReplicaSet and 10 Pods (30,000 Pods).
fn issue_cluster() -> fake_kube::FakeKube {
    const DEPLOYMENTS: usize = 3_000;
    const PODS: usize = 10;
    let kube = fake_kube::FakeKube::start();
    for d in 0..DEPLOYMENTS {
        let ns = format!("team-{:03}", d % NAMESPACES);
        let name = format!("fill-{d:05}");
        kube.put(&fake_kube::deployment(&ns, &name, 10, 10));
        let rs = fake_kube::replicaset(&ns, &name, "6b7c9", 10);
        let rs_name = rs.metadata.name.clone().unwrap();
        kube.put(&rs);
        for p in 0..PODS {
            kube.put(&fake_kube::pod(
                &ns,
                &format!("{rs_name}-{p}"),
                "ReplicaSet",
                &rs_name,
                "250m",
                "256Mi",
            ));
        }
    }
    // The history of 36,000 ADDED events is not needed: watches start from the list.
    kube.compact();
    kube
}

/// Time from a fresh connector to the first poll that shows all `expected` workloads with no
/// context still loading; the live heap and resident memory the console grew by.
fn first_view(
    rt: &tokio::runtime::Runtime,
    endpoint: &KubernetesEndpoint,
    expected: usize,
) -> (Duration, f64, f64) {
    let rss_before = rss_bytes();
    let live_before = live_bytes();
    let connector = KubernetesConnector::new(endpoint.clone());
    let t = Instant::now();
    let took = loop {
        let out = rt.block_on(connector.poll()).unwrap();
        // Pod details count: since issue #25 the first poll answers once the workloads are in.
        let (shown, details_loading) = match &out.snapshot {
            Snapshot::Workloads(list) => (list.len(), list.pod_details_progress().is_some()),
            _ => (0, false),
        };
        let loading = details_loading || out.notices.iter().any(|n| n.starts_with("loading"));
        if shown == expected && !loading {
            break t.elapsed();
        }
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "{shown} shown, {:?}",
            out.notices
        );
    };
    let live = live_bytes().saturating_sub(live_before) as f64 / 1_048_576.0;
    let rss = rss_bytes().saturating_sub(rss_before) as f64 / 1_048_576.0;
    drop(connector);
    (took, live, rss)
}

/// Whether the `SCALEBOARD_BENCH` selection includes this part.
fn selected(part: &str) -> bool {
    std::env::var("SCALEBOARD_BENCH").map_or(true, |v| v.is_empty() || v == part)
}

fn envelope_mode(_c: &mut Criterion) {
    if selected("envelope") || selected("envelope-smoke") {
        envelope::run();
    }
}

fn first_full_view(_c: &mut Criterion) {
    if !selected("classic") {
        return;
    }
    let started = Instant::now();
    let clusters: Vec<fake_kube::FakeKube> = (0..3).map(|_| issue_cluster()).collect();
    eprintln!(
        "3 fake clusters of 3,000 deployments, 3,000 replicasets, 30,000 pods each in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    std::fs::write(
        &kubeconfig,
        fake_kube::kubeconfig(&[
            ("a", &clusters[0]),
            ("b", &clusters[1]),
            ("c", &clusters[2]),
        ]),
    )
    .unwrap();
    let endpoint = |contexts: &[&str]| KubernetesEndpoint {
        name: "k8s".into(),
        kubeconfig: Some(kubeconfig.clone()),
        contexts: contexts.iter().map(|c| (*c).to_string()).collect(),
        namespaces: Vec::new(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for (label, contexts) in [
        ("one context", vec!["a"]),
        ("three contexts", vec!["a", "b", "c"]),
    ] {
        let mut runs = Vec::new();
        for _ in 0..3 {
            runs.push(first_view(
                &rt,
                &endpoint(&contexts),
                3_000 * contexts.len(),
            ));
        }
        let live = runs.iter().map(|r| r.1).fold(0.0, f64::max);
        let rss = runs.iter().map(|r| r.2).fold(0.0, f64::max);
        runs.sort_by_key(|r| r.0);
        eprintln!(
            "first full view, {label}: min {:.2} s, median {:.2} s, max {:.2} s; console grew by \
             {:.1} MiB live heap, {:.1} MiB resident (most of 3 runs)",
            runs[0].0.as_secs_f64(),
            runs[1].0.as_secs_f64(),
            runs[2].0.as_secs_f64(),
            live,
            rss,
        );
    }
    let pages = clusters[0].count_requests(|r| r.contains("/pods?") && r.contains("continue="));
    let limits = clusters[0].count_requests(|r| r.contains("/pods?") && r.contains("limit=500"));
    eprintln!(
        "cluster a: {limits} pod list pages asked with limit=500, {pages} with a continue token"
    );
    kubectl_get_pods(&clusters[0], dir.path());
}

/// `kubectl get pods -A` on the same data and server, when kubectl is installed. kubectl
/// sends no bearer token over plain http, so the fake serves anonymous requests for it.
fn kubectl_get_pods(kube: &fake_kube::FakeKube, dir: &std::path::Path) {
    let kubeconfig = dir.join("kubectl.yaml");
    std::fs::write(&kubeconfig, fake_kube::kubeconfig(&[("a", kube)])).unwrap();
    kube.state().anonymous = true;
    let mut runs = Vec::new();
    for _ in 0..3 {
        let t = Instant::now();
        let out = std::process::Command::new("kubectl")
            .args(["get", "pods", "-A", "--kubeconfig"])
            .arg(&kubeconfig)
            .env("HOME", dir)
            .output();
        match out {
            Ok(out) if out.status.success() => {
                runs.push(t.elapsed());
                assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 30_001);
            }
            Ok(out) => {
                eprintln!(
                    "kubectl get pods -A failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                return;
            }
            Err(e) => {
                eprintln!("kubectl get pods -A: not run ({e})");
                return;
            }
        }
    }
    runs.sort();
    eprintln!(
        "kubectl get pods -A (30,000 pods, pages of 500): min {:.2} s, median {:.2} s, max {:.2} s",
        runs[0].as_secs_f64(),
        runs[1].as_secs_f64(),
        runs[2].as_secs_f64()
    );
}

/// Resident memory of this process (the fake server included), from /proc.
pub(crate) fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

fn kube_scale(c: &mut Criterion) {
    if !selected("classic") {
        return;
    }
    let started = Instant::now();
    let kube = big_cluster();
    eprintln!(
        "fake cluster: {DEPLOYMENTS} deployments, {DEPLOYMENTS} replicasets, {} pods in {:.1} s",
        DEPLOYMENTS * PODS_PER_DEPLOYMENT,
        started.elapsed().as_secs_f64()
    );
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig.yaml");
    std::fs::write(&kubeconfig, fake_kube::kubeconfig(&[("big", &kube)])).unwrap();
    let endpoint = KubernetesEndpoint {
        name: "k8s".into(),
        kubeconfig: Some(kubeconfig),
        contexts: vec!["big".into()],
        namespaces: Vec::new(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    // Initial load: paginated LISTs (500 per page) of every watched resource, then the first
    // poll's fold and access reviews. Timed by hand: each run starts a fresh connector.
    let mut loads = Vec::new();
    let mut snapshot = None;
    let mut samples = Vec::new();
    for run in 0..3 {
        let before = rss_bytes();
        let live_before = live_bytes();
        let connector = KubernetesConnector::new(endpoint.clone());
        let t = Instant::now();
        let out = rt.block_on(connector.poll()).unwrap();
        loads.push(t.elapsed());
        if run == 0 {
            // RSS: the watch caches plus whatever the allocator keeps from the list pages (and
            // the fake server's response buffers): an upper bound.
            eprintln!(
                "resident memory grew by {:.1} MiB over the first load",
                (rss_bytes().saturating_sub(before)) as f64 / 1_048_576.0
            );
            // Live heap still held once the load is done: the connector's watch caches and
            // client (the snapshot just returned is dropped first).
            drop(out.samples);
            let snapshot_bytes = live_bytes();
            drop(out.snapshot);
            let held = live_bytes().saturating_sub(live_before);
            eprintln!(
                "live heap held by the connector after the first load: {:.1} MiB (the snapshot of 10,000 workloads: {:.1} MiB more)",
                held as f64 / 1_048_576.0,
                snapshot_bytes.saturating_sub(live_bytes()) as f64 / 1_048_576.0
            );
            continue;
        }
        snapshot = Some(out.snapshot);
        samples = out.samples;
    }
    loads.sort();
    eprintln!(
        "initial load to first snapshot: min {:.2} s, median {:.2} s, max {:.2} s",
        loads[0].as_secs_f64(),
        loads[1].as_secs_f64(),
        loads[2].as_secs_f64()
    );
    let pages = kube.count_requests(|r| r.contains("/pods?") && r.contains("continue="));
    eprintln!("pod list continuation pages over 3 loads: {pages}");

    let connector = KubernetesConnector::new(endpoint);
    rt.block_on(connector.poll()).unwrap();
    let mut group = c.benchmark_group("kubernetes_30k_pods");
    group.sample_size(10);
    group.bench_function("poll_from_watch_caches", |b| {
        b.iter(|| rt.block_on(connector.poll()).unwrap());
    });
    group.finish();

    // What the UI thread does with one poll's samples (2-4 series per workload, far more than
    // the store's 5,000-series limit): the first 5,000 series are kept, the rest refused
    // without evicting and re-allocating live ones on every poll.
    eprintln!("samples per poll: {}", samples.len());
    let mut store = scaleboard::metrics::MetricStore::default();
    let mut t = 1_793_628_000_000_i64;
    for _ in 0..3 {
        for s in &samples {
            store.push(
                &scaleboard::metrics::SeriesKey::new(&s.target, s.metric),
                t,
                s.value,
            );
        }
        t += 1_000;
    }
    eprintln!(
        "store after 3 polls: {} series, {} refused, {} evicted, {:.1} MiB",
        store.series_count(),
        store.refused_series(),
        store.evicted_series(),
        store.memory_bytes() as f64 / 1_048_576.0
    );
    let keys: Vec<(scaleboard::metrics::SeriesKey, f64)> = samples
        .iter()
        .map(|s| {
            (
                scaleboard::metrics::SeriesKey::new(&s.target, s.metric),
                s.value,
            )
        })
        .collect();
    let mut group = c.benchmark_group("ui_intake");
    group.sample_size(20);
    group.bench_function("one_poll_of_10k_workloads", |b| {
        b.iter(|| {
            t += 1_000;
            for (k, v) in &keys {
                store.push(k, t, *v);
            }
        });
    });
    group.finish();

    // The Workloads panel holding the 10,000 workloads of that snapshot.
    let snapshot = snapshot.unwrap();
    let count = match &snapshot {
        Snapshot::Workloads(list) => list.len(),
        _ => 0,
    };
    assert_eq!(count, DEPLOYMENTS);
    let clock = ManualClock::new(1_793_628_000_000);
    let engine = EngineConfig::new(clock, dir.path().join("config"), dir.path().join("data"));
    let store = ProfileStore::load(&dir.path().join("config"));
    let options = AppOptions {
        engine,
        demo_seed: 7,
        profile: None,
        force_demo: true,
        started: None,
    };
    let app = ScaleboardApp::new(options, &store).unwrap();
    let mut harness = Harness::builder()
        .with_size([1440.0, 900.0])
        .build_ui_state(
            |ui, app: &mut ScaleboardApp| {
                let ctx = ui.ctx().clone();
                app.logic_tick(&ctx);
                scaleboard::ui::root_ui(app, ui);
            },
            app,
        );
    let deadline = Instant::now() + Duration::from_secs(20);
    while harness.state().fleet.workloads().next().is_none() {
        assert!(Instant::now() < deadline, "demo fleet did not answer");
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    // Put the big snapshot in place of the demo's Kubernetes endpoint (the manual clock does
    // not move, so the demo does not poll over it).
    {
        let app = harness.state_mut();
        let demo = app
            .fleet
            .endpoints
            .iter_mut()
            .find(|e| e.info.id == scaleboard::connectors::demo::K8S_ENDPOINT)
            .unwrap();
        demo.snapshot = Some(snapshot);
        app.fleet.generation += 1;
        app.view.panel = PanelId::Workloads;
    }
    harness.step();
    let mut group = c.benchmark_group("workloads_table_10k_rows");
    group.sample_size(20);
    for (label, sort, filter) in [
        ("default_order", WorkloadSort::default(), ""),
        (
            "sorted_by_cpu_desc",
            WorkloadSort {
                key: SortKey::Cpu,
                descending: true,
            },
            "",
        ),
        ("filtered_team-042", WorkloadSort::default(), "team-042"),
    ] {
        harness.state_mut().workload_sort = sort;
        harness.state_mut().workload_filter = filter.to_string();
        harness.step();
        group.bench_function(label, |b| b.iter(|| harness.step()));
    }
    // The frame right after a poll's snapshot arrived: the rows are filtered and sorted again.
    harness.state_mut().workload_sort = WorkloadSort::default();
    harness.state_mut().workload_filter.clear();
    group.bench_function("default_order_after_a_new_snapshot", |b| {
        b.iter(|| {
            harness.state_mut().fleet.generation += 1;
            harness.step();
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(5));
    targets = first_full_view, kube_scale, envelope_mode
}
criterion_main!(benches);
