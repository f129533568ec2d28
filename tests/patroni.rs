//! The Patroni connector, its plans and guards, the pipeline and the CLI against a real Patroni
//! 3 cluster (etcd + three PostgreSQL 15 members, m3 tagged `nofailover`, REST API with basic
//! auth) started by `support::patroni`. Each test owns its cluster (nextest runs every test in
//! its own process); the destructive failover has a cluster of its own.
//!
//! Failover: Patroni fails over by itself when a leader dies, so a manual failover is only
//! asked for when it will not: in maintenance mode (`patronictl pause`). The test pauses the
//! cluster, stops the leader's PostgreSQL behind Patroni's back (Patroni then releases the
//! leader lock and, paused, elects nobody), and fails over through the pipeline.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use scaleboard::actions::audit::{AuditOutcome, AuditRecord};
use scaleboard::actions::{Action, FleetView, GuardLevel, Plan, PlanPolicy, plan};
use scaleboard::connectors::patroni::PatroniConnector;
use scaleboard::connectors::postgres::PostgresConnector;
use scaleboard::connectors::{Connector, ConnectorError};
use scaleboard::engine::{Command, ConnectRequest, EngineConfig, EngineHandle, Event};
use scaleboard::model::clock::ManualClock;
use scaleboard::model::exec::Execution;
use scaleboard::model::patroni::{PatroniRole, PatroniSnapshot};
use scaleboard::model::snapshot::{DatabaseSnapshot, Snapshot, Workload, WorkloadRef};
use scaleboard::profiles::{PatroniEndpoint, PostgresEndpoint, Profile, SecretError, SecretRef};
use std::collections::HashMap;
use std::process::Command as Process;
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::patroni::{PatroniCluster, REST_PASSWORD, REST_USER, SCOPE};

const START: i64 = 1_793_628_000_000;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn endpoint(cluster: &PatroniCluster) -> PatroniEndpoint {
    PatroniEndpoint {
        name: "ha".into(),
        urls: vec![cluster.members[0].api_url()],
        username: Some(REST_USER.into()),
        patronictl_config: Some(format!("{}/patroni.yml", cluster.members[0].dir.display())),
        ..PatroniEndpoint::default()
    }
}

fn lookup(password: &'static str) -> scaleboard::connectors::patroni::SecretLookup {
    Arc::new(move |_: &SecretRef| Ok::<_, SecretError>(password.to_string()))
}

fn connector(e: PatroniEndpoint, password: &'static str) -> PatroniConnector {
    let urls = e.urls.clone();
    PatroniConnector::new(e, urls, Some(lookup(password)))
}

fn read(rt: &tokio::runtime::Runtime, c: &PatroniConnector) -> PatroniSnapshot {
    match rt.block_on(c.poll()).unwrap().snapshot {
        Snapshot::Patroni(p) => *p,
        other => panic!("not a Patroni snapshot: {other:?}"),
    }
}

#[derive(Default)]
struct View {
    patroni: Option<PatroniSnapshot>,
    db: Option<DatabaseSnapshot>,
}

impl FleetView for View {
    fn workload(&self, _: &WorkloadRef) -> Option<&Workload> {
        None
    }
    fn database(&self, endpoint: &str) -> Option<&DatabaseSnapshot> {
        self.db.as_ref().filter(|_| endpoint == "pg")
    }
    fn patroni(&self, endpoint: &str) -> Option<&PatroniSnapshot> {
        self.patroni.as_ref().filter(|_| endpoint == "ha")
    }
    fn patroni_clusters(&self) -> Vec<(&str, &PatroniSnapshot)> {
        self.patroni.iter().map(|p| ("ha", p)).collect()
    }
}

fn policy() -> PlanPolicy {
    PlanPolicy {
        profile: "pt".into(),
        read_only: false,
        max_failover_lag_bytes: 1 << 20,
        kube_context: None,
        patroni_links: Vec::new(),
    }
}

fn switchover(leader: &str, candidate: Option<&str>) -> Action {
    Action::PatroniSwitchover {
        endpoint: "ha".into(),
        cluster: SCOPE.into(),
        leader: leader.into(),
        candidate: candidate.map(Into::into),
        scheduled_at: None,
    }
}

fn refusals(plan: &Plan) -> Vec<String> {
    plan.guards
        .iter()
        .filter(|g| g.level == GuardLevel::Refuse)
        .map(|g| g.reason.clone())
        .collect()
}

/// The engine with a manual clock, fed the profile; the REST password from a credentials file.
struct Rig {
    engine: EngineHandle,
    clock: Arc<ManualClock>,
    snapshots: HashMap<String, Snapshot>,
    dir: tempfile::TempDir,
}

impl Rig {
    fn start(profile: Profile) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let config_dir = dir.path().join("config");
        write_credentials(&config_dir, &profile.name);
        scaleboard::profiles::secrets::use_credentials_dir(&config_dir);
        let clock = ManualClock::new(START);
        let config = EngineConfig::new(clock.clone(), config_dir, dir.path().join("data"));
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

    fn patroni(&self) -> Option<&PatroniSnapshot> {
        match self.snapshots.get("ha") {
            Some(Snapshot::Patroni(p)) => Some(p),
            _ => None,
        }
    }

    fn until(&mut self, what: &str, cond: impl Fn(&Self, &Event) -> bool) -> Event {
        let deadline = Instant::now() + Duration::from_secs(90);
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

    fn execute(&mut self, plan: Plan, forced: bool) -> AuditRecord {
        self.engine
            .send(Command::Execute {
                id: scaleboard::actions::ActionId(1),
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

/// `credentials.toml` (mode 0600) with the REST API password under the conventional entry.
fn write_credentials(config_dir: &std::path::Path, profile: &str) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(config_dir).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(config_dir.join("credentials.toml"))
        .unwrap();
    writeln!(
        f,
        "[scaleboard]\n\"{profile}/patroni/ha\" = \"{REST_PASSWORD}\""
    )
    .unwrap();
}

fn profile(cluster: &PatroniCluster) -> Profile {
    let mut p = Profile::named("pt");
    p.patroni.push(endpoint(cluster));
    p
}

fn scaleboard(config: &std::path::Path) -> Process {
    let mut cmd = Process::new(env!("CARGO_BIN_EXE_scaleboard"));
    cmd.env("SCALEBOARD_CONFIG_DIR", config)
        .env_remove("SCALEBOARD_DATA_DIR")
        .env("SCALEBOARD_SECRET_PT_HA", REST_PASSWORD);
    cmd
}

#[test]
fn topology_guards_auth_pg_promote_refusal_and_switchovers() {
    let cluster = PatroniCluster::start();
    let rt = runtime();

    // Topology: three members, one leader, the timeline, lag, tags and Patroni's own limits.
    let c = connector(endpoint(&cluster), REST_PASSWORD);
    let s = read(&rt, &c);
    assert_eq!(s.cluster, SCOPE);
    assert_eq!(s.members.len(), 3, "{s:#?}");
    assert_eq!(s.leader().map(|l| l.name.as_str()), Some("m1"));
    assert_eq!(s.members.iter().filter(|m| m.role.is_leader()).count(), 1);
    assert_eq!(s.timeline(), Some(1));
    for name in ["m2", "m3"] {
        let m = s.member(name).unwrap();
        assert_eq!(m.role, PatroniRole::Replica);
        assert!(m.is_running(), "{m:?}");
        assert!(m.lag_bytes.is_some_and(|l| l < 1 << 20), "{m:?}");
        assert_eq!(m.port, cluster.member(name).pg_port);
    }
    assert!(s.member("m3").unwrap().nofailover);
    assert!(!s.member("m2").unwrap().nofailover);
    assert_eq!(s.maximum_lag_on_failover, Some(1_048_576));
    assert!(!s.paused && !s.synchronous_mode);
    let health = scaleboard::health::assess_snapshot(
        &Snapshot::Patroni(Box::new(s.clone())),
        &scaleboard::profiles::Thresholds::default(),
    );
    assert_eq!(
        health.state,
        scaleboard::health::HealthState::Ok,
        "{health:?}"
    );

    // A URL that does not answer: the cluster is read through the next one, and said so.
    let mut two = endpoint(&cluster);
    two.urls = vec![
        format!("http://127.0.0.1:{}", support::postgres::free_port()),
        cluster.members[1].api_url(),
    ];
    let s2 = read(&rt, &connector(two, REST_PASSWORD));
    assert_eq!(s2.answered_by, cluster.members[1].api_url());
    assert_eq!(s2.unanswered.len(), 1, "{:?}", s2.unanswered);

    // A nofailover candidate: our guard refuses in words before Patroni would.
    let view = View {
        patroni: Some(s.clone()),
        db: None,
    };
    let to_m3 = plan(switchover("m1", Some("m3")), &view, &policy());
    let why = refusals(&to_m3).join(" ");
    assert!(why.contains("m3 is tagged nofailover"), "{why}");
    assert!(why.contains("412 no good candidates"), "{why}");
    assert!(
        to_m3
            .command
            .contains("switchover sbtest --leader m1 --candidate m3")
    );
    assert!(
        to_m3.command.contains("curl -s -u admin -XPOST"),
        "{}",
        to_m3.command
    );
    // Bypassing our guard: Patroni's own 412, translated.
    let action = switchover("m1", Some("m3"));
    let err = rt
        .block_on(c.execute(Execution::bare(&action)))
        .unwrap_err();
    let ConnectorError::Refused(text) = &err else {
        panic!("{err:?}")
    };
    assert!(
        text.contains("412") && text.contains("no good candidates"),
        "{text}"
    );
    assert!(text.contains("nofailover"), "{text}");
    // A leader name that no longer matches is Patroni's 412 too, read as "changed since".
    let err = rt
        .block_on(c.execute(Execution::bare(&switchover("m2", Some("m1")))))
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Conflict(_)), "{err:?}");

    // Wrong or missing basic-auth password: a clear error, nothing changed.
    let to_m2 = switchover("m1", Some("m2"));
    let wrong = connector(endpoint(&cluster), "wrong-password");
    let err = rt
        .block_on(wrong.execute(Execution::bare(&to_m2)))
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "{err:?}");
    assert!(err.to_string().contains("401"), "{err}");
    assert!(err.to_string().contains("Nothing was changed"), "{err}");
    let mut anonymous = endpoint(&cluster);
    anonymous.username = None;
    let err = rt
        .block_on(connector(anonymous, "").execute(Execution::bare(&to_m2)))
        .unwrap_err();
    assert!(err.to_string().contains("no auth header received"), "{err}");
    assert_eq!(cluster.leader().as_deref(), Some("m1"));

    // pg_promote on a Patroni member: refused, the switchover offered instead.
    let pg = PostgresConnector::new(
        PostgresEndpoint {
            name: "pg".into(),
            primary_dsn: format!(
                "host=127.0.0.1 port={} user=postgres dbname=postgres sslmode=disable application_name=db1",
                cluster.member("m1").pg_port
            ),
            replica_dsns: vec![format!(
                "host=127.0.0.1 port={} user=postgres dbname=postgres sslmode=disable application_name=db2",
                cluster.member("m2").pg_port
            )],
            ..PostgresEndpoint::default()
        },
        None,
    );
    let db = match rt.block_on(pg.poll()).unwrap().snapshot {
        Snapshot::Databases(db) => db,
        other => panic!("{other:?}"),
    };
    let view = View {
        patroni: Some(s.clone()),
        db: Some(db),
    };
    let promote = plan(
        Action::PromoteReplica {
            endpoint: "pg".into(),
            cluster: "pg".into(),
            replica: "db2".into(),
        },
        &view,
        &policy(),
    );
    let why = refusals(&promote).join(" ");
    assert!(
        why.contains("db2 is managed by Patroni cluster sbtest (member m2)")
            && why.contains("pg_promote would fight Patroni's leader lock")
            && why.contains("Use a switchover"),
        "{why}"
    );
    let alt = promote.alternative.clone().unwrap();
    assert_eq!(alt.action, switchover("m1", Some("m2")));

    // Switchover to a named candidate through the pipeline: verified, audited.
    let mut rig = Rig::start(profile(&cluster));
    rig.until("the cluster read", |r, _| r.patroni().is_some());
    let view = View {
        patroni: rig.patroni().cloned(),
        db: None,
    };
    let planned = plan(switchover("m1", Some("m2")), &view, &policy());
    assert!(!planned.refused(), "{:#?}", planned.guards);
    assert!(planned.dangerous);
    let record = rig.execute(planned, false);
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:#?}");
    assert!(
        record.detail.contains("Successfully switched over to"),
        "{}",
        record.detail
    );
    assert!(
        record
            .detail
            .contains("verified: m2 leads on timeline 2; m1, m3 follow it"),
        "{}",
        record.detail
    );
    // Write-ahead: the intent (synced before the request), then the outcome.
    let audit = rig.audit();
    let lines: Vec<&str> = audit.lines().collect();
    assert_eq!(lines.len(), 2, "{audit}");
    assert!(lines[0].contains("\"outcome\":\"intent\""), "{audit}");
    assert!(lines[1].contains("\"outcome\":\"succeeded\""), "{audit}");
    assert!(
        lines
            .iter()
            .all(|l| l.contains("\"action\":\"switchover\"")),
        "{audit}"
    );
    assert_eq!(cluster.leader().as_deref(), Some("m2"));
    drop(rig);

    // The CLI: same plan, the typed name, the audit. A wrong name does nothing.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let mut store = scaleboard::profiles::ProfileStore::load(&config);
    store.upsert(profile(&cluster)).unwrap();
    let typed = |name: &str| {
        let mut child = scaleboard(&config)
            .args(["switchover", "--profile", "pt", SCOPE, "--candidate", "m1"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(format!("{name}\n").as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (code, text) = typed("m3");
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("Not confirmed"), "{text}");
    assert!(text.contains("Type m1 to go on"), "{text}");
    let (code, text) = typed("m1");
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("--leader m2 --candidate m1"), "{text}");
    assert!(text.contains("Succeeded"), "{text}");
    assert!(text.contains("m1 leads on timeline 3"), "{text}");
    let out = scaleboard(&config)
        .args(["status", "--profile", "pt"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("Patroni sbtest: 3 members, leader m1 running (tl 3)"),
        "{text}"
    );

    // A scheduled switchover (Patroni answers 202) shows in /cluster; the cancel removes it.
    let at = (chrono::Utc::now() + chrono::Duration::hours(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let out = scaleboard(&config)
        .args(["switchover", "--profile", "pt", SCOPE, "--candidate", "m2"])
        .args(["--scheduled", &at, "--yes"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(
        text.contains("202") && text.contains("switchover scheduled at"),
        "{text}"
    );
    assert!(
        cluster
            .cluster_json()
            .is_some_and(|v| v["scheduled_switchover"]["to"] == "m2"),
        "{:?}",
        cluster.cluster_json()
    );
    let out = scaleboard(&config)
        .args(["switchover", "--profile", "pt", SCOPE, "--cancel"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("no switchover is scheduled"), "{text}");
    assert!(
        cluster
            .cluster_json()
            .is_some_and(|v| v.get("scheduled_switchover").is_none())
    );
    assert_eq!(cluster.leader().as_deref(), Some("m1"));
    let out = scaleboard(&config).arg("audit").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("switchover ha/sbtest/m2->m1"), "{text}");
    assert!(text.contains("cancel-switchover ha/sbtest"), "{text}");
}

#[test]
fn failover_after_the_leader_stops_in_maintenance_mode() {
    let cluster = PatroniCluster::start();
    cluster.pause();
    cluster.stop_postgres("m1");
    cluster.wait("m1 to lose the leader lock", Duration::from_secs(30), |c| {
        c.cluster_json().is_some_and(|v| {
            v["members"]
                .as_array()
                .is_some_and(|m| m.iter().all(|x| x["role"] != "leader"))
        })
    });
    let mut rig = Rig::start(profile(&cluster));
    rig.until("no leader and m1 stopped seen", |r, _| {
        r.patroni().is_some_and(|p| {
            p.leader().is_none() && p.member("m1").is_some_and(|m| !m.is_running())
        })
    });
    let s = rig.patroni().cloned().unwrap();
    assert!(s.paused);
    let health = scaleboard::health::assess_snapshot(
        &Snapshot::Patroni(Box::new(s.clone())),
        &scaleboard::profiles::Thresholds::default(),
    );
    assert!(
        health.reasons.iter().any(|r| r.starts_with("no leader")),
        "{health:?}"
    );
    assert!(
        health
            .members
            .iter()
            .any(|m| m.name == "m1" && m.state == scaleboard::health::HealthState::Down),
        "{health:?}"
    );
    let view = View {
        patroni: Some(s),
        db: None,
    };
    // No leader: a switchover is refused and names the failover.
    let so = plan(switchover("m1", Some("m2")), &view, &policy());
    assert!(
        refusals(&so).join(" ").contains("Use a failover"),
        "{:#?}",
        so.guards
    );
    let failover = |candidate: &str| Action::PatroniFailover {
        endpoint: "ha".into(),
        cluster: SCOPE.into(),
        candidate: candidate.into(),
    };
    let to_m3 = plan(failover("m3"), &view, &policy());
    assert!(refusals(&to_m3).join(" ").contains("nofailover"));
    let to_m2 = plan(failover("m2"), &view, &policy());
    assert!(!to_m2.refused(), "{:#?}", to_m2.guards);
    assert!(
        to_m2
            .command
            .contains("failover sbtest --candidate m2 --force"),
        "{}",
        to_m2.command
    );
    let record = rig.execute(to_m2, false);
    assert_eq!(record.outcome, AuditOutcome::Succeeded, "{record:#?}");
    assert!(
        record.detail.contains("Successfully failed over to"),
        "{}",
        record.detail
    );
    assert!(
        record.detail.contains("m2 leads on timeline 2") && record.detail.contains("m1 is stopped"),
        "{}",
        record.detail
    );
    assert_eq!(cluster.leader().as_deref(), Some("m2"));
    let audit = rig.audit();
    let lines: Vec<&str> = audit.lines().collect();
    assert_eq!(lines.len(), 2, "{audit}");
    assert!(lines[0].contains("\"outcome\":\"intent\""), "{audit}");
    assert!(lines[1].contains("\"action\":\"failover\""), "{audit}");
}

/// A REST API on HTTPS with a certificate the profile's `ca_file` trusts; without it, the
/// certificate is refused in words.
#[test]
fn rest_api_over_tls_is_read_with_the_profiles_ca_file() {
    let cluster = PatroniCluster::start_tls();
    let m1 = &cluster.members[0];
    let url = format!("https://127.0.0.1:{}", m1.api_port);
    let rt = runtime();
    let trusted = connector(
        PatroniEndpoint {
            name: "tls".into(),
            urls: vec![url.clone()],
            ca_file: Some(m1.dir.join("cert.pem")),
            ..PatroniEndpoint::default()
        },
        "",
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let s = loop {
        match rt.block_on(trusted.poll()) {
            Ok(out) => match out.snapshot {
                Snapshot::Patroni(p) if p.leader().is_some() => break *p,
                _ => {}
            },
            Err(e) => assert!(Instant::now() < deadline, "{e}\n{}", cluster.logs()),
        }
        assert!(
            Instant::now() < deadline,
            "no leader over TLS\n{}",
            cluster.logs()
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(s.leader().map(|l| l.name.as_str()), Some("m1"));
    assert_eq!(s.answered_by, url);
    let untrusted = connector(
        PatroniEndpoint {
            name: "tls".into(),
            urls: vec![url],
            ..PatroniEndpoint::default()
        },
        "",
    );
    let err = rt.block_on(untrusted.poll()).err().unwrap().to_string();
    assert!(err.contains("certificate"), "{err}");
}

/// The profile's Patroni endpoint asks every member's URL, so a member that stops answering
/// is known by its URL even to a one-shot `status` that never saw it in /cluster.
fn all_urls(cluster: &PatroniCluster) -> PatroniEndpoint {
    PatroniEndpoint {
        urls: cluster.members.iter().map(|m| m.api_url()).collect(),
        ..endpoint(cluster)
    }
}

/// `scaleboard status --profile pt --json` on a saved copy of `profile`: (exit code, the
/// report of the endpoint named `name`, the whole output).
fn status_json(profile: &Profile, name: &str) -> (i32, serde_json::Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let mut store = scaleboard::profiles::ProfileStore::load(&config);
    store.upsert(profile.clone()).unwrap();
    let out = scaleboard(&config)
        .args(["status", "--profile", "pt", "--json"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let all: serde_json::Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    let report = all
        .as_array()
        .and_then(|a| a.iter().find(|r| r["endpoint"] == name).cloned())
        .unwrap_or_else(|| panic!("no report for {name}: {text}"));
    (out.status.code().unwrap_or(-1), report, text)
}

fn health_of(p: &PatroniSnapshot) -> scaleboard::health::EndpointHealth {
    scaleboard::health::assess_endpoint(
        scaleboard::health::Reachability::Answering,
        None,
        Some(&Snapshot::Patroni(Box::new(p.clone()))),
        &scaleboard::profiles::Thresholds::default(),
    )
}

/// A member's Patroni hangs (SIGSTOP): /cluster still lists it as running until its TTL
/// passes, then drops it. Either way the member is named, the endpoint degraded, and `status`
/// exits 1.
#[test]
fn a_hung_member_is_named_and_the_endpoint_is_degraded() {
    let cluster = PatroniCluster::start();
    let mut p = profile(&cluster);
    p.patroni[0] = all_urls(&cluster);
    let mut rig = Rig::start(p.clone());
    // Healthy first: a new replica may still be catching up (lag over the limit) for a while.
    rig.until("the cluster read and healthy", |r, _| {
        r.patroni().is_some_and(|p| {
            p.members.len() == 3 && health_of(p).state == scaleboard::health::HealthState::Ok
        })
    });

    let _paused = cluster.pause_patroni("m2");
    rig.until("m2 named as not answering", |r, _| {
        r.patroni().is_some_and(|p| {
            health_of(p)
                .reasons
                .iter()
                .any(|x| x.starts_with("m2: Patroni REST API not answering since"))
        })
    });
    let h = health_of(rig.patroni().unwrap());
    assert_eq!(h.state, scaleboard::health::HealthState::Degraded, "{h:?}");
    assert_eq!(h.exit_code(), 1, "{h:?}");
    let m2 = h.members.iter().find(|m| m.name == "m2").unwrap();
    assert_ne!(m2.state, scaleboard::health::HealthState::Ok, "{h:?}");

    // After the TTL m2 drops out of /cluster: still named, from the connector's memory.
    cluster.wait("m2 out of /cluster", Duration::from_secs(40), |c| {
        c.cluster_json().is_some_and(|v| {
            v["members"]
                .as_array()
                .is_some_and(|m| m.iter().all(|x| x["name"] != "m2"))
        })
    });
    rig.until("m2 out of the view and still named", |r, _| {
        r.patroni().is_some_and(|p| {
            p.member("m2").is_none()
                && health_of(p).reasons.iter().any(|x| {
                    x.starts_with("m2: Patroni REST API not answering since")
                        && x.contains("dropped out of /cluster")
                })
        })
    });
    let h = health_of(rig.patroni().unwrap());
    assert_eq!(h.exit_code(), 1, "{h:?}");
    drop(rig);

    // A one-shot status knows m2 by its profile URL.
    let (code, report, text) = status_json(&p, "ha");
    assert_eq!(code, 1, "{text}");
    assert_eq!(report["status"], "degraded", "{text}");
    let url = cluster.member("m2").api_url();
    assert!(
        report["reasons"].as_array().unwrap().iter().any(|r| r
            .as_str()
            .is_some_and(|r| r.contains(&url) && r.contains("not answering"))),
        "{text}"
    );
}

/// The leader's Patroni is killed (SIGKILL); its PostgreSQL keeps running and taking writes.
/// Once the TTL passes m2 is promoted: two servers accept writes. The Patroni endpoint itself
/// says so and is critical, in the window and in a one-shot `status`.
#[test]
fn a_killed_leader_whose_postgres_still_takes_writes_is_a_critical_split_brain() {
    let cluster = PatroniCluster::start();
    let dsn = |name: &str, app: &str| {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres sslmode=disable application_name={app}",
            cluster.member(name).pg_port
        )
    };
    let mut p = profile(&cluster);
    p.postgres.push(PostgresEndpoint {
        name: "pg".into(),
        primary_dsn: dsn("m1", "db1"),
        replica_dsns: vec![dsn("m2", "db2"), dsn("m3", "db3")],
        ..PostgresEndpoint::default()
    });
    p.patroni[0] = PatroniEndpoint {
        discover_from: Some("pg".into()),
        // Discovery asks the PostgreSQL hosts (all 127.0.0.1 here) at this port: m1's.
        port: cluster.member("m1").api_port,
        ..all_urls(&cluster)
    };
    let mut rig = Rig::start(p.clone());
    rig.until("the cluster read", |r, _| {
        r.patroni().is_some_and(|p| p.members.len() == 3)
    });

    cluster.signal_patroni("m1", "-KILL");
    cluster.wait("m2 to lead after the TTL", Duration::from_secs(60), |c| {
        c.leader().as_deref() == Some("m2")
    });
    // m1's PostgreSQL, with no Patroni left, still takes writes.
    let rt = runtime();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(&dsn("m1", "test"), tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
            .simple_query(
                "CREATE TABLE split_brain_write (x int); INSERT INTO split_brain_write VALUES (1)",
            )
            .await
            .unwrap();
    });

    rig.until("the split brain seen", |r, _| {
        r.patroni()
            .is_some_and(|p| p.leader().is_some_and(|l| l.name == "m2") && p.split_brain())
    });
    let s = rig.patroni().cloned().unwrap();
    let h = health_of(&s);
    assert!(h.critical, "{h:?}");
    assert_eq!(h.exit_code(), 2, "{h:?}");
    assert!(
        h.reasons[0].starts_with("SPLIT BRAIN") && h.reasons[0].contains("m1"),
        "{h:?}"
    );
    assert!(
        h.reasons.iter().any(
            |r| r.starts_with("m1: Patroni REST API not answering since")
                && r.contains("ACCEPTS WRITES")
        ),
        "{h:?}"
    );
    drop(rig);

    // A one-shot status never saw m1 in /cluster: it finds m1's PostgreSQL through the linked
    // endpoint. The Patroni endpoint's own verdict is critical (not only the PostgreSQL one's).
    let (code, report, text) = status_json(&p, "ha");
    assert_eq!(code, 2, "{text}");
    assert_eq!(report["exit_code"], 2, "{text}");
    assert!(
        report["reasons"][0]
            .as_str()
            .is_some_and(|r| r.starts_with("SPLIT BRAIN")),
        "{text}"
    );
}
