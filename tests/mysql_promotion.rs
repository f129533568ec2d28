//! MariaDB promotion without half-done actions, and which writable server is the stale one,
//! against a real MariaDB 10.11 GTID pair (`support::mysql`): an operator with SUPER but not
//! RELOAD is refused before any write; forced, the failing `RESET SLAVE ALL` is undone by
//! starting the replica threads again, and the audit says both; with two writable servers the
//! one behind by GTID is named, whatever the profile's order; a crashed source keeps its role.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use scaleboard::actions::audit::{AuditOutcome, AuditRecord};
use scaleboard::actions::{Action, ActionId, FleetView, GuardLevel, Plan, PlanPolicy, plan};
use scaleboard::connectors::Connector;
use scaleboard::connectors::mysql::MysqlConnector;
use scaleboard::engine::{Command, ConnectRequest, EngineConfig, EngineHandle, Event};
use scaleboard::health::{HealthState, assess_snapshot};
use scaleboard::model::clock::ManualClock;
use scaleboard::model::mysql::{MysqlServer, MysqlSnapshot};
use scaleboard::model::snapshot::{DatabaseSnapshot, Snapshot, Workload, WorkloadRef};
use scaleboard::profiles::{MysqlEndpoint, Profile, Thresholds};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::mysql::MariaPair;

const START: i64 = 1_793_628_000_000;

fn endpoint(pair: &MariaPair, user: &str) -> MysqlEndpoint {
    MysqlEndpoint {
        name: "accounts".into(),
        primary_url: pair.primary.url_as(user),
        replica_urls: vec![pair.replica.url_as(user)],
        password: None,
        max_failover_lag_seconds: 5,
    }
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

fn promote_plan(db: MysqlSnapshot) -> Plan {
    let action = Action::PromoteMysqlReplica {
        endpoint: "accounts".into(),
        cluster: "accounts".into(),
        replica: "replica".into(),
    };
    plan(action, &One(db), &policy())
}

fn reasons(plan: &Plan, level: GuardLevel) -> Vec<String> {
    plan.guards
        .iter()
        .filter(|g| g.level == level)
        .map(|g| g.reason.clone())
        .collect()
}

/// The engine with a manual clock, keeping the latest MySQL snapshot.
struct Rig {
    engine: EngineHandle,
    clock: Arc<ManualClock>,
    db: Option<MysqlSnapshot>,
    dir: tempfile::TempDir,
}

impl Rig {
    fn start(endpoint: MysqlEndpoint) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(START);
        let config = EngineConfig::new(
            clock.clone(),
            dir.path().join("config"),
            dir.path().join("data"),
        );
        let engine = EngineHandle::start(config, Arc::new(|| {})).unwrap();
        let mut profile = Profile::named("my");
        profile.mysql.push(endpoint);
        engine
            .send(Command::Connect(Box::new(ConnectRequest {
                profile,
                demo_seed: 1,
            })))
            .unwrap();
        Self {
            engine,
            clock,
            db: None,
            dir,
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
                snapshot: Snapshot::Mysql(db),
                ..
            } = &event
            {
                self.db = Some(db.clone());
            }
            if cond(self, &event) {
                return event;
            }
        }
    }

    /// The latest snapshot once `cond` holds for it.
    fn db_when(&mut self, what: &str, cond: impl Fn(&MysqlSnapshot) -> bool) -> MysqlSnapshot {
        self.until(what, |r, e| {
            matches!(e, Event::Snapshot { .. }) && r.db.as_ref().is_some_and(&cond)
        });
        self.db.clone().unwrap()
    }

    fn run(&mut self, id: u64, plan: Plan, forced: bool) -> AuditRecord {
        self.engine
            .send(Command::Execute {
                id: ActionId(id),
                plan: Box::new(plan),
                forced,
            })
            .unwrap();
        match self.until("action finished", |_, e| {
            matches!(e, Event::ActionFinished { .. })
        }) {
            Event::ActionFinished { record, .. } => *record,
            _ => unreachable!(),
        }
    }

    fn audit(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("data/audit.jsonl")).unwrap_or_default()
    }
}

/// The primary stopped, the replica read, its IO thread no longer connected.
fn primary_down(db: &MysqlSnapshot) -> bool {
    let r = server(db, "replica");
    !server(db, "primary").reachable
        && r.reachable
        && r.replica.as_ref().is_some_and(|s| !s.io_running())
}

#[test]
fn without_reload_promotion_is_refused_before_any_write_and_a_forced_one_is_undone() {
    let pair = MariaPair::start();
    // Exactly what the README used to list: SUPER, which MariaDB 10.11 takes neither for
    // RESET SLAVE ALL (RELOAD) nor for SET GLOBAL read_only (READ_ONLY ADMIN).
    pair.create_user("op", "SUPER");
    let mut rig = Rig::start(endpoint(&pair, "op"));
    rig.db_when("both servers read", |db| {
        db.servers.iter().all(|s| s.reachable)
    });
    pair.stop(&pair.primary);
    let db = rig.db_when("primary seen down", primary_down);
    assert_eq!(
        server(&db, "replica").grants.as_ref().unwrap().global,
        ["SUPER"]
    );
    let planned = promote_plan(db);
    let refused = reasons(&planned, GuardLevel::Refuse);
    assert_eq!(refused.len(), 1, "{:#?}", planned.guards);
    assert!(
        refused[0].starts_with(
            "op on replica: missing RELOAD (RESET SLAVE ALL needs it); missing READ_ONLY ADMIN \
             (SET GLOBAL read_only=OFF needs it)."
        ),
        "{refused:?}"
    );

    // Not forced: refused before anything is written, and the replica keeps replicating.
    let record = rig.run(1, planned.clone(), false);
    assert_eq!(record.outcome, AuditOutcome::Refused, "{record:#?}");
    assert_eq!(pair.slave_status("Slave_SQL_Running"), "Yes");
    assert_ne!(pair.slave_status("Slave_IO_Running"), "No");
    assert!(
        !rig.audit().contains("\"outcome\":\"intent\""),
        "{}",
        rig.audit()
    );

    // Forced over the refusal: STOP SLAVE runs, RESET SLAVE ALL is refused by the server, and
    // the threads STOP SLAVE stopped are started again; the audit says both.
    let record = rig.run(2, planned, true);
    assert_eq!(record.outcome, AuditOutcome::Failed, "{record:#?}");
    let detail = &record.detail;
    assert!(detail.contains("error 1227"), "{detail}");
    assert!(
        detail.contains("already run: STOP SLAVE IO_THREAD; SELECT MASTER_GTID_WAIT(")
            && detail.contains(
                "; STOP SLAVE; nothing was reset; undone: `START SLAVE` ran, the \
                                replica threads run again (IO thread "
            )
            && detail.contains(", SQL thread Yes)")
            && detail.ends_with("; RESET SLAVE ALL needs RELOAD)"),
        "{detail}"
    );
    assert!(
        !detail.contains("needs SUPER or REPLICATION ADMIN"),
        "{detail}"
    );
    assert_eq!(pair.slave_status("Slave_SQL_Running"), "Yes");
    assert_ne!(pair.slave_status("Slave_IO_Running"), "No");
    assert_eq!(pair.sql(&pair.replica, "SELECT @@read_only"), "1");
    let log = rig.audit();
    assert!(log.contains("\"outcome\":\"failed\""), "{log}");
    assert!(log.contains("undone: `START SLAVE` ran"), "{log}");

    // The next plan reads the real state: threads running, the same single refusal.
    let db = rig.db_when("threads seen running again", |db| {
        primary_down(db)
            && server(db, "replica")
                .replica
                .as_ref()
                .is_some_and(|r| r.sql_running)
    });
    let again = promote_plan(db);
    assert_eq!(reasons(&again, GuardLevel::Refuse), refused);

    // Both threads stopped with everything applied (what a half-done promotion used to leave):
    // said as such, never "what it received is not applied".
    pair.sql(&pair.replica, "STOP SLAVE");
    let db = rig.db_when("threads seen stopped", |db| {
        server(db, "replica")
            .replica
            .as_ref()
            .is_some_and(|r| !r.sql_running)
    });
    let stopped = promote_plan(db);
    assert_eq!(reasons(&stopped, GuardLevel::Refuse), refused);
    assert!(
        reasons(&stopped, GuardLevel::Warn).iter().any(|w| w
            .starts_with("The SQL thread of replica is stopped, but everything it received is applied (received 0-1-")),
        "{:#?}",
        stopped.guards
    );
    pair.sql(&pair.replica, "START SLAVE");

    // Still a replica: the primary back, its next write arrives.
    pair.start_again(&pair.primary);
    pair.sql(&pair.primary, "INSERT INTO app.t (v) VALUES (90)");
    pair.wait_caught_up();
}

#[test]
fn with_two_writable_servers_the_one_behind_by_gtid_is_the_second_and_a_crashed_source_keeps_its_role()
 {
    let pair = MariaPair::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let poll = |c: &MysqlConnector| match rt.block_on(c.poll()).unwrap().snapshot {
        Snapshot::Mysql(db) => db,
        other => panic!("not a MySQL snapshot: {other:?}"),
    };
    // The profile lists the old primary first and the server promoted by hand second.
    let c = MysqlConnector::new(endpoint(&pair, "root"), None);
    poll(&c);
    pair.stop(&pair.primary);
    pair.sql(
        &pair.replica,
        "STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only=OFF",
    );
    for v in 100..103 {
        pair.sql(
            &pair.replica,
            &format!("INSERT INTO app.t (v) VALUES ({v})"),
        );
    }
    // The old primary comes back writable: two writable servers, the newer listed second.
    pair.start_again(&pair.primary);
    let old = pair.sql(&pair.primary, "SELECT @@gtid_binlog_pos");
    let new = pair.sql(&pair.replica, "SELECT @@gtid_binlog_pos");
    assert!(
        old.starts_with("0-1-") && new.starts_with("0-2-"),
        "{old} {new}"
    );
    // (The connection kept from before the restart breaks on first use: polled again.)
    let deadline = Instant::now() + Duration::from_secs(20);
    let db = loop {
        let db = poll(&c);
        if db.servers.iter().all(|s| s.reachable) || Instant::now() > deadline {
            break db;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(db.writable().count(), 2, "{db:#?}");
    let (p, r) = (server(&db, "primary"), server(&db, "replica"));
    assert!(p.second_writable, "the old primary is behind: {db:#?}");
    assert_eq!(p.behind_newest, Some(3));
    assert!(!r.second_writable, "the newest stays: {db:#?}");
    let line = db.topology_line();
    assert!(
        line.contains("source primary (MariaDB, writable) SECOND WRITABLE SERVER")
            && line.contains("source replica (MariaDB, writable)")
            && !line.contains("source replica (MariaDB, writable) SECOND"),
        "{line}"
    );
    let health = assess_snapshot(&Snapshot::Mysql(db.clone()), &Thresholds::default());
    assert_eq!(health.state, HealthState::Degraded);
    assert!(health.critical, "{health:#?}");
    assert!(
        health
            .reasons
            .iter()
            .any(|x| x.starts_with("primary: second writable server")),
        "{health:#?}"
    );
    assert_eq!(db.last_source_position.as_deref(), Some(new.as_str()));

    // The promoted server (a replica in the profile) crashes: it is still the source that was.
    pair.stop(&pair.replica);
    let deadline = Instant::now() + Duration::from_secs(20);
    let db = loop {
        let db = poll(&c);
        if !server(&db, "replica").reachable || Instant::now() > deadline {
            break db;
        }
    };
    let r = server(&db, "replica");
    assert!(!r.reachable);
    assert_eq!(r.role_text(), "primary, unreachable");
    assert!(
        db.topology_line()
            .contains("source replica (primary, unreachable)"),
        "{}",
        db.topology_line()
    );
}
