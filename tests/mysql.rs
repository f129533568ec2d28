//! The MySQL/MariaDB connector, promotion plan, pipeline and CLI against a real MariaDB 10.11
//! GTID primary + replica started by `support::mysql` (temp dirs, free loopback ports).

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use scaleboard::actions::audit::AuditOutcome;
use scaleboard::actions::{Action, FleetView, GuardLevel, Plan, PlanPolicy, plan};
use scaleboard::connectors::mysql::{MysqlConnector, SecretLookup};
use scaleboard::connectors::{Connector, ConnectorError};
use scaleboard::engine::{Command, ConnectRequest, EngineConfig, EngineHandle, Event};
use scaleboard::health::{HealthState, assess_snapshot};
use scaleboard::model::clock::ManualClock;
use scaleboard::model::mysql::{MysqlFlavor, MysqlServer, MysqlSnapshot};
use scaleboard::model::snapshot::{
    DatabaseSnapshot, DbRole, Sample, Snapshot, Workload, WorkloadRef,
};
use scaleboard::profiles::{MysqlEndpoint, Profile, SecretRef, Thresholds};
use std::collections::HashMap;
use std::process::Command as Process;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::mysql::{MariaPair, PW_PASSWORD, PW_USER};

const START: i64 = 1_793_628_000_000;

fn endpoint(pair: &MariaPair) -> MysqlEndpoint {
    MysqlEndpoint {
        name: "accounts".into(),
        primary_url: pair.primary.url(),
        replica_urls: vec![pair.replica.url()],
        password: None,
        max_failover_lag_seconds: 5,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn poll(
    rt: &tokio::runtime::Runtime,
    c: &MysqlConnector,
) -> Result<(MysqlSnapshot, Vec<Sample>), ConnectorError> {
    rt.block_on(c.poll()).map(|o| match o.snapshot {
        Snapshot::Mysql(db) => (db, o.samples),
        other => panic!("not a MySQL snapshot: {other:?}"),
    })
}

fn server<'a>(db: &'a MysqlSnapshot, name: &str) -> &'a MysqlServer {
    db.servers
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("{name} missing from {db:#?}"))
}

struct One(MysqlSnapshot);

impl FleetView for One {
    fn workload(&self, _: &WorkloadRef) -> Option<&Workload> {
        None
    }
    fn database(&self, _: &str) -> Option<&DatabaseSnapshot> {
        None
    }
    fn mysql(&self, endpoint: &str) -> Option<&MysqlSnapshot> {
        (endpoint == "accounts").then_some(&self.0)
    }
}

fn policy() -> PlanPolicy {
    PlanPolicy {
        profile: "my".into(),
        read_only: false,
        max_failover_lag_bytes: 1 << 20,
        kube_context: None,
        patroni_links: Vec::new(),
    }
}

fn promote(replica: &str) -> Action {
    Action::PromoteMysqlReplica {
        endpoint: "accounts".into(),
        cluster: "accounts".into(),
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
fn topology_roles_threads_positions_and_the_guard_while_the_primary_answers() {
    let pair = MariaPair::start();
    let rt = runtime();
    let c = MysqlConnector::new(endpoint(&pair), None);
    assert_eq!(c.server_names(), ["primary", "replica"]);
    let (db, _) = poll(&rt, &c).unwrap();
    pair.sql(&pair.primary, "INSERT INTO app.t (v) VALUES (3)");
    pair.wait_caught_up();
    let (db2, samples) = poll(&rt, &c).unwrap();
    assert_eq!(db.servers.len(), 2);
    let p = server(&db2, "primary");
    let r = server(&db2, "replica");
    assert!(p.reachable && r.reachable, "{db2:#?}");
    assert_eq!(
        (p.flavor, r.flavor),
        (MysqlFlavor::MariaDb, MysqlFlavor::MariaDb)
    );
    assert!(p.version.as_deref().unwrap().contains("MariaDB"));
    assert_eq!((p.role, r.role), (DbRole::Primary, DbRole::Replica));
    assert!(!p.read_only && p.writable() && p.replica.is_none());
    assert!(r.read_only && !r.writable() && p.super_read_only.is_none());
    assert_eq!((p.server_id, r.server_id), (1, 2));
    let status = r.replica.as_ref().unwrap();
    assert!(status.io_running() && status.sql_running, "{status:#?}");
    assert_eq!(status.source, format!("127.0.0.1:{}", pair.primary.port));
    assert_eq!(status.using_gtid.as_deref(), Some("Slave_Pos"));
    let binlog = pair.sql(&pair.primary, "SELECT @@gtid_binlog_pos");
    assert!(binlog.starts_with("0-1-"), "{binlog}");
    assert_eq!(p.gtid_binlog_pos.as_deref(), Some(binlog.as_str()));
    assert_eq!(r.gtid_slave_pos.as_deref(), Some(binlog.as_str()));
    assert_eq!(status.gtid_io_pos.as_deref(), Some(binlog.as_str()));
    assert_eq!((r.relay_backlog, r.behind_source), (Some(0), Some(0)));
    assert_eq!(r.lag_seconds, Some(0.0));
    assert_eq!(db2.last_source_position.as_deref(), Some(binlog.as_str()));
    assert!(p.max_connections > 0 && p.connections >= 1);
    assert!(p.qps.is_some_and(|q| q > 0.0), "second poll has a rate");
    assert!(
        samples
            .iter()
            .any(|s| s.target == "accounts/primary" && s.metric == "qps")
    );
    assert!(
        samples
            .iter()
            .any(|s| s.target == "accounts/replica" && s.metric == "lag_seconds")
    );
    let line = db2.topology_line();
    assert!(
        line.starts_with("source primary (MariaDB, writable) -> replica lag 0 s [IO Yes, SQL Yes]"),
        "{line}"
    );
    let health = assess_snapshot(&Snapshot::Mysql(db2.clone()), &Thresholds::default());
    assert_eq!(health.state, HealthState::Ok, "{health:#?}");

    // The primary answers and takes writes: promotion refused, with the fence named.
    let plan = plan(promote("replica"), &One(db2), &policy());
    assert!(plan.refused());
    assert!(plan.dangerous);
    assert_eq!(
        plan.command,
        format!(
            "mariadb -h 127.0.0.1 -P {} -u root -p -e \"STOP SLAVE IO_THREAD; SELECT \
             MASTER_GTID_WAIT('<Gtid_IO_Pos>', 10); STOP SLAVE; RESET SLAVE ALL; SET GLOBAL \
             read_only=OFF;\"",
            pair.replica.port
        )
    );
    let refused = reasons(&plan, GuardLevel::Refuse);
    assert_eq!(refused.len(), 1, "{refused:#?}");
    assert!(
        refused[0].contains("primary still answers and accepts writes"),
        "{refused:?}"
    );
    assert!(refused[0].contains("two writable servers"), "{refused:?}");
    assert!(
        refused[0].contains(&format!(
            "mariadb -h 127.0.0.1 -P {} -e \"SET GLOBAL read_only=ON\"",
            pair.primary.port
        )),
        "{refused:?}"
    );
    assert!(refused[0].contains("shutdown"), "{refused:?}");
    assert!(
        reasons(&plan, GuardLevel::Pass)
            .iter()
            .any(|r| r.contains("has applied everything")),
        "{:#?}",
        plan.guards
    );
    // The replica made writable by hand: a second writable server, said so.
    pair.sql(&pair.replica, "SET GLOBAL read_only=OFF");
    let (db, _) = poll(&rt, &c).unwrap();
    assert!(server(&db, "replica").second_writable);
    let health = assess_snapshot(&Snapshot::Mysql(db), &Thresholds::default());
    assert_eq!(health.state, HealthState::Degraded);
    assert!(
        health
            .reasons
            .iter()
            .any(|r| r.contains("replica: second writable server")),
        "{health:#?}"
    );
}

#[test]
fn a_stopped_sql_thread_shows_unknown_lag_a_backlog_and_refuses_promotion() {
    let pair = MariaPair::start();
    let rt = runtime();
    let c = MysqlConnector::new(endpoint(&pair), None);
    pair.sql(&pair.replica, "STOP SLAVE SQL_THREAD");
    for v in 10..13 {
        pair.sql(
            &pair.primary,
            &format!("INSERT INTO app.t (v) VALUES ({v})"),
        );
    }
    let want = pair.sql(&pair.primary, "SELECT @@gtid_binlog_pos");
    let deadline = Instant::now() + Duration::from_secs(20);
    let (db, samples) = loop {
        let (db, samples) = poll(&rt, &c).unwrap();
        let io = server(&db, "replica")
            .received_position()
            .map(str::to_owned);
        if io.as_deref() == Some(want.as_str()) {
            break (db, samples);
        }
        assert!(
            Instant::now() < deadline,
            "IO thread never got {want}: {io:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let r = server(&db, "replica");
    let status = r.replica.as_ref().unwrap();
    assert!(!status.sql_running && status.io_running());
    assert_eq!(status.seconds_behind, None, "Seconds_Behind_Master is NULL");
    assert_eq!(r.lag_seconds, None, "NULL is unknown, never 0");
    assert_eq!(r.lag_text(), "unknown (SQL thread stopped)");
    assert_eq!(r.relay_backlog, Some(3));
    assert_eq!(r.behind_source, Some(3));
    assert!(
        !samples
            .iter()
            .any(|s| s.target == "accounts/replica" && s.metric == "lag_seconds"),
        "no lag sample while it is unknown"
    );
    assert!(
        samples.iter().any(|s| s.target == "accounts/replica"
            && s.metric == "relay_backlog"
            && s.value == 3.0)
    );
    assert!(
        db.topology_line()
            .contains("replica lag unknown (SQL thread stopped) [IO Yes, SQL No]"),
        "{}",
        db.topology_line()
    );
    let health = assess_snapshot(&Snapshot::Mysql(db.clone()), &Thresholds::default());
    assert_eq!(health.state, HealthState::Degraded);
    assert!(
        health
            .reasons
            .iter()
            .any(|r| r.contains("SQL thread stopped")),
        "{health:#?}"
    );
    let status_line = scaleboard::connectors::summary(&Snapshot::Mysql(db.clone()));
    assert!(status_line.contains("1 writable"), "{status_line}");

    let plan = plan(promote("replica"), &One(db), &policy());
    let refused = reasons(&plan, GuardLevel::Refuse);
    assert!(
        refused
            .iter()
            .any(|r| r.contains("SQL thread of replica is stopped")
                && r.contains("START SLAVE SQL_THREAD")),
        "{refused:#?}"
    );
    let applied = pair.sql(&pair.replica, "SELECT @@gtid_slave_pos");
    let seq: u64 = applied.rsplit('-').next().unwrap().parse().unwrap();
    assert!(
        refused
            .iter()
            .any(|r| r.contains("relay log is not fully applied")
                && r.contains("3 transactions waiting")
                && r.contains(&format!("0-1-{}..0-1-{}", seq + 1, seq + 3))),
        "{refused:#?}"
    );
    assert!(
        refused
            .iter()
            .any(|r| r.starts_with("GTID gap") && r.contains("3 transactions")),
        "{refused:#?}"
    );
    pair.sql(&pair.replica, "START SLAVE SQL_THREAD");
}

/// The engine with a manual clock; keeps the latest snapshot per endpoint.
struct Rig {
    engine: EngineHandle,
    clock: Arc<ManualClock>,
    snapshots: HashMap<String, Snapshot>,
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
            dir,
        }
    }

    fn db(&self) -> Option<&MysqlSnapshot> {
        match self.snapshots.get("accounts") {
            Some(Snapshot::Mysql(db)) => Some(db),
            _ => None,
        }
    }

    fn until(&mut self, what: &str, cond: impl Fn(&Self, &Event) -> bool) -> Event {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            let Some(event) = self.engine.recv_timeout(Duration::from_millis(100)) else {
                self.clock.advance(Duration::from_secs(1));
                continue;
            };
            if let Event::Snapshot {
                endpoint, snapshot, ..
            } = &event
            {
                self.snapshots.insert(endpoint.clone(), snapshot.clone());
            }
            if cond(self, &event) {
                return event;
            }
        }
    }

    fn start_action(&mut self, plan: Plan, forced: bool) {
        self.engine
            .send(Command::Execute {
                id: scaleboard::actions::ActionId(1),
                plan: Box::new(plan),
                forced,
            })
            .unwrap();
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

    /// The primary unreachable and the replica's IO thread no longer connected to it.
    fn primary_seen_down(&mut self) -> MysqlSnapshot {
        self.until("primary seen down", |r, _| {
            r.db().is_some_and(|db| {
                let replica = server(db, "replica");
                !server(db, "primary").reachable
                    && replica.reachable
                    && replica.replica.as_ref().is_some_and(|s| !s.io_running())
            })
        });
        self.db().unwrap().clone()
    }
}

fn profile_with(endpoint: MysqlEndpoint) -> Profile {
    let mut profile = Profile::named("my");
    profile.mysql.push(endpoint);
    profile
}

#[test]
fn promotion_after_the_primary_stops_is_verified_and_the_promoted_server_takes_writes() {
    let pair = MariaPair::start();
    // read_only stops an ordinary user on the replica before the promotion.
    let refused = pair
        .app_sql(&pair.replica, "INSERT INTO app.t (v) VALUES (50)")
        .unwrap_err();
    assert!(
        refused.contains("read-only") || refused.contains("read_only"),
        "{refused}"
    );
    let mut rig = Rig::start(profile_with(endpoint(&pair)));
    rig.until("both servers read", |r, _| {
        r.db()
            .is_some_and(|db| db.servers.iter().filter(|s| s.reachable).count() == 2)
    });
    pair.stop(&pair.primary);
    let db = rig.primary_seen_down();
    let err = server(&db, "primary").error.clone().unwrap();
    assert!(err.contains(&pair.primary.port.to_string()), "{err}");
    assert_eq!(db.writable().count(), 0);
    let plan = plan(promote("replica"), &One(db), &policy());
    assert!(!plan.refused(), "{:#?}", plan.guards);
    assert!(
        plan.before.contains("primary: unreachable"),
        "{}",
        plan.before
    );
    assert!(
        plan.recheck_note()
            .contains("another server accepts writes")
    );
    rig.start_action(plan, false);
    let record = rig.finished();
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:#?}");
    assert!(
        record
            .detail
            .contains("ran `STOP SLAVE IO_THREAD; SELECT MASTER_GTID_WAIT('0-1-"),
        "{}",
        record.detail
    );
    assert!(
        record
            .detail
            .contains("', 10); STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only=OFF` on replica"),
        "{}",
        record.detail
    );
    assert!(
        record
            .detail
            .contains("replica is a writable source (read_only OFF, no replica configuration)"),
        "{}",
        record.detail
    );
    // The write that proves it: an ordinary user inserts on the promoted server.
    pair.app_sql(&pair.replica, "INSERT INTO app.t (v) VALUES (51)")
        .unwrap();
    assert_eq!(
        pair.app_sql(&pair.replica, "SELECT COUNT(*) FROM app.t WHERE v = 51")
            .unwrap(),
        "1"
    );
    assert_eq!(pair.sql(&pair.replica, "SHOW SLAVE STATUS"), "");
    let lines = rig.audit_lines();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(lines[0].contains("\"outcome\":\"intent\""), "{}", lines[0]);
    assert!(
        lines[1].contains("\"outcome\":\"succeeded\""),
        "{}",
        lines[1]
    );
}

/// The old primary starts again while the promotion waits out its grace period: the re-check
/// sees a writable server the plan did not, and nothing is promoted.
#[test]
fn promotion_is_not_run_when_the_primary_comes_back_during_grace() {
    let pair = MariaPair::start();
    let mut rig = Rig::start(profile_with(endpoint(&pair)));
    rig.until("both servers read", |r, _| {
        r.db()
            .is_some_and(|db| db.servers.iter().filter(|s| s.reachable).count() == 2)
    });
    pair.stop(&pair.primary);
    let db = rig.primary_seen_down();
    let plan = plan(promote("replica"), &One(db), &policy());
    assert!(!plan.refused(), "{:#?}", plan.guards);
    rig.start_action(plan, false);
    rig.until("grace period", |_, e| {
        matches!(
            e,
            Event::ActionProgress {
                stage: scaleboard::engine::ActionStage::Grace { .. },
                ..
            }
        )
    });
    pair.start_again(&pair.primary);
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
    assert!(
        pair.sql(&pair.replica, "SHOW SLAVE STATUS")
            .contains("127.0.0.1"),
        "the replica keeps its replica configuration"
    );
    assert_eq!(pair.sql(&pair.replica, "SELECT @@read_only"), "1");
    let lines = rig.audit_lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("\"outcome\":\"not_run\""), "{}", lines[0]);
}

#[test]
fn a_wrong_password_is_a_clear_error_and_the_right_one_works() {
    let pair = MariaPair::start();
    let rt = runtime();
    let with_password = |pw: &'static str| {
        let lookup: SecretLookup = Arc::new(move |_: &SecretRef| Ok(pw.to_string()));
        MysqlConnector::new(
            MysqlEndpoint {
                primary_url: format!("mysql://{PW_USER}@127.0.0.1:{}", pair.primary.port),
                replica_urls: vec![format!("mysql://{PW_USER}@127.0.0.1:{}", pair.replica.port)],
                ..endpoint(&pair)
            },
            Some(lookup),
        )
    };
    let err = poll(&rt, &with_password("wrong-password")).unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("not authenticated"), "{text}");
    assert!(text.contains("the server refused the login"), "{text}");
    assert!(text.contains("Access denied for user 'pwuser'"), "{text}");
    assert!(text.contains("check the stored password"), "{text}");
    assert!(
        !text.contains("wrong-password"),
        "the password never shows: {text}"
    );
    let (db, _) = poll(&rt, &with_password(PW_PASSWORD)).unwrap();
    assert!(db.servers.iter().all(|s| s.reachable), "{db:#?}");
    assert_eq!(
        db.servers[0].name,
        format!("127.0.0.1:{}", pair.primary.port)
    );
    // A paused server costs the poll its deadline, not more, and is said to be slow or paused;
    // the other server is read as usual, and the paused one again once it resumes.
    let c = MysqlConnector::new(endpoint(&pair), None);
    poll(&rt, &c).unwrap();
    let pid = pair.replica.pid().to_string();
    Process::new("kill").args(["-STOP", &pid]).status().unwrap();
    let started = Instant::now();
    let result = poll(&rt, &c);
    let took = started.elapsed();
    Process::new("kill").args(["-CONT", &pid]).status().unwrap();
    let (db, _) = result.unwrap();
    assert!(took < Duration::from_secs(7), "{took:?}");
    assert!(server(&db, "primary").reachable);
    let e = server(&db, "replica").error.clone().unwrap();
    assert!(
        e.contains("did not answer within") && e.contains("s (slow or paused)"),
        "{e}"
    );
    let (db, _) = poll(&rt, &c).unwrap();
    assert!(server(&db, "replica").reachable, "{db:#?}");
    // Nothing listens: unreachable, not an authentication problem.
    let port = support::mysql::free_port();
    let c = MysqlConnector::new(
        MysqlEndpoint {
            primary_url: format!("mysql://root@127.0.0.1:{port}"),
            replica_urls: Vec::new(),
            ..endpoint(&pair)
        },
        None,
    );
    let err = poll(&rt, &c).unwrap_err();
    assert!(matches!(err, ConnectorError::Unreachable { .. }), "{err:?}");
}

fn scaleboard(config: &std::path::Path) -> Process {
    let mut cmd = Process::new(env!("CARGO_BIN_EXE_scaleboard"));
    cmd.env("SCALEBOARD_CONFIG_DIR", config)
        .env_remove("SCALEBOARD_DATA_DIR")
        .env_remove("MYSQL_PWD");
    cmd
}

#[test]
fn cli_status_and_promote_with_the_typed_name_write_intent_and_outcome() {
    let pair = MariaPair::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let mut store = scaleboard::profiles::ProfileStore::load(&config);
    store.upsert(profile_with(endpoint(&pair))).unwrap();

    let out = scaleboard(&config)
        .args(["status", "--profile", "my"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("source primary (MariaDB, writable) -> replica lag 0 s [IO Yes, SQL Yes]"),
        "{text}"
    );

    // While the primary answers: refused, with the fence named.
    let out = scaleboard(&config)
        .args(["promote", "--profile", "my", "replica", "--yes"])
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("[REFUSED] primary still answers"), "{text}");
    assert!(text.contains("SET GLOBAL read_only=ON"), "{text}");

    pair.stop(&pair.primary);
    let mut child = scaleboard(&config)
        .args(["promote", "--profile", "my", "replica"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b"replica\n").unwrap();
    }
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Promote replica in accounts"), "{text}");
    assert!(
        text.contains("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only=OFF;"),
        "{text}"
    );
    assert!(text.contains("Type the replica's name (replica)"), "{text}");
    assert!(text.contains("Succeeded"), "{text}");
    pair.app_sql(&pair.replica, "INSERT INTO app.t (v) VALUES (77)")
        .unwrap();
    let log = std::fs::read_to_string(config.join("data/audit.jsonl")).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 2, "{log}");
    assert!(lines[0].contains("\"outcome\":\"intent\""), "{log}");
    assert!(lines[0].contains("accounts/accounts/replica"), "{log}");
    assert!(lines[0].contains("STOP SLAVE; RESET SLAVE ALL"), "{log}");
    assert!(lines[1].contains("\"outcome\":\"succeeded\""), "{log}");
}

/// A network split: Scaleboard cannot reach the primary (the profile's URL points at a dead
/// port), but the replica still streams from its real, running source. Its IO thread says the
/// source is alive, so the promotion is refused, and the unreachable server is named.
#[test]
fn promotion_is_refused_while_the_candidate_still_streams_from_a_live_source() {
    let pair = MariaPair::start();
    let rt = runtime();
    let dead = support::mysql::free_port();
    let c = MysqlConnector::new(
        MysqlEndpoint {
            primary_url: format!("mysql://root@127.0.0.1:{dead}?name=primary"),
            ..endpoint(&pair)
        },
        None,
    );
    let (db, _) = poll(&rt, &c).unwrap();
    assert!(!server(&db, "primary").reachable, "{db:#?}");
    let status = server(&db, "replica").replica.clone().unwrap();
    assert!(status.io_running(), "{status:#?}");
    assert_eq!(
        db.writable().count(),
        0,
        "no writable server Scaleboard can see"
    );
    let plan = plan(promote("replica"), &One(db), &policy());
    assert!(plan.refused(), "{:#?}", plan.guards);
    let refused = reasons(&plan, GuardLevel::Refuse);
    assert!(
        refused.iter().any(|r| r.starts_with(&format!(
            "replica is still connected to its source 127.0.0.1:{}: that source is alive — \
             fence or stop it first (",
            pair.primary.port
        ))),
        "{refused:#?}"
    );
    let warned = reasons(&plan, GuardLevel::Warn);
    assert!(
        warned
            .iter()
            .any(|w| w.starts_with("primary does not answer")
                && w.contains(&dead.to_string())
                && w.contains("make sure it is down or fenced")),
        "{warned:#?}"
    );
    let facts: Vec<String> = plan
        .observed
        .iter()
        .map(|f| format!("{}={}", f.what, f.value))
        .collect();
    assert!(
        facts.contains(&"replica threads of replica=IO thread Yes, SQL thread Yes".to_string()),
        "the IO thread's state is re-checked: {facts:?}"
    );
}

fn execute(rt: &tokio::runtime::Runtime, c: &MysqlConnector) -> Result<String, ConnectorError> {
    let action = promote("replica");
    rt.block_on(c.execute(scaleboard::model::exec::Execution::bare(&action)))
}

/// Events the IO thread received but the SQL thread has not applied (it waits on a table lock)
/// are never deleted with the relay log: the IO thread is stopped, the SQL thread given a
/// bounded wait, and if it did not apply them all nothing is reset. Once the lock is released
/// within the wait, the promotion goes through with every row applied.
#[test]
fn promotion_waits_for_received_transactions_and_resets_nothing_while_they_are_unapplied() {
    let pair = MariaPair::start();
    let rt = runtime();
    let c = MysqlConnector::new(endpoint(&pair), None);
    poll(&rt, &c).unwrap();
    // A stopped SQL thread (a forced promotion): no wait, refused at once, relay log kept.
    pair.sql(&pair.replica, "STOP SLAVE SQL_THREAD");
    for v in 10..12 {
        pair.sql(
            &pair.primary,
            &format!("INSERT INTO app.t (v) VALUES ({v})"),
        );
    }
    pair.wait_received();
    let err = execute(&rt, &c).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("received transactions were not all applied")
            && text.contains("2 transactions waiting")
            && text.contains("(the SQL thread is stopped)")
            && text.contains("nothing was reset"),
        "{err:?}"
    );
    assert_eq!(pair.sql(&pair.replica, "SELECT @@read_only"), "1");
    // (MariaDB in GTID mode refetches from gtid_slave_pos once both threads were stopped.)
    pair.sql(&pair.replica, "START SLAVE");
    pair.wait_caught_up();

    let lock = pair.lock_table(&pair.replica, 120);
    for v in 20..23 {
        pair.sql(
            &pair.primary,
            &format!("INSERT INTO app.t (v) VALUES ({v})"),
        );
    }
    pair.wait_received();
    let applied = pair.sql(&pair.replica, "SELECT @@gtid_slave_pos");
    let want = pair.sql(&pair.primary, "SELECT @@gtid_binlog_pos");
    assert_ne!(applied, want, "the lock holds the SQL thread back");
    let started = Instant::now();
    let err = execute(&rt, &c).unwrap_err();
    let took = started.elapsed();
    assert!(matches!(err, ConnectorError::Conflict(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("received transactions were not all applied")
            && text.contains(&format!("received {want}, applied {applied}"))
            && text.contains("3 transactions waiting")
            // (The IO thread may still be "Connecting" when it is read back.)
            && text.contains(
                "nothing was reset; undone: `START SLAVE IO_THREAD` ran, the replica threads \
                 run again (IO thread "
            )
            && text.contains(", SQL thread Yes)"),
        "{text}"
    );
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(20),
        "a bounded wait: {took:?}"
    );
    // Nothing was reset: still a read-only replica with its configuration, and the IO thread
    // the promotion stopped runs again.
    assert_ne!(pair.slave_status("Slave_IO_Running"), "No");
    assert_eq!(pair.slave_status("Slave_SQL_Running"), "Yes");
    assert_eq!(pair.sql(&pair.replica, "SELECT @@read_only"), "1");
    lock.release();
    // The relay log was kept: released, the SQL thread applies every received row.
    pair.wait_caught_up();

    // Received and applied within the wait: promoted, nothing lost.
    let lock = pair.lock_table(&pair.replica, 3);
    for v in 30..32 {
        pair.sql(
            &pair.primary,
            &format!("INSERT INTO app.t (v) VALUES ({v})"),
        );
    }
    pair.wait_received();
    assert_ne!(
        pair.sql(&pair.replica, "SELECT @@gtid_slave_pos"),
        pair.sql(&pair.primary, "SELECT @@gtid_binlog_pos")
    );
    let detail = execute(&rt, &c).unwrap();
    drop(lock);
    assert!(
        detail.starts_with("ran `STOP SLAVE IO_THREAD; SELECT MASTER_GTID_WAIT('")
            && detail.contains("STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only=OFF` on replica"),
        "{detail}"
    );
    assert_eq!(pair.sql(&pair.replica, "SHOW SLAVE STATUS"), "");
    assert_eq!(
        pair.sql(&pair.replica, "SELECT COUNT(*) FROM app.t"),
        pair.sql(&pair.primary, "SELECT COUNT(*) FROM app.t"),
        "every received row applied before the reset"
    );
}

/// A password changed after a refused login (`scaleboard secret set` while the window runs) is
/// looked up again at the next poll: neither the wrong one nor "none found" is kept.
#[test]
fn a_refused_login_looks_the_password_up_again() {
    let pair = MariaPair::start();
    let rt = runtime();
    let current = Arc::new(std::sync::Mutex::new(None::<String>));
    let lookups = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let lookup: SecretLookup = {
        let current = Arc::clone(&current);
        let lookups = Arc::clone(&lookups);
        Arc::new(move |_: &SecretRef| {
            lookups.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            current
                .lock()
                .unwrap()
                .clone()
                .ok_or(scaleboard::profiles::SecretError::NotFound)
        })
    };
    let c = MysqlConnector::new(
        MysqlEndpoint {
            primary_url: format!("mysql://{PW_USER}@127.0.0.1:{}", pair.primary.port),
            replica_urls: vec![format!("mysql://{PW_USER}@127.0.0.1:{}", pair.replica.port)],
            ..endpoint(&pair)
        },
        Some(lookup),
    );
    let err = poll(&rt, &c).unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "{err:?}");
    assert!(err.to_string().contains("no password was found"), "{err}");
    *current.lock().unwrap() = Some("wrong-password".into());
    let err = poll(&rt, &c).unwrap_err();
    assert!(
        err.to_string().contains("check the stored password"),
        "{err}"
    );
    *current.lock().unwrap() = Some(PW_PASSWORD.into());
    let (db, _) = poll(&rt, &c).unwrap();
    assert!(db.servers.iter().all(|s| s.reachable), "{db:#?}");
    // Kept while it works: no lookup per poll.
    let n = lookups.load(std::sync::atomic::Ordering::SeqCst);
    poll(&rt, &c).unwrap();
    assert_eq!(lookups.load(std::sync::atomic::Ordering::SeqCst), n);
}
