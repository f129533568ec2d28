//! The write-ahead audit log read back: intent and outcome paired into one action, an intent
//! alone reported as "outcome unknown", a torn last line reported and skipped, the panel's
//! index paged newest first; then the real binary killed with SIGKILL between intent and
//! outcome (once, checked by `scaleboard audit` and by the window's start-up), and 200 times at
//! random moments on one shared log.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

use chrono::{TimeZone, Utc};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use scaleboard::actions::audit::{
    AuditFilter, AuditIndex, AuditLog, AuditOutcome, AuditQuery, AuditRecord, UnresolvedIntent,
};
use scaleboard::app::{AppOptions, Level, PanelId, ScaleboardApp};
use scaleboard::engine::EngineConfig;
use scaleboard::model::clock::ManualClock;
use scaleboard::profiles::ProfileStore;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn record(id: &str, target: &str, outcome: AuditOutcome, second: u32) -> AuditRecord {
    AuditRecord {
        id: id.into(),
        when: Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, second).unwrap(),
        os_user: "alice".into(),
        profile: "prod".into(),
        action: "scale".into(),
        target: target.into(),
        before: "3 replicas (3 ready)".into(),
        after: "5 replicas".into(),
        command: format!("kubectl scale {target} --replicas=5"),
        outcome,
        detail: String::new(),
        forced: false,
        overridden_guards: Vec::new(),
        advice: None,
    }
}

fn append_raw(log: &AuditLog, bytes: &[u8]) {
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(log.path())
        .unwrap()
        .write_all(bytes)
        .unwrap();
}

fn query(index: &mut AuditIndex, log: &AuditLog, first: usize, count: usize) -> Vec<AuditRecord> {
    let q = AuditQuery {
        filter: index.filter().clone(),
        first,
        count,
    };
    let page = index.query(log, &q).unwrap();
    page.rows.into_iter().map(|r| r.record).collect()
}

#[test]
fn intent_and_outcome_read_as_one_action() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::new(dir.path());
    let intent = record("a-0-0", "prod/web", AuditOutcome::Intent, 0);
    let done = record("a-0-0", "prod/web", AuditOutcome::Succeeded, 9);
    log.append(&intent).unwrap();
    log.append(&done).unwrap();

    let unresolved = log.unresolved_intents().unwrap();
    assert_eq!(unresolved.total, 0);
    assert_eq!(unresolved.records, 2);

    let mut index = AuditIndex::new(AuditFilter::default());
    let page = index
        .query(
            &log,
            &AuditQuery {
                count: 10,
                ..AuditQuery::default()
            },
        )
        .unwrap();
    assert_eq!((page.matching, page.actions, page.records), (1, 1, 2));
    assert_eq!(page.rows.len(), 1);
    assert_eq!(page.rows[0].record, done, "the row shows the outcome");
    assert_eq!(page.rows[0].started, Some(intent.when), "started = intent");

    let mut seen = Vec::new();
    log.for_each_action(u64::MAX, &HashSet::new(), |a| {
        seen.push((a.record.outcome, a.started, a.unresolved));
        Ok(())
    })
    .unwrap();
    assert_eq!(
        seen,
        [(AuditOutcome::Succeeded, Some(intent.when), false)],
        "one action, not two lines"
    );
}

#[test]
fn intent_alone_reads_as_outcome_unknown() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::new(dir.path());
    // Refused before the write: one record, no intent.
    log.append(&record("r-0-0", "prod/db", AuditOutcome::Refused, 1))
        .unwrap();
    let intent = record("b-0-0", "prod/api", AuditOutcome::Intent, 2);
    log.append(&intent).unwrap();
    log.append(&record("c-0-0", "prod/web", AuditOutcome::Intent, 3))
        .unwrap();
    log.append(&record("c-0-0", "prod/web", AuditOutcome::Failed, 4))
        .unwrap();

    let unresolved = log.unresolved_intents().unwrap();
    assert_eq!(unresolved.total, 1);
    let u: &UnresolvedIntent = &unresolved.intents[0];
    assert_eq!(u.record, intent);
    assert_eq!(
        u.writer_running, None,
        "pid 0 in the id: not a running process"
    );
    assert_eq!(
        u.message(),
        "outcome unknown: check prod/api — intent at 2026-03-04 05:06:02 UTC by alice: \
         3 replicas (3 ready) -> 5 replicas, command kubectl scale prod/api --replicas=5"
    );

    let mut index = AuditIndex::new(AuditFilter::default());
    let rows = query(&mut index, &log, 0, 10);
    let outcomes: Vec<AuditOutcome> = rows.iter().map(|r| r.outcome).collect();
    // Newest first: the failed action (last line), the open intent, the refusal.
    assert_eq!(
        outcomes,
        [
            AuditOutcome::Failed,
            AuditOutcome::Intent,
            AuditOutcome::Refused
        ]
    );
    // The outcome filter "Intent" lists exactly the actions with no outcome.
    let mut open_only = AuditIndex::new(AuditFilter {
        outcome: Some(AuditOutcome::Intent),
        ..AuditFilter::default()
    });
    assert_eq!(query(&mut open_only, &log, 0, 10), [intent]);

    // The command line lists it first, then the log, and exits 0.
    let cli = scaleboard_cli(dir.path()).arg("audit").output().unwrap();
    assert!(cli.status.success(), "{cli:?}");
    let text = String::from_utf8(cli.stdout).unwrap();
    let first_line = text.lines().nth(1).unwrap();
    assert!(
        first_line.contains("outcome unknown: check prod/api"),
        "{text}"
    );
    assert_eq!(
        text.matches("[Outcome unknown: no outcome recorded]")
            .count(),
        1
    );
    assert_eq!(text.matches("[Failed]").count(), 1, "{text}");
}

#[test]
fn torn_last_line_is_reported_and_skipped_and_the_next_record_stays_readable() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::new(dir.path());
    let a = record("a-0-0", "prod/web", AuditOutcome::Succeeded, 1);
    log.append(&a).unwrap();
    let torn_at = std::fs::metadata(log.path()).unwrap().len();
    // Power loss in the middle of the next record: no newline, half a JSON object.
    let full =
        serde_json::to_string(&record("b-0-0", "prod/api", AuditOutcome::Intent, 2)).unwrap();
    append_raw(&log, &full.as_bytes()[..full.len() / 2]);

    let read = log.read_all().unwrap();
    assert_eq!(read.records, std::slice::from_ref(&a));
    assert_eq!(read.damage.lines, 1);
    assert!(read.damage.torn_tail);
    assert_eq!(read.damage.first_at, [torn_at]);
    assert_eq!(
        read.damage.to_string(),
        format!(
            "1 damaged line skipped at byte {torn_at} (the last line is cut short: a write \
             interrupted by a crash or power loss)"
        )
    );
    let mut index = AuditIndex::new(AuditFilter::default());
    let page = index
        .query(
            &log,
            &AuditQuery {
                count: 10,
                ..AuditQuery::default()
            },
        )
        .unwrap();
    assert_eq!(page.damage, read.damage);
    assert_eq!(page.rows.len(), 1);
    let cli = scaleboard_cli(dir.path()).arg("audit").output().unwrap();
    assert!(cli.status.success());
    assert!(
        String::from_utf8_lossy(&cli.stderr)
            .contains(&format!("1 damaged line skipped at byte {torn_at}")),
        "{cli:?}"
    );

    // The next append starts a new line: the torn one stays one damaged line, nothing after it
    // is lost, and the index (extended, not rebuilt) agrees.
    let c = record("c-0-0", "prod/db", AuditOutcome::Refused, 3);
    log.append(&c).unwrap();
    let read = log.read_all().unwrap();
    assert_eq!(read.records, [a, c.clone()]);
    assert_eq!(read.damage.lines, 1);
    assert!(!read.damage.torn_tail);
    let rows = query(&mut index, &log, 0, 10);
    assert_eq!(rows.first(), Some(&c));
    assert_eq!(rows.len(), 2);
}

/// The index answers like a naive whole-file reading would, page by page, as the file grows.
#[test]
fn index_pages_newest_first_and_follows_appends() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::new(dir.path());
    let mut index = AuditIndex::new(AuditFilter::default());
    let mut web_only = AuditIndex::new(AuditFilter {
        text: "WEB".into(),
        ..AuditFilter::default()
    });
    let mut rng = Rng(0x5eed);
    let mut open: Vec<String> = Vec::new();
    let mut expected: Vec<AuditRecord> = Vec::new(); // rows in file order of their last record
    let mut open_rows: HashMap<String, usize> = HashMap::new();
    for i in 0..400u32 {
        let target = if rng.below(3) == 0 {
            "prod/web"
        } else {
            "prod/api"
        };
        match rng.below(4) {
            0 | 1 => {
                let id = format!("t-{i}-0");
                let r = record(&id, target, AuditOutcome::Intent, i % 60);
                log.append(&r).unwrap();
                open_rows.insert(id.clone(), expected.len());
                expected.push(r);
                open.push(id);
            }
            2 if !open.is_empty() => {
                let id = open.swap_remove(rng.below(open.len() as u64) as usize);
                let slot = open_rows.remove(&id).unwrap();
                let mut r = expected[slot].clone();
                r.outcome = AuditOutcome::Succeeded;
                expected.remove(slot);
                for v in open_rows.values_mut() {
                    if *v > slot {
                        *v -= 1;
                    }
                }
                log.append(&r).unwrap();
                expected.push(r);
            }
            _ => {
                let r = record(&format!("s-{i}-0"), target, AuditOutcome::NotRun, i % 60);
                log.append(&r).unwrap();
                expected.push(r);
            }
        }
        if i % 97 == 0 || i == 399 {
            let newest_first: Vec<AuditRecord> = expected.iter().rev().cloned().collect();
            for (first, count) in [(0, 7), (3, 50), (newest_first.len().saturating_sub(5), 10)] {
                let got = query(&mut index, &log, first, count);
                let want: Vec<AuditRecord> = newest_first
                    .iter()
                    .skip(first)
                    .take(count)
                    .cloned()
                    .collect();
                assert_eq!(got, want, "after {i} appends, rows {first}+{count}");
            }
            let web: Vec<AuditRecord> = newest_first
                .iter()
                .filter(|r| r.target == "prod/web")
                .cloned()
                .collect();
            assert_eq!(query(&mut web_only, &log, 0, 1000), web);
            let unresolved = log.unresolved_intents().unwrap();
            assert_eq!(unresolved.total, open.len());
        }
    }
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

// ---- the real binary, killed with SIGKILL ----

fn scaleboard_cli(data_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_scaleboard"));
    cmd.env("SCALEBOARD_CONFIG_DIR", data_dir.join("config"))
        .env("SCALEBOARD_DATA_DIR", data_dir)
        .env("RUST_LOG", "error");
    cmd
}

/// `scaleboard scale compose/demo-staging/api N --demo --yes --grace 0`: the demo's Compose
/// service `api` runs 2 replicas and a new replica becomes ready every 2 s, so scaling up is
/// verified for seconds after the intent is written, and scaling down at once.
fn spawn_scale(data_dir: &Path, replicas: u32) -> Child {
    scaleboard_cli(data_dir)
        .args(["scale", "compose/demo-staging/api", &replicas.to_string()])
        .args(["--demo", "--yes", "--grace", "0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

fn audit_text(log: &AuditLog) -> String {
    std::fs::read_to_string(log.path()).unwrap_or_default()
}

#[test]
fn kill_9_between_intent_and_outcome_shows_outcome_unknown_in_cli_and_window() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::new(dir.path());
    let mut child = spawn_scale(dir.path(), 4);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !audit_text(&log).contains("\"outcome\":\"intent\"") {
        assert!(Instant::now() < deadline, "no intent record within 30 s");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let text = audit_text(&log);
    assert_eq!(text.lines().count(), 1, "killed before the outcome: {text}");

    let out = scaleboard_cli(dir.path()).arg("audit").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout
            .contains("outcome unknown: check demo-staging/demo-staging/service/api — intent at "),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 replicas (2 ready) -> 4 replicas"),
        "{stdout}"
    );
    assert!(!stdout.contains("still running"), "{stdout}");

    // The window started on the same data dir reports it too: a warning and the panel.
    let mut h = window_on(dir.path());
    run_until(&mut h, "audit read at start-up", |a| a.audit.loaded);
    let note = h
        .state()
        .notifications
        .list
        .iter()
        .find(|n| n.text.starts_with("outcome unknown: check demo-staging"))
        .cloned();
    assert_eq!(note.map(|n| n.level), Some(Level::Warning));
    h.state_mut().open_panel(PanelId::Audit);
    h.run_steps(3);
    // The toast and the panel's entry.
    assert!(
        h.query_all_by_label_contains("outcome unknown: check demo-staging")
            .count()
            >= 2
    );
}

#[test]
fn startup_with_an_unresolved_intent_warns_and_the_audit_panel_lists_it() {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::new(dir.path());
    let target = "demo-prod/nexus/deployment/writer-service";
    log.append(&record("p-0-0", target, AuditOutcome::Intent, 1))
        .unwrap();
    log.append(&record("p-0-0", target, AuditOutcome::Succeeded, 8))
        .unwrap();
    log.append(&record("q-0-0", target, AuditOutcome::Intent, 20))
        .unwrap();
    append_raw(&log, b"{\"id\":\"torn");

    let mut h = window_on(dir.path());
    run_until(&mut h, "audit read at start-up", |a| a.audit.loaded);
    let app = h.state();
    assert_eq!(app.audit.unresolved_total, 1);
    let texts: Vec<(Level, String)> = app
        .notifications
        .list
        .iter()
        .map(|n| (n.level, n.text.clone()))
        .collect();
    let unknown = format!("outcome unknown: check {target} — intent at 2026-03-04 05:06:20 UTC");
    assert!(
        texts
            .iter()
            .any(|(l, t)| *l == Level::Warning && t.starts_with(&unknown)),
        "{texts:?}"
    );
    assert!(
        texts
            .iter()
            .any(|(l, t)| *l == Level::Warning && t.contains("1 damaged line skipped at byte")),
        "{texts:?}"
    );
    h.state_mut().open_panel(PanelId::Audit);
    run_until(&mut h, "page", |a| a.audit.records.len() == 2);
    h.run_steps(2);
    h.get_by_label("1 action with outcome unknown");
    // Toast + entry at the top of the panel.
    assert!(h.query_all_by_label_contains(&unknown).count() >= 2);
    // Two rows: the open intent (newest) and the paired action, started at its intent.
    h.get_by_label("Outcome unknown");
    h.get_by_label("2 of 2 actions (3 records)");
    let app = h.state();
    assert_eq!(app.audit.records[0].outcome, AuditOutcome::Intent);
    assert_eq!(app.audit.records[1].outcome, AuditOutcome::Succeeded);
    assert_eq!(
        app.audit.started[1],
        Some(Utc.with_ymd_and_hms(2026, 3, 4, 5, 6, 1).unwrap())
    );
}

fn window_on(data_dir: &Path) -> Harness<'static, ScaleboardApp> {
    let config_dir: PathBuf = data_dir.join("config");
    std::fs::create_dir_all(&config_dir).unwrap();
    let clock = ManualClock::new(1_793_628_000_000);
    let engine = EngineConfig::new(clock, config_dir.clone(), data_dir.to_path_buf());
    let options = AppOptions {
        engine,
        demo_seed: 7,
        profile: None,
        force_demo: true,
        started: None,
    };
    let app = ScaleboardApp::new(options, &ProfileStore::load(&config_dir)).unwrap();
    Harness::builder()
        .with_size([1400.0, 900.0])
        .build_ui_state(
            |ui, app: &mut ScaleboardApp| {
                let ctx = ui.ctx().clone();
                app.logic_tick(&ctx);
                scaleboard::ui::root_ui(app, ui);
            },
            app,
        )
}

fn run_until(
    h: &mut Harness<'static, ScaleboardApp>,
    what: &str,
    cond: impl Fn(&ScaleboardApp) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cond(h.state()) {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        h.step();
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// One CLI run of the loop: what it printed before it was killed (or ended).
struct Run {
    pid: u32,
    stdout: String,
    /// Ended with success before the kill.
    exited_by_itself: bool,
}

/// 200 runs of the real binary, 4 at a time on one shared log, each killed with SIGKILL at a
/// random moment of its run (a quarter scale up and are verified for ~2 s, the rest scale down
/// and end in tens of ms). After each kill the log parses (only a torn tail may be reported);
/// at the end no record is duplicated or lost: per id at most one intent and one outcome, every
/// run that printed "Executing…" (printed after its intent is synced) has its intent, and
/// every run that printed its outcome has it.
#[test]
fn two_hundred_kills_at_random_moments_lose_and_duplicate_nothing() {
    const LANES: u64 = 4;
    const RUNS_PER_LANE: u64 = 50;
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("kill loop seed {seed:#x}");
    let runs: Vec<Run> = std::thread::scope(|s| {
        let lanes: Vec<_> = (0..LANES)
            .map(|lane| {
                let dir = dir.path();
                s.spawn(move || {
                    let mut rng = Rng(seed.wrapping_mul(lane + 7) | 1);
                    let log = AuditLog::new(dir);
                    let mut runs = Vec::new();
                    for _ in 0..RUNS_PER_LANE {
                        let slow = rng.below(4) == 0;
                        let (replicas, window_ms) = if slow { (3, 3_000) } else { (1, 80) };
                        let mut child = spawn_scale(dir, replicas);
                        let pid = child.id();
                        std::thread::sleep(Duration::from_millis(rng.below(window_ms)));
                        let exited_by_itself =
                            child.try_wait().unwrap().is_some_and(|s| s.success());
                        let _ = child.kill();
                        child.wait().unwrap();
                        let mut stdout = String::new();
                        child
                            .stdout
                            .take()
                            .unwrap()
                            .read_to_string(&mut stdout)
                            .unwrap();
                        // The log parses after every kill; other lanes may be mid-append, so
                        // at most a torn tail is tolerated here.
                        let read = log.read_all().unwrap();
                        assert!(
                            read.damage.is_empty()
                                || (read.damage.lines == 1 && read.damage.torn_tail),
                            "{}",
                            read.damage
                        );
                        runs.push(Run {
                            pid,
                            stdout,
                            exited_by_itself,
                        });
                    }
                    runs
                })
            })
            .collect();
        lanes.into_iter().flat_map(|l| l.join().unwrap()).collect()
    });
    eprintln!("{} runs in {:?}", runs.len(), started.elapsed());

    let log = AuditLog::new(dir.path());
    let read = log.read_all().unwrap();
    assert!(read.damage.is_empty(), "{}", read.damage);
    // Per id: at most one intent and one outcome; ids grouped by the pid in them.
    let mut per_id: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for r in &read.records {
        let e = per_id.entry(r.id.clone()).or_default();
        if r.outcome == AuditOutcome::Intent {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    let mut ids_of_pid: HashMap<u32, Vec<&String>> = HashMap::new();
    for (id, (intents, outcomes)) in &per_id {
        assert!(
            *intents <= 1 && *outcomes <= 1,
            "{id}: {intents} intents, {outcomes} outcomes"
        );
        let pid: u32 = id.rsplit('-').nth(1).unwrap().parse().unwrap();
        ids_of_pid.entry(pid).or_default().push(id);
    }
    let outcome_labels: Vec<String> = AuditOutcome::ALL
        .iter()
        .filter(|o| **o != AuditOutcome::Intent)
        .map(|o| format!("{}: ", o.label()))
        .collect();
    let (mut unknown, mut complete) = (0, 0);
    for run in &runs {
        let ids = ids_of_pid.get(&run.pid).cloned().unwrap_or_default();
        assert!(ids.len() <= 1, "pid {} wrote {ids:?}", run.pid);
        let counts = ids.first().map_or((0, 0), |id| per_id[*id]);
        if run.stdout.contains("Executing…") {
            assert_eq!(counts.0, 1, "intent lost: {}\n{}", run.pid, run.stdout);
        }
        let printed_outcome = run
            .stdout
            .lines()
            .any(|l| outcome_labels.iter().any(|p| l.starts_with(p.as_str())));
        if printed_outcome || run.exited_by_itself {
            assert_eq!(counts.1, 1, "outcome lost: {}\n{}", run.pid, run.stdout);
        }
        match counts {
            (1, 0) => unknown += 1,
            (1, 1) => complete += 1,
            _ => {}
        }
    }
    eprintln!(
        "{unknown} killed between intent and outcome, {complete} complete, {} before the intent",
        runs.len() - unknown - complete
    );
    assert!(unknown >= 10, "too few kills between intent and outcome");
    let unresolved = log.unresolved_intents().unwrap();
    assert_eq!(unresolved.total, unknown);
    let out = scaleboard_cli(dir.path()).arg("audit").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("  outcome unknown: check "))
            .count(),
        unknown
    );
    assert_eq!(
        text.matches("[Outcome unknown: no outcome recorded]")
            .count(),
        unknown
    );
}

/// A systemd service or a minimal container sets neither USER nor LOGNAME: the audit log still
/// names the operator, from the OS account of the process (as `id -un` reads it).
#[test]
fn the_operator_is_named_from_the_os_account_when_user_and_logname_are_unset() {
    let dir = tempfile::tempdir().unwrap();
    let expected = Command::new("id").arg("-un").output().unwrap();
    let expected = String::from_utf8_lossy(&expected.stdout).trim().to_owned();
    assert!(!expected.is_empty());
    let out = Command::new(env!("CARGO_BIN_EXE_scaleboard"))
        .env_clear()
        .env("SCALEBOARD_CONFIG_DIR", dir.path().join("config"))
        .env("SCALEBOARD_DATA_DIR", dir.path())
        .env("SCALEBOARD_KEYRING", "off")
        .args(["scale", "compose/demo-staging/api", "1"])
        .args(["--demo", "--yes", "--grace", "0"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let log = AuditLog::new(dir.path());
    let records = log.read_all().unwrap().records;
    assert!(!records.is_empty());
    for r in &records {
        assert_eq!(r.os_user, expected, "{r:?}");
    }
}
