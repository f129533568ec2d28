//! The audit log at scale: 1,000,000 records (an intent and an outcome per action that reached
//! its write, one record for the others, a few intents with no outcome).
//!
//! One-shot figures, printed (each is a whole streaming pass, too long for criterion's loop):
//! building the panel's index (what start-up asks), a filter change, a page deep in the list,
//! an incremental refresh after one append, the CLI's two passes, the CSV export; with the heap
//! they hold (a counting allocator: live and peak bytes) and the process RSS.
//! Criterion figures: one UI frame of the Audit panel showing the 1,000,000-record log (egui_kittest,
//! headless, no GPU), unfiltered and filtered. See BENCHMARKS.md.

#![allow(clippy::unwrap_used)]
// The counting allocator below is the one piece of unsafe code: GlobalAlloc is an unsafe trait.
#![allow(unsafe_code)]

use chrono::{TimeZone, Utc};
use criterion::{Criterion, criterion_group, criterion_main};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use scaleboard::actions::audit::{
    AuditFilter, AuditIndex, AuditLog, AuditOutcome, AuditQuery, AuditRecord,
};
use scaleboard::app::{AppOptions, PanelId, ScaleboardApp};
use scaleboard::engine::EngineConfig;
use scaleboard::model::clock::ManualClock;
use scaleboard::profiles::ProfileStore;
use std::collections::HashSet;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Counts live heap bytes and their peak.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; only counters are added.
unsafe impl std::alloc::GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        let now = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
        PEAK.fetch_max(now, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { std::alloc::System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { std::alloc::System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Resets the peak to the current live bytes; returns that baseline.
fn reset_peak() -> usize {
    let now = live();
    PEAK.store(now, Ordering::Relaxed);
    now
}

fn peak_above(base: usize) -> f64 {
    mib(PEAK.load(Ordering::Relaxed).saturating_sub(base))
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / 1_048_576.0
}

fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

const RECORDS: usize = 1_000_000;
const UNRESOLVED: usize = 10;
const START_MS: i64 = 1_793_628_000_000;

/// Writes the log straight (one buffered file, not a synced append per record).
fn write_log(data_dir: &Path) -> u64 {
    std::fs::create_dir_all(data_dir).unwrap();
    let log = AuditLog::new(data_dir);
    let mut out = BufWriter::new(std::fs::File::create(log.path()).unwrap());
    let users = ["alice", "bob", "carol", "dave", "erin"];
    let profiles = ["prod", "staging", "Demo fleet"];
    let outcomes = [
        AuditOutcome::Succeeded,
        AuditOutcome::Succeeded,
        AuditOutcome::Succeeded,
        AuditOutcome::AppliedNotReady,
        AuditOutcome::Failed,
        AuditOutcome::TimedOut,
        AuditOutcome::Cancelled,
    ];
    let t0 = Utc.timestamp_millis_opt(START_MS).unwrap() - chrono::Duration::days(365);
    let mut written = 0;
    let mut i = 0usize;
    while written < RECORDS {
        let target = format!("prod-eu/team-{:03}/deployment/svc-{:04}", i % 50, i % 2000);
        let mut r = AuditRecord {
            id: format!("20260101T000000.{i:09}Z-0-{i}"),
            when: t0 + chrono::Duration::seconds(i as i64 * 15),
            os_user: users[i % users.len()].into(),
            profile: profiles[i % profiles.len()].into(),
            action: "scale".into(),
            target: target.clone(),
            before: format!("{} replicas ({} ready)", i % 9 + 1, i % 9 + 1),
            after: format!("{} replicas", i % 7 + 2),
            command: format!(
                "kubectl scale deployment/svc-{:04} --replicas={}",
                i % 2000,
                i % 7 + 2
            ),
            outcome: AuditOutcome::Intent,
            detail: "about to run".into(),
            forced: i.is_multiple_of(97),
            overridden_guards: Vec::new(),
            advice: None,
        };
        let closed_left = (RECORDS - UNRESOLVED).saturating_sub(written);
        if closed_left == 0 {
            // The last few: intents with no outcome.
        } else if i % 10 == 9 || closed_left == 1 {
            // Refused or not run: one record, no intent.
            r.outcome = if i % 20 == 19 {
                AuditOutcome::Refused
            } else {
                AuditOutcome::NotRun
            };
            r.detail = "not run: changed since planned: replicas 3 -> 4".into();
        } else {
            serde_json::to_writer(&mut out, &r).unwrap();
            out.write_all(b"\n").unwrap();
            written += 1;
            r.outcome = outcomes[i % outcomes.len()];
            r.when += chrono::Duration::seconds(12);
            r.detail = format!("scaled {} -> {}; verified: all ready", i % 9 + 1, i % 7 + 2);
        }
        serde_json::to_writer(&mut out, &r).unwrap();
        out.write_all(b"\n").unwrap();
        written += 1;
        i += 1;
    }
    out.flush().unwrap();
    std::fs::metadata(log.path()).unwrap().len()
}

fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let base = reset_peak();
    let t = Instant::now();
    let out = f();
    eprintln!(
        "{what}: {:.1} ms, heap peak +{:.1} MiB, held after +{:.1} MiB",
        t.elapsed().as_secs_f64() * 1000.0,
        peak_above(base),
        mib(live().saturating_sub(base)),
    );
    out
}

fn one_shot(data_dir: &Path) {
    let log = AuditLog::new(data_dir);
    let all = AuditQuery {
        filter: AuditFilter::default(),
        first: 0,
        count: 200,
    };
    let mut index = timed("index build (start-up query, 200 rows)", || {
        let mut index = AuditIndex::new(AuditFilter::default());
        let page = index.query(&log, &all).unwrap();
        assert_eq!(page.records, RECORDS as u64);
        assert_eq!(page.unresolved_total, UNRESOLVED);
        index
    });
    eprintln!(
        "  index: {} rows, {:.1} MiB of heap ({} B per row)",
        index.matching(),
        mib(index.heap_bytes()),
        index.heap_bytes() / index.matching().max(1)
    );
    let deep_row = index.matching() * 9 / 10;
    timed(&format!("page of 200 rows at row {deep_row}"), || {
        let deep = AuditQuery {
            first: deep_row,
            ..all.clone()
        };
        assert_eq!(index.query(&log, &deep).unwrap().rows.len(), 200);
    });
    log.append(&AuditRecord {
        id: "x-0-0".into(),
        when: Utc::now(),
        os_user: "bench".into(),
        profile: "prod".into(),
        action: "scale".into(),
        target: "prod-eu/x".into(),
        before: "1".into(),
        after: "2".into(),
        command: "kubectl scale".into(),
        outcome: AuditOutcome::Refused,
        detail: String::new(),
        forced: false,
        overridden_guards: Vec::new(),
        advice: None,
    })
    .unwrap();
    timed("refresh after one append (incremental)", || {
        index.query(&log, &all).unwrap();
    });
    drop(index);
    timed("filter change: text \"svc-0042\" (full rescan)", || {
        let filter = AuditFilter {
            text: "svc-0042".into(),
            ..AuditFilter::default()
        };
        let mut index = AuditIndex::new(filter.clone());
        let page = index
            .query(
                &log,
                &AuditQuery {
                    filter,
                    ..all.clone()
                },
            )
            .unwrap();
        eprintln!("  {} matching rows", page.matching);
    });
    let unresolved = timed("CLI pass 1: unresolved intents", || {
        log.unresolved_intents().unwrap()
    });
    timed("CLI pass 2: one line per action to /dev/null", || {
        let ids: HashSet<String> = unresolved
            .intents
            .iter()
            .map(|u| u.record.id.clone())
            .collect();
        let mut sink = BufWriter::new(std::io::sink());
        log.for_each_action(unresolved.read_to, &ids, |a| {
            writeln!(
                sink,
                "{} {} {}",
                a.record.when, a.record.target, a.record.outcome
            )
        })
        .unwrap();
    });
    timed("CSV export of every record to /dev/null", || {
        log.write_csv_streaming(&AuditFilter::default(), None, std::io::sink())
            .unwrap();
    });
}

fn app_on(data_dir: &Path) -> Harness<'static, ScaleboardApp> {
    let config_dir = data_dir.join("config");
    let engine = EngineConfig::new(
        ManualClock::new(START_MS),
        config_dir.clone(),
        data_dir.to_path_buf(),
    );
    let options = AppOptions {
        engine,
        demo_seed: 7,
        profile: None,
        force_demo: true,
        started: None,
    };
    let app = ScaleboardApp::new(options, &ProfileStore::load(&config_dir)).unwrap();
    Harness::builder()
        .with_size([1440.0, 900.0])
        .build_ui_state(
            |ui, app: &mut ScaleboardApp| {
                let ctx = ui.ctx().clone();
                app.logic_tick(&ctx);
                scaleboard::ui::root_ui(app, ui);
            },
            app,
        )
}

fn wait(h: &mut Harness<'static, ScaleboardApp>, cond: impl Fn(&ScaleboardApp) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !cond(h.state()) {
        assert!(Instant::now() < deadline, "the audit query did not finish");
        h.step();
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn audit_panel(c: &mut Criterion) {
    let dir =
        tempfile::tempdir_in(std::env::var_os("AUDIT_BENCH_DIR").unwrap_or("/tmp".into())).unwrap();
    let t = Instant::now();
    let bytes = write_log(dir.path());
    eprintln!(
        "wrote {RECORDS} records, {:.0} MiB, in {:.1} s",
        bytes as f64 / 1_048_576.0,
        t.elapsed().as_secs_f64()
    );
    one_shot(dir.path());

    let rss_before = rss_mib();
    let base = reset_peak();
    let t = Instant::now();
    let mut h = app_on(dir.path());
    wait(&mut h, |a| a.audit.loaded);
    eprintln!(
        "window start-up: audit page in {:.2} s; heap peak +{:.1} MiB, held +{:.1} MiB \
         (engine index, demo fleet, UI); RSS {:.0} -> {:.0} MiB",
        t.elapsed().as_secs_f64(),
        peak_above(base),
        mib(live().saturating_sub(base)),
        rss_before,
        rss_mib()
    );
    h.state_mut().open_panel(PanelId::Audit);
    wait(&mut h, |a| !a.audit.in_flight);
    h.run_steps(3);
    assert_eq!(h.state().audit.unresolved_total, UNRESOLVED);
    // The frame draws the unresolved list and the newest rows of the table.
    assert!(
        h.query_all_by_label_contains("outcome unknown: check")
            .count()
            >= UNRESOLVED
    );
    assert!(h.query_all_by_label_contains("/deployment/svc-").count() > 20);
    let frame_base = live();
    let mut group = c.benchmark_group("audit_panel");
    group.bench_function("frame/1M records", |b| b.iter(|| h.step()));
    eprintln!(
        "  heap held by the frames above: {:+.2} MiB",
        (live() as f64 - frame_base as f64) / 1_048_576.0
    );
    h.state_mut().audit.filter.text = "svc-0042".into();
    wait(&mut h, |a| !a.audit.filtering() && !a.audit.in_flight);
    h.run_steps(3);
    eprintln!("  filtered: {} rows", h.state().audit.matching);
    group.bench_function("frame/1M records, filtered", |b| b.iter(|| h.step()));
    group.finish();
    eprintln!("RSS at the end: {:.0} MiB", rss_mib());
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3));
    targets = audit_panel
}
criterion_main!(benches);
