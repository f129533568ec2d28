//! The scaling advisor's cost: 200 rules over 5,000 series, per evaluation (one poll of every
//! series fed through the rules) and per frame (what the window does each frame with the alert
//! book); see BENCHMARKS.md for figures.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scaleboard::advisor::{
    Advisor, Aggregation, Comparison, ProposalKind, Rule, Selector, Severity,
};
use scaleboard::model::endpoint::Area;

const S: i64 = 1_000;
const T0: i64 = 1_700_000_040_000;
const METRICS: usize = 50;
const TARGETS: usize = 100;

/// 200 rules: 4 per metric (different thresholds and durations, a quarter of them `below`).
fn rules() -> Vec<Rule> {
    (0..200)
        .map(|i| Rule {
            id: format!("rule-{i}"),
            title: format!("rule {i}"),
            enabled: true,
            selector: Selector {
                metric: format!("metric_{}", i % METRICS),
                area: Some(Area::Workloads),
                target: "*".into(),
            },
            query: None,
            comparison: if i % 4 == 3 {
                Comparison::Below
            } else {
                Comparison::Above
            },
            threshold: 50.0 + (i / METRICS) as f64 * 10.0,
            duration_secs: [0, 60, 300, 1800][i / METRICS],
            aggregation: [
                Aggregation::Last,
                Aggregation::Avg,
                Aggregation::All,
                Aggregation::Avg,
            ][i / METRICS],
            severity: if i % 2 == 0 {
                Severity::Warning
            } else {
                Severity::Critical
            },
            propose: ProposalKind::ScaleUp,
            advice: String::new(),
            min_replicas: 2,
            max_replicas: 10,
            target_percent: 70.0,
            hysteresis_percent: 5.0,
            source: "bench".into(),
        })
        .collect()
}

/// 5,000 series: 100 targets × 50 metrics; a third of the targets run hot.
fn series() -> Vec<(String, String, f64)> {
    let mut out = Vec::new();
    for t in 0..TARGETS {
        for m in 0..METRICS {
            let base = if t % 3 == 0 { 85.0 } else { 40.0 };
            out.push((
                format!("k8s/prod/deployment/w{t}"),
                format!("metric_{m}"),
                base,
            ));
        }
    }
    out
}

fn advisor() -> Advisor {
    let mut a = Advisor::new(rules());
    a.set_endpoints([("k8s".to_string(), Area::Workloads)]);
    a
}

fn evaluation(c: &mut Criterion) {
    let series = series();
    let mut a = advisor();
    // Warm up: 30 min of 2 s polls, so every window is full and alerts are firing.
    let mut t = T0;
    for step in 0..900 {
        t = T0 + step * 2 * S;
        for (target, metric, base) in &series {
            a.observe(target, metric, t, base + (step % 7) as f64);
        }
    }
    println!(
        "windows: {}, active alerts: {}, firing: {}",
        a.window_count(),
        a.book.active().count(),
        a.book.firing().count()
    );
    let mut group = c.benchmark_group("advisor");
    group.throughput(Throughput::Elements(series.len() as u64));
    group.bench_function("evaluation_200_rules_5000_series", |b| {
        let mut step = 900;
        b.iter(|| {
            step += 1;
            t += 2 * S;
            let mut changed = false;
            for (target, metric, base) in &series {
                changed |= a.observe(black_box(target), metric, t, base + (step % 7) as f64);
            }
            black_box(changed)
        });
    });
    group.throughput(Throughput::Elements(1));
    // Per frame the window checks the book's version (proposals are rebuilt only on change),
    // sorts the active alerts for the Alerts panel and asks each overview tile for its worst
    // severity.
    let mut index = scaleboard::advisor::AlertIndex::default();
    group.bench_function("frame_with_active_alerts", |b| {
        b.iter(|| {
            // What a frame does: refresh the index (a version check unless the book changed),
            // read the panel's first 200 rows and the tiles' worst severity.
            index.refresh(&a.book);
            let rows = index
                .sorted
                .iter()
                .take(200)
                .filter_map(|(r, t)| a.book.get(r, t))
                .count();
            let tile = index.firing_by_endpoint.get("k8s").copied();
            black_box((rows, tile))
        });
    });
    // After a poll changed the book: the index is rebuilt once (sort of every active alert).
    group.bench_function("index_rebuild_after_change", |b| {
        b.iter(|| {
            let mut fresh = scaleboard::advisor::AlertIndex::default();
            fresh.refresh(&a.book);
            black_box(fresh.sorted.len())
        });
    });
    group.finish();
}

criterion_group!(benches, evaluation);
criterion_main!(benches);
