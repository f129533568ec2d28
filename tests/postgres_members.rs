//! PostgreSQL members as they are, against real PostgreSQL 15 servers (`support::postgres`): a
//! paused replica (SIGSTOP) is the only one named unreachable by `scaleboard status`, run after
//! run; a replica's timeline comes from its WAL receiver and is unknown while none runs; a
//! crashed primary keeps its role although the profile lists it as a replica.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use scaleboard::connectors::Connector;
use scaleboard::connectors::postgres::PostgresConnector;
use scaleboard::model::snapshot::{DatabaseSnapshot, DbServer, Snapshot};
use scaleboard::profiles::model::MIB;
use scaleboard::profiles::{PostgresEndpoint, Profile};
use std::process::Command as Process;
use std::time::{Duration, Instant};
use support::postgres::{PgCluster, PgServer};

fn endpoint(cluster: &PgCluster) -> PostgresEndpoint {
    PostgresEndpoint {
        name: "orders".into(),
        primary_dsn: cluster.primary.dsn(),
        replica_dsns: cluster.replicas.iter().map(PgServer::dsn).collect(),
        password: None,
        max_failover_lag_bytes: MIB,
    }
}

/// The postmaster of a server and every process it started (backends included).
fn server_processes(data: &std::path::Path) -> Vec<String> {
    let pid = std::fs::read_to_string(data.join("postmaster.pid"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_string();
    let children = Process::new("pgrep").args(["-P", &pid]).output().unwrap();
    let mut all: Vec<String> = String::from_utf8_lossy(&children.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    all.push(pid);
    all
}

/// A server paused with SIGSTOP; SIGCONT when dropped, also when the test fails.
struct Paused(Vec<String>);

impl Paused {
    fn new(server: &PgServer) -> Self {
        let pids = server_processes(&server.data);
        let status = Process::new("kill")
            .arg("-STOP")
            .args(&pids)
            .status()
            .unwrap();
        assert!(status.success(), "kill -STOP {pids:?}");
        Self(pids)
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        let _ = Process::new("kill").arg("-CONT").args(&self.0).status();
    }
}

#[test]
fn status_names_only_the_paused_replica_in_five_runs_of_five() {
    let cluster = PgCluster::start(2);
    cluster.wait_caught_up(2);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let mut store = scaleboard::profiles::ProfileStore::load(&config);
    let mut profile = Profile::named("pg");
    profile.postgres.push(endpoint(&cluster));
    store.upsert(profile).unwrap();
    let paused = Paused::new(&cluster.replicas[0]);
    for run in 1..=5 {
        let out = Process::new(env!("CARGO_BIN_EXE_scaleboard"))
            .env("SCALEBOARD_CONFIG_DIR", &config)
            .env_remove("SCALEBOARD_DATA_DIR")
            .args(["status", "--profile", "pg"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let reasons: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("- "))
            .collect();
        assert!(
            reasons.iter().any(|r| r.starts_with("replica_a: ")),
            "run {run}: the paused replica is named: {text}"
        );
        assert!(
            !reasons
                .iter()
                .any(|r| r.starts_with("replica_b") || r.starts_with("primary")),
            "run {run}: only the paused replica is named: {text}"
        );
        assert!(
            !text.contains("replica_b unreachable") && text.contains("replica_b lag"),
            "run {run}: {text}"
        );
    }
    drop(paused);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn poll(rt: &tokio::runtime::Runtime, c: &PostgresConnector) -> DatabaseSnapshot {
    match rt.block_on(c.poll()).unwrap().snapshot {
        Snapshot::Databases(db) => db,
        other => panic!("not a PostgreSQL snapshot: {other:?}"),
    }
}

fn server<'a>(db: &'a DatabaseSnapshot, name: &str) -> &'a DbServer {
    db.servers
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{name} missing from {db:#?}"))
}

/// Poll until `cond` holds for the snapshot (the servers change on their own schedule).
fn poll_until(
    rt: &tokio::runtime::Runtime,
    c: &PostgresConnector,
    what: &str,
    cond: impl Fn(&DatabaseSnapshot) -> bool,
) -> DatabaseSnapshot {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let db = poll(rt, c);
        if cond(&db) {
            return db;
        }
        assert!(Instant::now() < deadline, "never {what}: {db:#?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn replica_timelines_come_from_the_wal_receiver_and_a_crashed_primary_keeps_its_role() {
    let cluster = PgCluster::start(2);
    cluster.wait_caught_up(2);
    let rt = runtime();
    let c = PostgresConnector::new(endpoint(&cluster), None);
    let db = poll(&rt, &c);
    assert_eq!(server(&db, "replica_b").timeline, Some(1));
    // replica_a is promoted (timeline 2) and replica_b follows it.
    let (a, b) = (&cluster.replicas[0], &cluster.replicas[1]);
    cluster.stop(&cluster.primary, "fast");
    assert_eq!(cluster.psql(a.port, "SELECT pg_promote(wait => true)"), "t");
    cluster.psql(
        b.port,
        &format!(
            "ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port={} user=postgres \
             application_name=replica_b'",
            a.port
        ),
    );
    cluster.psql(b.port, "ALTER SYSTEM SET primary_slot_name = ''");
    cluster.psql(b.port, "SELECT pg_reload_conf()");
    let db = poll_until(&rt, &c, "replica_b streaming on timeline 2", |db| {
        server(db, "replica_b").timeline == Some(2)
    });
    assert_eq!(server(&db, "replica_a").timeline, Some(2));
    assert!(server(&db, "replica_b").wal_receiver.is_some(), "{db:#?}");

    // Its WAL receiver stopped: the timeline is unknown, never the last restartpoint's.
    cluster.psql(b.port, "ALTER SYSTEM SET primary_conninfo = ''");
    cluster.psql(b.port, "SELECT pg_reload_conf()");
    let db = poll_until(&rt, &c, "replica_b without a WAL receiver", |db| {
        server(db, "replica_b").wal_receiver.is_none()
    });
    let rb = server(&db, "replica_b");
    assert!(rb.reachable && rb.in_recovery, "{rb:#?}");
    assert_eq!(rb.timeline, None);
    assert_eq!(rb.timeline_text(), "unknown");
    eprintln!(
        "replica_b's last restartpoint is on timeline {}",
        cluster.psql(b.port, "SELECT timeline_id FROM pg_control_checkpoint()")
    );

    // replica_a, a replica in the profile, is the primary now; it crashes and stays the primary
    // that was.
    cluster.stop(a, "immediate");
    let db = poll(&rt, &c);
    let ra = server(&db, "replica_a");
    assert!(!ra.reachable);
    assert_eq!(ra.role_text(), "primary, unreachable");
    assert_eq!(
        server(&db, "primary").role_text(),
        "primary, unreachable",
        "the profile's primary was seen as one too"
    );
    assert!(
        db.topology_line().contains("primary replica_a unreachable"),
        "{}",
        db.topology_line()
    );
}

/// "Promote…" only where the promotion can run: on the demo's PostgreSQL replicas, and not
/// once a Patroni endpoint names their cluster in `discover_from` (pg_promote on Patroni's
/// members is always refused; a switchover through Patroni is the way).
#[test]
fn promote_is_offered_only_on_replicas_that_patroni_does_not_manage() {
    use egui_kittest::kittest::Queryable;
    let mut t = support::start(None, None);
    t.run_until("the demo's PostgreSQL cluster answered", |a| {
        a.fleet.databases().next().is_some() && a.fleet.mysql_clusters().next().is_some()
    });
    t.harness
        .key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Num3);
    t.harness.set_size(egui::Vec2::new(1400.0, 2600.0));
    t.harness.run_steps(3);
    let (pg, replicas) = {
        let (e, db) = t.app().fleet.databases().next().unwrap();
        let replicas = db
            .servers
            .iter()
            .filter(|s| s.reachable && s.in_recovery)
            .count();
        (e.info.id.clone(), replicas)
    };
    assert!(replicas > 0);
    let mysql_replicas = 1;
    assert_eq!(
        t.harness.query_all_by_label("Promote…").count(),
        replicas + mysql_replicas,
        "one per reachable replica"
    );
    t.harness
        .state_mut()
        .profiles
        .active
        .patroni
        .push(scaleboard::profiles::PatroniEndpoint {
            name: "ha".into(),
            discover_from: Some(pg),
            ..Default::default()
        });
    t.harness.run_steps(3);
    assert_eq!(
        t.harness.query_all_by_label("Promote…").count(),
        mysql_replicas,
        "none on the PostgreSQL rows Patroni manages"
    );
}

/// A replica that answered before and is then paused is shown with its previous figures,
/// marked slow, while its read is within its time-out (the poll does not wait for it), and is
/// named unreachable once the time-out has passed.
#[test]
fn a_paused_replica_is_slow_within_its_time_out_and_unreachable_after_it() {
    let cluster = PgCluster::start(1);
    cluster.wait_caught_up(1);
    let rt = runtime();
    let c = PostgresConnector::new(endpoint(&cluster), None);
    let before = poll(&rt, &c);
    assert!(
        before
            .servers
            .iter()
            .all(|s| s.reachable && s.slow.is_none())
    );
    let paused = Paused::new(&cluster.replicas[0]);
    let started = Instant::now();
    let db = poll(&rt, &c);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the poll did not wait"
    );
    let r = server(&db, "replica_a");
    assert!(
        r.reachable,
        "not named unreachable within its time-out: {r:#?}"
    );
    let slow = r.slow.clone().unwrap();
    assert!(
        slow.starts_with("no answer for ") && slow.contains("(time-out 4 s)"),
        "{slow}"
    );
    assert_eq!(
        r.lsn,
        server(&before, "replica_a").lsn,
        "its previous figures"
    );
    let db = poll_until(&rt, &c, "replica_a named unreachable", |db| {
        !server(db, "replica_a").reachable
    });
    assert!(
        started.elapsed() >= Duration::from_secs(4),
        "only after its time-out"
    );
    let e = server(&db, "replica_a").error.clone().unwrap();
    assert!(e.contains("did not answer"), "{e}");
    drop(paused);
}
