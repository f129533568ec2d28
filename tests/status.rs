//! `scaleboard status` tells the truth against real servers, with the monitoring-plugins exit
//! codes: 0 everything ok, 1 warning (degraded: a threshold crossed, a member down), 2 critical
//! (down, no primary), 3 unknown (no outcome within --timeout), and `--json` names every failing
//! member — PostgreSQL (primary + replica), Redis (a queue store is not judged as a cache) and
//! health checks served by a real nginx. A slow probe is waited for up to its own time-out.

#![allow(clippy::unwrap_used)] // tests may unwrap: a panic is a failure with its message

mod support;

use scaleboard::profiles::{HealthEndpoint, PostgresEndpoint, Profile, RedisEndpoint};
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use support::postgres::PgCluster;
use support::redis::RedisServer;
use support::web::{Nginx, free_port};

fn check(name: &str, url: String) -> HealthEndpoint {
    HealthEndpoint {
        name: name.into(),
        url,
        ..HealthEndpoint::default()
    }
}

/// Saves the profile and runs `scaleboard status --profile fleet --json`: (exit code, reports).
fn status(config: &Path, profile: &Profile) -> (i32, Vec<Value>) {
    status_within(config, profile, 15)
}

/// The same with `--timeout SECS`.
fn status_within(config: &Path, profile: &Profile, secs: u64) -> (i32, Vec<Value>) {
    let mut store = scaleboard::profiles::ProfileStore::load(config);
    store.upsert(profile.clone()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_scaleboard"))
        .env("SCALEBOARD_CONFIG_DIR", config)
        .env_remove("SCALEBOARD_DATA_DIR")
        .args(["status", "--profile", "fleet", "--json", "--timeout"])
        .arg(secs.to_string())
        .output()
        .unwrap();
    let reports: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (
        out.status.code().unwrap(),
        reports.as_array().unwrap().clone(),
    )
}

fn report<'a>(reports: &'a [Value], endpoint: &str) -> &'a Value {
    reports
        .iter()
        .find(|r| r["endpoint"] == endpoint)
        .unwrap_or_else(|| panic!("no report for {endpoint}: {reports:#?}"))
}

fn reasons(r: &Value) -> Vec<String> {
    r["reasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

fn member<'a>(r: &'a Value, name: &str) -> &'a Value {
    r["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no member {name}: {r:#}"))
}

#[test]
fn status_exit_codes_and_reasons_follow_the_fleet() {
    let cluster = PgCluster::start(1);
    cluster.wait_caught_up(1);
    let nginx = Nginx::start();
    let redis = RedisServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();

    let mut profile = Profile::named("fleet");
    profile.postgres.push(PostgresEndpoint {
        name: "orders".into(),
        primary_dsn: cluster.primary.dsn(),
        replica_dsns: vec![cluster.replicas[0].dsn()],
        password: None,
        max_failover_lag_bytes: scaleboard::profiles::model::MIB,
    });
    profile.health = vec![
        check("web-a", nginx.url("/fast")),
        check("web-b", nginx.url("/fast")),
    ];
    // Used for queues only: a hit ratio of 0 % (no lookups at all) is no cache problem.
    let mut queues = RedisEndpoint {
        name: "jobs".into(),
        url: redis.url(),
        password: None,
        queues: Vec::new(),
    };
    queues.queues.push(scaleboard::profiles::model::RedisQueue {
        name: "emails".into(),
        ..Default::default()
    });
    profile.redis.push(queues);
    redis.cli(&["GET", "missing-1"]).unwrap();
    redis.cli(&["GET", "missing-2"]).unwrap();

    // 1. Everything answers and nothing crosses a threshold.
    let (code, reports) = status(&config, &profile);
    for r in &reports {
        assert_eq!(r["status"], "ok", "{r:#}");
    }
    assert_eq!(code, 0, "{reports:#?}");

    // 2. One of two health checks fails: degraded, and the failing check is named.
    let closed = free_port();
    profile.health[1] = check("web-b", format!("http://127.0.0.1:{closed}/health"));
    let (code, reports) = status(&config, &profile);
    assert_eq!(code, 1);
    let health = reports
        .iter()
        .find(|r| {
            r["members"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["name"] == "web-b")
        })
        .unwrap_or_else(|| panic!("{reports:#?}"));
    assert_eq!(health["status"], "degraded");
    assert!(
        reasons(health)[0].starts_with("1 of 2 checks DOWN: web-b ("),
        "{health:#}"
    );
    assert_eq!(member(health, "web-b")["state"], "down");
    assert_eq!(member(health, "web-a")["state"], "ok");
    profile.health[1] = check("web-b", nginx.url("/fast"));

    // 3. Connections over the profile's threshold: degraded with the numbers.
    profile.thresholds.connections_percent = 0.5;
    let (code, reports) = status(&config, &profile);
    assert_eq!(code, 1);
    let pg = report(&reports, "orders");
    assert_eq!(pg["status"], "degraded", "{pg:#}");
    assert!(
        reasons(pg)
            .iter()
            .any(|r| r.starts_with("primary: ") && r.contains("connections (")),
        "{pg:#}"
    );
    profile.thresholds.connections_percent = 80.0;

    // 4. A queue over its backlog threshold (a real list with more jobs than `queue_depth`):
    // a scaling trigger, a warning (1), not an outage.
    profile.thresholds.queue_depth = 3;
    for i in 0..5 {
        redis
            .cli(&["RPUSH", "bull:emails:wait", &format!("job-{i}")])
            .unwrap();
    }
    let (code, reports) = status(&config, &profile);
    assert_eq!(code, 1, "{reports:#?}");
    let jobs = report(&reports, "jobs:queues");
    assert_eq!(jobs["status"], "degraded", "{jobs:#}");
    assert_eq!(jobs["exit_code"], 1, "{jobs:#}");
    assert!(
        reasons(jobs)
            .iter()
            .any(|r| r.contains("over the backlog threshold")),
        "{jobs:#}"
    );
    for r in reports.iter().filter(|r| r["endpoint"] != "jobs:queues") {
        assert_eq!(r["exit_code"], 0, "{r:#}");
    }
    redis.cli(&["DEL", "bull:emails:wait"]).unwrap();
    profile.thresholds.queue_depth = 1000;

    // 5. A member down: the replica stops; the endpoint answers, degraded (1), naming it.
    cluster.stop(&cluster.replicas[0], "fast");
    let (code, reports) = status(&config, &profile);
    assert_eq!(code, 1);
    let pg = report(&reports, "orders");
    assert_eq!(pg["status"], "degraded", "{pg:#}");
    assert_eq!(member(pg, "replica_a")["state"], "down");
    assert_eq!(member(pg, "primary")["state"], "ok");

    // 6. No primary: the primary stops too and the replica answers again. The endpoint answers,
    // but the database takes no writes: critical (2), not a warning.
    cluster.start_again(&cluster.replicas[0]);
    cluster.stop(&cluster.primary, "fast");
    let (code, reports) = status(&config, &profile);
    assert_eq!(code, 2, "{reports:#?}");
    let pg = report(&reports, "orders");
    assert_eq!(pg["status"], "degraded", "{pg:#}");
    assert_eq!(pg["exit_code"], 2, "{pg:#}");
    assert_eq!(reasons(pg)[0], "no primary answers", "{pg:#}");
    assert_eq!(member(pg, "primary")["state"], "down");
    assert_eq!(member(pg, "replica_a")["state"], "ok");
}

/// A profile whose only PostgreSQL server is a replica (promoted nowhere): no primary answers,
/// so nothing can write — critical (2) although every server answers.
#[test]
fn status_is_critical_when_the_only_server_is_a_replica() {
    let cluster = PgCluster::start(1);
    cluster.wait_caught_up(1);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let mut profile = Profile::named("fleet");
    profile.postgres.push(PostgresEndpoint {
        name: "orders".into(),
        primary_dsn: cluster.replicas[0].dsn(),
        replica_dsns: Vec::new(),
        password: None,
        max_failover_lag_bytes: scaleboard::profiles::model::MIB,
    });
    let (code, reports) = status(&config, &profile);
    assert_eq!(code, 2, "{reports:#?}");
    let pg = report(&reports, "orders");
    assert_eq!(pg["exit_code"], 2, "{pg:#}");
    assert!(
        reasons(pg).iter().any(|r| r == "no primary answers"),
        "{pg:#}"
    );
}

/// A server that accepts connections but never answers (SIGSTOP) within the command's
/// --timeout: no outcome, so nothing to judge — unknown (3), not ok and not down.
#[test]
fn status_is_unknown_when_an_endpoint_gives_no_outcome_within_the_timeout() {
    let redis = RedisServer::start(&[]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let mut profile = Profile::named("fleet");
    profile.redis.push(RedisEndpoint {
        name: "cache".into(),
        url: redis.url(),
        password: None,
        queues: Vec::new(),
    });
    let (code, reports) = status(&config, &profile);
    assert_eq!(code, 0, "answers while running: {reports:#?}");

    let _paused = Paused::stop(redis.pid());
    // The Redis connector gives up on a silent server after 3 s; the command after 2 s.
    let (code, reports) = status_within(&config, &profile, 2);
    assert_eq!(code, 3, "{reports:#?}");
    let r = report(&reports, "cache");
    assert_eq!(r["status"], "unknown", "{r:#}");
    assert_eq!(r["exit_code"], 3, "{r:#}");
    assert!(
        reasons(r)[0].starts_with("no outcome within the --timeout of 2 s"),
        "{r:#}"
    );
}

#[test]
fn status_ends_within_its_timeout_whatever_the_probes_time_outs() {
    // A server that accepts connections (the kernel's backlog) and never answers, probed with a
    // 30 s time-out: `status --timeout 2` must not wait for the probe's own time-out.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let mut profile = Profile::named("fleet");
    let mut probe = check(
        "silent",
        format!("http://{}/health", silent.local_addr().unwrap()),
    );
    probe.timeout_ms = 30_000;
    profile.health.push(probe);
    let started = std::time::Instant::now();
    let (code, reports) = status_within(&config, &profile, 2);
    let took = started.elapsed();
    assert_eq!(code, 3, "{reports:#?}");
    let r = report(&reports, "health");
    assert_eq!(r["status"], "unknown", "{r:#}");
    assert!(
        reasons(r)[0].starts_with("silent: no outcome within the --timeout of 2 s"),
        "{r:#}"
    );
    // Bounded by --timeout plus start-up, far below the probe's 30 s (slack for a loaded machine).
    assert!(took < std::time::Duration::from_secs(12), "took {took:?}");
    drop(silent);
}

/// SIGSTOP on a process until dropped (SIGCONT), so a failed test leaves no stopped server.
struct Paused(u32);

impl Paused {
    fn stop(pid: u32) -> Self {
        assert!(
            Command::new("kill")
                .args(["-STOP", &pid.to_string()])
                .status()
                .unwrap()
                .success()
        );
        Self(pid)
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.0.to_string()])
            .status();
    }
}

/// A health check whose answer takes 1.5 s of its 2 s time-out is up: the one-shot `status`
/// waits for the probe's outcome instead of reporting the poll's "slow: no answer … yet".
#[test]
fn a_slow_probe_within_its_time_out_is_reported_up() {
    let nginx = Nginx::start();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    std::fs::create_dir_all(&config).unwrap();
    let mut profile = Profile::named("fleet");
    let mut slow = check("slow", nginx.url("/slow/1500"));
    slow.timeout_ms = 2000;
    profile.health = vec![slow, check("fast", nginx.url("/fast"))];
    let (code, reports) = status(&config, &profile);
    let health = &reports[0];
    assert_eq!(code, 0, "{reports:#?}");
    assert_eq!(health["status"], "ok", "{health:#}");
    assert_eq!(member(health, "slow")["state"], "ok", "{health:#}");
    assert!(
        !health.to_string().contains("no answer"),
        "a probe in flight is no outcome: {health:#}"
    );
}
