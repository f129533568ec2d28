//! MetricStore throughput and downsampling cost; see BENCHMARKS.md for figures.

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scaleboard::metrics::{MetricStore, SeriesKey, TimeMs};

const S: i64 = 1_000;
const MIN: i64 = 60 * S;
const H: i64 = 60 * MIN;
const DAY: i64 = 24 * H;
const T0: TimeMs = 1_700_000_040_000;
const COLUMNS: usize = 1200;

fn value(i: i64) -> f64 {
    1.0 + (i % 97) as f64 * 0.5
}

fn fleet_keys(n: usize) -> Vec<SeriesKey> {
    (0..n)
        .map(|i| SeriesKey::new(format!("node-{:03}", i / 10), format!("metric_{}", i % 10)))
        .collect()
}

fn push(c: &mut Criterion) {
    let mut group = c.benchmark_group("push");
    // One poll of a 1,000-series fleet: 1,000 pushes at the same timestamp.
    let keys = fleet_keys(1_000);
    let mut store = MetricStore::default();
    let mut t = T0;
    group.throughput(Throughput::Elements(keys.len() as u64));
    group.bench_function("fleet_poll_1000_series", |b| {
        b.iter(|| {
            t += S;
            for k in &keys {
                store.push(black_box(k), t, value(t / S));
            }
        });
    });
    // One series, one sample: the hot path without map contention.
    let k = SeriesKey::new("node-000", "cpu");
    let mut store = MetricStore::default();
    let mut t = T0;
    group.throughput(Throughput::Elements(1));
    group.bench_function("single_series", |b| {
        b.iter(|| {
            t += S;
            store.push(black_box(&k), t, value(t / S));
        });
    });
    group.finish();
}

fn downsample(c: &mut Criterion) {
    let k = SeriesKey::new("node-000", "cpu");
    let mut store = MetricStore::default();
    for i in 0..DAY / S {
        store.push(&k, T0 + i * S, value(i));
    }
    let now = T0 + DAY;
    let mut group = c.benchmark_group("downsample_24h_series_1200_columns");
    for (name, span) in [("5min", 5 * MIN), ("1h", H), ("24h", DAY)] {
        let d = store.downsample(&k, now - span..now, COLUMNS);
        eprintln!(
            "downsample {name}: {} points in {} segments from the {} ms tier",
            d.point_count(),
            d.segments.len(),
            d.tier_bucket_ms,
        );
        group.bench_function(name, |b| {
            b.iter(|| store.downsample(black_box(&k), now - span..now, COLUMNS));
        });
    }
    group.finish();
}

/// Not timed by criterion: fills 1,000 series with 24 h of 1 s samples (86.4 M pushes) once
/// and prints the store's memory.
fn memory(_: &mut Criterion) {
    let keys = fleet_keys(1_000);
    let mut store = MetricStore::default();
    let started = Instant::now();
    for (n, k) in keys.iter().enumerate() {
        for i in 0..DAY / S {
            store.push(k, T0 + i * S, value(i + n as i64));
        }
    }
    let elapsed = started.elapsed();
    let bytes = store.memory_bytes();
    eprintln!(
        "memory: 1,000 series x 24 h of 1 s samples = {bytes} bytes ({:.1} MiB, {} bytes/series); \
         86.4 M pushes in {elapsed:.2?} ({:.1} ns/push)",
        bytes as f64 / (1024.0 * 1024.0),
        bytes / keys.len(),
        elapsed.as_nanos() as f64 / 86_400_000.0,
    );
}

/// A workload's four key series, named as the Kubernetes connector names them.
fn workload_keys(workloads: usize) -> Vec<SeriesKey> {
    (0..workloads)
        .flat_map(|i| {
            let target = format!(
                "k8s/prod-{}/team-{:02}/deployment/app-{i:05}",
                i % 3,
                i % 30
            );
            ["replicas", "ready", "cpu_percent", "memory_percent"]
                .map(|m| SeriesKey::new(target.clone(), m))
        })
        .collect()
}

/// 10,000 workloads x 4 key series (40,000 series): memory once every coarse ring holds its
/// 3 h, the cost of one poll's 40,000 pushes, and of selecting a workload (promote + demote).
fn fleet_10k_workloads(c: &mut Criterion) {
    let keys = workload_keys(10_000);
    let mut store = MetricStore::default();
    let mut t = T0;
    let started = Instant::now();
    // 3 h at one poll a minute: every coarse ring at its bound.
    for _ in 0..181 {
        t += MIN;
        for (n, k) in keys.iter().enumerate() {
            store.push_bulk(k, t, value(t / S + n as i64));
        }
    }
    let elapsed = started.elapsed();
    store.prune(t);
    let summary = store.summary();
    let bytes = store.memory_bytes();
    eprintln!(
        "fleet 10,000 workloads x 4 series: {} full, {} coarse, {} not recorded; {bytes} bytes \
         ({:.1} MiB, {} bytes a series; coarse budget {:.0} MiB); 181 polls in {elapsed:.2?} \
         ({:.1} ns/push)",
        summary.full,
        summary.coarse,
        summary.not_recorded,
        bytes as f64 / (1024.0 * 1024.0),
        bytes / keys.len(),
        summary.coarse_budget_bytes as f64 / (1024.0 * 1024.0),
        elapsed.as_nanos() as f64 / (181.0 * keys.len() as f64),
    );
    let mut group = c.benchmark_group("fleet_10k_workloads");
    group.throughput(Throughput::Elements(keys.len() as u64));
    group.bench_function("poll_40000_coarse_series", |b| {
        b.iter(|| {
            t += 10 * S;
            for (n, k) in keys.iter().enumerate() {
                store.push_bulk(black_box(k), t, value(t / S + n as i64));
            }
        });
    });
    // As the window takes a poll in (app/logic.rs): each sample arrives with its own target
    // string (made by the engine, not timed here) and becomes a key, then a push.
    let samples: Vec<(String, &'static str)> = keys
        .iter()
        .map(|k| {
            let metric = ["replicas", "ready", "cpu_percent", "memory_percent"]
                .into_iter()
                .find(|m| *m == k.metric)
                .expect("one of the four workload metrics");
            (k.target.clone(), metric)
        })
        .collect();
    group.bench_function("intake_40000_samples_as_the_window", |b| {
        b.iter_batched(
            || samples.clone(),
            |samples| {
                t += 10 * S;
                for (n, (target, metric)) in samples.into_iter().enumerate() {
                    let key = SeriesKey::new(target, metric);
                    store.push_bulk(&key, t, value(t / S + n as i64));
                }
            },
            criterion::BatchSize::LargeInput,
        );
    });
    // The operator selects another workload: its four series promoted, the previous one's
    // four demoted.
    let targets: Vec<String> = (0..100).map(|i| keys[i * 400].target.clone()).collect();
    let mut which = 0;
    group.throughput(Throughput::Elements(1));
    group.bench_function("select_another_workload", |b| {
        b.iter(|| {
            which = (which + 1) % targets.len();
            store.set_watched([targets[which].clone()].into());
        });
    });
    group.finish();
}

criterion_group!(benches, push, downsample, memory, fleet_10k_workloads);
criterion_main!(benches);
