//! The team store's history at scale: 1,000,000 records in a real PostgreSQL 15
//! (tests/support/postgres.rs, fsync off), then the first page the Audit panel and
//! `scaleboard audit --team` ask for, timed through `TeamStore::history` (keyset pagination on
//! the `at` index; the filter runs in SQL). Then the same through the window: the Audit panel's
//! Team view (egui_kittest, headless, no GPU) asks the engine for the first page and draws it —
//! the time from asking to the first frame that shows the rows, and one frame with the page on
//! screen. One-shot figures, median of 11 runs each (frames: of 50), printed.
//! Run: `cargo bench --bench team_audit`.

#![allow(clippy::unwrap_used)]

#[path = "../tests/support/postgres.rs"]
#[allow(dead_code)]
mod postgres;

use egui_kittest::Harness;
use scaleboard::app::{AppOptions, AuditSource, PanelId, ScaleboardApp};
use scaleboard::engine::EngineConfig;
use scaleboard::model::clock::ManualClock;
use scaleboard::profiles::{Profile, ProfileStore, TeamStoreSettings};
use scaleboard::team::{TeamQuery, TeamStore};
use std::time::{Duration, Instant};

const ROWS: u32 = 1_000_000;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let pg = postgres::PgCluster::start(0);
    let mut profile = Profile::named("bench");
    profile.team = Some(TeamStoreSettings {
        dsn: pg.primary.dsn(),
        ..TeamStoreSettings::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let store = TeamStore::for_profile(&profile, dir.path()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(store.migrate_now()).unwrap();
    let filled = Instant::now();
    pg.psql(
        pg.primary.port,
        &format!(
            "INSERT INTO scaleboard.audit (action_id, phase, at, operator, host, profile, action, \
             target, before, after, command, outcome, detail, forced, record) \
             SELECT 'bench-' || (g / 2), CASE WHEN g % 2 = 0 THEN 'intent' ELSE 'outcome' END, \
                    now() - g * interval '1 second', 'op' || (g % 20), 'host' || (g % 7), 'prod', \
                    'scale', 'demo-prod/nexus/deployment/svc-' || (g % 500), '3 replicas', \
                    '5 replicas', 'kubectl scale', \
                    CASE WHEN g % 2 = 0 THEN 'intent' ELSE 'succeeded' END, '', false, '{{}}' \
             FROM generate_series(1, {ROWS}) g; ANALYZE scaleboard.audit;"
        ),
    );
    println!(
        "filled {ROWS} rows in {:.1} s",
        filled.elapsed().as_secs_f64()
    );
    let cases: [(&str, TeamQuery); 4] = [
        (
            "first page, no filter",
            TeamQuery {
                limit: 50,
                ..TeamQuery::default()
            },
        ),
        (
            "first page, filter \"svc-42\" (11 of 500 targets)",
            TeamQuery {
                text: "svc-42".into(),
                limit: 50,
                ..TeamQuery::default()
            },
        ),
        (
            "first page, outcome = succeeded",
            TeamQuery {
                outcome: Some("succeeded".into()),
                limit: 50,
                ..TeamQuery::default()
            },
        ),
        (
            "first page, filter matching nothing",
            TeamQuery {
                text: "no-such-target".into(),
                limit: 50,
                ..TeamQuery::default()
            },
        ),
    ];
    for (name, query) in cases {
        let mut times = Vec::new();
        for _ in 0..11 {
            let t = Instant::now();
            let (rows, _) = rt.block_on(store.history(&query)).unwrap();
            times.push(t.elapsed());
            assert!(rows.len() <= 50);
        }
        println!(
            "{name}: median {:.1} ms",
            median(times).as_secs_f64() * 1000.0
        );
    }
    // A page deep in the history: the cursor of page 1,000 (50 rows a page).
    let mut query = TeamQuery {
        limit: 50,
        ..TeamQuery::default()
    };
    for _ in 0..999 {
        let (_, next) = rt.block_on(store.history(&query)).unwrap();
        query.after = next;
    }
    let mut times = Vec::new();
    for _ in 0..11 {
        let t = Instant::now();
        rt.block_on(store.history(&query)).unwrap();
        times.push(t.elapsed());
    }
    println!(
        "page 1,000 by its cursor: median {:.1} ms",
        median(times).as_secs_f64() * 1000.0
    );
    window(&pg.primary.dsn());
}

/// A window on a demo profile whose team store holds the rows, its Audit panel on the Team view.
fn app_on(dir: &std::path::Path, dsn: &str) -> Harness<'static, ScaleboardApp> {
    let config_dir = dir.join("config");
    std::fs::create_dir_all(&config_dir).unwrap();
    std::fs::write(
        config_dir.join("profiles.toml"),
        format!("[[profile]]\nname = \"bench\"\ndemo = true\n\n[profile.team]\ndsn = \"{dsn}\"\n"),
    )
    .unwrap();
    let engine = EngineConfig::new(
        ManualClock::new(1_793_628_000_000),
        config_dir.clone(),
        dir.join("data"),
    );
    let options = AppOptions {
        engine,
        demo_seed: 7,
        profile: Some("bench".into()),
        force_demo: false,
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

/// Frames until the Team view shows the answer to what it asked; how long that took.
fn until_shown(h: &mut Harness<'static, ScaleboardApp>) -> Duration {
    let t = Instant::now();
    let deadline = t + Duration::from_secs(60);
    loop {
        h.step();
        let team = &h.state().audit.team;
        if team.loaded() && !team.in_flight && !team.filtering() && !team.rows.is_empty() {
            return t.elapsed();
        }
        assert!(Instant::now() < deadline, "the team page never came");
        assert!(team.error.is_none(), "{:?}", team.error);
    }
}

fn window(dsn: &str) {
    let dir = tempfile::tempdir().unwrap();
    let mut h = app_on(dir.path(), dsn);
    h.state_mut().open_panel(PanelId::Audit);
    h.state_mut().audit.source = AuditSource::Team;
    until_shown(&mut h);
    for (name, text) in [("no filter", ""), ("filter \"svc-42\"", "svc-42")] {
        h.state_mut().audit.team.text = text.into();
        until_shown(&mut h);
        let mut asked = Vec::new();
        for _ in 0..11 {
            h.state_mut().audit.team.mark_stale();
            asked.push(until_shown(&mut h));
        }
        let mut frames = Vec::new();
        for _ in 0..50 {
            let t = Instant::now();
            h.step();
            frames.push(t.elapsed());
        }
        println!(
            "window, Team view, {name}: first page asked → shown {:.1} ms; a frame with the \
             page ({} rows) {:.2} ms (medians)",
            median(asked).as_secs_f64() * 1000.0,
            h.state().audit.team.rows.len(),
            median(frames).as_secs_f64() * 1000.0
        );
    }
}
