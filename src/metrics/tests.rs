use super::*;

const S: i64 = 1_000;
const MIN: i64 = 60 * S;
const H: i64 = 60 * MIN;
/// Aligned to 60 s so bucket boundaries are easy to reason about.
const T0: TimeMs = 1_700_000_040_000;

fn key(metric: &str) -> SeriesKey {
    SeriesKey::new("web-1", metric)
}

fn all_points(d: &Downsampled) -> impl Iterator<Item = [f64; 2]> + '_ {
    d.segments.iter().flatten().copied()
}

fn y_range(d: &Downsampled) -> (f64, f64) {
    all_points(d).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), [_, y]| {
        (lo.min(y), hi.max(y))
    })
}

/// 24 h of 1 s samples, all nonzero, with a spike and a dip in the last five minutes.
fn day_of_seconds(store: &mut MetricStore, k: &SeriesKey) -> TimeMs {
    for i in 0..86_400 {
        let t = T0 + i * S;
        let v = match i {
            86_300 => 1_000.0,
            86_200 => -50.0,
            _ => 1.0 + (i % 100) as f64,
        };
        store.push(k, t, v);
    }
    T0 + 86_400 * S
}

#[test]
fn buckets_aggregate_min_max_mean_incrementally() {
    let mut store = MetricStore::default();
    let k = key("cpu");
    for i in 0..10 {
        store.push(&k, T0 + i * S, (i + 1) as f64);
    }
    store.push(&k, T0 + 10 * S, 100.0);

    let series = store.series(&k).unwrap();
    let ten = series.tiers[0].buckets();
    assert_eq!(series.tiers[0].bucket_ms(), 10 * S);
    assert_eq!(ten.len(), 2);
    assert_eq!(ten[0].start, T0);
    assert_eq!((ten[0].min, ten[0].max, ten[0].count()), (1.0, 10.0, 10));
    assert!((ten[0].mean - 5.5).abs() < 1e-5);
    assert_eq!((ten[1].min, ten[1].max, ten[1].count()), (100.0, 100.0, 1));

    let sixty = series.tiers[1].buckets();
    assert_eq!(sixty.len(), 1);
    assert_eq!(
        (sixty[0].min, sixty[0].max, sixty[0].count()),
        (1.0, 100.0, 11)
    );
    assert!((f64::from(sixty[0].mean) - 155.0 / 11.0).abs() < 1e-4);
    assert_eq!(store.latest(&k), Some((T0 + 10 * S, 100.0)));
}

#[test]
fn views_pick_the_finest_tier_that_covers_them() {
    let mut store = MetricStore::default();
    let k = key("cpu");
    let now = day_of_seconds(&mut store, &k);

    for (span, bucket_ms) in [(5 * MIN, 0), (10 * MIN, 0), (H, 10 * S), (24 * H, MIN)] {
        let d = store.downsample(&k, now - span..now, 1200);
        assert_eq!(d.tier_bucket_ms, bucket_ms, "view of {span} ms");
        assert!(d.point_count() <= 2 * 1200, "view of {span} ms");
        assert_eq!(d.segments.len(), 1, "no gaps in view of {span} ms");
        // The spike and the dip survive every resolution.
        assert_eq!(y_range(&d), (-50.0, 1_000.0), "view of {span} ms");
        let xs: Vec<f64> = all_points(&d).map(|[x, _]| x).collect();
        assert!(xs.windows(2).all(|w| w[0] <= w[1]), "x sorted, {span} ms");
        assert!(xs[0] >= (now - span - MIN) as f64 / 1000.0);
    }
}

#[test]
fn dense_raw_view_keeps_two_points_per_column_and_the_spike() {
    let mut store = MetricStore::default();
    let k = key("cpu");
    let now = day_of_seconds(&mut store, &k);
    let d = store.downsample(&k, now - 10 * MIN..now, 100);
    assert_eq!(d.tier_bucket_ms, 0);
    assert!(d.point_count() <= 200, "{} points", d.point_count());
    assert!(d.point_count() >= 100);
    assert_eq!(y_range(&d), (-50.0, 1_000.0));
    // The spike sits at its own time, not at a column edge.
    let spike = all_points(&d).find(|&[_, y]| y == 1_000.0).unwrap();
    assert_eq!(spike[0], (T0 + 86_300 * S) as f64 / 1000.0);
}

#[test]
fn few_points_are_returned_as_is() {
    let mut store = MetricStore::default();
    let k = key("rps");
    for i in 0..10 {
        store.push(&k, T0 + i * S, 10.0 * (i + 1) as f64);
    }
    let d = store.downsample(&k, T0..T0 + MIN, 100);
    let expected: Vec<[f64; 2]> = (0..10)
        .map(|i| [(T0 + i * S) as f64 / 1000.0, 10.0 * (i + 1) as f64])
        .collect();
    assert_eq!(d.segments, vec![expected]);
    assert!(store.downsample(&k, T0..T0 + MIN, 0).is_empty());
    let backwards = std::ops::Range {
        start: T0 + MIN,
        end: T0,
    };
    assert!(store.downsample(&k, backwards, 100).is_empty());
    assert!(
        store
            .downsample(&key("other"), T0..T0 + MIN, 100)
            .is_empty()
    );
}

#[test]
fn gaps_split_segments_and_are_never_zero() {
    let mut store = MetricStore::default();
    let k = key("latency");
    for i in 0..120 {
        if i == 60 {
            store.push_gap(&k, T0 + i * S);
        } else {
            store.push(&k, T0 + i * S, 5.0);
        }
    }
    let d = store.downsample(&k, T0..T0 + 2 * MIN, 1200);
    assert_eq!(d.segments.len(), 2);
    assert_eq!(d.segments[0].len(), 60);
    assert_eq!(d.segments[1].len(), 59);
    assert!(all_points(&d).all(|[_, y]| y != 0.0));
    assert_eq!(store.latest(&k), Some((T0 + 119 * S, 5.0)));

    // A gap as the newest entry does not hide the last real value.
    store.push_gap(&k, T0 + 120 * S);
    assert_eq!(store.latest(&k), Some((T0 + 119 * S, 5.0)));
    // A non-finite value is a gap too, not a sample.
    store.push(&k, T0 + 121 * S, f64::NAN);
    assert_eq!(store.latest(&k), Some((T0 + 119 * S, 5.0)));
    // A gap does not create a series.
    store.push_gap(&key("never-seen"), T0);
    assert!(!store.contains(&key("never-seen")));
}

#[test]
fn gaps_split_segments_in_every_tier() {
    let mut store = MetricStore::default();
    let k = key("cpu");
    for i in 0..86_400 {
        let t = T0 + i * S;
        // Two failed polls: one in the last hour, one in the middle of the day. Data resumes
        // a second later, in the same or the adjacent bucket.
        if i == 86_400 - 1_800 || i == 43_200 {
            store.push_gap(&k, t);
        } else {
            store.push(&k, t, 3.0 + (i % 7) as f64);
        }
    }
    let now = T0 + 86_400 * S;
    let hour = store.downsample(&k, now - H..now, 1200);
    assert_eq!(hour.tier_bucket_ms, 10 * S);
    assert_eq!(hour.segments.len(), 2);
    let day = store.downsample(&k, now - 24 * H..now, 1200);
    assert_eq!(day.tier_bucket_ms, MIN);
    assert_eq!(day.segments.len(), 3);
    for d in [&hour, &day] {
        assert!(all_points(d).all(|[_, y]| y != 0.0));
    }
}

#[test]
fn silence_longer_than_the_poll_rhythm_splits_segments() {
    let mut store = MetricStore::default();
    let k = key("cpu");
    // 1 s polling with 20 s of silence and no gap marker.
    for i in (0..60).chain(80..120) {
        store.push(&k, T0 + i * S, 2.0);
    }
    let d = store.downsample(&k, T0..T0 + 2 * MIN, 1200);
    assert_eq!(d.segments.len(), 2);

    // 15 s polling is a rhythm, not a run of gaps: neither raw nor 10 s buckets split.
    let slow = key("slow");
    for i in 0..(2 * 240) {
        store.push(&slow, T0 + i * 15 * S, 2.0);
    }
    let now = T0 + 2 * H;
    let raw = store.downsample(&slow, now - 5 * MIN..now, 1200);
    assert_eq!((raw.tier_bucket_ms, raw.segments.len()), (0, 1));
    let hour = store.downsample(&slow, now - H..now, 1200);
    assert_eq!((hour.tier_bucket_ms, hour.segments.len()), (10 * S, 1));
}

#[test]
fn gap_for_target_hits_only_that_target() {
    let mut store = MetricStore::default();
    let keys = [
        SeriesKey::new("a", "cpu"),
        SeriesKey::new("a", "mem"),
        SeriesKey::new("ab", "cpu"),
        SeriesKey::new("b", "cpu"),
    ];
    for i in 0..10 {
        for k in &keys {
            store.push(k, T0 + i * S, 1.0);
        }
    }
    let before: Vec<u64> = keys.iter().map(|k| store.version(k)).collect();
    store.push_gap_for_target("a", T0 + 10 * S);
    for i in 11..20 {
        for k in &keys {
            store.push(k, T0 + i * S, 1.0);
        }
    }
    let segments: Vec<usize> = keys
        .iter()
        .map(|k| store.downsample(k, T0..T0 + MIN, 1200).segments.len())
        .collect();
    assert_eq!(segments, [2, 2, 1, 1]);
    let mut listed: Vec<_> = store.keys().collect();
    listed.sort();
    assert_eq!(listed, keys.iter().collect::<Vec<_>>());
    assert!(before.iter().all(|&v| v > 0));
}

#[test]
fn out_of_order_samples_are_dropped_and_counted() {
    let mut store = MetricStore::default();
    let k = key("cpu");
    store.push(&k, T0 + 10 * S, 1.0);
    let version = store.version(&k);
    store.push(&k, T0 + 5 * S, 2.0);
    store.push_gap(&k, T0 + 6 * S);
    assert_eq!(store.dropped_out_of_order(), 2);
    assert_eq!(store.version(&k), version);
    assert_eq!(store.latest(&k), Some((T0 + 10 * S, 1.0)));
    store.push(&k, T0 + 11 * S, 3.0);
    assert!(store.version(&k) > version);
    assert_eq!(store.downsample(&k, T0..T0 + MIN, 100).point_count(), 2);
    assert_eq!(store.version(&key("unknown")), 0);
}

#[test]
fn pruning_bounds_two_days_and_forgets_idle_series() {
    let mut store = MetricStore::default();
    let busy = key("busy");
    let idle = key("idle");
    let capacities = |store: &MetricStore, k: &SeriesKey| {
        let s = store.series(k).unwrap();
        (
            s.raw.samples().capacity(),
            s.tiers
                .iter()
                .map(|t| t.buckets().capacity())
                .collect::<Vec<_>>(),
        )
    };
    store.push(&busy, T0, 1.0);
    let bounds = {
        let config = StoreConfig::default();
        (
            config.raw_capacity,
            config
                .tiers
                .iter()
                .map(|t| t.capacity())
                .collect::<Vec<_>>(),
        )
    };
    for i in 0..(2 * 86_400 / 5) {
        let t = T0 + i * 5 * S;
        store.push(&busy, t, 1.0 + (i % 3) as f64);
        if t < T0 + 12 * H {
            store.push(&idle, t, 4.0);
        }
    }
    let now = T0 + 2 * 24 * H;
    store.prune(now);
    assert!(!store.contains(&idle));
    assert_eq!(store.series_count(), 1);
    let (raw_cap, tier_caps) = capacities(&store, &busy);
    assert!(raw_cap <= bounds.0, "raw ring {raw_cap} > {}", bounds.0);
    for (cap, bound) in tier_caps.iter().zip(&bounds.1) {
        assert!(cap <= bound, "tier {cap} > {bound}");
    }

    let s = store.series(&busy).unwrap();
    let raw = s.raw.samples();
    assert!(raw.len() <= 121, "{} raw samples", raw.len());
    assert!(raw.front().unwrap().t >= now - 10 * MIN);
    for tier in &s.tiers {
        let buckets = tier.buckets();
        assert!(buckets.len() as i64 <= tier.keep_ms() / tier.bucket_ms() + 1);
        assert!(buckets.front().unwrap().start + tier.bucket_ms() > now - tier.keep_ms());
    }

    // Pruning changes the series, so cached plots must be invalidated.
    let version = store.version(&busy);
    store.prune(now + 20 * MIN);
    assert!(store.version(&busy) > version);
    assert!(store.series(&busy).unwrap().raw.samples().is_empty());
    store.prune(now + 25 * H);
    assert_eq!(store.series_count(), 0);
}

#[test]
fn series_beyond_the_full_limit_move_the_stalest_to_the_coarse_tier() {
    let mut store = MetricStore::new(StoreConfig {
        max_full_series: 3,
        evict_idle_ms: 4 * S,
        ..StoreConfig::default()
    });
    for (i, metric) in ["a", "b", "c"].into_iter().enumerate() {
        store.push(&key(metric), T0 + i as i64 * S, 1.0);
    }
    store.push(&key("a"), T0 + 5 * S, 1.0);
    store.push(&key("d"), T0 + 6 * S, 1.0);
    assert_eq!(store.series_count(), 4);
    assert_eq!(store.resolution(&key("b")), Some(Resolution::Coarse));
    assert_eq!(store.resolution(&key("d")), Some(Resolution::Full));
    assert_eq!(store.latest(&key("b")), Some((T0 + S, 1.0)));
    assert_eq!(store.demoted_series(), 1);
    assert_eq!(store.refused_series(), 0);
}

/// More live series than the full class holds: the first ones stay full, the rest are kept
/// coarse without churn (nothing refused), and a pinned series (the fleet's totals) is full.
#[test]
fn a_full_class_of_live_series_sends_new_ones_coarse_but_takes_a_pinned_one() {
    let mut store = MetricStore::new(StoreConfig {
        max_full_series: 100,
        ..StoreConfig::default()
    });
    let keys = fleet_keys(1_000);
    for second in 0..3 {
        for k in &keys {
            store.push(k, T0 + second * S, 1.0);
        }
    }
    assert_eq!(store.series_count(), 1_000);
    assert_eq!(store.summary().full, 100);
    assert_eq!(store.summary().coarse, 900);
    assert_eq!((store.demoted_series(), store.refused_series()), (0, 0));
    let chosen = &keys[999];
    assert_eq!(store.resolution(chosen), Some(Resolution::Coarse));
    store.push_pinned(chosen, T0 + 3 * S, 2.0);
    assert_eq!(store.resolution(chosen), Some(Resolution::Full));
    assert_eq!(store.latest(chosen), Some((T0 + 3 * S, 2.0)));
    assert_eq!(store.summary().full, 100);
    assert_eq!(store.demoted_series(), 1);
    assert_eq!(store.series_count(), 1_000);
}

fn fleet_keys(n: usize) -> Vec<SeriesKey> {
    (0..n)
        .map(|i| SeriesKey::new(format!("node-{:03}", i / 10), format!("metric_{}", i % 10)))
        .collect()
}

/// The memory bound, through the public API. 86.4 M pushes take about a minute in the
/// unoptimised test profile, so a day of 1 s samples goes into 10 series, which shows that
/// nothing grows; then 1,000 series get a schedule that fills every buffer exactly as a day of
/// 1 s samples does (the last 11 min at 1 s, the hour at 10 s, the day at 60 s). The bench
/// pushes the full 86.4 M samples in release and prints the same figure.
#[test]
fn thousand_series_for_a_day_fit_in_64_mib() {
    let ten = fleet_keys(10);
    let mut full = MetricStore::default();
    for k in &ten {
        full.push(k, T0, 1.0);
    }
    let fresh = full.memory_bytes();
    for (n, k) in ten.iter().enumerate() {
        for i in 1..86_400 {
            full.push(k, T0 + i * S, 1.0 + ((i + n as i64) % 50) as f64);
        }
    }
    let day = full.memory_bytes();
    // A new series costs what it holds; a full one its bound, and it stops there.
    assert!(fresh * 20 < day, "fresh {fresh} B vs a day {day} B");
    for i in 86_400..90_000 {
        full.push(&ten[0], T0 + i * S, 1.0 + (i % 50) as f64);
    }
    assert_eq!(full.memory_bytes(), day, "an hour more grew no buffer");
    let store_struct = size_of::<MetricStore>();
    let per_series = (day - store_struct) / 10;

    let keys = fleet_keys(1_000);
    let mut store = MetricStore::default();
    let end = T0 + 86_400 * S;
    for (n, k) in keys.iter().enumerate() {
        let hour = end - H - 10 * S;
        let schedule = (T0..hour)
            .step_by(60_000)
            .chain((hour..end - 11 * MIN).step_by(10_000))
            .chain((end - 11 * MIN..end).step_by(1_000));
        for (i, t) in schedule.enumerate() {
            store.push(k, t, 1.0 + ((i + n) % 50) as f64);
        }
    }
    let bytes = store.memory_bytes();
    eprintln!(
        "MetricStore: 1,000 series x 24 h = {bytes} bytes ({:.1} MiB, {per_series} bytes/series)",
        bytes as f64 / (1024.0 * 1024.0),
    );
    assert_eq!(store.series_count(), 1_000);
    assert!(bytes < 64 * 1024 * 1024, "{bytes} bytes");
    // Each of the 1,000 costs what each of the 10 did; only the hash table's share per entry
    // differs (its buckets come in powers of two).
    let expected = store_struct + 1_000 * per_series;
    assert!(
        bytes.abs_diff(expected) < expected / 200,
        "{bytes} bytes vs {expected}"
    );

    for (store, k) in [(&full, &ten[3]), (&store, &keys[999])] {
        let s = store.series(k).unwrap();
        assert_eq!(s.raw.samples().len(), 601);
        assert_eq!(s.tiers[0].buckets().len(), 361);
        assert_eq!(s.tiers[1].buckets().len(), 1_440);
    }
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

fn poll(store: &mut MetricStore, keys: &[SeriesKey], t: TimeMs) {
    for (n, k) in keys.iter().enumerate() {
        store.push_bulk(k, t, 1.0 + ((t / S + n as i64) % 7) as f64);
    }
}

/// 10,000 workloads × 4 key series: every one recorded (at the coarse tier, nothing watched),
/// within the budget, and the rings are at their bound from the start (three more hours grow
/// nothing).
#[test]
fn ten_thousand_workloads_key_series_are_all_recorded_coarse_within_the_budget() {
    let keys = workload_keys(10_000);
    let mut store = MetricStore::default();
    for i in 0..5 {
        poll(&mut store, &keys, T0 + i * 10 * S);
    }
    let summary = store.summary();
    assert!(summary.coarse_mode);
    assert_eq!((summary.full, summary.coarse), (0, 40_000));
    assert_eq!((summary.not_recorded, store.refused_series()), (0, 0));
    assert_eq!(
        store.demoted_series(),
        1_000,
        "the first 1,000 were full, once"
    );
    let last = T0 + 40 * S;
    for (n, k) in keys.iter().enumerate() {
        let v = 1.0 + ((last / S + n as i64) % 7) as f64;
        assert_eq!(store.latest(k), Some((last, v)), "{k:?}");
    }
    let bytes = store.memory_bytes();
    let budget = StoreConfig::default().coarse_budget_bytes;
    assert!(summary.coarse_bytes <= budget, "{summary:?}");
    assert!(bytes <= budget + (1 << 20), "{bytes} bytes");
    for i in 1..=181 {
        poll(&mut store, &keys, last + i * MIN);
    }
    assert_eq!(store.memory_bytes(), bytes, "a full ring grew nothing");
    eprintln!(
        "MetricStore: 10,000 workloads x 4 series coarse = {bytes} bytes ({:.1} MiB, {} bytes \
         a series)",
        bytes as f64 / (1024.0 * 1024.0),
        bytes / keys.len()
    );
}

/// A large fleet, one workload selected after an hour: its plot has full resolution from then
/// on with the coarse hour as its older part; deselected, it goes back to coarse, data kept.
#[test]
fn selecting_a_workload_promotes_it_and_its_plot_is_full_from_then_on() {
    let keys = workload_keys(300);
    let mut store = MetricStore::default();
    for i in 0..360 {
        poll(&mut store, &keys, T0 + i * 10 * S);
    }
    let chosen = &keys[4 * 7];
    let target = chosen.target.clone();
    assert_eq!(store.resolution(chosen), Some(Resolution::Coarse));
    let selected_at = T0 + H;
    let hour = |store: &MetricStore, now: TimeMs| store.downsample(chosen, now - H..now, 1200);
    let before = hour(&store, selected_at);
    assert_eq!(before.tier_bucket_ms, MIN);
    let version = store.version(chosen);
    let latest = store.latest(chosen);

    store.set_watched([target.clone()].into());
    for k in &keys[4 * 7..4 * 8] {
        assert_eq!(store.resolution(k), Some(Resolution::Full), "{k:?}");
    }
    assert!(store.version(chosen) > version, "plots must redraw");
    assert_eq!(store.latest(chosen), latest);
    assert_eq!(store.summary().full_watched, 4);

    for i in 0..600 {
        poll(&mut store, &keys, selected_at + i * S);
    }
    let now = selected_at + 600 * S;
    let recent = store.downsample(chosen, now - 5 * MIN..now, 1200);
    assert_eq!(recent.tier_bucket_ms, 0, "raw samples since the selection");
    assert_eq!(recent.point_count(), 300);
    let unselected = store.downsample(&keys[0], now - 5 * MIN..now, 1200);
    assert_eq!(unselected.tier_bucket_ms, MIN);
    // The hour view reaches back into the coarse history, with no hole at the switch.
    let whole = hour(&store, now);
    let xs: Vec<f64> = all_points(&whole).map(|[x, _]| x).collect();
    assert!(xs[0] < ((now - 55 * MIN) as f64) / 1000.0, "{xs:?}");
    assert!(*xs.last().unwrap() >= ((now - MIN) as f64) / 1000.0);
    assert_eq!(whole.segments.len(), 1, "{:?}", whole.segments);

    store.set_watched(Default::default());
    assert_eq!(store.resolution(chosen), Some(Resolution::Coarse));
    let kept = hour(&store, now);
    assert_eq!(kept.tier_bucket_ms, MIN);
    assert_eq!(
        all_points(&kept).next().map(|[x, _]| x),
        Some(xs[0]),
        "the data was kept, down-sampled"
    );
}

/// With the coarse budget spent on live series, a new series is refused: counted and named,
/// never silently lost, and recorded once idle series leave room.
#[test]
fn no_series_silently_stops_a_refused_one_is_counted_and_named() {
    let keys = workload_keys(50);
    let config = StoreConfig {
        bulk_full_max: 10,
        ..StoreConfig::default()
    };
    let per_series = classes::coarse_fixed_cost(config.coarse.capacity());
    let key_bytes = keys[0].heap_bytes();
    let mut store = MetricStore::new(StoreConfig {
        coarse_budget_bytes: 120 * (per_series + key_bytes),
        ..config
    });
    for i in 0..3 {
        poll(&mut store, &keys, T0 + i * S);
    }
    let summary = store.summary();
    let recorded: Vec<&SeriesKey> = keys.iter().filter(|k| store.contains(k)).collect();
    assert_eq!(summary.full + summary.coarse, recorded.len());
    assert_eq!(summary.not_recorded, keys.len() - recorded.len());
    assert!(summary.not_recorded >= 70, "{summary:?}");
    assert_eq!(store.refused_series(), summary.not_recorded as u64);
    assert_eq!(summary.not_recorded_examples.len(), 3);
    assert!(
        keys.iter()
            .any(|k| format!("{} {}", k.target, k.metric) == summary.not_recorded_examples[0])
    );

    // The recorded ones fall silent; the refused ones get in once those are idle.
    let refused: Vec<SeriesKey> = keys
        .iter()
        .filter(|k| !store.contains(k))
        .cloned()
        .collect();
    let later = T0 + 3 * S + StoreConfig::default().evict_idle_ms;
    poll(&mut store, &refused[..60], later);
    assert!(refused[..60].iter().all(|k| store.contains(k)));
    assert_eq!(store.summary().not_recorded, refused.len() - 60);
    assert!(store.evicted_series() >= 60);
}

/// Entering coarse mode moves the full bulk series one per bulk push after it, not all in the
/// push that crossed the limit (1,000 at once took 3–4 ms inside one frame); a series selected
/// meanwhile stays full.
#[test]
fn coarse_mode_demotes_the_full_series_one_per_push_and_spares_a_watched_one() {
    // Ten workloads' four series each; the first five workloads' 20 series fill the full class.
    let keys = workload_keys(10);
    let mut store = MetricStore::new(StoreConfig {
        bulk_full_max: 20,
        ..StoreConfig::default()
    });
    poll(&mut store, &keys[..20], T0);
    assert_eq!(store.summary().full, 20);
    store.set_watched([keys[0].target.clone()].into());
    // The 21st bulk series crosses the limit: it goes coarse, and one full series with it.
    poll(&mut store, &keys[20..21], T0);
    let summary = store.summary();
    assert!(summary.coarse_mode);
    assert_eq!(store.demoted_series(), 1);
    assert_eq!((summary.full, summary.coarse), (19, 2));
    // Fifteen more bulk pushes move the other fifteen unwatched ones; the watched four stay.
    poll(&mut store, &keys[21..36], T0);
    let summary = store.summary();
    assert_eq!(store.demoted_series(), 16);
    assert_eq!((summary.full, summary.coarse), (4, 32));
    poll(&mut store, &keys[36..], T0);
    assert_eq!(store.demoted_series(), 16);
    for k in &keys {
        let want = if k.target == keys[0].target {
            Resolution::Full
        } else {
            Resolution::Coarse
        };
        assert_eq!(store.resolution(k), Some(want), "{k:?}");
    }
}

/// A large fleet's first poll: the coarse map has room for all its series before the first
/// one goes in (no rehash of 30,000 series halfway), never more than the budget holds.
#[test]
fn a_large_poll_makes_room_for_its_series_at_once_within_the_budget() {
    let mut store = MetricStore::default();
    store.expect_bulk_series(40_000);
    assert!(store.summary().coarse_mode);
    assert!(
        store.coarse.capacity() >= 40_000,
        "{}",
        store.coarse.capacity()
    );
    let fits = StoreConfig::default().coarse_budget_bytes
        / classes::coarse_fixed_cost(StoreConfig::default().coarse.capacity());
    let mut small = MetricStore::default();
    small.expect_bulk_series(10 * fits);
    assert!(
        small.coarse.capacity() < 2 * fits,
        "{}",
        small.coarse.capacity()
    );
    // A small fleet stays full and reserves nothing.
    let mut few = MetricStore::default();
    few.expect_bulk_series(100);
    assert_eq!(few.coarse.capacity(), 0);
}
