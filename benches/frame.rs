//! CPU cost of one UI frame (layout, plots, tables; no GPU) on the demo fleet with a full day of
//! history in every series, per panel and time range. See BENCHMARKS.md for figures.

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

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3));
    targets = frame
}
criterion_main!(benches);
