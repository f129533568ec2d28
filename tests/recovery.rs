//! After an outage the window tells the truth quickly: a real Redis or PostgreSQL server that
//! is killed turns stale then down, and once it answers again it is ok within two refresh
//! intervals (retries back off to at most two intervals, not a minute). Manual clock.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use scaleboard::engine::{Command, ConnStatus, ConnectRequest, EngineConfig, EngineHandle, Event};
use scaleboard::model::clock::{Clock, ManualClock};
use scaleboard::profiles::{PostgresEndpoint, Profile, RedisEndpoint};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::postgres::PgCluster;
use support::redis::RedisServer;

const START: i64 = 1_793_628_000_000;
const INTERVAL_MS: i64 = 1_000;

struct Rig {
    engine: EngineHandle,
    clock: Arc<ManualClock>,
    _dir: tempfile::TempDir,
}

impl Rig {
    fn start(mut profile: Profile) -> Self {
        profile.refresh_interval_secs = 1;
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
            _dir: dir,
        }
    }

    /// The clock time of the first status event of `endpoint` with `status`; advances the
    /// manual clock by 100 ms whenever the engine is idle.
    fn status(&mut self, endpoint: &str, status: ConnStatus) -> i64 {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {endpoint} {status:?}"
            );
            match self.engine.recv_timeout(Duration::from_millis(50)) {
                Some(Event::Status {
                    endpoint: e,
                    status: s,
                    at,
                    ..
                }) if e == endpoint && s == status => return at,
                Some(_) => {}
                None => self.clock.advance(Duration::from_millis(100)),
            }
        }
    }
}

#[test]
fn a_restarted_redis_is_ok_again_within_two_intervals() {
    let redis = RedisServer::start(&[]);
    let port = redis.port;
    let mut profile = Profile::named("r");
    profile.redis.push(RedisEndpoint {
        name: "cache".into(),
        url: redis.url(),
        password: None,
        queues: Vec::new(),
    });
    let mut rig = Rig::start(profile);
    rig.status("cache", ConnStatus::Ok);
    drop(redis);
    rig.status("cache", ConnStatus::Stale);
    rig.status("cache", ConnStatus::Down);
    // Let the retries back off as far as they go.
    for _ in 0..100 {
        rig.clock.advance(Duration::from_millis(100));
        std::thread::sleep(Duration::from_millis(5));
    }
    let _again = RedisServer::start_on(port, &[]);
    let answered = rig.clock.now_ms();
    let ok = rig.status("cache", ConnStatus::Ok);
    assert!(
        ok - answered <= 2 * INTERVAL_MS,
        "ok {} ms after the server answered again",
        ok - answered
    );
}

#[test]
fn a_restarted_postgres_is_ok_again_within_two_intervals() {
    let cluster = PgCluster::start(0);
    let mut profile = Profile::named("p");
    profile.postgres.push(PostgresEndpoint {
        name: "orders".into(),
        primary_dsn: cluster.primary.dsn(),
        replica_dsns: Vec::new(),
        password: None,
        max_failover_lag_bytes: scaleboard::profiles::model::MIB,
    });
    let mut rig = Rig::start(profile);
    rig.status("orders", ConnStatus::Ok);
    cluster.stop(&cluster.primary, "immediate");
    rig.status("orders", ConnStatus::Down);
    for _ in 0..100 {
        rig.clock.advance(Duration::from_millis(100));
        std::thread::sleep(Duration::from_millis(5));
    }
    cluster.start_again(&cluster.primary);
    let answered = rig.clock.now_ms();
    let ok = rig.status("orders", ConnStatus::Ok);
    assert!(
        ok - answered <= 2 * INTERVAL_MS,
        "ok {} ms after the server answered again",
        ok - answered
    );
}

/// The postmaster of a server and every process it started (backends included), from its pid
/// file: SIGSTOP to all of them pauses the server the way a stuck VM would.
fn server_processes(data: &std::path::Path) -> Vec<String> {
    let pid = std::fs::read_to_string(data.join("postmaster.pid"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_string();
    let children = std::process::Command::new("pgrep")
        .args(["-P", &pid])
        .output()
        .unwrap();
    let mut all: Vec<String> = String::from_utf8_lossy(&children.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    all.push(pid);
    all
}

fn signal(pids: &[String], sig: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .args(pids)
        .status()
        .unwrap();
    assert!(status.success(), "kill -{sig} {pids:?}");
}

/// A paused replica (SIGSTOP) does not slow the other members: the cluster keeps its 1 s
/// refresh with the primary's fresh numbers, and the replica is named as not answering.
#[test]
fn a_paused_replica_does_not_slow_the_other_members() {
    use scaleboard::model::clock::SystemClock;
    use scaleboard::model::snapshot::Snapshot;
    let cluster = PgCluster::start(1);
    cluster.wait_caught_up(1);
    let mut profile = Profile::named("p");
    profile.refresh_interval_secs = 1;
    profile.postgres.push(PostgresEndpoint {
        name: "orders".into(),
        primary_dsn: cluster.primary.dsn(),
        replica_dsns: vec![cluster.replicas[0].dsn()],
        password: None,
        max_failover_lag_bytes: scaleboard::profiles::model::MIB,
    });
    let dir = tempfile::tempdir().unwrap();
    let config = EngineConfig::new(
        Arc::new(SystemClock),
        dir.path().join("config"),
        dir.path().join("data"),
    );
    let mut engine = EngineHandle::start(config, Arc::new(|| {})).unwrap();
    engine
        .send(Command::Connect(Box::new(ConnectRequest {
            profile,
            demo_seed: 1,
        })))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    // Both servers read once.
    loop {
        assert!(Instant::now() < deadline, "no first snapshot");
        if let Some(Event::Snapshot {
            snapshot: Snapshot::Databases(db),
            ..
        }) = engine.recv_timeout(Duration::from_millis(200))
            && db.servers.iter().all(|s| s.reachable)
        {
            break;
        }
    }
    let paused = server_processes(&cluster.replicas[0].data);
    signal(&paused, "STOP");
    // Six seconds with the replica paused: count the cluster's snapshots and the primary's
    // samples, and see what the replica is said to be.
    let window = Instant::now() + Duration::from_secs(6);
    let (mut snapshots, mut primary_samples) = (0, 0);
    let mut replica_error = None;
    while Instant::now() < window {
        if let Some(Event::Snapshot {
            snapshot: Snapshot::Databases(db),
            samples,
            ..
        }) = engine.recv_timeout(Duration::from_millis(100))
        {
            snapshots += 1;
            primary_samples += samples
                .iter()
                .filter(|s| s.target == "orders/primary" && s.metric == "connections")
                .count();
            let r = db.servers.iter().find(|s| s.name == "replica_a").unwrap();
            if !r.reachable {
                replica_error = r.error.clone();
            }
        }
    }
    signal(&paused, "CONT");
    assert!(
        snapshots >= 5,
        "only {snapshots} snapshots in 6 s with a paused replica"
    );
    assert!(primary_samples >= 5, "{primary_samples} primary samples");
    // "has not answered for N s (slow or paused…)" while its read waits, "did not answer the
    // poll within 4 s" once that read gives up.
    let error = replica_error.expect("the paused replica was never reported");
    assert!(
        error.contains("has not answered for") || error.contains("did not answer"),
        "{error}"
    );
}
