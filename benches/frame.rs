//! CPU cost of one UI frame (layout, plots, tables; no GPU) on the demo fleet with a full day of
//! history in every series, per panel and time range; and the Clusters panel with a context of
//! 5,000 nodes whose capacity view changes on every frame (the nodes watch's worst case: a new
//! view per frame, so its sums and node order are recomputed each time), with a day of its
//! capacity series plotted. See BENCHMARKS.md for figures.

use criterion::{Criterion, criterion_group, criterion_main};
use egui_kittest::Harness;
use scaleboard::app::{AppOptions, PanelId, ScaleboardApp, TimeRange};
use scaleboard::engine::EngineConfig;
use scaleboard::metrics::SeriesKey;
use scaleboard::model::clock::ManualClock;
use scaleboard::profiles::ProfileStore;
use std::time::{Duration, Instant};

const START_MS: i64 = 1_793_628_000_000;

fn app_with_history(dir: &std::path::Path) -> ScaleboardApp {
    let clock = ManualClock::new(START_MS);
    let engine = EngineConfig::new(clock, dir.join("config"), dir.join("data"));
    let store = ProfileStore::load(&dir.join("config"));
    let options = AppOptions {
        engine,
        demo_seed: 7,
        profile: None,
        force_demo: true,
        started: None,
    };
    ScaleboardApp::new(options, &store).expect("app starts")
}

fn frame(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = app_with_history(dir.path());
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
    // Wait for the first snapshot of every demo endpoint.
    let deadline = Instant::now() + Duration::from_secs(20);
    while harness
        .state()
        .fleet
        .endpoints
        .iter()
        .any(|e| e.snapshot.is_none())
        || harness.state().fleet.endpoints.is_empty()
    {
        assert!(Instant::now() < deadline, "demo fleet did not answer");
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    // A full day of 1 s history in every series the demo produces.
    let keys: Vec<SeriesKey> = harness.state().store.keys().cloned().collect();
    {
        let store = &mut harness.state_mut().store;
        for t in (START_MS - 86_400_000..=START_MS).step_by(1000) {
            let phase = (t / 1000) as f64 / 900.0;
            for (i, k) in keys.iter().enumerate() {
                store.push(k, t, 50.0 + 40.0 * (phase + i as f64).sin());
            }
        }
    }
    eprintln!("{} series with 24 h of 1 s history", keys.len());
    let mut group = c.benchmark_group("frame");
    for panel in [PanelId::Overview, PanelId::Workloads, PanelId::Databases] {
        for range in [
            TimeRange::FiveMinutes,
            TimeRange::OneHour,
            TimeRange::OneDay,
        ] {
            harness.state_mut().view.panel = panel;
            harness.state_mut().view.range = range;
            if panel == PanelId::Workloads {
                let id = harness
                    .state()
                    .fleet
                    .workloads()
                    .next()
                    .map(|w| w.id.clone());
                harness.state_mut().selected_workload = id;
            }
            harness.step();
            group.bench_function(format!("{}/{}", panel.label(), range.label()), |b| {
                b.iter(|| harness.step());
            });
        }
    }
    group.finish();
}

/// Two capacity views of `n` nodes that differ in one node's requests (a node update), with
/// usage on every node; pressure, cordons and taints on some.
fn big_views(n: usize) -> [std::sync::Arc<scaleboard::model::capacity::CapacityView>; 2] {
    use scaleboard::model::capacity::{
        AutoscalerPresence, CapacityView, ContextCapacity, NodeInfo, NodeRoom, NodeUsage, Taint,
        TaintEffect,
    };
    let nodes: Vec<NodeInfo> = (0..n)
        .map(|i| NodeInfo {
            room: NodeRoom {
                name: format!("big-node-{i:05}"),
                allocatable_cpu_milli: 16_000,
                allocatable_memory_bytes: 64 << 30,
                allocatable_pods: 110,
                requested_cpu_milli: 1_000 + (i as u64 * 37) % 14_000,
                requested_memory_bytes: (4 + i as u64 % 50) << 30,
                pods: 10 + i as u64 % 90,
                labels: [("pool".to_string(), format!("pool-{}", i % 3))].into(),
                taints: if i % 3 == 2 {
                    vec![Taint {
                        key: "dedicated".into(),
                        value: Some("batch".into()),
                        effect: TaintEffect::NoSchedule,
                    }]
                } else {
                    Vec::new()
                },
                unschedulable: i % 50 == 0,
                ready: i % 97 != 0,
            },
            pressure: if i % 101 == 0 {
                vec!["MemoryPressure".into()]
            } else {
                Vec::new()
            },
            used: Some(NodeUsage {
                cpu_milli: 500 + (i as u64 * 53) % 12_000,
                memory_bytes: (3 + i as u64 % 40) << 30,
            }),
        })
        .collect();
    let view = |nodes: Vec<NodeInfo>| {
        let context = ContextCapacity {
            nodes: Ok(nodes),
            partial_pods: None,
            quotas: Default::default(),
            admission_unknown: None,
            limit_ranges: Default::default(),
            autoscaler: AutoscalerPresence::NotSeen,
            usage_note: None,
        };
        std::sync::Arc::new(CapacityView {
            contexts: [("big".to_string(), context)].into(),
            ..CapacityView::default()
        })
    };
    let mut updated = nodes.clone();
    updated[n / 2].room.requested_cpu_milli += 500;
    [view(nodes), view(updated)]
}

/// The Clusters panel with a 5,000-node context next to the demo fleet; each frame gets the
/// other of two views (as if the nodes watch had changed a node since the last frame).
fn clusters_frame(c: &mut Criterion) {
    use scaleboard::capacity::series::{
        CPU_ALLOCATABLE, CPU_REQUESTED, CPU_USED, MEMORY_ALLOCATABLE, MEMORY_REQUESTED,
        MEMORY_USED, capacity_target,
    };
    use scaleboard::model::snapshot::Snapshot;
    let dir = tempfile::tempdir().expect("temp dir");
    let app = app_with_history(dir.path());
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
    while harness.state().fleet.endpoints.is_empty()
        || harness
            .state()
            .fleet
            .endpoints
            .iter()
            .any(|e| e.snapshot.is_none())
    {
        assert!(Instant::now() < deadline, "demo fleet did not answer");
        harness.step();
        std::thread::sleep(Duration::from_millis(5));
    }
    // The big context is an endpoint of its own beside the demo's (a copy of the demo's
    // Kubernetes endpoint under another id, so the demo's polls do not replace its view).
    let views = big_views(5_000);
    let mut big = harness
        .state()
        .fleet
        .endpoints
        .iter()
        .find(|e| matches!(&e.snapshot, Some(Snapshot::Workloads(l)) if l.capacity.is_some()))
        .expect("a workload endpoint with capacity")
        .clone();
    big.info.id = "big-k8s".into();
    big.info.label = "big (Kubernetes)".into();
    harness.state_mut().fleet.endpoints.insert(0, big);
    let index = 0;
    let endpoint = "big-k8s".to_string();
    {
        let target = capacity_target(&endpoint, "big");
        let store = &mut harness.state_mut().store;
        for t in (START_MS - 86_400_000..=START_MS).step_by(1000) {
            let phase = (t / 1000) as f64 / 900.0;
            for (i, metric) in [
                CPU_REQUESTED,
                CPU_ALLOCATABLE,
                CPU_USED,
                MEMORY_REQUESTED,
                MEMORY_ALLOCATABLE,
                MEMORY_USED,
            ]
            .into_iter()
            .enumerate()
            {
                store.push(
                    &SeriesKey::new(&target, metric),
                    t,
                    40_000.0 + 20_000.0 * (phase + i as f64).sin(),
                );
            }
        }
    }
    let set = |h: &mut Harness<'_, ScaleboardApp>, v: &std::sync::Arc<_>| {
        if let Some(Snapshot::Workloads(list)) = &mut h.state_mut().fleet.endpoints[index].snapshot
        {
            list.capacity = Some(std::sync::Arc::clone(v));
        }
    };
    harness.state_mut().view.panel = PanelId::Clusters;
    harness.state_mut().view.range = TimeRange::OneHour;
    set(&mut harness, &views[0]);
    harness.step();
    {
        use egui_kittest::kittest::Queryable as _;
        // The big context is the one drawn, with its plots.
        harness.get_by_label_contains("big (Kubernetes) · context big");
        harness.get_by_label("5000 nodes");
        assert!(harness.query_all_by_label("CPU (cores)").count() >= 1);
    }
    // Every frame's own time, to see the worst one (criterion reports the mean).
    let mut times = Vec::with_capacity(300);
    for i in 0..300 {
        set(&mut harness, &views[i % 2]);
        let start = Instant::now();
        harness.step();
        times.push(start.elapsed());
    }
    times.sort();
    eprintln!(
        "clusters panel, 5,000 nodes, a new view every frame: median {:.2} ms, p99 {:.2} ms, \
         max {:.2} ms over {} frames",
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() * 99 / 100].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
        times.len()
    );
    let mut group = c.benchmark_group("frame");
    let mut flip = 0_usize;
    group.bench_function("Clusters/5000 nodes, node update per frame", |b| {
        b.iter(|| {
            flip += 1;
            set(&mut harness, &views[flip % 2]);
            harness.step();
        });
    });
    set(&mut harness, &views[0]);
    harness.step();
    group.bench_function("Clusters/5000 nodes, unchanged", |b| {
        b.iter(|| harness.step());
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3));
    targets = frame, clusters_frame
}
criterion_main!(benches);
