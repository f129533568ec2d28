//! The team store's history at scale: 1,000,000 records in a real PostgreSQL 15
//! (tests/support/postgres.rs, fsync off), then the first page the Audit panel and
//! `scaleboard audit --team` ask for, timed through `TeamStore::history` (keyset pagination on
//! the `at` index; the filter runs in SQL). One-shot figures, median of 11 runs each, printed.
//! Run: `cargo bench --bench team_audit`.

#![allow(clippy::unwrap_used)]

#[path = "../tests/support/postgres.rs"]
#[allow(dead_code)]
mod postgres;

use scaleboard::profiles::{Profile, TeamStoreSettings};
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
}
