//! The PostgreSQL connector, plan, pipeline and CLI against real PostgreSQL 15 servers started
//! by `support::postgres` (primary + streaming replicas in temp dirs on free loopback ports).

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use scaleboard::actions::audit::AuditOutcome;
use scaleboard::actions::plan::format_bytes;
use scaleboard::actions::{Action, FleetView, GuardLevel, Plan, PlanPolicy, plan};
use scaleboard::connectors::Connector;
use scaleboard::connectors::postgres::{PostgresConnector, SecretLookup};
use scaleboard::engine::{Command, ConnStatus, ConnectRequest, EngineConfig, EngineHandle, Event};
use scaleboard::model::clock::ManualClock;
use scaleboard::model::snapshot::{
    DatabaseSnapshot, DbRole, DbServer, Snapshot, Workload, WorkloadRef,
};
use scaleboard::profiles::model::MIB;
use scaleboard::profiles::{PostgresEndpoint, Profile, SecretError, SecretRef};
use std::collections::HashMap;
use std::process::Command as Process;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::postgres::{PW_PASSWORD, PW_USER, PgCluster, free_port};

const START: i64 = 1_793_628_000_000;

fn endpoint(cluster: &PgCluster) -> PostgresEndpoint {
    PostgresEndpoint {
        name: "orders".into(),
        primary_dsn: cluster.primary.dsn(),
        replica_dsns: cluster.replicas.iter().map(|r| r.dsn()).collect(),
        password: None,
        max_failover_lag_bytes: MIB,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// One poll; returns the snapshot (or the error text) and how long it took.
fn poll(
    rt: &tokio::runtime::Runtime,
    c: &PostgresConnector,
) -> (Result<DatabaseSnapshot, String>, Duration) {
    let started = Instant::now();
    let out = rt.block_on(c.poll());
    let took = started.elapsed();
    (
        out.map(|o| match o.snapshot {
            Snapshot::Databases(db) => db,
            other => panic!("not a database snapshot: {other:?}"),
        })
        .map_err(|e| e.to_string()),
        took,
    )
}

fn poll_ok(rt: &tokio::runtime::Runtime, c: &PostgresConnector) -> DatabaseSnapshot {
    poll(rt, c).0.unwrap()
}

fn server<'a>(db: &'a DatabaseSnapshot, name: &str) -> &'a DbServer {
    db.servers
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{name} missing from {db:#?}"))
}

struct One(DatabaseSnapshot);

impl FleetView for One {
    fn workload(&self, _: &WorkloadRef) -> Option<&Workload> {
        None
    }
    fn database(&self, endpoint: &str) -> Option<&DatabaseSnapshot> {
        (endpoint == "orders").then_some(&self.0)
    }
}

fn policy() -> PlanPolicy {
    PlanPolicy {
        profile: "pg".into(),
        read_only: false,
        max_failover_lag_bytes: MIB,
        kube_context: None,
        patroni_links: Vec::new(),
    }
}

fn promote(replica: &str) -> Action {
    Action::PromoteReplica {
        endpoint: "orders".into(),
        cluster: "orders".into(),
        replica: replica.into(),
    }
}

fn reasons(plan: &Plan, level: GuardLevel) -> Vec<String> {
    plan.guards
        .iter()
        .filter(|g| g.level == level)
        .map(|g| g.reason.clone())
        .collect()
}

#[test]
fn topology_lag_paused_replay_and_seen_by_primary() {
    let cluster = PgCluster::start(2);
    cluster.wait_caught_up(2);
    let rt = runtime();
    let c = PostgresConnector::new(endpoint(&cluster), None);
    let db = poll_ok(&rt, &c);
    assert_eq!(
        db.servers
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>(),
        ["primary", "replica_a", "replica_b"]
    );
    let p = server(&db, "primary");
    assert!(p.reachable && !p.in_recovery && p.role == DbRole::Primary);
    assert_eq!(p.timeline, Some(1));
    assert!(p.version.as_deref().unwrap().starts_with("15"), "{p:?}");
    assert!(p.max_connections >= 10 && p.connections >= 1, "{p:?}");
    assert!(p.size_bytes > 1_000_000);
    assert_eq!(p.slots.len(), 2, "{:?}", p.slots);
    assert!(
        p.slots
            .iter()
            .all(|s| s.active && s.slot_type == "physical")
    );
    assert_eq!(db.primaries().count(), 1);
    assert!(db.seen_by_primary.is_empty(), "{:?}", db.seen_by_primary);
    for name in ["replica_a", "replica_b"] {
        let r = server(&db, name);
        assert!(
            r.reachable && r.in_recovery && r.role == DbRole::Replica,
            "{r:?}"
        );
        assert!(!r.second_primary && !r.replay_paused);
        assert_eq!(r.timeline, Some(1));
        assert!(r.lag_bytes.unwrap() < 64 * 1024, "{r:?}");
        assert!(
            r.wal_receiver.as_deref().unwrap().starts_with("streaming"),
            "{r:?}"
        );
        let row = r
            .replication
            .as_ref()
            .expect("matched pg_stat_replication row");
        assert_eq!(row.application_name, name);
        assert_eq!(row.state, "streaming");
        assert_eq!(row.sync_state, "async");
        assert_eq!(row.client_addr.as_deref(), Some("127.0.0.1"));
    }
    // TPS needs two polls; samples carry the names the panel plots.
    std::thread::sleep(Duration::from_millis(300));
    let out = rt.block_on(c.poll()).unwrap();
    let metrics: Vec<(String, &str)> = out
        .samples
        .iter()
        .map(|s| (s.target.clone(), s.metric))
        .collect();
    for m in ["tps", "connections"] {
        assert!(
            metrics.contains(&("orders/primary".into(), m)),
            "{metrics:?}"
        );
    }
    for m in ["lag_bytes", "lag_seconds", "tps"] {
        assert!(
            metrics.contains(&("orders/replica_a".into(), m)),
            "{metrics:?}"
        );
    }

    // Pause replay on replica_a and write 3 MiB: its lag grows, replica_b keeps up.
    cluster.psql(cluster.replicas[0].port, "SELECT pg_wal_replay_pause()");
    cluster.write_wal(3 * MIB as usize);
    let deadline = Instant::now() + Duration::from_secs(20);
    let db = loop {
        let db = poll_ok(&rt, &c);
        let a = server(&db, "replica_a");
        let b = server(&db, "replica_b");
        // WAL reaches the replica a moment after the primary writes it: wait until some of
        // it has been received (and so is waiting for replay), not only for the lag.
        let received_more = a.receive_lsn.is_some_and(|r| r > a.lsn);
        if a.replay_paused
            && received_more
            && a.lag_bytes.unwrap_or(0) > 2 * MIB
            && b.lag_bytes.unwrap_or(0) < MIB
        {
            break db;
        }
        assert!(Instant::now() < deadline, "lag did not grow: {db:#?}");
        std::thread::sleep(Duration::from_millis(200));
    };
    let a = server(&db, "replica_a");
    assert!(
        a.receive_lsn.unwrap() > a.lsn,
        "received but not replayed: {a:?}"
    );
    assert!(db.topology_line().contains("replica_a lag"));
    assert!(db.topology_line().contains("[replay paused]"));

    let plan_a = plan(promote("replica_a"), &One(db.clone()), &policy());
    assert!(plan_a.refused());
    let lag_text = format_bytes(a.lag_bytes.unwrap());
    let refusals = reasons(&plan_a, GuardLevel::Refuse);
    assert!(
        refusals
            .iter()
            .any(|r| r.contains(&format!("{lag_text} behind"))
                && r.contains("maximum failover lag of 1.0 MiB")),
        "{refusals:#?}"
    );
    let warnings = reasons(&plan_a, GuardLevel::Warn);
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("Replay is paused on replica_a")),
        "{warnings:#?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("replica_b is further ahead")),
        "{warnings:#?}"
    );
    assert!(plan_a.before.contains("replica_a (timeline 1): replica"));
    assert!(plan_a.command.contains("pg_promote(wait => true"));
    assert!(plan_a.command.contains("pg_ctl promote -D /"));

    // replica_b is close enough; only the answering primary stops it.
    let plan_b = plan(promote("replica_b"), &One(db), &policy());
    assert!(
        reasons(&plan_b, GuardLevel::Pass)
            .iter()
            .any(|r| r.contains("replica_b is") && r.contains("limit 1.0 MiB"))
    );
    assert_eq!(reasons(&plan_b, GuardLevel::Refuse).len(), 1);

    // A profile that lists only replica_a: the primary still reports replica_b.
    let mut partial = endpoint(&cluster);
    partial.replica_dsns.truncate(1);
    let c_partial = PostgresConnector::new(partial, None);
    let db = poll_ok(&rt, &c_partial);
    assert_eq!(db.seen_by_primary.len(), 1, "{:?}", db.seen_by_primary);
    assert_eq!(db.seen_by_primary[0].application_name, "replica_b");
    assert!(
        db.topology_line()
            .contains("replica_b (127.0.0.1) seen by primary only")
    );

    // Resume: the lag drains.
    cluster.psql(cluster.replicas[0].port, "SELECT pg_wal_replay_resume()");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let db = poll_ok(&rt, &c);
        let a = server(&db, "replica_a");
        if !a.replay_paused && a.lag_bytes.unwrap_or(u64::MAX) < 64 * 1024 {
            break;
        }
        assert!(Instant::now() < deadline, "lag did not drain: {a:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The engine with a manual clock; keeps the latest snapshot per endpoint.
struct Rig {
    engine: EngineHandle,
    clock: Arc<ManualClock>,
    snapshots: HashMap<String, Snapshot>,
    statuses: Vec<(ConnStatus, Option<String>, Instant)>,
    dir: tempfile::TempDir,
}

impl Rig {
    fn start(profile: Profile) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(START);
        let config = EngineConfig::new(
            clock.clone(),
            dir.path().join("config"),
            dir.path().join("data"),
        );
        let engine = EngineHandle::start(config, Arc::new(|| {})).unwrap();
        engine
            .send(Command::Connect(Box::new(ConnectRequest {
                profile,
                demo_seed: 1,
            })))
            .unwrap();
        Self {
            engine,
            clock,
            snapshots: HashMap::new(),
            statuses: Vec::new(),
            dir,
        }
    }

    fn db(&self) -> Option<&DatabaseSnapshot> {
        match self.snapshots.get("orders") {
            Some(Snapshot::Databases(db)) => Some(db),
            _ => None,
        }
    }

    /// Apply events until `cond` holds; advances the manual clock while the engine is idle.
    fn until(&mut self, what: &str, cond: impl Fn(&Self, &Event) -> bool) -> Event {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            let Some(event) = self.engine.recv_timeout(Duration::from_millis(100)) else {
                self.clock.advance(Duration::from_secs(1));
                continue;
            };
            match &event {
                Event::Snapshot {
                    endpoint, snapshot, ..
                } => {
                    self.snapshots.insert(endpoint.clone(), snapshot.clone());
                }
                Event::Status { status, error, .. } => {
                    self.statuses.push((*status, error.clone(), Instant::now()));
                }
                _ => {}
            }
            if cond(self, &event) {
                return event;
            }
        }
    }

    fn execute(&mut self, plan: Plan, forced: bool) -> scaleboard::actions::audit::AuditRecord {
        self.engine
            .send(Command::Execute {
                id: scaleboard::actions::ActionId(1),
                plan: Box::new(plan),
                forced,
            })
            .unwrap();
        let record = match self.until("action finished", |_, e| {
            matches!(e, Event::ActionFinished { .. })
        }) {
            Event::ActionFinished { record, .. } => *record,
            _ => unreachable!(),
        };
        // Verification reads the servers itself; the view follows with the endpoint's own
        // polls (the second one surely started after the action ended).
        for _ in 0..2 {
            self.until(
                "the view after the action",
                |_, e| matches!(e, Event::Snapshot { endpoint, .. } if endpoint == "orders"),
            );
        }
        record
    }
}

fn profile_with(endpoint: PostgresEndpoint) -> Profile {
    let mut profile = Profile::named("pg");
    profile.postgres.push(endpoint);
    profile
}

#[test]
fn promotion_after_the_primary_stops_succeeds_and_is_verified_through_the_pipeline() {
    let cluster = PgCluster::start(2);
    cluster.wait_caught_up(2);
    let mut rig = Rig::start(profile_with(endpoint(&cluster)));
    rig.until("three servers read", |r, _| {
        r.db()
            .is_some_and(|db| db.servers.iter().filter(|s| s.reachable).count() == 3)
    });
    cluster.stop(&cluster.primary, "immediate");
    rig.until("primary seen down", |r, _| {
        r.db().is_some_and(|db| {
            let p = server(db, "primary");
            !p.reachable && p.error.is_some()
        })
    });
    let db = rig.db().unwrap().clone();
    let err = server(&db, "primary").error.clone().unwrap();
    assert!(
        err.contains("connection refused") || err.contains("closed the connection"),
        "{err}"
    );
    assert!(db.last_primary_lsn.is_some());
    assert_eq!(db.primaries().count(), 0);
    let plan = plan(promote("replica_a"), &One(db), &policy());
    assert!(!plan.refused(), "{:#?}", plan.guards);
    assert!(plan.before.contains("last known primary position"));
    assert!(
        plan.before.contains("primary: unreachable"),
        "{}",
        plan.before
    );
    let record = rig.execute(plan, false);
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:#?}");
    assert!(!record.forced);
    assert!(
        record
            .detail
            .contains("pg_promote returned true on replica_a"),
        "{}",
        record.detail
    );
    assert!(
        record.detail.contains("on timeline 2 (was 1 in recovery)"),
        "{}",
        record.detail
    );
    assert!(record.detail.contains("replay LSN before"));
    let db = rig.db().unwrap();
    let a = server(db, "replica_a");
    assert!(a.reachable && !a.in_recovery && a.role == DbRole::Primary);
    assert_eq!(a.timeline, Some(2));
    assert!(!a.second_primary, "the only primary is not a second one");
    assert!(server(db, "replica_b").in_recovery);
    let log = std::fs::read_to_string(rig.dir.path().join("data/audit.jsonl")).unwrap();
    assert!(
        log.contains("\"promote\"") && log.contains("replica_a"),
        "{log}"
    );
}

impl Rig {
    /// Sends the plan to the engine and returns once its grace period has begun.
    fn start_action(&mut self, plan: Plan, forced: bool) {
        self.engine
            .send(Command::Execute {
                id: scaleboard::actions::ActionId(1),
                plan: Box::new(plan),
                forced,
            })
            .unwrap();
        self.until("grace period", |_, e| {
            matches!(
                e,
                Event::ActionProgress {
                    stage: scaleboard::engine::ActionStage::Grace { .. },
                    ..
                }
            )
        });
    }

    fn finished(&mut self) -> scaleboard::actions::audit::AuditRecord {
        match self.until("action finished", |_, e| {
            matches!(e, Event::ActionFinished { .. })
        }) {
            Event::ActionFinished { record, .. } => *record,
            _ => unreachable!(),
        }
    }

    fn audit_lines(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("data/audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

/// The old primary starts again while the operator's promotion waits out its grace period:
/// the re-check right before the write sees a server accepting writes that the plan did not,
/// and promotes nothing (two primaries are the one outcome a failover must never produce).
#[test]
fn promotion_is_not_run_when_the_old_primary_comes_back_during_grace() {
    let cluster = PgCluster::start(1);
    cluster.wait_caught_up(1);
    let mut rig = Rig::start(profile_with(endpoint(&cluster)));
    rig.until("two servers read", |r, _| {
        r.db()
            .is_some_and(|db| db.servers.iter().filter(|s| s.reachable).count() == 2)
    });
    cluster.stop(&cluster.primary, "fast");
    rig.until("primary seen down", |r, _| {
        r.db().is_some_and(|db| !server(db, "primary").reachable)
    });
    let db = rig.db().unwrap().clone();
    let plan = plan(promote("replica_a"), &One(db), &policy());
    assert!(!plan.refused(), "{:#?}", plan.guards);
    assert!(
        plan.recheck_note()
            .contains("another server accepts writes")
    );
    rig.start_action(plan, false);
    // A second party (or the old primary's own supervisor) starts it again during grace.
    cluster.start_again(&cluster.primary);
    let record = rig.finished();
    assert_eq!(record.outcome, AuditOutcome::NotRun, "{record:#?}");
    assert!(
        record
            .detail
            .contains("servers accepting writes: none when planned, primary now"),
        "{}",
        record.detail
    );
    assert!(
        record.detail.contains("a guard refuses now"),
        "{}",
        record.detail
    );
    // Nothing was promoted, and the log holds the one "not run" record (no intent: nothing
    // was about to be written).
    assert_eq!(
        cluster.psql(cluster.replicas[0].port, "SELECT pg_is_in_recovery()"),
        "t"
    );
    let lines = rig.audit_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("\"outcome\":\"not_run\""), "{}", lines[0]);
}

/// Lag grows past the limit while the promotion waits out its grace period (replay paused on
/// the candidate, WAL written on the primary): the guard, run again on fresh state at the
/// moment of the write, refuses — the check Patroni calls `maximum_lag_on_failover`.
#[test]
fn promotion_is_not_run_when_the_candidate_falls_behind_during_grace() {
    let cluster = PgCluster::start(1);
    cluster.wait_caught_up(1);
    let mut rig = Rig::start(profile_with(endpoint(&cluster)));
    rig.until("two servers read", |r, _| {
        r.db()
            .is_some_and(|db| db.servers.iter().filter(|s| s.reachable).count() == 2)
    });
    let db = rig.db().unwrap().clone();
    let plan = plan(promote("replica_a"), &One(db), &policy());
    // The old primary still answers: the operator forces it (say it is fenced at the pooler).
    let refused = reasons(&plan, GuardLevel::Refuse);
    assert_eq!(refused.len(), 1, "{refused:?}");
    assert!(refused[0].contains("still answers"), "{}", refused[0]);
    rig.start_action(plan, true);
    cluster.psql(cluster.replicas[0].port, "SELECT pg_wal_replay_pause()");
    cluster.write_wal(3 * MIB as usize);
    let record = rig.finished();
    assert_eq!(record.outcome, AuditOutcome::NotRun, "{record:#?}");
    assert!(
        record.detail.contains("a guard refuses now: replica_a is")
            && record
                .detail
                .contains("more than the maximum failover lag of 1.0 MiB"),
        "{}",
        record.detail
    );
    assert_eq!(
        cluster.psql(cluster.replicas[0].port, "SELECT pg_is_in_recovery()"),
        "t"
    );
    cluster.psql(cluster.replicas[0].port, "SELECT pg_wal_replay_resume()");
}

fn scaleboard(config: &std::path::Path) -> Process {
    let mut cmd = Process::new(env!("CARGO_BIN_EXE_scaleboard"));
    cmd.env("SCALEBOARD_CONFIG_DIR", config)
        .env_remove("SCALEBOARD_DATA_DIR");
    cmd
}

#[test]
fn promotion_while_the_primary_answers_needs_force_and_a_promoted_replica_is_flagged() {
    let cluster = PgCluster::start(1);
    cluster.wait_caught_up(1);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let profile = profile_with(endpoint(&cluster));
    let mut store = scaleboard::profiles::ProfileStore::load(&config);
    store.upsert(profile).unwrap();

    // The CLI without --force: the plan refuses, says why and names the fence.
    let out = scaleboard(&config)
        .args(["promote", "--profile", "pg", "replica_a", "--yes"])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("[REFUSED] The current primary primary still answers"),
        "{text}"
    );
    assert!(text.contains("two primaries"), "{text}");
    assert!(text.contains("pg_ctl stop -D /"), "{text}");
    assert!(text.contains("load balancer"), "{text}");
    assert!(text.contains("--force"), "{text}");

    // A typed name that does not match does nothing.
    let mut child = scaleboard(&config)
        .args(["promote", "--profile", "pg", "replica_a", "--force"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"replica_b\n")
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("Not confirmed"));

    // Forced: it runs, is verified, and the audit says it was forced.
    let out = scaleboard(&config)
        .args([
            "promote",
            "--profile",
            "pg",
            "replica_a",
            "--force",
            "--yes",
        ])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Succeeded (forced)"), "{text}");
    assert!(text.contains("on timeline 2"), "{text}");

    // Both now accept writes: the old primary, on the older timeline, is flagged as the
    // second (stale) primary, loudly; the promoted "replica" on timeline 2 is the newest.
    let rt = runtime();
    let c = PostgresConnector::new(endpoint(&cluster), None);
    let db = poll_ok(&rt, &c);
    let a = server(&db, "replica_a");
    assert!(!a.second_primary && a.role == DbRole::Primary && a.profile_role == DbRole::Replica);
    assert!(server(&db, "primary").second_primary);
    assert_eq!(db.primaries().count(), 2);
    let again = plan(promote("replica_a"), &One(db), &policy());
    assert!(
        reasons(&again, GuardLevel::Refuse)
            .iter()
            .any(|r| r.contains("is not in recovery") && r.contains("another primary")),
    );
    let out = scaleboard(&config)
        .args(["status", "--profile", "pg"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("primary primary (tl 1) SECOND PRIMARY, primary replica_a (tl 2)")
            && !text.contains("replica_a (tl 2) SECOND"),
        "{text}"
    );
    let out = scaleboard(&config).arg("audit").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("promote orders/orders/replica_a"), "{text}");
    assert!(text.contains("[Succeeded, forced]"), "{text}");
}

#[test]
fn wrong_password_refused_connection_and_a_server_stopping_mid_poll_read_plainly() {
    let cluster = PgCluster::start(0);
    let rt = runtime();
    let port = cluster.primary.port;
    let pw_dsn = |extra: &str| {
        format!("host=127.0.0.1 port={port} user={PW_USER} dbname=postgres sslmode=disable {extra}")
    };
    let single = |dsn: String| PostgresEndpoint {
        name: "orders".into(),
        primary_dsn: dsn,
        replica_dsns: Vec::new(),
        password: Some(SecretRef::new("pg/postgres/orders")),
        max_failover_lag_bytes: MIB,
    };

    // Wrong password from a password file: one plain sentence, quickly.
    let wrong = cluster.passfile("wrong");
    let c = PostgresConnector::new(
        single(pw_dsn(&format!("passfile={}", wrong.display()))),
        None,
    );
    let (result, took) = poll(&rt, &c);
    let err = result.unwrap_err();
    assert!(
        err.contains(&format!(
            "wrong password for user \"{PW_USER}\" at 127.0.0.1:{port}"
        )),
        "{err}"
    );
    assert!(took < Duration::from_secs(5));

    // The right password from the password file, then from the keyring lookup.
    let right = cluster.passfile(PW_PASSWORD);
    let c = PostgresConnector::new(
        single(pw_dsn(&format!("passfile={}", right.display()))),
        None,
    );
    assert!(poll(&rt, &c).0.is_ok());
    let lookup: SecretLookup = Arc::new(|r: &SecretRef| {
        if r.account == "pg/postgres/orders" {
            Ok(PW_PASSWORD.to_string())
        } else {
            Err(SecretError::NotFound)
        }
    });
    let c = PostgresConnector::new(single(pw_dsn("")), Some(lookup));
    let db = poll_ok(&rt, &c);
    assert!(db.servers[0].reachable);

    // No password at all.
    let missing = cluster.dir.path().join("no-such-pgpass");
    let c = PostgresConnector::new(
        single(pw_dsn(&format!("passfile={}", missing.display()))),
        None,
    );
    let err = poll(&rt, &c).0.unwrap_err();
    assert!(
        err.contains("asks user \"pwuser\" for a password but none is set"),
        "{err}"
    );

    // sslmode=require against a server without TLS.
    let c = PostgresConnector::new(
        single(format!(
            "host=127.0.0.1 port={port} user=postgres sslmode=require"
        )),
        None,
    );
    let err = poll(&rt, &c).0.unwrap_err();
    assert!(err.contains("does not offer TLS"), "{err}");

    // TLS: require encrypts without checking; verify-ca checks the chain; verify-full also
    // checks the host name; without the CA the chain is refused.
    let ca = cluster.enable_tls();
    let tls = |host: &str, mode: &str, root: Option<&std::path::Path>| {
        let root = root.map_or(String::new(), |r| format!(" sslrootcert={}", r.display()));
        let c = PostgresConnector::new(
            single(format!(
                "host={host} port={port} user=postgres sslmode={mode}{root}"
            )),
            None,
        );
        poll(&rt, &c).0
    };
    assert!(tls("127.0.0.1", "require", None).is_ok());
    assert!(tls("localhost", "verify-full", Some(&ca)).is_ok());
    assert!(tls("127.0.0.1", "verify-ca", Some(&ca)).is_ok());
    let err = tls("127.0.0.1", "verify-full", Some(&ca)).unwrap_err();
    assert!(
        err.contains("TLS with 127.0.0.1") && err.contains("not valid for name"),
        "{err}"
    );
    let err = tls("localhost", "verify-full", None).unwrap_err();
    assert!(err.contains("UnknownIssuer"), "{err}");

    // Nothing listens: refused, not a hang.
    let closed = free_port();
    let c = PostgresConnector::new(
        single(format!(
            "host=127.0.0.1 port={closed} user=postgres sslmode=disable"
        )),
        None,
    );
    let (result, took) = poll(&rt, &c);
    let err = result.unwrap_err();
    assert!(
        err.contains(&format!(
            "connection refused at 127.0.0.1:{closed}: is PostgreSQL running"
        )),
        "{err}"
    );
    assert!(took < Duration::from_secs(2), "{took:?}");

    // Through the engine: the operator sees each error once, and polls go on.
    let mut rig = Rig::start(profile_with(single(format!(
        "host=127.0.0.1 port={port} user=postgres sslmode=disable application_name=primary"
    ))));
    rig.until("first snapshot", |r, _| r.db().is_some());
    cluster.stop(&cluster.primary, "immediate");
    let stopped_at = Instant::now();
    let event = rig.until("error status", |_, e| {
        matches!(e, Event::Status { error: Some(_), .. })
    });
    let Event::Status { status, error, .. } = event else {
        unreachable!()
    };
    let error = error.unwrap();
    assert_eq!(status, ConnStatus::Stale);
    assert!(
        error.contains("closed the connection during the poll (the server stopped or restarted)")
            || error.contains("connection refused at 127.0.0.1"),
        "{error}"
    );
    assert!(
        error.starts_with("cannot reach orders: primary primary: "),
        "{error}"
    );
    assert!(stopped_at.elapsed() < Duration::from_secs(10));
    rig.until("down", |r, _| {
        r.statuses
            .last()
            .is_some_and(|(s, _, _)| *s == ConnStatus::Down)
    });
    let errors: Vec<&String> = rig
        .statuses
        .iter()
        .filter_map(|(_, e, _)| e.as_ref())
        .collect();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("connection refused at 127.0.0.1")),
        "{errors:?}"
    );
}
